// CUDA backend: GEMM (our tiled kernel by default; EMBER_GEMM selects tf32 tensor cores or
// cuBLAS), and the optional fused kernels (AdamW, flash attention).
#include <cmath>

#include "cuda/backend.h"
#include "cuda/cuda.h"
#include "cuda/gemm/gemm.h"
#include "cuda/kernels/kernels.h"

namespace ember::cuda {

void CudaBackend::gemm(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
  EMBER_ASSERT(a.dim() == 3 && b.dim() == 3 && out.dim() == 3 && out.is_contiguous(), "gemm: bad operand layout");
  const int64_t bt = out.size(0), m = out.size(1), n = out.size(2), k = a.size(2);
  EMBER_ASSERT(a.size(1) == m && b.size(1) == k && b.size(2) == n, "gemm: {} @ {} -> {}", shape_str(a.shape()),
               shape_str(b.shape()), shape_str(out.shape()));
  if (out.numel() == 0) return;
  use_device(out);
  if (a.dtype() == DType::f64) {
    launch_gemm_tiled(GemmOperands<double>{static_cast<const double*>(a.raw_data()), a.stride(0), a.stride(1),
                                           a.stride(2), static_cast<const double*>(b.raw_data()), b.stride(0),
                                           b.stride(1), b.stride(2), static_cast<double*>(out.raw_data()), m * n, n,
                                           bt, m, n, k, accumulate});
    return;
  }
  EMBER_CHECK(a.dtype() == DType::f32, "gemm: expected f32 or f64 on cuda, got {}", a.dtype());
  const GemmOperands<float> g{static_cast<const float*>(a.raw_data()), a.stride(0), a.stride(1), a.stride(2),
                              static_cast<const float*>(b.raw_data()), b.stride(0), b.stride(1), b.stride(2),
                              static_cast<float*>(out.raw_data()), m * n, n, bt, m, n, k, accumulate};
  switch (gemm_impl()) {
    case GemmImpl::own: break;
    case GemmImpl::tf32:
      if (g.sak == 1 && g.sbn == 1 &&
          launch_gemm_tf32_tc(TcGemm{g.a, g.sam, g.sa, g.b, g.sbk, g.sb, g.c, n, m * n, bt, m, n, k, accumulate}))
        return;
      break;
    case GemmImpl::cublas:
    case GemmImpl::cublas_tf32:
      if (cublas_gemm_f32(g, gemm_impl() == GemmImpl::cublas_tf32)) return;
      break;
  }
  launch_gemm_tiled(g);
}

bool CudaBackend::adam_update(const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                              const Tensor& exp_avg_sq, const AdamStep& s) {
  if (!is_floating(param.dtype()) || !param.is_contiguous() || !grad.is_contiguous() || !exp_avg.is_contiguous() ||
      !exp_avg_sq.is_contiguous())
    return false;
  use_device(param);
  const AdamCoef c{s.lr, s.beta1, s.beta2, s.eps, s.weight_decay, 1.0 - std::pow(s.beta1, double(s.step)),
                   1.0 - std::pow(s.beta2, double(s.step)), s.decoupled};
  launch_adam(param.raw_data(), grad.raw_data(), exp_avg.raw_data(), exp_avg_sq.raw_data(), param.numel(), c,
              param.dtype());
  return true;
}

namespace {
bool sdpa_dims(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale, SdpaDims& a) {
  if (q.dtype() != DType::f32 || q.dim() != 4 || k.dim() != 4 || v.dim() != 4) return false;
  if (!q.is_contiguous() || !k.is_contiguous() || !v.is_contiguous()) return false;
  a = SdpaDims{q.size(0), q.size(1), k.size(1), q.size(2), k.size(2), q.size(3), v.size(3), causal, float(scale)};
  return sdpa_supported(a);
}
}  // namespace

bool CudaBackend::sdpa_fwd(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale,
                           const Tensor& out, const Tensor& lse) {
  SdpaDims a;
  if (!sdpa_dims(q, k, v, causal, scale, a) || !out.is_contiguous() || !lse.is_contiguous()) return false;
  use_device(q);
  launch_sdpa_fwd(static_cast<const float*>(q.raw_data()), static_cast<const float*>(k.raw_data()),
                  static_cast<const float*>(v.raw_data()), static_cast<float*>(out.raw_data()),
                  static_cast<float*>(lse.raw_data()), a);
  return true;
}

bool CudaBackend::sdpa_bwd(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
                           const Tensor& grad_out, bool causal, double scale, const Tensor& grad_q,
                           const Tensor& grad_k, const Tensor& grad_v) {
  SdpaDims a;
  if (!sdpa_dims(q, k, v, causal, scale, a) || !out.is_contiguous() || !lse.is_contiguous() ||
      !grad_out.is_contiguous() || !grad_q.is_contiguous() || !grad_k.is_contiguous() || !grad_v.is_contiguous())
    return false;
  use_device(q);
  Tensor delta = scratch({a.b * a.hq * a.t}, DType::f32, q.device());
  launch_sdpa_bwd(static_cast<const float*>(q.raw_data()), static_cast<const float*>(k.raw_data()),
                  static_cast<const float*>(v.raw_data()), static_cast<const float*>(out.raw_data()),
                  static_cast<const float*>(lse.raw_data()), static_cast<const float*>(grad_out.raw_data()),
                  static_cast<float*>(grad_q.raw_data()), static_cast<float*>(grad_k.raw_data()),
                  static_cast<float*>(grad_v.raw_data()), static_cast<float*>(delta.raw_data()), a);
  return true;
}

}  // namespace ember::cuda

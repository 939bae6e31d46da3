// CpuBackend::sdpa_fwd / sdpa_bwd: validates the layout the fused kernel needs (contiguous
// q/k/v/out/lse, f32 or f64), then runs attention_kernel.h: f32 through the AVX2 build when the
// active ISA has it, otherwise (f64, or the scalar ISA) the portable build with std::exp.
#include <cmath>

#include "tensor/cpu/attention_kernel.h"
#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/cpu_features.h"

namespace ember::cpu {

void sdpa_fwd_f32_avx2(const SdpaDims& m, const float* q, const float* k, const float* v, float* out, float* lse);
void sdpa_bwd_f32_avx2(const SdpaDims& m, const float* q, const float* k, const float* v, const float* out,
                       const float* lse, const float* dout, float* dq, float* dk, float* dv);

namespace {

struct OpsPortable : SmallGemmPortable, RowOpsPortable {};

// The dims when every tensor has the layout the kernel needs, else nullopt (caller composes).
bool sdpa_dims(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale,
               std::initializer_list<const Tensor*> others, SdpaDims& m) {
  if (q.dim() != 4 || k.dim() != 4 || v.dim() != 4) return false;
  if (q.dtype() != DType::f32 && q.dtype() != DType::f64) return false;
  for (const Tensor* t : {&q, &k, &v})
    if (!t->is_contiguous() || t->dtype() != q.dtype()) return false;
  for (const Tensor* t : others)
    if (!t->is_contiguous() || t->dtype() != q.dtype()) return false;
  m = {q.size(0), q.size(1), k.size(1), q.size(2), k.size(2), q.size(3), v.size(3), causal, scale};
  return m.hkv > 0 && m.h % m.hkv == 0 && k.size(0) == m.b && v.size(0) == m.b && k.size(3) == m.d &&
         v.size(1) == m.hkv && v.size(2) == m.s;
}

}  // namespace

bool CpuBackend::sdpa_fwd(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, double scale,
                          const Tensor& out, const Tensor& lse) {
  SdpaDims m;
  if (!sdpa_dims(q, k, v, causal, scale, {&out, &lse}, m)) return false;
  if (q.numel() == 0 || out.numel() == 0) return true;
  if (q.dtype() == DType::f32 && active_isa() != Isa::scalar) {
    sdpa_fwd_f32_avx2(m, q.data<float>(), k.data<float>(), v.data<float>(), out.data<float>(), lse.data<float>());
    return true;
  }
  dispatch_float(q.dtype(), "sdpa_fwd", [&]<typename T>() {
    SdpaKernel<T, OpsPortable>::forward(m, q.data<T>(), k.data<T>(), v.data<T>(), out.data<T>(), lse.data<T>());
  });
  return true;
}

bool CpuBackend::sdpa_bwd(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
                          const Tensor& grad_out, bool causal, double scale, const Tensor& grad_q,
                          const Tensor& grad_k, const Tensor& grad_v) {
  SdpaDims m;
  if (!sdpa_dims(q, k, v, causal, scale, {&out, &lse, &grad_out, &grad_q, &grad_k, &grad_v}, m)) return false;
  if (q.numel() == 0 && k.numel() == 0) return true;
  if (q.dtype() == DType::f32 && active_isa() != Isa::scalar) {
    sdpa_bwd_f32_avx2(m, q.data<float>(), k.data<float>(), v.data<float>(), out.data<float>(), lse.data<float>(),
                      grad_out.data<float>(), grad_q.data<float>(), grad_k.data<float>(), grad_v.data<float>());
    return true;
  }
  dispatch_float(q.dtype(), "sdpa_bwd", [&]<typename T>() {
    SdpaKernel<T, OpsPortable>::backward(m, q.data<T>(), k.data<T>(), v.data<T>(), out.data<T>(), lse.data<T>(),
                                          grad_out.data<T>(), grad_q.data<T>(), grad_k.data<T>(), grad_v.data<T>());
  });
  return true;
}

}  // namespace ember::cpu

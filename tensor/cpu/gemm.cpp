// CPU GEMM entry: splits a batched product across threads and dispatches each piece to the
// micro-kernel for the active ISA (gemm_avx512.cpp, gemm_avx2.cpp, or the portable one here).
// Threads take macro-tiles of C (batch item x row block x column block) from a dynamic queue, so
// every tile is owned by one thread (no write sharing) and packs its own panels.
#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/gemm_bf16.h"
#include "tensor/cpu/gemm_driver.h"
#include "tensor/matmul_precision.h"
#include "tensor/parallel.h"

namespace ember::cpu {

void gemm_f32_avx512(const GemmArgs& g);
void gemm_f32_avx2(const GemmArgs& g);

namespace {

void gemm_f32_scalar(const GemmArgs& g) { GemmDriver<float, ScalarKernel<float, 4, 16>, 128, 256, 2048>::run(g); }
void gemm_f64(const GemmArgs& g) { GemmDriver<double, ScalarKernel<double, 4, 8>, 64, 256, 1024>::run(g); }

void gemm_one(DType dtype, const GemmArgs& g) {
  if (dtype == DType::f64) return gemm_f64(g);
  if (matmul_precision() == MatmulPrecision::bf16) return gemm_bf16(g);  // f32 operands rounded to bf16
  switch (active_isa()) {
    case Isa::avx512: return gemm_f32_avx512(g);
    case Isa::avx2: return gemm_f32_avx2(g);
    case Isa::scalar: return gemm_f32_scalar(g);
  }
}

// Fused epilogue: out = act(a@b + bias) + residual, applied to each piece's output block right
// after its product, while the block is still in cache.
struct Epilogue {
  const Tensor* bias;      // [N] contiguous, or undefined
  UnaryOp act;             // identity | relu | gelu_tanh | gelu_erf | silu
  const Tensor* residual;  // [Bt, M, N] contiguous, or undefined
};

// The epilogue on block rows [i0, i1) x columns [j0, j1) of batch item q of out, through the CPU's
// own elementwise kernels (the same formulas and AVX2 rows as the unfused ops).
void apply_epilogue(const Epilogue& e, const Tensor& out, int64_t q, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
  Backend& be = backend_of(out);
  const int64_t n = out.size(2), at = (q * out.size(1) + i0) * n + j0;
  const Shape shape{i1 - i0, j1 - j0};
  const Tensor block = out.as_strided(shape, {n, 1}, out.offset() + at);
  if (e.bias->defined()) be.binary(BinaryOp::add, block, e.bias->as_strided(shape, {0, 1}, e.bias->offset() + j0), block);
  if (e.act != UnaryOp::identity) be.unary(e.act, block, block, {});
  if (e.residual->defined())
    be.binary(BinaryOp::add, block, e.residual->as_strided(shape, {n, 1}, e.residual->offset() + at), block);
}

void run_gemm(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate, const Epilogue* epi) {
  EMBER_ASSERT(a.dim() == 3 && b.dim() == 3 && out.dim() == 3 && out.is_contiguous(), "gemm: bad operand layout");
  const int64_t bt = out.size(0), m = out.size(1), n = out.size(2), k = a.size(2);
  EMBER_ASSERT(a.size(1) == m && b.size(1) == k && b.size(2) == n, "gemm: {} @ {} -> {}", shape_str(a.shape()),
               shape_str(b.shape()), shape_str(out.shape()));
  if (out.numel() == 0) return;
  dispatch_float(a.dtype(), "gemm", [&]<typename T>() {
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    T* cp = out.data<T>();
    auto piece = [&](int64_t q, int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
      // With an epilogue, rows go in chunks whose output block (~256 KiB) is still in L2 when the
      // epilogue reads it back; each chunk repacks B, about 1/rows of the chunk's own work.
      const int64_t step = epi ? std::max<int64_t>(96, (int64_t(1) << 16) / std::max<int64_t>(j1 - j0, 1)) : i1 - i0;
      for (int64_t r0 = i0; r0 < i1; r0 += step) {
        const int64_t r1 = std::min(i1, r0 + step);
        GemmArgs g{r1 - r0, j1 - j0, k,
                   ap + q * a.stride(0) + r0 * a.stride(1), a.stride(1), a.stride(2),
                   bp + q * b.stride(0) + j0 * b.stride(2), b.stride(1), b.stride(2),
                   cp + q * m * n + r0 * n + j0, n, accumulate};
        gemm_one(a.dtype(), g);
        if (epi) apply_epilogue(*epi, out, q, r0, r1, j0, j1);
      }
    };
    const int threads = get_num_threads();
    const double flops = 2.0 * double(bt) * double(m) * double(n) * double(k);
    if (threads == 1 || flops < 2e6 || in_parallel_region()) {
      for (int64_t q = 0; q < bt; ++q) piece(q, 0, m, 0, n);
      return;
    }
    // Macro-tiles: rows in units of 12 (the tallest MR), columns in units of 32 (the widest NR),
    // cut until there are about 3 tiles per thread (the larger side is cut first), handed out
    // dynamically: a thread that is descheduled (a shared machine) does not hold up the others,
    // as it would with one fixed half each. Each tile packs its own A rows and B columns.
    // Small products get one tile per thread: every extra tile repacks its A rows or B columns,
    // which costs as much as the product itself at W1 sizes.
    const int64_t mu = (m + 11) / 12, nu = (n + 31) / 32, want = (flops < 1e8 ? 1 : 3) * int64_t(threads);
    int64_t sm = 1, sn = 1;
    while (bt * sm * sn < want) {
      const bool cut_rows = double(m) / double(sm) >= double(n) / double(sn);
      if (cut_rows && sm < mu) ++sm;
      else if (sn < nu) ++sn;
      else if (sm < mu) ++sm;
      else break;
    }
    parallel_tasks(bt * sm * sn, [&](int64_t t) {
      const int64_t q = t / (sm * sn), r = (t / sn) % sm, c = t % sn;
      const int64_t i0 = std::min(m, mu * r / sm * 12), i1 = std::min(m, mu * (r + 1) / sm * 12);
      const int64_t j0 = std::min(n, nu * c / sn * 32), j1 = std::min(n, nu * (c + 1) / sn * 32);
      if (i0 < i1 && j0 < j1) piece(q, i0, i1, j0, j1);
    });
  });
}

}  // namespace

void CpuBackend::gemm(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
  run_gemm(a, b, out, accumulate, nullptr);
}

bool CpuBackend::gemm_epilogue(const Tensor& a, const Tensor& b, const Tensor& bias, UnaryOp act,
                               const Tensor& residual, const Tensor& out) {
  const int64_t n = out.size(2);
  EMBER_ASSERT(!bias.defined() || (bias.numel() == n && bias.is_contiguous() && bias.dtype() == out.dtype()),
               "gemm_epilogue: bias {} for output {}", bias.defined() ? shape_str(bias.shape()) : "-",
               shape_str(out.shape()));
  EMBER_ASSERT(!residual.defined() || (residual.shape() == out.shape() && residual.is_contiguous() &&
                                       residual.dtype() == out.dtype()),
               "gemm_epilogue: residual {} for output {}", residual.defined() ? shape_str(residual.shape()) : "-",
               shape_str(out.shape()));
  switch (act) {
    case UnaryOp::identity: case UnaryOp::relu: case UnaryOp::gelu_tanh: case UnaryOp::gelu_erf:
    case UnaryOp::silu: break;
    default: return false;
  }
  const Epilogue e{&bias, act, &residual};
  run_gemm(a, b, out, false, &e);
  return true;
}

}  // namespace ember::cpu

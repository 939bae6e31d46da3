// CPU GEMM entry: splits a batched product across threads and dispatches each piece to the
// micro-kernel for the active ISA (gemm_avx512.cpp, gemm_avx2.cpp, or the portable one here).
// Threads split the batch when it has enough items, else the larger of M and N, so every thread
// owns disjoint rows or columns of C (no write sharing) and packs its own panels.
#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/gemm_driver.h"
#include "tensor/parallel.h"

namespace ember::cpu {

void gemm_f32_avx512(const GemmArgs& g);
void gemm_f32_avx2(const GemmArgs& g);

namespace {

void gemm_f32_scalar(const GemmArgs& g) { GemmDriver<float, ScalarKernel<float, 4, 16>, 128, 256, 2048>::run(g); }
void gemm_f64(const GemmArgs& g) { GemmDriver<double, ScalarKernel<double, 4, 8>, 64, 256, 1024>::run(g); }

void gemm_one(DType dtype, const GemmArgs& g) {
  if (dtype == DType::f64) return gemm_f64(g);
  switch (active_isa()) {
    case Isa::avx512: return gemm_f32_avx512(g);
    case Isa::avx2: return gemm_f32_avx2(g);
    case Isa::scalar: return gemm_f32_scalar(g);
  }
}

}  // namespace

void CpuBackend::gemm(const Tensor& a, const Tensor& b, const Tensor& out, bool accumulate) {
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
      GemmArgs g{i1 - i0, j1 - j0, k,
                 ap + q * a.stride(0) + i0 * a.stride(1), a.stride(1), a.stride(2),
                 bp + q * b.stride(0) + j0 * b.stride(2), b.stride(1), b.stride(2),
                 cp + q * m * n + i0 * n + j0, n, accumulate};
      gemm_one(a.dtype(), g);
    };
    const int threads = get_num_threads();
    const double flops = 2.0 * double(bt) * double(m) * double(n) * double(k);
    if (threads == 1 || flops < 2e6 || in_parallel_region()) {
      for (int64_t q = 0; q < bt; ++q) piece(q, 0, m, 0, n);
    } else if (bt >= threads) {
      parallel_for(bt, 1, [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) piece(q, 0, m, 0, n);
      });
    } else if (n >= m) {  // split columns in multiples of 32 (the widest NR)
      int64_t blocks = (n + 31) / 32;
      parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t q = 0; q < bt; ++q) piece(q, 0, m, b0 * 32, std::min(n, b1 * 32));
      });
    } else {  // split rows in multiples of 12 (the tallest MR)
      int64_t blocks = (m + 11) / 12;
      parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t q = 0; q < bt; ++q) piece(q, b0 * 12, std::min(m, b1 * 12), 0, n);
      });
    }
  });
}

}  // namespace ember::cpu

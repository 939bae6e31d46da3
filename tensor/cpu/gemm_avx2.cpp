// AVX2+FMA f32 GEMM micro-kernel: a 6 x 16 tile of C in 12 ymm accumulators (two 8-wide B loads and
// six broadcasts per k step). The fallback for CPUs without AVX-512.
#include <immintrin.h>

#include "tensor/cpu/gemm_driver.h"

namespace ember::cpu {
namespace {

struct Avx2Kernel {
  static constexpr int MR = 6, NR = 16;
  static void run(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
    __m256 c0[MR], c1[MR];
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      c0[i] = c1[i] = _mm256_setzero_ps();
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);  // C is written after the k loop
    }
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; ++p, a += MR, b += NR) {
      _mm_prefetch(reinterpret_cast<const char*>(a + 16 * MR), _MM_HINT_T0);  // A streams from L2
      __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
      for (int i = 0; i < MR; ++i) {
        __m256 av = _mm256_broadcast_ss(a + i);
        c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
        c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
      }
    }
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      float* row = c + i * ldc;
      if (accumulate) {
        c0[i] = _mm256_add_ps(c0[i], _mm256_loadu_ps(row));
        c1[i] = _mm256_add_ps(c1[i], _mm256_loadu_ps(row + 8));
      }
      _mm256_storeu_ps(row, c0[i]);
      _mm256_storeu_ps(row + 8, c1[i]);
    }
  }
};

}  // namespace

void gemm_f32_avx2(const GemmArgs& g) { GemmDriver<float, Avx2Kernel, 144, 256, 3072>::run(g); }

}  // namespace ember::cpu

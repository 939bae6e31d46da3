// AVX-512 f32 GEMM micro-kernel: a 12 x 32 tile of C in 24 zmm accumulators. Per k step it loads
// two 16-wide rows of the packed B panel and broadcasts 12 A values: 24 FMAs for 14 loads, so the
// two FMA ports stay busy. Compiled with -mavx512f (CMake's per-file ISA flags).
#include <immintrin.h>

#include "tensor/cpu/gemm_driver.h"

namespace ember::cpu {
namespace {

struct Avx512Kernel {
  static constexpr int MR = 12, NR = 32;
  static void run(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, bool accumulate) {
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kc; ++p, a += MR, b += NR) {
      __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
      for (int i = 0; i < MR; ++i) {
        __m512 av = _mm512_set1_ps(a[i]);
        c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
        c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
      }
    }
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      float* row = c + i * ldc;
      if (accumulate) {
        c0[i] = _mm512_add_ps(c0[i], _mm512_loadu_ps(row));
        c1[i] = _mm512_add_ps(c1[i], _mm512_loadu_ps(row + 16));
      }
      _mm512_storeu_ps(row, c0[i]);
      _mm512_storeu_ps(row + 16, c1[i]);
    }
  }
};

}  // namespace

// MC x KC block of A (12*24 x 256 floats = 288 KiB) stays in L2; KC x NC of B in L3.
void gemm_f32_avx512(const GemmArgs& g) { GemmDriver<float, Avx512Kernel, 144, 256, 3072>::run(g); }

}  // namespace ember::cpu

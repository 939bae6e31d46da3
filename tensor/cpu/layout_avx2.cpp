// AVX2 plane transpose (layout.h): 8x8 blocks in registers (unpack, shuffle, 128-bit permute),
// the edges (rows or columns past the last multiple of 8) through the scalar loop. The larger
// dimension runs outside.
#include <immintrin.h>

#include "tensor/cpu/layout.h"

namespace ember::cpu {
namespace {

// o[k] = column k of the 8x8 block whose rows are r[0..7].
inline void transpose8x8_ps(const __m256 r[8], __m256 o[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  o[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  o[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  o[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  o[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  o[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  o[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  o[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  o[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

inline void block8x8(const float* src, int64_t lds, float* dst, int64_t ldd, bool accumulate) {
  __m256 r[8], o[8];
  for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(src + k * lds);
  transpose8x8_ps(r, o);
  for (int k = 0; k < 8; ++k) {
    float* d = dst + k * ldd;
    _mm256_storeu_ps(d, accumulate ? _mm256_add_ps(_mm256_loadu_ps(d), o[k]) : o[k]);
  }
}

}  // namespace

void transpose_f32_avx2(const float* src, int64_t rows, int64_t cols, int64_t lds, float* dst, int64_t ldd,
                        bool accumulate) {
  const int64_t r8 = rows / 8 * 8, c8 = cols / 8 * 8;
  auto block = [&](int64_t i, int64_t j) { block8x8(src + i * lds + j, lds, dst + j * ldd + i, ldd, accumulate); };
  // The outer loop steps 16 along the long dimension, two blocks at a time, so each 64-byte line
  // on the strided side (8 lines, often a multiple of 4 KiB apart and in one cache set) is used
  // whole before it can be evicted.
  if (rows >= cols) {
    int64_t i = 0;
    for (; i + 16 <= r8; i += 16)
      for (int64_t j = 0; j < c8; j += 8) {
        block(i, j);
        block(i + 8, j);
      }
    for (; i < r8; i += 8)
      for (int64_t j = 0; j < c8; j += 8) block(i, j);
  } else {
    int64_t j = 0;
    for (; j + 16 <= c8; j += 16)
      for (int64_t i = 0; i < r8; i += 8) {
        block(i, j);
        block(i, j + 8);
      }
    for (; j < c8; j += 8)
      for (int64_t i = 0; i < r8; i += 8) block(i, j);
  }
  transpose_f32_scalar(src, 0, r8, c8, cols, lds, dst, ldd, accumulate);    // right edge
  transpose_f32_scalar(src, r8, rows, 0, cols, lds, dst, ldd, accumulate);  // bottom edge
}

}  // namespace ember::cpu

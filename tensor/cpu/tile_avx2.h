// The 4 x 16 and 6 x 16 f32 register tiles shared by the AVX2 convolution kernels
// (conv_direct_avx2.cpp, and winograd_avx2.cpp's forward and weight-gradient products): 8 or 12 ymm
// accumulators; each step broadcasts one value per row and multiplies it with two 8-wide vectors
// (4 or 6 broadcasts and 2 loads per 8 or 12 FMAs). Include only from files built with AVX2 + FMA
// flags.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace ember::cpu {

// Named accumulators: with arrays of __m256, GCC 12 stores every accumulator to the stack on each
// step; named members stay in registers.
//
// Four rows, for the last block of a product with at most 4 rows left (the 6-row tile would spend
// a third or more of its FMAs on repeated rows: Winograd F(4x4) on one 6x7 board has 4 tiles,
// F(6x4) 2). Each output's sum runs over the same terms in the same order in both tiles, so the
// results are bit-identical.
struct Tile4x16 {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;  // columns 0-7
  __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;                    // columns 8-15

  // row i += row[i][off] * (v0, v1) for rows 0-3
  void step(const float* const row[6], int64_t off, __m256 v0, __m256 v1) {
    __m256 x = _mm256_broadcast_ss(row[0] + off);
    a0 = _mm256_fmadd_ps(x, v0, a0);
    b0 = _mm256_fmadd_ps(x, v1, b0);
    x = _mm256_broadcast_ss(row[1] + off);
    a1 = _mm256_fmadd_ps(x, v0, a1);
    b1 = _mm256_fmadd_ps(x, v1, b1);
    x = _mm256_broadcast_ss(row[2] + off);
    a2 = _mm256_fmadd_ps(x, v0, a2);
    b2 = _mm256_fmadd_ps(x, v1, b2);
    x = _mm256_broadcast_ss(row[3] + off);
    a3 = _mm256_fmadd_ps(x, v0, a3);
    b3 = _mm256_fmadd_ps(x, v1, b3);
  }
  // The first `rows` (<= 4) rows to dst + i * ld (16 floats each), `=` or `+=`.
  void store(float* dst, int64_t ld, int rows, bool accumulate) const {
    const __m256 lo[4] = {a0, a1, a2, a3}, hi[4] = {b0, b1, b2, b3};
    store_rows(dst, ld, rows, accumulate, lo, hi);
  }

 protected:
  static void store_rows(float* dst, int64_t ld, int rows, bool accumulate, const __m256* lo, const __m256* hi) {
    for (int i = 0; i < rows; ++i) {
      float* d = dst + i * ld;
      _mm256_storeu_ps(d, accumulate ? _mm256_add_ps(_mm256_loadu_ps(d), lo[i]) : lo[i]);
      _mm256_storeu_ps(d + 8, accumulate ? _mm256_add_ps(_mm256_loadu_ps(d + 8), hi[i]) : hi[i]);
    }
  }
};

// Six rows: the four above and rows 4-5.
struct Tile6x16 : Tile4x16 {
  __m256 a4 = _mm256_setzero_ps(), a5 = a4, b4 = a4, b5 = a4;

  // row i += row[i][off] * (v0, v1)
  void step(const float* const row[6], int64_t off, __m256 v0, __m256 v1) {
    Tile4x16::step(row, off, v0, v1);
    __m256 x = _mm256_broadcast_ss(row[4] + off);
    a4 = _mm256_fmadd_ps(x, v0, a4);
    b4 = _mm256_fmadd_ps(x, v1, b4);
    x = _mm256_broadcast_ss(row[5] + off);
    a5 = _mm256_fmadd_ps(x, v0, a5);
    b5 = _mm256_fmadd_ps(x, v1, b5);
  }
  // The first `rows` (<= 6) rows to dst + i * ld (16 floats each), `=` or `+=`.
  void store(float* dst, int64_t ld, int rows, bool accumulate) const {
    const __m256 lo[6] = {a0, a1, a2, a3, a4, a5}, hi[6] = {b0, b1, b2, b3, b4, b5};
    store_rows(dst, ld, rows, accumulate, lo, hi);
  }
};

}  // namespace ember::cpu

// AVX-512 rows of the row-dot products of qgemm.h (int8, bf16 or f32 weights), the AVX2 file's tile at
// 16 lanes: 4 output channels x 2 activation rows = 8 zmm accumulators; per 16 k-steps each
// weight row's 16 int8 are sign-extended (vpmovsxbd) and converted once (f32 weights: loaded),
// then FMA'd against both activation rows. The k tail (< 16) runs under a lane mask, so there is
// no scalar tail loop. Accumulation is f32, as in the AVX2 rows (tests allow ~sqrt(K) f32 ulps).
// Not VNNI: the activations stay f32 (W8A32), so the product matches the AVX2 and scalar paths.
#include <cstdint>

#include "tensor/cpu/immintrin_avx512.h"

namespace ember::cpu {
namespace {

__m512 load_w16(const int8_t* p, __mmask16 m) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, p)));
}
__m512 load_w16(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
__m512 load_w16(const uint16_t* p, __mmask16 m) {  // bf16: the bits are the upper half of the f32
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

template <int NC, int MR, typename W>
void tile(int64_t n, int64_t k, const float* x, const W* w, const float* scale, float* y) {
  __m512 acc[NC][MR];
  for (int c = 0; c < NC; ++c)
    for (int r = 0; r < MR; ++r) acc[c][r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < k; p += 16) {
    const __mmask16 m = k - p >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (k - p)) - 1);
    __m512 xv[MR];
    for (int r = 0; r < MR; ++r) xv[r] = _mm512_maskz_loadu_ps(m, x + r * k + p);
    for (int c = 0; c < NC; ++c) {
      const __m512 wv = load_w16(w + c * k + p, m);
      for (int r = 0; r < MR; ++r) acc[c][r] = _mm512_fmadd_ps(wv, xv[r], acc[c][r]);
    }
  }
  for (int c = 0; c < NC; ++c)
    for (int r = 0; r < MR; ++r) {
      const float s = _mm512_reduce_add_ps(acc[c][r]);
      y[r * n + c] = scale ? s * scale[c] : s;
    }
}

template <typename W>
void rows(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x, const W* w, const float* scale,
          float* y) {
  int64_t j = n0;
  for (; j + 4 <= n1; j += 4) {
    int64_t i = 0;
    for (; i + 2 <= m; i += 2) tile<4, 2>(n, k, x + i * k, w + j * k, scale ? scale + j : nullptr, y + i * n + j);
    if (i < m) tile<4, 1>(n, k, x + i * k, w + j * k, scale ? scale + j : nullptr, y + i * n + j);
  }
  for (; j < n1; ++j) {
    int64_t i = 0;
    for (; i + 2 <= m; i += 2) tile<1, 2>(n, k, x + i * k, w + j * k, scale ? scale + j : nullptr, y + i * n + j);
    if (i < m) tile<1, 1>(n, k, x + i * k, w + j * k, scale ? scale + j : nullptr, y + i * n + j);
  }
}

}  // namespace

void qgemm_f32_i8_rows_avx512(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                              const int8_t* w, const float* scale, float* y) {
  rows(m, n, k, n0, n1, x, w, scale, y);
}

void gemm_rows_bf16_rows_avx512(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                                const uint16_t* w, float* y) {
  rows(m, n, k, n0, n1, x, w, nullptr, y);
}

void gemm_rows_f32_rows_avx512(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                               const float* w, float* y) {
  rows(m, n, k, n0, n1, x, w, nullptr, y);
}

}  // namespace ember::cpu

// AVX2 rows of the row-dot products of qgemm.h, int8, bf16 or f32 weights (one template). Tile: 4 output channels x 2 activation
// rows = 8 ymm accumulators; per 8 k-steps each weight row's 8 int8 are sign-extended to i32
// (vpmovsxbd) and converted to f32 once (f32 weights: loaded), then FMA'd against both activation rows, so one weight
// load serves 2 tokens and one activation load serves 4 channels. Tails in k use the scalar
// formula; leftover channels/rows run 1-wide tiles. Accumulation is f32 (8 lanes + a tail), the
// reference sums in double: tests allow ~sqrt(K) f32 ulps.
// Bytes per token and channel: K weight bytes (vs 4K for f32), K*4 activation bytes from L1.
#include <immintrin.h>

#include <cstdint>

namespace ember::cpu {
namespace {

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__m256 load_w8(const int8_t* p) {
  return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
__m256 load_w8(const float* p) { return _mm256_loadu_ps(p); }
__m256 load_w8(const uint16_t* p) {  // bf16: the bits are the upper half of the f32
  return _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))), 16));
}

inline float weight_value(float v) { return v; }
inline float weight_value(int8_t v) { return static_cast<float>(v); }
inline float weight_value(uint16_t bf16) {
  const uint32_t u = uint32_t(bf16) << 16;
  float f;
  __builtin_memcpy(&f, &u, sizeof f);
  return f;
}

// y[i, j..j+NC) for rows i..i+MR of x: NC channels x MR rows (NC <= 4, MR <= 2).
template <int NC, int MR, typename W>
void tile(int64_t n, int64_t k, const float* x, const W* w, const float* scale, float* y) {
  __m256 acc[NC][MR];
  for (int c = 0; c < NC; ++c)
    for (int r = 0; r < MR; ++r) acc[c][r] = _mm256_setzero_ps();
  int64_t p = 0;
  for (; p + 8 <= k; p += 8) {
    __m256 xv[MR];
    for (int r = 0; r < MR; ++r) xv[r] = _mm256_loadu_ps(x + r * k + p);
    for (int c = 0; c < NC; ++c) {
      const __m256 wv = load_w8(w + c * k + p);
      for (int r = 0; r < MR; ++r) acc[c][r] = _mm256_fmadd_ps(wv, xv[r], acc[c][r]);
    }
  }
  for (int c = 0; c < NC; ++c)
    for (int r = 0; r < MR; ++r) {
      float s = hsum(acc[c][r]);
      for (int64_t q = p; q < k; ++q) s += x[r * k + q] * weight_value(w[c * k + q]);
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

// W8A8 (qgemm.h): int8 x int8 with exact int32 sums. VPMADDUBSW multiplies u8 by s8 and adds
// pairs into s16 with saturation; feeding it |w| (u8, at most 128) and xq with w's sign
// (VPSIGNB, |xq| <= 127) gives the pair sum w*x + w'*x' of magnitude <= 2 * 128 * 127 < 2^15, so
// nothing saturates; VPMADDWD by 1 widens the pairs into i32. 4 channels x 2 rows per tile,
// 32 k-steps per iteration, a scalar k tail.
template <int NC, int MR>
void tile_i8(int64_t n, int64_t k, const int8_t* xq, const float* xs, const int8_t* w, const float* scale,
             float* y) {
  __m256i acc[NC][MR];
  for (int c = 0; c < NC; ++c)
    for (int r = 0; r < MR; ++r) acc[c][r] = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  int64_t p = 0;
  for (; p + 32 <= k; p += 32) {
    __m256i xv[MR];
    for (int r = 0; r < MR; ++r) xv[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xq + r * k + p));
    for (int c = 0; c < NC; ++c) {
      const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + c * k + p));
      const __m256i wabs = _mm256_abs_epi8(wv);
      for (int r = 0; r < MR; ++r) {
        const __m256i pairs = _mm256_maddubs_epi16(wabs, _mm256_sign_epi8(xv[r], wv));
        acc[c][r] = _mm256_add_epi32(acc[c][r], _mm256_madd_epi16(pairs, ones));
      }
    }
  }
  for (int c = 0; c < NC; ++c)
    for (int r = 0; r < MR; ++r) {
      __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc[c][r]), _mm256_extracti128_si256(acc[c][r], 1));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
      s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
      int32_t dot = _mm_cvtsi128_si32(s);
      for (int64_t q = p; q < k; ++q) dot += int32_t{xq[r * k + q]} * w[c * k + q];
      y[r * n + c] = static_cast<float>(dot) * xs[r] * scale[c];
    }
}

}  // namespace

void qgemm_i8_i8_rows_avx2(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const int8_t* xq,
                           const float* xs, const int32_t* /*xsum*/, const int8_t* w, const float* scale, float* y) {
  int64_t j = n0;
  for (; j + 4 <= n1; j += 4) {
    int64_t i = 0;
    for (; i + 2 <= m; i += 2) tile_i8<4, 2>(n, k, xq + i * k, xs + i, w + j * k, scale + j, y + i * n + j);
    if (i < m) tile_i8<4, 1>(n, k, xq + i * k, xs + i, w + j * k, scale + j, y + i * n + j);
  }
  for (; j < n1; ++j) {
    int64_t i = 0;
    for (; i + 2 <= m; i += 2) tile_i8<1, 2>(n, k, xq + i * k, xs + i, w + j * k, scale + j, y + i * n + j);
    if (i < m) tile_i8<1, 1>(n, k, xq + i * k, xs + i, w + j * k, scale + j, y + i * n + j);
  }
}

void gemm_rows_bf16_rows_avx2(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                              const uint16_t* w, float* y) {
  rows(m, n, k, n0, n1, x, w, nullptr, y);
}

void qgemm_f32_i8_rows_avx2(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                            const int8_t* w, const float* scale, float* y) {
  rows(m, n, k, n0, n1, x, w, scale, y);
}

void gemm_rows_f32_rows_avx2(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const float* x,
                             const float* w, float* y) {
  rows(m, n, k, n0, n1, x, w, nullptr, y);
}

}  // namespace ember::cpu

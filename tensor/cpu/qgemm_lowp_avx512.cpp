// Low-precision-activation rows of qgemm.h on AVX-512 extensions; compiled with -mavx512vnni and
// -mavx512bf16 (tensor/CMakeLists.txt) and run only where the CPU has them (cpu_features.h).
//
// W8A8 with VNNI: VPDPBUSD multiplies 4 u8 by 4 s8 and adds the four products into an i32 lane
// (no saturation). The weights are the u8 operand after flipping their sign bit (w ^ 0x80 = w + 128),
// the quantized activations the s8 operand, so each lane sums (w + 128) * x; the offset is removed
// once per output with 128 * sum_k xq (xsum). The sums are exact, so the result equals the scalar
// and AVX2 rows bit for bit. Tile: 4 output channels x up to 4 rows, 64 k-steps per instruction, the
// k tail under a byte mask (masked bytes load as 0: (0 ^ 0x80) * 0 adds nothing).
//
// bf16 x bf16 with VDPBF16PS: a row of k values is already laid out as the instruction's k-pairs
// (element 2q and 2q+1 in one 32-bit lane), so 32 weights and 32 activations go in per instruction
// with no packing. f32 accumulation; tests compare with the f32 rows on the rounded values.
#include <cstdint>

#include "tensor/cpu/immintrin_avx512.h"

namespace ember::cpu {
namespace {

__mmask64 byte_mask(int64_t left) { return left >= 64 ? ~__mmask64(0) : (__mmask64(1) << left) - 1; }
__mmask32 word_mask(int64_t left) { return left >= 32 ? ~__mmask32(0) : (__mmask32(1) << left) - 1; }

template <int NC, int MR>
void tile_vnni(int64_t n, int64_t k, const int8_t* xq, const float* xs, const int32_t* xsum, const int8_t* w,
               const float* scale, float* y) {
  __m512i acc[NC][MR];
  for (int c = 0; c < NC; ++c)
    for (int r = 0; r < MR; ++r) acc[c][r] = _mm512_setzero_si512();
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
  for (int64_t p = 0; p < k; p += 64) {
    const __mmask64 m = byte_mask(k - p);
    __m512i xv[MR];
    for (int r = 0; r < MR; ++r) xv[r] = _mm512_maskz_loadu_epi8(m, xq + r * k + p);
    for (int c = 0; c < NC; ++c) {
      const __m512i wu = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, w + c * k + p), flip);
      for (int r = 0; r < MR; ++r) acc[c][r] = _mm512_dpbusd_epi32(acc[c][r], wu, xv[r]);
    }
  }
  for (int c = 0; c < NC; ++c)
    for (int r = 0; r < MR; ++r) {
      // The lanes may wrap for large K (each adds up to 255 * 127 per byte pair); the dot product
      // itself fits (qgemm_i8_i8 checks K), so the difference taken modulo 2^32 is exact.
      const auto dot = static_cast<int32_t>(static_cast<uint32_t>(_mm512_reduce_add_epi32(acc[c][r])) -
                                            128u * static_cast<uint32_t>(xsum[r]));
      y[r * n + c] = static_cast<float>(dot) * xs[r] * scale[c];
    }
}

template <int NC>
void rows_vnni(int64_t m, int64_t n, int64_t k, int64_t j, const int8_t* xq, const float* xs, const int32_t* xsum,
               const int8_t* w, const float* scale, float* y) {
  int64_t i = 0;
  for (; i + 4 <= m; i += 4)
    tile_vnni<NC, 4>(n, k, xq + i * k, xs + i, xsum + i, w + j * k, scale + j, y + i * n + j);
  switch (m - i) {
    case 3: tile_vnni<NC, 3>(n, k, xq + i * k, xs + i, xsum + i, w + j * k, scale + j, y + i * n + j); break;
    case 2: tile_vnni<NC, 2>(n, k, xq + i * k, xs + i, xsum + i, w + j * k, scale + j, y + i * n + j); break;
    case 1: tile_vnni<NC, 1>(n, k, xq + i * k, xs + i, xsum + i, w + j * k, scale + j, y + i * n + j); break;
    default: break;
  }
}

template <int NC, int MR>
void tile_bf16(int64_t n, int64_t k, const uint16_t* xb, const uint16_t* w, float* y) {
  __m512 acc[NC][MR];
  for (int c = 0; c < NC; ++c)
    for (int r = 0; r < MR; ++r) acc[c][r] = _mm512_setzero_ps();
  for (int64_t p = 0; p < k; p += 32) {
    const __mmask32 m = word_mask(k - p);
    __m512bh xv[MR];
    for (int r = 0; r < MR; ++r) xv[r] = (__m512bh)_mm512_maskz_loadu_epi16(m, xb + r * k + p);
    for (int c = 0; c < NC; ++c) {
      const __m512bh wv = (__m512bh)_mm512_maskz_loadu_epi16(m, w + c * k + p);
      for (int r = 0; r < MR; ++r) acc[c][r] = _mm512_dpbf16_ps(acc[c][r], wv, xv[r]);
    }
  }
  for (int c = 0; c < NC; ++c)
    for (int r = 0; r < MR; ++r) y[r * n + c] = _mm512_reduce_add_ps(acc[c][r]);
}

template <int NC>
void rows_bf16(int64_t m, int64_t n, int64_t k, int64_t j, const uint16_t* xb, const uint16_t* w, float* y) {
  int64_t i = 0;
  for (; i + 2 <= m; i += 2) tile_bf16<NC, 2>(n, k, xb + i * k, w + j * k, y + i * n + j);
  if (i < m) tile_bf16<NC, 1>(n, k, xb + i * k, w + j * k, y + i * n + j);
}

}  // namespace

void qgemm_i8_i8_rows_avx512vnni(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1, const int8_t* xq,
                                 const float* xs, const int32_t* xsum, const int8_t* w, const float* scale, float* y) {
  int64_t j = n0;
  for (; j + 4 <= n1; j += 4) rows_vnni<4>(m, n, k, j, xq, xs, xsum, w, scale, y);
  for (; j < n1; ++j) rows_vnni<1>(m, n, k, j, xq, xs, xsum, w, scale, y);
}

void gemm_rows_bf16_bf16_rows_avx512bf16(int64_t m, int64_t n, int64_t k, int64_t n0, int64_t n1,
                                         const uint16_t* xb, const uint16_t* w, float* y) {
  int64_t j = n0;
  for (; j + 4 <= n1; j += 4) rows_bf16<4>(m, n, k, j, xb, w, y);
  for (; j < n1; ++j) rows_bf16<1>(m, n, k, j, xb, w, y);
}

}  // namespace ember::cpu

// AVX2 plane kernels of the depthwise conv (see depthwise.h for the legend and the contract):
// 8 outputs per vector, up to 4 vectors (32 outputs of a row) in flight so the kh*kw FMAs of a tap
// loop form 4 independent chains. Loads may run past a row into the padded buffer's slack (those
// lanes are never stored); stores and the weight-gradient's row tails are masked.
#include <immintrin.h>

#include <cstdint>

#include "tensor/cpu/depthwise.h"

namespace ember::cpu {
namespace {

// All-ones in the first n of 8 lanes (n clamped to [0, 8]).
__m256i first_lanes(int64_t n) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n < 0 ? 0 : n > 8 ? 8 : n)), iota);
}

// Outputs o .. o + 8*NV of row r.
template <int NV>
void fwd_block(const DwPlane& p, const float* w, int64_t r, int64_t o, float* out_row, bool accumulate) {
  __m256 acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = _mm256_setzero_ps();
  for (int64_t i = 0; i < p.kh; ++i) {
    const float* row = p.pad + (r * p.sh + i * p.dh) * p.wp + o;
    for (int64_t j = 0; j < p.kw; ++j) {
      const __m256 wv = _mm256_set1_ps(w[i * p.kw + j]);
      const float* src = row + j * p.dw;
      for (int v = 0; v < NV; ++v) acc[v] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(src + 8 * v), acc[v]);
    }
  }
  for (int v = 0; v < NV; ++v) {
    float* dst = out_row + o + 8 * v;
    const int64_t rem = p.ow - o - 8 * v;
    if (rem >= 8) {
      _mm256_storeu_ps(dst, accumulate ? _mm256_add_ps(_mm256_loadu_ps(dst), acc[v]) : acc[v]);
    } else {
      const __m256i m = first_lanes(rem);
      _mm256_maskstore_ps(dst, m, accumulate ? _mm256_add_ps(_mm256_maskload_ps(dst, m), acc[v]) : acc[v]);
    }
  }
}

}  // namespace

void dw_fwd_plane_f32_avx2(const DwPlane& p, const float* w, float* out, bool accumulate) {
  for (int64_t r = 0; r < p.oh; ++r) {
    float* out_row = out + r * p.ow;
    for (int64_t o = 0; o < p.ow; o += 32) {
      const int64_t nv = (p.ow - o + 7) / 8;
      if (nv >= 4) fwd_block<4>(p, w, r, o, out_row, accumulate);
      else if (nv == 3) fwd_block<3>(p, w, r, o, out_row, accumulate);
      else if (nv == 2) fwd_block<2>(p, w, r, o, out_row, accumulate);
      else fwd_block<1>(p, w, r, o, out_row, accumulate);
    }
  }
}

void dw_wgrad_plane_f32_avx2(const DwPlane& p, const float* gy, float* acc) {
  for (int64_t i = 0; i < p.kh; ++i)
    for (int64_t j = 0; j < p.kw; ++j) {
      // Four named accumulators (an array indexed by a rotating counter stayed in memory: a load
      // and a store around every FMA).
      __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
      for (int64_t r = 0; r < p.oh; ++r) {
        const float* src = p.pad + (r * p.sh + i * p.dh) * p.wp + j * p.dw;
        const float* g = gy + r * p.ow;
        int64_t o = 0;
        for (; o + 32 <= p.ow; o += 32) {
          a0 = _mm256_fmadd_ps(_mm256_loadu_ps(g + o), _mm256_loadu_ps(src + o), a0);
          a1 = _mm256_fmadd_ps(_mm256_loadu_ps(g + o + 8), _mm256_loadu_ps(src + o + 8), a1);
          a2 = _mm256_fmadd_ps(_mm256_loadu_ps(g + o + 16), _mm256_loadu_ps(src + o + 16), a2);
          a3 = _mm256_fmadd_ps(_mm256_loadu_ps(g + o + 24), _mm256_loadu_ps(src + o + 24), a3);
        }
        for (; o + 8 <= p.ow; o += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(g + o), _mm256_loadu_ps(src + o), a0);
        if (o < p.ow) {
          const __m256i m = first_lanes(p.ow - o);
          a1 = _mm256_fmadd_ps(_mm256_maskload_ps(g + o, m), _mm256_maskload_ps(src + o, m), a1);
        }
      }
      const __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
      __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
      q = _mm_add_ps(q, _mm_movehl_ps(q, q));
      q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
      acc[i * p.kw + j] += _mm_cvtss_f32(q);
    }
}

}  // namespace ember::cpu

// AVX-512 plane kernels of the depthwise conv: depthwise_avx2.cpp's kernels with 16 outputs per
// vector (see there and depthwise.h). Row tails use mask registers.
#include <immintrin.h>

#include <cstdint>

#include "tensor/cpu/depthwise.h"

// _mm512_reduce_add_ps extracts into _mm256_undefined_pd(), which GCC 12 reports as
// -Wmaybe-uninitialized once inlined; the undefined lanes are never read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace ember::cpu {
namespace {

__mmask16 first_lanes(int64_t n) { return n <= 0 ? __mmask16(0) : n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

template <int NV>
void fwd_block(const DwPlane& p, const float* w, int64_t r, int64_t o, float* out_row, bool accumulate) {
  __m512 acc[NV];
  for (int v = 0; v < NV; ++v) acc[v] = _mm512_setzero_ps();
  for (int64_t i = 0; i < p.kh; ++i) {
    const float* row = p.pad + (r * p.sh + i * p.dh) * p.wp + o;
    for (int64_t j = 0; j < p.kw; ++j) {
      const __m512 wv = _mm512_set1_ps(w[i * p.kw + j]);
      const float* src = row + j * p.dw;
      for (int v = 0; v < NV; ++v) acc[v] = _mm512_fmadd_ps(wv, _mm512_loadu_ps(src + 16 * v), acc[v]);
    }
  }
  for (int v = 0; v < NV; ++v) {
    float* dst = out_row + o + 16 * v;
    const __mmask16 m = first_lanes(p.ow - o - 16 * v);
    const __m512 val = accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, dst), acc[v]) : acc[v];
    _mm512_mask_storeu_ps(dst, m, val);
  }
}

}  // namespace

void dw_fwd_plane_f32_avx512(const DwPlane& p, const float* w, float* out, bool accumulate) {
  for (int64_t r = 0; r < p.oh; ++r) {
    float* out_row = out + r * p.ow;
    for (int64_t o = 0; o < p.ow; o += 32) {
      if (p.ow - o > 16) fwd_block<2>(p, w, r, o, out_row, accumulate);
      else fwd_block<1>(p, w, r, o, out_row, accumulate);
    }
  }
}

void dw_wgrad_plane_f32_avx512(const DwPlane& p, const float* gy, float* acc) {
  for (int64_t i = 0; i < p.kh; ++i)
    for (int64_t j = 0; j < p.kw; ++j) {
      __m512 a[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
      for (int64_t r = 0; r < p.oh; ++r) {
        const float* src = p.pad + (r * p.sh + i * p.dh) * p.wp + j * p.dw;
        const float* g = gy + r * p.ow;
        int64_t o = 0, v = 0;
        for (; o + 16 <= p.ow; o += 16, v ^= 1)
          a[v] = _mm512_fmadd_ps(_mm512_loadu_ps(g + o), _mm512_loadu_ps(src + o), a[v]);
        if (o < p.ow) {
          const __mmask16 m = first_lanes(p.ow - o);
          a[v] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, g + o), _mm512_maskz_loadu_ps(m, src + o), a[v]);
        }
      }
      acc[i * p.kw + j] += _mm512_reduce_add_ps(_mm512_add_ps(a[0], a[1]));
    }
}

}  // namespace ember::cpu

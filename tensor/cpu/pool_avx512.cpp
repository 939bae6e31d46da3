// AVX-512 planes of max pool with a 2x2 window, stride 2, no padding (the pool of W2, W3 and most
// CNNs), forward and backward. pool.cpp calls them per plane and keeps the generic loop for the
// rest (and as the reference the tests compare with).
//
// Legend: one plane in [H, W] -> out [OH, OW], OH = H/2, OW = W/2 (an odd last row/column is
// never read). Output pixel (r, o) reads the block in[2r .. 2r+1][2o .. 2o+1].
// Forward: 16 outputs per step. Two rows of 32 inputs are loaded (masked at the row's end, so no
// read past the plane), split into even/odd columns, and the four block values a b / c d are
// combined in scan order with `take = v > best || v != v`, which is the generic loop's rule: the
// first maximum wins ties and the last NaN wins. Indices are built in int32 (plane < 2^31
// elements, checked by the caller) and widened to int64 on store.
// Backward (`=`): each input pixel belongs to at most one block, so grad_in is written directly,
// g at the argmax and 0 elsewhere, with no zeroing pass. Indices that are not inside their own
// block (not produced by this geometry) make it return false; the caller then redoes the plane
// with the generic scatter.
// GCC 12's AVX-512 headers build some results from a deliberately undefined register (`__Y`),
// which -W(maybe-)uninitialized flags at -O3; the values are fully defined.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace ember::cpu {
namespace {

__mmask16 low_bits16(int64_t n) { return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1); }

// Loads 2*rem consecutive floats (rem <= 16) and splits them into even and odd columns.
void load_pairs(const float* p, int64_t rem, __m512& even, __m512& odd) {
  const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i io = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const __m512 lo = _mm512_maskz_loadu_ps(low_bits16(2 * rem), p);
  const __m512 hi = _mm512_maskz_loadu_ps(low_bits16(2 * rem - 16 < 0 ? 0 : 2 * rem - 16), p + 16);
  even = _mm512_permutex2var_ps(lo, ie, hi);
  odd = _mm512_permutex2var_ps(lo, io, hi);
}

// best/k <- v/kv where v > best or v is NaN.
void take(__m512 v, int kv, __m512& best, __m512i& k) {
  const __mmask16 m = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  best = _mm512_mask_mov_ps(best, m, v);
  k = _mm512_mask_mov_epi32(k, m, _mm512_set1_epi32(kv));
}

}  // namespace

void max_pool2x2_plane_f32_avx512(const float* in, int64_t w, int64_t oh, int64_t ow, float* out, int64_t* idx) {
  // block offset of scan position k = 0..3 (a b / c d)
  const __m512i koff = _mm512_setr_epi32(0, 1, int(w), int(w + 1), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i lane2 = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int64_t r = 0; r < oh; ++r) {
    const float* r0 = in + 2 * r * w;
    for (int64_t o = 0; o < ow; o += 16) {
      const int64_t rem = ow - o < 16 ? ow - o : 16;
      __m512 a, b, c, d;
      load_pairs(r0 + 2 * o, rem, a, b);
      load_pairs(r0 + w + 2 * o, rem, c, d);
      __m512 best = a;  // == scanning a from -inf: a = -inf keeps k = 0 either way
      __m512i k = _mm512_setzero_si512();
      take(b, 1, best, k);
      take(c, 2, best, k);
      take(d, 3, best, k);
      const __m512i base = _mm512_add_epi32(_mm512_set1_epi32(int(2 * r * w + 2 * o)), lane2);
      const __m512i arg = _mm512_add_epi32(base, _mm512_permutexvar_epi32(k, koff));
      const __mmask16 m = low_bits16(rem);
      _mm512_mask_storeu_ps(out + r * ow + o, m, best);
      int64_t* ip = idx + r * ow + o;
      _mm512_mask_storeu_epi64(ip, __mmask8(m), _mm512_cvtepi32_epi64(_mm512_castsi512_si256(arg)));
      _mm512_mask_storeu_epi64(ip + 8, __mmask8(m >> 8), _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(arg, 1)));
    }
  }
}

bool max_pool2x2_bwd_plane_f32_avx512(const float* g, const int64_t* idx, int64_t h, int64_t w, int64_t oh,
                                      int64_t ow, float* gi) {
  const __m512i lane2 = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i ilo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i ihi = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t r = 0; r < oh; ++r) {
    float* r0 = gi + 2 * r * w;
    for (int64_t o = 0; o < ow; o += 16) {
      const int64_t rem = ow - o < 16 ? ow - o : 16;
      const __mmask16 m = low_bits16(rem);
      const int64_t* ip = idx + r * ow + o;
      const __m256i i0 = _mm512_cvtepi64_epi32(_mm512_maskz_loadu_epi64(__mmask8(m), ip));
      const __m256i i1 = _mm512_cvtepi64_epi32(_mm512_maskz_loadu_epi64(__mmask8(m >> 8), ip + 8));
      const __m512i rel = _mm512_sub_epi32(_mm512_inserti64x4(_mm512_castsi256_si512(i0), i1, 1),
                                           _mm512_add_epi32(_mm512_set1_epi32(int(2 * r * w + 2 * o)), lane2));
      const __mmask16 k0 = _mm512_cmpeq_epi32_mask(rel, _mm512_setzero_si512());
      const __mmask16 k1 = _mm512_cmpeq_epi32_mask(rel, _mm512_set1_epi32(1));
      const __mmask16 k2 = _mm512_cmpeq_epi32_mask(rel, _mm512_set1_epi32(int(w)));
      const __mmask16 k3 = _mm512_cmpeq_epi32_mask(rel, _mm512_set1_epi32(int(w + 1)));
      if (__mmask16((k0 | k1 | k2 | k3) & m) != m) return false;
      const __m512 gv = _mm512_maskz_loadu_ps(m, g + r * ow + o);
      // + 0 turns -0 into +0, as the generic 0 + g does
      const __m512 va = _mm512_add_ps(_mm512_maskz_mov_ps(k0, gv), zero), vb = _mm512_add_ps(_mm512_maskz_mov_ps(k1, gv), zero);
      const __m512 vc = _mm512_add_ps(_mm512_maskz_mov_ps(k2, gv), zero), vd = _mm512_add_ps(_mm512_maskz_mov_ps(k3, gv), zero);
      const __mmask16 m_lo = low_bits16(2 * rem), m_hi = low_bits16(2 * rem - 16 < 0 ? 0 : 2 * rem - 16);
      _mm512_mask_storeu_ps(r0 + 2 * o, m_lo, _mm512_permutex2var_ps(va, ilo, vb));
      _mm512_mask_storeu_ps(r0 + 2 * o + 16, m_hi, _mm512_permutex2var_ps(va, ihi, vb));
      _mm512_mask_storeu_ps(r0 + w + 2 * o, m_lo, _mm512_permutex2var_ps(vc, ilo, vd));
      _mm512_mask_storeu_ps(r0 + w + 2 * o + 16, m_hi, _mm512_permutex2var_ps(vc, ihi, vd));
    }
    if (w > 2 * ow) r0[w - 1] = r0[2 * w - 1] = 0.0f;  // odd W: the last column is in no block
  }
  if (h > 2 * oh) std::memset(gi + 2 * oh * w, 0, sizeof(float) * size_t(w));  // odd H: the last row
  return true;
}

}  // namespace ember::cpu

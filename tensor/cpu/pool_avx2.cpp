// AVX2 planes of max pool 2x2 / stride 2 / no padding, forward and backward: the same kernels as
// pool_avx512.cpp (see there for the legend, the tie/NaN rule and the backward's contract) with 8
// outputs per step. Row ends use maskload/maskstore, so nothing outside the plane is touched.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <limits>

namespace ember::cpu {
namespace {

// All-ones in the first n of 8 int32 lanes (n may be <= 0 or >= 8).
__m256i first_lanes(int64_t n) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n < 0 ? 0 : n > 8 ? 8 : n)), iota);
}
// The int64 mask for lanes [4h, 4h+4) of an int32 lane mask.
__m256i half_mask64(__m256i m32, int h) {
  return _mm256_cvtepi32_epi64(h == 0 ? _mm256_castsi256_si128(m32) : _mm256_extracti128_si256(m32, 1));
}

// Loads 2*rem consecutive floats (rem <= 8) and splits them into even and odd columns.
void load_pairs(const float* p, int64_t rem, __m256& even, __m256& odd) {
  const __m256 lo = _mm256_maskload_ps(p, first_lanes(2 * rem));
  const __m256 hi = _mm256_maskload_ps(p + 8, first_lanes(2 * rem - 8));
  // shuffle gives [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6]; the 64-bit permute restores the order
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
}

void take(__m256 v, int kv, __m256& best, __m256i& k) {
  const __m256 m = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  best = _mm256_blendv_ps(best, v, m);
  k = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(k), _mm256_castsi256_ps(_mm256_set1_epi32(kv)), m));
}

}  // namespace

void max_pool2x2_plane_f32_avx2(const float* in, int64_t w, int64_t oh, int64_t ow, float* out, int64_t* idx) {
  const __m256i koff = _mm256_setr_epi32(0, 1, int(w), int(w + 1), 0, 0, 0, 0);
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  for (int64_t r = 0; r < oh; ++r) {
    const float* r0 = in + 2 * r * w;
    for (int64_t o = 0; o < ow; o += 8) {
      const int64_t rem = ow - o < 8 ? ow - o : 8;
      __m256 a, b, c, d;
      load_pairs(r0 + 2 * o, rem, a, b);
      load_pairs(r0 + w + 2 * o, rem, c, d);
      __m256 best = a;
      __m256i k = _mm256_setzero_si256();
      take(b, 1, best, k);
      take(c, 2, best, k);
      take(d, 3, best, k);
      const __m256i base = _mm256_add_epi32(_mm256_set1_epi32(int(2 * r * w + 2 * o)), lane2);
      const __m256i arg = _mm256_add_epi32(base, _mm256_permutevar8x32_epi32(koff, k));
      const __m256i m = first_lanes(rem);
      _mm256_maskstore_ps(out + r * ow + o, m, best);
      long long* ip = reinterpret_cast<long long*>(idx + r * ow + o);
      _mm256_maskstore_epi64(ip, half_mask64(m, 0), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(arg)));
      _mm256_maskstore_epi64(ip + 4, half_mask64(m, 1), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(arg, 1)));
    }
  }
}

bool max_pool2x2_bwd_plane_f32_avx2(const float* g, const int64_t* idx, int64_t h, int64_t w, int64_t oh,
                                    int64_t ow, float* gi) {
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  const __m256i low32 = _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0);  // the low dword of each int64
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t r = 0; r < oh; ++r) {
    float* r0 = gi + 2 * r * w;
    for (int64_t o = 0; o < ow; o += 8) {
      const int64_t rem = ow - o < 8 ? ow - o : 8;
      const __m256i m = first_lanes(rem);
      const long long* ip = reinterpret_cast<const long long*>(idx + r * ow + o);
      const __m256i q0 = _mm256_permutevar8x32_epi32(_mm256_maskload_epi64(ip, half_mask64(m, 0)), low32);
      const __m256i q1 = _mm256_permutevar8x32_epi32(_mm256_maskload_epi64(ip + 4, half_mask64(m, 1)), low32);
      const __m256i i32 = _mm256_inserti128_si256(q0, _mm256_castsi256_si128(q1), 1);
      const __m256i rel = _mm256_sub_epi32(i32, _mm256_add_epi32(_mm256_set1_epi32(int(2 * r * w + 2 * o)), lane2));
      const __m256i k0 = _mm256_cmpeq_epi32(rel, _mm256_setzero_si256());
      const __m256i k1 = _mm256_cmpeq_epi32(rel, _mm256_set1_epi32(1));
      const __m256i k2 = _mm256_cmpeq_epi32(rel, _mm256_set1_epi32(int(w)));
      const __m256i k3 = _mm256_cmpeq_epi32(rel, _mm256_set1_epi32(int(w + 1)));
      const __m256i ok = _mm256_or_si256(_mm256_or_si256(k0, k1), _mm256_or_si256(k2, k3));
      if (!_mm256_testc_si256(ok, m)) return false;  // some active lane is outside its block
      const __m256 gv = _mm256_maskload_ps(g + r * ow + o, m);
      // + 0 turns -0 into +0, as the generic 0 + g does
      const __m256 va = _mm256_add_ps(_mm256_and_ps(_mm256_castsi256_ps(k0), gv), zero);
      const __m256 vb = _mm256_add_ps(_mm256_and_ps(_mm256_castsi256_ps(k1), gv), zero);
      const __m256 vc = _mm256_add_ps(_mm256_and_ps(_mm256_castsi256_ps(k2), gv), zero);
      const __m256 vd = _mm256_add_ps(_mm256_and_ps(_mm256_castsi256_ps(k3), gv), zero);
      const __m256i m_lo = first_lanes(2 * rem), m_hi = first_lanes(2 * rem - 8);
      // unpack gives [e0 o0 e1 o1 | e4 o4 e5 o5] and [e2 o2 e3 o3 | e6 o6 e7 o7]
      const __m256 ab_lo = _mm256_unpacklo_ps(va, vb), ab_hi = _mm256_unpackhi_ps(va, vb);
      const __m256 cd_lo = _mm256_unpacklo_ps(vc, vd), cd_hi = _mm256_unpackhi_ps(vc, vd);
      const __m256 s0 = _mm256_permute2f128_ps(ab_lo, ab_hi, 0x20), s1 = _mm256_permute2f128_ps(ab_lo, ab_hi, 0x31);
      const __m256 s2 = _mm256_permute2f128_ps(cd_lo, cd_hi, 0x20), s3 = _mm256_permute2f128_ps(cd_lo, cd_hi, 0x31);
      if (rem == 8) {  // plain stores: masked stores are slow on some cores (AMD)
        _mm256_storeu_ps(r0 + 2 * o, s0), _mm256_storeu_ps(r0 + 2 * o + 8, s1);
        _mm256_storeu_ps(r0 + w + 2 * o, s2), _mm256_storeu_ps(r0 + w + 2 * o + 8, s3);
      } else {
        _mm256_maskstore_ps(r0 + 2 * o, m_lo, s0), _mm256_maskstore_ps(r0 + 2 * o + 8, m_hi, s1);
        _mm256_maskstore_ps(r0 + w + 2 * o, m_lo, s2), _mm256_maskstore_ps(r0 + w + 2 * o + 8, m_hi, s3);
      }
    }
    if (w > 2 * ow) r0[w - 1] = r0[2 * w - 1] = 0.0f;  // odd W: the last column is in no block
  }
  if (h > 2 * oh) std::memset(gi + 2 * oh * w, 0, sizeof(float) * size_t(w));  // odd H: the last row
  return true;
}

}  // namespace ember::cpu

// ---- Stride-1 pools (DARTS' 3x3 max/avg pools with padding 1, any window): a run of n outputs of
// one output row whose windows span input columns [c0 + j, c0 + j + kw) (all inside the plane) and
// input rows [h0, h1), 8 outputs per step. The window is scanned in the generic loop's order (rows,
// then columns) with its rule, so values and indices match it bit for bit.
namespace ember::cpu {

void max_pool_s1_row_f32_avx2(const float* in, int64_t w, int64_t h0, int64_t h1, int64_t c0, int64_t kw,
                              int64_t n, float* out, int64_t* idx) {
  const __m256i iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t j = 0; j < n; j += 8) {
    const int64_t rem = n - j < 8 ? n - j : 8;
    const __m256i m = first_lanes(rem);
    __m256 best = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    __m256i arg = _mm256_add_epi32(_mm256_set1_epi32(int(h0 * w + c0 + j)), iota);
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t kx = 0; kx < kw; ++kx) {
        const int64_t at = ih * w + c0 + j + kx;
        const __m256 v = rem == 8 ? _mm256_loadu_ps(in + at) : _mm256_maskload_ps(in + at, m);
        const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        best = _mm256_blendv_ps(best, v, take);
        const __m256i here = _mm256_add_epi32(_mm256_set1_epi32(int(at)), iota);
        arg = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(arg), _mm256_castsi256_ps(here), take));
      }
    long long* ip = reinterpret_cast<long long*>(idx + j);
    const __m256i a0 = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(arg));
    const __m256i a1 = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(arg, 1));
    if (rem == 8) {
      _mm256_storeu_ps(out + j, best);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(ip), a0);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(ip + 4), a1);
    } else {
      _mm256_maskstore_ps(out + j, m, best);
      _mm256_maskstore_epi64(ip, half_mask64(m, 0), a0);
      _mm256_maskstore_epi64(ip + 4, half_mask64(m, 1), a1);
    }
  }
}

// The average over the same windows: out = (sum in the scan order) / divisor. With divisor 1 (an
// exact division) it is also the average pool's gathered input gradient (pool.cpp).
void avg_pool_s1_row_f32_avx2(const float* in, int64_t w, int64_t h0, int64_t h1, int64_t c0, int64_t kw,
                              int64_t n, float divisor, float* out) {
  const __m256 div = _mm256_set1_ps(divisor);
  for (int64_t j = 0; j < n; j += 8) {
    const int64_t rem = n - j < 8 ? n - j : 8;
    const __m256i m = first_lanes(rem);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t kx = 0; kx < kw; ++kx) {
        const float* p = in + ih * w + c0 + j + kx;
        acc = _mm256_add_ps(acc, rem == 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m));
      }
    if (rem == 8) _mm256_storeu_ps(out + j, _mm256_div_ps(acc, div));
    else _mm256_maskstore_ps(out + j, m, _mm256_div_ps(acc, div));
  }
}

}  // namespace ember::cpu

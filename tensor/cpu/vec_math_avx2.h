// AVX2+FMA transcendental functions on 8 f32 lanes: exp, log, tanh, sigmoid, erf. Our own
// polynomial approximations (range reduction + minimax polynomials of the classic Cephes form).
// Include only from *_avx2.cpp files (they are compiled with -mavx2 -mfma).
//
// Accuracy against correctly rounded f32 (tested in tests/tensor/test_cpu_vec_math.cpp over wide
// ranges): exp, log, sigmoid within 2 ulp; tanh within 3 ulp; erf within ~2e-7 absolute.
// Special values: exp(-inf) = 0, exp(+inf) = inf, overflow to inf, gradual underflow to 0;
// log(0) = -inf, log(x < 0) = nan, log(inf) = inf, denormal inputs handled; nan propagates.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace ember::cpu::avx2 {

inline __m256 abs_ps(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }
inline __m256 isnan_ps(__m256 x) { return _mm256_cmp_ps(x, x, _CMP_UNORD_Q); }

// 2^n for integer lanes n in [-126, 127] (builds the exponent field).
inline __m256 pow2i(__m256i n) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23)); }

// e^x. x = n ln2 + r, |r| <= ln2/2 (Cody-Waite split of ln2 keeps r exact to ~1e-11);
// e^r = 1 + r + r^2 P(r) with a degree-5 minimax P; 2^n applied as 2^(n/2) * 2^(n - n/2) so
// results in the denormal range and up to the overflow threshold come out right.
inline __m256 exp_ps(__m256 x) {
  const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-104.0f)), _mm256_set1_ps(89.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, pow2i(n1)), pow2i(n2));
  y = _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()), _mm256_cmp_ps(x, _mm256_set1_ps(88.72284f), _CMP_GT_OQ));
  return _mm256_blendv_ps(y, x, isnan_ps(x));
}

// ln x. x = m 2^e with m in [sqrt(1/2), sqrt(2)); ln m = f - f^2/2 + f^3 P(f), f = m - 1
// (degree-8 minimax P); ln x = ln m + e ln2 with ln2 split in two parts.
inline __m256 log_ps(__m256 x) {
  // Denormals: scale by 2^23 first and subtract 23 from the exponent.
  const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(1.17549435e-38f), _CMP_LT_OQ);
  __m256 xs = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(8388608.0f)), tiny);
  __m256 e_adj = _mm256_and_ps(tiny, _mm256_set1_ps(-23.0f));
  const __m256i bits = _mm256_castps_si256(xs);
  __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
  __m256 m = _mm256_castsi256_ps(
      _mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f800000)));
  // m in [1, 2): fold to [sqrt(1/2), sqrt(2)).
  const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  e = _mm256_add_epi32(e, _mm256_and_si256(_mm256_castps_si256(big), _mm256_set1_epi32(1)));
  const __m256 ef = _mm256_add_ps(_mm256_cvtepi32_ps(e), e_adj);
  const __m256 f = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
  __m256 p = _mm256_set1_ps(7.0376836292e-2f);
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.1514610310e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.1676998740e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.2420140846e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.4249322787e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-1.6668057665e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(2.0000714765e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(-2.4999993993e-1f));
  p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(3.3333331174e-1f));
  const __m256 f2 = _mm256_mul_ps(f, f);
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, f2), f);                     // f^3 P(f)
  y = _mm256_fmadd_ps(ef, _mm256_set1_ps(-2.12194440e-4f), y);          // + e ln2_lo
  y = _mm256_fnmadd_ps(f2, _mm256_set1_ps(0.5f), y);                    // - f^2/2
  y = _mm256_add_ps(_mm256_add_ps(f, y), _mm256_mul_ps(ef, _mm256_set1_ps(0.693359375f)));  // + f + e ln2_hi
  // Special inputs: 0 -> -inf, negative -> nan, +inf -> +inf, nan -> nan.
  const __m256 zero = _mm256_setzero_ps();
  y = _mm256_blendv_ps(y, _mm256_set1_ps(-__builtin_inff()), _mm256_cmp_ps(x, zero, _CMP_EQ_OQ));
  y = _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_nanf("")), _mm256_cmp_ps(x, zero, _CMP_LT_OQ));
  y = _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, _mm256_set1_ps(__builtin_inff()), _CMP_EQ_OQ));
  return _mm256_blendv_ps(y, x, isnan_ps(x));
}

// sigmoid x with e = e^{-|x|} in (0, 1]: 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0, so
// neither branch overflows and tiny results for very negative x keep their precision.
inline __m256 sigmoid_ps(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), abs_ps(x)));
  const __m256 pos = _mm256_div_ps(one, _mm256_add_ps(one, e));
  const __m256 y = _mm256_blendv_ps(pos, _mm256_mul_ps(e, pos), x);  // sign bit of x selects
  return _mm256_blendv_ps(y, x, isnan_ps(x));
}

// s = sigmoid x and c = 1 - s = sigmoid(-x), each without cancellation (derivatives need 1 - s
// where s is close to 1).
inline void sigmoid_pair_ps(__m256 x, __m256& s, __m256& c) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), abs_ps(x)));
  const __m256 big = _mm256_div_ps(one, _mm256_add_ps(one, e)), small = _mm256_mul_ps(e, big);
  s = _mm256_blendv_ps(big, small, x);
  c = _mm256_blendv_ps(small, big, x);
}

// tanh x. |x| < 0.625: x + x^3 P(x^2) (degree-4 minimax P, no cancellation near 0);
// otherwise sign(x) (1 - 2 / (e^{2|x|} + 1)), which saturates to +-1 and propagates nan.
inline __m256 tanh_ps(__m256 x) {
  const __m256 ax = abs_ps(x), one = _mm256_set1_ps(1.0f);
  const __m256 x2 = _mm256_mul_ps(x, x);
  __m256 p = _mm256_set1_ps(-5.70498872745e-3f);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(2.06390887954e-2f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-5.37397155531e-2f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(1.33314422036e-1f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-3.33332819422e-1f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(p, x2), x, x);
  const __m256 e = exp_ps(_mm256_add_ps(ax, ax));
  __m256 large = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
  large = _mm256_or_ps(large, _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));  // copy the sign of x
  return _mm256_blendv_ps(large, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
}

// erf x to ~2e-7 absolute: |x| < 0.5: x P(x^2) (Taylor-minimax, degree 6 in x^2); otherwise
// 1 - t Q(t) e^{-x^2} with t = 1/(1 + 0.3275911 |x|) (Abramowitz-Stegun 7.1.26 form with a
// degree-5 Q), signed; saturates to +-1 and propagates nan.
inline __m256 erf_ps(__m256 x) {
  const __m256 ax = abs_ps(x), one = _mm256_set1_ps(1.0f), x2 = _mm256_mul_ps(x, x);
  // Small |x|: erf x = 2/sqrt(pi) (x - x^3/3 + x^5/10 - x^7/42 + x^9/216 - x^11/1320 + x^13/9360)
  __m256 p = _mm256_set1_ps(1.0f / 9360.0f);
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.0f / 1320.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(1.0f / 216.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.0f / 42.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(1.0f / 10.0f));
  p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(-1.0f / 3.0f));
  p = _mm256_fmadd_ps(p, x2, one);
  const __m256 small = _mm256_mul_ps(_mm256_mul_ps(p, x), _mm256_set1_ps(1.12837916709551257f));
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(ax, _mm256_set1_ps(0.3275911f), one));
  __m256 q = _mm256_set1_ps(1.061405429f);
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-1.453152027f));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.421413741f));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-0.284496736f));
  q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(0.254829592f));
  __m256 large = _mm256_fnmadd_ps(_mm256_mul_ps(q, t), exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x2)), one);
  large = _mm256_or_ps(large, _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));
  __m256 y = _mm256_blendv_ps(large, small, _mm256_cmp_ps(ax, _mm256_set1_ps(0.5f), _CMP_LT_OQ));
  return _mm256_blendv_ps(y, x, isnan_ps(x));
}

}  // namespace ember::cpu::avx2

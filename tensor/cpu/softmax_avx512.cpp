// AVX-512 rows of the f32 softmax family where exp dominates: the row max, the shifted exp-sum
// (softmax, log_softmax, cross-entropy forward) and the cross-entropy gradient row. Same contract
// and numerics as the AVX2 rows in softmax_avx2.cpp (see there), 16 lanes per step; the row's
// tail is one masked load (max: masked lanes read as -inf; exp-sum: as -inf, so they add 0).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12 AVX-512 headers, see pool_avx512.cpp
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <cstdint>

#include "tensor/cpu/vec_math_avx512.h"

namespace ember::cpu {
namespace {
using avx512::exp_ps;

__mmask16 tail_mask(int64_t n) { return __mmask16((1u << n) - 1); }  // 0 < n < 16
__m512d widen_add(__m512d acc, __m512 v) {
  return _mm512_add_pd(_mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(v))),
                       _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

}  // namespace

float row_max_f32_avx512(const float* x, int64_t d) {
  const __m512 ninf = _mm512_set1_ps(-__builtin_inff());
  __m512 m0 = ninf, m1 = ninf;
  int64_t j = 0;
  for (; j + 32 <= d; j += 32) {  // max(x, m) keeps m where x is NaN
    m0 = _mm512_max_ps(_mm512_loadu_ps(x + j), m0);
    m1 = _mm512_max_ps(_mm512_loadu_ps(x + j + 16), m1);
  }
  for (; j + 16 <= d; j += 16) m0 = _mm512_max_ps(_mm512_loadu_ps(x + j), m0);
  if (j < d) m1 = _mm512_max_ps(_mm512_mask_loadu_ps(ninf, tail_mask(d - j), x + j), m1);
  alignas(64) float b[16];
  _mm512_store_ps(b, _mm512_max_ps(m0, m1));
  float m = b[0];
  for (int l = 1; l < 16; ++l) m = b[l] > m ? b[l] : m;
  return m;
}

double row_exp_sum_f32_avx512(const float* x, int64_t d, float m, float* y) {
  const __m512 mv = _mm512_set1_ps(m), ninf = _mm512_set1_ps(-__builtin_inff());
  __m512d s0 = _mm512_setzero_pd(), s1 = s0;
  int64_t j = 0;
  for (; j + 32 <= d; j += 32) {
    const __m512 e0 = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + j), mv));
    const __m512 e1 = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + j + 16), mv));
    if (y) _mm512_storeu_ps(y + j, e0), _mm512_storeu_ps(y + j + 16, e1);
    s0 = widen_add(s0, e0);
    s1 = widen_add(s1, e1);
  }
  for (; j + 16 <= d; j += 16) {
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + j), mv));
    if (y) _mm512_storeu_ps(y + j, e);
    s0 = widen_add(s0, e);
  }
  if (j < d) {
    const __mmask16 k = tail_mask(d - j);
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_mask_loadu_ps(ninf, k, x + j), mv));
    if (y) _mm512_mask_storeu_ps(y + j, k, e);
    s1 = widen_add(s1, e);
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

void ce_grad_row_f32_avx512(const float* x, int64_t c, float lse, float g, float off, float* dx) {
  const __m512 lv = _mm512_set1_ps(lse), gv = _mm512_set1_ps(g), ov = _mm512_set1_ps(off);
  int64_t j = 0;
  for (; j + 16 <= c; j += 16)
    _mm512_storeu_ps(dx + j, _mm512_mul_ps(gv, _mm512_sub_ps(exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + j), lv)), ov)));
  if (j < c) {
    const __mmask16 k = tail_mask(c - j);
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + j), lv));
    _mm512_mask_storeu_ps(dx + j, k, _mm512_mul_ps(gv, _mm512_sub_ps(e, ov)));
  }
}

}  // namespace ember::cpu

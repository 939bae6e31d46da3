// AVX2 rows of the f32 softmax family (softmax.cpp calls them for f32 when the ISA allows): the
// row max, the shifted exp-sum, softmax / log_softmax forward and the cross-entropy gradient row.
//
// Legend: one contiguous row of D (C for cross-entropy) floats. 8 lanes per step; the tail goes
// through an 8-lane buffer padded with -inf (max: ignored; exp: contributes 0), so every element
// takes the same code path. Numerics match the scalar loops: the max ignores NaN (std::max), and
// exp-sums accumulate in double (each 8-lane f32 exp vector is widened before adding), so the
// only difference is exp_ps (within 2 ulp of libm, tests/tensor/test_cpu_vec_math.cpp).
// Bytes: forward reads the row twice (max, exp-sum; softmax writes once more); the CE gradient
// reads it once and writes once. exp (~20 FMA-class ops per 8 lanes) bounds the exp rows at about
// 13 GB/s on one core, below memory speed; softmax_avx512.cpp's 16-lane rows double that.
#include <cmath>
#include <cstring>

#include "tensor/cpu/vec_math_avx2.h"

namespace ember::cpu {
namespace {
using namespace avx2;

constexpr float kNegInf = -__builtin_inff();

// The n < 8 tail of p as a vector padded with `pad`.
__m256 load_tail(const float* p, int64_t n, float pad) {
  alignas(32) float buf[8] = {pad, pad, pad, pad, pad, pad, pad, pad};
  std::memcpy(buf, p, sizeof(float) * size_t(n));
  return _mm256_load_ps(buf);
}
void store_tail(float* p, int64_t n, __m256 v) {
  alignas(32) float buf[8];
  _mm256_store_ps(buf, v);
  std::memcpy(p, buf, sizeof(float) * size_t(n));
}

double hsum(__m256d a) {
  alignas(32) double b[4];
  _mm256_store_pd(b, a);
  return (b[0] + b[1]) + (b[2] + b[3]);
}
__m256d widen_add(__m256d acc, __m256 v) {
  return _mm256_add_pd(_mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(v))),
                       _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

}  // namespace

// max_j x_j, NaN ignored (as std::max(m, x) in the scalar loop); -inf for an empty row.
float row_max_f32_avx2(const float* x, int64_t d) {
  __m256 m0 = _mm256_set1_ps(kNegInf), m1 = m0;
  int64_t j = 0;
  for (; j + 16 <= d; j += 16) {  // max(x, m) keeps m where x is NaN
    m0 = _mm256_max_ps(_mm256_loadu_ps(x + j), m0);
    m1 = _mm256_max_ps(_mm256_loadu_ps(x + j + 8), m1);
  }
  for (; j + 8 <= d; j += 8) m0 = _mm256_max_ps(_mm256_loadu_ps(x + j), m0);
  if (j < d) m1 = _mm256_max_ps(load_tail(x + j, d - j, kNegInf), m1);
  alignas(32) float b[8];
  _mm256_store_ps(b, _mm256_max_ps(m0, m1));
  float m = b[0];
  for (int l = 1; l < 8; ++l) m = b[l] > m ? b[l] : m;
  return m;
}

// sum_j exp(x_j - m) in double; if y is given, also y_j = exp(x_j - m).
double row_exp_sum_f32_avx2(const float* x, int64_t d, float m, float* y) {
  const __m256 mv = _mm256_set1_ps(m);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  int64_t j = 0;
  for (; j + 16 <= d; j += 16) {
    const __m256 e0 = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), mv));
    const __m256 e1 = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j + 8), mv));
    if (y) _mm256_storeu_ps(y + j, e0), _mm256_storeu_ps(y + j + 8, e1);
    s0 = widen_add(s0, e0);
    s1 = widen_add(s1, e1);
  }
  for (; j + 8 <= d; j += 8) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), mv));
    if (y) _mm256_storeu_ps(y + j, e);
    s0 = widen_add(s0, e);
  }
  if (j < d) {
    const __m256 e = exp_ps(_mm256_sub_ps(load_tail(x + j, d - j, kNegInf), mv));
    if (y) store_tail(y + j, d - j, e);
    s1 = widen_add(s1, e);
  }
  return hsum(_mm256_add_pd(s0, s1));
}

// sum_j x_j in double.
double row_sum_f32_avx2(const float* x, int64_t d) {
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) {
    const __m256 v = _mm256_loadu_ps(x + j);
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  }
  double s = hsum(_mm256_add_pd(s0, s1));
  for (; j < d; ++j) s += x[j];
  return s;
}

// log_softmax output y_j = (x_j - m) - ls; two subtractions, as in the scalar loop (folding m + ls
// first would round differently).
void row_log_softmax_write_f32_avx2(const float* x, int64_t d, float m, float ls, float* y) {
  const __m256 mv = _mm256_set1_ps(m), lv = _mm256_set1_ps(ls);
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) _mm256_storeu_ps(y + j, _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), mv), lv));
  if (j < d) store_tail(y + j, d - j, _mm256_sub_ps(_mm256_sub_ps(load_tail(x + j, d - j, 0.0f), mv), lv));
}

// y_j *= s.
void row_scale_f32_avx2(float* y, int64_t d, float s) {
  const __m256 sv = _mm256_set1_ps(s);
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) _mm256_storeu_ps(y + j, _mm256_mul_ps(_mm256_loadu_ps(y + j), sv));
  for (; j < d; ++j) y[j] *= s;
}

// Cross-entropy gradient row: dx_j = g * (exp(x_j - lse) - off).
void ce_grad_row_f32_avx2(const float* x, int64_t c, float lse, float g, float off, float* dx) {
  const __m256 lv = _mm256_set1_ps(lse), gv = _mm256_set1_ps(g), ov = _mm256_set1_ps(off);
  int64_t j = 0;
  for (; j + 8 <= c; j += 8)
    _mm256_storeu_ps(dx + j, _mm256_mul_ps(gv, _mm256_sub_ps(exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), lv)), ov)));
  if (j < c)
    store_tail(dx + j, c - j, _mm256_mul_ps(gv, _mm256_sub_ps(exp_ps(_mm256_sub_ps(load_tail(x + j, c - j, 0.0f), lv)), ov)));
}

}  // namespace ember::cpu

// AVX2 rows of the f32 layer norm and RMS norm (norm.cpp calls them unless the ISA is forced to
// scalar; its plain loops are the reference, tests/tensor/test_cpu_norm.cpp compares).
//
// Legend: one contiguous row of D floats; w, b the [D] affine parameters (null: none); m, r the
// row's mean and rstd. Same numerics as the scalar loops: row statistics and the backward's dot
// products accumulate in double (8 f32 lanes widened to two 4-lane double accumulators, so the
// dependency chain is 4x shorter than one scalar double sum), elementwise outputs in f32 with the
// scalar loop's operation order. Tails (< 8 elements) run the scalar formula.
// Bytes per element: forward reads x twice (LN: three times) and writes y once; backward reads
// x and grad_y twice and writes grad_x once. The passes over one row stay in L1/L2.
#include <immintrin.h>

#include <cmath>
#include <cstdint>

namespace ember::cpu {
namespace {

__m256d lo_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
__m256d hi_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
double hsum(__m256d a) {
  alignas(32) double b[4];
  _mm256_store_pd(b, a);
  return (b[0] + b[1]) + (b[2] + b[3]);
}
__m256 load_or(const float* p, int64_t j, float v) { return p ? _mm256_loadu_ps(p + j) : _mm256_set1_ps(v); }

}  // namespace

// sum_j (x_j - m)^2 in double (m in double, as the scalar loop).
double row_centered_sqsum_f32_avx2(const float* x, int64_t d, double m) {
  const __m256d mv = _mm256_set1_pd(m);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) {
    const __m256 v = _mm256_loadu_ps(x + j);
    const __m256d c0 = _mm256_sub_pd(lo_pd(v), mv), c1 = _mm256_sub_pd(hi_pd(v), mv);
    s0 = _mm256_fmadd_pd(c0, c0, s0);
    s1 = _mm256_fmadd_pd(c1, c1, s1);
  }
  double s = hsum(_mm256_add_pd(s0, s1));
  for (; j < d; ++j) s += (x[j] - m) * (x[j] - m);
  return s;
}

// sum_j x_j^2 in double.
double row_sqsum_f32_avx2(const float* x, int64_t d) { return row_centered_sqsum_f32_avx2(x, d, 0.0); }

// y_j = (x_j - m) * r [* w_j] [+ b_j]
void layer_norm_write_f32_avx2(const float* x, int64_t d, float m, float r, const float* w, const float* b,
                               float* y) {
  const __m256 mv = _mm256_set1_ps(m), rv = _mm256_set1_ps(r);
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) {
    __m256 t = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), mv), rv);
    if (w) t = _mm256_mul_ps(t, _mm256_loadu_ps(w + j));
    if (b) t = _mm256_add_ps(t, _mm256_loadu_ps(b + j));
    _mm256_storeu_ps(y + j, t);
  }
  for (; j < d; ++j) {
    float t = (x[j] - m) * r;
    if (w) t *= w[j];
    if (b) t += b[j];
    y[j] = t;
  }
}

// y_j = x_j * r [* w_j]
void rms_norm_write_f32_avx2(const float* x, int64_t d, float r, const float* w, float* y) {
  const __m256 rv = _mm256_set1_ps(r);
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) {
    __m256 t = _mm256_mul_ps(_mm256_loadu_ps(x + j), rv);
    if (w) t = _mm256_mul_ps(t, _mm256_loadu_ps(w + j));
    _mm256_storeu_ps(y + j, t);
  }
  for (; j < d; ++j) y[j] = w ? x[j] * r * w[j] : x[j] * r;
}

// Layer norm backward dots, g_j = gy_j [* w_j]: sg = sum g, sgx = sum g * ((x - m) * r).
void layer_norm_bwd_dots_f32_avx2(const float* x, const float* gy, const float* w, int64_t d, float m, float r,
                                  double& sg, double& sgx) {
  const __m256 mv = _mm256_set1_ps(m), rv = _mm256_set1_ps(r);
  __m256d a0 = _mm256_setzero_pd(), a1 = a0, b0 = a0, b1 = a0;
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) {
    const __m256 g = _mm256_mul_ps(_mm256_loadu_ps(gy + j), load_or(w, j, 1.0f));
    const __m256 xh = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), mv), rv);
    a0 = _mm256_add_pd(a0, lo_pd(g));
    a1 = _mm256_add_pd(a1, hi_pd(g));
    b0 = _mm256_fmadd_pd(lo_pd(g), lo_pd(xh), b0);
    b1 = _mm256_fmadd_pd(hi_pd(g), hi_pd(xh), b1);
  }
  sg = hsum(_mm256_add_pd(a0, a1));
  sgx = hsum(_mm256_add_pd(b0, b1));
  for (; j < d; ++j) {
    const float g = w ? gy[j] * w[j] : gy[j];
    sg += g;
    sgx += static_cast<double>(g) * ((x[j] - m) * r);
  }
}

// grad_x_j = r * (g_j - mg - (x_j - m) * r * mgx)
void layer_norm_bwd_write_f32_avx2(const float* x, const float* gy, const float* w, int64_t d, float m, float r,
                                   float mg, float mgx, float* gx) {
  const __m256 mv = _mm256_set1_ps(m), rv = _mm256_set1_ps(r), mgv = _mm256_set1_ps(mg), mgxv = _mm256_set1_ps(mgx);
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) {
    const __m256 g = _mm256_mul_ps(_mm256_loadu_ps(gy + j), load_or(w, j, 1.0f));
    const __m256 t = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), mv), rv), mgxv);
    _mm256_storeu_ps(gx + j, _mm256_mul_ps(rv, _mm256_sub_ps(_mm256_sub_ps(g, mgv), t)));
  }
  for (; j < d; ++j) {
    const float g = w ? gy[j] * w[j] : gy[j];
    gx[j] = r * (g - mg - (x[j] - m) * r * mgx);
  }
}

// RMS norm backward dot: sum_j g_j x_j, g_j = gy_j [* w_j].
double rms_norm_bwd_dot_f32_avx2(const float* x, const float* gy, const float* w, int64_t d) {
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) {
    const __m256 g = _mm256_mul_ps(_mm256_loadu_ps(gy + j), load_or(w, j, 1.0f));
    const __m256 v = _mm256_loadu_ps(x + j);
    s0 = _mm256_fmadd_pd(lo_pd(g), lo_pd(v), s0);
    s1 = _mm256_fmadd_pd(hi_pd(g), hi_pd(v), s1);
  }
  double s = hsum(_mm256_add_pd(s0, s1));
  for (; j < d; ++j) s += static_cast<double>(w ? gy[j] * w[j] : gy[j]) * x[j];
  return s;
}

// grad_x_j = r * (g_j - x_j * c)
void rms_norm_bwd_write_f32_avx2(const float* x, const float* gy, const float* w, int64_t d, float r, float c,
                                 float* gx) {
  const __m256 rv = _mm256_set1_ps(r), cv = _mm256_set1_ps(c);
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) {
    const __m256 g = _mm256_mul_ps(_mm256_loadu_ps(gy + j), load_or(w, j, 1.0f));
    _mm256_storeu_ps(gx + j, _mm256_mul_ps(rv, _mm256_sub_ps(g, _mm256_mul_ps(_mm256_loadu_ps(x + j), cv))));
  }
  for (; j < d; ++j) {
    const float g = w ? gy[j] * w[j] : gy[j];
    gx[j] = r * (g - x[j] * c);
  }
}

// Column-sum step of the affine grads for one row: aw_j += gy_j * ((x_j - m) * r), ab_j += gy_j
// (either array may be null), in double.
void affine_grads_row_f32_avx2(const float* x, const float* gy, int64_t len, float m, float r, double* aw,
                               double* ab) {
  const __m256 mv = _mm256_set1_ps(m), rv = _mm256_set1_ps(r);
  int64_t j = 0;
  for (; j + 8 <= len; j += 8) {
    const __m256 g = _mm256_loadu_ps(gy + j);
    if (aw) {
      const __m256 p = _mm256_mul_ps(g, _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), mv), rv));
      _mm256_storeu_pd(aw + j, _mm256_add_pd(_mm256_loadu_pd(aw + j), lo_pd(p)));
      _mm256_storeu_pd(aw + j + 4, _mm256_add_pd(_mm256_loadu_pd(aw + j + 4), hi_pd(p)));
    }
    if (ab) {
      _mm256_storeu_pd(ab + j, _mm256_add_pd(_mm256_loadu_pd(ab + j), lo_pd(g)));
      _mm256_storeu_pd(ab + j + 4, _mm256_add_pd(_mm256_loadu_pd(ab + j + 4), hi_pd(g)));
    }
  }
  for (; j < len; ++j) {
    if (aw) aw[j] += static_cast<double>(gy[j] * ((x[j] - m) * r));
    if (ab) ab[j] += static_cast<double>(gy[j]);
  }
}

// Batch norm's elementwise pass: out_j = (x_j - m) * a + c [+ k * gy_j] (forward: a = w * rstd,
// c = bias, no gy; backward: the grad_x formula of norm.cpp's batch_norm_bwd_channel).
void batch_norm_write_f32_avx2(const float* x, const float* gy, int64_t d, float m, float a, float k, float c,
                               float* out) {
  const __m256 mv = _mm256_set1_ps(m), av = _mm256_set1_ps(a), kv = _mm256_set1_ps(k), cv = _mm256_set1_ps(c);
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) {
    __m256 t = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_loadu_ps(x + j), mv), av, cv);
    if (gy) t = _mm256_fmadd_ps(_mm256_loadu_ps(gy + j), kv, t);
    _mm256_storeu_ps(out + j, t);
  }
  for (; j < d; ++j) {
    float t = std::fma(x[j] - m, a, c);
    if (gy) t = std::fma(gy[j], k, t);
    out[j] = t;
  }
}

}  // namespace ember::cpu

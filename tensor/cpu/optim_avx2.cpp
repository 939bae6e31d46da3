// AVX2+FMA row of the fused Adam/AdamW update (optim.h): 8 lanes per iteration, one read and one
// write of p, m, v and one read of g: 28 bytes per element, so the loop runs at memory bandwidth.
#include <immintrin.h>

#include "tensor/cpu/optim.h"

namespace ember::cpu {

void adam_row_f32_avx2(float* p, const float* g, float* m, float* v, int64_t n, const AdamCoeffs& c) {
  const __m256 decay = _mm256_set1_ps(float(c.decay)), l2 = _mm256_set1_ps(float(c.l2));
  const __m256 b1 = _mm256_set1_ps(float(c.beta1)), b2 = _mm256_set1_ps(float(c.beta2));
  const __m256 omb1 = _mm256_set1_ps(1.0f - float(c.beta1)), omb2 = _mm256_set1_ps(1.0f - float(c.beta2));
  const __m256 ss = _mm256_set1_ps(float(c.step_size)), ib = _mm256_set1_ps(float(c.inv_sqrt_bc2));
  const __m256 eps = _mm256_set1_ps(float(c.eps));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 pi = _mm256_mul_ps(_mm256_loadu_ps(p + i), decay);
    __m256 gi = _mm256_fmadd_ps(l2, pi, _mm256_loadu_ps(g + i));
    // m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2 (same operation order as the scalar reference)
    __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(omb1, gi));
    __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(omb2, gi), gi));
    _mm256_storeu_ps(m + i, mi);
    _mm256_storeu_ps(v + i, vi);
    __m256 denom = _mm256_add_ps(_mm256_mul_ps(_mm256_sqrt_ps(vi), ib), eps);
    _mm256_storeu_ps(p + i, _mm256_sub_ps(pi, _mm256_div_ps(_mm256_mul_ps(ss, mi), denom)));
  }
  adam_row_scalar(p + i, g + i, m + i, v + i, n - i, c);
}

}  // namespace ember::cpu

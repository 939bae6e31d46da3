// Row functions of the fused optimizer kernels (optim.cpp drives them, optim_avx2.cpp vectorizes
// the f32 one). One call updates n consecutive elements of param, exp_avg and exp_avg_sq in place.
#pragma once

#include <cmath>
#include <cstdint>

namespace ember::cpu {

// Per-step constants of Adam/AdamW, folded once per call (see Backend::AdamStep for the formula).
struct AdamCoeffs {
  double decay = 1;          // param *= decay first (1 - lr*wd for AdamW, else 1)
  double l2 = 0;             // g += l2 * param (classic Adam weight decay, else 0)
  double beta1 = 0.9, beta2 = 0.999;
  double step_size = 1e-3;   // lr / (1 - beta1^t)
  double inv_sqrt_bc2 = 1;   // 1 / sqrt(1 - beta2^t)
  double eps = 1e-8;
};

// The scalar reference (also the f64 path and the AVX2 tail).
template <typename T>
void adam_row_scalar(T* p, const T* g, T* m, T* v, int64_t n, const AdamCoeffs& c) {
  const T decay = T(c.decay), l2 = T(c.l2), b1 = T(c.beta1), b2 = T(c.beta2), ss = T(c.step_size),
          ib = T(c.inv_sqrt_bc2), eps = T(c.eps);
  for (int64_t i = 0; i < n; ++i) {
    const T pi = p[i] * decay;
    const T gi = g[i] + l2 * pi;
    const T mi = b1 * m[i] + (T(1) - b1) * gi;
    const T vi = b2 * v[i] + (T(1) - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = pi - ss * mi / (std::sqrt(vi) * ib + eps);
  }
}

void adam_row_f32_avx2(float* p, const float* g, float* m, float* v, int64_t n, const AdamCoeffs& c);

}  // namespace ember::cpu

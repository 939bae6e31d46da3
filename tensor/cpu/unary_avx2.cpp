// AVX2 rows of the f32 transcendental unary ops and their backward (elementwise.cpp calls them for
// unit-stride rows). Each row runs 8 lanes at a time and finishes the tail through a zero-padded
// 8-lane buffer, so every element takes the same code path (results do not depend on n).
//
// Derivatives (g = incoming gradient):
//   exp: g e^x          log: g / x          tanh: g (1 - t^2)        sigmoid: g s (1 - s)
//   silu (x s): g s (1 + x (1 - s))
//   gelu_tanh: y = x/2 (1 + tanh u), u = sqrt(2/pi)(x + c x^3); with s = sigmoid(2u), 1 + tanh u = 2s,
//     so y = x s and y' = s + 2 x s (1 - s) sqrt(2/pi)(1 + 3c x^2)
//   gelu_erf: y = x Phi(x), y' = Phi(x) + x phi(x), phi(x) = e^{-x^2/2} / sqrt(2 pi)
#include <cstring>

#include "tensor/backend.h"
#include "tensor/cpu/vec_math_avx2.h"

namespace ember::cpu {
namespace {
using namespace avx2;

constexpr float kSqrt2OverPi = 0.79788456080286535588f;
constexpr float kGeluC = 0.044715f;

__m256 set1(float v) { return _mm256_set1_ps(v); }

// 2u for gelu_tanh, u = sqrt(2/pi)(x + c x^3).
__m256 gelu_tanh_2u(__m256 x) {
  const __m256 x2 = _mm256_mul_ps(x, x);
  return _mm256_mul_ps(_mm256_mul_ps(x, set1(2.0f * kSqrt2OverPi)), _mm256_fmadd_ps(x2, set1(kGeluC), set1(1.0f)));
}

__m256 phi_cdf(__m256 x) {  // Phi(x) = (1 + erf(x / sqrt 2)) / 2
  return _mm256_mul_ps(set1(0.5f), _mm256_add_ps(set1(1.0f), erf_ps(_mm256_mul_ps(x, set1(0.70710678118654752f)))));
}

__m256 forward8(UnaryOp op, __m256 x) {
  switch (op) {
    case UnaryOp::exp: return exp_ps(x);
    case UnaryOp::log: return log_ps(x);
    case UnaryOp::tanh: return tanh_ps(x);
    case UnaryOp::sigmoid: return sigmoid_ps(x);
    case UnaryOp::silu: return _mm256_mul_ps(x, sigmoid_ps(x));
    case UnaryOp::gelu_tanh: return _mm256_mul_ps(x, sigmoid_ps(gelu_tanh_2u(x)));
    case UnaryOp::gelu_erf: return _mm256_mul_ps(x, phi_cdf(x));
    default: return x;
  }
}

__m256 backward8(UnaryOp op, __m256 x, __m256 g) {
  const __m256 one = set1(1.0f);
  switch (op) {
    case UnaryOp::exp: return _mm256_mul_ps(g, exp_ps(x));
    case UnaryOp::log: return _mm256_div_ps(g, x);
    case UnaryOp::tanh: {
      const __m256 t = tanh_ps(x);
      return _mm256_mul_ps(g, _mm256_fnmadd_ps(t, t, one));
    }
    case UnaryOp::sigmoid: {
      __m256 s, c;
      sigmoid_pair_ps(x, s, c);
      return _mm256_mul_ps(g, _mm256_mul_ps(s, c));
    }
    case UnaryOp::silu: {
      __m256 s, c;
      sigmoid_pair_ps(x, s, c);
      return _mm256_mul_ps(g, _mm256_mul_ps(s, _mm256_fmadd_ps(x, c, one)));
    }
    case UnaryOp::gelu_tanh: {
      __m256 s, c;
      sigmoid_pair_ps(gelu_tanh_2u(x), s, c);
      const __m256 x2 = _mm256_mul_ps(x, x);
      const __m256 du = _mm256_mul_ps(set1(2.0f * kSqrt2OverPi), _mm256_fmadd_ps(x2, set1(3.0f * kGeluC), one));
      return _mm256_mul_ps(g, _mm256_fmadd_ps(_mm256_mul_ps(_mm256_mul_ps(x, s), c), du, s));
    }
    case UnaryOp::gelu_erf: {
      const __m256 pdf = _mm256_mul_ps(set1(0.39894228040143267794f),
                                       exp_ps(_mm256_mul_ps(set1(-0.5f), _mm256_mul_ps(x, x))));
      return _mm256_mul_ps(g, _mm256_fmadd_ps(x, pdf, phi_cdf(x)));
    }
    default: return g;
  }
}

}  // namespace

bool unary_row_has_avx2(UnaryOp op) {
  switch (op) {
    case UnaryOp::exp: case UnaryOp::log: case UnaryOp::tanh: case UnaryOp::sigmoid: case UnaryOp::silu:
    case UnaryOp::gelu_tanh: case UnaryOp::gelu_erf: return true;
    default: return false;
  }
}

// y[i] = f(x[i]), unit stride.
void unary_row_f32_avx2(UnaryOp op, const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, forward8(op, _mm256_loadu_ps(x + i)));
  if (i < n) {
    alignas(32) float buf[8] = {};
    std::memcpy(buf, x + i, sizeof(float) * size_t(n - i));
    _mm256_store_ps(buf, forward8(op, _mm256_load_ps(buf)));
    std::memcpy(y + i, buf, sizeof(float) * size_t(n - i));
  }
}

// gx[i] = g[i] * f'(x[i]), unit stride.
void unary_backward_row_f32_avx2(UnaryOp op, const float* x, const float* g, float* gx, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(gx + i, backward8(op, _mm256_loadu_ps(x + i), _mm256_loadu_ps(g + i)));
  if (i < n) {
    alignas(32) float bx[8] = {}, bg[8] = {};
    std::memcpy(bx, x + i, sizeof(float) * size_t(n - i));
    std::memcpy(bg, g + i, sizeof(float) * size_t(n - i));
    _mm256_store_ps(bx, backward8(op, _mm256_load_ps(bx), _mm256_load_ps(bg)));
    std::memcpy(gx + i, bx, sizeof(float) * size_t(n - i));
  }
}

}  // namespace ember::cpu

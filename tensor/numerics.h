// The numbers every backend shares, written once: element types, the elementwise op lists and the
// scalar formula of each op with its derivative. Plain C++17 with host/device functions
// (EMBER_HD), so the CPU backend (tensor/cpu/), the CUDA kernels (cuda/kernels/*.cu) and the tests'
// f64 reference all compute the same expression with the same branches and NaN rules.
// The CPU's SIMD rows (unary_avx2.cpp) are vector versions of these formulas; their tails run the
// SIMD code on a padded block, their strided rows these scalar functions.
//
// Adding an elementwise op: one entry in EMBER_UNARY_OPS (or EMBER_BINARY_OPS) and its cases in
// unary_scalar / unary_derivative below; the backends' generic loops pick it up.
#pragma once

#include <math.h>

#include <cstdint>
#include <type_traits>

#ifdef __CUDACC__
#define EMBER_HD __host__ __device__
#else
#define EMBER_HD
#endif

namespace ember {

enum class DType : uint8_t { f32, f64, i32, i64, u8 };

// X(name): the unary ops in the order of UnaryOp. Parameters (UnaryParams): alpha is the
// leaky_relu slope, clamp low, pow exponent or scalar operand; beta the clamp high.
#define EMBER_UNARY_OPS(X)                                                                              \
  X(identity) X(neg) X(exp) X(log) X(sqrt) X(rsqrt) X(abs) X(sign) X(tanh) X(sigmoid) X(relu)           \
  X(leaky_relu) X(gelu_tanh) X(gelu_erf) X(silu) X(square) X(reciprocal) X(sin) X(cos) X(clamp)         \
  X(pow_scalar) X(add_scalar) X(mul_scalar) X(hardswish)
enum class UnaryOp : uint8_t {
#define EMBER_X(name) name,
  EMBER_UNARY_OPS(EMBER_X)
#undef EMBER_X
};
struct UnaryParams {
  double alpha = 0;
  double beta = 0;
};

// Arithmetic ops keep the input dtype; comparisons (eq and after) write u8 (0/1).
#define EMBER_BINARY_OPS(X) X(add) X(sub) X(mul) X(div) X(pow) X(maximum) X(minimum) X(eq) X(ne) X(lt) X(le) X(gt) X(ge)
enum class BinaryOp : uint8_t {
#define EMBER_X(name) name,
  EMBER_BINARY_OPS(EMBER_X)
#undef EMBER_X
};
EMBER_HD constexpr bool is_comparison(BinaryOp op) { return op >= BinaryOp::eq; }

enum class ReduceOp : uint8_t { sum, max, min, prod };

namespace num {

// The math functions in float and double, as one overload set on host and device. (The integer
// overloads only let the formulas compile for integer compute types; computes_in_own_type keeps
// integers on the ops that need none.)
#define EMBER_NUM_FN(name, ff, fd)                                                          \
  EMBER_HD inline float name(float v) { return ff(v); }                                     \
  EMBER_HD inline double name(double v) { return fd(v); }                                   \
  template <typename I, std::enable_if_t<std::is_integral_v<I>, int> = 0>                  \
  EMBER_HD inline I name(I v) { return I(fd(double(v))); }
EMBER_NUM_FN(m_exp, expf, exp)
EMBER_NUM_FN(m_log, logf, log)
EMBER_NUM_FN(m_sqrt, sqrtf, sqrt)
EMBER_NUM_FN(m_abs, fabsf, fabs)
EMBER_NUM_FN(m_tanh, tanhf, tanh)
EMBER_NUM_FN(m_erf, erff, erf)
EMBER_NUM_FN(m_sin, sinf, sin)
EMBER_NUM_FN(m_cos, cosf, cos)
#undef EMBER_NUM_FN
EMBER_HD inline float m_pow(float v, float e) { return powf(v, e); }
EMBER_HD inline double m_pow(double v, double e) { return pow(v, e); }
template <typename I, std::enable_if_t<std::is_integral_v<I>, int> = 0>
EMBER_HD inline I m_pow(I v, I e) { return I(pow(double(v), double(e))); }

// The type a formula computes in: T for floating types, double for integers.
template <typename T>
using compute_t = std::conditional_t<std::is_floating_point_v<T>, T, double>;

// The ops that only add, multiply or compare compute in T itself, integers included (they wrap
// as in C++); the others compute in compute_t<T>. Every backend follows this rule.
EMBER_HD constexpr bool computes_in_own_type(UnaryOp op) {
  return op == UnaryOp::identity || op == UnaryOp::neg || op == UnaryOp::relu || op == UnaryOp::square ||
         op == UnaryOp::add_scalar || op == UnaryOp::mul_scalar;
}

inline constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2/pi)
inline constexpr double kInvSqrt2 = 0.70710678118654752440;
inline constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1/sqrt(2 pi)
inline constexpr double kGeluC = 0.044715;

// v < 0, without a pointless comparison for unsigned types.
template <typename C>
EMBER_HD constexpr bool lt0(C v) {
  if constexpr (std::is_unsigned_v<C>) return false;
  else return v < C(0);
}

template <typename C>
EMBER_HD inline C sigmoid_of(C v) {  // no overflow for large |v|
  return !lt0(v) ? C(1) / (C(1) + m_exp(-v)) : m_exp(v) / (C(1) + m_exp(v));
}

// y = f(x) for one element in the compute type C.
template <typename C>
EMBER_HD inline C unary_scalar(UnaryOp op, C v, double alpha, double beta) {
  switch (op) {
    case UnaryOp::identity: return v;
    case UnaryOp::neg: return -v;
    case UnaryOp::exp: return m_exp(v);
    case UnaryOp::log: return m_log(v);
    case UnaryOp::sqrt: return m_sqrt(v);
    case UnaryOp::rsqrt: return C(1) / m_sqrt(v);
    case UnaryOp::abs: return m_abs(v);
    case UnaryOp::sign: return C((v > C(0)) - lt0(v));
    case UnaryOp::tanh: return m_tanh(v);
    case UnaryOp::sigmoid: return sigmoid_of(v);
    case UnaryOp::relu: return lt0(v) ? C(0) : v;  // NaN passes through (PyTorch)
    case UnaryOp::leaky_relu: return v > C(0) ? v : v * C(alpha);
    case UnaryOp::gelu_tanh: {
      const C u = C(kSqrt2OverPi) * (v + C(kGeluC) * v * v * v);
      return C(0.5) * v * (C(1) + m_tanh(u));
    }
    case UnaryOp::gelu_erf: return C(0.5) * v * (C(1) + m_erf(v * C(kInvSqrt2)));
    case UnaryOp::silu: return v * sigmoid_of(v);
    case UnaryOp::square: return v * v;
    case UnaryOp::reciprocal: return C(1) / v;
    case UnaryOp::sin: return m_sin(v);
    case UnaryOp::cos: return m_cos(v);
    case UnaryOp::clamp: return v < C(alpha) ? C(alpha) : (v > C(beta) ? C(beta) : v);
    case UnaryOp::pow_scalar: return m_pow(v, C(alpha));
    case UnaryOp::add_scalar: return v + C(alpha);
    case UnaryOp::mul_scalar: return v * C(alpha);
    case UnaryOp::hardswish:  // x relu6(x + 3) / 6
      return v <= C(-3) ? C(0) : (v >= C(3) ? v : v * (v + C(3)) / C(6));
  }
  return v;
}

// f'(x) for one element; the backward multiplies it by the incoming gradient.
template <typename C>
EMBER_HD inline C unary_derivative(UnaryOp op, C v, double alpha, double beta) {
  switch (op) {
    case UnaryOp::identity: return C(1);
    case UnaryOp::neg: return C(-1);
    case UnaryOp::exp: return m_exp(v);                        // d e^x = e^x
    case UnaryOp::log: return C(1) / v;                        // d ln x = 1/x
    case UnaryOp::sqrt: return C(0.5) / m_sqrt(v);             // 1/(2 sqrt x)
    case UnaryOp::rsqrt: return C(-0.5) / (v * m_sqrt(v));     // -x^(-3/2)/2
    case UnaryOp::abs: return C((v > C(0)) - lt0(v));      // sign(x), 0 at 0
    case UnaryOp::sign: return C(0);
    case UnaryOp::tanh: { const C t = m_tanh(v); return C(1) - t * t; }
    case UnaryOp::sigmoid: { const C s = sigmoid_of(v); return s * (C(1) - s); }
    case UnaryOp::relu: return v > C(0) ? C(1) : C(0);
    case UnaryOp::leaky_relu: return v > C(0) ? C(1) : C(alpha);
    case UnaryOp::gelu_tanh: {
      // y = x/2 (1 + tanh u), u = sqrt(2/pi)(x + c x^3):
      // y' = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) sqrt(2/pi)(1 + 3c x^2)
      const C u = C(kSqrt2OverPi) * (v + C(kGeluC) * v * v * v);
      const C t = m_tanh(u);
      return C(0.5) * (C(1) + t) + C(0.5) * v * (C(1) - t * t) * C(kSqrt2OverPi) * (C(1) + C(3 * kGeluC) * v * v);
    }
    case UnaryOp::gelu_erf:  // y = x Phi(x): y' = Phi(x) + x phi(x)
      return C(0.5) * (C(1) + m_erf(v * C(kInvSqrt2))) + v * C(kInvSqrt2Pi) * m_exp(C(-0.5) * v * v);
    case UnaryOp::silu: { const C s = sigmoid_of(v); return s * (C(1) + v * (C(1) - s)); }  // s + x s (1-s)
    case UnaryOp::square: return C(2) * v;
    case UnaryOp::reciprocal: return C(-1) / (v * v);
    case UnaryOp::sin: return m_cos(v);
    case UnaryOp::cos: return -m_sin(v);
    case UnaryOp::clamp: return (v >= C(alpha) && v <= C(beta)) ? C(1) : C(0);  // passes inside [lo, hi]
    case UnaryOp::pow_scalar: return alpha == 0 ? C(0) : C(alpha) * m_pow(v, C(alpha - 1));
    case UnaryOp::add_scalar: return C(1);
    case UnaryOp::mul_scalar: return C(alpha);
    case UnaryOp::hardswish:  // (x (x + 3) / 6)' = (2x + 3) / 6 on (-3, 3); 0 below, 1 above
      return v < C(-3) ? C(0) : (v > C(3) ? C(1) : (C(2) * v + C(3)) / C(6));
  }
  return C(0);
}

// Arithmetic binary ops in T (comparisons: compare_scalar).
template <typename T>
EMBER_HD inline T binary_scalar(BinaryOp op, T x, T y) {
  using C = compute_t<T>;
  switch (op) {
    case BinaryOp::add: return T(x + y);
    case BinaryOp::sub: return T(x - y);
    case BinaryOp::mul: return T(x * y);
    case BinaryOp::div:
      if constexpr (std::is_floating_point_v<T>) return x / y;
      else return y == T(0) ? T(0) : T(x / y);  // integer division by zero yields 0, not UB
    case BinaryOp::pow: return T(m_pow(C(x), C(y)));
    case BinaryOp::maximum: return x >= y || x != x ? x : y;  // NaN wins
    case BinaryOp::minimum: return x <= y || x != x ? x : y;
    default: return x;
  }
}

template <typename T>
EMBER_HD inline uint8_t compare_scalar(BinaryOp op, T x, T y) {
  switch (op) {
    case BinaryOp::eq: return x == y;
    case BinaryOp::ne: return x != y;
    case BinaryOp::lt: return x < y;
    case BinaryOp::le: return x <= y;
    case BinaryOp::gt: return x > y;
    case BinaryOp::ge: return x >= y;
    default: return 0;
  }
}

}  // namespace num
}  // namespace ember

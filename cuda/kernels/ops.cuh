// Scalar formulas of the elementwise ops, shared by the elementwise and fused kernels. They mirror
// tensor/cpu/elementwise.cpp exactly (same branches, same NaN rules); op numbers follow
// ember::UnaryOp / ember::BinaryOp (checked by static_asserts in backend.cpp).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

namespace ember::cuda {

enum KUnary : int {
  kIdentity, kNeg, kExp, kLog, kSqrt, kRsqrt, kAbs, kSign, kTanh, kSigmoid, kRelu, kLeakyRelu, kGeluTanh, kGeluErf,
  kSilu, kSquare, kReciprocal, kSin, kCos, kClamp, kPowScalar, kAddScalar, kMulScalar
};
enum KBinary : int { kAdd, kSub, kMul, kDiv, kPow, kMaximum, kMinimum, kEq, kNe, kLt, kLe, kGt, kGe };

template <typename T>
using compute_t = std::conditional_t<std::is_floating_point_v<T>, T, double>;

template <typename C>
__device__ __forceinline__ C sigmoid_of(C v) {
  return v >= C(0) ? C(1) / (C(1) + exp(-v)) : exp(v) / (C(1) + exp(v));
}

template <typename C>
__device__ C unary_scalar(int op, C v, double alpha, double beta) {
  constexpr C kSqrt2OverPi = C(0.79788456080286535588), kInvSqrt2 = C(0.70710678118654752440), kGeluC = C(0.044715);
  switch (op) {
    case kIdentity: return v;
    case kNeg: return -v;
    case kExp: return exp(v);
    case kLog: return log(v);
    case kSqrt: return sqrt(v);
    case kRsqrt: return C(1) / sqrt(v);
    case kAbs: return fabs(v);
    case kSign: return C((v > C(0)) - (v < C(0)));
    case kTanh: return tanh(v);
    case kSigmoid: return sigmoid_of(v);
    case kRelu: return v > C(0) ? v : C(0);
    case kLeakyRelu: return v > C(0) ? v : v * C(alpha);
    case kGeluTanh: {
      C u = kSqrt2OverPi * (v + kGeluC * v * v * v);
      return C(0.5) * v * (C(1) + tanh(u));
    }
    case kGeluErf: return C(0.5) * v * (C(1) + erf(v * kInvSqrt2));
    case kSilu: return v * sigmoid_of(v);
    case kSquare: return v * v;
    case kReciprocal: return C(1) / v;
    case kSin: return sin(v);
    case kCos: return cos(v);
    case kClamp: return v < C(alpha) ? C(alpha) : (v > C(beta) ? C(beta) : v);
    case kPowScalar: return pow(v, C(alpha));
    case kAddScalar: return v + C(alpha);
    case kMulScalar: return v * C(alpha);
  }
  return v;
}

// f'(x); the backward multiplies it by the incoming gradient.
template <typename C>
__device__ C unary_derivative(int op, C v, double alpha, double beta) {
  constexpr C kSqrt2OverPi = C(0.79788456080286535588), kInvSqrt2 = C(0.70710678118654752440),
              kInvSqrt2Pi = C(0.39894228040143267794), kGeluC = C(0.044715);
  switch (op) {
    case kIdentity: return C(1);
    case kNeg: return C(-1);
    case kExp: return exp(v);
    case kLog: return C(1) / v;
    case kSqrt: return C(0.5) / sqrt(v);
    case kRsqrt: return C(-0.5) / (v * sqrt(v));
    case kAbs: return C((v > C(0)) - (v < C(0)));
    case kSign: return C(0);
    case kTanh: { C t = tanh(v); return C(1) - t * t; }
    case kSigmoid: { C s = sigmoid_of(v); return s * (C(1) - s); }
    case kRelu: return v > C(0) ? C(1) : C(0);
    case kLeakyRelu: return v > C(0) ? C(1) : C(alpha);
    case kGeluTanh: {
      C u = kSqrt2OverPi * (v + kGeluC * v * v * v);
      C t = tanh(u);
      return C(0.5) * (C(1) + t) + C(0.5) * v * (C(1) - t * t) * kSqrt2OverPi * (C(1) + C(3) * kGeluC * v * v);
    }
    case kGeluErf: return C(0.5) * (C(1) + erf(v * kInvSqrt2)) + v * kInvSqrt2Pi * exp(C(-0.5) * v * v);
    case kSilu: { C s = sigmoid_of(v); return s * (C(1) + v * (C(1) - s)); }
    case kSquare: return C(2) * v;
    case kReciprocal: return C(-1) / (v * v);
    case kSin: return cos(v);
    case kCos: return -sin(v);
    case kClamp: return (v >= C(alpha) && v <= C(beta)) ? C(1) : C(0);
    case kPowScalar: return alpha == 0 ? C(0) : C(alpha) * pow(v, C(alpha - 1));
    case kAddScalar: return C(1);
    case kMulScalar: return C(alpha);
  }
  return C(0);
}

// Arithmetic binary ops in T (comparisons are handled by the caller, writing u8).
template <typename T>
__device__ __forceinline__ T binary_scalar(int op, T x, T y) {
  using C = compute_t<T>;
  switch (op) {
    case kAdd: return T(x + y);
    case kSub: return T(x - y);
    case kMul: return T(x * y);
    case kDiv:
      if constexpr (std::is_floating_point_v<T>) return x / y;
      else return y == T(0) ? T(0) : T(x / y);  // integer division by zero yields 0 (as on CPU)
    case kPow: return T(pow(C(x), C(y)));
    case kMaximum: return x >= y || x != x ? x : y;
    case kMinimum: return x <= y || x != x ? x : y;
  }
  return x;
}

template <typename T>
__device__ __forceinline__ uint8_t compare_scalar(int op, T x, T y) {
  switch (op) {
    case kEq: return x == y;
    case kNe: return x != y;
    case kLt: return x < y;
    case kLe: return x <= y;
    case kGt: return x > y;
    case kGe: return x >= y;
  }
  return 0;
}

}  // namespace ember::cuda

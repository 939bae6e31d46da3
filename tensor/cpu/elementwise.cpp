// CPU elementwise primitives: unary (and its backward), binary with broadcasting, where.
// Inputs arrive as views already broadcast to the output shape (zero strides on broadcast dims);
// outputs are contiguous. The drivers coalesce dims (loops.h) and run a tight inner loop per row:
// a unit-stride loop the compiler vectorizes, or a strided one. Integer dtypes compute through
// double and cast back. Formulas for the derivatives sit beside each forward.
#include <cmath>
#include <type_traits>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/loops.h"

namespace ember::cpu {

// unary_avx2.cpp: f32 rows of the transcendental ops (exp, log, tanh, sigmoid, silu, gelu).
bool unary_row_has_avx2(UnaryOp op);
void unary_row_f32_avx2(UnaryOp op, const float* x, float* y, int64_t n);
void unary_backward_row_f32_avx2(UnaryOp op, const float* x, const float* g, float* gx, int64_t n);

namespace {

bool use_avx2_row(UnaryOp op) { return active_isa() != Isa::scalar && unary_row_has_avx2(op); }

// Vectorized f32 unary: unit-stride rows go to the AVX2 row function, strided ones to f.
template <typename F>
void map1_avx2(UnaryOp op, const Tensor& x, const Tensor& out, F f) {
  StridedLoop<2> loop(out.shape(), {x.strides(), out.strides()});
  const float* xp = x.data<float>();
  float* op_ = out.data<float>();
  loop.run(kElementwiseGrain / 4, [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
    if (st[0] == 1 && st[1] == 1) return unary_row_f32_avx2(op, xp + off[0], op_ + off[1], n);
    for (int64_t i = 0; i < n; ++i) op_[off[1] + i * st[1]] = f(xp[off[0] + i * st[0]]);
  });
}

constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2/pi)
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;  // 1/sqrt(2 pi)
constexpr double kGeluC = 0.044715;

// out = f(x) over rows of a 2-operand loop.
template <typename T, typename U, typename F>
void map1(const Tensor& x, const Tensor& out, F f) {
  StridedLoop<2> loop(out.shape(), {x.strides(), out.strides()});
  const T* xp = x.data<T>();
  U* op = out.data<U>();
  loop.run(kElementwiseGrain, [&](const std::array<int64_t, 2>& off, int64_t n, const std::array<int64_t, 2>& st) {
    const T* a = xp + off[0];
    U* o = op + off[1];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[1]] = f(a[i * st[0]]);
    }
  });
}

// out = f(a, b).
template <typename T, typename U, typename F>
void map2(const Tensor& a, const Tensor& b, const Tensor& out, F f) {
  StridedLoop<3> loop(out.shape(), {a.strides(), b.strides(), out.strides()});
  const T* ap = a.data<T>();
  const T* bp = b.data<T>();
  U* op = out.data<U>();
  loop.run(kElementwiseGrain, [&](const std::array<int64_t, 3>& off, int64_t n, const std::array<int64_t, 3>& st) {
    const T* x = ap + off[0];
    const T* y = bp + off[1];
    U* o = op + off[2];
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (st[0] == 1 && st[1] == 0 && st[2] == 1) {  // tensor (op) scalar row
      const T yv = y[0];
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[2]] = f(x[i * st[0]], y[i * st[1]]);
    }
  });
}

template <typename T>
T sigmoid_of(T v) {
  return v >= T(0) ? T(1) / (T(1) + std::exp(-v)) : std::exp(v) / (T(1) + std::exp(v));
}

// y = f(x) for one element; C is the compute type (T for floats, double for integers).
template <typename C>
C unary_scalar(UnaryOp op, C v, const UnaryParams& p) {
  switch (op) {
    case UnaryOp::identity: return v;
    case UnaryOp::neg: return -v;
    case UnaryOp::exp: return std::exp(v);
    case UnaryOp::log: return std::log(v);
    case UnaryOp::sqrt: return std::sqrt(v);
    case UnaryOp::rsqrt: return C(1) / std::sqrt(v);
    case UnaryOp::abs: return std::abs(v);
    case UnaryOp::sign: return C((v > C(0)) - (v < C(0)));
    case UnaryOp::tanh: return std::tanh(v);
    case UnaryOp::sigmoid: return sigmoid_of(v);
    case UnaryOp::relu: return v < C(0) ? C(0) : v;  // NaN passes through (PyTorch)
    case UnaryOp::leaky_relu: return v > C(0) ? v : v * C(p.alpha);
    case UnaryOp::gelu_tanh: {
      C u = C(kSqrt2OverPi) * (v + C(kGeluC) * v * v * v);
      return C(0.5) * v * (C(1) + std::tanh(u));
    }
    case UnaryOp::gelu_erf: return C(0.5) * v * (C(1) + std::erf(v * C(kInvSqrt2)));
    case UnaryOp::silu: return v * sigmoid_of(v);
    case UnaryOp::square: return v * v;
    case UnaryOp::reciprocal: return C(1) / v;
    case UnaryOp::sin: return std::sin(v);
    case UnaryOp::cos: return std::cos(v);
    case UnaryOp::clamp: return v < C(p.alpha) ? C(p.alpha) : (v > C(p.beta) ? C(p.beta) : v);
    case UnaryOp::pow_scalar: return std::pow(v, C(p.alpha));
    case UnaryOp::add_scalar: return v + C(p.alpha);
    case UnaryOp::mul_scalar: return v * C(p.alpha);
  }
  return v;
}

// f'(x) for one element (the backward multiplies it by the incoming gradient).
template <typename C>
C unary_derivative(UnaryOp op, C v, const UnaryParams& p) {
  switch (op) {
    case UnaryOp::identity: return C(1);
    case UnaryOp::neg: return C(-1);
    case UnaryOp::exp: return std::exp(v);                        // d e^x = e^x
    case UnaryOp::log: return C(1) / v;                           // d ln x = 1/x
    case UnaryOp::sqrt: return C(0.5) / std::sqrt(v);             // 1/(2 sqrt x)
    case UnaryOp::rsqrt: return C(-0.5) / (v * std::sqrt(v));     // -x^(-3/2)/2
    case UnaryOp::abs: return C((v > C(0)) - (v < C(0)));         // sign(x), 0 at 0
    case UnaryOp::sign: return C(0);
    case UnaryOp::tanh: { C t = std::tanh(v); return C(1) - t * t; }
    case UnaryOp::sigmoid: { C s = sigmoid_of(v); return s * (C(1) - s); }
    case UnaryOp::relu: return v > C(0) ? C(1) : C(0);
    case UnaryOp::leaky_relu: return v > C(0) ? C(1) : C(p.alpha);
    case UnaryOp::gelu_tanh: {
      // y = x/2 (1 + tanh u), u = sqrt(2/pi)(x + c x^3):
      // y' = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) sqrt(2/pi)(1 + 3c x^2)
      C u = C(kSqrt2OverPi) * (v + C(kGeluC) * v * v * v);
      C t = std::tanh(u);
      return C(0.5) * (C(1) + t) + C(0.5) * v * (C(1) - t * t) * C(kSqrt2OverPi) * (C(1) + C(3 * kGeluC) * v * v);
    }
    case UnaryOp::gelu_erf:  // y = x Phi(x): y' = Phi(x) + x phi(x)
      return C(0.5) * (C(1) + std::erf(v * C(kInvSqrt2))) + v * C(kInvSqrt2Pi) * std::exp(C(-0.5) * v * v);
    case UnaryOp::silu: { C s = sigmoid_of(v); return s * (C(1) + v * (C(1) - s)); }  // (x s)' = s + x s (1-s)
    case UnaryOp::square: return C(2) * v;
    case UnaryOp::reciprocal: return C(-1) / (v * v);
    case UnaryOp::sin: return std::cos(v);
    case UnaryOp::cos: return -std::sin(v);
    case UnaryOp::clamp: return (v >= C(p.alpha) && v <= C(p.beta)) ? C(1) : C(0);  // passes inside [lo, hi]
    case UnaryOp::pow_scalar: return p.alpha == 0 ? C(0) : C(p.alpha) * std::pow(v, C(p.alpha - 1));
    case UnaryOp::add_scalar: return C(1);
    case UnaryOp::mul_scalar: return C(p.alpha);
  }
  return C(0);
}

template <typename T>
using compute_t = std::conditional_t<std::is_floating_point_v<T>, T, double>;

// Hoists the op switch out of the loop for the hot ops; the rest go through unary_scalar.
template <typename T>
void unary_typed(UnaryOp op, const Tensor& x, const Tensor& out, const UnaryParams& p) {
  using C = compute_t<T>;
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx2_row(op)) return map1_avx2(op, x, out, [op, &p](float v) { return unary_scalar<float>(op, v, p); });
  }
  switch (op) {
    case UnaryOp::relu: return map1<T, T>(x, out, [](T v) { return v < T(0) ? T(0) : v; });  // relu(NaN) = NaN
    case UnaryOp::neg: return map1<T, T>(x, out, [](T v) { return T(-v); });
    case UnaryOp::mul_scalar: { T s = T(p.alpha); return map1<T, T>(x, out, [s](T v) { return T(v * s); }); }
    case UnaryOp::add_scalar: { T s = T(p.alpha); return map1<T, T>(x, out, [s](T v) { return T(v + s); }); }
    case UnaryOp::square: return map1<T, T>(x, out, [](T v) { return T(v * v); });
    case UnaryOp::identity: return map1<T, T>(x, out, [](T v) { return v; });
    default: return map1<T, T>(x, out, [op, &p](T v) { return T(unary_scalar<C>(op, C(v), p)); });
  }
}

}  // namespace

void CpuBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams p) {
  EMBER_ASSERT(x.shape() == out.shape(), "unary: x {} vs out {}", shape_str(x.shape()), shape_str(out.shape()));
  if (out.numel() == 0) return;
  dispatch_all(x.dtype(), "unary", [&]<typename T>() { unary_typed<T>(op, x, out, p); });
}

void CpuBackend::unary_backward(UnaryOp op, const Tensor& x, const Tensor& grad_out, const Tensor& grad_in,
                                UnaryParams p) {
  if (grad_in.numel() == 0) return;
  dispatch_float(x.dtype(), "unary_backward", [&]<typename T>() {
    // The cheap derivatives get their own loops (a switch per element kept them scalar; W4's
    // rotate-half negation and scaling go through here).
    const T alpha = T(p.alpha);
    if (op == UnaryOp::relu) {
      map2<T, T>(x, grad_out, grad_in, [](T v, T g) { return v > T(0) ? g : T(0); });
    } else if (op == UnaryOp::neg) {
      map2<T, T>(x, grad_out, grad_in, [](T, T g) { return -g; });
    } else if (op == UnaryOp::identity || op == UnaryOp::add_scalar) {
      map2<T, T>(x, grad_out, grad_in, [](T, T g) { return g; });
    } else if (op == UnaryOp::mul_scalar) {
      map2<T, T>(x, grad_out, grad_in, [alpha](T, T g) { return g * alpha; });
    } else if (op == UnaryOp::square) {
      map2<T, T>(x, grad_out, grad_in, [](T v, T g) { return g * (T(2) * v); });
    } else if (op == UnaryOp::leaky_relu) {
      map2<T, T>(x, grad_out, grad_in, [alpha](T v, T g) { return g * (v > T(0) ? T(1) : alpha); });
    } else if (std::is_same_v<T, float> && use_avx2_row(op)) {
      StridedLoop<3> loop(grad_in.shape(), {x.strides(), grad_out.strides(), grad_in.strides()});
      const float* xp = x.data<float>();
      const float* gp = grad_out.data<float>();
      float* gi = grad_in.data<float>();
      loop.run(kElementwiseGrain / 4, [&](const std::array<int64_t, 3>& o, int64_t n, const std::array<int64_t, 3>& st) {
        if (st[0] == 1 && st[1] == 1 && st[2] == 1)
          return unary_backward_row_f32_avx2(op, xp + o[0], gp + o[1], gi + o[2], n);
        for (int64_t i = 0; i < n; ++i)
          gi[o[2] + i * st[2]] = gp[o[1] + i * st[1]] * unary_derivative<float>(op, xp[o[0] + i * st[0]], p);
      });
    } else {
      map2<T, T>(x, grad_out, grad_in, [op, &p](T v, T g) { return g * unary_derivative<T>(op, v, p); });
    }
  });
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  EMBER_ASSERT(a.shape() == out.shape() && b.shape() == out.shape(), "binary: {} {} -> {}", shape_str(a.shape()),
               shape_str(b.shape()), shape_str(out.shape()));
  if (out.numel() == 0) return;
  dispatch_all(a.dtype(), "binary", [&]<typename T>() {
    using C = compute_t<T>;
    switch (op) {
      case BinaryOp::add: return map2<T, T>(a, b, out, [](T x, T y) { return T(x + y); });
      case BinaryOp::sub: return map2<T, T>(a, b, out, [](T x, T y) { return T(x - y); });
      case BinaryOp::mul: return map2<T, T>(a, b, out, [](T x, T y) { return T(x * y); });
      case BinaryOp::div:
        if constexpr (std::is_floating_point_v<T>) {
          return map2<T, T>(a, b, out, [](T x, T y) { return x / y; });
        } else {  // integer division by zero is undefined behaviour: yield 0 instead
          return map2<T, T>(a, b, out, [](T x, T y) { return y == T(0) ? T(0) : T(x / y); });
        }
      case BinaryOp::pow: return map2<T, T>(a, b, out, [](T x, T y) { return T(std::pow(C(x), C(y))); });
      case BinaryOp::maximum: return map2<T, T>(a, b, out, [](T x, T y) { return x >= y || x != x ? x : y; });
      case BinaryOp::minimum: return map2<T, T>(a, b, out, [](T x, T y) { return x <= y || x != x ? x : y; });
      case BinaryOp::eq: return map2<T, uint8_t>(a, b, out, [](T x, T y) { return uint8_t(x == y); });
      case BinaryOp::ne: return map2<T, uint8_t>(a, b, out, [](T x, T y) { return uint8_t(x != y); });
      case BinaryOp::lt: return map2<T, uint8_t>(a, b, out, [](T x, T y) { return uint8_t(x < y); });
      case BinaryOp::le: return map2<T, uint8_t>(a, b, out, [](T x, T y) { return uint8_t(x <= y); });
      case BinaryOp::gt: return map2<T, uint8_t>(a, b, out, [](T x, T y) { return uint8_t(x > y); });
      case BinaryOp::ge: return map2<T, uint8_t>(a, b, out, [](T x, T y) { return uint8_t(x >= y); });
    }
  });
}

void CpuBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  if (out.numel() == 0) return;
  StridedLoop<4> loop(out.shape(), {cond.strides(), a.strides(), b.strides(), out.strides()});
  dispatch_all(a.dtype(), "where", [&]<typename T>() {
    const uint8_t* cp = cond.data<uint8_t>();
    const T* ap = a.data<T>();
    const T* bp = b.data<T>();
    T* op = out.data<T>();
    loop.run(kElementwiseGrain, [&](const std::array<int64_t, 4>& off, int64_t n, const std::array<int64_t, 4>& st) {
      for (int64_t i = 0; i < n; ++i)
        op[off[3] + i * st[3]] = cp[off[0] + i * st[0]] ? ap[off[1] + i * st[1]] : bp[off[2] + i * st[2]];
    });
  });
}

}  // namespace ember::cpu

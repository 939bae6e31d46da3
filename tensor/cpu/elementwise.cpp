// CPU elementwise primitives: unary (and its backward), binary with broadcasting, where.
// Inputs arrive as views already broadcast to the output shape (zero strides on broadcast dims);
// outputs are contiguous. The drivers coalesce dims (loops.h) and run a tight inner loop per row:
// a unit-stride loop the compiler vectorizes, or a strided one, one loop per (dtype, op). The
// formulas and derivatives are those of tensor/numerics.h (shared with CUDA); integer dtypes
// compute through double and cast back.
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

using num::compute_t;

// One loop per (dtype, op): the op is a template argument, so the formula of tensor/numerics.h
// inlines without a switch per element.
template <typename T, UnaryOp kOp>
void unary_loop(const Tensor& x, const Tensor& out, const UnaryParams& p) {
  using C = std::conditional_t<num::computes_in_own_type(kOp), T, compute_t<T>>;
  const double a = p.alpha, b = p.beta;
  map1<T, T>(x, out, [a, b](T v) { return T(num::unary_scalar<C>(kOp, C(v), a, b)); });
}

template <typename T, UnaryOp kOp>
void unary_backward_loop(const Tensor& x, const Tensor& grad_out, const Tensor& grad_in, const UnaryParams& p) {
  const double a = p.alpha, b = p.beta;
  if constexpr (kOp == UnaryOp::relu) {  // a mask: a non-finite gradient stays out where x <= 0
    map2<T, T>(x, grad_out, grad_in, [](T v, T g) { return v > T(0) ? g : T(0); });
  } else {
    map2<T, T>(x, grad_out, grad_in, [a, b](T v, T g) { return T(g * num::unary_derivative<T>(kOp, v, a, b)); });
  }
}

template <typename T, BinaryOp kOp>
void binary_loop(const Tensor& x, const Tensor& y, const Tensor& out) {
  if constexpr (is_comparison(kOp)) {
    map2<T, uint8_t>(x, y, out, [](T u, T v) { return num::compare_scalar<T>(kOp, u, v); });
  } else {
    map2<T, T>(x, y, out, [](T u, T v) { return num::binary_scalar<T>(kOp, u, v); });
  }
}

template <typename T>
void unary_typed(UnaryOp op, const Tensor& x, const Tensor& out, const UnaryParams& p) {
  if constexpr (std::is_same_v<T, float>) {
    if (use_avx2_row(op)) {
      return map1_avx2(op, x, out, [op, a = p.alpha, b = p.beta](float v) { return num::unary_scalar<float>(op, v, a, b); });
    }
  }
  switch (op) {
#define EMBER_X(name) case UnaryOp::name: return unary_loop<T, UnaryOp::name>(x, out, p);
    EMBER_UNARY_OPS(EMBER_X)
#undef EMBER_X
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
    if (std::is_same_v<T, float> && use_avx2_row(op)) {
      StridedLoop<3> loop(grad_in.shape(), {x.strides(), grad_out.strides(), grad_in.strides()});
      const float* xp = x.data<float>();
      const float* gp = grad_out.data<float>();
      float* gi = grad_in.data<float>();
      loop.run(kElementwiseGrain / 4, [&](const std::array<int64_t, 3>& o, int64_t n, const std::array<int64_t, 3>& st) {
        if (st[0] == 1 && st[1] == 1 && st[2] == 1)
          return unary_backward_row_f32_avx2(op, xp + o[0], gp + o[1], gi + o[2], n);
        for (int64_t i = 0; i < n; ++i)
          gi[o[2] + i * st[2]] = gp[o[1] + i * st[1]] * num::unary_derivative<float>(op, xp[o[0] + i * st[0]], p.alpha, p.beta);
      });
      return;
    }
    switch (op) {
#define EMBER_X(name) case UnaryOp::name: return unary_backward_loop<T, UnaryOp::name>(x, grad_out, grad_in, p);
      EMBER_UNARY_OPS(EMBER_X)
#undef EMBER_X
    }
  });
}

void CpuBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  EMBER_ASSERT(a.shape() == out.shape() && b.shape() == out.shape(), "binary: {} {} -> {}", shape_str(a.shape()),
               shape_str(b.shape()), shape_str(out.shape()));
  if (out.numel() == 0) return;
  dispatch_all(a.dtype(), "binary", [&]<typename T>() {
    switch (op) {
#define EMBER_X(name) case BinaryOp::name: return binary_loop<T, BinaryOp::name>(a, b, out);
      EMBER_BINARY_OPS(EMBER_X)
#undef EMBER_X
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

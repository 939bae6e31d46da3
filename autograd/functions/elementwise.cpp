// Elementwise ops: unary (one shared node type, derivative from the backend's unary_backward),
// binary with NumPy broadcasting (gradients summed back to each input's shape), comparisons,
// where and masked_fill.
#include <cmath>

#include "autograd/function.h"
#include "autograd/ops.h"

namespace ember {
namespace {
using namespace autograd;

// y = f(x); grad_x = grad_y * f'(x), f' evaluated by the backend from the saved input.
class UnaryBackward final : public Node {
 public:
  UnaryBackward(UnaryOp op, UnaryParams p, const Tensor& x) : op_(op), p_(p), x_(x) {}
  std::string name() const override { return "UnaryBackward"; }
  void release_saved() override { x_.release(); }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor x = x_.unpack(*this);
    Tensor gx = Tensor::empty(x.shape(), x.options());
    backend_of(x).unary_backward(op_, x, grads[0], gx, p_);
    return {gx};
  }

 private:
  UnaryOp op_;
  UnaryParams p_;
  SavedTensor x_;
};

Tensor unary_op(UnaryOp op, const Tensor& x, std::string_view name, UnaryParams p = {}) {
  check_defined(x, name, "input");
  if (op != UnaryOp::neg && op != UnaryOp::abs && op != UnaryOp::identity && op != UnaryOp::sign &&
      op != UnaryOp::square && op != UnaryOp::clamp && op != UnaryOp::add_scalar && op != UnaryOp::mul_scalar &&
      op != UnaryOp::relu)
    check_floating(x, name);
  Tensor out = Tensor::empty(x.shape(), x.options());
  backend_of(x).unary(op, x, out, p);
  if (is_floating(x.dtype())) record<UnaryBackward>({x}, {out}, op, p, x);
  return out;
}

// Broadcast views of a and b at the common shape.
struct Broadcast {
  Shape shape;
  Tensor a, b;
};
Broadcast broadcast2(const Tensor& a, const Tensor& b, std::string_view op) {
  check_defined(a, op, "a");
  check_defined(b, op, "b");
  check_same_dtype(a, b, op);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  return {shape, a.as_strided(shape, broadcast_strides(a.shape(), a.strides(), shape), a.offset()),
          b.as_strided(shape, broadcast_strides(b.shape(), b.strides(), shape), b.offset())};
}

// Gradients of c = a (op) b, each summed back to its input's shape:
//   add: (g, g)   sub: (g, -g)   mul: (g*b, g*a)   div: (g/b, -g*a/b^2)
//   pow: (g*b*a^(b-1), g*c*ln a)   maximum/minimum: g goes to the selected input (split on ties).
class BinaryBackward final : public Node {
 public:
  BinaryBackward(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out, bool save_out)
      : op_(op), a_shape_(a.shape()), b_shape_(b.shape()) {
    if (op == BinaryOp::mul || op == BinaryOp::div || op == BinaryOp::pow || op == BinaryOp::maximum ||
        op == BinaryOp::minimum) {
      a_ = SavedTensor(a);
      b_ = SavedTensor(b);
    }
    if (save_out) out_ = SavedTensor(out);
  }
  std::string name() const override { return "BinaryBackward"; }
  void release_saved() override {
    a_.release();
    b_.release();
    out_.release();
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    const Tensor& g = grads[0];
    Tensor a = a_.unpack(*this), b = b_.unpack(*this);
    Tensor ga, gb;
    switch (op_) {
      case BinaryOp::add:
        ga = g;
        gb = g;
        break;
      case BinaryOp::sub:
        ga = g;
        if (needs_input_grad(1)) gb = neg(g);
        break;
      case BinaryOp::mul:
        if (needs_input_grad(0)) ga = mul(g, b);
        if (needs_input_grad(1)) gb = mul(g, a);
        break;
      case BinaryOp::div:
        if (needs_input_grad(0)) ga = div(g, b);
        if (needs_input_grad(1)) gb = neg(div(mul(g, a), mul(b, b)));
        break;
      case BinaryOp::pow:
        if (needs_input_grad(0)) ga = mul(g, mul(b, pow(a, sub(b, Tensor::scalar(1, b.options())))));
        if (needs_input_grad(1)) {
          // d a^b / db = a^b ln a, taken as 0 where a == 0 and b >= 0 (0 * -inf otherwise: PyTorch's rule,
          // so a learnable exponent on ReLU outputs stays finite).
          Tensor at_zero = mul(eq(a, Tensor::scalar(0, a.options())), ge(b, Tensor::scalar(0, b.options())));
          gb = masked_fill(mul(g, mul(out_.unpack(*this), log(a))), at_zero, 0.0);
        }
        break;
      case BinaryOp::maximum:
      case BinaryOp::minimum: {
        // PyTorch splits the gradient evenly on ties.
        Tensor pick_a = op_ == BinaryOp::maximum ? gt(a, b) : lt(a, b);
        Tensor tie = eq(a, b);
        Tensor wa = add(pick_a.to(a.dtype()), mul(tie.to(a.dtype()), 0.5));
        if (needs_input_grad(0)) ga = mul(g, wa);
        if (needs_input_grad(1)) gb = mul(g, sub(Tensor::scalar(1, a.options()), wa));
        break;
      }
      default:
        EMBER_ASSERT(false, "BinaryBackward: comparison ops are not differentiable");
    }
    return {ga.defined() ? sum_to(ga, a_shape_) : ga, gb.defined() ? sum_to(gb, b_shape_) : gb};
  }

 private:
  BinaryOp op_;
  Shape a_shape_, b_shape_;
  SavedTensor a_, b_, out_;
};

Tensor binary_op(BinaryOp op, const Tensor& a, const Tensor& b, std::string_view name) {
  Broadcast bc = broadcast2(a, b, name);
  if (!is_comparison(op) && op != BinaryOp::add && op != BinaryOp::sub && op != BinaryOp::mul)
    check_floating(a, name);
  DType out_dtype = is_comparison(op) ? DType::u8 : a.dtype();
  Tensor out = Tensor::empty(bc.shape, {.dtype = out_dtype, .device = a.device()});
  backend_of(a).binary(op, bc.a, bc.b, out);
  if (!is_comparison(op) && is_floating(a.dtype()))
    record<BinaryBackward>({a, b}, {out}, op, a, b, out.detach(), op == BinaryOp::pow);  // detached: no cycle
  return out;
}

Tensor scalar_like(double v, const Tensor& t) { return Tensor::scalar(v, t.options()); }

// out = cond ? a : b; grad_a = where(cond, g, 0), grad_b = where(cond, 0, g).
class WhereBackward final : public Node {
 public:
  WhereBackward(const Tensor& cond, const Shape& a_shape, const Shape& b_shape)
      : cond_(cond), a_shape_(a_shape), b_shape_(b_shape) {}
  std::string name() const override { return "WhereBackward"; }
  void release_saved() override { cond_.release(); }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor cond = cond_.unpack(*this);
    const Tensor& g = grads[0];
    Tensor zero = Tensor::scalar(0, g.options());
    Tensor ga, gb;
    if (needs_input_grad(1)) ga = sum_to(where(cond, g, zero), a_shape_);
    if (needs_input_grad(2)) gb = sum_to(where(cond, zero, g), b_shape_);
    return {Tensor(), ga, gb};
  }

 private:
  SavedTensor cond_;
  Shape a_shape_, b_shape_;
};

}  // namespace

// ---- unary ----
Tensor neg(const Tensor& x) { return unary_op(UnaryOp::neg, x, "neg"); }
Tensor exp(const Tensor& x) { return unary_op(UnaryOp::exp, x, "exp"); }
Tensor log(const Tensor& x) { return unary_op(UnaryOp::log, x, "log"); }
Tensor sqrt(const Tensor& x) { return unary_op(UnaryOp::sqrt, x, "sqrt"); }
Tensor rsqrt(const Tensor& x) { return unary_op(UnaryOp::rsqrt, x, "rsqrt"); }
Tensor abs(const Tensor& x) { return unary_op(UnaryOp::abs, x, "abs"); }
Tensor sign(const Tensor& x) { return unary_op(UnaryOp::sign, x, "sign"); }
Tensor square(const Tensor& x) { return unary_op(UnaryOp::square, x, "square"); }
Tensor sin(const Tensor& x) { return unary_op(UnaryOp::sin, x, "sin"); }
Tensor cos(const Tensor& x) { return unary_op(UnaryOp::cos, x, "cos"); }
Tensor tanh(const Tensor& x) { return unary_op(UnaryOp::tanh, x, "tanh"); }
Tensor sigmoid(const Tensor& x) { return unary_op(UnaryOp::sigmoid, x, "sigmoid"); }
Tensor relu(const Tensor& x) { return unary_op(UnaryOp::relu, x, "relu"); }
Tensor silu(const Tensor& x) { return unary_op(UnaryOp::silu, x, "silu"); }
Tensor hardswish(const Tensor& x) { return unary_op(UnaryOp::hardswish, x, "hardswish"); }
Tensor leaky_relu(const Tensor& x, double slope) {
  return unary_op(UnaryOp::leaky_relu, x, "leaky_relu", {.alpha = slope});
}
Tensor gelu(const Tensor& x, GeluApprox approx) {
  return unary_op(approx == GeluApprox::tanh ? UnaryOp::gelu_tanh : UnaryOp::gelu_erf, x, "gelu");
}
Tensor pow(const Tensor& x, double exponent) {
  return unary_op(UnaryOp::pow_scalar, x, "pow", {.alpha = exponent});
}
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  EMBER_CHECK(lo.has_value() || hi.has_value(), "clamp: at least one of min and max must be given");
  double l = lo.value_or(-INFINITY), h = hi.value_or(INFINITY);
  EMBER_CHECK(!(l > h), "clamp: min {} is greater than max {}", l, h);
  return unary_op(UnaryOp::clamp, x, "clamp", {.alpha = l, .beta = h});
}
Tensor add(const Tensor& a, double b) { return unary_op(UnaryOp::add_scalar, a, "add", {.alpha = b}); }
Tensor mul(const Tensor& a, double b) { return unary_op(UnaryOp::mul_scalar, a, "mul", {.alpha = b}); }

// ---- binary ----
Tensor add(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::add, a, b, "add"); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::sub, a, b, "sub"); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::mul, a, b, "mul"); }
Tensor div(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::div, a, b, "div"); }
Tensor pow(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::pow, a, b, "pow"); }
Tensor maximum(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::maximum, a, b, "maximum"); }
Tensor minimum(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::minimum, a, b, "minimum"); }
Tensor eq(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::eq, a, b, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::ne, a, b, "ne"); }
Tensor lt(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::lt, a, b, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::le, a, b, "le"); }
Tensor gt(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::gt, a, b, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return binary_op(BinaryOp::ge, a, b, "ge"); }

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return add(a, b); }
Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
Tensor operator/(const Tensor& a, double b) { return mul(a, 1.0 / b); }
Tensor operator+(double a, const Tensor& b) { return add(b, a); }
Tensor operator-(double a, const Tensor& b) { return add(neg(b), a); }
Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }

// ---- selection ----
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined(cond, "where", "cond");
  EMBER_CHECK(cond.dtype() == DType::u8, "where: cond must be u8 (a mask), got {} {}", shape_str(cond.shape()),
              cond.dtype());
  check_same_device(cond, a, "where");
  Broadcast ab = broadcast2(a, b, "where");
  Shape shape = broadcast_shapes(cond.shape(), ab.shape, "where");
  auto view = [&](const Tensor& t) { return t.as_strided(shape, broadcast_strides(t.shape(), t.strides(), shape), t.offset()); };
  Tensor out = Tensor::empty(shape, a.options());
  backend_of(a).where(view(cond), view(a), view(b), out);
  if (is_floating(a.dtype())) record<WhereBackward>({cond, a, b}, {out}, cond, a.shape(), b.shape());
  return out;
}

Tensor masked_fill(const Tensor& x, const Tensor& mask, double value) {
  check_defined(x, "masked_fill", "input");
  return where(mask, Tensor::scalar(value, x.options()), x);
}

}  // namespace ember

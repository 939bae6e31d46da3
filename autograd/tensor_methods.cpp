// Tensor's method sugar (declared in tensor/tensor.h): thin forwards to the free functions of
// autograd/ops.h, plus the in-place ops used by optimizers and initialisation.
#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace ember {

Tensor Tensor::reshape(const Shape& shape) const { return ember::reshape(*this, shape); }
Tensor Tensor::view(const Shape& shape) const { return ember::view(*this, shape); }
Tensor Tensor::permute(const std::vector<int64_t>& dims) const { return ember::permute(*this, dims); }
Tensor Tensor::transpose(int64_t d0, int64_t d1) const { return ember::transpose(*this, d0, d1); }
Tensor Tensor::t() const {
  EMBER_CHECK(dim() <= 2, "t: expects a tensor with <= 2 dims, got {}", shape_str(shape()));
  return dim() < 2 ? *this : ember::transpose(*this, 0, 1);
}
Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const { return ember::narrow(*this, d, start, length); }
Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  return ember::slice(*this, d, start, end, step);
}
Tensor Tensor::select(int64_t d, int64_t index) const { return ember::select(*this, d, index); }
Tensor Tensor::squeeze() const { return ember::squeeze(*this); }
Tensor Tensor::squeeze(int64_t d) const { return ember::squeeze(*this, d); }
Tensor Tensor::unsqueeze(int64_t d) const { return ember::unsqueeze(*this, d); }
Tensor Tensor::expand(const Shape& shape) const { return ember::expand(*this, shape); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return ember::flatten(*this, s, e); }
Tensor Tensor::contiguous() const { return ember::contiguous(*this); }
Tensor Tensor::clone() const { return ember::clone(*this); }
Tensor Tensor::to(DType dtype) const { return ember::to_dtype(*this, dtype); }
Tensor Tensor::to(Device device) const { return ember::to_device(*this, device); }
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const { return ember::sum(*this, dims, keepdim); }
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const { return ember::mean(*this, dims, keepdim); }
Tensor Tensor::matmul(const Tensor& other) const { return ember::matmul(*this, other); }
Tensor Tensor::pow(double exponent) const { return ember::pow(*this, exponent); }
Tensor Tensor::exp() const { return ember::exp(*this); }
Tensor Tensor::log() const { return ember::log(*this); }
Tensor Tensor::relu() const { return ember::relu(*this); }
Tensor Tensor::abs() const { return ember::abs(*this); }
Tensor Tensor::sqrt() const { return ember::sqrt(*this); }
Tensor Tensor::rsqrt() const { return ember::rsqrt(*this); }
Tensor Tensor::neg() const { return ember::neg(*this); }
Tensor Tensor::square() const { return ember::square(*this); }
Tensor Tensor::sin() const { return ember::sin(*this); }
Tensor Tensor::cos() const { return ember::cos(*this); }
Tensor Tensor::tanh() const { return ember::tanh(*this); }
Tensor Tensor::sigmoid() const { return ember::sigmoid(*this); }
Tensor Tensor::silu() const { return ember::silu(*this); }
Tensor Tensor::clamp(std::optional<double> lo, std::optional<double> hi) const { return ember::clamp(*this, lo, hi); }
Tensor Tensor::var(const std::vector<int64_t>& dims, int64_t correction, bool keepdim) const {
  return ember::var(*this, dims, correction, keepdim);
}
Tensor Tensor::amax(const std::vector<int64_t>& dims, bool keepdim) const { return ember::amax(*this, dims, keepdim); }
Tensor Tensor::amin(const std::vector<int64_t>& dims, bool keepdim) const { return ember::amin(*this, dims, keepdim); }
Tensor Tensor::argmax(std::optional<int64_t> dim, bool keepdim) const { return ember::argmax(*this, dim, keepdim); }
Tensor Tensor::softmax(int64_t dim) const { return ember::softmax(*this, dim); }
Tensor Tensor::log_softmax(int64_t dim) const { return ember::log_softmax(*this, dim); }

namespace {
void check_inplace(const Tensor& t, std::string_view op) {
  EMBER_CHECK(t.defined(), "{}: tensor is undefined", op);
  EMBER_CHECK(!(GradMode::is_enabled() && t.requires_grad()),
              "{}: in-place update of a tensor {} that requires grad; wrap it in NoGradGuard", op, shape_str(t.shape()));
}
// `src` viewed at dst's shape (zero strides on broadcast dims); throws when it does not broadcast
// to exactly that shape (an in-place op cannot grow its destination).
Tensor broadcast_into(const Tensor& src, const Tensor& dst, std::string_view op) {
  if (src.shape() == dst.shape()) return src;
  Shape b = broadcast_shapes(dst.shape(), src.shape(), op);
  EMBER_CHECK(b == dst.shape(), "{}: operand {} cannot be broadcast to {}", op, shape_str(src.shape()),
              shape_str(dst.shape()));
  return src.as_strided(dst.shape(), broadcast_strides(src.shape(), src.strides(), dst.shape()), src.offset());
}
}  // namespace

Tensor& Tensor::zero_() { return fill_(0.0); }

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  backend_of(*this).fill(*this, value);
  bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  check_defined(src, "copy_", "src");
  Tensor s = broadcast_into(src, *this, "copy_");
  Backend& be = device().is_cpu() ? backend_of(src) : backend_of(*this);
  be.copy(s, *this);
  bump_version();
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace(*this, "add_");
  check_same_dtype(*this, other, "add_");
  Tensor o = broadcast_into(other, *this, "add_");
  Backend& be = backend_of(*this);
  if (alpha != 1.0) {
    Tensor scaled = Tensor::empty(shape(), options());
    be.unary(UnaryOp::mul_scalar, o, scaled, {.alpha = alpha});
    o = scaled;
  }
  be.binary(BinaryOp::add, *this, o, *this);
  bump_version();
  return *this;
}

Tensor& Tensor::mul_(double value) {
  check_inplace(*this, "mul_");
  backend_of(*this).unary(UnaryOp::mul_scalar, *this, *this, {.alpha = value});
  bump_version();
  return *this;
}

Tensor& Tensor::mul_(const Tensor& other) {
  check_inplace(*this, "mul_");
  check_same_dtype(*this, other, "mul_");
  Tensor o = broadcast_into(other, *this, "mul_");
  backend_of(*this).binary(BinaryOp::mul, *this, o, *this);
  bump_version();
  return *this;
}

Tensor& Tensor::uniform_(double lo, double hi, Generator* gen) {
  check_inplace(*this, "uniform_");
  copy_(Tensor::rand(shape(), options(), gen) * (hi - lo) + lo);
  return *this;
}

Tensor& Tensor::normal_(double mean, double std, Generator* gen) {
  check_inplace(*this, "normal_");
  copy_(Tensor::randn(shape(), options(), gen) * std + mean);
  return *this;
}

}  // namespace ember

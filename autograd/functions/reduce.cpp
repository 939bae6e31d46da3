// Reductions: sum, mean, var, amax/amin, max/min with indices, argmax/argmin, logsumexp.
// Backward of a reduction broadcasts the (keepdim) gradient back over the reduced dims.
#include <cmath>

#include "autograd/function.h"
#include "autograd/ops.h"

namespace ember {
namespace {
using namespace autograd;

Shape keepdim_shape(const Shape& shape, const std::vector<int64_t>& dims) {
  Shape out = shape;
  for (int64_t d : dims) out[d] = 1;
  return out;
}

Shape squeezed_shape(const Shape& shape, const std::vector<int64_t>& dims) {
  Shape out;
  size_t j = 0;
  for (int64_t d = 0; d < int64_t(shape.size()); ++d) {
    if (j < dims.size() && dims[j] == d) {
      ++j;
      continue;
    }
    out.push_back(shape[d]);
  }
  return out;
}

// y = sum_dims x: grad_x = expand(grad_y as keepdim, x.shape).
class SumBackward final : public Node {
 public:
  SumBackward(Shape in, Shape keep) : in_(std::move(in)), keep_(std::move(keep)) {}
  std::string name() const override { return "SumBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    return {contiguous(expand(reshape(grads[0], keep_), in_))};
  }

 private:
  Shape in_, keep_;
};

// y = max_dims x (or min): the gradient flows to the positions equal to the result, split evenly
// among ties (PyTorch's amax convention).
class AmaxBackward final : public Node {
 public:
  AmaxBackward(const Tensor& x, const Tensor& y_keep) : x_(x), y_(y_keep) {}
  std::string name() const override { return "AmaxBackward"; }
  void release_saved() override {
    x_.release();
    y_.release();
  }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor x = x_.unpack(*this), y = y_.unpack(*this);
    Tensor mask = eq(x, y).to(x.dtype());
    std::vector<int64_t> dims;
    for (int64_t d = 0; d < x.dim(); ++d)
      if (y.size(d) == 1 && x.size(d) != 1) dims.push_back(d);
    Tensor count = dims.empty() ? Tensor::ones(y.shape(), y.options()) : sum(mask, dims, true);
    return {mul(mask, div(reshape(grads[0], y.shape()), count))};
  }

 private:
  SavedTensor x_, y_;
};

// values = max(x, dim): grad_x is zero except at the selected index of each slice.
class MaxDimBackward final : public Node {
 public:
  MaxDimBackward(Shape orig, Shape in, int64_t dim, const Tensor& idx_keep)
      : orig_(std::move(orig)), in_(std::move(in)), dim_(dim), idx_(idx_keep) {}
  std::string name() const override { return "MaxDimBackward"; }
  void release_saved() override { idx_.release(); }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor idx = idx_.unpack(*this);
    Tensor g = contiguous(reshape(grads[0], idx.shape()));
    Tensor gx = Tensor::zeros(in_, g.options());
    backend_of(g).scatter_add(gx, dim_, idx, g);
    return {reshape(gx, orig_)};
  }

 private:
  Shape orig_, in_;
  int64_t dim_;
  SavedTensor idx_;
};

Tensor reduce_op(ReduceOp op, const Tensor& x, const std::vector<int64_t>& dims_in, bool keepdim,
                 std::string_view name) {
  check_defined(x, name, "input");
  std::vector<int64_t> dims = normalize_dims(dims_in, x.dim(), name);
  if (op == ReduceOp::max || op == ReduceOp::min)
    for (int64_t d : dims)
      EMBER_CHECK(x.size(d) > 0, "{}: cannot reduce over dim {} of size 0 (input {})", name, d, shape_str(x.shape()));
  Shape keep = keepdim_shape(x.shape(), dims);
  Tensor out = Tensor::empty(keep, x.options());
  backend_of(x).reduce(op, x, dims, out);
  Tensor result = keepdim ? out : out.as_strided(squeezed_shape(x.shape(), dims),
                                                 contiguous_strides(squeezed_shape(x.shape(), dims)), 0);
  if (is_floating(x.dtype())) {
    if (op == ReduceOp::sum) record<SumBackward>({x}, {result}, x.shape(), keep);
    if (op == ReduceOp::max || op == ReduceOp::min) record<AmaxBackward>({x}, {result}, x, out.detach());  // detached: no cycle
  }
  return result;
}

ValuesIndices arg_reduce_op(ReduceOp op, const Tensor& x, int64_t dim_in, bool keepdim, std::string_view name) {
  check_defined(x, name, "input");
  int64_t dim = wrap_dim(dim_in, x.dim(), name);
  EMBER_CHECK(x.dim() == 0 || x.size(dim) > 0, "{}: cannot reduce over dim {} of size 0 (input {})", name, dim,
              shape_str(x.shape()));
  Tensor xv = x.dim() == 0 ? x.as_strided({1}, {1}, x.offset()) : x;
  Shape keep = keepdim_shape(xv.shape(), {dim});
  Tensor values = Tensor::empty(keep, x.options());
  Tensor indices = Tensor::empty(keep, {.dtype = DType::i64, .device = x.device()});
  backend_of(x).arg_reduce(op, xv, dim, values, indices);
  Shape final_shape = x.dim() == 0 ? Shape{} : (keepdim ? keep : squeezed_shape(xv.shape(), {dim}));
  Tensor v = values.as_strided(final_shape, contiguous_strides(final_shape), 0);
  Tensor i = indices.as_strided(final_shape, contiguous_strides(final_shape), 0);
  if (is_floating(x.dtype())) record<MaxDimBackward>({x}, {v, i}, x.shape(), xv.shape(), dim, indices);
  return {v, i};
}

}  // namespace

// Integer and u8 inputs sum in i64 (PyTorch's promotion), so counting a mask cannot wrap.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  check_defined(x, "sum", "input");
  if (!is_floating(x.dtype()) && x.dtype() != DType::i64)
    return reduce_op(ReduceOp::sum, x.to(DType::i64), dims, keepdim, "sum");
  return reduce_op(ReduceOp::sum, x, dims, keepdim, "sum");
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  check_defined(x, "mean", "input");
  check_floating(x, "mean");
  std::vector<int64_t> d = normalize_dims(dims, x.dim(), "mean");
  int64_t count = 1;
  for (int64_t i : d) count *= x.size(i);
  return mul(sum(x, dims, keepdim), count == 0 ? NAN : 1.0 / double(count));
}

Tensor var(const Tensor& x, const std::vector<int64_t>& dims, int64_t correction, bool keepdim) {
  check_defined(x, "var", "input");
  check_floating(x, "var");
  std::vector<int64_t> d = normalize_dims(dims, x.dim(), "var");
  int64_t count = 1;
  for (int64_t i : d) count *= x.size(i);
  Tensor centered = sub(x, mean(x, dims, true));
  double denom = double(count - correction);
  return mul(sum(mul(centered, centered), dims, keepdim), denom > 0 ? 1.0 / denom : NAN);
}

Tensor amax(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduce_op(ReduceOp::max, x, dims, keepdim, "amax");
}
Tensor amin(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return reduce_op(ReduceOp::min, x, dims, keepdim, "amin");
}

ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) { return arg_reduce_op(ReduceOp::max, x, dim, keepdim, "max"); }
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) { return arg_reduce_op(ReduceOp::min, x, dim, keepdim, "min"); }

Tensor argmax(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  if (!dim.has_value()) return arg_reduce_op(ReduceOp::max, reshape(x, {-1}), 0, false, "argmax").indices;
  return arg_reduce_op(ReduceOp::max, x, *dim, keepdim, "argmax").indices;
}
Tensor argmin(const Tensor& x, std::optional<int64_t> dim, bool keepdim) {
  if (!dim.has_value()) return arg_reduce_op(ReduceOp::min, reshape(x, {-1}), 0, false, "argmin").indices;
  return arg_reduce_op(ReduceOp::min, x, *dim, keepdim, "argmin").indices;
}

// logsumexp = m + log(sum(exp(x - m))), m = max (detached: the result does not depend on m).
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  check_defined(x, "logsumexp", "input");
  check_floating(x, "logsumexp");
  Tensor m = amax(x, dims, true).detach();
  Tensor finite_m = where(eq(abs(m), Tensor::scalar(INFINITY, m.options())), Tensor::scalar(0, m.options()), m);
  Tensor r = add(log(sum(exp(sub(x, finite_m)), dims, true)), finite_m);
  if (keepdim) return r;
  return reshape(r, squeezed_shape(x.shape(), normalize_dims(dims, x.dim(), "logsumexp")));
}

}  // namespace ember

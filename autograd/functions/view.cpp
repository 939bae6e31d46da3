// Views: reshape/view, permute/transpose, narrow/slice/select, squeeze/unsqueeze, expand,
// flatten. Each shares storage with its input; each backward maps the gradient back to the
// input's shape (the inverse view, or a scatter into zeros for slicing, a sum for expand).
#include <algorithm>
#include <numeric>

#include "autograd/function.h"
#include "autograd/ops.h"

namespace ember {
namespace {
using namespace autograd;

// Strides for viewing (shape, strides) as new_shape without copying, or nullopt when the layout
// does not allow it (PyTorch's computeStride: split/merge only dims that are contiguous together).
std::optional<Strides> view_strides(const Shape& shape, const Strides& strides, const Shape& new_shape) {
  if (numel_of(shape) <= 1) return contiguous_strides(new_shape);  // empty, 0-d or one element
  Strides out(new_shape.size());
  int64_t view_d = int64_t(new_shape.size()) - 1;
  int64_t chunk_base_stride = strides.empty() ? 1 : strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

Shape infer_shape(const Shape& shape, int64_t numel, std::string_view op, const Shape& from) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      EMBER_CHECK(infer < 0, "{}: only one dim can be -1 in {}", op, shape_str(shape));
      infer = int64_t(i);
    } else {
      EMBER_CHECK(out[i] >= 0, "{}: invalid size {} in {}", op, out[i], shape_str(shape));
      known = checked_mul(known, out[i], shape, op);
    }
  }
  if (infer >= 0) {
    EMBER_CHECK(known != 0 && numel % known == 0, "{}: shape {} is invalid for input {} of {} elements", op,
                shape_str(shape), shape_str(from), numel);
    out[infer] = numel / known;
  }
  EMBER_CHECK(numel_of(out) == numel, "{}: shape {} is invalid for input {} of {} elements", op, shape_str(shape),
              shape_str(from), numel);
  return out;
}

// Any view whose gradient is "reshape back": reshape, view, squeeze, unsqueeze, flatten.
class ReshapeBackward final : public Node {
 public:
  explicit ReshapeBackward(Shape in) : in_(std::move(in)) {}
  std::string name() const override { return "ReshapeBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override { return {reshape(grads[0], in_)}; }

 private:
  Shape in_;
};

// y = x.permute(p): grad_x = grad_y.permute(p^-1).
class PermuteBackward final : public Node {
 public:
  explicit PermuteBackward(std::vector<int64_t> dims) : inverse_(dims.size()) {
    for (size_t i = 0; i < dims.size(); ++i) inverse_[dims[i]] = int64_t(i);
  }
  std::string name() const override { return "PermuteBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override { return {permute(grads[0], inverse_)}; }

 private:
  std::vector<int64_t> inverse_;
};

// y = x[..., start:end:step, ...]: grad_x = zeros with grad_y copied into that slice.
class SliceBackward final : public Node {
 public:
  SliceBackward(Shape in, int64_t dim, int64_t start, int64_t step) : in_(std::move(in)), dim_(dim), start_(start), step_(step) {}
  std::string name() const override { return "SliceBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    const Tensor& g = grads[0];
    Tensor gx = Tensor::zeros(in_, g.options());
    Strides st = gx.strides();
    int64_t offset = start_ * st[dim_];
    if (g.size(dim_) > 1) st[dim_] *= step_;  // a 0/1-long dim's stride is unused (and may not fit)
    backend_of(g).copy(g, gx.as_strided(g.shape(), st, offset));
    return {gx};
  }

 private:
  Shape in_;
  int64_t dim_, start_, step_;
};

// y = x.expand(shape): grad_x = grad_y summed over the expanded dims.
class ExpandBackward final : public Node {
 public:
  explicit ExpandBackward(Shape in) : in_(std::move(in)) {}
  std::string name() const override { return "ExpandBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override { return {sum_to(grads[0], in_)}; }

 private:
  Shape in_;
};

Tensor make_view(const Tensor& x, const Shape& shape, const Strides& strides, int64_t offset) {
  return x.as_strided(shape, strides, offset);
}

}  // namespace

Tensor view(const Tensor& x, const Shape& shape_in) {
  check_defined(x, "view", "input");
  Shape shape = infer_shape(shape_in, x.numel(), "view", x.shape());
  auto st = view_strides(x.shape(), x.strides(), shape);
  EMBER_CHECK(st.has_value(), "view: cannot view input {} with strides {} as {}; use reshape (which copies)",
              shape_str(x.shape()), shape_str(x.strides()), shape_str(shape));
  Tensor out = make_view(x, shape, *st, x.offset());
  record<ReshapeBackward>({x}, {out}, x.shape());
  return out;
}

Tensor reshape(const Tensor& x, const Shape& shape_in) {
  check_defined(x, "reshape", "input");
  Shape shape = infer_shape(shape_in, x.numel(), "reshape", x.shape());
  if (auto st = view_strides(x.shape(), x.strides(), shape)) {
    Tensor out = make_view(x, shape, *st, x.offset());
    record<ReshapeBackward>({x}, {out}, x.shape());
    return out;
  }
  return view(contiguous(x), shape);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  check_defined(x, "permute", "input");
  EMBER_CHECK(int64_t(dims.size()) == x.dim(), "permute: {} dims given for input {}", dims.size(), shape_str(x.shape()));
  std::vector<int64_t> d(dims.size());
  std::vector<bool> used(dims.size(), false);
  Shape shape(dims.size());
  Strides st(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    d[i] = wrap_dim(dims[i], x.dim(), "permute");
    EMBER_CHECK(!used[d[i]], "permute: dim {} repeats in [{}]", d[i], fmt::join(dims, ","));
    used[d[i]] = true;
    shape[i] = x.size(d[i]);
    st[i] = x.stride(d[i]);
  }
  Tensor out = make_view(x, shape, st, x.offset());
  record<PermuteBackward>({x}, {out}, d);
  return out;
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  check_defined(x, "transpose", "input");
  std::vector<int64_t> p(size_t(x.dim()));
  std::iota(p.begin(), p.end(), 0);
  if (x.dim() == 0) return permute(x, p);
  std::swap(p[wrap_dim(d0, x.dim(), "transpose")], p[wrap_dim(d1, x.dim(), "transpose")]);
  return permute(x, p);
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  check_defined(x, "slice", "input");
  dim = wrap_dim(dim, x.dim(), "slice");
  EMBER_CHECK(step > 0, "slice: step must be positive, got {}", step);
  int64_t n = x.size(dim);
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = x.shape();
  Strides st = x.strides();
  shape[dim] = end == start ? 0 : (end - start - 1) / step + 1;  // no overflow for huge steps
  int64_t offset = x.offset() + start * st[dim];
  if (shape[dim] > 1) st[dim] *= step;  // fits: the view lies inside the input
  Tensor out = make_view(x, shape, st, offset);
  record<SliceBackward>({x}, {out}, x.shape(), dim, start, step);
  return out;
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  check_defined(x, "narrow", "input");
  int64_t d = wrap_dim(dim, x.dim(), "narrow");
  int64_t n = x.size(d);
  if (start < 0) start += n;
  if (!(start >= 0 && start <= n && length >= 0 && length <= n - start)) {
    int64_t end = 0;  // start + length may not fit in int64
    std::string range = __builtin_add_overflow(start, length, &end) ? fmt::format("[{}, {} + {})", start, start, length)
                                                                    : fmt::format("[{}, {})", start, end);
    EMBER_CHECK(false, "narrow: {} is out of range for dim {} of size {} (input {})", range, d, n, shape_str(x.shape()));
  }
  return slice(x, d, start, start + length);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  check_defined(x, "select", "input");
  int64_t d = wrap_dim(dim, x.dim(), "select");
  int64_t n = x.size(d);
  EMBER_CHECK(index >= -n && index < n, "select: index {} is out of range for dim {} of size {} (input {})", index, d,
              n, shape_str(x.shape()));
  if (index < 0) index += n;
  return squeeze(narrow(x, d, index, 1), d);
}

Tensor squeeze(const Tensor& x, std::optional<int64_t> dim) {
  check_defined(x, "squeeze", "input");
  Shape shape;
  if (dim.has_value()) {
    int64_t d = wrap_dim(*dim, x.dim(), "squeeze");
    shape = x.shape();
    if (x.dim() > 0 && shape[d] == 1) shape.erase(shape.begin() + d);
  } else {
    for (int64_t s : x.shape())
      if (s != 1) shape.push_back(s);
  }
  return view(x, shape);
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  check_defined(x, "unsqueeze", "input");
  int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
  Shape shape = x.shape();
  Strides st = x.strides();
  int64_t inner = d < x.dim() ? st[d] * shape[d] : 1;
  shape.insert(shape.begin() + d, 1);
  st.insert(st.begin() + d, inner);
  Tensor out = make_view(x, shape, st, x.offset());
  record<ReshapeBackward>({x}, {out}, x.shape());
  return out;
}

Tensor expand(const Tensor& x, const Shape& shape_in) {
  check_defined(x, "expand", "input");
  EMBER_CHECK(int64_t(shape_in.size()) >= x.dim(), "expand: target {} has fewer dims than input {}",
              shape_str(shape_in), shape_str(x.shape()));
  Shape shape = shape_in;
  size_t lead = shape.size() - size_t(x.dim());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i >= lead && shape[i] == -1) shape[i] = x.size(int64_t(i - lead));
    int64_t have = i >= lead ? x.size(int64_t(i - lead)) : 1;
    EMBER_CHECK(shape[i] >= 0 && (have == shape[i] || have == 1),
                "expand: cannot expand input {} to {} (dim {}: {} vs {})", shape_str(x.shape()), shape_str(shape_in),
                i, have, shape[i]);
  }
  Tensor out = make_view(x, shape, broadcast_strides(x.shape(), x.strides(), shape), x.offset());
  record<ExpandBackward>({x}, {out}, x.shape());
  return out;
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  check_defined(x, "flatten", "input");
  if (x.dim() == 0) return reshape(x, {1});
  int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  EMBER_CHECK(s <= e, "flatten: start_dim {} comes after end_dim {} (input {})", s, e, shape_str(x.shape()));
  Shape shape(x.shape().begin(), x.shape().begin() + s);
  int64_t merged = 1;
  for (int64_t d = s; d <= e; ++d) merged = checked_mul(merged, x.size(d), x.shape(), "flatten");
  shape.push_back(merged);
  shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, shape);
}

}  // namespace ember

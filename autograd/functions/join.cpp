// Joining and splitting: cat, stack, split (by size / by sizes), chunk (PyTorch semantics).
//
// Legend: `dim` the joined/split dim; n_i the size of piece i along it.
// cat copies each input into its narrow slice of a fresh contiguous output (backend copy takes a
// strided dst); its backward hands each input the matching slice of the gradient. stack is
// unsqueeze + cat. split and chunk return narrow views (their gradient comes from narrow).
#include "autograd/function.h"
#include "autograd/ops.h"

namespace ember {
namespace {
using namespace autograd;

// y = cat(x_0, ..., x_k) along dim; backward: grad_x_i = g.narrow(dim, start_i, n_i).
class CatBackward final : public Node {
 public:
  CatBackward(int64_t dim, std::vector<int64_t> sizes) : dim_(dim), sizes_(std::move(sizes)) {}
  std::string name() const override { return "CatBackward"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    const Tensor& g = grads[0];
    std::vector<Tensor> out(sizes_.size());
    int64_t start = 0;
    for (size_t i = 0; i < sizes_.size(); ++i) {
      // A contiguous copy, not a view: the pieces would otherwise share g's storage, and the
      // engine is free to accumulate into a gradient buffer in place.
      if (needs_input_grad(i)) out[i] = contiguous(narrow(g, dim_, start, sizes_[i]));
      start += sizes_[i];
    }
    return out;
  }

 private:
  int64_t dim_;
  std::vector<int64_t> sizes_;
};

std::string shapes_str(const std::vector<Tensor>& ts) {
  std::string s;
  for (size_t i = 0; i < ts.size(); ++i) s += (i ? ", " : "") + shape_str(ts[i].shape());
  return s;
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  EMBER_CHECK(!tensors.empty(), "cat: expected a non-empty list of tensors");
  for (const Tensor& t : tensors) check_defined(t, "cat", "tensors[i]");
  const Tensor& first = tensors[0];
  EMBER_CHECK(first.dim() >= 1, "cat: zero-dimensional tensors cannot be concatenated (shapes {})",
              shapes_str(tensors));
  dim = wrap_dim(dim, first.dim(), "cat");
  Shape out_shape = first.shape();
  out_shape[dim] = 0;
  std::vector<int64_t> sizes;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    check_same_dtype(first, t, "cat");
    check_same_device(first, t, "cat");
    bool ok = t.dim() == first.dim();
    for (int64_t d = 0; ok && d < t.dim(); ++d) ok = d == dim || t.size(d) == first.size(d);
    EMBER_CHECK(ok, "cat: tensor {} has shape {}, which does not match {} except along dim {} (shapes {})", i,
                shape_str(t.shape()), shape_str(first.shape()), dim, shapes_str(tensors));
    sizes.push_back(t.size(dim));
    out_shape[dim] += t.size(dim);
  }

  Tensor out = Tensor::empty(out_shape, first.options());
  int64_t start = 0;
  for (const Tensor& t : tensors) {  // out.narrow(dim, start, n_i) = t
    backend_of(out).copy(t, out.as_strided(t.shape(), out.strides(), start * out.stride(dim)));
    start += t.size(dim);
  }
  if (any_requires_grad(tensors)) set_history(std::make_shared<CatBackward>(dim, sizes), tensors, {out});
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  EMBER_CHECK(!tensors.empty(), "stack: expected a non-empty list of tensors");
  for (const Tensor& t : tensors) check_defined(t, "stack", "tensors[i]");
  for (size_t i = 1; i < tensors.size(); ++i)
    EMBER_CHECK(tensors[i].shape() == tensors[0].shape(),
                "stack: all tensors must have the same shape, tensor {} has {} vs {} (shapes {})", i,
                shape_str(tensors[i].shape()), shape_str(tensors[0].shape()), shapes_str(tensors));
  dim = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (const Tensor& t : tensors) expanded.push_back(unsqueeze(t, dim));
  return cat(expanded, dim);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  check_defined(x, "split", "x");
  EMBER_CHECK(x.dim() >= 1, "split: cannot split a zero-dimensional tensor");
  dim = wrap_dim(dim, x.dim(), "split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    EMBER_CHECK(s >= 0, "split: sizes must be non-negative, got {} (sizes {})", s, fmt::join(sizes, ","));
    total += s;
  }
  EMBER_CHECK(total == x.size(dim), "split: sizes [{}] sum to {}, but dim {} of input {} has size {}",
              fmt::join(sizes, ","), total, dim, shape_str(x.shape()), x.size(dim));
  std::vector<Tensor> pieces;
  int64_t start = 0;
  for (int64_t s : sizes) {
    pieces.push_back(narrow(x, dim, start, s));
    start += s;
  }
  return pieces;
}

// Pieces of split_size along dim, the last one smaller when the size does not divide.
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  check_defined(x, "split", "x");
  EMBER_CHECK(x.dim() >= 1, "split: cannot split a zero-dimensional tensor");
  dim = wrap_dim(dim, x.dim(), "split");
  const int64_t n = x.size(dim);
  EMBER_CHECK(split_size > 0 || (split_size == 0 && n == 0),
              "split: split_size must be positive, got {} (input {}, dim {})", split_size, shape_str(x.shape()), dim);
  if (n == 0) return {narrow(x, dim, 0, 0)};
  std::vector<int64_t> sizes;
  for (int64_t start = 0; start < n; start += split_size) sizes.push_back(std::min(split_size, n - start));
  return split(x, sizes, dim);
}

// ceil(n / chunks)-sized pieces, like PyTorch: may return fewer than `chunks` pieces.
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  check_defined(x, "chunk", "x");
  EMBER_CHECK(chunks > 0, "chunk: number of chunks must be positive, got {} (input {})", chunks, shape_str(x.shape()));
  EMBER_CHECK(x.dim() >= 1, "chunk: cannot chunk a zero-dimensional tensor");
  dim = wrap_dim(dim, x.dim(), "chunk");
  const int64_t n = x.size(dim);
  if (n == 0) return split(x, std::vector<int64_t>(chunks, 0), dim);  // chunks empty pieces
  return split(x, (n + chunks - 1) / chunks, dim);
}

}  // namespace ember

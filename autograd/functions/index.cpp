// Indexing ops: embedding, index_select, gather, scatter_add (PyTorch semantics).
//
// Legend: V vocabulary rows, D embedding width, `dim` the indexed dim; x is viewed as [O, n, I]
// around it (see tensor/cpu/index.cpp). Index tensors are i64 on x's device.
// Every entry validates index dtype, shapes and VALUES (0 <= i < size) before any kernel runs,
// so kernels never read out of bounds. Backward pairs: index_select <-> index_add,
// gather <-> scatter_add; repeated indices accumulate.
#include "autograd/function.h"
#include "autograd/ops.h"

namespace ember {
namespace {
using namespace autograd;

void check_index_tensor(const Tensor& index, const Tensor& x, std::string_view op) {
  check_defined(index, op, "index");
  EMBER_CHECK(index.dtype() == DType::i64, "{}: index must have dtype i64, got {} (index {})", op, index.dtype(),
              shape_str(index.shape()));
  check_same_device(x, index, op);
}

// Every index value must lie in [0, size): "op: index 7 is out of range for dim 0 with size 5 (...)".
void check_index_values(const Tensor& index, int64_t dim, const Tensor& x, std::string_view op) {
  const int64_t size = x.size(dim);
  Tensor host = index.device().is_cpu() ? index : to_device(index, Device::cpu());
  for (int64_t v : host.to_vector<int64_t>())
    EMBER_CHECK(v >= 0 && v < size, "{}: index {} is out of range for dim {} with size {} (input {})", op, v, dim, size,
                shape_str(x.shape()));
}

// ---- index_select -------------------------------------------------------------------------
// y = x.index_select(dim, index); backward: grad_x = zeros(x) with grad_x[index[j]] += g[j]
// along dim (index_add), so repeated indices accumulate.
class IndexSelectBackward final : public Node {
 public:
  IndexSelectBackward(const Tensor& index, int64_t dim, Shape x_shape)
      : index_(index), dim_(dim), x_shape_(std::move(x_shape)) {}
  std::string name() const override { return "IndexSelectBackward"; }
  void release_saved() override { index_.release(); }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor index = index_.unpack(*this);
    const Tensor& g = grads[0];
    Tensor grad_x = Tensor::zeros(x_shape_, g.options());
    backend_of(g).index_add(grad_x, dim_, index, g);
    return {grad_x};
  }

 private:
  SavedTensor index_;
  int64_t dim_;
  Shape x_shape_;
};

// Validated x (>= 1-D, wrapped dim) and index (<= 1-D, in range): the shared forward.
Tensor index_select_unchecked(const Tensor& x, int64_t dim, const Tensor& index) {
  Shape shape = x.shape();
  shape[dim] = index.numel();
  Tensor out = Tensor::empty(shape, x.options());
  backend_of(x).index_select(x, dim, index, out);
  record<IndexSelectBackward>({x}, {out}, index, dim, x.shape());
  return out;
}

// ---- gather / scatter_add -----------------------------------------------------------------
// y[i][j][k] = x[index[i][j][k]][j][k] (dim 0); backward: grad_x = zeros(x).scatter_add(dim, index, g).
class GatherBackward final : public Node {
 public:
  GatherBackward(const Tensor& index, int64_t dim, Shape x_shape)
      : index_(index), dim_(dim), x_shape_(std::move(x_shape)) {}
  std::string name() const override { return "GatherBackward"; }
  void release_saved() override { index_.release(); }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor index = index_.unpack(*this);
    const Tensor& g = grads[0];
    Tensor grad_x = Tensor::zeros(x_shape_, g.options());
    backend_of(g).scatter_add(grad_x, dim_, index, g);
    return {grad_x};
  }

 private:
  SavedTensor index_;
  int64_t dim_;
  Shape x_shape_;
};

// y = x; y[index[i][j][k]][j][k] += src[i][j][k] (dim 0), over index's extent.
// backward: grad_x = g; grad_src = gather(g, dim, index) inside index's extent, 0 beyond it.
class ScatterAddBackward final : public Node {
 public:
  ScatterAddBackward(const Tensor& index, int64_t dim, Shape src_shape)
      : index_(index), dim_(dim), src_shape_(std::move(src_shape)) {}
  std::string name() const override { return "ScatterAddBackward"; }
  void release_saved() override { index_.release(); }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override {
    Tensor index = index_.unpack(*this);
    const Tensor& g = grads[0];
    Tensor grad_x, grad_src;
    if (needs_input_grad(0)) grad_x = g;
    if (needs_input_grad(1)) {
      Tensor picked = Tensor::empty(index.shape(), g.options());
      backend_of(g).gather(g, dim_, index, picked);
      if (index.shape() == src_shape_) {
        grad_src = picked;
      } else {  // src larger than index: its untouched elements get zero gradient
        grad_src = Tensor::zeros(src_shape_, g.options());
        backend_of(g).copy(picked, grad_src.as_strided(index.shape(), grad_src.strides(), 0));
      }
    }
    return {grad_x, grad_src};
  }

 private:
  SavedTensor index_;
  int64_t dim_;
  Shape src_shape_;
};

// gather/scatter_add shape rule: index has x's rank and index.size(d) <= x.size(d) for d != dim.
void check_gather_shapes(const Tensor& x, int64_t dim, const Tensor& index, std::string_view op) {
  EMBER_CHECK(index.dim() == x.dim(), "{}: index must have as many dims as the input (index {}, input {})", op,
              shape_str(index.shape()), shape_str(x.shape()));
  for (int64_t d = 0; d < x.dim(); ++d)
    EMBER_CHECK(d == dim || index.size(d) <= x.size(d),
                "{}: index size {} exceeds input size {} at dim {} (index {}, input {})", op, index.size(d), x.size(d),
                d, shape_str(index.shape()), shape_str(x.shape()));
}

}  // namespace

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_defined(x, "index_select", "x");
  check_index_tensor(index, x, "index_select");
  EMBER_CHECK(x.dim() >= 1, "index_select: input must have at least 1 dim (input {})", shape_str(x.shape()));
  EMBER_CHECK(index.dim() <= 1, "index_select: index must be 0-d or 1-D (index {})", shape_str(index.shape()));
  dim = wrap_dim(dim, x.dim(), "index_select");
  check_index_values(index, dim, x, "index_select");
  return index_select_unchecked(x, dim, index);
}

Tensor embedding(const Tensor& weight, const Tensor& indices) {
  check_defined(weight, "embedding", "weight");
  check_floating(weight, "embedding");
  check_index_tensor(indices, weight, "embedding");
  EMBER_CHECK(weight.dim() == 2, "embedding: weight must be 2-D [V, D] (weight {})", shape_str(weight.shape()));
  check_index_values(indices, 0, weight, "embedding");
  // [...] indices -> [N] rows of weight -> [..., D]
  Tensor flat = reshape(indices, {indices.numel()});
  Shape out_shape = indices.shape();
  out_shape.push_back(weight.size(1));
  return reshape(index_select_unchecked(weight, 0, flat), out_shape);
}

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_defined(x, "gather", "x");
  check_index_tensor(index, x, "gather");
  EMBER_CHECK(x.dim() >= 1, "gather: input must have at least 1 dim (input {})", shape_str(x.shape()));
  dim = wrap_dim(dim, x.dim(), "gather");
  check_gather_shapes(x, dim, index, "gather");
  check_index_values(index, dim, x, "gather");
  Tensor out = Tensor::empty(index.shape(), x.options());
  backend_of(x).gather(x, dim, index, out);
  record<GatherBackward>({x}, {out}, index, dim, x.shape());
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  check_defined(x, "scatter_add", "x");
  check_defined(src, "scatter_add", "src");
  check_index_tensor(index, x, "scatter_add");
  check_same_dtype(x, src, "scatter_add");
  check_same_device(x, src, "scatter_add");
  EMBER_CHECK(x.dim() >= 1, "scatter_add: input must have at least 1 dim (input {})", shape_str(x.shape()));
  dim = wrap_dim(dim, x.dim(), "scatter_add");
  check_gather_shapes(x, dim, index, "scatter_add");
  EMBER_CHECK(src.dim() == index.dim(), "scatter_add: src must have as many dims as index (src {}, index {})",
              shape_str(src.shape()), shape_str(index.shape()));
  for (int64_t d = 0; d < src.dim(); ++d)
    EMBER_CHECK(index.size(d) <= src.size(d),
                "scatter_add: index size {} exceeds src size {} at dim {} (index {}, src {})", index.size(d),
                src.size(d), d, shape_str(index.shape()), shape_str(src.shape()));
  check_index_values(index, dim, x, "scatter_add");
  Tensor out = Tensor::empty(x.shape(), x.options());
  backend_of(x).copy(x, out);
  backend_of(x).scatter_add(out, dim, index, src);
  record<ScatterAddBackward>({x, src}, {out}, index, dim, src.shape());
  return out;
}

}  // namespace ember

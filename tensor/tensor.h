// Tensor: a cheap, ref-counted handle to a TensorImpl (storage + layout + autograd slots).
//
// Two kinds of members live here:
//  * structural ones (shape, strides, data access, raw views, creation), defined in tensor/;
//  * differentiable method sugar (reshape, sum, matmul, ...), declared here for a PyTorch-like
//    API and defined in autograd/tensor_methods.cpp, which forwards to the free functions of
//    autograd/ops.h. Code in tensor/ never calls them (the link graph enforces that).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tensor/tensor_impl.h"

namespace ember {

class Generator;

struct TensorOptions {
  DType dtype = DType::f32;
  Device device = Device::cpu();
  bool requires_grad = false;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- creation (tensor/tensor.cpp) ----
  static Tensor empty(const Shape& shape, TensorOptions opts = {});
  static Tensor zeros(const Shape& shape, TensorOptions opts = {});
  static Tensor ones(const Shape& shape, TensorOptions opts = {});
  static Tensor full(const Shape& shape, double value, TensorOptions opts = {});
  static Tensor scalar(double value, TensorOptions opts = {});  // 0-d
  static Tensor arange(double start, double end, double step = 1, TensorOptions opts = {});
  static Tensor linspace(double start, double end, int64_t steps, TensorOptions opts = {});
  static Tensor eye(int64_t n, TensorOptions opts = {});
  // Copies `values` (row-major) into a new tensor; numel(shape) must equal values.size().
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions opts = {});
  // Copies nbytes = numel*dtype_size from `data` (host memory, row-major, dtype = opts.dtype).
  static Tensor from_buffer(const void* data, const Shape& shape, TensorOptions opts = {});
  // Random fills use `gen` or the default generator (ember::manual_seed); same seed, same numbers.
  static Tensor rand(const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);   // U[0,1)
  static Tensor randn(const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);  // N(0,1)
  static Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opts = {.dtype = DType::i64},
                        Generator* gen = nullptr);  // [low, high)

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return meta().shape; }
  const Strides& strides() const { return meta().strides; }
  int64_t dim() const { return static_cast<int64_t>(meta().shape.size()); }
  int64_t size(int64_t d) const;    // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t numel() const { return numel_of(meta().shape); }
  int64_t offset() const { return meta().offset; }
  DType dtype() const { return meta().dtype; }
  Device device() const { return meta().storage->device(); }
  TensorOptions options() const { return {.dtype = dtype(), .device = device()}; }
  bool is_contiguous() const;
  size_t element_size() const { return dtype_size(dtype()); }

  // ---- data access (CPU) ----
  void* raw_data() const;  // address of element [0,..,0]
  template <typename T>
  T* data() const;  // checks that T matches dtype()
  double item() const;  // single-element tensors only; "item: tensor has N elements"
  template <typename T>
  T item() const { return convert<T>(item()); }  // tensor/dtype.h conversion rule
  // Row-major copy of all elements, converted to T.
  template <typename T>
  std::vector<T> to_vector() const;

  // ---- identity and storage ----
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }
  uint32_t version() const { return meta().storage->version(); }
  void bump_version() const { meta().storage->bump_version(); }
  // A view of the same storage with another layout, no autograd (kernels and views build on it).
  Tensor as_strided(const Shape& shape, const Strides& strides, int64_t offset) const;
  // Same storage and layout, no autograd history, requires_grad false.
  Tensor detach() const;

  // ---- autograd slots (tensor/tensor.cpp) and engine entry (autograd/) ----
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  Tensor& requires_grad_(bool on = true);  // leaves only; floating dtypes only
  Tensor grad() const;                     // undefined until a backward reaches this leaf
  void set_grad(const Tensor& g) const;
  void zero_grad() const;  // drops .grad
  const std::shared_ptr<autograd::Node>& grad_fn() const { return meta().grad_fn; }
  bool is_leaf() const { return meta().grad_fn == nullptr; }
  // Reverse-mode pass from this tensor (autograd/engine.cpp). `grad` may be omitted for a
  // single-element tensor (taken as 1). retain_graph keeps saved tensors for another pass.
  void backward(const Tensor& grad = {}, bool retain_graph = false) const;

  // ---- differentiable method sugar (autograd/tensor_methods.cpp) ----
  Tensor reshape(const Shape& shape) const;  // a view when the layout allows, else a copy
  Tensor view(const Shape& shape) const;     // always a view; throws when strides do not allow it
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;  // 2-D transpose
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;  // -1 keeps a dim
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor contiguous() const;  // itself when already contiguous
  Tensor clone() const;
  Tensor to(DType dtype) const;
  Tensor to(Device device) const;
  Tensor sum(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  Tensor mean(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  Tensor matmul(const Tensor& other) const;
  Tensor pow(double exponent) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor relu() const;
  Tensor abs() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor neg() const;
  Tensor square() const;
  Tensor sin() const;
  Tensor cos() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor silu() const;
  Tensor clamp(std::optional<double> lo, std::optional<double> hi) const;
  Tensor var(const std::vector<int64_t>& dims = {}, int64_t correction = 1, bool keepdim = false) const;
  Tensor amax(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  Tensor amin(const std::vector<int64_t>& dims = {}, bool keepdim = false) const;
  Tensor argmax(std::optional<int64_t> dim = std::nullopt, bool keepdim = false) const;  // i64
  Tensor softmax(int64_t dim = -1) const;
  Tensor log_softmax(int64_t dim = -1) const;

  // ---- in-place, for optimizers and initialisation (autograd/tensor_methods.cpp) ----
  // Allowed when grad mode is off or the tensor does not require grad; bump the version.
  Tensor& zero_();
  Tensor& fill_(double value);
  Tensor& copy_(const Tensor& src);  // broadcasts src, casts dtype
  Tensor& add_(const Tensor& other, double alpha = 1);
  Tensor& mul_(double value);
  Tensor& mul_(const Tensor& other);
  Tensor& uniform_(double lo, double hi, Generator* gen = nullptr);
  Tensor& normal_(double mean, double std, Generator* gen = nullptr);

  // ---- printing (tensor/print.cpp) ----
  std::string str() const;

 private:
  // The impl for metadata reads; an undefined Tensor throws "tensor: ... undefined" (no segfault).
  const TensorImpl& meta() const {
    if (!impl_) throw_undefined();
    return *impl_;
  }
  [[noreturn]] static void throw_undefined();

  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Checks used at op entry points: they throw `op: ...` with names and shapes.
void check_defined(const Tensor& t, std::string_view op, std::string_view name);
void check_same_dtype(const Tensor& a, const Tensor& b, std::string_view op);
void check_same_device(const Tensor& a, const Tensor& b, std::string_view op);
void check_floating(const Tensor& t, std::string_view op);
void check_dim(const Tensor& t, int64_t ndim, std::string_view op, std::string_view name);
// Throws "op: unsupported operation: more than one element of the written-to tensor refers to a
// single memory location" (PyTorch's rule for in-place writes), e.g. into an expanded view.
void check_no_internal_overlap(const Tensor& t, std::string_view op);
// Whether a and b share storage with element ranges that intersect without being the same layout
// (an elementwise read of b while writing a could then read already-written elements).
bool partially_overlaps(const Tensor& a, const Tensor& b);

// ---------------------------------------------------------------------------------------------
template <typename T>
T* Tensor::data() const {
  EMBER_CHECK(dtype_of<T>() == dtype(), "data: tensor has dtype {}, requested {}", dtype(), dtype_of<T>());
  return static_cast<T*>(raw_data());
}

}  // namespace ember

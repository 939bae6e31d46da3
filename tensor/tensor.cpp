// Tensor: construction, metadata, data access, raw views and the entry checks used by ops.
#include "tensor/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/backend.h"
#include "tensor/cpu/cpu_backend.h"
#include "tensor/generator.h"

namespace ember {
namespace {

Tensor make_tensor(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape) EMBER_CHECK(s >= 0, "empty: negative size in shape {}", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->strides = contiguous_strides(shape, "empty");
  int64_t nbytes = checked_mul(numel_of(shape, "empty"), int64_t(dtype_size(dtype)), shape, "empty");
  impl->storage = std::make_shared<Storage>(size_t(nbytes), device);
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor finish(Tensor t, const TensorOptions& opts) {
  if (opts.requires_grad) t.requires_grad_(true);
  return t;
}

// Fills `host` (a CPU tensor) then moves it to opts.device.
Tensor to_target(const Tensor& host, const TensorOptions& opts) {
  if (opts.device.is_cpu()) return finish(host, opts);
  Tensor out = make_tensor(host.shape(), host.dtype(), opts.device);
  backend_for(opts.device).copy(host, out);
  return finish(out, opts);
}

}  // namespace

void Tensor::throw_undefined() {
  throw Error("tensor: shape, dtype or storage read from an undefined tensor (a default-constructed Tensor)");
}

// ---------------------------------------------------------------- creation
Tensor Tensor::empty(const Shape& shape, TensorOptions opts) {
  return finish(make_tensor(shape, opts.dtype, opts.device), opts);
}

Tensor Tensor::full(const Shape& shape, double value, TensorOptions opts) {
  Tensor t = make_tensor(shape, opts.dtype, opts.device);
  backend_for(opts.device).fill(t, value);
  return finish(t, opts);
}

Tensor Tensor::zeros(const Shape& shape, TensorOptions opts) { return full(shape, 0.0, opts); }
Tensor Tensor::ones(const Shape& shape, TensorOptions opts) { return full(shape, 1.0, opts); }
Tensor Tensor::scalar(double value, TensorOptions opts) { return full({}, value, opts); }

Tensor Tensor::arange(double start, double end, double step, TensorOptions opts) {
  EMBER_CHECK(step != 0 && std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
              "arange: invalid range start={} end={} step={}", start, end, step);
  EMBER_CHECK((end - start) / step >= 0, "arange: step {} has the wrong sign for [{}, {})", step, start, end);
  double count = std::ceil((end - start) / step);
  EMBER_CHECK(count < 9.2e18, "arange: [{}, {}) with step {} has {:g} elements, which overflows int64", start, end,
              step, count);
  auto n = static_cast<int64_t>(count);
  Tensor host = make_tensor({n}, opts.dtype, Device::cpu());
  dispatch_all(opts.dtype, "arange", [&]<typename T>() {
    T* p = host.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = convert<T>(start + double(i) * step);
  });
  return to_target(host, opts);
}

Tensor Tensor::linspace(double start, double end, int64_t steps, TensorOptions opts) {
  EMBER_CHECK(steps >= 0, "linspace: steps must be non-negative, got {}", steps);
  Tensor host = make_tensor({steps}, opts.dtype, Device::cpu());
  dispatch_all(opts.dtype, "linspace", [&]<typename T>() {
    T* p = host.data<T>();
    double step = steps > 1 ? (end - start) / double(steps - 1) : 0.0;
    // Fill from both ends (like PyTorch) so the last value is exactly `end`.
    for (int64_t i = 0; i < steps; ++i)
      p[i] = convert<T>(i < steps / 2 ? start + step * double(i) : end - step * double(steps - 1 - i));
  });
  return to_target(host, opts);
}

Tensor Tensor::eye(int64_t n, TensorOptions opts) {
  EMBER_CHECK(n >= 0, "eye: n must be non-negative, got {}", n);
  Tensor host = make_tensor({n, n}, opts.dtype, Device::cpu());
  dispatch_all(opts.dtype, "eye", [&]<typename T>() {
    T* p = host.data<T>();
    for (int64_t i = 0; i < n * n; ++i) p[i] = T(0);
    for (int64_t i = 0; i < n; ++i) p[i * n + i] = T(1);
  });
  return to_target(host, opts);
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions opts) {
  EMBER_CHECK(int64_t(values.size()) == numel_of(shape), "from_vector: {} values do not fill shape {} ({} elements)",
              values.size(), shape_str(shape), numel_of(shape));
  Tensor host = make_tensor(shape, opts.dtype, Device::cpu());
  dispatch_all(opts.dtype, "from_vector", [&]<typename U>() {
    U* p = host.data<U>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = convert<U>(values[i]);
  });
  return to_target(host, opts);
}
template Tensor Tensor::from_vector(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor Tensor::from_vector(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor Tensor::from_vector(const std::vector<int32_t>&, const Shape&, TensorOptions);
template Tensor Tensor::from_vector(const std::vector<int64_t>&, const Shape&, TensorOptions);
template Tensor Tensor::from_vector(const std::vector<uint8_t>&, const Shape&, TensorOptions);

Tensor Tensor::from_buffer(const void* data, const Shape& shape, TensorOptions opts) {
  EMBER_CHECK(data != nullptr || numel_of(shape) == 0, "from_buffer: null data for shape {}", shape_str(shape));
  Tensor host = make_tensor(shape, opts.dtype, Device::cpu());
  if (host.numel() > 0) std::memcpy(host.raw_data(), data, size_t(host.numel()) * dtype_size(opts.dtype));
  return to_target(host, opts);
}

// Counter blocks a fill of n elements consumes: 4 u32 per block, two per f64/i64 element.
static uint64_t blocks_for(int64_t n, DType dtype) {
  uint64_t per = dtype_size(dtype) == 8 ? 2 : 4;
  return (uint64_t(n) + per - 1) / per * 2;  // x2 leaves room for Box-Muller pairs
}

// Uniform [0,1) or standard normal fill from `gen` (or the default generator).
static Tensor random_float(const Shape& shape, TensorOptions opts, Generator* gen, bool normal) {
  EMBER_CHECK(is_floating(opts.dtype), "{}: expected a floating dtype, got {}", normal ? "randn" : "rand", opts.dtype);
  Generator& g = gen ? *gen : default_generator();
  Tensor t = make_tensor(shape, opts.dtype, opts.device);
  uint64_t off = g.take(blocks_for(t.numel(), opts.dtype));
  Backend& be = backend_for(opts.device);
  if (normal)
    be.random_normal(t, 0.0, 1.0, g.seed(), off);
  else
    be.random_uniform(t, 0.0, 1.0, g.seed(), off);
  return finish(t, opts);
}

Tensor Tensor::rand(const Shape& shape, TensorOptions opts, Generator* gen) {
  return random_float(shape, opts, gen, false);
}

Tensor Tensor::randn(const Shape& shape, TensorOptions opts, Generator* gen) {
  return random_float(shape, opts, gen, true);
}

Tensor Tensor::randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opts, Generator* gen) {
  EMBER_CHECK(low < high, "randint: empty range [{}, {})", low, high);
  Generator& g = gen ? *gen : default_generator();
  Tensor t = make_tensor(shape, opts.dtype, opts.device);
  uint64_t off = g.take(blocks_for(t.numel(), DType::i64));
  backend_for(opts.device).random_int(t, low, high, g.seed(), off);
  return finish(t, opts);
}

// ---------------------------------------------------------------- metadata and data
int64_t Tensor::size(int64_t d) const { return impl_->shape[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return impl_->strides[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;
  int64_t expected = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    if (impl_->shape[d] == 1) continue;
    if (impl_->strides[d] != expected) return false;
    expected *= impl_->shape[d];
  }
  return true;
}

void* Tensor::raw_data() const {
  EMBER_CHECK(defined(), "data: tensor is undefined");
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * int64_t(element_size());
}

double Tensor::item() const {
  EMBER_CHECK(defined(), "item: tensor is undefined");
  EMBER_CHECK(numel() == 1, "item: tensor of shape {} has {} elements, expected 1", shape_str(shape()), numel());
  if (!device().is_cpu()) return to_vector<double>()[0];  // one-element download through the backend
  return dispatch_all(dtype(), "item", [&]<typename T>() { return double(*data<T>()); });
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  EMBER_CHECK(defined(), "to_vector: tensor is undefined");
  std::vector<T> out(static_cast<size_t>(numel()));
  if (out.empty()) return out;
  Tensor dst = Tensor::empty(shape(), {.dtype = dtype_of<T>()});
  backend_for(device()).copy(*this, dst);  // a device backend downloads (and converts) into host memory
  std::memcpy(out.data(), dst.raw_data(), out.size() * sizeof(T));
  return out;
}
template std::vector<float> Tensor::to_vector() const;
template std::vector<double> Tensor::to_vector() const;
template std::vector<int32_t> Tensor::to_vector() const;
template std::vector<int64_t> Tensor::to_vector() const;
template std::vector<uint8_t> Tensor::to_vector() const;

Tensor Tensor::as_strided(const Shape& shape, const Strides& strides, int64_t offset) const {
  EMBER_ASSERT(shape.size() == strides.size(), "as_strided: shape {} vs {} strides", shape_str(shape),
               strides.size());
  // Bounds: the view must stay inside the storage (no out-of-bounds reads through views).
  int64_t lo = offset, hi = offset;
  bool overflow = false;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) { hi = lo - 1; break; }
    int64_t span = 0;
    int64_t& end = strides[d] >= 0 ? hi : lo;
    overflow = overflow || __builtin_mul_overflow(shape[d] - 1, strides[d], &span) ||
               __builtin_add_overflow(end, span, &end);
  }
  EMBER_CHECK(!overflow, "as_strided: size overflows int64 (shape {}, strides [{}])", shape_str(shape),
              fmt::join(strides, ","));
  int64_t capacity = int64_t(impl_->storage->nbytes() / element_size());
  EMBER_ASSERT(hi < lo || (lo >= 0 && hi < capacity), "as_strided: view {} at offset {} exceeds storage of {}",
               shape_str(shape), offset, capacity);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::detach() const { return as_strided(shape(), strides(), offset()); }

// ---------------------------------------------------------------- autograd slots
Tensor& Tensor::requires_grad_(bool on) {
  EMBER_CHECK(defined(), "requires_grad_: tensor is undefined");
  EMBER_CHECK(is_leaf(), "requires_grad_: only leaf tensors can change requires_grad (this one comes from {})",
              "an op");
  EMBER_CHECK(!on || is_floating(dtype()), "requires_grad_: only floating tensors can require grad, got {}",
              dtype());
  impl_->requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return impl_->grad ? Tensor(impl_->grad) : Tensor(); }

void Tensor::set_grad(const Tensor& g) const {
  if (g.defined())
    EMBER_CHECK(g.shape() == shape() && g.dtype() == dtype(), "set_grad: grad {} {} does not match tensor {} {}",
                shape_str(g.shape()), g.dtype(), shape_str(shape()), dtype());
  impl_->grad = g.impl_ptr();
}

void Tensor::zero_grad() const { impl_->grad.reset(); }

// ---------------------------------------------------------------- entry checks
void check_defined(const Tensor& t, std::string_view op, std::string_view name) {
  EMBER_CHECK(t.defined(), "{}: {} is an undefined tensor", op, name);
}

void check_same_dtype(const Tensor& a, const Tensor& b, std::string_view op) {
  EMBER_CHECK(a.dtype() == b.dtype(), "{}: dtype mismatch, {} {} vs {} {}", op, shape_str(a.shape()), a.dtype(),
              shape_str(b.shape()), b.dtype());
  check_same_device(a, b, op);
}

void check_same_device(const Tensor& a, const Tensor& b, std::string_view op) {
  EMBER_CHECK(a.device() == b.device(), "{}: device mismatch, {} on {} vs {} on {}", op, shape_str(a.shape()),
              a.device(), shape_str(b.shape()), b.device());
}

void check_floating(const Tensor& t, std::string_view op) {
  EMBER_CHECK(is_floating(t.dtype()), "{}: expected a floating tensor (f32 or f64), got {} {}", op,
              shape_str(t.shape()), t.dtype());
}

void check_dim(const Tensor& t, int64_t ndim, std::string_view op, std::string_view name) {
  EMBER_CHECK(t.dim() == ndim, "{}: {} must be {}-D, got shape {}", op, name, ndim, shape_str(t.shape()));
}

void check_no_internal_overlap(const Tensor& t, std::string_view op) {
  // Sorted by stride, each dim must step past everything the smaller-stride dims reach. A layout
  // that fails this may overlap (certainly does with a 0 stride on a dim longer than 1): refused.
  std::vector<std::pair<int64_t, int64_t>> dims;  // (|stride|, size) of dims longer than 1
  for (int64_t d = 0; d < t.dim(); ++d)
    if (t.size(d) > 1) dims.emplace_back(std::abs(t.stride(d)), t.size(d));
  std::sort(dims.begin(), dims.end());
  int64_t reach = 0;  // largest offset reached by the dims so far
  bool ok = true;
  for (auto [stride, size] : dims) {
    ok = ok && stride > reach;
    reach += stride * (size - 1);
  }
  EMBER_CHECK(ok,
              "{}: unsupported operation: more than one element of the written-to tensor {} (strides {}) refers to "
              "a single memory location; clone() it first",
              op, shape_str(t.shape()), shape_str(t.strides()));
}

bool partially_overlaps(const Tensor& a, const Tensor& b) {
  if (a.impl()->storage != b.impl()->storage || a.numel() == 0 || b.numel() == 0) return false;
  if (a.offset() == b.offset() && a.strides() == b.strides() && a.shape() == b.shape()) return false;
  auto range = [](const Tensor& t) {
    int64_t lo = t.offset(), hi = t.offset();
    for (int64_t d = 0; d < t.dim(); ++d) (t.stride(d) >= 0 ? hi : lo) += (t.size(d) - 1) * t.stride(d);
    return std::pair{lo * int64_t(t.element_size()), (hi + 1) * int64_t(t.element_size())};
  };
  auto [alo, ahi] = range(a);
  auto [blo, bhi] = range(b);
  return alo < bhi && blo < ahi;
}

// ---------------------------------------------------------------- generator and backends
namespace {
thread_local Generator* t_scoped_generator = nullptr;  // GeneratorScope
}  // namespace

Generator& default_generator() {
  if (t_scoped_generator) return *t_scoped_generator;
  static Generator g(0);
  return g;
}

GeneratorScope::GeneratorScope(Generator& gen) : previous_(t_scoped_generator) { t_scoped_generator = &gen; }
GeneratorScope::~GeneratorScope() { t_scoped_generator = previous_; }
void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

namespace {
Backend* g_backends[2] = {nullptr, nullptr};
}

void register_backend(DeviceType type, Backend* backend) { g_backends[static_cast<int>(type)] = backend; }

Backend& backend_for(Device d) {
  if (d.is_cpu()) {
    static cpu::CpuBackend cpu_backend;
    return cpu_backend;
  }
  Backend* b = g_backends[static_cast<int>(d.type)];
  EMBER_CHECK(b != nullptr, "backend: device {} is not available (not built in, or no device present)", d);
  return *b;
}

}  // namespace ember

namespace ember {
void Backend::unsupported(Prim p) const {
  EMBER_CHECK(false, "{}: not supported on {}", prim_name(p), device().type == DeviceType::cpu ? "cpu" : "cuda");
  __builtin_unreachable();
}
}  // namespace ember

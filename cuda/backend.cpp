// CUDA backend: registration, shared helpers, copies (host <-> device, device <-> device, with dtype
// conversion) and the elementwise primitives.
//
// Registration: a static initializer registers the backend and the caching allocator for
// DeviceType::cuda without touching the driver; the first call that needs a device checks that
// one exists ("cuda: no CUDA device available" otherwise). ember_cuda is linked whole-archive so
// this object is always kept.
//
// Copies: the device side does the dtype conversion and any strided layout; the host side is
// made contiguous first (by the CPU backend) and moved with cudaMemcpyAsync on the device stream.
// Device-to-host copies synchronise the stream before the host reads.
#include "cuda/backend.h"

#include <array>

#include "cuda/cuda.h"
#include "cuda/device.h"
#include "cuda/kernels/kernels.h"

namespace ember::cuda {

Allocator& caching_allocator();  // runtime.cpp

namespace {
CudaBackend& the_backend() {
  static auto* b = new CudaBackend();  // never destroyed: tensors may outlive statics
  return *b;
}
[[maybe_unused]] const bool g_registered = [] {
  register_backend(DeviceType::cuda, &the_backend());
  set_device_allocator(DeviceType::cuda, &caching_allocator());
  return true;
}();
}  // namespace

void use_device(const Tensor& t) {
  const int idx = t.device().index;
  static thread_local int current = -1;
  if (idx == current) return;
  init(idx);
  current = idx;
}

template <int K>
Iter<K> make_iter(const Shape& shape, const std::array<Strides, K>& strides) {
  Iter<K> it;
  it.numel = numel_of(shape);
  Shape sz;
  std::array<Strides, K> st;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !sz.empty();
    for (int k = 0; k < K && merge; ++k) merge = st[k].back() == strides[k][d] * shape[d];
    if (merge) {
      sz.back() *= shape[d];
      for (int k = 0; k < K; ++k) st[k].back() = strides[k][d];
    } else {
      sz.push_back(shape[d]);
      for (int k = 0; k < K; ++k) st[k].push_back(strides[k][d]);
    }
  }
  if (sz.empty()) {
    sz.push_back(1);
    for (int k = 0; k < K; ++k) st[k].push_back(0);
  }
  EMBER_CHECK(sz.size() <= size_t(kMaxDims), "cuda: {} non-mergeable dims exceed the kernel limit of {} (shape {})",
              sz.size(), kMaxDims, shape_str(shape));
  it.ndim = int(sz.size());
  it.contiguous = it.ndim == 1;
  for (int d = 0; d < it.ndim; ++d) {
    it.size[d] = sz[d];
    for (int k = 0; k < K; ++k) {
      it.stride[k][d] = st[k][d];
      if (st[k][d] != 1) it.contiguous = false;
    }
  }
  return it;
}
template Iter<1> make_iter<1>(const Shape&, const std::array<Strides, 1>&);
template Iter<2> make_iter<2>(const Shape&, const std::array<Strides, 2>&);
template Iter<3> make_iter<3>(const Shape&, const std::array<Strides, 3>&);
template Iter<4> make_iter<4>(const Shape&, const std::array<Strides, 4>&);

Tensor scratch(const Shape& shape, DType dtype, Device device) {
  return Tensor::empty(shape, {.dtype = dtype, .device = device});
}

// ---------------------------------------------------------------- copy and fill
namespace {

// A dense device tensor of src's shape and dtype holding src's values (src itself when dense).
Tensor dense_on_device(const Tensor& src) {
  if (src.is_contiguous()) return src;
  Tensor t = scratch(src.shape(), src.dtype(), src.device());
  launch_copy(src.raw_data(), src.dtype(), t.raw_data(), t.dtype(),
              make_iter<2>(src.shape(), {src.strides(), t.strides()}));
  return t;
}

size_t nbytes_of(const Tensor& t) { return size_t(t.numel()) * t.element_size(); }

}  // namespace

void CudaBackend::copy(const Tensor& src, const Tensor& dst) {
  EMBER_ASSERT(src.shape() == dst.shape(), "copy: src {} vs dst {}", shape_str(src.shape()), shape_str(dst.shape()));
  if (dst.numel() == 0) return;
  Backend& cpu = backend_for(Device::cpu());
  if (src.device().is_cuda() && dst.device().is_cuda() && src.device() == dst.device()) {
    use_device(dst);
    launch_copy(src.raw_data(), src.dtype(), dst.raw_data(), dst.dtype(),
                make_iter<2>(dst.shape(), {src.strides(), dst.strides()}));
    return;
  }
  if (src.device().is_cpu()) {  // host -> device: stage a dense host copy, upload, convert on device
    use_device(dst);
    Tensor host = src;
    if (!src.is_contiguous()) {
      host = Tensor::empty(src.shape(), {.dtype = src.dtype()});
      cpu.copy(src, host);
    }
    const bool direct = dst.is_contiguous() && dst.dtype() == src.dtype();
    Tensor dev = direct ? dst : scratch(src.shape(), src.dtype(), dst.device());
    EMBER_CUDA_CHECK(
        cudaMemcpyAsync(dev.raw_data(), host.raw_data(), nbytes_of(host), cudaMemcpyHostToDevice, current_stream()));
    if (!direct) copy(dev, dst);
    // Pageable uploads return once the host buffer was staged, so `host` may be freed now.
    return;
  }
  if (dst.device().is_cpu()) {  // device -> host: dense device copy, download, convert on host
    use_device(src);
    Tensor dev = dense_on_device(src);
    const bool direct = dst.is_contiguous() && dst.dtype() == src.dtype();
    Tensor host = direct ? dst : Tensor::empty(src.shape(), {.dtype = src.dtype()});
    EMBER_CUDA_CHECK(
        cudaMemcpyAsync(host.raw_data(), dev.raw_data(), nbytes_of(dev), cudaMemcpyDeviceToHost, current_stream()));
    EMBER_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
    if (!direct) cpu.copy(host, dst);
    return;
  }
  // device -> another device: dense copy on the source, peer copy, convert on the destination.
  use_device(src);
  Tensor dev = dense_on_device(src);
  EMBER_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
  use_device(dst);
  Tensor landed = scratch(src.shape(), src.dtype(), dst.device());
  EMBER_CUDA_CHECK(cudaMemcpyPeerAsync(landed.raw_data(), dst.device().index, dev.raw_data(), src.device().index,
                                       nbytes_of(dev), current_stream()));
  EMBER_CUDA_CHECK(cudaStreamSynchronize(current_stream()));
  copy(landed, dst);
}

void CudaBackend::fill(const Tensor& dst, double value) {
  if (dst.numel() == 0) return;
  use_device(dst);
  launch_fill(dst.raw_data(), dst.dtype(), value, make_iter<1>(dst.shape(), {dst.strides()}));
}

// ---------------------------------------------------------------- elementwise
void CudaBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, UnaryParams p) {
  EMBER_ASSERT(x.shape() == out.shape(), "unary: x {} vs out {}", shape_str(x.shape()), shape_str(out.shape()));
  if (out.numel() == 0) return;
  use_device(out);
  launch_unary(op, p.alpha, p.beta, x.raw_data(), out.raw_data(), x.dtype(),
               make_iter<2>(out.shape(), {x.strides(), out.strides()}));
}

void CudaBackend::unary_backward(UnaryOp op, const Tensor& x, const Tensor& grad_out, const Tensor& grad_in,
                                 UnaryParams p) {
  if (grad_in.numel() == 0) return;
  EMBER_CHECK(is_floating(x.dtype()), "unary_backward: expected f32 or f64, got {}", x.dtype());
  use_device(grad_in);
  launch_unary_backward(op, p.alpha, p.beta, x.raw_data(), grad_out.raw_data(), grad_in.raw_data(),
                        x.dtype(), make_iter<3>(grad_in.shape(), {x.strides(), grad_out.strides(), grad_in.strides()}));
}

void CudaBackend::binary(BinaryOp op, const Tensor& a, const Tensor& b, const Tensor& out) {
  EMBER_ASSERT(a.shape() == out.shape() && b.shape() == out.shape(), "binary: {} {} -> {}", shape_str(a.shape()),
               shape_str(b.shape()), shape_str(out.shape()));
  if (out.numel() == 0) return;
  use_device(out);
  launch_binary(op, a.raw_data(), b.raw_data(), out.raw_data(), a.dtype(),
                make_iter<3>(out.shape(), {a.strides(), b.strides(), out.strides()}));
}

void CudaBackend::where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  if (out.numel() == 0) return;
  use_device(out);
  launch_where(static_cast<const uint8_t*>(cond.raw_data()), a.raw_data(), b.raw_data(), out.raw_data(),
               a.dtype(), make_iter<4>(out.shape(), {cond.strides(), a.strides(), b.strides(), out.strides()}));
}

}  // namespace ember::cuda

// Device discovery, and add_f32_host: a first end-to-end path (host -> device -> kernel -> host)
// kept from the toolchain bring-up; it now runs through the CUDA backend like any op.
#include "cuda/device.h"

#include <cuda_runtime.h>

#include "cuda/common.cuh"
#include "tensor/backend.h"
#include "tensor/tensor.h"

namespace ember::cuda {

int device_count() {
  static const int n = [] {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky "no driver / no device" error
      return 0;
    }
    return count;
  }();
  return n;
}

bool is_available() { return device_count() > 0; }

std::string device_name(int i) {
  int n = device_count();
  EMBER_CHECK(i >= 0 && i < n, "cuda: device {} out of range ({} devices)", i, n);
  cudaDeviceProp p{};
  EMBER_CUDA_CHECK(cudaGetDeviceProperties(&p, i));
  return fmt::format("{} (sm_{}{}, {} GiB)", p.name, p.major, p.minor, p.totalGlobalMem >> 30);
}

void add_f32_host(const float* a, const float* b, float* out, int64_t n) {
  EMBER_CHECK(is_available(), "cuda: no CUDA device available");
  EMBER_CHECK(n >= 0, "cuda add: negative length {}", n);
  if (n == 0) return;
  const TensorOptions opts{.dtype = DType::f32, .device = Device::cuda()};
  Tensor da = Tensor::from_buffer(a, {n}, opts), db = Tensor::from_buffer(b, {n}, opts);
  Tensor dout = Tensor::empty({n}, opts);
  backend_for(opts.device).binary(BinaryOp::add, da, db, dout);
  Tensor host = Tensor::empty({n});
  backend_for(opts.device).copy(dout, host);
  std::copy(host.data<float>(), host.data<float>() + n, out);
}

}  // namespace ember::cuda

// Device discovery and a first elementwise kernel.
// Legend: N elements; one thread per element, 256 threads per block, grid-stride loop.
#include "cuda/common.cuh"
#include "cuda/device.h"

namespace ember::cuda {

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver / no device" error
    return 0;
  }
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

namespace {
__global__ void add_f32_kernel(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ out,
                               int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = a[i] + b[i];
}
}  // namespace

void add_f32_host(const float* a, const float* b, float* out, int64_t n) {
  EMBER_CHECK(is_available(), "cuda: no CUDA device available");
  EMBER_CHECK(n >= 0, "cuda add: negative length {}", n);
  if (n == 0) return;
  size_t bytes = size_t(n) * sizeof(float);
  float *da = nullptr, *db = nullptr, *dout = nullptr;
  EMBER_CUDA_CHECK(cudaMalloc(&da, bytes));
  EMBER_CUDA_CHECK(cudaMalloc(&db, bytes));
  EMBER_CUDA_CHECK(cudaMalloc(&dout, bytes));
  EMBER_CUDA_CHECK(cudaMemcpy(da, a, bytes, cudaMemcpyHostToDevice));
  EMBER_CUDA_CHECK(cudaMemcpy(db, b, bytes, cudaMemcpyHostToDevice));
  int threads = 256;
  int blocks = int(std::min<int64_t>(ceil_div(n, threads), 4096));
  add_f32_kernel<<<blocks, threads>>>(da, db, dout, n);
  EMBER_CUDA_CHECK(cudaGetLastError());
  EMBER_CUDA_CHECK(cudaMemcpy(out, dout, bytes, cudaMemcpyDeviceToHost));
  cudaFree(da);
  cudaFree(db);
  cudaFree(dout);
}

}  // namespace ember::cuda

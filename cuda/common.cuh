// Shared CUDA helpers for kernel files (.cu compile as C++17 and include no fmt headers; of tensor/
// only the plain headers numerics.h and conv_geometry.h):
// error checks that throw ember::Error through a host function (never exit), ceil_div, dtype
// dispatch, strided-iteration descriptors, warp/block reductions.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "tensor/numerics.h"  // DType, the op enums and their formulas

namespace ember::cuda {

// Throws ember::Error "cuda: <call> failed with <code> (<string>) at file:line" (runtime.cpp).
[[noreturn]] void throw_cuda_error(const char* call, int code, const char* what, const char* file, int line);
inline void check_cuda(cudaError_t e, const char* call, const char* file, int line) {
  if (e != cudaSuccess) throw_cuda_error(call, static_cast<int>(e), cudaGetErrorString(e), file, line);
}

#define EMBER_CUDA_CHECK(call) ::ember::cuda::check_cuda((call), #call, __FILE__, __LINE__)
// After a launch: reports a bad configuration (grid, shared memory) with the kernel's name.
#define EMBER_CUDA_LAUNCHED(name) ::ember::cuda::check_cuda(cudaGetLastError(), "launch " name, __FILE__, __LINE__)

__host__ __device__ constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The stream every kernel of the current device runs on (runtime.cpp), and its SM count.
cudaStream_t current_stream();
int sm_count();

// Temporary device memory from the caching allocator (runtime.cpp), returned at scope exit. Safe
// to drop while kernels still use it: reuse is ordered on the same stream.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return ptr_; }
  template <typename T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// Calls f(T{}) with the C++ element type of t: launchers instantiate one kernel per dtype this way.
template <typename F>
void dispatch(DType t, F&& f) {
  switch (t) {
    case DType::f32: return f(float{});
    case DType::f64: return f(double{});
    case DType::i32: return f(int32_t{});
    case DType::i64: return f(int64_t{});
    case DType::u8: return f(uint8_t{});
  }
}
// The same for kernels that only take floating dtypes: f(float{}) for f32, else f(double{}).
template <typename F>
void dispatch_float(DType t, F&& f) {
  if (t == DType::f32) f(float{});
  else f(double{});
}

// A strided index space for K operands after dim coalescing (innermost dim last). Kernels map a
// linear index to per-operand element offsets with one divmod per dim.
constexpr int kMaxDims = 10;
template <int K>
struct Iter {
  int ndim = 0;
  int64_t numel = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[K][kMaxDims] = {};
  bool contiguous = false;  // one dim, every stride 1

  __device__ __forceinline__ void offsets(int64_t i, int64_t (&off)[K]) const {
    for (int k = 0; k < K; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t idx = i % size[d];
      i /= size[d];
      for (int k = 0; k < K; ++k) off[k] += idx * stride[k][d];
    }
  }
};

#ifdef __CUDACC__
// Sum / max over a warp with shuffles (all 32 lanes participate).
template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
template <typename T>
__device__ __forceinline__ T warp_max(T v) {
  for (int o = 16; o > 0; o >>= 1) {
    T w = __shfl_xor_sync(0xffffffffu, v, o);
    v = (w > v || w != w) ? w : v;  // NaN wins
  }
  return v;
}
// Block-wide sum (blockDim.x a multiple of 32, <= 1024); every thread gets the result.
template <typename T>
__device__ __forceinline__ T block_sum(T v) {
  __shared__ T part[32];
  v = warp_sum(v);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();  // part may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = lane < nw ? part[lane] : T(0);
  return warp_sum(v);
}
#endif

// Grid size for a grid-stride loop over n items with `threads` per block.
inline unsigned grid_for(int64_t n, int threads, int per_thread = 1) {
  int64_t blocks = ceil_div(ceil_div(n, per_thread), threads);
  int64_t cap = int64_t(sm_count()) * 32;
  if (blocks > cap) blocks = cap;
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

}  // namespace ember::cuda

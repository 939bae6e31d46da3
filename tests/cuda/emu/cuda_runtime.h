// CPU emulation of the CUDA subset ember's kernels use, to run the CUDA tests without a GPU
// (tests/cuda/emu/run.sh). Every block runs its threads as std::threads; __syncthreads is a block
// barrier, warp shuffles exchange through a per-warp barrier, atomics take a lock, "device"
// memory is host memory. Inline PTX (tensor cores), cuBLAS and cuDNN are not emulated (stubs.cpp).
// It checks indexing, bounds, synchronisation placement and math, not speed or coalescing.
#pragma once
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>
#ifndef __CUDACC__
#define __CUDACC__ 1
#endif
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(x)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ static
struct alignas(16) float4 { float x, y, z, w; };
struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
namespace emu {
inline thread_local dim3 tIdx, bIdx, bDim, gDim;
inline thread_local int tlin = 0;
inline std::barrier<>* bar = nullptr;
inline std::vector<std::barrier<>*> warp_bars;
inline std::vector<uint64_t> xchg;
inline std::vector<unsigned char> dyn;
inline std::mutex atom_mu;
template <typename K>
auto launch(K kernel, dim3 grid, dim3 block, size_t smem = 0, void* = nullptr) {
  return [=](auto... args) {
    const int n = int(block.x * block.y * block.z);
    dyn.assign(smem + 16, 0);
    xchg.assign(n, 0);
    for (unsigned bz = 0; bz < grid.z; ++bz)
      for (unsigned by = 0; by < grid.y; ++by)
        for (unsigned bx = 0; bx < grid.x; ++bx) {
          std::barrier<> b(n);
          bar = &b;
          std::vector<std::unique_ptr<std::barrier<>>> wb;
          warp_bars.clear();
          for (int w = 0; w * 32 < n; ++w) {
            wb.emplace_back(new std::barrier<>(std::min(32, n - 32 * w)));
            warp_bars.push_back(wb.back().get());
          }
          std::vector<std::thread> ts;
          for (int t = 0; t < n; ++t)
            ts.emplace_back([&, t] {
              tIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
              bIdx = dim3(bx, by, bz);
              bDim = block;
              gDim = grid;
              tlin = t;
              kernel(args...);
            });
          for (auto& th : ts) th.join();
        }
  };
}
template <typename T>
T* dyn_smem() { return reinterpret_cast<T*>(dyn.data()); }
}  // namespace emu
#define threadIdx emu::tIdx
#define blockIdx emu::bIdx
#define blockDim emu::bDim
#define gridDim emu::gDim
inline void __syncthreads() { emu::bar->arrive_and_wait(); }
template <typename T>
T __shfl_xor_sync(unsigned, T v, int o) {
  static_assert(sizeof(T) <= 8);
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  std::barrier<>* wb = emu::warp_bars[emu::tlin / 32];
  wb->arrive_and_wait();
  emu::xchg[emu::tlin] = bits;
  wb->arrive_and_wait();
  const int peer = (emu::tlin & ~31) | ((emu::tlin & 31) ^ o);
  uint64_t got = emu::xchg[peer];
  wb->arrive_and_wait();
  T r;
  std::memcpy(&r, &got, sizeof(T));
  return r;
}
template <typename T, typename U>
T atomicAdd(T* p, U v) {
  std::lock_guard l(emu::atom_mu);
  T old = *p;
  *p = old + T(v);
  return old;
}
inline unsigned __umulhi(unsigned a, unsigned b) { return unsigned((uint64_t(a) * b) >> 32); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline float __expf(float x) { return std::exp(x); }
using std::exp; using std::log; using std::sqrt; using std::tanh; using std::erf; using std::pow; using std::sin; using std::cos; using std::fabs; using std::floor;
using std::min; using std::max;
// runtime API
typedef int cudaError_t;
typedef void* cudaStream_t;
typedef void* cudaEvent_t;
enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2, cudaStreamNonBlocking = 1, cudaDevAttrMultiProcessorCount = 16,
       cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3,
       cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
inline const char* cudaGetErrorString(cudaError_t) { return "emu"; }
inline cudaError_t cudaGetLastError() { return 0; }
inline cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return 0; }
inline cudaError_t cudaGetDevice(int* d) { *d = 0; return 0; }
inline cudaError_t cudaSetDevice(int) { return 0; }
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, int) { *s = nullptr; return 0; }
inline cudaError_t cudaDeviceGetAttribute(int* v, int, int) { *v = 1; return 0; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return 0; }
inline cudaError_t cudaDeviceSynchronize() { return 0; }
inline cudaError_t cudaMalloc(void** p, size_t n) {
  if (n > (size_t(1) << 40)) return cudaErrorMemoryAllocation;
  *p = std::aligned_alloc(512, (n + 511) / 512 * 512);
  return *p ? 0 : cudaErrorMemoryAllocation;
}
inline cudaError_t cudaFree(void* p) { std::free(p); return 0; }
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, size_t n, int, cudaStream_t) { std::memcpy(d, s, n); return 0; }
inline cudaError_t cudaMemcpyPeerAsync(void* d, int, const void* s, int, size_t n, cudaStream_t) { std::memcpy(d, s, n); return 0; }
inline cudaError_t cudaMemsetAsync(void* d, int v, size_t n, cudaStream_t) { std::memset(d, v, n); return 0; }
template <typename F>
inline cudaError_t cudaFuncSetAttribute(F, int, int) { return 0; }
struct cudaDeviceProp { char name[256]; int major, minor; size_t totalGlobalMem; };
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) { std::strcpy(p->name, "emu"); p->major = 9; p->minor = 0; p->totalGlobalMem = 1; return 0; }

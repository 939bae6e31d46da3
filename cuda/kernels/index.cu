// Indexing: index_select, index_add, gather, scatter_add (see kernels.h for the descriptors).
// Legend: around `dim` a tensor is [O, n, I]; m = index length (or index's size on dim).
// Work split: one thread per element of the iterated shape (grid-stride).
// Accumulating ops have two paths:
//  * atomic (default): one thread per source element, atomicAdd into out. Fast; the order of
//    float additions varies between runs when indices repeat.
//  * deterministic (cuda::set_deterministic / EMBER_DETERMINISTIC=1, always for u8): one thread per
//    destination element loops over the m index entries in order and adds the matching sources.
//    Cost O(numel(out) * m) reads of the index (cached); used for reproducible embedding grads.
#include <cuda_runtime.h>

#include "cuda/kernels/kernels.h"

namespace ember::cuda {
namespace {

constexpr int kThreads = 256;

#define EMBER_GRID_LOOP(e, total) \
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < (total); e += int64_t(gridDim.x) * blockDim.x)

template <typename T>
__global__ void index_select_kernel(const T* __restrict__ x, const int64_t* __restrict__ index, T* __restrict__ out,
                                    IndexDesc d) {
  EMBER_GRID_LOOP(e, d.it.numel) {
    int64_t o[2];
    d.it.offsets(e, o);
    const int64_t j = (e / d.inner) % d.m;
    out[o[1]] = x[o[0] + index[j * d.si] * d.stride];
  }
}

template <typename T>
__device__ __forceinline__ void atomic_add(T* p, T v) {
  if constexpr (sizeof(T) == 8 && !std::is_floating_point_v<T>) {
    atomicAdd(reinterpret_cast<unsigned long long*>(p), static_cast<unsigned long long>(v));
  } else {
    atomicAdd(p, v);
  }
}

template <typename T>
__global__ void index_add_atomic_kernel(T* __restrict__ out, const int64_t* __restrict__ index, const T* __restrict__ src,
                                        IndexDesc d) {
  EMBER_GRID_LOOP(e, d.it.numel) {
    int64_t o[2];
    d.it.offsets(e, o);
    const int64_t j = (e / d.inner) % d.m;
    atomic_add(out + o[1] + index[j * d.si] * d.stride, src[o[0]]);
  }
}

template <typename T>
__global__ void index_add_det_kernel(T* __restrict__ out, const int64_t* __restrict__ index, const T* __restrict__ src,
                                     IndexDesc d) {
  EMBER_GRID_LOOP(e, d.it.numel) {
    int64_t o[2];
    d.it.offsets(e, o);
    const int64_t r = (e / d.inner) % d.n;
    T acc = 0;
    for (int64_t j = 0; j < d.m; ++j)
      if (index[j * d.si] == r) acc += src[o[0] + j * d.stride];
    out[o[1]] += acc;
  }
}

template <typename T>
__global__ void gather_kernel(const T* __restrict__ x, const int64_t* __restrict__ index, T* __restrict__ out,
                              GatherDesc d) {
  EMBER_GRID_LOOP(e, d.it.numel) {
    int64_t o[3];
    d.it.offsets(e, o);
    out[o[2]] = x[o[0] + index[o[1]] * d.dim_stride];
  }
}

template <typename T>
__global__ void scatter_add_atomic_kernel(T* __restrict__ out, const int64_t* __restrict__ index,
                                          const T* __restrict__ src, GatherDesc d) {
  EMBER_GRID_LOOP(e, d.it.numel) {
    int64_t o[3];
    d.it.offsets(e, o);
    atomic_add(out + o[0] + index[o[1]] * d.dim_stride, src[o[2]]);
  }
}

template <typename T>
__global__ void scatter_add_det_kernel(T* __restrict__ out, const int64_t* __restrict__ index,
                                       const T* __restrict__ src, GatherDesc d) {
  EMBER_GRID_LOOP(e, d.it.numel) {
    int64_t o[3];
    d.it.offsets(e, o);
    const int64_t r = (e / d.inner) % d.n;
    T acc = 0;
    for (int64_t j = 0; j < d.m; ++j)
      if (index[o[0] + j * d.si] == r) acc += src[o[1] + j * d.ss];
    out[o[2]] += acc;
  }
}

// Same-size unsigned type for kernels that only move elements.
template <typename F>
void dispatch_bits(DType t, F&& f) {
  switch (t) {
    case DType::u8: return f(uint8_t{});
    case DType::f32:
    case DType::i32: return f(uint32_t{});
    case DType::f64:
    case DType::i64: return f(uint64_t{});
  }
}

}  // namespace

void launch_index_select(const void* x, const int64_t* index, void* out, const IndexDesc& d, DType dt) {
  if (d.it.numel == 0) return;
  dispatch_bits(dt, [&](auto z) {  // a pure move: one kernel per element size
    using T = decltype(z);
    index_select_kernel<T><<<grid_for(d.it.numel, kThreads, 4), kThreads, 0, current_stream()>>>(
        static_cast<const T*>(x), index, static_cast<T*>(out), d);
  });
  EMBER_CUDA_LAUNCHED("index_select_kernel");
}

void launch_index_add(void* out, const int64_t* index, const void* src, const IndexDesc& d, bool deterministic,
                      DType dt) {
  if (d.it.numel == 0 || d.m == 0) return;
  dispatch(dt, [&](auto z) {
    using T = decltype(z);
    const unsigned grid = grid_for(d.it.numel, kThreads, 4);
    if (deterministic || dt == DType::u8)
      index_add_det_kernel<T><<<grid, kThreads, 0, current_stream()>>>(static_cast<T*>(out), index,
                                                                        static_cast<const T*>(src), d);
    else if constexpr (sizeof(T) >= 4)
      index_add_atomic_kernel<T><<<grid, kThreads, 0, current_stream()>>>(static_cast<T*>(out), index,
                                                                           static_cast<const T*>(src), d);
  });
  EMBER_CUDA_LAUNCHED("index_add_kernel");
}

void launch_gather(const void* x, const int64_t* index, void* out, const GatherDesc& d, DType dt) {
  if (d.it.numel == 0) return;
  dispatch_bits(dt, [&](auto z) {
    using T = decltype(z);
    gather_kernel<T><<<grid_for(d.it.numel, kThreads, 4), kThreads, 0, current_stream()>>>(
        static_cast<const T*>(x), index, static_cast<T*>(out), d);
  });
  EMBER_CUDA_LAUNCHED("gather_kernel");
}

void launch_scatter_add(void* out, const int64_t* index, const void* src, const GatherDesc& d, bool deterministic,
                        DType dt) {
  if (d.it.numel == 0) return;
  dispatch(dt, [&](auto z) {
    using T = decltype(z);
    const unsigned grid = grid_for(d.it.numel, kThreads, 4);
    if (deterministic || dt == DType::u8)
      scatter_add_det_kernel<T><<<grid, kThreads, 0, current_stream()>>>(static_cast<T*>(out), index,
                                                                          static_cast<const T*>(src), d);
    else if constexpr (sizeof(T) >= 4)
      scatter_add_atomic_kernel<T><<<grid, kThreads, 0, current_stream()>>>(static_cast<T*>(out), index,
                                                                             static_cast<const T*>(src), d);
  });
  EMBER_CUDA_LAUNCHED("scatter_add_kernel");
}

}  // namespace ember::cuda

// Reductions: sum/prod/max/min over any set of dims, and max/min with indices along one dim.
// Legend: K kept outputs, R reduced inputs per output. Offsets come from two descriptors (kept and
// reduced dims, both coalesced on the host), so any strides work.
// Strategies, picked by the launcher:
//  * block per output ("inner"): used when the reduced dims hold x's unit stride or K is small;
//    256 threads stride over R, combine with warp shuffles then shared memory. When K is below
//    two blocks per SM and R is large, R is split over G blocks per output (two passes: partials,
//    then one warp per output combines its G partials in a fixed order, so results are
//    deterministic).
//  * thread per output ("outer"): the kept dims hold the unit stride, so neighbouring threads read
//    neighbouring addresses at every step of their serial loop over R.
// max/min propagate NaN (as the CPU backend). Memory-bound: bytes = numel(x) * sizeof(T).
#include <cuda_runtime.h>

#include <limits>

#include "cuda/kernels/kernels.h"

namespace ember::cuda {
namespace {

constexpr ReduceOp kSum = ReduceOp::sum, kMax = ReduceOp::max, kMin = ReduceOp::min, kProd = ReduceOp::prod;

template <typename T>
__device__ __forceinline__ T identity_of(ReduceOp op) {
  switch (op) {
    case kSum: return T(0);
    case kProd: return T(1);
    case kMax:
      return std::numeric_limits<T>::has_infinity ? -std::numeric_limits<T>::infinity()
                                                  : std::numeric_limits<T>::lowest();
    case kMin:
      return std::numeric_limits<T>::has_infinity ? std::numeric_limits<T>::infinity() : std::numeric_limits<T>::max();
  }
  return T(0);
}

template <typename T>
__device__ __forceinline__ T combine(ReduceOp op, T acc, T v) {
  switch (op) {
    case kSum: return T(acc + v);
    case kProd: return T(acc * v);
    case kMax: return (v > acc || v != v) ? v : acc;
    case kMin: return (v < acc || v != v) ? v : acc;
  }
  return acc;
}

template <typename T>
__device__ __forceinline__ T shfl_xor(T v, int o) {
  if constexpr (sizeof(T) == 1) {
    return T(__shfl_xor_sync(0xffffffffu, int(v), o));
  } else {
    return __shfl_xor_sync(0xffffffffu, v, o);
  }
}

template <typename T>
__device__ T block_combine(ReduceOp op, T v) {
  __shared__ T part[32];
  for (int o = 16; o > 0; o >>= 1) v = combine(op, v, shfl_xor(v, o));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  if (lane == 0) part[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < nw ? part[lane] : identity_of<T>(op);
    for (int o = 16; o > 0; o >>= 1) v = combine(op, v, shfl_xor(v, o));
  }
  return v;  // valid in thread 0
}

// grid (K, G): block (k, g) reduces chunk g of output k's R inputs into partial[k * G + g], or into
// out directly when G == 1.
template <typename T>
__global__ void reduce_block_kernel(ReduceOp op, const T* __restrict__ x, T* __restrict__ out, T* __restrict__ partial,
                                    ReduceDesc d, int64_t chunk) {
  const int64_t R = d.red.numel;
  for (int64_t k = blockIdx.x; k < d.kept.numel; k += gridDim.x) {
    int64_t ko[2];
    d.kept.offsets(k, ko);
    const T* base = x + ko[0];
    const int64_t r0 = int64_t(blockIdx.y) * chunk, r1 = r0 + chunk < R ? r0 + chunk : R;
    T acc = identity_of<T>(op);
    for (int64_t r = r0 + threadIdx.x; r < r1; r += blockDim.x) {
      int64_t ro[1];
      if (d.red.contiguous) ro[0] = r;
      else d.red.offsets(r, ro);
      acc = combine(op, acc, base[ro[0]]);
    }
    acc = block_combine(op, acc);
    if (threadIdx.x == 0) {
      if (gridDim.y == 1) out[ko[1]] = acc;
      else partial[k * gridDim.y + blockIdx.y] = acc;
    }
    __syncthreads();
  }
}

// One thread per output combines its G partials in order.
template <typename T>
__global__ void reduce_partials_kernel(ReduceOp op, const T* __restrict__ partial, int g, T* __restrict__ out,
                                       Iter<2> kept) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < kept.numel;
       k += int64_t(gridDim.x) * blockDim.x) {
    int64_t ko[2];
    kept.offsets(k, ko);
    T acc = identity_of<T>(op);
    for (int i = 0; i < g; ++i) acc = combine(op, acc, partial[k * g + i]);
    out[ko[1]] = acc;
  }
}

template <typename T>
__global__ void reduce_thread_kernel(ReduceOp op, const T* __restrict__ x, T* __restrict__ out, ReduceDesc d) {
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < d.kept.numel;
       k += int64_t(gridDim.x) * blockDim.x) {
    int64_t ko[2];
    d.kept.offsets(k, ko);
    T acc = identity_of<T>(op);
    for (int64_t r = 0; r < d.red.numel; ++r) {
      int64_t ro[1];
      d.red.offsets(r, ro);
      acc = combine(op, acc, x[ko[0] + ro[0]]);
    }
    out[ko[1]] = acc;
  }
}

template <typename T>
void reduce_typed(ReduceOp op, const T* x, T* out, const ReduceDesc& d) {
  const int64_t K = d.kept.numel, R = d.red.numel;
  const int sms = sm_count();
  // Does x's unit stride (or smallest stride) lie among the reduced dims?
  const bool inner = d.red.ndim > 0 && d.red.stride[0][d.red.ndim - 1] == 1;
  if (inner || K < 4 * int64_t(sms) || R >= 4096) {
    const int threads = R >= 256 ? 256 : (R > 64 ? 128 : 32);
    int64_t g = 1;
    if (K < 2 * int64_t(sms) && R >= (int64_t(1) << 16)) g = std::min<int64_t>(ceil_div(R, 32768), 256);
    const int64_t chunk = ceil_div(R, g);
    g = ceil_div(R, chunk);
    const dim3 grid(unsigned(std::min<int64_t>(K, 65535 * 16)), unsigned(g));
    if (g == 1) {
      reduce_block_kernel<T><<<grid, threads, 0, current_stream()>>>(op, x, out, nullptr, d, chunk);
      EMBER_CUDA_LAUNCHED("reduce_block_kernel");
      return;
    }
    DeviceBuffer partial(size_t(K * g) * sizeof(T));
    reduce_block_kernel<T><<<grid, threads, 0, current_stream()>>>(op, x, out, partial.as<T>(), d, chunk);
    EMBER_CUDA_LAUNCHED("reduce_block_kernel");
    reduce_partials_kernel<T><<<grid_for(K, 128), 128, 0, current_stream()>>>(op, partial.as<T>(), int(g), out, d.kept);
    EMBER_CUDA_LAUNCHED("reduce_partials_kernel");
    return;
  }
  reduce_thread_kernel<T><<<grid_for(K, 128), 128, 0, current_stream()>>>(op, x, out, d);
  EMBER_CUDA_LAUNCHED("reduce_thread_kernel");
}

// ---- arg max/min: one warp per output; lanes stride over n, then merge (value, index) pairs:
// a NaN wins (lowest index among NaNs), else the better value, ties to the lowest index.
template <typename T>
__device__ __forceinline__ bool arg_better(ReduceOp op, T v, int64_t i, T best, int64_t bi) {
  const bool vn = v != v, bn = best != best;
  if (vn || bn) return vn && (!bn || i < bi);
  if (v == best) return i < bi;
  return op == kMax ? v > best : v < best;
}

template <typename T>
__global__ void arg_reduce_kernel(ReduceOp op, const T* __restrict__ x, int64_t n, int64_t xs, T* __restrict__ values,
                                  int64_t* __restrict__ indices, Iter<3> kept) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t(gridDim.x) * (blockDim.x >> 5);
  for (int64_t k = blockIdx.x * int64_t(blockDim.x >> 5) + (threadIdx.x >> 5); k < kept.numel; k += warps) {
    int64_t o[3];
    kept.offsets(k, o);
    const T* p = x + o[0];
    T best = identity_of<T>(op);
    int64_t bi = -1;
    for (int64_t i = lane; i < n; i += 32) {
      const T v = p[i * xs];
      if (bi < 0 || arg_better(op, v, i, best, bi)) best = v, bi = i;
    }
    for (int s = 16; s > 0; s >>= 1) {
      const T ov = shfl_xor(best, s);
      const int64_t oi = __shfl_xor_sync(0xffffffffu, bi, s);
      if (oi >= 0 && (bi < 0 || arg_better(op, ov, oi, best, bi))) best = ov, bi = oi;
    }
    if (lane == 0) {
      values[o[1]] = best;
      indices[o[2]] = bi < 0 ? 0 : bi;
    }
  }
}

}  // namespace

void launch_reduce(ReduceOp op, const void* x, void* out, DType dt, const ReduceDesc& d) {
  if (d.kept.numel == 0) return;
  dispatch(dt, [&](auto z) {
    using T = decltype(z);
    reduce_typed<T>(op, static_cast<const T*>(x), static_cast<T*>(out), d);
  });
}

void launch_arg_reduce(ReduceOp op, const void* x, int64_t n, int64_t xs, void* values, int64_t* indices, DType dt,
                       const Iter<3>& kept) {
  if (kept.numel == 0 || n == 0) return;
  dispatch(dt, [&](auto z) {
    using T = decltype(z);
    arg_reduce_kernel<T><<<grid_for(kept.numel, 8), 256, 0, current_stream()>>>(
        op, static_cast<const T*>(x), n, xs, static_cast<T*>(values), indices, kept);
    EMBER_CUDA_LAUNCHED("arg_reduce_kernel");
  });
}

}  // namespace ember::cuda

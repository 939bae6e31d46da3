// Softmax family over the last dim: softmax / log_softmax forward and backward, and the fused
// softmax-cross-entropy forward (loss + logsumexp) and backward.
// Legend: R rows, D the softmax dim (N rows, C classes for cross-entropy); rows contiguous.
// Work split: one block per row (grid-stride over rows); 32..512 threads by D. Forward: one pass
// computes each thread's online (max, sum of exp) pair, merged across the block with shuffles
// (m = max(m1, m2), s = s1 e^(m1-m) + s2 e^(m2-m)); a second pass writes y. So x is read twice
// and y written once: 3 * R * D * sizeof(T) bytes. Backward: one dot-product pass, one write pass.
// Formulas (same as tensor/cpu/softmax.cpp):
//   softmax:     dx = y * (dy - sum(dy * y));   log_softmax: dx = dy - exp(y) * sum(dy)
//   CE loss_i = (1-eps)(lse - x_t) + eps (lse - mean_c x_c); 0 when t is ignore_index
//   d loss_i / d x_ij = g_i (exp(x_ij - lse_i) - eps/C - (1-eps)[j == t_i])
#include <cuda_runtime.h>

#include "cuda/kernels/kernels.h"

namespace ember::cuda {
namespace {

template <typename T>
struct MaxSum {
  T m, s;
};

template <typename T>
__device__ __forceinline__ MaxSum<T> merge(MaxSum<T> a, MaxSum<T> b) {
  const T m = a.m > b.m ? a.m : b.m;
  if (m == -INFINITY) return {m, T(0)};  // both empty (or all -inf)
  return {m, a.s * exp(a.m - m) + b.s * exp(b.m - m)};
}

// Block-wide merge of (max, sum) pairs; every thread gets the result.
template <typename T>
__device__ MaxSum<T> block_merge(MaxSum<T> v) {
  __shared__ T pm[32], ps[32];
  for (int o = 16; o > 0; o >>= 1) {
    MaxSum<T> w{__shfl_xor_sync(0xffffffffu, v.m, o), __shfl_xor_sync(0xffffffffu, v.s, o)};
    v = merge(v, w);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  __syncthreads();
  if (lane == 0) pm[warp] = v.m, ps[warp] = v.s;
  __syncthreads();
  v = lane < nw ? MaxSum<T>{pm[lane], ps[lane]} : MaxSum<T>{T(-INFINITY), T(0)};
  for (int o = 16; o > 0; o >>= 1) {
    MaxSum<T> w{__shfl_xor_sync(0xffffffffu, v.m, o), __shfl_xor_sync(0xffffffffu, v.s, o)};
    v = merge(v, w);
  }
  return v;
}

// Online (max, sum exp) of a row; a NaN anywhere makes the max NaN (then every output is NaN).
template <typename T>
__device__ MaxSum<T> row_max_sum(const T* x, int64_t d) {
  MaxSum<T> acc{T(-INFINITY), T(0)};
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    const T v = x[j];
    if (v != v) acc = {v, T(1)};
    else if (v > acc.m) acc = {v, acc.s * exp(acc.m - v) + T(1)};
    else if (v != T(-INFINITY)) acc.s += exp(v - acc.m);  // -inf adds 0 (masked entries)
  }
  return block_merge(acc);
}

template <typename T>
__global__ void softmax_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t rows, int64_t d, bool log) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* xr = x + r * d;
    T* yr = y + r * d;
    const MaxSum<T> ms = row_max_sum(xr, d);
    if (log) {
      const T ls = T(::log(ms.s));
      for (int64_t j = threadIdx.x; j < d; j += blockDim.x) yr[j] = (xr[j] - ms.m) - ls;
    } else {
      const T inv = T(1) / ms.s;
      for (int64_t j = threadIdx.x; j < d; j += blockDim.x) yr[j] = exp(xr[j] - ms.m) * inv;
    }
  }
}

template <typename T>
__global__ void softmax_bwd_kernel(const T* __restrict__ y, const T* __restrict__ gy, T* __restrict__ gx,
                                   int64_t rows, int64_t d, bool log) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* yr = y + r * d;
    const T* gr = gy + r * d;
    T* xr = gx + r * d;
    T s = 0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) s += log ? gr[j] : gr[j] * yr[j];
    s = block_sum(s);
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x)
      xr[j] = log ? gr[j] - exp(yr[j]) * s : yr[j] * (gr[j] - s);
  }
}

template <typename T>
__global__ void ce_fwd_kernel(const T* __restrict__ x, const int64_t* __restrict__ target, int64_t n, int64_t c,
                              int64_t ignore, double eps, T* __restrict__ loss, T* __restrict__ lse) {
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const T* xr = x + i * c;
    const MaxSum<T> ms = row_max_sum(xr, c);
    T sx = 0;
    if (eps > 0) {
      for (int64_t j = threadIdx.x; j < c; j += blockDim.x) sx += xr[j];
      sx = block_sum(sx);
    }
    if (threadIdx.x == 0) {
      const T l = ms.m + T(::log(ms.s));
      lse[i] = l;
      const int64_t t = target[i];
      if (t == ignore || t < 0 || t >= c) {
        loss[i] = T(0);
      } else {
        double v = (1.0 - eps) * (double(l) - double(xr[t]));
        if (eps > 0) v += eps * (double(l) - double(sx) / double(c));
        loss[i] = T(v);
      }
    }
  }
}

template <typename T>
__global__ void ce_bwd_kernel(const T* __restrict__ x, const int64_t* __restrict__ target, const T* __restrict__ lse,
                              const T* __restrict__ gloss, int64_t n, int64_t c, int64_t ignore, double eps,
                              T* __restrict__ gx) {
  const T off = T(eps / double(c)), hit = T(1.0 - eps);
  for (int64_t i = blockIdx.x; i < n; i += gridDim.x) {
    const T* xr = x + i * c;
    T* dr = gx + i * c;
    const int64_t t = target[i];
    const bool skip = t == ignore || t < 0 || t >= c;
    const T g = gloss[i], l = lse[i];
    for (int64_t j = threadIdx.x; j < c; j += blockDim.x)
      dr[j] = skip ? T(0) : g * (exp(xr[j] - l) - off) - (j == t ? g * hit : T(0));
  }
}

int threads_for(int64_t d) { return d <= 64 ? 32 : d <= 256 ? 64 : d <= 1024 ? 128 : d <= 4096 ? 256 : 512; }
unsigned blocks_for(int64_t rows) { return unsigned(std::min<int64_t>(rows, int64_t(sm_count()) * 64)); }

}  // namespace

void launch_softmax(const void* x, void* y, int64_t rows, int64_t d, bool log, DType dt) {
  if (rows == 0 || d == 0) return;
  if (dt == DType::f32)
    softmax_kernel<float><<<blocks_for(rows), threads_for(d), 0, current_stream()>>>(
        static_cast<const float*>(x), static_cast<float*>(y), rows, d, log);
  else
    softmax_kernel<double><<<blocks_for(rows), threads_for(d), 0, current_stream()>>>(
        static_cast<const double*>(x), static_cast<double*>(y), rows, d, log);
  EMBER_CUDA_LAUNCHED("softmax_kernel");
}

void launch_softmax_backward(const void* y, const void* gy, void* gx, int64_t rows, int64_t d, bool log, DType dt) {
  if (rows == 0 || d == 0) return;
  if (dt == DType::f32)
    softmax_bwd_kernel<float><<<blocks_for(rows), threads_for(d), 0, current_stream()>>>(
        static_cast<const float*>(y), static_cast<const float*>(gy), static_cast<float*>(gx), rows, d, log);
  else
    softmax_bwd_kernel<double><<<blocks_for(rows), threads_for(d), 0, current_stream()>>>(
        static_cast<const double*>(y), static_cast<const double*>(gy), static_cast<double*>(gx), rows, d, log);
  EMBER_CUDA_LAUNCHED("softmax_bwd_kernel");
}

void launch_cross_entropy_fwd(const void* logits, const int64_t* target, int64_t n, int64_t c, int64_t ignore,
                              double eps, void* loss, void* lse, DType dt) {
  if (n == 0) return;
  if (dt == DType::f32)
    ce_fwd_kernel<float><<<blocks_for(n), threads_for(c), 0, current_stream()>>>(
        static_cast<const float*>(logits), target, n, c, ignore, eps, static_cast<float*>(loss),
        static_cast<float*>(lse));
  else
    ce_fwd_kernel<double><<<blocks_for(n), threads_for(c), 0, current_stream()>>>(
        static_cast<const double*>(logits), target, n, c, ignore, eps, static_cast<double*>(loss),
        static_cast<double*>(lse));
  EMBER_CUDA_LAUNCHED("ce_fwd_kernel");
}

void launch_cross_entropy_bwd(const void* logits, const int64_t* target, const void* lse, const void* gloss,
                              int64_t n, int64_t c, int64_t ignore, double eps, void* gx, DType dt) {
  if (n == 0) return;
  if (dt == DType::f32)
    ce_bwd_kernel<float><<<blocks_for(n), threads_for(c), 0, current_stream()>>>(
        static_cast<const float*>(logits), target, static_cast<const float*>(lse), static_cast<const float*>(gloss),
        n, c, ignore, eps, static_cast<float*>(gx));
  else
    ce_bwd_kernel<double><<<blocks_for(n), threads_for(c), 0, current_stream()>>>(
        static_cast<const double*>(logits), target, static_cast<const double*>(lse),
        static_cast<const double*>(gloss), n, c, ignore, eps, static_cast<double*>(gx));
  EMBER_CUDA_LAUNCHED("ce_bwd_kernel");
}

}  // namespace ember::cuda

// Layer norm and RMS norm over the last dim, forward and backward.
// Legend: N rows, D features; x, y, grad_y, grad_x contiguous [N, D]; weight, bias and their grads
// [D] or null; mean / rstd [N].
// Row kernels: one block per row (grid-stride), 32..512 threads by D; statistics by block
// reductions (warp shuffles + shared memory). Layer norm's variance is two-pass
// (sum (x - mean)^2), like the CPU backend. Bytes per row pass: D * sizeof(T).
// Column sums for grad_weight / grad_bias: grid (ceil(D/32), G), block 32 x 8. Block (cx, g) sums
// rows [g*chunk, (g+1)*chunk) for 32 columns into partials[g][D]; a second kernel adds the G
// partials of each column in order. No atomics, so the result is deterministic.
// Row statistics (mean, variance, the backward's row sums) accumulate in f64 for f32 inputs too,
// as on the CPU: one accumulation type on every backend. The row kernels are memory-bound, so the
// f64 adds cost no bandwidth.
// Formulas (autograd/functions/norm.cpp derives them, beside the Backward nodes):
//   layer: xhat = (x - mean) rstd, y = xhat w + b; gx = rstd (g - mean(g) - xhat mean(g xhat)), g = gy w
//   rms:   y = x rstd w;  gx = rstd (g - x rstd^2 mean(g x));  gw = sum_rows gy xhat
#include <cuda_runtime.h>

#include "cuda/kernels/kernels.h"

namespace ember::cuda {
namespace {

template <typename T>
__global__ void layer_norm_fwd_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ b,
                                      double eps, T* __restrict__ y, T* __restrict__ mean, T* __restrict__ rstd,
                                      int64_t n, int64_t d) {
  for (int64_t r = blockIdx.x; r < n; r += gridDim.x) {
    const T* xr = x + r * d;
    T* yr = y + r * d;
    double s = 0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) s += double(xr[j]);
    const double md = block_sum(s) / double(d);
    const T m = T(md);
    double ss = 0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      const double c = double(xr[j]) - md;
      ss += c * c;
    }
    const T rs = T(1.0 / sqrt(block_sum(ss) / double(d) + eps));
    if (threadIdx.x == 0) mean[r] = m, rstd[r] = rs;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      T v = (xr[j] - m) * rs;
      if (w) v *= w[j];
      if (b) v += b[j];
      yr[j] = v;
    }
  }
}

template <typename T>
__global__ void layer_norm_bwd_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ mean,
                                      const T* __restrict__ rstd, const T* __restrict__ gy, T* __restrict__ gx,
                                      int64_t n, int64_t d) {
  for (int64_t r = blockIdx.x; r < n; r += gridDim.x) {
    const T* xr = x + r * d;
    const T* gr = gy + r * d;
    T* out = gx + r * d;
    const T m = mean[r], rs = rstd[r];
    double sg = 0, sgx = 0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      const T g = w ? gr[j] * w[j] : gr[j];
      sg += double(g);
      sgx += double(g) * double((xr[j] - m) * rs);
    }
    const T mg = T(block_sum(sg) / double(d)), mgx = T(block_sum(sgx) / double(d));
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      const T g = w ? gr[j] * w[j] : gr[j];
      out[j] = rs * (g - mg - (xr[j] - m) * rs * mgx);
    }
  }
}

template <typename T>
__global__ void rms_norm_fwd_kernel(const T* __restrict__ x, const T* __restrict__ w, double eps, T* __restrict__ y,
                                    T* __restrict__ rstd, int64_t n, int64_t d) {
  for (int64_t r = blockIdx.x; r < n; r += gridDim.x) {
    const T* xr = x + r * d;
    T* yr = y + r * d;
    double ss = 0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) ss += double(xr[j]) * double(xr[j]);
    const T rs = T(1.0 / sqrt(block_sum(ss) / double(d) + eps));
    if (threadIdx.x == 0) rstd[r] = rs;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) yr[j] = w ? xr[j] * rs * w[j] : xr[j] * rs;
  }
}

template <typename T>
__global__ void rms_norm_bwd_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ rstd,
                                    const T* __restrict__ gy, T* __restrict__ gx, int64_t n, int64_t d) {
  for (int64_t r = blockIdx.x; r < n; r += gridDim.x) {
    const T* xr = x + r * d;
    const T* gr = gy + r * d;
    T* out = gx + r * d;
    const T rs = rstd[r];
    double sgx = 0;
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) sgx += double(w ? gr[j] * w[j] : gr[j]) * double(xr[j]);
    const T c = rs * rs * T(block_sum(sgx) / double(d));
    for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
      const T g = w ? gr[j] * w[j] : gr[j];
      out[j] = rs * (g - xr[j] * c);
    }
  }
}

// partials [G, D]: pw = sum gy * xhat (xhat = (x - mean) rstd, or x rstd without mean), pb = sum gy.
template <typename T>
__global__ void affine_partials_kernel(const T* __restrict__ x, const T* __restrict__ mean, const T* __restrict__ rstd,
                                       const T* __restrict__ gy, T* __restrict__ pw, T* __restrict__ pb, int64_t n,
                                       int64_t d, int64_t chunk) {
  __shared__ T sw[8][33], sb[8][33];
  const int64_t col = blockIdx.x * 32 + threadIdx.x;
  const int64_t r0 = blockIdx.y * chunk, r1 = r0 + chunk < n ? r0 + chunk : n;
  T aw = 0, ab = 0;
  if (col < d) {
    for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) {
      const T g = gy[r * d + col];
      const T m = mean ? mean[r] : T(0);
      aw += g * ((x[r * d + col] - m) * rstd[r]);
      ab += g;
    }
  }
  sw[threadIdx.y][threadIdx.x] = aw;
  sb[threadIdx.y][threadIdx.x] = ab;
  __syncthreads();
  if (threadIdx.y == 0 && col < d) {
    for (int i = 1; i < 8; ++i) aw += sw[i][threadIdx.x], ab += sb[i][threadIdx.x];
    if (pw) pw[blockIdx.y * d + col] = aw;
    if (pb) pb[blockIdx.y * d + col] = ab;
  }
}

template <typename T>
__global__ void sum_partials_kernel(const T* __restrict__ p, int64_t g, int64_t d, T* __restrict__ out) {
  for (int64_t col = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; col < d; col += int64_t(gridDim.x) * blockDim.x) {
    T acc = 0;
    for (int64_t i = 0; i < g; ++i) acc += p[i * d + col];
    out[col] = acc;
  }
}

template <typename T>
void affine_grads(const T* x, const T* mean, const T* rstd, const T* gy, T* gw, T* gb, int64_t n, int64_t d) {
  if (!gw && !gb) return;
  const int64_t g = std::min<int64_t>(ceil_div(n, 64), 128), chunk = ceil_div(n, g);
  DeviceBuffer pw(gw ? size_t(g * d) * sizeof(T) : 0), pb(gb ? size_t(g * d) * sizeof(T) : 0);
  const dim3 grid(unsigned(ceil_div(d, 32)), unsigned(ceil_div(n, chunk)));
  affine_partials_kernel<T><<<grid, dim3(32, 8), 0, current_stream()>>>(x, mean, rstd, gy, gw ? pw.as<T>() : nullptr,
                                                                       gb ? pb.as<T>() : nullptr, n, d, chunk);
  EMBER_CUDA_LAUNCHED("affine_partials_kernel");
  const int64_t rows = grid.y;
  if (gw) sum_partials_kernel<T><<<grid_for(d, 256), 256, 0, current_stream()>>>(pw.as<T>(), rows, d, gw);
  if (gb) sum_partials_kernel<T><<<grid_for(d, 256), 256, 0, current_stream()>>>(pb.as<T>(), rows, d, gb);
  EMBER_CUDA_LAUNCHED("sum_partials_kernel");
}

int threads_for(int64_t d) { return d <= 64 ? 32 : d <= 256 ? 64 : d <= 1024 ? 128 : d <= 4096 ? 256 : 512; }
unsigned blocks_for(int64_t rows) { return unsigned(std::min<int64_t>(rows, int64_t(sm_count()) * 64)); }

}  // namespace

void launch_layer_norm_fwd(const void* x, const void* w, const void* b, double eps, void* y, void* mean, void* rstd,
                           int64_t n, int64_t d, DType dt) {
  dispatch_float(dt, [&](auto z) {
    using T = decltype(z);
    layer_norm_fwd_kernel<T><<<blocks_for(n), threads_for(d), 0, current_stream()>>>(
        static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(b), eps, static_cast<T*>(y),
        static_cast<T*>(mean), static_cast<T*>(rstd), n, d);
  });
  EMBER_CUDA_LAUNCHED("layer_norm_fwd_kernel");
}

void launch_layer_norm_bwd(const void* x, const void* w, const void* mean, const void* rstd, const void* gy, void* gx,
                           void* gw, void* gb, int64_t n, int64_t d, DType dt) {
  dispatch_float(dt, [&](auto z) {
    using T = decltype(z);
    if (gx) {
      layer_norm_bwd_kernel<T><<<blocks_for(n), threads_for(d), 0, current_stream()>>>(
          static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(mean),
          static_cast<const T*>(rstd), static_cast<const T*>(gy), static_cast<T*>(gx), n, d);
      EMBER_CUDA_LAUNCHED("layer_norm_bwd_kernel");
    }
    affine_grads<T>(static_cast<const T*>(x), static_cast<const T*>(mean), static_cast<const T*>(rstd),
                    static_cast<const T*>(gy), static_cast<T*>(gw), static_cast<T*>(gb), n, d);
  });
}

void launch_rms_norm_fwd(const void* x, const void* w, double eps, void* y, void* rstd, int64_t n, int64_t d,
                         DType dt) {
  dispatch_float(dt, [&](auto z) {
    using T = decltype(z);
    rms_norm_fwd_kernel<T><<<blocks_for(n), threads_for(d), 0, current_stream()>>>(
        static_cast<const T*>(x), static_cast<const T*>(w), eps, static_cast<T*>(y), static_cast<T*>(rstd), n, d);
  });
  EMBER_CUDA_LAUNCHED("rms_norm_fwd_kernel");
}

void launch_rms_norm_bwd(const void* x, const void* w, const void* rstd, const void* gy, void* gx, void* gw,
                         int64_t n, int64_t d, DType dt) {
  dispatch_float(dt, [&](auto z) {
    using T = decltype(z);
    if (gx) {
      rms_norm_bwd_kernel<T><<<blocks_for(n), threads_for(d), 0, current_stream()>>>(
          static_cast<const T*>(x), static_cast<const T*>(w), static_cast<const T*>(rstd), static_cast<const T*>(gy),
          static_cast<T*>(gx), n, d);
      EMBER_CUDA_LAUNCHED("rms_norm_bwd_kernel");
    }
    affine_grads<T>(static_cast<const T*>(x), nullptr, static_cast<const T*>(rstd), static_cast<const T*>(gy),
                    static_cast<T*>(gw), nullptr, n, d);
  });
}

}  // namespace ember::cuda

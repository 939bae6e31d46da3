// Convolution lowering (im2col / col2im) and pooling / resampling, forward and backward.
// Legend: N batch, C channels, H/W input size, OH/OW output size, P = N*C planes, kh/kw kernel,
// sh/sw stride, ph/pw padding, dh/dw dilation, L = OH*OW.
// Semantics are those of tensor/cpu/conv.cpp and tensor/cpu/pool.cpp (PyTorch's).
// Work split: one thread per output element (grid-stride). Backward kernels gather where the
// geometry allows it (col2im, avg pool, adaptive pool: each input element sums the outputs whose
// window covers it, so no atomics and deterministic results); max pool and upsampling scatter with
// atomicAdd into a zeroed grad_in (their backward has no cheap inverse map). All memory-bound.
#include <cuda_runtime.h>

#include "cuda/kernels/kernels.h"

namespace ember::cuda {
namespace {

constexpr int kThreads = 256;

// col [N, C*kh*kw, L]: element (n, (c*kh + i)*kw + j, oh*OW + ow) = x[n, c, oh*sh - ph + i*dh, ow*sw - pw + j*dw].
template <typename T>
__global__ void im2col_kernel(const T* __restrict__ x, int64_t xs0, int64_t xs1, int64_t xs2, int64_t xs3, Conv2dGeom g,
                              T* __restrict__ col) {
  const int64_t L = g.oh() * g.ow(), kk = g.kh * g.kw, total = g.n * g.c * kk * L;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t l = e % L, row = (e / L) % (g.c * kk), n = e / (L * g.c * kk);
    const int64_t c = row / kk, i = (row / g.kw) % g.kh, j = row % g.kw;
    const int64_t ih = (l / g.ow()) * g.sh - g.ph + i * g.dh, iw = (l % g.ow()) * g.sw - g.pw + j * g.dw;
    col[e] = (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) ? x[n * xs0 + c * xs1 + ih * xs2 + iw * xs3] : T(0);
  }
}

// x[n, c, ih, iw] += sum over taps (i, j) and outputs (oh, ow) with oh*sh - ph + i*dh == ih (same for w).
template <typename T>
__global__ void col2im_kernel(const T* __restrict__ col, Conv2dGeom g, T* __restrict__ x) {
  const int64_t L = g.oh() * g.ow(), kk = g.kh * g.kw, total = g.n * g.c * g.h * g.w;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t iw = e % g.w, ih = (e / g.w) % g.h, nc = e / (g.w * g.h);
    const T* rows = col + nc * kk * L;  // (n, c) rows are contiguous: nc * kk == n*C*kk + c*kk
    T acc = 0;
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t th = ih + g.ph - i * g.dh;
      if (th < 0 || th % g.sh != 0 || th / g.sh >= g.oh()) continue;
      const int64_t oh = th / g.sh;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t tw = iw + g.pw - j * g.dw;
        if (tw < 0 || tw % g.sw != 0 || tw / g.sw >= g.ow()) continue;
        acc += rows[(i * g.kw + j) * L + oh * g.ow() + tw / g.sw];
      }
    }
    x[e] += acc;
  }
}

template <typename T>
__global__ void max_pool_fwd_kernel(const T* __restrict__ x, Pool2dGeom g, T* __restrict__ out, int64_t* __restrict__ idx) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = e % g.ow, oh = (e / g.ow) % g.oh, p = e / (g.ow * g.oh);
    const T* in = x + p * g.h * g.w;
    int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
    const int64_t h1 = min(h0 + g.kh, g.h), w1 = min(w0 + g.kw, g.w);
    h0 = max(h0, int64_t(0)), w0 = max(w0, int64_t(0));
    T best = T(-INFINITY);
    int64_t arg = h0 * g.w + w0;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) {
        const T v = in[ih * g.w + iw];
        if (v > best || v != v) best = v, arg = ih * g.w + iw;
      }
    out[e] = best;
    idx[e] = arg;
  }
}

template <typename T>
__global__ void max_pool_bwd_kernel(const T* __restrict__ gout, const int64_t* __restrict__ idx, Pool2dGeom g,
                                    T* __restrict__ gin) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = e / (g.oh * g.ow);
    atomicAdd(gin + p * g.h * g.w + idx[e], gout[e]);
  }
}

// The avg-pool window of output (oh, ow): real pixels and the divisor (PyTorch's rule).
struct Window {
  int64_t h0, h1, w0, w1, div;
};
__device__ __forceinline__ Window avg_window(const Pool2dGeom& g, int64_t oh, int64_t ow) {
  int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
  int64_t h1 = min(h0 + g.kh, g.h + g.ph), w1 = min(w0 + g.kw, g.w + g.pw);
  const int64_t padded = (h1 - h0) * (w1 - w0);
  h0 = max(h0, int64_t(0)), w0 = max(w0, int64_t(0));
  h1 = min(h1, g.h), w1 = min(w1, g.w);
  const int64_t real = max(h1 - h0, int64_t(0)) * max(w1 - w0, int64_t(0));
  return {h0, h1, w0, w1, max(g.count_include_pad ? padded : real, int64_t(1))};
}

template <typename T>
__global__ void avg_pool_fwd_kernel(const T* __restrict__ x, Pool2dGeom g, T* __restrict__ out) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = e % g.ow, oh = (e / g.ow) % g.oh, p = e / (g.ow * g.oh);
    const T* in = x + p * g.h * g.w;
    const Window a = avg_window(g, oh, ow);
    T acc = 0;
    for (int64_t ih = a.h0; ih < a.h1; ++ih)
      for (int64_t iw = a.w0; iw < a.w1; ++iw) acc += in[ih * g.w + iw];
    out[e] = acc / T(a.div);
  }
}

// Outputs o along one axis whose window [o*s - p, o*s - p + k) contains input i: o in [lo, hi].
__device__ __forceinline__ void covering(int64_t i, int64_t s, int64_t p, int64_t k, int64_t out, int64_t& lo,
                                         int64_t& hi) {
  const int64_t a = i + p - k + 1;  // o*s >= a
  lo = a <= 0 ? 0 : (a + s - 1) / s;
  hi = min((i + p) / s, out - 1);
}

template <typename T>
__global__ void avg_pool_bwd_kernel(const T* __restrict__ gout, Pool2dGeom g, T* __restrict__ gin) {
  const int64_t total = g.planes * g.h * g.w;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t iw = e % g.w, ih = (e / g.w) % g.h, p = e / (g.w * g.h);
    int64_t oh0, oh1, ow0, ow1;
    covering(ih, g.sh, g.ph, g.kh, g.oh, oh0, oh1);
    covering(iw, g.sw, g.pw, g.kw, g.ow, ow0, ow1);
    T acc = 0;
    for (int64_t oh = oh0; oh <= oh1; ++oh)
      for (int64_t ow = ow0; ow <= ow1; ++ow) {
        const Window a = avg_window(g, oh, ow);
        if (ih >= a.h0 && ih < a.h1 && iw >= a.w0 && iw < a.w1) acc += gout[(p * g.oh + oh) * g.ow + ow] / T(a.div);
      }
    gin[e] = acc;
  }
}

// Adaptive bins: output i covers input [floor(i*I/O), ceil((i+1)*I/O)).
__device__ __forceinline__ int64_t bin_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
__device__ __forceinline__ int64_t bin_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

template <typename T>
__global__ void adaptive_fwd_kernel(const T* __restrict__ x, Pool2dGeom g, T* __restrict__ out) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = e % g.ow, oh = (e / g.ow) % g.oh, p = e / (g.ow * g.oh);
    const int64_t h0 = bin_start(oh, g.h, g.oh), h1 = bin_end(oh, g.h, g.oh);
    const int64_t w0 = bin_start(ow, g.w, g.ow), w1 = bin_end(ow, g.w, g.ow);
    const T* in = x + p * g.h * g.w;
    T acc = 0;
    for (int64_t ih = h0; ih < h1; ++ih)
      for (int64_t iw = w0; iw < w1; ++iw) acc += in[ih * g.w + iw];
    out[e] = acc / T((h1 - h0) * (w1 - w0));
  }
}

template <typename T>
__global__ void adaptive_bwd_kernel(const T* __restrict__ gout, Pool2dGeom g, T* __restrict__ gin) {
  const int64_t total = g.planes * g.h * g.w;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t iw = e % g.w, ih = (e / g.w) % g.h, p = e / (g.w * g.h);
    // Candidate outputs: bins overlap by at most one neighbour, so test a small range around i*O/I.
    const int64_t oh_lo = max((ih * g.oh) / g.h - 1, int64_t(0)), oh_hi = min(((ih + 1) * g.oh) / g.h + 1, g.oh - 1);
    const int64_t ow_lo = max((iw * g.ow) / g.w - 1, int64_t(0)), ow_hi = min(((iw + 1) * g.ow) / g.w + 1, g.ow - 1);
    T acc = 0;
    for (int64_t oh = oh_lo; oh <= oh_hi; ++oh) {
      const int64_t h0 = bin_start(oh, g.h, g.oh), h1 = bin_end(oh, g.h, g.oh);
      if (ih < h0 || ih >= h1) continue;
      for (int64_t ow = ow_lo; ow <= ow_hi; ++ow) {
        const int64_t w0 = bin_start(ow, g.w, g.ow), w1 = bin_end(ow, g.w, g.ow);
        if (iw < w0 || iw >= w1) continue;
        acc += gout[(p * g.oh + oh) * g.ow + ow] / T((h1 - h0) * (w1 - w0));
      }
    }
    gin[e] = acc;
  }
}

// Upsampling taps along one axis (tensor/cpu/pool.cpp axis_taps): i0, i1 and weights l0, l1.
template <typename T>
__device__ __forceinline__ void axis_tap(int64_t d, int64_t in, int64_t out, bool bilinear, bool align, int64_t& i0,
                                         int64_t& i1, T& l0, T& l1) {
  if (!bilinear) {
    int64_t src;
    if (out == in) src = d;
    else if (out == 2 * in) src = d >> 1;
    else src = min(int64_t(floorf(float(d) * (float(in) / float(out)))), in - 1);
    i0 = i1 = src, l0 = T(1), l1 = T(0);
    return;
  }
  const T scale = align ? (out > 1 ? T(in - 1) / T(out - 1) : T(0)) : T(in) / T(out);
  T real = align ? scale * T(d) : scale * (T(d) + T(0.5)) - T(0.5);
  if (real < T(0)) real = T(0);
  i0 = min(int64_t(floor(real)), in - 1);
  T w = real - T(i0);
  w = w < T(0) ? T(0) : (w > T(1) ? T(1) : w);
  i1 = i0 + (i0 < in - 1 ? 1 : 0), l1 = w, l0 = T(1) - w;
}

template <typename T>
__global__ void upsample_fwd_kernel(const T* __restrict__ x, Pool2dGeom g, bool bilinear, bool align, T* __restrict__ out) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = e % g.ow, oh = (e / g.ow) % g.oh, p = e / (g.ow * g.oh);
    int64_t h0, h1, w0, w1;
    T a0, a1, b0, b1;
    axis_tap<T>(oh, g.h, g.oh, bilinear, align, h0, h1, a0, a1);
    axis_tap<T>(ow, g.w, g.ow, bilinear, align, w0, w1, b0, b1);
    const T* in = x + p * g.h * g.w;
    out[e] = a0 * (b0 * in[h0 * g.w + w0] + b1 * in[h0 * g.w + w1]) + a1 * (b0 * in[h1 * g.w + w0] + b1 * in[h1 * g.w + w1]);
  }
}

template <typename T>
__global__ void upsample_bwd_kernel(const T* __restrict__ gout, Pool2dGeom g, bool bilinear, bool align, T* __restrict__ gin) {
  const int64_t total = g.planes * g.oh * g.ow;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = e % g.ow, oh = (e / g.ow) % g.oh, p = e / (g.ow * g.oh);
    int64_t h0, h1, w0, w1;
    T a0, a1, b0, b1;
    axis_tap<T>(oh, g.h, g.oh, bilinear, align, h0, h1, a0, a1);
    axis_tap<T>(ow, g.w, g.ow, bilinear, align, w0, w1, b0, b1);
    T* plane = gin + p * g.h * g.w;
    const T v = gout[e];
    atomicAdd(plane + h0 * g.w + w0, a0 * b0 * v);
    if (b1 != T(0)) atomicAdd(plane + h0 * g.w + w1, a0 * b1 * v);
    if (a1 != T(0)) atomicAdd(plane + h1 * g.w + w0, a1 * b0 * v);
    if (a1 != T(0) && b1 != T(0)) atomicAdd(plane + h1 * g.w + w1, a1 * b1 * v);
  }
}

void zero(void* p, int64_t n, DType dt) {
  EMBER_CUDA_CHECK(cudaMemsetAsync(p, 0, size_t(n) * (dt == DType::f32 ? 4 : 8), current_stream()));
}

}  // namespace

#define EMBER_LAUNCH_FLOAT(total, kernel, ...)                                                          \
  do {                                                                                                 \
    if ((total) == 0) break;                                                                           \
    dispatch_float(dt, [&](auto z) {                                                                   \
      using T = decltype(z);                                                                           \
      kernel<T><<<grid_for(total, kThreads, 4), kThreads, 0, current_stream()>>>(__VA_ARGS__);         \
    });                                                                                                \
    EMBER_CUDA_LAUNCHED(#kernel);                                                                      \
  } while (0)

void launch_im2col(const void* x, const int64_t (&xs)[4], const Conv2dGeom& g, void* col, DType dt) {
  EMBER_LAUNCH_FLOAT(g.n * g.c * g.kh * g.kw * g.oh() * g.ow(), im2col_kernel, static_cast<const T*>(x), xs[0], xs[1],
                     xs[2], xs[3], g, static_cast<T*>(col));
}
void launch_col2im(const void* col, const Conv2dGeom& g, void* x, DType dt) {
  EMBER_LAUNCH_FLOAT(g.n * g.c * g.h * g.w, col2im_kernel, static_cast<const T*>(col), g, static_cast<T*>(x));
}
void launch_max_pool_fwd(const void* x, const Pool2dGeom& g, void* out, int64_t* idx, DType dt) {
  EMBER_LAUNCH_FLOAT(g.planes * g.oh * g.ow, max_pool_fwd_kernel, static_cast<const T*>(x), g, static_cast<T*>(out),
                     idx);
}
void launch_max_pool_bwd(const void* gout, const int64_t* idx, const Pool2dGeom& g, void* gin, DType dt) {
  zero(gin, g.planes * g.h * g.w, dt);
  EMBER_LAUNCH_FLOAT(g.planes * g.oh * g.ow, max_pool_bwd_kernel, static_cast<const T*>(gout), idx, g,
                     static_cast<T*>(gin));
}
void launch_avg_pool_fwd(const void* x, const Pool2dGeom& g, void* out, DType dt) {
  EMBER_LAUNCH_FLOAT(g.planes * g.oh * g.ow, avg_pool_fwd_kernel, static_cast<const T*>(x), g, static_cast<T*>(out));
}
void launch_avg_pool_bwd(const void* gout, const Pool2dGeom& g, void* gin, DType dt) {
  EMBER_LAUNCH_FLOAT(g.planes * g.h * g.w, avg_pool_bwd_kernel, static_cast<const T*>(gout), g, static_cast<T*>(gin));
}
void launch_adaptive_fwd(const void* x, const Pool2dGeom& g, void* out, DType dt) {
  EMBER_LAUNCH_FLOAT(g.planes * g.oh * g.ow, adaptive_fwd_kernel, static_cast<const T*>(x), g, static_cast<T*>(out));
}
void launch_adaptive_bwd(const void* gout, const Pool2dGeom& g, void* gin, DType dt) {
  EMBER_LAUNCH_FLOAT(g.planes * g.h * g.w, adaptive_bwd_kernel, static_cast<const T*>(gout), g, static_cast<T*>(gin));
}
void launch_upsample_fwd(const void* x, const Pool2dGeom& g, bool bilinear, bool align, void* out, DType dt) {
  EMBER_LAUNCH_FLOAT(g.planes * g.oh * g.ow, upsample_fwd_kernel, static_cast<const T*>(x), g, bilinear, align,
                     static_cast<T*>(out));
}
void launch_upsample_bwd(const void* gout, const Pool2dGeom& g, bool bilinear, bool align, void* gin, DType dt) {
  zero(gin, g.planes * g.h * g.w, dt);
  EMBER_LAUNCH_FLOAT(g.planes * g.oh * g.ow, upsample_bwd_kernel, static_cast<const T*>(gout), g, bilinear, align,
                     static_cast<T*>(gin));
}

}  // namespace ember::cuda

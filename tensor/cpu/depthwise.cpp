// Depthwise convolution on the CPU: the plane drivers and the plain (scalar, any stride, f32/f64)
// plane loops; the f32 SIMD planes live in depthwise_avx2.cpp / depthwise_avx512.cpp. See
// depthwise.h. Work split: forward and input gradient one (n, c) plane per task; the weight
// gradient one channel per task (looping over n in order), so no sums are shared between threads.
#include "tensor/cpu/depthwise.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "tensor/cpu/cpu_features.h"
#include "tensor/parallel.h"

namespace ember::cpu {
namespace {

constexpr int64_t kSlack = 64;  // readable elements after a padded plane (SIMD loads past row ends)

struct Geo {
  int64_t wp, oh, ow, kh, kw, sh, sw, dh, dw;
};

int64_t dw_plane_grain(int64_t work) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, work)); }

// buf (row length wp, borders already zero) <- the h x w plane at src (strides s2, s3) at (ph, pw).
template <typename T>
void pad_plane(const T* src, int64_t h, int64_t w, int64_t s2, int64_t s3, int64_t ph, int64_t pw, int64_t wp,
               T* buf) {
  for (int64_t y = 0; y < h; ++y) {
    T* dst = buf + (y + ph) * wp + pw;
    const T* row = src + y * s2;
    if (s3 == 1) std::copy(row, row + w, dst);
    else
      for (int64_t x = 0; x < w; ++x) dst[x] = row[x * s3];
  }
}

// out[r, o] (=|+=) sum_ij w[i, j] pad[(r*sh + i*dh)*wp + o*sw + j*dw].
template <typename T>
void fwd_plane(const T* pad, const Geo& q, const T* w, T* out, bool accumulate) {
  for (int64_t r = 0; r < q.oh; ++r)
    for (int64_t o = 0; o < q.ow; ++o) {
      T s = 0;
      for (int64_t i = 0; i < q.kh; ++i)
        for (int64_t j = 0; j < q.kw; ++j) s += w[i * q.kw + j] * pad[(r * q.sh + i * q.dh) * q.wp + o * q.sw + j * q.dw];
      out[r * q.ow + o] = accumulate ? out[r * q.ow + o] + s : s;
    }
}

// acc[i, j] += sum_{r, o} gy[r, o] pad[(r*sh + i*dh)*wp + o*sw + j*dw].
template <typename T>
void wgrad_plane(const T* pad, const Geo& q, const T* gy, T* acc) {
  for (int64_t i = 0; i < q.kh; ++i)
    for (int64_t j = 0; j < q.kw; ++j) {
      T s = 0;
      for (int64_t r = 0; r < q.oh; ++r)
        for (int64_t o = 0; o < q.ow; ++o) s += gy[r * q.ow + o] * pad[(r * q.sh + i * q.dh) * q.wp + o * q.sw + j * q.dw];
      acc[i * q.kw + j] += s;
    }
}

// The adjoint of fwd_plane: pad[...] += w[i, j] gy[r, o].
template <typename T>
void scatter_plane(const T* gy, const Geo& q, const T* w, T* pad) {
  for (int64_t r = 0; r < q.oh; ++r)
    for (int64_t i = 0; i < q.kh; ++i)
      for (int64_t j = 0; j < q.kw; ++j) {
        const T wij = w[i * q.kw + j];
        T* dst = pad + (r * q.sh + i * q.dh) * q.wp + j * q.dw;
        for (int64_t o = 0; o < q.ow; ++o) dst[o * q.sw] += wij * gy[r * q.ow + o];
      }
}

DwPlane simd_plane(const float* pad, const Geo& q) {
  return {.pad = pad, .wp = q.wp, .oh = q.oh, .ow = q.ow, .kh = q.kh, .kw = q.kw, .sh = q.sh, .dh = q.dh, .dw = q.dw};
}

// The forward plane for T on the active ISA.
template <typename T>
void run_fwd_plane(const T* pad, const Geo& q, const T* w, T* out, bool accumulate) {
  if constexpr (std::is_same_v<T, float>) {
    if (q.sw == 1 && active_isa() == Isa::avx512) return dw_fwd_plane_f32_avx512(simd_plane(pad, q), w, out, accumulate);
    if (q.sw == 1 && active_isa() == Isa::avx2) return dw_fwd_plane_f32_avx2(simd_plane(pad, q), w, out, accumulate);
  }
  fwd_plane(pad, q, w, out, accumulate);
}

template <typename T>
void forward_impl(const Tensor& x, const Tensor& wt, const Conv2dGeom& g, const Tensor& out, bool accumulate) {
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw, kk = g.kh * g.kw;
  const Geo q{wp, g.oh(), g.ow(), g.kh, g.kw, g.sh, g.sw, g.dh, g.dw};
  const T* xp = x.data<T>();
  const T* w = wt.data<T>();
  T* op = out.data<T>();
  parallel_for(g.n * g.c, dw_plane_grain(kk * q.oh * q.ow), [&](int64_t begin, int64_t end) {
    std::vector<T> pad(size_t(hp * wp + kSlack), T(0));
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / g.c, c = nc % g.c;
      pad_plane(xp + n * x.stride(0) + c * x.stride(1), g.h, g.w, x.stride(2), x.stride(3), g.ph, g.pw, wp, pad.data());
      run_fwd_plane(pad.data(), q, w + c * kk, op + nc * q.oh * q.ow, accumulate);
    }
  });
}

template <typename T>
void backward_input_impl(const Tensor& gy, const Tensor& wt, const Conv2dGeom& g, const Tensor& gx) {
  const int64_t OH = g.oh(), OW = g.ow(), kk = g.kh * g.kw;
  const T* gp = gy.data<T>();
  const T* w = wt.data<T>();
  T* xp = gx.data<T>();
  const int64_t fh = (g.kh - 1) * g.dh - g.ph, fw = (g.kw - 1) * g.dw - g.pw;
  if (g.sh == 1 && g.sw == 1 && fh >= 0 && fw >= 0) {
    // Stride 1: the input gradient is the forward conv of grad_out padded by (fh, fw) with the
    // kernel flipped, which keeps the SIMD planes' register blocking.
    std::vector<T> flipped(size_t(g.c * kk));
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t i = 0; i < kk; ++i) flipped[size_t(c * kk + i)] = w[c * kk + kk - 1 - i];
    const int64_t wp = OW + 2 * fw, hp = OH + 2 * fh;
    const Geo q{wp, g.h, g.w, g.kh, g.kw, 1, 1, g.dh, g.dw};
    parallel_for(g.n * g.c, dw_plane_grain(kk * g.h * g.w), [&](int64_t begin, int64_t end) {
      std::vector<T> pad(size_t(hp * wp + kSlack), T(0));
      for (int64_t nc = begin; nc < end; ++nc) {
        pad_plane(gp + nc * OH * OW, OH, OW, OW, 1, fh, fw, wp, pad.data());
        run_fwd_plane(pad.data(), q, flipped.data() + (nc % g.c) * kk, xp + nc * g.h * g.w, true);
      }
    });
    return;
  }
  // Strided: scatter into a zero-padded plane, then add its interior.
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw;
  const Geo q{wp, OH, OW, g.kh, g.kw, g.sh, g.sw, g.dh, g.dw};
  parallel_for(g.n * g.c, dw_plane_grain(kk * OH * OW), [&](int64_t begin, int64_t end) {
    std::vector<T> pad(size_t(hp * wp));
    for (int64_t nc = begin; nc < end; ++nc) {
      std::fill(pad.begin(), pad.end(), T(0));
      scatter_plane(gp + nc * OH * OW, q, w + (nc % g.c) * kk, pad.data());
      T* plane = xp + nc * g.h * g.w;
      for (int64_t y = 0; y < g.h; ++y)
        for (int64_t x = 0; x < g.w; ++x) plane[y * g.w + x] += pad[size_t((y + g.ph) * wp + x + g.pw)];
    }
  });
}

template <typename T>
void backward_weight_impl(const Tensor& gy, const Tensor& x, const Conv2dGeom& g, const Tensor& gw) {
  const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw, kk = g.kh * g.kw;
  const Geo q{wp, g.oh(), g.ow(), g.kh, g.kw, g.sh, g.sw, g.dh, g.dw};
  const T* gp = gy.data<T>();
  const T* xp = x.data<T>();
  T* wout = gw.data<T>();
  parallel_for(g.c, dw_plane_grain(g.n * kk * q.oh * q.ow), [&](int64_t begin, int64_t end) {
    std::vector<T> pad(size_t(hp * wp + kSlack), T(0));
    for (int64_t c = begin; c < end; ++c) {
      T* acc = wout + c * kk;
      std::fill(acc, acc + kk, T(0));
      for (int64_t n = 0; n < g.n; ++n) {
        pad_plane(xp + n * x.stride(0) + c * x.stride(1), g.h, g.w, x.stride(2), x.stride(3), g.ph, g.pw, wp,
                  pad.data());
        const T* gplane = gp + (n * g.c + c) * q.oh * q.ow;
        if constexpr (std::is_same_v<T, float>) {
          if (q.sw == 1 && active_isa() == Isa::avx512) {
            dw_wgrad_plane_f32_avx512(simd_plane(pad.data(), q), gplane, acc);
            continue;
          }
          if (q.sw == 1 && active_isa() == Isa::avx2) {
            dw_wgrad_plane_f32_avx2(simd_plane(pad.data(), q), gplane, acc);
            continue;
          }
        }
        wgrad_plane(pad.data(), q, gplane, acc);
      }
    }
  });
}

}  // namespace

bool depthwise_applies(const Tensor& t, const Conv2dGeom& g, int64_t groups, int64_t m) {
  return t.device().is_cpu() && (t.dtype() == DType::f32 || t.dtype() == DType::f64) && groups == g.c && m == g.c;
}

void depthwise_forward(const Tensor& x, const Tensor& w, const Conv2dGeom& g, const Tensor& out, bool accumulate) {
  if (x.dtype() == DType::f64) return forward_impl<double>(x, w, g, out, accumulate);
  forward_impl<float>(x, w, g, out, accumulate);
}

void depthwise_backward_input(const Tensor& grad_out, const Tensor& w, const Conv2dGeom& g, const Tensor& gx) {
  if (gx.dtype() == DType::f64) return backward_input_impl<double>(grad_out, w, g, gx);
  backward_input_impl<float>(grad_out, w, g, gx);
}

void depthwise_backward_weight(const Tensor& grad_out, const Tensor& x, const Conv2dGeom& g, const Tensor& gw) {
  if (gw.dtype() == DType::f64) return backward_weight_impl<double>(grad_out, x, g, gw);
  backward_weight_impl<float>(grad_out, x, g, gw);
}

}  // namespace ember::cpu

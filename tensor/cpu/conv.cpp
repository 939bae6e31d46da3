// CPU convolution lowering: im2col and its adjoint col2im (the GEMMs live in gemm.cpp).
//
// Legend: N batch, C channels, H/W input height/width, kh/kw kernel, sh/sw stride, ph/pw zero
// padding, dh/dw dilation, OH/OW output height/width, L = OH*OW output positions.
// col row r = (c*kh + i)*kw + j holds, for every output position l = oh*OW + ow, the input pixel
// x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw] (0 outside the image).
//
// Work split: one (n, c) input plane per task (kh*kw rows of col); col2im's tasks own disjoint
// planes of x, so the scatter needs no atomics. The per-row valid range [lo, hi) of ow is computed
// once, so the inner loops are branch-free (a straight copy when sw == 1 and x's W stride is 1).
// The obvious per-element versions are in ref/conv.cpp; tests/tensor/test_cpu_conv.cpp compares.
#include <algorithm>
#include <cstring>

#include "tensor/cpu/cpu_backend.h"
#include "tensor/parallel.h"

namespace ember::cpu {
namespace {

// [lo, hi): the output positions o in [0, out) whose input coordinate o*s - p + kd lies in [0, size).
struct Range {
  int64_t lo, hi;
};
Range valid_range(int64_t size, int64_t out, int64_t s, int64_t p, int64_t kd) {
  int64_t a = p - kd;             // need o*s >= a
  int64_t b = size - 1 + p - kd;  // need o*s <= b
  int64_t lo = a <= 0 ? 0 : (a + s - 1) / s;
  int64_t hi = b < 0 ? 0 : b / s + 1;
  lo = std::min(lo, out);
  hi = std::clamp(hi, lo, out);
  return {lo, hi};
}

int64_t plane_grain(int64_t work_per_plane) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, work_per_plane)); }

template <typename T>
void im2col_impl(const Tensor& x, const Conv2dGeom& g, const Tensor& col) {
  const int64_t OH = g.oh(), OW = g.ow(), L = OH * OW, kk = g.kh * g.kw;
  const T* xp = x.data<T>();
  T* cp = col.data<T>();
  const int64_t xs0 = x.stride(0), xs1 = x.stride(1), xs2 = x.stride(2), xs3 = x.stride(3);
  parallel_for(g.n * g.c, plane_grain(kk * L), [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / g.c, c = nc % g.c;
      const T* plane = xp + n * xs0 + c * xs1;
      T* rows = cp + nc * kk * L;  // col[n] rows c*kk .. c*kk+kk-1 are contiguous
      for (int64_t i = 0; i < g.kh; ++i) {
        const Range rh = valid_range(g.h, OH, g.sh, g.ph, i * g.dh);
        for (int64_t j = 0; j < g.kw; ++j) {
          const Range rw = valid_range(g.w, OW, g.sw, g.pw, j * g.dw);
          T* row = rows + (i * g.kw + j) * L;
          std::fill(row, row + rh.lo * OW, T(0));
          std::fill(row + rh.hi * OW, row + L, T(0));
          for (int64_t oh = rh.lo; oh < rh.hi; ++oh) {
            T* dst = row + oh * OW;
            const T* src = plane + (oh * g.sh - g.ph + i * g.dh) * xs2;
            const int64_t iw0 = j * g.dw - g.pw;  // input column of ow = 0
            std::fill(dst, dst + rw.lo, T(0));
            if (g.sw == 1 && xs3 == 1) {
              std::copy(src + rw.lo + iw0, src + rw.hi + iw0, dst + rw.lo);
            } else {
              for (int64_t ow = rw.lo; ow < rw.hi; ++ow) dst[ow] = src[(ow * g.sw + iw0) * xs3];
            }
            std::fill(dst + rw.hi, dst + OW, T(0));
          }
        }
      }
    }
  });
}

template <typename T>
void col2im_impl(const Tensor& col, const Conv2dGeom& g, const Tensor& x) {
  const int64_t OH = g.oh(), OW = g.ow(), L = OH * OW, kk = g.kh * g.kw;
  const T* cp = col.data<T>();
  T* xp = x.data<T>();
  parallel_for(g.n * g.c, plane_grain(kk * L), [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      T* plane = xp + nc * g.h * g.w;  // x contiguous: plane nc = (n, c)
      const T* rows = cp + nc * kk * L;
      for (int64_t i = 0; i < g.kh; ++i) {
        const Range rh = valid_range(g.h, OH, g.sh, g.ph, i * g.dh);
        for (int64_t j = 0; j < g.kw; ++j) {
          const Range rw = valid_range(g.w, OW, g.sw, g.pw, j * g.dw);
          const T* row = rows + (i * g.kw + j) * L;
          const int64_t iw0 = j * g.dw - g.pw;
          for (int64_t oh = rh.lo; oh < rh.hi; ++oh) {
            T* dst = plane + (oh * g.sh - g.ph + i * g.dh) * g.w;
            const T* src = row + oh * OW;
            if (g.sw == 1) {
              for (int64_t ow = rw.lo; ow < rw.hi; ++ow) dst[ow + iw0] += src[ow];
            } else {
              for (int64_t ow = rw.lo; ow < rw.hi; ++ow) dst[ow * g.sw + iw0] += src[ow];
            }
          }
        }
      }
    }
  });
}

void check_geom(const Tensor& x, const Conv2dGeom& g, const Tensor& col, const char* op) {
  EMBER_ASSERT(x.dim() == 4 && x.size(0) == g.n && x.size(1) == g.c && x.size(2) == g.h && x.size(3) == g.w,
               "{}: x {} does not match the geometry", op, shape_str(x.shape()));
  EMBER_ASSERT(col.is_contiguous() && col.shape() == Shape({g.n, g.c * g.kh * g.kw, g.oh() * g.ow()}),
               "{}: col {} is not a contiguous [N, C*kh*kw, OH*OW]", op, shape_str(col.shape()));
  EMBER_ASSERT(g.sh >= 1 && g.sw >= 1 && g.dh >= 1 && g.dw >= 1 && g.oh() >= 1 && g.ow() >= 1,
               "{}: bad geometry", op);
}

}  // namespace

// x [N, C, H, W] any strides -> col [N, C*kh*kw, OH*OW] contiguous (`=`).
void CpuBackend::im2col(const Tensor& x, const Conv2dGeom& g, const Tensor& col) {
  check_geom(x, g, col, "im2col");
  dispatch_float(x.dtype(), "im2col", [&]<typename T>() { im2col_impl<T>(x, g, col); });
}

// col [N, C*kh*kw, OH*OW] contiguous -> x [N, C, H, W] contiguous (`+=`).
void CpuBackend::col2im(const Tensor& col, const Conv2dGeom& g, const Tensor& x) {
  check_geom(x, g, col, "col2im");
  EMBER_ASSERT(x.is_contiguous(), "col2im: x must be contiguous");
  dispatch_float(x.dtype(), "col2im", [&]<typename T>() { col2im_impl<T>(col, g, x); });
}

}  // namespace ember::cpu

// CPU convolution lowering: im2col and its adjoint col2im (the GEMMs live in gemm.cpp).
//
// Legend: N batch, C channels, H/W input height/width, kh/kw kernel, sh/sw stride, ph/pw zero
// padding, dh/dw dilation, OH/OW output height/width, L = OH*OW output positions.
// col row r = (c*kh + i)*kw + j holds, for every output position l = oh*OW + ow, the input pixel
// x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw] (0 outside the image).
//
// Work split: one (n, c) input plane per task (kh*kw rows of col); col2im's tasks own disjoint
// planes of x, so the scatter needs no atomics. Small planes use a zero-padded copy (use_padded). The per-row valid range [lo, hi) of ow is computed
// once, so the inner loops are branch-free (a straight copy when sw == 1 and x's W stride is 1).
// The obvious per-element versions are in ref/conv.cpp; tests/tensor/test_cpu_conv.cpp compares.
#include <algorithm>
#include <cstring>
#include <vector>

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

// Small planes (W6's 6x7, W2's 28x28, W3's 64x64) go through a zero-padded copy of the plane:
// every col row is then a plain strided gather with no per-row range logic or short fills/memmoves,
// which dominated im2col on 7-wide rows. Planes above this many padded elements use the range path.
constexpr int64_t kPaddedPlaneMax = int64_t{1} << 16;
bool use_padded(const Conv2dGeom& g) { return (g.h + 2 * g.ph) * (g.w + 2 * g.pw) <= kPaddedPlaneMax; }

// rows[r * cs1 + l] = pad[(oh*sh + i*dh) * Wp + ow*sw + j*dw] for r = i*kw + j, l = oh*OW + ow.
template <typename T>
void gather_rows(const Conv2dGeom& g, const T* pad, int64_t wp, T* rows, int64_t cs1) {
  const int64_t OH = g.oh(), OW = g.ow();
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      T* row = rows + (i * g.kw + j) * cs1;
      for (int64_t oh = 0; oh < OH; ++oh) {
        const T* src = pad + (oh * g.sh + i * g.dh) * wp + j * g.dw;
        T* dst = row + oh * OW;
        if (g.sw == 1) {
          for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = src[ow];
        } else {
          for (int64_t ow = 0; ow < OW; ++ow) dst[ow] = src[ow * g.sw];
        }
      }
    }
}

// The adjoint: pad[...] += rows[...] (same index map as gather_rows).
template <typename T>
void scatter_rows(const Conv2dGeom& g, const T* rows, int64_t cs1, T* pad, int64_t wp) {
  const int64_t OH = g.oh(), OW = g.ow();
  for (int64_t i = 0; i < g.kh; ++i)
    for (int64_t j = 0; j < g.kw; ++j) {
      const T* row = rows + (i * g.kw + j) * cs1;
      for (int64_t oh = 0; oh < OH; ++oh) {
        T* dst = pad + (oh * g.sh + i * g.dh) * wp + j * g.dw;
        const T* src = row + oh * OW;
        if (g.sw == 1) {
          for (int64_t ow = 0; ow < OW; ++ow) dst[ow] += src[ow];
        } else {
          for (int64_t ow = 0; ow < OW; ++ow) dst[ow * g.sw] += src[ow];
        }
      }
    }
}

template <typename T>
void im2col_impl(const Tensor& x, const Conv2dGeom& g, const Tensor& col) {
  const int64_t OH = g.oh(), OW = g.ow(), L = OH * OW, kk = g.kh * g.kw;
  const T* xp = x.data<T>();
  T* cp = col.data<T>();
  const int64_t xs0 = x.stride(0), xs1 = x.stride(1), xs2 = x.stride(2), xs3 = x.stride(3);
  const int64_t cs0 = col.stride(0), cs1 = col.stride(1);
  if (use_padded(g)) {
    const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw;
    parallel_for(g.n * g.c, plane_grain(kk * L), [&](int64_t begin, int64_t end) {
      std::vector<T> pad(size_t(hp * wp), T(0));  // the border stays zero
      for (int64_t nc = begin; nc < end; ++nc) {
        const int64_t n = nc / g.c, c = nc % g.c;
        const T* plane = xp + n * xs0 + c * xs1;
        for (int64_t h = 0; h < g.h; ++h)
          for (int64_t w = 0; w < g.w; ++w) pad[size_t((h + g.ph) * wp + w + g.pw)] = plane[h * xs2 + w * xs3];
        gather_rows(g, pad.data(), wp, cp + n * cs0 + c * kk * cs1, cs1);
      }
    });
    return;
  }
  parallel_for(g.n * g.c, plane_grain(kk * L), [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      const int64_t n = nc / g.c, c = nc % g.c;
      const T* plane = xp + n * xs0 + c * xs1;
      T* rows = cp + n * cs0 + c * kk * cs1;  // col[n] rows c*kk .. c*kk+kk-1
      for (int64_t i = 0; i < g.kh; ++i) {
        const Range rh = valid_range(g.h, OH, g.sh, g.ph, i * g.dh);
        for (int64_t j = 0; j < g.kw; ++j) {
          const Range rw = valid_range(g.w, OW, g.sw, g.pw, j * g.dw);
          T* row = rows + (i * g.kw + j) * cs1;
          std::fill(row, row + rh.lo * OW, T(0));
          std::fill(row + rh.hi * OW, row + L, T(0));
          for (int64_t oh = rh.lo; oh < rh.hi; ++oh) {
            T* dst = row + oh * OW;
            const T* src = plane + (oh * g.sh - g.ph + i * g.dh) * xs2;
            const int64_t iw0 = j * g.dw - g.pw;  // input column of ow = 0
            std::fill(dst, dst + rw.lo, T(0));
            if (g.sw == 1 && xs3 == 1) {  // a plain loop: short rows (OW = 7) lose to a memmove call
              for (int64_t ow = rw.lo; ow < rw.hi; ++ow) dst[ow] = src[ow + iw0];
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
  const int64_t cs0 = col.stride(0), cs1 = col.stride(1);
  if (use_padded(g)) {
    const int64_t hp = g.h + 2 * g.ph, wp = g.w + 2 * g.pw;
    parallel_for(g.n * g.c, plane_grain(kk * L), [&](int64_t begin, int64_t end) {
      std::vector<T> pad(size_t(hp * wp));
      for (int64_t nc = begin; nc < end; ++nc) {
        std::fill(pad.begin(), pad.end(), T(0));
        scatter_rows(g, cp + (nc / g.c) * cs0 + (nc % g.c) * kk * cs1, cs1, pad.data(), wp);
        T* plane = xp + nc * g.h * g.w;
        for (int64_t h = 0; h < g.h; ++h)
          for (int64_t w = 0; w < g.w; ++w) plane[h * g.w + w] += pad[size_t((h + g.ph) * wp + w + g.pw)];
      }
    });
    return;
  }
  parallel_for(g.n * g.c, plane_grain(kk * L), [&](int64_t begin, int64_t end) {
    for (int64_t nc = begin; nc < end; ++nc) {
      T* plane = xp + nc * g.h * g.w;  // x contiguous: plane nc = (n, c)
      const T* rows = cp + (nc / g.c) * cs0 + (nc % g.c) * kk * cs1;
      for (int64_t i = 0; i < g.kh; ++i) {
        const Range rh = valid_range(g.h, OH, g.sh, g.ph, i * g.dh);
        for (int64_t j = 0; j < g.kw; ++j) {
          const Range rw = valid_range(g.w, OW, g.sw, g.pw, j * g.dw);
          const T* row = rows + (i * g.kw + j) * cs1;
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
  EMBER_ASSERT(col.stride(2) == 1 && col.shape() == Shape({g.n, g.c * g.kh * g.kw, g.oh() * g.ow()}),
               "{}: col {} is not a [N, C*kh*kw, OH*OW] with unit stride along OH*OW", op, shape_str(col.shape()));
  EMBER_ASSERT(g.sh >= 1 && g.sw >= 1 && g.dh >= 1 && g.dw >= 1 && g.oh() >= 1 && g.ow() >= 1,
               "{}: bad geometry", op);
}

}  // namespace

// x [N, C, H, W] any strides -> col [N, C*kh*kw, OH*OW] (`=`). Beyond the interface's contiguous
// col, the CPU accepts any batch and row strides with unit stride along OH*OW (the conv op's
// "wide" layout [C*kh*kw, N*OH*OW] is such a view).
void CpuBackend::im2col(const Tensor& x, const Conv2dGeom& g, const Tensor& col) {
  check_geom(x, g, col, "im2col");
  dispatch_float(x.dtype(), "im2col", [&]<typename T>() { im2col_impl<T>(x, g, col); });
}

// col [N, C*kh*kw, OH*OW] (strides as for im2col) -> x [N, C, H, W] contiguous (`+=`).
void CpuBackend::col2im(const Tensor& col, const Conv2dGeom& g, const Tensor& x) {
  check_geom(x, g, col, "col2im");
  EMBER_ASSERT(x.is_contiguous(), "col2im: x must be contiguous");
  dispatch_float(x.dtype(), "col2im", [&]<typename T>() { col2im_impl<T>(col, g, x); });
}

}  // namespace ember::cpu

// Scalar references for im2col / col2im (see conv.h). Legend as there.
#include "tensor/cpu/ref/conv.h"

namespace ember::cpu::ref {
namespace {

// Calls f(row, l, ih, iw, inside) for every element of col.
template <typename F>
void for_each_tap(const Conv2dGeom& g, F&& f) {
  const int64_t OH = g.oh(), OW = g.ow();
  for (int64_t c = 0; c < g.c; ++c)
    for (int64_t i = 0; i < g.kh; ++i)
      for (int64_t j = 0; j < g.kw; ++j)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t ih = oh * g.sh - g.ph + i * g.dh, iw = ow * g.sw - g.pw + j * g.dw;
            const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
            f(c, (c * g.kh + i) * g.kw + j, oh * OW + ow, ih, iw, inside);
          }
}

}  // namespace

void im2col(const Tensor& x, const Conv2dGeom& g, const Tensor& col) {
  const int64_t rows = g.c * g.kh * g.kw, L = g.oh() * g.ow();
  dispatch_float(x.dtype(), "ref::im2col", [&]<typename T>() {
    const T* xp = x.data<T>();
    T* cp = col.data<T>();
    for (int64_t n = 0; n < g.n; ++n)
      for_each_tap(g, [&](int64_t c, int64_t r, int64_t l, int64_t ih, int64_t iw, bool inside) {
        cp[(n * rows + r) * L + l] =
            inside ? xp[n * x.stride(0) + c * x.stride(1) + ih * x.stride(2) + iw * x.stride(3)] : T(0);
      });
  });
}

void col2im(const Tensor& col, const Conv2dGeom& g, const Tensor& x) {
  const int64_t rows = g.c * g.kh * g.kw, L = g.oh() * g.ow();
  dispatch_float(x.dtype(), "ref::col2im", [&]<typename T>() {
    const T* cp = col.data<T>();
    T* xp = x.data<T>();
    for (int64_t n = 0; n < g.n; ++n)
      for_each_tap(g, [&](int64_t c, int64_t r, int64_t l, int64_t ih, int64_t iw, bool inside) {
        if (inside) xp[((n * g.c + c) * g.h + ih) * g.w + iw] += cp[(n * rows + r) * L + l];
      });
  });
}

}  // namespace ember::cpu::ref

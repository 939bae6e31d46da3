// The depthwise conv kernels (tensor/cpu/depthwise.cpp + _avx2/_avx512) against a plain direct
// convolution computed here in f64, on every ISA this CPU runs: odd sizes and row tails, stride,
// dilation, padding, strided inputs, sentinel guards around every output; conv2d(groups = C)
// routed to them with gradcheck; and the routed result against the generic grouped im2col path.
#include <gtest/gtest.h>

#include "tensor/cpu/depthwise.h"
#include "tests/common/expect_close.h"
#include "tests/tensor/cpu_isa_sweep.h"

namespace ember {
namespace {
using test::all_close;

// The definition: out[n,c,r,o] = sum_ij w[c,i,j] x[n,c,r*sh-ph+i*dh, o*sw-pw+j*dw] (0 outside).
struct Direct {
  Tensor out, gx, gw;  // forward, and the two gradients for the cotangent gy
};
Direct direct(const Tensor& x, const Tensor& w, const Tensor& gy, const Conv2dGeom& g) {
  const auto xv = x.contiguous().to_vector<double>(), wv = w.to_vector<double>(), gv = gy.to_vector<double>();
  const int64_t OH = g.oh(), OW = g.ow(), kk = g.kh * g.kw;
  std::vector<double> out(size_t(g.n * g.c * OH * OW)), gx(xv.size()), gw(wv.size());
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t r = 0; r < OH; ++r)
        for (int64_t o = 0; o < OW; ++o) {
          const size_t oi = size_t(((n * g.c + c) * OH + r) * OW + o);
          for (int64_t i = 0; i < g.kh; ++i)
            for (int64_t j = 0; j < g.kw; ++j) {
              const int64_t y = r * g.sh - g.ph + i * g.dh, xx = o * g.sw - g.pw + j * g.dw;
              if (y < 0 || y >= g.h || xx < 0 || xx >= g.w) continue;
              const size_t xi = size_t(((n * g.c + c) * g.h + y) * g.w + xx), wi = size_t(c * kk + i * g.kw + j);
              out[oi] += wv[wi] * xv[xi];
              gx[xi] += wv[wi] * gv[oi];
              gw[wi] += gv[oi] * xv[xi];
            }
        }
  const TensorOptions f64{.dtype = DType::f64};
  return {Tensor::from_vector(out, {g.n, g.c, OH, OW}, f64), Tensor::from_vector(gx, x.shape(), f64),
          Tensor::from_vector(gw, w.shape(), f64)};
}

void check_kernels(const Conv2dGeom& g, DType dt, bool strided_x) {
  SCOPED_TRACE(fmt::format("n{} c{} {}x{} k{}x{} s{},{} p{},{} d{},{} {}", g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw,
                           g.ph, g.pw, g.dh, g.dw, strided_x ? "strided" : ""));
  Generator gen(7);
  const Tensor x = strided_x ? Tensor::randn({g.n, g.c, g.w, g.h}, {.dtype = dt}, &gen).transpose(2, 3)
                             : Tensor::randn({g.n, g.c, g.h, g.w}, {.dtype = dt}, &gen);
  const Tensor w = Tensor::randn({g.c, 1, g.kh, g.kw}, {.dtype = dt}, &gen);
  const Tensor gy = Tensor::randn({g.n, g.c, g.oh(), g.ow()}, {.dtype = dt}, &gen);
  const Direct ref = direct(x, w, gy, g);
  const double tol = dt == DType::f32 ? 2e-5 : 1e-12, sentinel = 1234.5;
  for (cpu::Isa isa : test::cpu_isas()) {
    SCOPED_TRACE(std::string(cpu::isa_name(isa)));
    test::IsaScope scope(isa);
    test::Guarded out({g.n, g.c, g.oh(), g.ow()}, dt, sentinel);
    cpu::depthwise_forward(x, w, g, out.view, false);
    EXPECT_TRUE(all_close(out.view, ref.out, tol, tol));
    cpu::depthwise_forward(x, w, g, out.view, true);  // accumulate: twice the result
    EXPECT_TRUE(all_close(out.view, ref.out * 2.0, tol, tol));
    EXPECT_TRUE(out.guards_intact(sentinel));

    test::Guarded gx(x.shape(), dt, sentinel);
    gx.view.copy_(Tensor::full(x.shape(), 0.5, {.dtype = dt}));
    cpu::depthwise_backward_input(gy, w, g, gx.view);  // += into 0.5
    EXPECT_TRUE(all_close(gx.view, ref.gx + 0.5, tol, tol));
    EXPECT_TRUE(gx.guards_intact(sentinel));

    test::Guarded gw(w.shape(), dt, sentinel);
    cpu::depthwise_backward_weight(gy, x, g, gw.view);
    EXPECT_TRUE(all_close(gw.view, ref.gw, 1e-4, dt == DType::f32 ? 1e-4 : 1e-11));
    EXPECT_TRUE(gw.guards_intact(sentinel));
  }
}

TEST(CpuDepthwise, KernelsMatchTheDirectConvolutionOnEveryIsa) {
  for (DType dt : {DType::f32, DType::f64})
    for (bool tr : {false, true}) {
      // the NAS cell shapes: 3x3 / 5x5 "same", dilation 2, stride 2 in reduction cells
      check_kernels({.n = 2, .c = 3, .h = 28, .w = 28, .kh = 3, .kw = 3, .ph = 1, .pw = 1}, dt, tr);
      check_kernels({.n = 1, .c = 2, .h = 14, .w = 14, .kh = 5, .kw = 5, .ph = 2, .pw = 2}, dt, tr);
      check_kernels({.n = 2, .c = 2, .h = 7, .w = 7, .kh = 3, .kw = 3, .ph = 2, .pw = 2, .dh = 2, .dw = 2}, dt, tr);
      check_kernels({.n = 1, .c = 3, .h = 14, .w = 14, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .ph = 1, .pw = 1}, dt, tr);
      // odd sizes and every row-tail length around 8/16/32, asymmetric kernels and pads, no pad
      check_kernels({.n = 1, .c = 2, .h = 5, .w = 33, .kh = 3, .kw = 2, .ph = 1, .pw = 0}, dt, tr);
      check_kernels({.n = 1, .c = 1, .h = 3, .w = 17, .kh = 1, .kw = 5, .ph = 0, .pw = 2}, dt, tr);
      check_kernels({.n = 2, .c = 1, .h = 9, .w = 1, .kh = 3, .kw = 1, .ph = 1, .pw = 0}, dt, tr);
      check_kernels({.n = 1, .c = 2, .h = 6, .w = 47, .kh = 3, .kw = 3, .ph = 0, .pw = 0, .dh = 1, .dw = 3}, dt, tr);
      // padding wider than the dilated kernel (the input gradient's strided path) and stride 3
      check_kernels({.n = 1, .c = 2, .h = 4, .w = 9, .kh = 2, .kw = 2, .ph = 3, .pw = 2}, dt, tr);
      check_kernels({.n = 1, .c = 2, .h = 11, .w = 10, .kh = 3, .kw = 3, .sh = 3, .sw = 1, .ph = 1, .pw = 1}, dt, tr);
    }
}

TEST(CpuDepthwise, Conv2dRoutesGroupsEqualChannelsAndGradchecks) {
  for (cpu::Isa isa : test::cpu_isas()) {
    test::IsaScope scope(isa);
    Tensor x = test::rand64({2, 3, 6, 5}, 1), w = test::rand64({3, 1, 3, 3}, 2), b = test::rand64({3}, 3);
    EXPECT_TRUE(test::grad_ok(
        [](const std::vector<Tensor>& t) { return conv2d(t[0], t[1], t[2], {.pad_h = 1, .pad_w = 1, .groups = 3}); },
        {x, w, b}));
    EXPECT_TRUE(test::grad_ok(
        [](const std::vector<Tensor>& t) {
          return conv2d(t[0], t[1], {}, {.stride_h = 2, .stride_w = 2, .pad_h = 2, .pad_w = 2, .dilation_h = 2,
                                        .dilation_w = 2, .groups = 3});
        },
        {x, w}));
    EXPECT_TRUE(test::grad_ok(
        [](const std::vector<Tensor>& t) {
          return conv_transpose2d(t[0], t[1], {}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 3});
        },
        {x, w}));
  }
}

// The same depthwise conv through the hook and as a grouped conv with one extra zero output per
// group pair (groups = C/1 but weight [2C, 1, k, k] is no longer depthwise: the im2col path).
TEST(CpuDepthwise, MatchesTheGenericGroupedPath) {
  Generator gen(3);
  Tensor x = Tensor::randn({3, 4, 13, 11}, {}, &gen), w = Tensor::randn({4, 1, 5, 5}, {}, &gen);
  Tensor y = conv2d(x, w, {}, {.pad_h = 2, .pad_w = 2, .groups = 4});
  Tensor w2 = cat({w.unsqueeze(1), Tensor::zeros({4, 1, 1, 5, 5})}, 1).reshape({8, 1, 5, 5});
  Tensor y2 = conv2d(x, w2, {}, {.pad_h = 2, .pad_w = 2, .groups = 4});  // channels 0, 2, 4, 6 are y
  EXPECT_TRUE(all_close(y, y2.reshape({3, 4, 2, 13, 11}).select(2, 0), 1e-5, 1e-5));
}

}  // namespace
}  // namespace ember

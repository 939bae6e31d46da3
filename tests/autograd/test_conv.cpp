// conv2d and conv_transpose2d: gradcheck for every option, NumPy-anchored values, f32 against a
// naive f64 direct convolution (forward and both gradients, incl. a batch that is im2col-chunked),
// and error messages.
#include <gtest/gtest.h>

#include <vector>

#include "autograd/ops.h"
#include "tests/common/expect_close.h"

namespace ember {
namespace {
using test::all_close;
using test::grad_ok;
using test::rand64;
using test::throws_with;

// ((i*a) % b - c) / d for flat index i: the same pattern as `pat` in the NumPy snippets below.
Tensor pat(const Shape& s, int64_t a, int64_t b, int64_t c, double d, DType dt = DType::f64) {
  std::vector<double> v(static_cast<size_t>(numel_of(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>((static_cast<int64_t>(i) * a) % b - c) / d;
  return Tensor::from_vector(v, s, {.dtype = DType::f64}).to(dt);
}

// ---- naive f64 references (direct loops over PyTorch's definition) ----
struct Geo {
  int64_t sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
};

// y[n,m,oh,ow] = b[m] + sum_{c,i,j} x[n, g*Cg+c, oh*sh-ph+i*dh, ow*sw-pw+j*dw] * w[m,c,i,j]
// Also returns, through the optional pointers, the vjp with cotangent r: grad_x, grad_w.
Tensor naive_conv(const Tensor& xt, const Tensor& wt, const Tensor& bt, Geo o, const Tensor& rt = {},
                  Tensor* gxt = nullptr, Tensor* gwt = nullptr) {
  const auto x = xt.to_vector<double>(), w = wt.to_vector<double>();
  const int64_t N = xt.size(0), C = xt.size(1), H = xt.size(2), W = xt.size(3);
  const int64_t M = wt.size(0), Cg = wt.size(1), kh = wt.size(2), kw = wt.size(3), Mg = M / o.groups;
  const int64_t OH = (H + 2 * o.ph - o.dh * (kh - 1) - 1) / o.sh + 1, OW = (W + 2 * o.pw - o.dw * (kw - 1) - 1) / o.sw + 1;
  std::vector<double> y(N * M * OH * OW), gx(x.size()), gw(w.size());
  const std::vector<double> b = bt.defined() ? bt.to_vector<double>() : std::vector<double>(M, 0.0);
  const std::vector<double> r = rt.defined() ? rt.to_vector<double>() : std::vector<double>(y.size(), 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t yi = ((n * M + m) * OH + oh) * OW + ow;
          double acc = b[m];
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t ih = oh * o.sh - o.ph + i * o.dh, iw = ow * o.sw - o.pw + j * o.dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                const int64_t xi = ((n * C + (m / Mg) * Cg + c) * H + ih) * W + iw, wi = ((m * Cg + c) * kh + i) * kw + j;
                acc += x[xi] * w[wi];
                gx[xi] += r[yi] * w[wi];
                gw[wi] += r[yi] * x[xi];
              }
          y[yi] = acc;
        }
  const TensorOptions f64{.dtype = DType::f64};
  if (gxt) *gxt = Tensor::from_vector(gx, xt.shape(), f64);
  if (gwt) *gwt = Tensor::from_vector(gw, wt.shape(), f64);
  return Tensor::from_vector(y, {N, M, OH, OW}, f64);
}

// y[n, g*Cog+co, ih*sh-ph+i*dh, iw*sw-pw+j*dw] += x[n,ci,ih,iw] * w[ci,co,i,j]  (ci in group g), + b
Tensor naive_conv_t(const Tensor& xt, const Tensor& wt, const Tensor& bt, Geo o, int64_t oph, int64_t opw) {
  const auto x = xt.to_vector<double>(), w = wt.to_vector<double>();
  const int64_t N = xt.size(0), Cin = xt.size(1), H = xt.size(2), W = xt.size(3);
  const int64_t Cog = wt.size(1), kh = wt.size(2), kw = wt.size(3), Cout = Cog * o.groups, Cig = Cin / o.groups;
  const int64_t OH = (H - 1) * o.sh - 2 * o.ph + o.dh * (kh - 1) + oph + 1;
  const int64_t OW = (W - 1) * o.sw - 2 * o.pw + o.dw * (kw - 1) + opw + 1;
  std::vector<double> y(N * Cout * OH * OW, 0.0);
  const std::vector<double> b = bt.defined() ? bt.to_vector<double>() : std::vector<double>(Cout, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t ci = 0; ci < Cin; ++ci)
      for (int64_t co = 0; co < Cog; ++co)
        for (int64_t ih = 0; ih < H; ++ih)
          for (int64_t iw = 0; iw < W; ++iw)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t oh = ih * o.sh - o.ph + i * o.dh, ow = iw * o.sw - o.pw + j * o.dw;
                if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                y[((n * Cout + (ci / Cig) * Cog + co) * OH + oh) * OW + ow] +=
                    x[((n * Cin + ci) * H + ih) * W + iw] * w[((ci * Cog + co) * kh + i) * kw + j];
              }
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < Cout; ++c)
      for (int64_t k = 0; k < OH * OW; ++k) y[(n * Cout + c) * OH * OW + k] += b[c];
  return Tensor::from_vector(y, {N, Cout, OH, OW}, {.dtype = DType::f64});
}

Conv2dOptions copts(Geo o) {
  return {.stride_h = o.sh, .stride_w = o.sw, .pad_h = o.ph, .pad_w = o.pw, .dilation_h = o.dh, .dilation_w = o.dw,
          .groups = o.groups};
}
ConvTranspose2dOptions topts(Geo o, int64_t oph = 0, int64_t opw = 0) {
  return {.stride_h = o.sh, .stride_w = o.sw, .pad_h = o.ph, .pad_w = o.pw, .output_pad_h = oph,
          .output_pad_w = opw, .dilation_h = o.dh, .dilation_w = o.dw, .groups = o.groups};
}

// ---- gradcheck (f64): x, weight, bias for each option that changes the math ----
void check_conv_grad(const Shape& xs, const Shape& ws, Geo o, bool bias = true) {
  Tensor x = rand64(xs, 1), w = rand64(ws, 2), b = bias ? rand64({ws[0]}, 3) : Tensor();
  std::vector<Tensor> in{x, w};
  if (bias) in.push_back(b);
  EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], bias ? v[2] : Tensor(), copts(o)); },
                      in));
  // the forward agrees with the naive loops too
  EXPECT_TRUE(all_close(conv2d(x, w, b, copts(o)), naive_conv(x, w, b, o), 1e-10, 1e-12));
}

TEST(Conv2d, GradBasic) { check_conv_grad({2, 3, 5, 6}, {4, 3, 3, 3}, {}); }
TEST(Conv2d, GradStride) { check_conv_grad({1, 2, 7, 8}, {3, 2, 3, 2}, {.sh = 2, .sw = 3}); }
TEST(Conv2d, GradPadding) { check_conv_grad({1, 2, 4, 5}, {3, 2, 3, 3}, {.ph = 1, .pw = 2}); }
TEST(Conv2d, GradDilation) { check_conv_grad({1, 2, 7, 6}, {2, 2, 3, 2}, {.dh = 2, .dw = 3}); }
TEST(Conv2d, GradGroups) { check_conv_grad({2, 6, 5, 4}, {9, 2, 3, 3}, {.groups = 3}); }
TEST(Conv2d, GradCombined) {
  check_conv_grad({2, 4, 9, 7}, {6, 2, 3, 2}, {.sh = 2, .sw = 1, .ph = 1, .pw = 2, .dh = 2, .dw = 1, .groups = 2});
}
TEST(Conv2d, GradNoBias) { check_conv_grad({1, 3, 5, 5}, {2, 3, 2, 2}, {.sh = 2, .ph = 1}, false); }
TEST(Conv2d, GradPointwise) {  // 1x1 stride-1 unpadded: the no-im2col path, with and without groups
  check_conv_grad({2, 4, 3, 5}, {5, 4, 1, 1}, {});
  check_conv_grad({2, 4, 3, 5}, {6, 2, 1, 1}, {.groups = 2});
}
TEST(Conv2d, GradNonContiguousInput) {  // x is a transposed view (H and W swapped)
  Tensor base = rand64({2, 3, 6, 5}, 4), w = rand64({4, 3, 3, 3}, 5), b = rand64({4}, 6);
  auto fn = [](const std::vector<Tensor>& v) { return conv2d(v[0].transpose(2, 3), v[1], v[2], {.pad_h = 1}); };
  EXPECT_TRUE(grad_ok(fn, {base, w, b}));
  EXPECT_TRUE(all_close(fn({base, w, b}), naive_conv(base.transpose(2, 3).contiguous(), w, b, {.ph = 1}), 1e-10,
                        1e-12));
}

// ---- NumPy anchor (loops as in naive_conv, run with numpy float64):
// x = pat(40,7,11,5,4).reshape(1,2,4,5); w = pat(12,5,9,4,8).reshape(2,1,3,2); b = [0.1,-0.2]
// conv2d(x, w, b, stride (2,1), pad (1,1), dil (1,2), groups 2)
TEST(Conv2d, MatchesNumpy) {
  Tensor x = pat({1, 2, 4, 5}, 7, 11, 5, 4), w = pat({2, 1, 3, 2}, 5, 9, 4, 8);
  Tensor b = Tensor::from_vector(std::vector<double>{0.1, -0.2}, {2}, {.dtype = DType::f64});
  Tensor y = conv2d(x, w, b, {.stride_h = 2, .pad_h = 1, .pad_w = 1, .dilation_w = 2, .groups = 2});
  ASSERT_EQ(y.shape(), Shape({1, 2, 2, 5}));
  EXPECT_TRUE(all_close(y, {0.6, 0.63125, -0.4, 0.63125, -0.11875, -0.36875, 1.00625, 0.00625, -0.30625, 0.7875,
                            -0.16875, 0.8625, -0.79375, -0.04375, -0.075, -0.91875, -0.7625, 1.33125, -0.7, -0.41875},
                        1e-12, 1e-12));
  Tensor y32 = conv2d(x.to(DType::f32), w.to(DType::f32), b.to(DType::f32),
                      {.stride_h = 2, .pad_h = 1, .pad_w = 1, .dilation_w = 2, .groups = 2});
  EXPECT_EQ(y32.dtype(), DType::f32);
  EXPECT_TRUE(all_close(y32, y, 1e-5, 1e-6));
}

// ---- f32 against the naive f64 convolution, forward and both gradients ----
void check_f32_vs_naive(const Shape& xs, const Shape& ws, Geo o, double tol) {
  Tensor x64 = pat(xs, 7, 23, 11, 8), w64 = pat(ws, 5, 17, 8, 16), b64 = pat({ws[0]}, 3, 7, 3, 4);
  Tensor y64 = naive_conv(x64, w64, b64, o);
  Tensor r64 = pat(y64.shape(), 11, 13, 6, 8), gx64, gw64;
  naive_conv(x64, w64, b64, o, r64, &gx64, &gw64);

  Tensor x = x64.to(DType::f32).detach(), w = w64.to(DType::f32).detach(), b = b64.to(DType::f32).detach();
  x.requires_grad_(), w.requires_grad_(), b.requires_grad_();
  Tensor y = conv2d(x, w, b, copts(o));
  EXPECT_TRUE(all_close(y, y64, tol, tol));
  sum(y * r64.to(DType::f32)).backward();
  EXPECT_TRUE(all_close(x.grad(), gx64, tol, tol));
  EXPECT_TRUE(all_close(w.grad(), gw64, tol, tol));
  EXPECT_TRUE(all_close(b.grad(), sum(r64, {0, 2, 3}), tol, tol));
}

TEST(Conv2d, F32MatchesNaiveF64) {
  check_f32_vs_naive({2, 16, 13, 11}, {8, 16, 3, 3}, {.sh = 2, .sw = 2, .ph = 1, .pw = 1}, 1e-4);
  check_f32_vs_naive({3, 6, 10, 9}, {4, 3, 5, 3}, {.sh = 1, .sw = 2, .ph = 2, .pw = 0, .dh = 1, .dw = 2, .groups = 2},
                     1e-4);
  check_f32_vs_naive({2, 7, 5, 3}, {5, 7, 1, 1}, {}, 1e-4);  // pointwise path
}

// A large image: one sample's col exceeds the chunk budget, so im2col runs per sample.
TEST(Conv2d, ChunkedBatchMatchesNaive) {
  check_f32_vs_naive({2, 4, 250, 250}, {2, 4, 3, 3}, {.ph = 1, .pw = 1}, 1e-4);
}

// ---- conv_transpose2d ----
void check_conv_t_grad(const Shape& xs, const Shape& ws, Geo o, int64_t oph = 0, int64_t opw = 0, bool bias = true) {
  const int64_t cout = ws[1] * o.groups;
  Tensor x = rand64(xs, 7), w = rand64(ws, 8), b = bias ? rand64({cout}, 9) : Tensor();
  std::vector<Tensor> in{x, w};
  if (bias) in.push_back(b);
  auto fn = [&](const std::vector<Tensor>& v) {
    return conv_transpose2d(v[0], v[1], bias ? v[2] : Tensor(), topts(o, oph, opw));
  };
  EXPECT_TRUE(grad_ok(fn, in));
  EXPECT_TRUE(all_close(fn(in), naive_conv_t(x, w, b, o, oph, opw), 1e-10, 1e-12));
}

TEST(ConvTranspose2d, GradBasic) { check_conv_t_grad({2, 3, 4, 3}, {3, 2, 3, 3}, {}); }
TEST(ConvTranspose2d, GradStride) { check_conv_t_grad({1, 2, 3, 4}, {2, 3, 3, 2}, {.sh = 2, .sw = 3}); }
TEST(ConvTranspose2d, GradPadding) { check_conv_t_grad({1, 2, 4, 4}, {2, 2, 3, 3}, {.ph = 1, .pw = 2}); }
TEST(ConvTranspose2d, GradOutputPadding) {
  check_conv_t_grad({1, 2, 3, 3}, {2, 2, 3, 3}, {.sh = 2, .sw = 3, .ph = 1, .pw = 1}, 1, 2);
}
TEST(ConvTranspose2d, GradOutputPaddingBelowDilation) {  // output_pad >= stride but < dilation
  check_conv_t_grad({1, 2, 3, 4}, {2, 2, 2, 2}, {.sh = 1, .sw = 1, .dh = 2, .dw = 3}, 1, 2);
}
TEST(ConvTranspose2d, GradGroups) { check_conv_t_grad({2, 4, 3, 3}, {4, 3, 2, 2}, {.sh = 2, .sw = 2, .groups = 2}); }
TEST(ConvTranspose2d, GradCombined) {
  check_conv_t_grad({2, 6, 3, 4}, {6, 2, 3, 2}, {.sh = 2, .sw = 2, .ph = 1, .pw = 0, .dh = 2, .dw = 1, .groups = 3},
                    1, 1);
}
TEST(ConvTranspose2d, GradNoBiasPointwise) { check_conv_t_grad({2, 3, 3, 4}, {3, 2, 1, 1}, {}, 0, 0, false); }

// NumPy anchors (scatter loops as in naive_conv_t, numpy float64):
// x = pat(12,7,11,5,4).reshape(1,2,2,3); w = pat(12,5,9,4,8).reshape(2,1,2,3); b = [0.1,-0.2]
// conv_transpose2d(x, w, b, stride 2, pad (1,0), output_pad (1,1), groups 2) -> [1,2,3,8]
TEST(ConvTranspose2d, MatchesNumpy) {
  Tensor x = pat({1, 2, 2, 3}, 7, 11, 5, 4), w = pat({2, 1, 2, 3}, 5, 9, 4, 8);
  Tensor b = Tensor::from_vector(std::vector<double>{0.1, -0.2}, {2}, {.dtype = DType::f64});
  Tensor y = conv_transpose2d(
      x, w, b, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .output_pad_h = 1, .output_pad_w = 1, .groups = 2});
  ASSERT_EQ(y.shape(), Shape({1, 2, 3, 8}));
  EXPECT_TRUE(all_close(
      y, {-0.2125, 0.4125, -0.24375, -0.025, 0.1625, 0.225, -0.0875, 0.1, -0.525, 0.25625, -0.49375, 0.13125,
          0.38125, 0.00625, 0.38125, 0.1, 0.4125, -0.2125, 0.63125, 0.0375, 0.00625, 0.2875, -0.18125, 0.1,
          -0.7, -0.075, -0.575, -0.2, 0.3, -0.325, 0.175, -0.2, -0.29375, 0.175, -0.16875, -0.325,
          -0.04375, -0.825, -0.2, -0.2, -0.575, -0.10625, -0.35625, -0.23125, 0.51875, -0.35625, 0.26875, -0.2},
      1e-12, 1e-12));
  // x = pat(8,7,11,5,4).reshape(1,2,2,2); w = pat(54,5,13,6,8).reshape(2,3,3,3);
  // stride (1,2), pad (1,1), dilation (2,1), no bias -> [1,3,4,3]
  Tensor y2 = conv_transpose2d(pat({1, 2, 2, 2}, 7, 11, 5, 4), pat({2, 3, 3, 3}, 5, 13, 6, 8), {},
                               {.stride_h = 1, .stride_w = 2, .pad_h = 1, .pad_w = 1, .dilation_h = 2});
  ASSERT_EQ(y2.shape(), Shape({1, 3, 4, 3}));
  EXPECT_TRUE(all_close(y2, {0.5625, -1.6875, -0.15625, 0.03125, -1.34375, -0.5, 0.6875, -1.25, 0.15625,
                             -0.625, 0.375, 0.65625, -0.6875, 0.4375, 0.78125, 0.90625, 0.96875, -0.28125,
                             0.25, 0.875, -0.9375, 0.65625, 0.65625, -0.34375, 0.5, 0.125, -0.3125,
                             0.15625, -1.1875, -0.46875, 0.625, -1.46875, 0.0, -0.5, 0.53125, 0.6875},
                        1e-12, 1e-12));
}

TEST(ConvTranspose2d, F32MatchesNaiveF64) {
  Geo o{.sh = 2, .sw = 2, .ph = 1, .pw = 1, .groups = 2};
  Tensor x = pat({2, 8, 7, 6}, 7, 23, 11, 8), w = pat({8, 3, 3, 3}, 5, 17, 8, 16), b = pat({6}, 3, 7, 3, 4);
  Tensor y = conv_transpose2d(x.to(DType::f32), w.to(DType::f32), b.to(DType::f32), topts(o, 1, 0));
  EXPECT_TRUE(all_close(y, naive_conv_t(x, w, b, o, 1, 0), 1e-5, 1e-5));
}

// conv_transpose2d is conv2d's input gradient: <conv(a), r> == <a, conv_t(r)> for the same weight.
TEST(ConvTranspose2d, IsAdjointOfConv2d) {
  Tensor a = rand64({2, 4, 7, 8}, 10).detach(), w = rand64({6, 2, 3, 3}, 11).detach();
  Tensor y = conv2d(a, w, {}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 2});
  Tensor r = rand64(y.shape(), 12).detach();
  Tensor at = conv_transpose2d(r, w, {}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .output_pad_h = 0,
                                          .output_pad_w = 1, .groups = 2});
  ASSERT_EQ(at.shape(), a.shape());
  EXPECT_NEAR(sum(y * r).item(), sum(a * at).item(), 1e-10);
}

// ---- errors name the op and the shapes ----
TEST(Conv2d, Errors) {
  Tensor x = Tensor::zeros({2, 4, 8, 8}), w = Tensor::zeros({8, 3, 3, 3});
  EXPECT_TRUE(throws_with([&] { conv2d(x, w); },
                          {"conv2d: weight [8,3,3,3] expects 3*groups=3 input channels, input [2,4,8,8] has 4"}));
  EXPECT_TRUE(throws_with([&] { conv2d(Tensor::zeros({4, 8, 8}), w); }, {"conv2d", "4-D", "[4,8,8]"}));
  EXPECT_TRUE(throws_with([&] { conv2d(x, Tensor::zeros({8, 4, 3})); }, {"conv2d", "[8,4,3]"}));
  EXPECT_TRUE(throws_with([&] { conv2d(x, Tensor::zeros({6, 1, 3, 3}), {}, {.groups = 4}); },
                          {"conv2d", "[6,1,3,3]", "groups=4"}));
  EXPECT_TRUE(throws_with([&] { conv2d(x, Tensor::zeros({8, 4, 3, 3}), Tensor::zeros({7})); },
                          {"conv2d", "bias", "[7]", "[8]"}));
  EXPECT_TRUE(throws_with([&] { conv2d(x, Tensor::zeros({8, 4, 9, 3})); }, {"conv2d", "[2,4,8,8]", "9x3"}));
  EXPECT_TRUE(throws_with([&] { conv2d(x, Tensor::zeros({8, 4, 3, 3}), {}, {.stride_h = 0}); }, {"conv2d", "stride"}));
  EXPECT_TRUE(throws_with([&] { conv2d(x, Tensor::zeros({8, 4, 3, 3}, {.dtype = DType::f64})); }, {"conv2d"}));
  EXPECT_TRUE(throws_with([&] { conv2d(x, Tensor::zeros({8, 4, 3, 3}), {}, {.dilation_w = 0}); },
                          {"conv2d", "dilation"}));
}

TEST(ConvTranspose2d, Errors) {
  Tensor x = Tensor::zeros({2, 4, 5, 5});
  EXPECT_TRUE(throws_with([&] { conv_transpose2d(x, Tensor::zeros({3, 2, 3, 3})); },
                          {"conv_transpose2d", "[3,2,3,3]", "[2,4,5,5]"}));
  EXPECT_TRUE(throws_with([&] { conv_transpose2d(x, Tensor::zeros({4, 2, 3, 3}), {}, {.groups = 3}); },
                          {"conv_transpose2d", "groups=3"}));
  EXPECT_TRUE(throws_with([&] { conv_transpose2d(x, Tensor::zeros({4, 2, 3, 3}), {}, {.stride_h = 2, .output_pad_h = 2}); },
                          {"conv_transpose2d", "output padding"}));
  EXPECT_TRUE(throws_with([&] { conv_transpose2d(x, Tensor::zeros({4, 2, 3, 3}), Tensor::zeros({4})); },
                          {"conv_transpose2d", "bias", "[4]", "[2]"}));
  EXPECT_TRUE(throws_with([&] { conv_transpose2d(Tensor::zeros({1, 4, 1, 1}), Tensor::zeros({4, 2, 1, 1}), {}, {.pad_h = 1}); },
                          {"conv_transpose2d", "output size"}));
}

}  // namespace
}  // namespace ember

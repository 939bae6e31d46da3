// Pooling and resampling: gradcheck for every op and option (with and without padding,
// non-divisible adaptive bins, nearest/bilinear, both align_corners, non-integer scales),
// NumPy-anchored values, f32 vs f64, non-contiguous inputs, and error messages.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "autograd/ops.h"
#include "tests/common/expect_close.h"

namespace ember {
namespace {
using test::all_close;
using test::grad_ok;
using test::rand64;
using test::throws_with;

// ((i*a) % b - c) / d for flat index i: `pat` in the NumPy snippets below.
Tensor pat(const Shape& s, int64_t a, int64_t b, int64_t c, double d) {
  std::vector<double> v(static_cast<size_t>(numel_of(s)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>((static_cast<int64_t>(i) * a) % b - c) / d;
  return Tensor::from_vector(v, s, {.dtype = DType::f64});
}

// Runs the op in f64 (gradcheck) and checks f32 forward against f64 on the same values.
template <typename F>
void check_op(const Shape& shape, F&& fn, uint64_t seed = 1) {
  Tensor x = rand64(shape, seed);
  EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& v) { return fn(v[0]); }, {x}));
  Tensor y64 = fn(x.detach());
  Tensor y32 = fn(x.detach().to(DType::f32));
  EXPECT_EQ(y32.dtype(), DType::f32);
  EXPECT_TRUE(all_close(y32, y64, 1e-5, 1e-6));
  // a non-contiguous view of the same values gives the same result
  Tensor xt = x.detach().transpose(2, 3).contiguous().transpose(2, 3);
  EXPECT_FALSE(xt.is_contiguous());
  EXPECT_TRUE(all_close(fn(xt), y64, 0, 0));
}

// ---- max_pool2d ----
TEST(MaxPool2d, GradNoPadding) {
  check_op({2, 3, 6, 5}, [](const Tensor& x) { return max_pool2d(x); });  // k2 s2, the last column dropped
}
TEST(MaxPool2d, GradPadding) {
  check_op({1, 2, 7, 6}, [](const Tensor& x) { return max_pool2d(x, {.kernel_h = 3, .kernel_w = 3, .stride_h = 2,
                                                                      .stride_w = 2, .pad_h = 1, .pad_w = 1}); });
}
TEST(MaxPool2d, GradOverlappingRectangular) {
  check_op({2, 2, 5, 7}, [](const Tensor& x) { return max_pool2d(x, {.kernel_h = 3, .kernel_w = 2, .stride_h = 1,
                                                                      .stride_w = 2, .pad_h = 1, .pad_w = 0}); });
}

// NumPy: x = (pat(25,7,11,5,4) + pat(25,3,5,2,16)).reshape(5,5); k3 s2 p1; for each window clipped
// to the image, the first index of the max (strict >), as h*5+w.
TEST(MaxPool2d, MatchesNumpy) {
  Tensor x = pat({1, 1, 5, 5}, 7, 11, 5, 4) + pat({1, 1, 5, 5}, 3, 5, 2, 16);
  auto [y, idx] = max_pool2d_with_indices(x, {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2,
                                              .pad_h = 1, .pad_w = 1});
  EXPECT_TRUE(all_close(y, {1.0625, 1.375, 1.375, 1.0625, 1.0625, 1.25, 0.625, 0.9375, 0.625}, 0, 0));
  EXPECT_EQ(idx.dtype(), DType::i64);
  EXPECT_EQ(idx.to_vector<int64_t>(), (std::vector<int64_t>{6, 3, 3, 6, 6, 14, 20, 17, 23}));
}

TEST(MaxPool2d, GradientGoesToTheArgmaxOnly) {
  // two 2x2 windows: their maxima sit at flat positions 1 and 2, every other pixel gets 0.
  Tensor x = Tensor::from_vector(std::vector<double>{1, 5, 7, 2, 0, 0, 0, 0}, {1, 1, 2, 4}, {.dtype = DType::f64});
  x.requires_grad_();
  max_pool2d(x, {.kernel_h = 2, .kernel_w = 2}).sum().backward();
  EXPECT_TRUE(all_close(x.grad(), {0, 1, 1, 0, 0, 0, 0, 0}, 0, 0));
}

TEST(MaxPool2d, NanPropagates) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = Tensor::from_vector(std::vector<double>{1, nan, 3, 4}, {1, 1, 2, 2}, {.dtype = DType::f64});
  auto [y, idx] = max_pool2d_with_indices(x);
  EXPECT_TRUE(std::isnan(y.item()));
  EXPECT_EQ(idx.item<int64_t>(), 1);
}

// ---- avg_pool2d ----
TEST(AvgPool2d, GradNoPadding) { check_op({2, 3, 7, 6}, [](const Tensor& x) { return avg_pool2d(x); }); }
TEST(AvgPool2d, GradPaddingCountIncludePad) {
  check_op({1, 2, 5, 6}, [](const Tensor& x) {
    return avg_pool2d(x, {.kernel_h = 3, .kernel_w = 2, .stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 1});
  });
}
TEST(AvgPool2d, GradPaddingExcludePad) {
  check_op({1, 2, 5, 6}, [](const Tensor& x) {
    return avg_pool2d(x, {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1,
                          .count_include_pad = false});
  });
}

// NumPy: x = pat(20,7,11,5,4).reshape(4,5), k3 s2 p1; window [h0, min(h0+3, H+1)) etc; sum of the
// real pixels divided by the padded window size (count_include_pad) or by the real pixel count.
TEST(AvgPool2d, MatchesNumpy) {
  Tensor x = pat({1, 1, 4, 5}, 7, 11, 5, 4);
  Pool2dOptions o{.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
  EXPECT_TRUE(all_close(avg_pool2d(x, o), {-0.055555555556, 0.138888888889, 0.138888888889, -0.194444444444,
                                           -0.111111111111, -0.055555555556}, 1e-10, 1e-11));
  o.count_include_pad = false;
  EXPECT_TRUE(all_close(avg_pool2d(x, o), {-0.125, 0.208333333333, 0.3125, -0.291666666667, -0.111111111111,
                                           -0.083333333333}, 1e-10, 1e-11));
}

// ---- adaptive_avg_pool2d ----
TEST(AdaptiveAvgPool2d, GradNonDivisible) {
  check_op({2, 2, 7, 5}, [](const Tensor& x) { return adaptive_avg_pool2d(x, 3, 2); });
}
TEST(AdaptiveAvgPool2d, GradUpsizingAndGlobal) {
  check_op({1, 2, 3, 4}, [](const Tensor& x) { return adaptive_avg_pool2d(x, 5, 4); });
  check_op({2, 3, 5, 3}, [](const Tensor& x) { return adaptive_avg_pool2d(x, 1, 1); });
}

// NumPy: x = pat(35,7,11,5,4).reshape(7,5); bins [floor(i*7/3), ceil((i+1)*7/3)) x [floor(j*5/2), ceil((j+1)*5/2)), mean.
TEST(AdaptiveAvgPool2d, MatchesNumpy) {
  Tensor y = adaptive_avg_pool2d(pat({1, 1, 7, 5}, 7, 11, 5, 4), 3, 2);
  EXPECT_TRUE(all_close(y, {-0.222222222222, 0.222222222222, -0.138888888889, 0.0, -0.055555555556, -0.222222222222},
                        1e-10, 1e-11));
  Tensor g = adaptive_avg_pool2d(pat({2, 3, 4, 6}, 7, 11, 5, 4), 1, 1);
  EXPECT_TRUE(all_close(g, mean(pat({2, 3, 4, 6}, 7, 11, 5, 4), {2, 3}, true), 1e-12, 1e-12));
}

// ---- upsample ----
TEST(Upsample, GradNearest) {
  check_op({2, 2, 5, 3}, [](const Tensor& x) { return upsample(x, 7, 6); });  // 5 -> 7 and the exact 2x path
  check_op({1, 2, 6, 5}, [](const Tensor& x) { return upsample(x, 4, 5); });  // down, and identity
}
TEST(Upsample, GradBilinear) {
  for (bool ac : {false, true}) {
    check_op({2, 2, 3, 4}, [ac](const Tensor& x) { return upsample(x, 5, 7, UpsampleMode::bilinear, ac); });
    check_op({1, 2, 5, 6}, [ac](const Tensor& x) { return upsample(x, 3, 1, UpsampleMode::bilinear, ac); });
  }
}

// PyTorch nearest: src = min(floor(dst * in/out), in-1); 5 -> 7 gives rows 0,0,1,2,2,3,4 (NumPy).
TEST(Upsample, NearestMatchesPytorchIndexing) {
  Tensor x = pat({1, 1, 5, 1}, 1, 100, 0, 1);  // x[h] = h
  EXPECT_TRUE(all_close(upsample(x, 7, 2), {0, 0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3, 4, 4}, 0, 0));
}

// NumPy (PyTorch's formulas): scale = ac ? (in-1)/(out-1) : in/out; real = ac ? scale*dst :
// max(scale*(dst+0.5)-0.5, 0); i0 = floor(real), i1 = min(i0+1, in-1), l1 = real - i0.
// x = pat(12,7,11,5,4).reshape(3,4) -> 5x7.
TEST(Upsample, BilinearMatchesNumpy) {
  Tensor x = pat({1, 1, 3, 4}, 7, 11, 5, 4);
  EXPECT_TRUE(all_close(
      upsample(x, 5, 7, UpsampleMode::bilinear, false),
      {-1.25, -0.625, 0.375, 0.0, -0.375, 0.625, 1.25, -0.65, -0.417857142857, -0.046428571429, 0.05,
       0.146428571429, 0.517857142857, 0.75, 0.25, -0.107142857143, -0.678571428571, 0.125, 0.928571428571,
       0.357142857143, 0.0, -0.5, -0.267857142857, 0.103571428571, 0.2, 0.178571428571, -0.392857142857, -0.75,
       -1.0, -0.375, 0.625, 0.25, -0.321428571429, -0.892857142857, -1.25},
      1e-10, 1e-11));
  EXPECT_TRUE(all_close(upsample(x, 5, 7, UpsampleMode::bilinear, true),
                        {-1.25, -0.375, 0.5, 0.0, -0.5, 0.375, 1.25, -0.5, -0.3125, -0.125, 0.0625, 0.25,
                         0.4375, 0.625, 0.25, -0.25, -0.75, 0.125, 1.0, 0.5, 0.0, -0.375, -0.1875, 0.0,
                         0.1875, 0.375, -0.125, -0.625, -1.0, -0.125, 0.75, 0.25, -0.25, -0.75, -1.25},
                        1e-10, 1e-11));
}

// ---- errors ----
TEST(Pool, Errors) {
  Tensor x = Tensor::zeros({2, 3, 4, 4});
  EXPECT_TRUE(throws_with([&] { max_pool2d(Tensor::zeros({3, 4, 4})); }, {"max_pool2d", "4-D", "[3,4,4]"}));
  EXPECT_TRUE(throws_with([&] { max_pool2d(x, {.kernel_h = 2, .kernel_w = 2, .pad_h = 2}); },
                          {"max_pool2d", "padding"}));
  EXPECT_TRUE(throws_with([&] { max_pool2d(x, {.kernel_h = 5, .kernel_w = 2}); }, {"max_pool2d", "[2,3,4,4]", "5x2"}));
  EXPECT_TRUE(throws_with([&] { avg_pool2d(x, {.kernel_h = 0}); }, {"avg_pool2d", "kernel"}));
  EXPECT_TRUE(throws_with([&] { avg_pool2d(x, {.stride_w = -1}); }, {"avg_pool2d", "stride"}));
  EXPECT_TRUE(throws_with([&] { adaptive_avg_pool2d(x, 0, 2); }, {"adaptive_avg_pool2d", "0x2", "[2,3,4,4]"}));
  EXPECT_TRUE(throws_with([&] { upsample(x, 3, -1); }, {"upsample", "3x-1", "[2,3,4,4]"}));
  EXPECT_TRUE(throws_with([&] { upsample(Tensor::zeros({2, 3, 4}), 3, 3); }, {"upsample", "[2,3,4]"}));
  EXPECT_TRUE(throws_with([&] { max_pool2d(Tensor::zeros({1, 1, 2, 2}, {.dtype = DType::i64})); }, {"max_pool2d"}));
}

}  // namespace
}  // namespace ember

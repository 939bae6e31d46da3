// softmax / log_softmax: values against NumPy, stability on large inputs, every dim, gradcheck,
// f32 vs f64, saved-output versioning and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "tests/common/expect_close.h"

namespace ember {
namespace {
using test::all_close;
using test::grad_ok;
using test::rand64;
using test::throws_with;

Tensor f64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s, {.dtype = DType::f64}); }

// Expected values: numpy, e = exp(x - x.max(ax, keepdims=True)); e / e.sum(ax, keepdims=True),
// and x - max - log(sum(exp(x - max))) for log_softmax.
TEST(Softmax, MatchesNumpyLastDimAndDim0) {
  Tensor x = f64({1, 2, 3, 0, -1, 0.5}, {2, 3});
  EXPECT_TRUE(all_close(softmax(x, 1), {0.0900305731704, 0.244728471055, 0.665240955775, 0.331498960424,
                                        0.12195165231, 0.546549387266}));
  EXPECT_TRUE(all_close(softmax(x, 0), {0.73105857863, 0.952574126822, 0.924141819979, 0.26894142137,
                                        0.0474258731776, 0.0758581800212}));
  EXPECT_TRUE(all_close(log_softmax(x, -1), {-2.40760596444, -1.40760596444, -0.407605964444, -1.10413060534,
                                             -2.10413060534, -0.604130605337}));
}

TEST(Softmax, LargeValuesDoNotOverflow) {
  // numpy: softmax([1000, 1001]) = [0.26894142137, 0.73105857863]; log_softmax = [-1.31326168752, -0.313261687518]
  for (DType dt : {DType::f32, DType::f64}) {
    Tensor x = f64({1000, 1001, -1000, -1001}, {2, 2}).to(dt);
    Tensor y = softmax(x);
    EXPECT_TRUE(all_close(y, {0.26894142137, 0.73105857863, 0.73105857863, 0.26894142137}, 1e-6, 1e-7));
    EXPECT_TRUE(all_close(sum(y, {1}), {1.0, 1.0}, 1e-6, 1e-7));
    EXPECT_TRUE(
        all_close(log_softmax(x), {-1.31326168752, -0.313261687518, -0.313261687518, -1.31326168752}, 1e-6, 1e-6));
  }
}

TEST(Softmax, RowsSumToOneOnAwkwardShape) {
  Tensor x = rand64({3, 7, 13}, 5, -20, 20).detach();
  for (int64_t d : {0, 1, 2}) {
    Tensor s = sum(softmax(x, d), {d});
    EXPECT_TRUE(all_close(s, Tensor::ones(s.shape(), {.dtype = DType::f64}), 1e-12, 1e-12)) << "dim " << d;
    // log_softmax == log(softmax) away from underflow.
    EXPECT_TRUE(all_close(log_softmax(x, d), log(softmax(x, d)), 1e-9, 1e-9)) << "dim " << d;
  }
}

TEST(Softmax, ZeroDimAndSingleElement) {
  EXPECT_DOUBLE_EQ(softmax(Tensor::scalar(3.0, {.dtype = DType::f64})).item(), 1.0);
  EXPECT_DOUBLE_EQ(log_softmax(Tensor::scalar(3.0, {.dtype = DType::f64})).item(), 0.0);
  EXPECT_TRUE(all_close(softmax(f64({5, -2}, {2, 1}), 1), {1.0, 1.0}));
}

TEST(Softmax, EmptyTensors) {
  EXPECT_EQ(softmax(Tensor::zeros({0, 4}, {.dtype = DType::f64})).shape(), (Shape{0, 4}));
  EXPECT_EQ(log_softmax(Tensor::zeros({3, 0}, {.dtype = DType::f64}), 0).shape(), (Shape{3, 0}));
}

TEST(Softmax, GradcheckEveryDim) {
  Tensor x = rand64({2, 3, 5}, 11, -2, 2);
  for (int64_t d : {0, 1, 2, -1}) {
    EXPECT_TRUE(grad_ok([d](const std::vector<Tensor>& in) { return softmax(in[0], d); }, {x})) << "dim " << d;
    EXPECT_TRUE(grad_ok([d](const std::vector<Tensor>& in) { return log_softmax(in[0], d); }, {x})) << "dim " << d;
  }
}

TEST(Softmax, GradcheckNonContiguousInputAndZeroDim) {
  Tensor x = rand64({4, 3}, 12);
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return softmax(in[0].t(), 1); }, {x}));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return log_softmax(in[0].t(), 0); }, {x}));
  Tensor s = rand64({}, 13);
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return softmax(in[0]) * in[0]; }, {s}));
}

TEST(Softmax, F32MatchesF64) {
  Tensor x = rand64({301, 129}, 14, -8, 8).detach();  // above the grain: multi-threaded
  for (bool lg : {false, true}) {
    Tensor y64 = lg ? log_softmax(x) : softmax(x);
    Tensor y32 = lg ? log_softmax(x.to(DType::f32)) : softmax(x.to(DType::f32));
    EXPECT_EQ(y32.dtype(), DType::f32);
    EXPECT_TRUE(all_close(y32, y64, 1e-5, 1e-6)) << (lg ? "log_softmax" : "softmax");
    // Backward (softmax_backward) in f32 vs f64 with the same cotangent.
    Tensor g = rand64(x.shape(), 16).detach();
    Tensor gx[2];
    for (int k = 0; k < 2; ++k) {
      DType dt = k == 0 ? DType::f64 : DType::f32;
      Tensor xi = x.to(dt).detach().requires_grad_();
      sum((lg ? log_softmax(xi, 0) : softmax(xi, 0)) * g.to(dt)).backward();
      gx[k] = xi.grad();
    }
    EXPECT_TRUE(all_close(gx[1], gx[0], 1e-4, 1e-5)) << (lg ? "log_softmax" : "softmax") << " backward";
  }
}

TEST(Softmax, BackwardSeesInPlaceChangeOfOutput) {
  Tensor x = rand64({2, 3}, 15);
  Tensor y = softmax(x);
  {
    NoGradGuard g;
    y.mul_(2.0);
  }
  EXPECT_TRUE(throws_with([&] { sum(y).backward(); }, {"SoftmaxBackward"}));
}

TEST(Softmax, Errors) {
  Tensor xi = Tensor::zeros({2, 3}, {.dtype = DType::i64});
  EXPECT_TRUE(throws_with([&] { softmax(xi); }, {"softmax"}));
  Tensor x = Tensor::zeros({2, 3});
  EXPECT_TRUE(throws_with([&] { log_softmax(x, 2); }, {"log_softmax", "2"}));
}

}  // namespace
}  // namespace ember

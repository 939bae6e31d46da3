// Initialisers: fans, gains, the ranges and moments each one promises, truncation bounds, zeros /
// ones / constant, reproducibility under manual_seed, and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/init.h"
#include "tests/common/expect_close.h"

namespace ember::nn {
namespace {
using test::throws_with;

double mean_of(const Tensor& t) { return mean(t.to(DType::f64)).item(); }
double std_of(const Tensor& t) { return std::sqrt(var(t.to(DType::f64), {}, 0).item()); }

TEST(Init, FansAndGains) {
  EXPECT_EQ(init::fan_in_and_fan_out(Tensor::empty({64, 32, 3, 3})), (std::pair<int64_t, int64_t>{288, 576}));
  EXPECT_EQ(init::fan_in_and_fan_out(Tensor::empty({10, 256})), (std::pair<int64_t, int64_t>{256, 10}));
  EXPECT_TRUE(throws_with([] { init::fan_in_and_fan_out(Tensor::empty({5})); }, {"at least 2 dims", "[5]"}));
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::relu), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::tanh), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(init::Nonlinearity::leaky_relu, std::sqrt(5.0)), std::sqrt(1.0 / 3.0));
}

TEST(Init, KaimingAndXavierMoments) {
  manual_seed(7);
  Tensor w = Tensor::empty({256, 512});
  init::kaiming_uniform_(w, 0, init::FanMode::fan_in, init::Nonlinearity::relu);
  const double std_k = std::sqrt(2.0 / 512);
  EXPECT_LE(amax(abs(w)).item(), std::sqrt(3.0) * std_k);
  EXPECT_NEAR(std_of(w), std_k, 0.02 * std_k);
  init::kaiming_normal_(w, 0, init::FanMode::fan_out, init::Nonlinearity::relu);
  EXPECT_NEAR(std_of(w), std::sqrt(2.0 / 256), 0.02 * std::sqrt(2.0 / 256));
  EXPECT_NEAR(mean_of(w), 0.0, 0.003);
  init::xavier_uniform_(w, 2.0);
  const double bound = 2.0 * std::sqrt(6.0 / (256 + 512));
  EXPECT_LE(amax(abs(w)).item(), bound);
  EXPECT_GT(amax(abs(w)).item(), 0.99 * bound);
  init::xavier_normal_(w);
  EXPECT_NEAR(std_of(w), std::sqrt(2.0 / 768), 0.02 * std::sqrt(2.0 / 768));
}

TEST(Init, TruncNormalStaysInsideWithRightMoments) {
  manual_seed(8);
  Tensor t = Tensor::empty({200000});
  init::trunc_normal_(t, 0, 1, -2, 2);
  EXPECT_GE(amin(t).item(), -2.0);
  EXPECT_LE(amax(t).item(), 2.0);
  EXPECT_GT(amax(t).item(), 1.99);  // the tails up to the bounds are reached
  EXPECT_NEAR(mean_of(t), 0.0, 0.01);
  EXPECT_NEAR(std_of(t), 0.8796, 0.01);  // std of N(0,1) truncated to [-2, 2]
  // One-sided and shifted: N(1, 0.5) restricted to [1, 3] is a half normal: mean 1 + 0.5*sqrt(2/pi).
  init::trunc_normal_(t, 1, 0.5, 1, 3);
  EXPECT_GE(amin(t).item(), 1.0);
  EXPECT_NEAR(mean_of(t), 1 + 0.5 * std::sqrt(2 / M_PI), 0.01);
  Tensor f64 = Tensor::empty({1000}, {.dtype = DType::f64});
  init::trunc_normal_(f64, 0, 0.02, -0.04, 0.04);
  EXPECT_LE(amax(abs(f64)).item(), 0.04);
  EXPECT_TRUE(throws_with([&] { init::trunc_normal_(t, 0, 1, 2, -2); }, {"a < b"}));
}

TEST(Init, ConstantsAndSeeds) {
  Tensor t = Tensor::empty({3, 4});
  init::ones_(t);
  EXPECT_EQ(sum(t).item(), 12.0);
  init::zeros_(t);
  EXPECT_EQ(sum(abs(t)).item(), 0.0);
  init::constant_(t, -2.5);
  EXPECT_EQ(amin(t).item(), -2.5);
  manual_seed(9);
  init::uniform_(t, -1, 1);
  Tensor a = t.clone();
  manual_seed(9);
  init::uniform_(t, -1, 1);
  EXPECT_TRUE(test::all_close(t, a, 0, 0));
  Generator g(10);
  init::normal_(t, 5, 0, &g);
  EXPECT_EQ(amin(t).item(), 5.0);
  Tensor ints = Tensor::empty({3}, {.dtype = DType::i64});
  EXPECT_TRUE(throws_with([&] { init::uniform_(ints); }, {"init.uniform_"}));
  // In-place init of a parameter is allowed and is not recorded by autograd.
  Tensor p = Tensor::zeros({2, 2});
  p.requires_grad_(true);
  init::kaiming_uniform_(p);
  EXPECT_TRUE(p.is_leaf());
}

}  // namespace
}  // namespace ember::nn

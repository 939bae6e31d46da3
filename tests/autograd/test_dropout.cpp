// Tests for dropout: identity in eval / p == 0, zeros at p == 1, seeded reproducibility, keep rate,
// scaling, the backward reusing the forward's mask, gradcheck with a fixed generator, errors.
#include "tests/common/expect_close.h"

namespace ember {
namespace {
using test::all_close;
using test::grad_ok;
using test::rand64;
using test::throws_with;

TEST(Dropout, EvalAndZeroPAreIdentity) {
  Tensor x = rand64({4, 5}, 1);
  EXPECT_TRUE(dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, true).is_same(x));
  EXPECT_TRUE(dropout(x, 1.0, false).is_same(x));
}

TEST(Dropout, POneGivesZerosAndZeroGrad) {
  Tensor x = rand64({3, 4}, 2);
  Tensor y = dropout(x, 1.0, true);
  EXPECT_TRUE(all_close(y, std::vector<double>(12, 0.0), 0, 0));
  y.sum().backward();
  EXPECT_TRUE(all_close(x.grad(), std::vector<double>(12, 0.0), 0, 0));
}

TEST(Dropout, SameSeedSameMask) {
  Tensor x = rand64({37, 11}, 3).detach();
  Generator g1(42), g2(42), g3(43);
  Tensor a = dropout(x, 0.3, true, &g1), b = dropout(x, 0.3, true, &g2), c = dropout(x, 0.3, true, &g3);
  EXPECT_TRUE(all_close(a, b, 0, 0));
  EXPECT_FALSE(all_close(a, c, 0, 0));
  // The generator advances: a second draw from g1 gives another mask.
  EXPECT_FALSE(all_close(dropout(x, 0.3, true, &g1), a, 0, 0));
}

TEST(Dropout, KeepRateAndScale) {
  // Each element is 0 or 1/(1-p). The kept fraction of 200k draws has std sqrt(p(1-p)/n) ~ 0.001,
  // so a 0.01 band is ~10 sigma wide.
  const double p = 0.3;
  const int64_t n = 200000;
  for (DType dt : {DType::f32, DType::f64}) {
    Generator g(7);
    Tensor y = dropout(Tensor::ones({n}, {.dtype = dt}), p, true, &g);
    int64_t kept = 0, bad = 0;
    for (double v : y.to_vector<double>()) {
      if (v != 0.0) ++kept;
      if (v != 0.0 && std::abs(v - 1.0 / (1.0 - p)) > 1e-6) ++bad;
    }
    EXPECT_EQ(bad, 0);
    EXPECT_NEAR(static_cast<double>(kept) / n, 1.0 - p, 0.01) << dtype_name(dt);
    EXPECT_NEAR(y.mean().item(), 1.0, 0.02) << dtype_name(dt);  // inverted dropout keeps the mean
  }
}

TEST(Dropout, BackwardUsesForwardMask) {
  // grad_x = mask / (1-p): with x = 1, y is that same mask, so grad_x == y.
  Tensor x = Tensor::ones({8, 9}, {.dtype = DType::f64});
  x.requires_grad_(true);
  Generator g(11);
  Tensor y = dropout(x, 0.4, true, &g);
  y.sum().backward();
  EXPECT_TRUE(all_close(x.grad(), y.detach(), 0, 0));
}

TEST(Dropout, GradcheckFixedGenerator) {
  Tensor x = rand64({5, 7}, 12);
  EXPECT_TRUE(grad_ok(
      [](const std::vector<Tensor>& in) {
        Generator g(99);  // the same mask on every evaluation
        return dropout(in[0], 0.25, true, &g);
      },
      {x}));
}

TEST(Dropout, Errors) {
  Tensor x = rand64({2, 3}, 13);
  EXPECT_TRUE(throws_with([&] { dropout(x, -0.1, true); }, {"dropout", "[0, 1]", "-0.1", "[2,3]"}));
  EXPECT_TRUE(throws_with([&] { dropout(x, 1.5, true); }, {"dropout", "1.5"}));
  Tensor xi = Tensor::zeros({2}, {.dtype = DType::i64});
  EXPECT_TRUE(throws_with([&] { dropout(xi, 0.5, true); }, {"dropout"}));
}

}  // namespace
}  // namespace ember

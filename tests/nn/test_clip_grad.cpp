// clip_grad_norm_ against hand-computed norms: gradients [3, 4] and [12] have 2-norm
// sqrt(9 + 16 + 144) = 13, 1-norm 19, inf-norm 12, 3-norm (27 + 64 + 1728)^(1/3).
#include <gtest/gtest.h>

#include <cmath>

#include "nn/optim/clip_grad.h"
#include "tests/common/expect_close.h"

namespace ember::nn {
namespace {

using test::all_close;
using test::throws_with;

struct Params {
  Tensor a, b, no_grad;
};

Params make() {
  Params p{Tensor::zeros({2}), Tensor::zeros({1, 1}), Tensor::zeros({3})};
  for (Tensor* t : {&p.a, &p.b, &p.no_grad}) t->requires_grad_(true);
  p.a.set_grad(Tensor::from_vector<float>({3, 4}, {2}));
  p.b.set_grad(Tensor::from_vector<float>({12}, {1, 1}));
  return p;
}

TEST(ClipGradNorm, ScalesAllGradientsByTheGlobalNorm) {
  Params p = make();
  double total = clip_grad_norm_({p.a, p.b, p.no_grad}, 6.5);
  EXPECT_NEAR(total, 13.0, 1e-6);
  const double coef = 6.5 / (13.0 + 1e-6);  // PyTorch's max_norm / (total + 1e-6)
  EXPECT_TRUE(all_close(p.a.grad(), {3 * coef, 4 * coef}, 1e-6, 0));
  EXPECT_TRUE(all_close(p.b.grad(), {12 * coef}, 1e-6, 0));
  EXPECT_FALSE(p.no_grad.grad().defined());  // skipped, not created
  // Now the norm is 6.5: within a limit of 7, so nothing changes.
  auto before = p.a.grad().to_vector<float>();
  EXPECT_NEAR(clip_grad_norm_({p.a, p.b}, 7), 6.5, 1e-5);
  EXPECT_EQ(p.a.grad().to_vector<float>(), before);
}

TEST(ClipGradNorm, LeavesSmallGradientsAlone) {
  Params p = make();
  EXPECT_NEAR(clip_grad_norm_({p.a, p.b}, 20), 13.0, 1e-6);
  EXPECT_EQ(p.a.grad().to_vector<float>(), (std::vector<float>{3, 4}));
  EXPECT_EQ(p.b.grad().to_vector<float>(), (std::vector<float>{12}));
}

TEST(ClipGradNorm, OtherNormTypes) {
  {
    Params p = make();
    EXPECT_NEAR(clip_grad_norm_({p.a, p.b}, 100, INFINITY), 12.0, 0);
    p = make();
    EXPECT_NEAR(clip_grad_norm_({p.a, p.b}, 6, INFINITY), 12.0, 0);
    EXPECT_TRUE(all_close(p.b.grad(), {12 * 6 / (12 + 1e-6)}, 1e-6, 0));
  }
  Params p = make();
  EXPECT_NEAR(clip_grad_norm_({p.a, p.b}, 100, 1), 19.0, 1e-5);
  p = make();
  EXPECT_NEAR(clip_grad_norm_({p.a, p.b}, 100, 3), std::cbrt(27.0 + 64.0 + 1728.0), 1e-4);
  p = make();
  p.a.set_grad(Tensor::from_vector<float>({-3, -4}, {2}));  // signs do not matter
  EXPECT_NEAR(clip_grad_norm_({p.a}, 100, 1), 7.0, 1e-6);
}

TEST(ClipGradNorm, F64AndNoGradients) {
  Tensor x = Tensor::zeros({3}, {.dtype = DType::f64});
  x.requires_grad_(true);
  EXPECT_EQ(clip_grad_norm_({x}, 1.0), 0.0);  // nothing to clip
  x.set_grad(Tensor::from_vector<double>({2, -2, 1}, {3}, {.dtype = DType::f64}));
  EXPECT_NEAR(clip_grad_norm_({x}, 1.5), 3.0, 1e-15);
  const double c = 1.5 / (3 + 1e-6);
  EXPECT_TRUE(all_close(x.grad(), {2 * c, -2 * c, c}, 1e-15, 0));
}

TEST(ClipGradNorm, NonFiniteNormPropagatesOrThrows) {
  Params p = make();
  p.a.set_grad(Tensor::from_vector<float>({INFINITY, 1}, {2}));
  EXPECT_TRUE(throws_with([&] { clip_grad_norm_({p.a, p.b}, 1.0, 2.0, /*error_if_nonfinite=*/true); },
                          {"clip_grad_norm_", "is inf"}));
  EXPECT_EQ(p.b.grad().to_vector<float>(), (std::vector<float>{12}));  // untouched on error
  // As in PyTorch: the coefficient max_norm / inf is 0, so finite entries become 0 and inf * 0 NaN.
  EXPECT_TRUE(std::isinf(clip_grad_norm_({p.a, p.b}, 1.0)));
  EXPECT_TRUE(std::isnan(p.a.grad().to_vector<float>()[0]));
  EXPECT_EQ(p.a.grad().to_vector<float>()[1], 0.0f);
  EXPECT_EQ(p.b.grad().to_vector<float>()[0], 0.0f);
}

TEST(ClipGradNorm, RejectsBadArguments) {
  Params p = make();
  EXPECT_TRUE(throws_with([&] { clip_grad_norm_({p.a}, -1); }, {"max_norm must be >= 0"}));
  EXPECT_TRUE(throws_with([&] { clip_grad_norm_({p.a}, 1, 0); }, {"norm_type must be > 0"}));
  EXPECT_TRUE(throws_with([&] { clip_grad_norm_({Tensor()}, 1); }, {"parameter 0 is undefined"}));
}

}  // namespace
}  // namespace ember::nn

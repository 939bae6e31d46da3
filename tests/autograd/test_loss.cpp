// Losses: cross_entropy (indices; ignore_index, label smoothing, reductions, [N,C,d...]),
// cross_entropy_probs, mse, l1, smooth_l1, bce_with_logits. Values against NumPy, gradcheck for
// every option that changes the math, f32 vs f64, and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "tests/common/expect_close.h"

namespace ember {
namespace {
using test::all_close;
using test::grad_ok;
using test::rand64;
using test::throws_with;

Tensor f64(const std::vector<double>& v, const Shape& s) { return Tensor::from_vector(v, s, {.dtype = DType::f64}); }
Tensor i64(const std::vector<int64_t>& v, const Shape& s) {
  return Tensor::from_vector(v, s, {.dtype = DType::i64});
}
Tensor random_targets(const Shape& s, int64_t c, uint64_t seed) {
  Generator g(seed);
  return Tensor::randint(0, c, s, {.dtype = DType::i64}, &g);
}

// numpy: ls = log_softmax(L, 1); nll = -ls[arange(3), t]; smooth = -ls.mean(1);
// loss = (1 - eps) * nll + eps * smooth, with L and t below.
const std::vector<double> kLogits = {1, 2, 3, 1, 0, -1, 0.5, 0.5, -2};

TEST(CrossEntropy, MatchesNumpy) {
  Tensor x = f64(kLogits, {3, 3});
  Tensor t = i64({2, 0, 1}, {3});
  EXPECT_TRUE(all_close(cross_entropy(x, t, {.reduction = Reduction::none}),
                        {0.407605964444, 0.407605964444, 0.733369794827}));
  EXPECT_TRUE(all_close(cross_entropy(x, t), {0.516193907905}));
  EXPECT_TRUE(all_close(cross_entropy(x, t, {.reduction = Reduction::sum}), {3 * 0.516193907905}));
  EXPECT_TRUE(all_close(cross_entropy(x, t, {.label_smoothing = 0.1, .reduction = Reduction::none}),
                        {0.507605964444, 0.507605964444, 0.816703128161}));
  EXPECT_TRUE(all_close(cross_entropy(x, t, {.label_smoothing = 0.1}), {0.61063835235}));
}

TEST(CrossEntropy, IgnoreIndexExcludedFromMean) {
  Tensor x = f64(kLogits, {3, 3});
  Tensor t = i64({2, -100, 1}, {3});
  // numpy: (nll[0] + nll[2]) / 2, and the same with the smoothed loss
  EXPECT_TRUE(all_close(cross_entropy(x, t), {0.570487879636}));
  EXPECT_TRUE(all_close(cross_entropy(x, t, {.label_smoothing = 0.1}), {0.662154546302}));
  EXPECT_TRUE(all_close(cross_entropy(x, t, {.reduction = Reduction::none}), {0.407605964444, 0.0, 0.733369794827}));
  Tensor t7 = i64({2, 7, 7}, {3});
  EXPECT_TRUE(all_close(cross_entropy(x, t7, {.ignore_index = 7}), {0.407605964444}));
  // All ignored: 0 / 0 = NaN, as PyTorch.
  EXPECT_TRUE(std::isnan(cross_entropy(x, i64({-100, -100, -100}, {3})).item()));
}

TEST(CrossEntropy, SpatialAndUnbatchedMatchFlattenedRows) {
  Tensor x = rand64({2, 5, 3, 2}, 21, -3, 3).detach();  // [N, C, d1, d2]
  Tensor t = random_targets({2, 3, 2}, 5, 22);
  Tensor rows = x.permute({0, 2, 3, 1}).reshape({-1, 5});
  Tensor ref = cross_entropy(rows, t.reshape({-1}), {.reduction = Reduction::none}).reshape({2, 3, 2});
  EXPECT_TRUE(all_close(cross_entropy(x, t, {.reduction = Reduction::none}), ref, 1e-12, 1e-12));
  EXPECT_TRUE(all_close(cross_entropy(x, t), mean(ref), 1e-12, 1e-12));
  // [C] logits with a 0-d target
  Tensor l1 = f64({1, 2, 3}, {3});
  EXPECT_TRUE(all_close(cross_entropy(l1, i64({2}, {})), {0.407605964444}));
}

TEST(CrossEntropy, EmptyBatch) {
  Tensor x = Tensor::zeros({0, 4}, {.dtype = DType::f64});
  Tensor t = Tensor::zeros({0}, {.dtype = DType::i64});
  EXPECT_EQ(cross_entropy(x, t, {.reduction = Reduction::none}).shape(), (Shape{0}));
  EXPECT_DOUBLE_EQ(cross_entropy(x, t, {.reduction = Reduction::sum}).item(), 0.0);
  EXPECT_TRUE(std::isnan(cross_entropy(x, t).item()));  // mean over nothing, as PyTorch
}

TEST(CrossEntropy, GradcheckOptions) {
  Tensor x = rand64({5, 7}, 23, -2, 2);
  Tensor t = i64({0, 6, 3, -100, 2}, {5});
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum})
    for (double eps : {0.0, 0.2}) {
      CrossEntropyOptions o{.label_smoothing = eps, .reduction = r};
      EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t, o); }, {x}))
          << "eps " << eps << " reduction " << static_cast<int>(r);
    }
}

TEST(CrossEntropy, GradcheckSpatialAndTransposed) {
  Tensor x = rand64({2, 3, 4}, 24, -2, 2);
  Tensor t = i64({0, 1, 2, -100, 2, 2, 1, 0}, {2, 4});
  EXPECT_TRUE(grad_ok(
      [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t, {.label_smoothing = 0.1}); }, {x}));
  Tensor y = rand64({4, 3}, 25);  // used as its transpose [3, 4]: non-contiguous logits
  Tensor ty = i64({3, 0, 1}, {3});
  EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return cross_entropy(in[0].t(), ty); }, {y}));
}

TEST(CrossEntropy, F32MatchesF64) {
  Tensor x = rand64({401, 101}, 26, -10, 10).detach();  // above the grain: multi-threaded
  Tensor t = random_targets({401}, 101, 27);
  CrossEntropyOptions o{.label_smoothing = 0.05, .reduction = Reduction::none};
  EXPECT_TRUE(all_close(cross_entropy(x.to(DType::f32), t, o), cross_entropy(x, t, o), 1e-5, 1e-5));
}

TEST(CrossEntropy, GradientIsSoftmaxMinusOneHot) {
  // d/dx of sum-reduced CE = softmax(x) - onehot(t) (eps = 0), for f32 as well.
  Tensor x = rand64({3, 4}, 28).detach().to(DType::f32).requires_grad_();
  Tensor t = i64({1, 3, 0}, {3});
  cross_entropy(x, t, {.reduction = Reduction::sum}).backward();
  std::vector<double> onehot(12, 0.0);
  onehot[1] = onehot[4 + 3] = onehot[8 + 0] = 1;
  Tensor ref = softmax(x.detach()).to(DType::f64) - f64(onehot, {3, 4});
  EXPECT_TRUE(all_close(x.grad(), ref, 1e-5, 1e-6));
}

TEST(CrossEntropy, Errors) {
  Tensor x = Tensor::zeros({3, 5});
  EXPECT_TRUE(throws_with([&] { cross_entropy(x, i64({0, 5, 1}, {3})); }, {"cross_entropy", "5", "[0,5)"}));
  EXPECT_TRUE(throws_with([&] { cross_entropy(x, i64({0, -3, 1}, {3})); }, {"cross_entropy", "-3"}));
  EXPECT_TRUE(throws_with([&] { cross_entropy(x, Tensor::zeros({3})); }, {"cross_entropy", "i64", "f32"}));
  EXPECT_TRUE(throws_with([&] { cross_entropy(x, i64({0, 1}, {2})); }, {"cross_entropy", "[2]", "[3,5]"}));
  EXPECT_TRUE(throws_with([&] { cross_entropy(Tensor::zeros({2, 3, 4}), i64({0, 1}, {2})); },
                          {"cross_entropy", "[2]", "[2,3,4]", "[2,4]"}));
  EXPECT_TRUE(
      throws_with([&] { cross_entropy(x, i64({0, 1, 2}, {3}), {.label_smoothing = 1.5}); }, {"label_smoothing"}));
}

// numpy: -(P * log_softmax(L, 1)).sum(1), P' = P * (1 - eps) + eps / C for smoothing.
TEST(CrossEntropyProbs, MatchesNumpyAndGradcheck) {
  Tensor x = f64(kLogits, {3, 3});
  Tensor p = f64({0.2, 0.3, 0.5, 1, 0, 0, 0.1, 0.8, 0.1}, {3, 3});
  EXPECT_TRUE(all_close(cross_entropy_probs(x, p, {.reduction = Reduction::none}),
                        {1.10760596444, 0.407605964444, 0.983369794827}));
  EXPECT_TRUE(all_close(cross_entropy_probs(x, p), {0.832860574572}));
  EXPECT_TRUE(all_close(cross_entropy_probs(x, p, {.label_smoothing = 0.1}), {0.89563835235}));
  // One-hot probabilities reproduce the index form, smoothing included.
  Tensor onehot = f64({0, 0, 1, 1, 0, 0, 0, 1, 0}, {3, 3});
  Tensor t = i64({2, 0, 1}, {3});
  EXPECT_TRUE(all_close(cross_entropy_probs(x, onehot, {.label_smoothing = 0.3}),
                        cross_entropy(x, t, {.label_smoothing = 0.3}), 1e-12, 1e-12));

  Tensor xl = rand64({2, 4, 3}, 31), tp = rand64({2, 4, 3}, 32, 0, 1);
  for (double eps : {0.0, 0.25})
    EXPECT_TRUE(grad_ok(
        [eps](const std::vector<Tensor>& in) {
          return cross_entropy_probs(in[0], in[1], {.label_smoothing = eps, .reduction = Reduction::sum});
        },
        {xl, tp}))
        << "eps " << eps;
  EXPECT_TRUE(throws_with([&] { cross_entropy_probs(x, Tensor::zeros({3, 2}, {.dtype = DType::f64})); },
                          {"cross_entropy_probs", "[3,3]", "[3,2]"}));
}

// numpy: d = a - b; mean(d**2), mean(|d|), where(|d| < beta, 0.5 d^2 / beta, |d| - 0.5 beta)
TEST(PointwiseLosses, MatchNumpy) {
  Tensor a = f64({0.5, -1.0, 2.0, 3.0}, {4}), b = f64({0.0, 1.0, 2.2, 0.0}, {4});
  EXPECT_TRUE(all_close(mse_loss(a, b), {3.3225}));
  EXPECT_TRUE(all_close(mse_loss(a, b, Reduction::sum), {4 * 3.3225}));
  EXPECT_TRUE(all_close(l1_loss(a, b), {1.425}));
  EXPECT_TRUE(all_close(smooth_l1_loss(a, b, Reduction::none, 0.5), {0.25, 1.75, 0.04, 2.75}));
  EXPECT_TRUE(all_close(smooth_l1_loss(a, b), {1.03625}));
  EXPECT_TRUE(all_close(smooth_l1_loss(a, b, Reduction::mean, 0.0), {1.425}));  // beta 0 is L1
}

TEST(PointwiseLosses, Gradcheck) {
  // Inputs kept away from the kinks (|d| = 0 for l1, |d| = beta for smooth_l1 is C1 anyway).
  Tensor a = rand64({3, 5}, 41, -2, 2), b = rand64({3, 5}, 42, -2, 2);
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum}) {
    EXPECT_TRUE(grad_ok([r](const std::vector<Tensor>& in) { return mse_loss(in[0], in[1], r); }, {a, b}));
    EXPECT_TRUE(grad_ok([r](const std::vector<Tensor>& in) { return l1_loss(in[0], in[1], r); }, {a, b}));
  }
  for (double beta : {0.0, 0.5, 1.0, 3.0})
    EXPECT_TRUE(grad_ok(
        [beta](const std::vector<Tensor>& in) { return smooth_l1_loss(in[0], in[1], Reduction::mean, beta); },
        {a, b}))
        << "beta " << beta;
}

TEST(PointwiseLosses, L1SubgradientZeroAtZero) {
  Tensor a = f64({1.0, 2.0, 3.0}, {3}).requires_grad_();
  Tensor b = f64({1.0, 0.0, 5.0}, {3});
  l1_loss(a, b, Reduction::sum).backward();
  EXPECT_TRUE(all_close(a.grad(), {0.0, 1.0, -1.0}));
}

TEST(PointwiseLosses, Errors) {
  Tensor a = Tensor::zeros({4, 1}), b = Tensor::zeros({4});
  EXPECT_TRUE(throws_with([&] { mse_loss(a, b); }, {"mse_loss", "[4,1]", "[4]"}));
  EXPECT_TRUE(throws_with([&] { l1_loss(a, b); }, {"l1_loss", "[4,1]", "[4]"}));
  EXPECT_TRUE(throws_with([&] { smooth_l1_loss(b, b, Reduction::mean, -1.0); }, {"smooth_l1_loss", "beta"}));
}

// numpy: sp = log1p(exp(-|x|)) + max(-x, 0); lw = 1 + (pw - 1) t; loss = (1 - t) x + lw sp
TEST(BceWithLogits, MatchesNumpyAndIsStable) {
  Tensor x = f64({-2.0, 0.0, 3.0, 100.0, -100.0, 0.5}, {2, 3});
  Tensor t = f64({0, 1, 1, 0, 1, 0.3}, {2, 3});
  EXPECT_TRUE(all_close(binary_cross_entropy_with_logits(x, t, Reduction::none),
                        {0.126928011043, 0.69314718056, 0.0485873515737, 100.0, 100.0, 0.82407698418}));
  EXPECT_TRUE(all_close(binary_cross_entropy_with_logits(x, t), {33.6154565879}));
  Tensor pw = f64({1.0, 2.0, 0.5}, {3});
  EXPECT_TRUE(all_close(binary_cross_entropy_with_logits(x, t, Reduction::none, pw),
                        {0.126928011043, 1.38629436112, 0.0242936757869, 100.0, 200.0, 0.752965436553}));
  EXPECT_TRUE(all_close(binary_cross_entropy_with_logits(x, t, Reduction::sum, pw), {302.290481485}));
  // f32 at |x| = 100: finite, no exp overflow.
  Tensor l32 = binary_cross_entropy_with_logits(x.to(DType::f32), t.to(DType::f32), Reduction::none);
  EXPECT_TRUE(all_close(l32, binary_cross_entropy_with_logits(x, t, Reduction::none), 1e-5, 1e-5));
}

TEST(BceWithLogits, GradientAtZeroIsSigmoidMinusTarget) {
  Tensor x = f64({0.0, 0.0}, {2}).requires_grad_();
  binary_cross_entropy_with_logits(x, f64({0.0, 1.0}, {2}), Reduction::sum).backward();
  EXPECT_TRUE(all_close(x.grad(), {0.5, -0.5}));
}

TEST(BceWithLogits, Gradcheck) {
  Tensor x = rand64({3, 4}, 51, -3, 3), t = rand64({3, 4}, 52, 0, 1), pw = rand64({4}, 53, 0.5, 3);
  for (Reduction r : {Reduction::none, Reduction::mean, Reduction::sum}) {
    EXPECT_TRUE(grad_ok(
        [r](const std::vector<Tensor>& in) { return binary_cross_entropy_with_logits(in[0], in[1], r); }, {x, t}));
    EXPECT_TRUE(grad_ok(
        [r](const std::vector<Tensor>& in) { return binary_cross_entropy_with_logits(in[0], in[1], r, in[2]); },
        {x, t, pw}));
  }
}

TEST(BceWithLogits, Errors) {
  Tensor x = Tensor::zeros({3, 4});
  EXPECT_TRUE(throws_with([&] { binary_cross_entropy_with_logits(x, Tensor::zeros({3, 1})); },
                          {"binary_cross_entropy_with_logits", "[3,4]", "[3,1]"}));
  EXPECT_TRUE(throws_with([&] { binary_cross_entropy_with_logits(x, x, Reduction::mean, Tensor::ones({5})); },
                          {"binary_cross_entropy_with_logits", "[5]"}));
}

}  // namespace
}  // namespace ember

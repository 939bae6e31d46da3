// The autograd engine: accumulation, reuse of nodes, retain_graph, freed graphs, leaves without
// grad, detach, NoGradGuard, in-place detection, and graph depth.
#include <gtest/gtest.h>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "tests/common/expect_close.h"

namespace ember {
namespace {

using test::all_close;
using test::throws_with;

Tensor leaf(std::vector<double> v) {
  Tensor t = Tensor::from_vector(v, {int64_t(v.size())}, {.dtype = DType::f64});
  t.requires_grad_();
  return t;
}

TEST(Engine, ReusedNodesAccumulate) {
  // micrograd-style: y = x*x + x*3 at x=2 -> dy/dx = 2x + 3 = 7, with x used three times.
  Tensor x = leaf({2.0});
  Tensor y = x * x + x * 3.0;
  y.sum().backward();
  EXPECT_TRUE(all_close(x.grad(), {7.0}));
}

TEST(Engine, DiamondGraph) {
  // a = x*2; b = a+1; c = a*a; y = b*c. dy/dx = 2*(c + b*2a) at x=1.5: a=3, b=4, c=9 -> 2*(9+24)=66.
  Tensor x = leaf({1.5});
  Tensor a = x * 2.0, b = a + 1.0, c = a * a;
  (b * c).sum().backward();
  EXPECT_TRUE(all_close(x.grad(), {66.0}));
}

TEST(Engine, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = leaf({1.0, 2.0});
  (x * 3.0).sum().backward();
  (x * x).sum().backward();
  EXPECT_TRUE(all_close(x.grad(), {3 + 2, 3 + 4}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Engine, BackwardWithExplicitGradient) {
  Tensor x = leaf({1.0, 2.0, 3.0});
  Tensor y = x * x;
  y.backward(Tensor::from_vector(std::vector<double>{1, 10, 100}, {3}, {.dtype = DType::f64}));
  EXPECT_TRUE(all_close(x.grad(), {2, 40, 600}));
  EXPECT_TRUE(throws_with([&] { (x * x).backward(Tensor::ones({2}, {.dtype = DType::f64})); },
                          {"backward", "[2]", "[3]"}));
  EXPECT_TRUE(throws_with([&] { (x * x).backward(); }, {"backward", "single-element", "[3]"}));
}

TEST(Engine, RetainGraphAllowsASecondPassAndFreedGraphThrows) {
  Tensor x = leaf({3.0});
  Tensor y = (x * x).sum();
  y.backward({}, /*retain_graph=*/true);
  y.backward();
  EXPECT_TRUE(all_close(x.grad(), {12.0}));
  EXPECT_TRUE(throws_with([&] { y.backward(); }, {"backward", "second time", "retain_graph"}));
}

TEST(Engine, TensorWithoutGradThrows) {
  Tensor x = Tensor::ones({2});
  EXPECT_TRUE(throws_with([&] { x.sum().backward(); }, {"backward", "does not require grad"}));
}

TEST(Engine, DetachAndNoGradStopRecording) {
  Tensor x = leaf({2.0});
  Tensor d = x.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.impl()->storage, x.impl()->storage);  // shares storage
  {
    NoGradGuard guard;
    Tensor y = x * 5.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_FALSE(GradMode::is_enabled());
  }
  EXPECT_TRUE(GradMode::is_enabled());
  Tensor y = x * d;  // d is a constant: dy/dx = d = 2
  y.sum().backward();
  EXPECT_TRUE(all_close(x.grad(), {2.0}));
}

TEST(Engine, InPlaceChangeOfSavedTensorIsDetected) {
  Tensor x = leaf({1.0, 2.0});
  Tensor w = Tensor::from_vector(std::vector<double>{3, 4}, {2}, {.dtype = DType::f64});
  Tensor y = (x * w).sum();  // saves w
  w.mul_(2.0);
  EXPECT_TRUE(throws_with([&] { y.backward(); }, {"backward", "[2]", "modified in place", "version 1, expected 0"}));
}

TEST(Engine, InPlaceOnTensorRequiringGradNeedsNoGrad) {
  Tensor x = leaf({1.0});
  EXPECT_TRUE(throws_with([&] { x.add_(x); }, {"add_", "requires grad", "NoGradGuard"}));
  NoGradGuard guard;
  x.add_(Tensor::ones({1}, {.dtype = DType::f64}), 2.0);
  EXPECT_TRUE(all_close(x, {3.0}));
}

TEST(Engine, DeepChainDoesNotOverflowTheStack) {
  Tensor x = leaf({1.0});
  Tensor y = x;
  for (int i = 0; i < 50000; ++i) y = y * 1.0;
  y.sum().backward();
  EXPECT_TRUE(all_close(x.grad(), {1.0}));
  // Building and dropping a deep graph without backward must not recurse either.
  Tensor z = x;
  for (int i = 0; i < 50000; ++i) z = z * 1.0;
  z = Tensor();
}

TEST(Engine, UnusedOutputOfMultiOutputOpGetsZeroGradient) {
  Tensor x = leaf({1.0, 5.0, 3.0});
  auto [values, indices] = max(x.reshape({1, 3}), 1);
  (values * 2.0).sum().backward();
  EXPECT_TRUE(all_close(x.grad(), {0, 2, 0}));
  EXPECT_EQ(indices.item<int64_t>(), 1);
}

TEST(Engine, IntermediateTensorsGetNoGrad) {
  Tensor x = leaf({1.0});
  Tensor h = x * 2.0;
  (h * 3.0).sum().backward();
  EXPECT_FALSE(h.grad().defined());  // only leaves accumulate
  EXPECT_TRUE(all_close(x.grad(), {6.0}));
}

TEST(Engine, GraphsWithoutBackwardAreFreed) {
  // Nodes that save their own output must not keep it alive through a cycle.
  std::vector<std::function<Tensor(const Tensor&)>> fns = {
      [](const Tensor& x) { return pow(x, x); },
      [](const Tensor& x) { return amax(x, {0}, true); },
      [](const Tensor& x) { return softmax(x, 0); },
      [](const Tensor& x) { return max(x, 0).values; },
  };
  for (auto& f : fns) {
    std::weak_ptr<TensorImpl> out;
    {
      Tensor x = leaf({0.5, 1.5});
      Tensor y = f(x);
      out = y.impl_ptr();
    }
    EXPECT_TRUE(out.expired());
  }
}

}  // namespace
}  // namespace ember

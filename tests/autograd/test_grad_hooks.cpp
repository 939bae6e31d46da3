// Gradient-ready hooks (autograd/grad_hooks.h): a hook runs once per backward, after the leaf's
// gradient holds every contribution; leaves the backward does not reach get no call; leaves fire
// in backward order (the last layer first); removed hooks stay silent; bad leaves are refused.
#include <gtest/gtest.h>

#include "autograd/grad_hooks.h"
#include "autograd/ops.h"
#include "tests/common/expect_close.h"

namespace ember {
namespace {

using autograd::register_grad_ready_hook;
using test::throws_with;

Tensor leaf(std::vector<double> v) {
  Tensor t = Tensor::from_vector(v, {int64_t(v.size())}, {.dtype = DType::f64});
  t.requires_grad_();
  return t;
}

TEST(GradHooks, RunOnceAfterTheLastContribution) {
  Tensor x = leaf({2.0}), unused = leaf({1.0});
  std::vector<double> seen;
  auto h = register_grad_ready_hook(x, [&](const Tensor& t) { seen.push_back(t.grad().item()); });
  auto hu = register_grad_ready_hook(unused, [&](const Tensor&) { seen.push_back(-1); });
  // x feeds three nodes that run at different times; the hook must see the full dy/dx = 2x + 3 + 1.
  Tensor y = x * x + x * 3.0 + x;
  y.sum().backward();
  ASSERT_EQ(seen.size(), 1u) << "one call per backward, none for the unreached leaf";
  EXPECT_EQ(seen[0], 8.0);
  // A second backward accumulates into .grad; the hook sees the sum.
  (x * 2.0).sum().backward();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1], 10.0);
  h.remove();
  (x * 2.0).sum().backward();
  EXPECT_EQ(seen.size(), 2u) << "a removed hook stays silent";
}

TEST(GradHooks, LeavesFireInBackwardOrder) {
  // A chain w0 -> w1 -> w2: backward reaches w2 first; each hook sees its final gradient.
  Tensor w0 = leaf({1.5}), w1 = leaf({2.0}), w2 = leaf({3.0});
  std::vector<std::pair<int, double>> order;
  std::vector<autograd::GradHookHandle> hs;
  for (int i = 0; Tensor w : {w0, w1, w2}) {
    hs.push_back(register_grad_ready_hook(w, [&order, i](const Tensor& t) { order.emplace_back(i, t.grad().item()); }));
    ++i;
  }
  Tensor a = (w0 * 2.0).tanh();
  Tensor b = (a * w1).tanh();
  Tensor y = b * w2;
  y.sum().backward();
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0].first, 2);
  EXPECT_EQ(order[1].first, 1);
  EXPECT_EQ(order[2].first, 0);
  EXPECT_EQ(order[0].second, w2.grad().item());
  EXPECT_EQ(order[2].second, w0.grad().item());
}

TEST(GradHooks, MovedHandleKeepsTheHookAndDestroyedHandleRemovesIt) {
  Tensor x = leaf({1.0});
  int calls = 0;
  {
    autograd::GradHookHandle kept;
    {
      auto h = register_grad_ready_hook(x, [&](const Tensor&) { ++calls; });
      kept = std::move(h);
    }
    (x * 2.0).sum().backward();
    EXPECT_EQ(calls, 1);
  }
  (x * 2.0).sum().backward();
  EXPECT_EQ(calls, 1);
}

TEST(GradHooks, RefusesNonLeavesAndEmptyHooks) {
  Tensor x = leaf({1.0});
  Tensor y = x * 2.0;
  EXPECT_TRUE(throws_with([&] { (void)register_grad_ready_hook(y, [](const Tensor&) {}); },
                          {"register_grad_ready_hook: the tensor must be a leaf that requires grad"}));
  EXPECT_TRUE(throws_with([&] { (void)register_grad_ready_hook(Tensor::zeros({2}), [](const Tensor&) {}); },
                          {"must be a leaf that requires grad"}));
  EXPECT_TRUE(throws_with([&] { (void)register_grad_ready_hook(x, {}); }, {"the hook is empty"}));
}

}  // namespace
}  // namespace ember

// Views share storage and route gradients back: reshape/view, permute/transpose, narrow/slice/
// select, squeeze/unsqueeze, expand, flatten, contiguous, clone, casts.
#include <gtest/gtest.h>

#include <limits>

#include "autograd/ops.h"
#include "tests/common/expect_close.h"

namespace ember {
namespace {

using test::all_close;
using test::grad_ok;
using test::rand64;
using test::throws_with;

TEST(View, ViewsShareStorage) {
  Tensor x = Tensor::arange(0, 12).reshape({3, 4});
  Tensor t = x.t();
  EXPECT_EQ(t.impl()->storage, x.impl()->storage);
  EXPECT_EQ(t.strides(), (Strides{1, 4}));
  EXPECT_FALSE(t.is_contiguous());
  Tensor row = x.select(0, 1);
  EXPECT_TRUE(all_close(row, {4, 5, 6, 7}));
  {
    NoGradGuard g;
    row.fill_(0);  // writes through the view
  }
  EXPECT_TRUE(all_close(x.select(0, 1), {0, 0, 0, 0}));
  EXPECT_TRUE(all_close(x.slice(1, 1, 4, 2), {1, 3, 0, 0, 9, 11}));
  EXPECT_TRUE(all_close(x.narrow(0, 2, 1), {8, 9, 10, 11}));
  EXPECT_EQ(x.unsqueeze(1).shape(), (Shape{3, 1, 4}));
  EXPECT_EQ(x.unsqueeze(-1).shape(), (Shape{3, 4, 1}));
  EXPECT_EQ(x.unsqueeze(1).squeeze().shape(), (Shape{3, 4}));
  EXPECT_EQ(x.reshape({2, -1}).shape(), (Shape{2, 6}));
  EXPECT_EQ(Tensor::zeros({2, 3, 4, 5}).flatten(1, 2).shape(), (Shape{2, 12, 5}));
  Tensor e = Tensor::arange(0, 3).reshape({3, 1}).expand({3, 4});
  EXPECT_EQ(e.strides(), (Strides{1, 0}));
  EXPECT_TRUE(all_close(e, {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}));
  EXPECT_EQ(x.permute({1, 0}).shape(), (Shape{4, 3}));
}

TEST(View, ReshapeCopiesOnlyWhenItMust) {
  Tensor x = Tensor::arange(0, 12).reshape({3, 4});
  EXPECT_EQ(x.reshape({4, 3}).impl()->storage, x.impl()->storage);
  Tensor t = x.t();
  EXPECT_NE(t.reshape({12}).impl()->storage, x.impl()->storage);  // transposed: must copy
  EXPECT_TRUE(all_close(t.reshape({12}), {0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}));
  EXPECT_TRUE(throws_with([&] { t.view({12}); }, {"view", "[4,3]", "use reshape"}));
  // Splitting a dim of a transposed tensor is still a view.
  EXPECT_EQ(t.view({2, 2, 3}).impl()->storage, x.impl()->storage);
  EXPECT_TRUE(all_close(x.contiguous(), x));
  EXPECT_TRUE(x.contiguous().is_same(x));
}

TEST(View, GradcheckEveryView) {
  Tensor x = rand64({2, 3, 4}, 1);
  auto check = [&](const char* name, std::function<Tensor(const Tensor&)> f) {
    EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return f(in[0]) * 1.0; }, {x})) << name;
  };
  check("reshape", [](const Tensor& t) { return t.reshape({4, 6}); });
  check("view", [](const Tensor& t) { return t.view({6, -1}); });
  check("permute", [](const Tensor& t) { return t.permute({2, 0, 1}); });
  check("transpose", [](const Tensor& t) { return t.transpose(0, 2); });
  check("narrow", [](const Tensor& t) { return t.narrow(2, 1, 2); });
  check("slice_step", [](const Tensor& t) { return t.slice(1, 0, 3, 2); });
  check("select", [](const Tensor& t) { return t.select(1, -1); });
  check("unsqueeze_squeeze", [](const Tensor& t) { return t.unsqueeze(0).squeeze(0); });
  check("expand", [](const Tensor& t) { return t.narrow(0, 0, 1).expand({5, 3, 4}); });
  check("flatten", [](const Tensor& t) { return t.flatten(); });
  check("transposed_reshape", [](const Tensor& t) { return t.transpose(1, 2).reshape({-1}); });
  check("contiguous", [](const Tensor& t) { return t.transpose(0, 1).contiguous(); });
  check("clone", [](const Tensor& t) { return t.clone(); });
  // Through f32 the finite differences carry f32 rounding: a wider step and tolerance.
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return in[0].to(DType::f32).to(DType::f64); }, {x},
                      {.eps = 1e-2, .atol = 1e-4, .rtol = 1e-3}));
}

TEST(View, OverlappingSlicesAccumulate) {
  Tensor x = rand64({6}, 2);
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return in[0].narrow(0, 0, 4) * in[0].narrow(0, 2, 4); }, {x}));
}

TEST(View, Errors) {
  Tensor x = Tensor::zeros({2, 3});
  EXPECT_TRUE(throws_with([&] { x.reshape({4, 2}); }, {"reshape", "[4,2]", "[2,3]", "6 elements"}));
  EXPECT_TRUE(throws_with([&] { x.reshape({-1, -1}); }, {"reshape", "only one dim can be -1"}));
  EXPECT_TRUE(throws_with([&] { x.permute({0, 0}); }, {"permute", "repeats"}));
  EXPECT_TRUE(throws_with([&] { x.permute({0}); }, {"permute", "1 dims", "[2,3]"}));
  EXPECT_TRUE(throws_with([&] { x.narrow(1, 2, 2); }, {"narrow", "[2, 4)", "size 3", "[2,3]"}));
  EXPECT_TRUE(throws_with([&] { x.select(0, 2); }, {"select", "index 2", "size 2"}));
  EXPECT_TRUE(throws_with([&] { x.expand({4, 3}); }, {"expand", "[2,3]", "[4,3]"}));
  EXPECT_TRUE(throws_with([&] { x.transpose(0, 2); }, {"transpose", "dim 2 out of range"}));
  EXPECT_TRUE(throws_with([&] { x.flatten(1, 0); }, {"flatten", "start_dim 1"}));
}

}  // namespace
}  // namespace ember

namespace ember {
namespace {
// Outside review: slice(0, 0, INT64_MAX, INT64_MAX) gave shape [-1]; narrow(0, INT64_MAX, 2) gave
// an empty tensor instead of throwing (start + length overflowed).
TEST(View, SliceAndNarrowBoundsDoNotOverflow) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  Tensor x = Tensor::arange(0, 5);
  EXPECT_EQ(x.slice(0, 0, max, max).shape(), (Shape{1}));
  EXPECT_EQ(x.slice(0, 0, max, max).item(), 0.0);
  EXPECT_EQ(x.slice(0, 1, max, 3).to_vector<float>(), (std::vector<float>{1, 4}));
  EXPECT_EQ(x.slice(0, 5, max, max).numel(), 0);
  EXPECT_TRUE(test::throws_with([&] { x.narrow(0, max, 2); }, {"narrow", "out of range for dim 0 of size 5"}));
  EXPECT_TRUE(test::throws_with([&] { x.narrow(0, 2, max); }, {"narrow", "out of range"}));
  EXPECT_TRUE(test::throws_with([&] { x.narrow(0, 6, 0); }, {"narrow", "out of range"}));
  EXPECT_EQ(x.narrow(0, 5, 0).numel(), 0);
  // The gradient of a huge-step slice lands on the one element it took.
  Tensor w = Tensor::ones({5}, {.requires_grad = true});
  w.slice(0, 1, max, max).sum().backward();
  EXPECT_EQ(w.grad().to_vector<float>(), (std::vector<float>{0, 1, 0, 0, 0}));
}
}  // namespace
}  // namespace ember

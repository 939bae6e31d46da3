// Tensor creation, metadata, data access, casting and entry checks.
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "tests/common/expect_close.h"

namespace ember {
namespace {

using test::all_close;
using test::throws_with;

TEST(Tensor, ZerosOnesFullHaveShapeStridesAndValues) {
  Tensor z = Tensor::zeros({2, 3});
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.strides(), (Strides{3, 1}));
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.dtype(), DType::f32);
  EXPECT_TRUE(z.is_contiguous());
  EXPECT_TRUE(all_close(z, {0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(all_close(Tensor::ones({3}, {.dtype = DType::f64}), {1, 1, 1}));
  EXPECT_TRUE(all_close(Tensor::full({2}, 2.5), {2.5, 2.5}));
  EXPECT_EQ(Tensor::scalar(7).dim(), 0);
  EXPECT_EQ(Tensor::scalar(7).item(), 7.0);
}

TEST(Tensor, ArangeLinspaceEye) {
  EXPECT_TRUE(all_close(Tensor::arange(0, 5), {0, 1, 2, 3, 4}));
  EXPECT_TRUE(all_close(Tensor::arange(1, 2, 0.25, {.dtype = DType::f64}), {1, 1.25, 1.5, 1.75}));
  EXPECT_TRUE(all_close(Tensor::arange(5, 0, -2, {.dtype = DType::i64}), {5, 3, 1}));
  EXPECT_TRUE(all_close(Tensor::linspace(0, 1, 5), {0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(Tensor::linspace(-3, 7, 11, {.dtype = DType::f64}).to_vector<double>().back(), 7.0);
  EXPECT_TRUE(all_close(Tensor::eye(3), {1, 0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_TRUE(throws_with([] { Tensor::arange(0, 5, 0); }, {"arange"}));
  EXPECT_TRUE(throws_with([] { Tensor::arange(0, 5, -1); }, {"arange", "wrong sign"}));
}

TEST(Tensor, FromVectorAndBufferRoundTrip) {
  std::vector<int64_t> v = {1, -2, 3, 4, 5, 6};
  Tensor t = Tensor::from_vector(v, {2, 3}, {.dtype = DType::i64});
  EXPECT_EQ(t.to_vector<int64_t>(), v);
  EXPECT_EQ(t.data<int64_t>()[4], 5);
  float raw[4] = {0.5f, 1.5f, -2.f, 8.f};
  Tensor b = Tensor::from_buffer(raw, {2, 2});
  EXPECT_EQ(b.to_vector<float>(), std::vector<float>(raw, raw + 4));
  EXPECT_TRUE(throws_with([] { Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}); },
                          {"from_vector", "3 values", "[2,2]"}));
  EXPECT_TRUE(throws_with([&] { t.data<float>(); }, {"data", "i64", "f32"}));
}

TEST(Tensor, CastingConvertsEveryDtype) {
  Tensor x = Tensor::from_vector(std::vector<double>{-1.75, 0.5, 2.25, 255}, {4}, {.dtype = DType::f64});
  EXPECT_EQ(x.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{-1, 0, 2, 255}));  // truncation, like C
  EXPECT_EQ(x.to(DType::i32).to_vector<int32_t>(), (std::vector<int32_t>{-1, 0, 2, 255}));
  EXPECT_EQ(x.to(DType::f32).to_vector<float>(), (std::vector<float>{-1.75f, 0.5f, 2.25f, 255.f}));
  Tensor u = Tensor::from_vector(std::vector<uint8_t>{0, 7, 255}, {3}, {.dtype = DType::u8});
  EXPECT_TRUE(all_close(u.to(DType::f32), {0, 7, 255}));
  EXPECT_TRUE(x.to(DType::f64).is_same(x));  // same dtype: no copy
}

TEST(Tensor, ItemRequiresOneElement) {
  EXPECT_EQ(Tensor::full({1, 1}, 3.0).item(), 3.0);
  EXPECT_EQ(Tensor::full({1}, 3.0, {.dtype = DType::i32}).item<int>(), 3);
  EXPECT_TRUE(throws_with([] { Tensor::zeros({2, 3}).item(); }, {"item", "[2,3]", "6 elements"}));
}

TEST(Tensor, RequiresGradOnlyOnFloatingLeaves) {
  Tensor x = Tensor::zeros({2});
  x.requires_grad_();
  EXPECT_TRUE(x.requires_grad());
  EXPECT_TRUE(x.is_leaf());
  EXPECT_TRUE(throws_with([] { Tensor::zeros({2}, {.dtype = DType::i64}).requires_grad_(); }, {"requires_grad_", "i64"}));
  Tensor y = x * 2.0;
  EXPECT_FALSE(y.is_leaf());
  EXPECT_TRUE(throws_with([&] { y.requires_grad_(false); }, {"requires_grad_", "leaf"}));
  EXPECT_FALSE(x.detach().requires_grad());
}

TEST(Tensor, RandomFillsAreSeededAndInRange) {
  manual_seed(42);
  Tensor a = Tensor::rand({1000});
  manual_seed(42);
  Tensor b = Tensor::rand({1000});
  EXPECT_EQ(a.to_vector<float>(), b.to_vector<float>());
  Tensor c = Tensor::rand({1000});  // the generator advanced: different numbers
  EXPECT_NE(a.to_vector<float>(), c.to_vector<float>());
  for (float v : a.to_vector<float>()) {
    EXPECT_GE(v, 0.f);
    EXPECT_LT(v, 1.f);
  }
  Generator g(7);
  Tensor n = Tensor::randn({20000}, {.dtype = DType::f64}, &g);
  EXPECT_NEAR(mean(n).item(), 0.0, 0.03);
  EXPECT_NEAR(var(n).item(), 1.0, 0.04);
  Tensor r = Tensor::randint(-3, 4, {5000}, {.dtype = DType::i64}, &g);
  auto rv = r.to_vector<int64_t>();
  EXPECT_EQ(*std::min_element(rv.begin(), rv.end()), -3);
  EXPECT_EQ(*std::max_element(rv.begin(), rv.end()), 3);
  EXPECT_TRUE(throws_with([] { Tensor::randint(3, 3, {2}); }, {"randint", "empty range"}));
  EXPECT_TRUE(throws_with([] { Tensor::rand({2}, {.dtype = DType::i64}); }, {"rand", "floating"}));
}

TEST(Tensor, RandomFillsDoNotDependOnThreadCount) {
  set_num_threads(1);
  Generator g1(3);
  auto one = Tensor::randn({300000}, {}, &g1).to_vector<float>();
  set_num_threads(2);
  Generator g2(3);
  auto two = Tensor::randn({300000}, {}, &g2).to_vector<float>();
  EXPECT_EQ(one, two);
}

TEST(Tensor, ChecksNameTheOpAndShapes) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({2, 3}, {.dtype = DType::f64});
  EXPECT_TRUE(throws_with([&] { check_same_dtype(a, b, "add"); }, {"add", "[2,3]", "f32", "f64"}));
  EXPECT_TRUE(throws_with([&] { check_dim(a, 4, "conv2d", "input"); }, {"conv2d", "input", "4-D", "[2,3]"}));
  EXPECT_TRUE(throws_with([&] { a.size(2); }, {"dim 2 out of range"}));
  EXPECT_TRUE(throws_with([] { Tensor::zeros({2, -1}); }, {"negative size"}));
}

TEST(Tensor, AllocatorReusesFreedBlocks) {
  { Tensor warm = Tensor::empty({1 << 16}); }
  auto before = cpu_allocator_stats();
  for (int i = 0; i < 10; ++i) Tensor t = Tensor::empty({1 << 16});
  auto after = cpu_allocator_stats();
  EXPECT_EQ(after.system_allocs, before.system_allocs);  // all served from the cache
  EXPECT_EQ(after.requests, before.requests + 10);
}

}  // namespace
}  // namespace ember

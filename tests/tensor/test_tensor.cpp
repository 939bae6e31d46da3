// Tensor creation, metadata, data access, casting and entry checks.
#include <gtest/gtest.h>

#include <functional>
#include <limits>

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

namespace ember {
namespace {

// Outside review: ones({2^62+1, 4}) got 16 bytes of storage; ones({2^32, 2^32}).sum() returned 0.
TEST(Tensor, SizesThatOverflowInt64AreRefused) {
  using test::throws_with;
  const int64_t big = (int64_t(1) << 62) + 1;
  EXPECT_TRUE(throws_with([&] { Tensor::ones({big, 4}); }, {"empty: size overflows int64", "[4611686018427387905,4]"}));
  EXPECT_TRUE(throws_with([] { Tensor::zeros({int64_t(1) << 32, int64_t(1) << 32}); }, {"size overflows int64"}));
  EXPECT_TRUE(throws_with([] { Tensor::empty({int64_t(1) << 61}, {.dtype = DType::f64}); }, {"size overflows int64"}));
  // Empty tensors: numel 0, but the strides of [0, 2^63-1, 2^63-1] would overflow.
  const int64_t max = std::numeric_limits<int64_t>::max();
  EXPECT_TRUE(throws_with([&] { Tensor::empty({0, max, max}); }, {"size overflows int64"}));
  EXPECT_EQ(Tensor::empty({max, 0}).numel(), 0);
  EXPECT_TRUE(throws_with([&] { Tensor::ones({1}).expand({max, 4}).numel(); }, {"size overflows int64"}));
  EXPECT_TRUE(throws_with([&] { Tensor::ones({4}).reshape({max, -1}); }, {"invalid"}));
  EXPECT_TRUE(throws_with([&] { Tensor::ones({1, 1}).reshape({int64_t(1) << 32, int64_t(1) << 32}); },
                          {"size overflows int64"}));
  EXPECT_TRUE(throws_with([] { Tensor::arange(0, 1e30); }, {"arange", "overflows int64"}));
}

// The conversion rule (tensor/dtype.h convert, docs/reliability.md): float -> int truncates and
// saturates, NaN -> 0; int -> int wraps. Before, these casts were undefined behaviour.
TEST(Tensor, FloatToIntConversionSaturates) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Tensor::from_vector<float>({nan, inf, -inf, 1e30f, -1e30f, 300.7f, -2.9f, 2.9f, -0.5f}, {9});
  EXPECT_EQ(x.to(DType::u8).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 255, 0, 255, 0, 255, 0, 2, 0}));
  EXPECT_EQ(x.to(DType::i32).to_vector<int32_t>(),
            (std::vector<int32_t>{0, INT32_MAX, INT32_MIN, INT32_MAX, INT32_MIN, 300, -2, 2, 0}));
  EXPECT_EQ(x.to(DType::i64).to_vector<int64_t>(),
            (std::vector<int64_t>{0, INT64_MAX, INT64_MIN, INT64_MAX, INT64_MIN, 300, -2, 2, 0}));
  EXPECT_EQ(Tensor::full({2}, 1e300, {.dtype = DType::i64}).to_vector<int64_t>()[1], INT64_MAX);
  EXPECT_EQ(Tensor::scalar(nan).item<int64_t>(), 0);
  EXPECT_EQ(Tensor::arange(250, 260, 1, {.dtype = DType::u8}).to_vector<uint8_t>().back(), 255);
  // Exactly representable bounds: -2^63 fits, 2^63 does not.
  Tensor edge = Tensor::from_vector<double>({-9223372036854775808.0, 9223372036854775808.0}, {2}, {.dtype = DType::f64});
  EXPECT_EQ(edge.to(DType::i64).to_vector<int64_t>(), (std::vector<int64_t>{INT64_MIN, INT64_MAX}));
  // int -> int wraps modulo 2^bits (as C++20 and PyTorch).
  EXPECT_EQ(Tensor::from_vector<int64_t>({257, -1}, {2}, {.dtype = DType::i64}).to(DType::u8).to_vector<uint8_t>(),
            (std::vector<uint8_t>{1, 255}));
}

TEST(Tensor, UndefinedTensorThrowsInsteadOfCrashing) {
  Tensor t;
  EXPECT_TRUE(test::throws_with([&] { (void)t.shape(); }, {"undefined tensor"}));
  EXPECT_TRUE(test::throws_with([&] { (void)t.numel(); }, {"undefined tensor"}));
  EXPECT_TRUE(test::throws_with([&] { (void)t.dtype(); }, {"undefined tensor"}));
  EXPECT_FALSE(t.requires_grad());
}

// PyTorch refuses in-place writes into a tensor whose elements share memory (an expanded view);
// a source that overlaps the destination in a shifted layout is read from a copy.
TEST(Tensor, InPlaceWritesRefuseInternalOverlapAndHandleAliasing) {
  Tensor e = Tensor::zeros({1, 3}).expand({4, 3});
  for (auto f : std::vector<std::function<void()>>{[&] { e.add_(Tensor::ones({4, 3})); },
                                                   [&] { e.copy_(Tensor::ones({4, 3})); },
                                                   [&] { e.mul_(2.0); }})
    EXPECT_TRUE(test::throws_with(f, {"more than one element of the written-to tensor [4,3]", "clone()"}));
  Tensor x = Tensor::arange(0, 6);
  x.slice(0, 1, 6).copy_(x.slice(0, 0, 5));  // x[1:] = x[:-1]
  EXPECT_EQ(x.to_vector<float>(), (std::vector<float>{0, 0, 1, 2, 3, 4}));
  Tensor y = Tensor::arange(0, 6);
  y.slice(0, 0, 5).add_(y.slice(0, 1, 6));  // y[:-1] += y[1:]
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{1, 3, 5, 7, 9, 5}));
  Tensor z = Tensor::arange(0, 4);
  z.add_(z);  // same layout: fine in place
  EXPECT_EQ(z.to_vector<float>(), (std::vector<float>{0, 2, 4, 6}));
}

}  // namespace
}  // namespace ember

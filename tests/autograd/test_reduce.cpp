// Reductions over any dims with keepdim: values (hand-derived), gradcheck, max/min indices,
// argmax, var, logsumexp, empty and non-contiguous inputs, errors.
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

Tensor m23() { return Tensor::from_vector(std::vector<double>{1, 5, 3, 4, 2, 6}, {2, 3}, {.dtype = DType::f64}); }

TEST(Reduce, SumMeanValues) {
  Tensor x = m23();
  EXPECT_TRUE(all_close(sum(x), {21}));
  EXPECT_TRUE(all_close(sum(x, {0}), {5, 7, 9}));
  EXPECT_TRUE(all_close(sum(x, {1}), {9, 12}));
  EXPECT_EQ(sum(x, {1}, true).shape(), (Shape{2, 1}));
  EXPECT_TRUE(all_close(mean(x, {-1}), {3, 4}));
  EXPECT_TRUE(all_close(sum(x, {0, 1}), {21}));
  EXPECT_EQ(sum(x).dim(), 0);
}

TEST(Reduce, IntegerSumsPromoteToI64) {
  Tensor mask = Tensor::ones({1000}, {.dtype = DType::u8});  // would wrap at 256 in u8
  Tensor s = sum(mask);
  EXPECT_EQ(s.dtype(), DType::i64);
  EXPECT_EQ(s.item<int64_t>(), 1000);
  EXPECT_EQ(sum(Tensor::full({3, 700}, 2, {.dtype = DType::i32}), {1}).to_vector<int64_t>(),
            (std::vector<int64_t>{1400, 1400, 1400}));
}

TEST(Reduce, VarianceWithCorrection) {
  // Row [1,5,3]: mean 3, squared deviations 4+4+0 = 8 -> unbiased 4, population 8/3.
  Tensor x = m23();
  EXPECT_TRUE(all_close(var(x, {1}), {4, 4}));
  EXPECT_TRUE(all_close(var(x, {1}, 0), {8.0 / 3, 8.0 / 3}));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return var(in[0], {0, 2}); }, {rand64({3, 2, 4}, 1)}));
}

TEST(Reduce, MaxMinWithIndices) {
  Tensor x = m23();
  auto [v, i] = max(x, 1);
  EXPECT_TRUE(all_close(v, {5, 6}));
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{1, 2}));
  auto [mv, mi] = min(x, 0, true);
  EXPECT_EQ(mv.shape(), (Shape{1, 3}));
  EXPECT_TRUE(all_close(mv, {1, 2, 3}));
  EXPECT_EQ(mi.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(argmax(x).item<int64_t>(), 5);
  EXPECT_EQ(argmin(x, 1).to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));
  // Ties pick the first index, like PyTorch.
  Tensor t = Tensor::from_vector(std::vector<float>{2, 7, 7, 1}, {4});
  EXPECT_EQ(argmax(t).item<int64_t>(), 1);
  EXPECT_TRUE(all_close(amax(x, {0, 1}), {6}));
  EXPECT_TRUE(all_close(amin(x, {1}), {1, 2}));
}

TEST(Reduce, GradcheckOverAnyDims) {
  Tensor x = rand64({3, 4, 5}, 2);
  for (std::vector<int64_t> dims : {std::vector<int64_t>{}, {0}, {1}, {2}, {0, 2}, {-1, 0}})
    for (bool keep : {false, true}) {
      EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return sum(in[0], dims, keep); }, {x}));
      EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return mean(in[0], dims, keep); }, {x}));
      EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return amax(in[0], dims, keep); }, {x}));
      EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return amin(in[0], dims, keep); }, {x}));
    }
  for (int64_t d : {0, 1, 2})
    for (bool keep : {false, true}) {
      EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return max(in[0], d, keep).values; }, {x}));
      EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return min(in[0], d, keep).values; }, {x}));
    }
}

TEST(Reduce, LogSumExpIsStableAndDifferentiable) {
  Tensor x = Tensor::from_vector(std::vector<double>{1000, 1000}, {2}, {.dtype = DType::f64});
  EXPECT_TRUE(all_close(logsumexp(x, {0}), {1000 + std::log(2.0)}, 1e-12));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return logsumexp(in[0], {1}); }, {rand64({3, 4}, 3)}));
}

TEST(Reduce, NonContiguousAndLargeInputs) {
  Tensor x = Tensor::arange(0, 24, 1, {.dtype = DType::f64}).reshape({2, 3, 4}).permute({2, 0, 1});  // [4,2,3]
  EXPECT_TRUE(all_close(sum(x, {0}), sum(contiguous(x), {0})));
  EXPECT_TRUE(all_close(sum(x, {1, 2}), {60, 66, 72, 78}));
  Generator g(1);
  Tensor big = Tensor::rand({300, 1001}, {.dtype = DType::f64}, &g);
  Tensor s1 = sum(big, {1}), s0 = sum(big, {0});
  auto v = big.to_vector<double>();
  double row0 = 0, col7 = 0;
  for (int j = 0; j < 1001; ++j) row0 += v[size_t(j)];
  for (int i = 0; i < 300; ++i) col7 += v[size_t(i * 1001 + 7)];
  EXPECT_NEAR(s1.to_vector<double>()[0], row0, 1e-9);
  EXPECT_NEAR(s0.to_vector<double>()[7], col7, 1e-9);
  // f32 sum of 1e6 ones stays exact thanks to the split accumulators.
  EXPECT_EQ(sum(Tensor::ones({1000000})).item(), 1e6);
}

TEST(Reduce, EmptyInputs) {
  Tensor e = Tensor::zeros({0, 3});
  EXPECT_TRUE(all_close(sum(e, {0}), {0, 0, 0}));
  EXPECT_TRUE(throws_with([&] { amax(e, {0}); }, {"amax", "size 0", "[0,3]"}));
  EXPECT_TRUE(throws_with([&] { max(e, 0); }, {"max", "size 0"}));
}

TEST(Reduce, Errors) {
  Tensor x = m23();
  EXPECT_TRUE(throws_with([&] { sum(x, {2}); }, {"sum", "dim 2 out of range", "2-d"}));
  EXPECT_TRUE(throws_with([&] { sum(x, {1, -1}); }, {"sum", "repeats"}));
  EXPECT_TRUE(throws_with([] { mean(Tensor::zeros({2}, {.dtype = DType::i64})); }, {"mean", "floating"}));
}

}  // namespace
}  // namespace ember

// matmul: 1-D/2-D/batched with broadcast batch dims, values by hand, gradcheck for every form,
// f32 vs f64 on a large product, linear, errors.
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "tests/common/expect_close.h"

namespace ember {
namespace {

using test::all_close;
using test::grad_ok;
using test::rand64;
using test::throws_with;

TEST(Matmul, HandComputedValues) {
  Tensor a = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}, {.dtype = DType::f64});
  Tensor b = Tensor::from_vector(std::vector<double>{7, 8, 9, 10, 11, 12}, {3, 2}, {.dtype = DType::f64});
  // [[1*7+2*9+3*11, 1*8+2*10+3*12], [4*7+5*9+6*11, 4*8+5*10+6*12]]
  EXPECT_TRUE(all_close(matmul(a, b), {58, 64, 139, 154}));
  Tensor v = Tensor::from_vector(std::vector<double>{1, 0, -1}, {3}, {.dtype = DType::f64});
  EXPECT_TRUE(all_close(matmul(a, v), {-2, -2}));
  EXPECT_TRUE(all_close(matmul(v, b), {-4, -4}));
  EXPECT_EQ(matmul(v, v).dim(), 0);
  EXPECT_TRUE(all_close(matmul(v, v), {2}));
}

TEST(Matmul, ShapesOfEveryForm) {
  EXPECT_EQ(matmul(Tensor::zeros({4}), Tensor::zeros({4, 5})).shape(), (Shape{5}));
  EXPECT_EQ(matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({4})).shape(), (Shape{2, 3}));
  EXPECT_EQ(matmul(Tensor::zeros({2, 3, 4}), Tensor::zeros({4, 5})).shape(), (Shape{2, 3, 5}));
  EXPECT_EQ(matmul(Tensor::zeros({7, 1, 3, 4}), Tensor::zeros({2, 4, 5})).shape(), (Shape{7, 2, 3, 5}));
  EXPECT_EQ(matmul(Tensor::zeros({3, 4}), Tensor::zeros({6, 4, 2})).shape(), (Shape{6, 3, 2}));
}

TEST(Matmul, GradcheckEveryForm) {
  auto mm = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
  EXPECT_TRUE(grad_ok(mm, {rand64({5}, 1), rand64({5}, 2)}));
  EXPECT_TRUE(grad_ok(mm, {rand64({3, 5}, 1), rand64({5, 4}, 2)}));
  EXPECT_TRUE(grad_ok(mm, {rand64({5}, 1), rand64({5, 4}, 2)}));
  EXPECT_TRUE(grad_ok(mm, {rand64({2, 3, 5}, 1), rand64({5}, 2)}));
  EXPECT_TRUE(grad_ok(mm, {rand64({2, 3, 5}, 1), rand64({5, 4}, 2)}));
  EXPECT_TRUE(grad_ok(mm, {rand64({2, 1, 3, 5}, 1), rand64({3, 5, 2}, 2)}));  // broadcast batch
  EXPECT_TRUE(grad_ok(mm, {rand64({3, 5}, 1), rand64({2, 5, 4}, 2)}));
}

TEST(Matmul, TransposedViewsNeedNoCopy) {
  Tensor a = rand64({5, 3}, 3), b = rand64({4, 5}, 4);
  auto f = [](const std::vector<Tensor>& in) { return matmul(in[0].t(), in[1].t()); };
  EXPECT_TRUE(grad_ok(f, {a, b}));
  EXPECT_TRUE(all_close(matmul(a.t(), b.t()), matmul(contiguous(a.t()), contiguous(b.t())), 1e-12, 1e-12));
}

TEST(Matmul, F32LargeProductMatchesF64) {
  Generator g(5);
  Tensor a = Tensor::rand({130, 257}, {.dtype = DType::f64}, &g), b = Tensor::rand({257, 67}, {.dtype = DType::f64}, &g);
  Tensor ref = matmul(a, b);
  EXPECT_TRUE(all_close(matmul(a.to(DType::f32), b.to(DType::f32)), ref, 1e-5, 1e-4));
}

TEST(Matmul, LinearMatchesDefinition) {
  Tensor x = rand64({4, 3}, 6), w = rand64({5, 3}, 7), b = rand64({5}, 8);
  EXPECT_TRUE(all_close(linear(x, w, b), add(matmul(x, w.t()), b), 1e-12, 1e-12));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, {x, w, b}));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return linear(in[0], in[1]); }, {rand64({2, 3, 3}, 9), w}));
  // The fused bias path on a transposed (non-contiguous) input and on a 1-D input (not fused).
  Tensor xt = rand64({3, 6}, 10).t();
  EXPECT_TRUE(all_close(linear(xt, w, b), add(matmul(xt, w.t()), b), 1e-12, 1e-12));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return linear(in[0].t(), in[1], in[2]); },
                      {rand64({3, 6}, 10), w, b}));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, {rand64({3}, 11), w, b}));
  EXPECT_TRUE(throws_with([&] { linear(x, rand64({5, 4}, 1)); }, {"linear", "[4,3]", "3 features", "[5,4]", "expects 4"}));
}

TEST(Matmul, Errors) {
  EXPECT_TRUE(throws_with([] { matmul(Tensor::zeros({2, 3}), Tensor::zeros({4, 5})); },
                          {"matmul: shapes [2,3] and [4,5] are not aligned (3 != 4)"}));
  EXPECT_TRUE(throws_with([] { matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 5})); },
                          {"matmul", "[2]", "[3]", "cannot be broadcast"}));
  EXPECT_TRUE(throws_with([] { matmul(Tensor::scalar(1), Tensor::zeros({3})); }, {"matmul", "at least 1 dim"}));
  EXPECT_TRUE(throws_with([] { matmul(Tensor::zeros({2}, {.dtype = DType::i64}), Tensor::zeros({2}, {.dtype = DType::i64})); },
                          {"matmul", "floating"}));
}

}  // namespace
}  // namespace ember

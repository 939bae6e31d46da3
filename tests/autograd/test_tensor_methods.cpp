// autograd/tensor_methods.cpp: each Tensor method is the free function of autograd/ops.h (same
// values bit for bit, same gradient), so `x.square().mean({1})` reads like PyTorch.
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "tests/common/expect_close.h"

namespace ember {
namespace {

void expect_same(const Tensor& a, const Tensor& b, const char* what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  ASSERT_EQ(a.dtype(), b.dtype()) << what;
  const Tensor fa = a.to(DType::f64), fb = b.to(DType::f64);
  const auto va = fa.to_vector<double>(), vb = fb.to_vector<double>();
  for (size_t i = 0; i < va.size(); ++i) ASSERT_EQ(va[i], vb[i]) << what << " at " << i;
}

TEST(TensorMethods, EqualTheFreeFunctions) {
  manual_seed(3);
  const Tensor x = Tensor::rand({3, 5}) + 0.1;  // positive, away from kinks
  expect_same(x.rsqrt(), rsqrt(x), "rsqrt");
  expect_same(x.neg(), neg(x), "neg");
  expect_same(x.square(), square(x), "square");
  expect_same(x.sin(), sin(x), "sin");
  expect_same(x.cos(), cos(x), "cos");
  expect_same(x.tanh(), tanh(x), "tanh");
  expect_same(x.sigmoid(), sigmoid(x), "sigmoid");
  expect_same(x.silu(), silu(x), "silu");
  expect_same(x.clamp(0.3, 0.7), clamp(x, 0.3, 0.7), "clamp");
  expect_same(x.clamp(std::nullopt, 0.5), clamp(x, std::nullopt, 0.5), "clamp hi");
  expect_same(x.var({1}), var(x, {1}), "var");
  expect_same(x.var({0}, 0, true), var(x, {0}, 0, true), "var population keepdim");
  expect_same(x.amax({1}), amax(x, {1}), "amax");
  expect_same(x.amin(), amin(x), "amin");
  expect_same(x.argmax(1), argmax(x, 1), "argmax");
  expect_same(x.argmax(), argmax(x), "argmax flat");
  expect_same(x.softmax(0), softmax(x, 0), "softmax");
  expect_same(x.log_softmax(), log_softmax(x), "log_softmax");
}

TEST(TensorMethods, ChainAndDifferentiate) {
  manual_seed(4);
  Tensor x = Tensor::randn({4, 3}).requires_grad_();
  Tensor loss = x.square().mean({1}).sum();  // d/dx = 2x / 3
  loss.backward();
  EXPECT_TRUE(test::all_close(x.grad(), x.detach() * (2.0 / 3.0)));
}

}  // namespace
}  // namespace ember

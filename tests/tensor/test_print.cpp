// Printing: PyTorch-like layout for floats, integers, scalars, big tensors.
#include <gtest/gtest.h>

#include "autograd/ops.h"

namespace ember {
namespace {

TEST(Print, MatrixOfFloats) {
  Tensor t = Tensor::from_vector(std::vector<float>{0.1f, -2.f, 3.25f, 4.f}, {2, 2});
  EXPECT_EQ(t.str(), "tensor([[ 0.1000, -2.0000],\n        [ 3.2500,  4.0000]])");
}

TEST(Print, IntegersScalarsAndDtype) {
  EXPECT_EQ(Tensor::arange(0, 4, 1, {.dtype = DType::i64}).str(), "tensor([0, 1, 2, 3])");
  EXPECT_EQ(Tensor::ones({2}, {.dtype = DType::f64}).str(), "tensor([1., 1.], dtype=f64)");
  EXPECT_EQ(Tensor::scalar(2.5).str(), "tensor(2.5000)");
  Tensor g = Tensor::zeros({1});
  g.requires_grad_();
  EXPECT_EQ(g.str(), "tensor([0.], requires_grad=true)");
}

TEST(Print, LargeTensorsAreSummarised) {
  std::string s = Tensor::arange(0, 2000, 1, {.dtype = DType::i64}).str();
  EXPECT_EQ(s, "tensor([   0,    1,    2, ..., 1997, 1998, 1999])");
}

TEST(Print, NonContiguousViewsPrintInLogicalOrder) {
  Tensor t = Tensor::arange(0, 6, 1, {.dtype = DType::i64}).reshape({2, 3}).t();
  EXPECT_EQ(t.str(), "tensor([[0, 3],\n        [1, 4],\n        [2, 5]])");
}

}  // namespace
}  // namespace ember

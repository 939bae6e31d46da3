// CUDA softmax / log_softmax (forward + backward) and fused cross-entropy vs CPU.
// Rows x D: 1x1, prime widths, 4099 (block stride loop), 33000 (large row); extreme logits (+-80)
// for the max subtraction; masked -inf entries; label smoothing and ignore_index.
// Tolerance f32: rtol 1e-5 / atol 1e-6 (outputs), grads 1e-5 / 1e-6; CE loss rtol 1e-5.
#include <gtest/gtest.h>

#include "tests/cuda/cuda_harness.h"

namespace ember {
namespace {
using test::gpu;
using test::gpu_matches_cpu;
using test::Tol;
using V = std::vector<Tensor>;

TEST(CudaSoftmax, SoftmaxAndLogSoftmax) {
  EMBER_REQUIRE_CUDA();
  for (const Shape& s : {Shape{1, 1}, Shape{7, 13}, Shape{3, 5, 31}, Shape{5, 4099}, Shape{2, 33000}, Shape{1000, 10}}) {
    Tensor x = test::randu(s, 31, -80, 80);
    EXPECT_TRUE(gpu_matches_cpu([](const V& in) { return softmax(in[0], -1); }, {x}, Tol{1e-5, 1e-6}, Tol{1e-5, 1e-6}))
        << shape_str(s);
    EXPECT_TRUE(gpu_matches_cpu([](const V& in) { return log_softmax(in[0], -1); }, {x}, Tol{1e-5, 1e-5},
                                Tol{1e-5, 1e-5}))
        << shape_str(s);
  }
  // Softmax over a non-last dim (the op layer moves it last) and in f64.
  Tensor y = test::randu({6, 9, 4}, 32, -3, 3, DType::f64);
  EXPECT_TRUE(gpu_matches_cpu([](const V& in) { return softmax(in[0], 1); }, {y}, Tol{1e-12, 1e-14}, Tol{1e-12, 1e-14}));
}

TEST(CudaSoftmax, MaskedRows) {
  EMBER_REQUIRE_CUDA();
  Tensor x = test::randu({4, 9}, 33);
  Tensor mask = gt(test::randu({4, 9}, 34), Tensor::zeros({1}));
  for (int64_t r = 0; r < 4; ++r) mask.data<uint8_t>()[r * 9] = 1;  // every row keeps one entry
  Tensor drop = eq(mask, Tensor::zeros({1}, {.dtype = DType::u8}));
  EXPECT_TRUE(gpu_matches_cpu(
      [&](const V& in) { return softmax(masked_fill(in[0], in[0].device().is_cuda() ? gpu(drop) : drop, -INFINITY), -1); },
      {x}));
}

TEST(CudaSoftmax, CrossEntropyForwardAndBackward) {
  EMBER_REQUIRE_CUDA();
  for (int64_t c : {1, 10, 257, 5003})
    for (double eps : {0.0, 0.1})
      for (Reduction red : {Reduction::mean, Reduction::sum, Reduction::none}) {
        const int64_t n = 37;
        Tensor logits = test::randu({n, c}, 35, -10, 10);
        Tensor target = test::randi({n}, 36, 0, c);
        target.data<int64_t>()[3] = -100;  // ignored row
        CrossEntropyOptions o{.ignore_index = -100, .label_smoothing = eps, .reduction = red};
        EXPECT_TRUE(gpu_matches_cpu(
            [&](const V& in) { return cross_entropy(in[0], in[0].device().is_cuda() ? gpu(target) : target, o); },
            {logits}, Tol{1e-5, 1e-5}, Tol{1e-5, 1e-6}))
            << "C=" << c << " eps=" << eps;
      }
}

}  // namespace
}  // namespace ember

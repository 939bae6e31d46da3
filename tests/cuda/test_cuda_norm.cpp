// CUDA layer norm / RMS norm (forward, grad_x, grad_weight, grad_bias) vs CPU, plus the composite
// batch and group norms that run on the GPU through reductions and elementwise kernels.
// Widths 1, 7, 31, 1000, 4099; rows up to 4097 (the column-sum partials split rows into chunks).
// Tolerance f32: outputs rtol 1e-4 / atol 1e-5; grads rtol 1e-4 / atol 1e-4 (row and column sums).
#include <gtest/gtest.h>

#include "tests/cuda/cuda_harness.h"

namespace ember {
namespace {
using test::gpu_matches_cpu;
using test::Tol;
using V = std::vector<Tensor>;

TEST(CudaNorm, LayerNormWithAndWithoutAffine) {
  EMBER_REQUIRE_CUDA();
  for (const auto& [n, d] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 7}, {17, 31}, {4097, 33}, {5, 4099}, {64, 1000}}) {
    Tensor x = test::randu({n, d}, 41, -3, 5), w = test::randu({d}, 42, 0.5, 1.5), b = test::randu({d}, 43);
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return layer_norm(in[0], {d}, in[1], in[2]); }, {x, w, b},
                                Tol{1e-4, 1e-5}, Tol{1e-4, 1e-4}))
        << n << "x" << d;
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return layer_norm(in[0], {d}); }, {x}, Tol{1e-4, 1e-5},
                                Tol{1e-4, 1e-4}))
        << n << "x" << d << " no affine";
  }
}

TEST(CudaNorm, RmsNorm) {
  EMBER_REQUIRE_CUDA();
  for (const auto& [n, d] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 7}, {2048, 256}, {5, 4099}}) {
    Tensor x = test::randu({n, d}, 44, -2, 2), w = test::randu({d}, 45, 0.5, 1.5);
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return rms_norm(in[0], in[1]); }, {x, w}, Tol{1e-4, 1e-5},
                                Tol{1e-4, 1e-4}))
        << n << "x" << d;
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return rms_norm(in[0]); }, {x}, Tol{1e-4, 1e-5}, Tol{1e-4, 1e-4}));
  }
  Tensor x = test::randu({9, 3, 11}, 46, -2, 2, DType::f64), w = test::randu({11}, 47, 0.5, 1.5, DType::f64);
  EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return rms_norm(in[0], in[1]); }, {x, w}, Tol{1e-12, 1e-12},
                              Tol{1e-11, 1e-11}));
}

TEST(CudaNorm, BatchAndGroupNormComposites) {
  EMBER_REQUIRE_CUDA();
  Tensor x = test::randu({8, 6, 5, 7}, 48, -2, 3), w = test::randu({6}, 49, 0.5, 1.5), b = test::randu({6}, 50);
  EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return batch_norm(in[0], {}, {}, in[1], in[2], true); }, {x, w, b},
                              Tol{1e-4, 1e-5}, Tol{1e-4, 1e-4}));
  EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return group_norm(in[0], 3, in[1], in[2]); }, {x, w, b},
                              Tol{1e-4, 1e-5}, Tol{1e-4, 1e-4}));
}

}  // namespace
}  // namespace ember

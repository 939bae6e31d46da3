// CUDA reductions vs CPU: sum/mean/amax/amin/prod/var over dim sets (inner, outer, mixed, all),
// the two-pass path (few outputs, long reductions), strided inputs, integer dtypes, argmax/argmin
// with ties and NaN, logsumexp. f32 sums are compared with an f64 CPU run (rtol 1e-5, atol 1e-4:
// the GPU's tree / blocked sums err by ~ eps sqrt(R) |partial|); max/min/arg exact.
#include <gtest/gtest.h>

#include "tests/cuda/cuda_harness.h"

namespace ember {
namespace {
using test::gpu;
using test::gpu_matches_cpu;
using test::Tol;
using V = std::vector<Tensor>;

TEST(CudaReduce, SumMeanOverDimSets) {
  EMBER_REQUIRE_CUDA();
  const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
      {{1}, {}},          {{7}, {0}},           {{1000003}, {}},       {{37, 53}, {1}},     {{37, 53}, {0}},
      {{5, 7, 11}, {0, 2}}, {{5, 7, 11}, {1}},  {{3, 1, 4097}, {2}},   {{2, 3, 4, 5}, {1, 3}}, {{64, 3000}, {0}},
      {{3, 70000}, {1}},  {{70001, 3}, {0}},  {{2, 5, 3, 7}, {0, 1, 2, 3}}};
  for (const auto& [shape, dims] : cases) {
    Tensor x = test::randu(shape, 21);
    // Sums against an f64 CPU run: the GPU's tree sum is far closer to it than an f32 serial sum.
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return sum(in[0], dims); }, {x}, Tol{1e-5, 1e-4}, {}, true, true))
        << "sum " << shape_str(shape);
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return mean(in[0], dims, true); }, {x}, Tol{1e-5, 1e-6}, {}, true,
                                true))
        << "mean " << shape_str(shape);
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return amax(in[0], dims); }, {x}, Tol{0, 0}, Tol{0, 0}))
        << "amax " << shape_str(shape);
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return amin(in[0], dims); }, {x}, Tol{0, 0}, Tol{0, 0}))
        << "amin " << shape_str(shape);
  }
}

TEST(CudaReduce, StridedF64IntegerAndProd) {
  EMBER_REQUIRE_CUDA();
  Tensor x = test::randu({41, 23, 5}, 22, -1, 1, DType::f64);
  EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return sum(in[0].permute({2, 0, 1}), {1}); }, {x},
                              Tol{1e-12, 1e-12}));
  EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return var(in[0], {0, 2}); }, {x}, Tol{1e-12, 1e-12}));
  Tensor i = test::randi({1000, 7}, 23, -100, 100);
  EXPECT_TRUE(test::all_close(test::cpu(sum(gpu(i), {0})), sum(i, {0}), 0, 0));
  EXPECT_TRUE(test::all_close(test::cpu(amax(gpu(i), {1})), amax(i, {1}), 0, 0));
  Tensor p = test::randu({6, 9}, 24, 0.5, 1.5);
  Tensor gp = Tensor::empty({6, 1}, {.device = Device::cuda()}), cp = Tensor::empty({6, 1});
  backend_for(Device::cuda()).reduce(ReduceOp::prod, gpu(p), {1}, gp);
  backend_for(Device::cpu()).reduce(ReduceOp::prod, p, {1}, cp);
  EXPECT_TRUE(test::all_close(test::cpu(gp), cp, 1e-5, 1e-6));
  // Empty reduction fills the identity.
  EXPECT_TRUE(test::all_close(test::cpu(sum(Tensor::zeros({0, 3}, {.device = Device::cuda()}), {0})),
                              Tensor::zeros({3}), 0, 0));
}

TEST(CudaReduce, ArgMaxMinTiesAndNaN) {
  EMBER_REQUIRE_CUDA();
  for (const Shape& s : {Shape{1}, Shape{37, 53}, Shape{3, 4099}, Shape{1000, 3}}) {
    Tensor x = test::randu(s, 25) * 4.0;
    x = (x.to(DType::i64)).to(DType::f32);  // many ties: the first index must win
    for (int64_t d = 0; d < x.dim(); ++d) {
      EXPECT_TRUE(test::all_close(test::cpu(argmax(gpu(x), d)), argmax(x, d), 0, 0)) << shape_str(s) << " d" << d;
      EXPECT_TRUE(test::all_close(test::cpu(argmin(gpu(x), d, true)), argmin(x, d, true), 0, 0));
    }
  }
  Tensor n = Tensor::from_vector<float>({1, NAN, 7, NAN, 3, 9}, {2, 3});
  EXPECT_TRUE(test::all_close(test::cpu(argmax(gpu(n), 1)), argmax(n, 1), 0, 0));
  EXPECT_TRUE(test::all_close(test::cpu(amax(gpu(n), {1})), amax(n, {1}), 0, 0));
}

TEST(CudaReduce, LogSumExp) {
  EMBER_REQUIRE_CUDA();
  Tensor x = test::randu({17, 301}, 26, -20, 20);
  EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return logsumexp(in[0], {1}); }, {x}, Tol{1e-5, 1e-5}));
}

}  // namespace
}  // namespace ember

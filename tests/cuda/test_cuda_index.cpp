// CUDA indexing vs CPU: index_select (any dim, strided x), embedding forward + backward (index_add
// with repeated indices), gather and scatter_add (atomic and deterministic paths), i64 and u8 data.
// Tolerance f32: forward exact; accumulated grads rtol 1e-5 / atol 1e-5 (atomic order varies);
// the deterministic path must give bit-identical results run to run.
#include <gtest/gtest.h>

#include "tests/cuda/cuda_harness.h"

namespace ember {
namespace {
using test::gpu;
using test::gpu_matches_cpu;
using test::Tol;
using V = std::vector<Tensor>;

Tensor on(const Tensor& ref, const Tensor& t) { return ref.device().is_cuda() ? gpu(t) : t; }

TEST(CudaIndex, IndexSelectAndEmbedding) {
  EMBER_REQUIRE_CUDA();
  for (bool det : {false, true}) {
    cuda::set_deterministic(det);
    Tensor x = test::randu({11, 7, 5}, 61);
    for (int64_t dim = 0; dim < 3; ++dim) {
      Tensor idx = test::randi({13}, 62 + dim, 0, x.size(dim));  // repeats guaranteed (13 > size)
      EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return index_select(in[0], dim, on(in[0], idx)); }, {x},
                                  Tol{0, 0}, Tol{1e-5, 1e-5}))
          << "dim " << dim << " det " << det;
      Tensor idx_t = test::randi({13}, 80 + dim, 0, x.size(2 - dim));  // x.transpose(0, 2) is [5, 7, 11]
      EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return index_select(in[0].transpose(0, 2), dim, on(in[0], idx_t)); },
                                  {x}, Tol{0, 0}, Tol{1e-5, 1e-5}))
          << "strided x, dim " << dim;
    }
    Tensor table = test::randu({300, 33}, 65);
    Tensor tokens = test::randi({16, 129}, 66, 0, 300);
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return embedding(in[0], on(in[0], tokens)); }, {table}, Tol{0, 0},
                                Tol{1e-5, 1e-5}))
        << "embedding det " << det;
  }
  cuda::set_deterministic(false);
}

TEST(CudaIndex, GatherScatterAdd) {
  EMBER_REQUIRE_CUDA();
  for (bool det : {false, true}) {
    cuda::set_deterministic(det);
    Tensor x = test::randu({9, 6, 4}, 67);
    for (int64_t dim = 0; dim < 3; ++dim) {
      Shape is = {7, 5, 3};  // smaller than x off dim
      is[size_t(dim)] = 8;
      Tensor idx = test::randi(is, 68 + dim, 0, x.size(dim));
      EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return gather(in[0], dim, on(in[0], idx)); }, {x}, Tol{0, 0},
                                  Tol{1e-5, 1e-5}))
          << "gather dim " << dim;
      Tensor src = test::randu(is, 71 + dim);
      EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return scatter_add(in[0], dim, on(in[0], idx), in[1]); },
                                  {x, src}, Tol{1e-5, 1e-6}, Tol{1e-5, 1e-5}))
          << "scatter_add dim " << dim << " det " << det;
    }
  }
  cuda::set_deterministic(false);
}

TEST(CudaIndex, DeterministicPathIsReproducibleAndIntegerTypes) {
  EMBER_REQUIRE_CUDA();
  cuda::set_deterministic(true);
  Tensor table = gpu(Tensor::zeros({50, 64}));
  Tensor idx = gpu(test::randi({5000}, 74, 0, 50));
  Tensor src = gpu(test::randu({5000, 64}, 75));
  Tensor a = table.clone(), b = table.clone();
  backend_for(Device::cuda()).index_add(a, 0, idx, src);
  backend_for(Device::cuda()).index_add(b, 0, idx, src);
  EXPECT_TRUE(test::all_close(test::cpu(a), test::cpu(b), 0, 0));
  cuda::set_deterministic(false);
  Tensor xi = test::randi({20, 3}, 76, -9, 9), ii = test::randi({10}, 77, 0, 20);
  EXPECT_TRUE(test::all_close(test::cpu(index_select(gpu(xi), 0, gpu(ii))), index_select(xi, 0, ii), 0, 0));
  Tensor xu = xi.abs().to(DType::u8);
  EXPECT_TRUE(test::all_close(test::cpu(index_select(gpu(xu), 0, gpu(ii))), index_select(xu, 0, ii), 0, 0));
  Tensor g = test::randi({6, 3}, 78, 0, 20);
  EXPECT_TRUE(test::all_close(test::cpu(gather(gpu(xi), 0, gpu(g))), gather(xi, 0, g), 0, 0));
  Tensor sc = test::randi({6, 3}, 79, -5, 5);
  EXPECT_TRUE(test::all_close(test::cpu(scatter_add(gpu(xi), 0, gpu(g), gpu(sc))), scatter_add(xi, 0, g, sc), 0, 0));
}

}  // namespace
}  // namespace ember

// CUDA Philox fills give the CPU backend's numbers for the same (seed, offset): uniform bit-exact
// (f32 and f64), integers exact, normals within 1e-6 relative (Box-Muller goes through log and
// cos, whose last-ulp rounding may differ between CUDA's and the host's libm). Also checks that the
// default generator advances identically and that dropout masks agree across devices.
#include <gtest/gtest.h>

#include "tests/cuda/cuda_harness.h"

namespace ember {
namespace {

TEST(CudaRandom, SameStreamsAsCpu) {
  EMBER_REQUIRE_CUDA();
  Backend& cpu = backend_for(Device::cpu());
  Backend& gpu = backend_for(Device::cuda());
  for (int64_t n : {1, 3, 4, 5, 1001, 1 << 20})
    for (DType dt : {DType::f32, DType::f64}) {
      const uint64_t seed = 1234 + n, offset = 77;
      Tensor c = Tensor::empty({n}, {.dtype = dt}), g = Tensor::empty({n}, {.dtype = dt, .device = Device::cuda()});
      cpu.random_uniform(c, -2, 3, seed, offset);
      gpu.random_uniform(g, -2, 3, seed, offset);
      EXPECT_TRUE(test::all_close(test::cpu(g), c, 0, 0)) << "uniform n=" << n << " " << dtype_name(dt);
      cpu.random_normal(c, 0.5, 2, seed, offset);
      gpu.random_normal(g, 0.5, 2, seed, offset);
      EXPECT_TRUE(test::all_close(test::cpu(g), c, 1e-6, 1e-6)) << "normal n=" << n << " " << dtype_name(dt);
    }
  for (DType dt : {DType::i64, DType::i32, DType::u8}) {
    Tensor c = Tensor::empty({4099}, {.dtype = dt}), g = Tensor::empty({4099}, {.dtype = dt, .device = Device::cuda()});
    cpu.random_int(c, 3, 250, 99, 5);
    gpu.random_int(g, 3, 250, 99, 5);
    EXPECT_TRUE(test::all_close(test::cpu(g), c, 0, 0)) << dtype_name(dt);
  }
}

TEST(CudaRandom, GeneratorAndDropoutMatch) {
  EMBER_REQUIRE_CUDA();
  Generator a(7), b(7);
  Tensor c = Tensor::randn({333, 3}, {}, &a);
  Tensor g = Tensor::randn({333, 3}, {.device = Device::cuda()}, &b);
  EXPECT_TRUE(test::all_close(test::cpu(g), c, 1e-6, 1e-6));
  EXPECT_EQ(a.offset(), b.offset());
  Tensor x = Tensor::ones({1000});
  Generator d1(9), d2(9);
  Tensor yc = dropout(x, 0.3, true, &d1);
  Tensor yg = dropout(test::gpu(x), 0.3, true, &d2);
  EXPECT_TRUE(test::all_close(test::cpu(yg), yc, 1e-6, 0));
}

}  // namespace
}  // namespace ember

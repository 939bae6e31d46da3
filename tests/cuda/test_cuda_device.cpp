// CUDA device discovery, registration, copies between host and device (all dtypes, strided views,
// dtype conversion), the caching allocator's statistics and error reporting. Every test that
// needs a GPU skips (never passes) without one.
#include <gtest/gtest.h>

#include "tests/cuda/cuda_harness.h"

namespace ember {
namespace {
using test::cpu;
using test::gpu;

TEST(CudaDevice, CountIsZeroOrPositiveWithoutThrowing) {
  int n = cuda::device_count();
  EXPECT_GE(n, 0);
  if (n == 0) {
    EXPECT_TRUE(test::throws_with([] { cuda::device_name(0); }, {"cuda", "out of range"}));
  }
}

TEST(CudaDevice, NoDeviceGivesAClearError) {
  if (cuda::is_available()) GTEST_SKIP() << "a device is present; this checks the GPU-less path";
  EXPECT_TRUE(test::throws_with([] { Tensor::zeros({4}, {.device = Device::cuda()}); }, {"cuda", "no CUDA device"}));
  EXPECT_TRUE(test::throws_with([] { cuda::init(0); }, {"no CUDA device"}));
}

TEST(CudaDevice, AddMatchesCpu) {
  EMBER_REQUIRE_CUDA();
  Generator g(1);
  Tensor a = Tensor::rand({100003}, {}, &g), b = Tensor::rand({100003}, {}, &g);
  Tensor out = Tensor::empty({100003});
  cuda::add_f32_host(a.data<float>(), b.data<float>(), out.data<float>(), a.numel());
  EXPECT_TRUE(test::all_close(out, a + b, 0, 0));
  std::printf("device 0: %s\n", cuda::device_name(0).c_str());
}

TEST(CudaDevice, RoundTripEveryDtype) {
  EMBER_REQUIRE_CUDA();
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8}) {
    for (int64_t n : {1, 7, 4097, 1000003}) {
      Tensor x = test::randu({n}, 10 + n, 0, 200).to(dt);
      Tensor back = cpu(gpu(x));
      EXPECT_EQ(back.dtype(), dt);
      EXPECT_TRUE(test::all_close(back, x, 0, 0)) << dtype_name(dt) << " n=" << n;
    }
  }
}

TEST(CudaDevice, StridedAndConvertingCopies) {
  EMBER_REQUIRE_CUDA();
  Tensor x = test::randu({37, 53}, 3);
  // Host view (transposed, stepped slice) -> device, and device view -> host.
  Tensor view = x.t().slice(0, 1, 50, 3);
  EXPECT_TRUE(test::all_close(cpu(gpu(view)), view.contiguous(), 0, 0));
  Tensor dx = gpu(x);
  EXPECT_TRUE(test::all_close(cpu(dx.t().slice(0, 1, 50, 3)), view.contiguous(), 0, 0));
  // dtype conversion on the device side, both directions and device to device.
  EXPECT_TRUE(test::all_close(cpu(to_dtype(dx, DType::f64)), x.to(DType::f64), 0, 0));
  Tensor xi = test::randi({1000}, 4, -50, 50);
  EXPECT_TRUE(test::all_close(cpu(to_dtype(gpu(xi), DType::f32)), xi.to(DType::f32), 0, 0));
  Tensor host_f64 = Tensor::empty({37, 53}, {.dtype = DType::f64});
  backend_for(Device::cuda()).copy(dx, host_f64);
  EXPECT_TRUE(test::all_close(host_f64, x.to(DType::f64), 0, 0));
  // Copy into a strided device destination.
  Tensor dst = Tensor::zeros({53, 37}, {.device = Device::cuda()});
  backend_for(Device::cuda()).copy(dx, dst.t());
  EXPECT_TRUE(test::all_close(cpu(dst), x.t().contiguous(), 0, 0));
  // Broadcast (zero-stride) source.
  Tensor row = test::randu({1, 53}, 5);
  Tensor wide = Tensor::empty({37, 53}, {.device = Device::cuda()});
  backend_for(Device::cuda()).copy(gpu(row).expand({37, 53}), wide);
  EXPECT_TRUE(test::all_close(cpu(wide), row.expand({37, 53}).contiguous(), 0, 0));
}

TEST(CudaDevice, FillAndCreationOnDevice) {
  EMBER_REQUIRE_CUDA();
  const TensorOptions o{.device = Device::cuda()};
  EXPECT_TRUE(test::all_close(cpu(Tensor::full({3, 5}, 2.5, o)), Tensor::full({3, 5}, 2.5), 0, 0));
  EXPECT_TRUE(test::all_close(cpu(Tensor::arange(0, 17, 1, o)), Tensor::arange(0, 17), 0, 0));
  EXPECT_DOUBLE_EQ(Tensor::full({}, 3.25, o).item(), 3.25);
  Tensor z = Tensor::ones({10, 10}, o);
  backend_for(Device::cuda()).fill(z.slice(1, 0, 10, 2), 0.0);  // strided fill
  EXPECT_TRUE(test::all_close(cpu(z).sum(), std::vector<double>{50}, 0, 0));
}

TEST(CudaDevice, CachingAllocatorReusesBlocks) {
  EMBER_REQUIRE_CUDA();
  cuda::synchronize();
  cuda::reset_peak_memory();
  const auto before = cuda::memory_stats();
  for (int step = 0; step < 3; ++step) {  // a "training step" of same-sized temporaries
    Tensor a = Tensor::ones({1 << 20}, {.device = Device::cuda()});
    Tensor b = a * 2.0 + 1.0;
    EXPECT_DOUBLE_EQ(sum(b).item(), 3.0 * (1 << 20));
  }
  const auto warm = cuda::memory_stats();
  for (int step = 0; step < 5; ++step) {
    Tensor a = Tensor::ones({1 << 20}, {.device = Device::cuda()});
    Tensor b = a * 2.0 + 1.0;
    (void)b;
  }
  const auto after = cuda::memory_stats();
  EXPECT_EQ(after.system_allocs, warm.system_allocs) << "steady state must not call cudaMalloc";
  EXPECT_GT(after.requests, warm.requests);
  EXPECT_EQ(after.allocated, before.allocated);
  EXPECT_GE(after.peak_allocated, size_t(2) * (4u << 20));
  EXPECT_GE(after.reserved, after.allocated);
  cuda::empty_cache();
  EXPECT_EQ(cuda::memory_stats().reserved, cuda::memory_stats().allocated);
}

TEST(CudaDevice, ErrorsNameTheCall) {
  EMBER_REQUIRE_CUDA();
  EXPECT_TRUE(test::throws_with([] { cuda::init(1000); }, {"cuda", "out of range"}));
  EXPECT_TRUE(test::throws_with([] { Tensor::empty({int64_t(1) << 46}, {.device = Device::cuda()}); },
                                {"cuda allocator", "cudaMalloc"}));
  EXPECT_TRUE(test::throws_with([] { cuda::parse_gemm_impl("fast"); }, {"EMBER_GEMM=fast"}));
  // Mixed devices are rejected by the op layer with both shapes.
  EXPECT_TRUE(test::throws_with([] { add(Tensor::ones({2}), Tensor::ones({2}, {.device = Device::cuda()})); },
                                {"device mismatch"}));
}

}  // namespace
}  // namespace ember

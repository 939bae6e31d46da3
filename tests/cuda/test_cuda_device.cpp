// CUDA device discovery and the first kernel, checked against the CPU. Skips (never passes) when
// no GPU or no driver is present.
#include <gtest/gtest.h>

#include "autograd/ops.h"
#include "cuda/device.h"
#include "tests/common/expect_close.h"

#define EMBER_REQUIRE_CUDA()                                                    \
  do {                                                                          \
    if (!::ember::cuda::is_available()) GTEST_SKIP() << "no CUDA device/driver"; \
  } while (0)

namespace ember {
namespace {

TEST(CudaDevice, CountIsZeroOrPositiveWithoutThrowing) {
  int n = cuda::device_count();
  EXPECT_GE(n, 0);
  if (n == 0) {
    EXPECT_TRUE(test::throws_with([] { cuda::device_name(0); }, {"cuda", "out of range"}));
  }
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

}  // namespace
}  // namespace ember

// The backend-ops harness (tests/tensor/backend_ops.h) on the CUDA backend: every case of the
// table whose primitive the CUDA backend supports, in f32 and f64, against the f64 CPU reference,
// with guard values around every output. Skips without a GPU; runs on the CPU through the kernel
// emulator with `bash tests/cuda/emu/run.sh backend_ops` (ctest label cuda_emu, see
// tests/cuda/emu/CMakeLists.txt). EMBER_OPS_PERF=1 prints a rate per case.
#include "cuda/cuda.h"
#include "tensor/matmul_precision.h"
#include "tests/cuda/cuda_harness.h"
#include "tests/tensor/backend_ops_cases.h"

namespace ember {
namespace {
using namespace test::ops;

TEST(CudaBackendOps, SupportsMatchesTheList) {
  EMBER_REQUIRE_CUDA();
  Backend& be = backend_for(Device::cuda());
  EXPECT_FALSE(be.supports(Prim::gemm_epilogue));  // cuda column 0 in tensor/op_list.h
  EXPECT_TRUE(be.supports(Prim::conv2d_fwd));
  EXPECT_FALSE(be.gemm_epilogue(Tensor(), Tensor(), Tensor(), UnaryOp::identity, Tensor(), Tensor()));
}

TEST(CudaBackendOps, EveryCase) {
  EMBER_REQUIRE_CUDA();
  Backend& be = backend_for(Device::cuda());
  int ran = 0;
  for (const Case& c : all_cases()) {
    if (!be.supports(c.prim)) continue;
    for (const DType dt : c.dtypes) {
      run_case(c, be, dt, [] { cuda::synchronize(); });
      ++ran;
    }
  }
  EXPECT_GT(ran, 300);
}

// Both settings of the one precision switch reach the CUDA conv: highest runs the implicit-GEMM
// kernels, tf32 the lowering through the tensor-core GEMM (TF32 tolerance).
TEST(CudaBackendOps, ConvHonoursMatmulPrecision) {
  EMBER_REQUIRE_CUDA();
  Backend& be = backend_for(Device::cuda());
  for (const Case& c : all_cases()) {
    if (c.prim != Prim::conv2d_fwd) continue;
    MatmulPrecisionGuard guard(MatmulPrecision::tf32);
    Case loose = c;
    loose.tol = [](DType) { return Tol{5e-3, 5e-3}; };
    run_case(loose, be, DType::f32, [] { cuda::synchronize(); });
  }
}

}  // namespace
}  // namespace ember

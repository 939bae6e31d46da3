// Every primitive of tensor/op_list.h on the CPU backend, on every ISA path this machine runs
// (tests/tensor/cpu_isa_sweep.h), in f32 and f64, against the f64 reference of the harness
// (backend_ops.h; cases in backend_ops_cases.h). The CUDA backend runs the same table in
// tests/cuda/test_cuda_backend_ops.cpp. EMBER_OPS_PERF=1 also prints a rate per case.
#include <set>

#include "tensor/cpu/cpu_backend.h"
#include "tests/tensor/backend_ops_cases.h"
#include "tests/tensor/cpu_isa_sweep.h"

namespace ember {
namespace {
using namespace test::ops;

// The table covers the list: a primitive without a case fails here.
TEST(BackendOps, EveryPrimitiveHasACase) {
  std::set<int> covered;
  for (const Case& c : all_cases()) covered.insert(int(c.prim));
  for (size_t p = 0; p < kPrimCount; ++p)
    EXPECT_TRUE(covered.count(int(p))) << "primitive " << prim_name(Prim(p)) << " has no case in backend_ops_cases.h";
}

// Every unary op of the shared list is exercised (the loops in the table walk EMBER_UNARY_OPS).
TEST(BackendOps, EveryUnaryOpHasACase) {
  int n = 0;
  for (const Case& c : all_cases()) n += c.prim == Prim::unary;
  int ops = 0;
#define EMBER_X(name) ++ops;
  EMBER_UNARY_OPS(EMBER_X)
#undef EMBER_X
  EXPECT_EQ(n, 2 * ops);
}

TEST(BackendOps, CpuSupportsItsColumnAndUnsupportedThrows) {
  Backend& cpu = backend_for(Device::cpu());
  for (size_t p = 0; p < kPrimCount; ++p) EXPECT_TRUE(cpu.supports(Prim(p))) << prim_name(Prim(p));
  EXPECT_FALSE(cpu.supports(Prim(kPrimCount)));
  // A backend that implements nothing: required primitives throw naming themselves and the device.
  struct Bare final : Backend {
    Device device() const override { return Device::cuda(); }
    bool supports(Prim) const override { return false; }
  } bare;
  const Tensor t = Tensor::zeros({2});
  EXPECT_TRUE(test::throws_with([&] { bare.fill(t, 1); }, {"fill: not supported on cuda"}));
  EXPECT_TRUE(test::throws_with([&] { bare.conv2d_fwd(t, t, {}, t, false); }, {"conv2d_fwd: not supported on cuda"}));
  EXPECT_FALSE(bare.sdpa_fwd(t, t, t, false, 1, t, t));  // optional: declines
}

TEST(BackendOps, CpuEveryIsa) {
  Backend& be = backend_for(Device::cpu());
  const std::vector<Case> cases = all_cases();
  for (const cpu::Isa isa : test::cpu_isas()) {
    test::IsaScope scope(isa);
    SCOPED_TRACE(std::string("isa ") + std::string(cpu::isa_name(isa)));
    for (const Case& c : cases)
      for (const DType dt : c.dtypes) run_case(c, be, dt);
  }
}

}  // namespace
}  // namespace ember

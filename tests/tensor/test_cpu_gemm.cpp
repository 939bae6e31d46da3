// CPU GEMM against the scalar reference: awkward shapes, every transpose combination (through
// strides), batch broadcasting with zero strides, accumulate mode, each ISA path the machine
// supports, and sentinels around the output to catch out-of-bounds writes.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "tensor/cpu/cpu_features.h"
#include "tensor/cpu/ref/gemm.h"
#include "tests/common/expect_close.h"
#include "tests/tensor/cpu_isa_sweep.h"

namespace ember {
namespace {

struct Case {
  int64_t bt, m, n, k;
};

// A [bt, m, k] operand, optionally stored transposed ([bt, k, m] in memory viewed through strides).
Tensor operand(int64_t bt, int64_t rows, int64_t cols, bool transposed, Generator& g) {
  if (!transposed) return Tensor::rand({bt, rows, cols}, {}, &g) - 0.5;
  Tensor t = Tensor::rand({bt, cols, rows}, {}, &g) - 0.5;
  return t.as_strided({bt, rows, cols}, {rows * cols, 1, rows}, 0);
}

void check_case(const Case& c, bool ta, bool tb, bool accumulate) {
  Generator g(c.m * 131 + c.n * 17 + c.k);
  Tensor a = operand(c.bt, c.m, c.k, ta, g), b = operand(c.bt, c.k, c.n, tb, g);
  // Output sits between canaries: one buffer, the middle part is the real output.
  const int64_t guard = 64, size = c.bt * c.m * c.n;
  Tensor buf = Tensor::full({size + 2 * guard}, 12345.0);
  Tensor out = buf.as_strided({c.bt, c.m, c.n}, {c.m * c.n, c.n, 1}, guard);
  Tensor init = Tensor::rand({c.bt, c.m, c.n}, {}, &g);
  if (accumulate) out.copy_(init);
  backend_for(Device::cpu()).gemm(a, b, out, accumulate);
  Tensor ref = Tensor::empty({c.bt, c.m, c.n}, {.dtype = DType::f64});
  if (accumulate) ref.copy_(init);
  cpu::ref::gemm(a.to(DType::f64), b.to(DType::f64), ref, accumulate);
  // f32 rounding: each of the K products and partial sums (|terms| <= 0.25, partial sums a few
  // units) adds at most ~eps * |partial| — a worst-case bound of about K * 1.2e-7.
  double tol = 1.2e-7 * double(c.k + 1) + 1e-6;
  EXPECT_TRUE(test::all_close(out, ref, 1e-5, tol))
      << "bt=" << c.bt << " m=" << c.m << " n=" << c.n << " k=" << c.k << " ta=" << ta << " tb=" << tb
      << " acc=" << accumulate;
  auto v = buf.to_vector<float>();
  for (int64_t i = 0; i < guard; ++i) {
    ASSERT_EQ(v[size_t(i)], 12345.0f) << "canary before the output overwritten at " << i;
    ASSERT_EQ(v[size_t(size + guard + i)], 12345.0f) << "canary after the output overwritten at " << i;
  }
}

const Case kCases[] = {{1, 1, 1, 1},   {1, 7, 5, 3},     {2, 13, 31, 17},  {1, 127, 33, 65},
                       {3, 12, 32, 256}, {1, 97, 70, 150}, {1, 150, 7, 260}, {1, 1, 1000, 37},
                       {2, 64, 64, 0},   {1, 50, 16, 33},  {1, 173, 17, 301}, {1, 24, 10, 16}};

class GemmIsa : public ::testing::TestWithParam<cpu::Isa> {
 protected:
  void SetUp() override {
    if (static_cast<int>(GetParam()) > static_cast<int>(cpu::best_isa()))
      GTEST_SKIP() << "this CPU lacks " << cpu::isa_name(GetParam());
    saved_ = cpu::active_isa();
    cpu::set_isa(GetParam());
  }
  void TearDown() override {
    if (!IsSkipped()) cpu::set_isa(saved_);
  }
  cpu::Isa saved_ = cpu::Isa::scalar;
};

TEST_P(GemmIsa, MatchesReferenceForEveryTransposeCombination) {
  for (const Case& c : kCases)
    for (bool ta : {false, true})
      for (bool tb : {false, true}) check_case(c, ta, tb, false);
}

TEST_P(GemmIsa, AccumulateAddsIntoOutput) {
  check_case({1, 29, 45, 70}, false, true, true);
  check_case({2, 12, 32, 300}, true, false, true);
}

TEST_P(GemmIsa, LargeMultithreadedShape) {
  set_num_threads(2);
  // Above the 2 MFLOP threading threshold, several macro-tiles each; K = 300 spans two K blocks.
  check_case({1, 60, 70, 300}, false, false, false);
  check_case({1, 200, 40, 150}, true, true, false);
}

// Operands that are neither row- nor column-contiguous (every other element of a wider matrix).
TEST_P(GemmIsa, MatchesReferenceForGeneralStrides) {
  Generator g(5);
  for (const Case& c : {Case{1, 29, 40, 37}, Case{1, 31, 9, 18}}) {
    Tensor a = (Tensor::rand({1, c.m, 2 * c.k}, {}, &g) - 0.5).as_strided({1, c.m, c.k}, {2 * c.m * c.k, 2 * c.k, 2}, 0);
    Tensor b = (Tensor::rand({1, 3 * c.k, c.n}, {}, &g) - 0.5).as_strided({1, c.k, c.n}, {3 * c.k * c.n, 3 * c.n, 1}, 0);
    Tensor bt = (Tensor::rand({1, c.n, 2 * c.k}, {}, &g) - 0.5).as_strided({1, c.k, c.n}, {2 * c.k * c.n, 2, 2 * c.k}, 0);
    for (const Tensor& rhs : {b, bt}) {
      Tensor out = Tensor::empty({1, c.m, c.n}), ref = Tensor::empty({1, c.m, c.n}, {.dtype = DType::f64});
      backend_for(Device::cpu()).gemm(a, rhs, out, false);
      cpu::ref::gemm(a.to(DType::f64), rhs.to(DType::f64), ref, false);
      EXPECT_TRUE(test::all_close(out, ref, 1e-5, 1.2e-7 * double(c.k + 1) + 1e-6)) << c.m << "x" << c.n << "x" << c.k;
    }
  }
}

// out = act(a@b + bias) + residual against the f64 reference and the activation written out.
TEST_P(GemmIsa, FusedEpilogueMatchesComposite) {
  auto act_ref = [](UnaryOp op, double z) {
    switch (op) {
      case UnaryOp::relu: return z > 0 ? z : 0.0;
      case UnaryOp::silu: return z / (1 + std::exp(-z));
      case UnaryOp::gelu_erf: return 0.5 * z * (1 + std::erf(z / std::sqrt(2.0)));
      case UnaryOp::gelu_tanh: return 0.5 * z * (1 + std::tanh(std::sqrt(2 / M_PI) * (z + 0.044715 * z * z * z)));
      default: return z;
    }
  };
  Generator g(11);
  // 250 x 1000 output: rows go in several chunks of 96; 2 threads split it into tiles too.
  for (const Case& c : {Case{1, 7, 5, 3}, Case{2, 37, 45, 70}, Case{1, 250, 1000, 33}}) {
    Tensor a = operand(c.bt, c.m, c.k, false, g), b = operand(c.bt, c.k, c.n, true, g);
    Tensor bias = Tensor::rand({c.n}, {}, &g) - 0.5, res = Tensor::rand({c.bt, c.m, c.n}, {}, &g);
    Tensor prod = Tensor::empty({c.bt, c.m, c.n}, {.dtype = DType::f64});
    cpu::ref::gemm(a.to(DType::f64), b.to(DType::f64), prod, false);
    const auto pv = prod.to_vector<double>();
    const auto bv = bias.to_vector<float>(), rv = res.to_vector<float>();
    for (UnaryOp op : {UnaryOp::identity, UnaryOp::relu, UnaryOp::gelu_tanh, UnaryOp::gelu_erf, UnaryOp::silu}) {
      for (bool with_bias : {false, true}) {
        for (bool with_res : {false, true}) {
          Tensor out = Tensor::full({c.bt, c.m, c.n}, 7.0);
          ASSERT_TRUE(backend_for(Device::cpu()).gemm_epilogue(a, b, with_bias ? bias : Tensor(), op,
                                                               with_res ? res : Tensor(), out));
          std::vector<double> want(pv.size());
          for (size_t i = 0; i < pv.size(); ++i)
            want[i] = act_ref(op, pv[i] + (with_bias ? bv[i % size_t(c.n)] : 0.0)) + (with_res ? rv[i] : 0.0);
          const auto got = out.to_vector<float>();
          for (size_t i = 0; i < want.size(); ++i)
            ASSERT_NEAR(got[i], want[i], 1e-5 + 1e-5 * std::abs(want[i]))
                << "op " << int(op) << " bias " << with_bias << " res " << with_res << " at " << i << " of "
                << c.m << "x" << c.n;
        }
      }
    }
  }
  // Activations it does not fuse are declined, not computed wrongly.
  Tensor a = Tensor::rand({1, 3, 4}), b = Tensor::rand({1, 4, 5}), out = Tensor::empty({1, 3, 5});
  EXPECT_FALSE(backend_for(Device::cpu()).gemm_epilogue(a, b, Tensor(), UnaryOp::exp, Tensor(), out));
}

INSTANTIATE_TEST_SUITE_P(Cpu, GemmIsa, ::testing::Values(cpu::Isa::scalar, cpu::Isa::avx2, cpu::Isa::avx512),
                         [](const auto& info) { return std::string(cpu::isa_name(info.param)); });

TEST(Gemm, BroadcastBatchWithZeroStride) {
  Generator g(9);
  Tensor a = Tensor::rand({4, 9, 11}, {}, &g), w = Tensor::rand({11, 6}, {}, &g);
  Tensor b = w.as_strided({4, 11, 6}, {0, 6, 1}, 0);  // one matrix shared by every batch item
  Tensor out = Tensor::empty({4, 9, 6});
  backend_for(Device::cpu()).gemm(a, b, out, false);
  Tensor ref = Tensor::empty({4, 9, 6}, {.dtype = DType::f64});
  cpu::ref::gemm(a.to(DType::f64), b.to(DType::f64), ref, false);
  EXPECT_TRUE(test::all_close(out, ref, 1e-5, 1e-5));
}

TEST(Gemm, F64PathMatchesReference) {
  Generator g(4);
  Tensor a = Tensor::rand({2, 33, 47}, {.dtype = DType::f64}, &g), b = Tensor::rand({2, 47, 19}, {.dtype = DType::f64}, &g);
  Tensor out = Tensor::empty({2, 33, 19}, {.dtype = DType::f64}), ref = Tensor::empty({2, 33, 19}, {.dtype = DType::f64});
  backend_for(Device::cpu()).gemm(a, b, out, false);
  cpu::ref::gemm(a, b, ref, false);
  EXPECT_TRUE(test::all_close(out, ref, 1e-12, 1e-12));
}

// Outside review (clang UBSan): with few rows the driver reads row-major B in place and used to
// form `nullptr + offset` from its unallocated pack buffer. These shapes take that path on every
// ISA with tiles (small M, unit column stride, B a transposed or expanded view); the sanitized CI
// pass (clang) fails on the old code, and the values must match the reference everywhere.
TEST(Gemm, SmallMWithBReadInPlaceMatchesReference) {
  Generator g(9);
  for (cpu::Isa isa : test::cpu_isas()) {
    test::IsaScope scope(isa);
    for (int64_t m : {1, 3, 8}) {
      Tensor a = Tensor::rand({1, m, 37}, {}, &g);
      Tensor bt = Tensor::rand({1, 53, 37}, {}, &g).transpose(1, 2);  // [1, 37, 53], column stride 37
      Tensor row = Tensor::rand({1, 1, 53}, {}, &g).expand({1, 37, 53});  // stride 0 rows, column stride 1
      for (const Tensor& b : {bt.contiguous(), row}) {
        Tensor out = Tensor::empty({1, m, 53});
        backend_for(Device::cpu()).gemm(a, b, out, false);
        Tensor ref = Tensor::empty({1, m, 53}, {.dtype = DType::f64});
        cpu::ref::gemm(a.to(DType::f64), b.to(DType::f64), ref, false);
        EXPECT_TRUE(test::all_close(out, ref, 1e-5, 1e-5)) << "m " << m << " isa " << int(isa);
      }
    }
  }
}

}  // namespace
}  // namespace ember

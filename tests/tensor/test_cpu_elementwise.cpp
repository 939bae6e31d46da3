// CPU elementwise fast paths against formulas written out here: the cheap unary backward loops
// (relu, neg, identity, add_scalar, mul_scalar, square, leaky_relu) on contiguous and strided
// views, and copy from a broadcast row (conv's bias fill) into a guarded destination. Every ISA
// the machine runs.
#include <gtest/gtest.h>

#include <vector>

#include "tensor/backend.h"
#include "tests/common/expect_close.h"
#include "tests/tensor/cpu_isa_sweep.h"

namespace ember {
namespace {
using test::Guarded;

double derivative_times(UnaryOp op, double v, double g, double alpha) {
  switch (op) {
    case UnaryOp::relu: return v > 0 ? g : 0;
    case UnaryOp::neg: return -g;
    case UnaryOp::identity: case UnaryOp::add_scalar: return g;
    case UnaryOp::mul_scalar: return g * alpha;
    case UnaryOp::square: return g * 2 * v;
    case UnaryOp::leaky_relu: return v > 0 ? g : g * alpha;
    default: return 0;
  }
}

TEST(CpuElementwise, CheapUnaryBackwardMatchesFormula) {
  const UnaryOp ops[] = {UnaryOp::relu,       UnaryOp::neg,    UnaryOp::identity,  UnaryOp::add_scalar,
                         UnaryOp::mul_scalar, UnaryOp::square, UnaryOp::leaky_relu};
  Generator gen(31);
  for (const Shape& s : {Shape{1}, Shape{37}, Shape{5, 17}, Shape{3, 4, 33}})
    for (bool strided : {false, true}) {
      Tensor x = Tensor::randn(s, {}, &gen), g = Tensor::randn(s, {}, &gen);
      if (strided && s.size() >= 2) {  // same values, last two dims stored swapped
        x = x.transpose(-1, -2).contiguous().transpose(-1, -2);
        g = g.transpose(-1, -2).contiguous().transpose(-1, -2);
      }
      const std::vector<double> xv = x.to_vector<double>(), gv = g.to_vector<double>();
      for (UnaryOp op : ops) {
        const double alpha = -0.375;
        std::vector<double> want(xv.size());
        for (size_t i = 0; i < xv.size(); ++i) want[i] = derivative_times(op, xv[i], gv[i], alpha);
        for (cpu::Isa isa : test::cpu_isas()) {
          SCOPED_TRACE(shape_str(s) + " op " + std::to_string(int(op)) + (strided ? " strided " : " ") +
                       std::string(cpu::isa_name(isa)));
          test::IsaScope scope(isa);
          Guarded gi(s, DType::f32, 13);
          backend_for(Device::cpu()).unary_backward(op, x, g, gi.view, {.alpha = alpha});
          EXPECT_TRUE(gi.guards_intact(13));
          EXPECT_TRUE(test::all_close(gi.view, Tensor::from_vector(want, s, {.dtype = DType::f64}), 1e-6, 1e-7));
        }
      }
    }
}

TEST(CpuElementwise, CopyFromBroadcastRow) {
  Generator gen(32);
  const Tensor bias = Tensor::randn({5}, {}, &gen);
  const std::vector<float> b = bias.to_vector<float>();
  const Shape s{3, 5, 7, 9};
  Guarded out(s, DType::f32, 21);
  backend_for(Device::cpu()).copy(bias.as_strided(s, {0, 1, 0, 0}, 0), out.view);
  EXPECT_TRUE(out.guards_intact(21));
  const std::vector<float> v = out.view.to_vector<float>();
  for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(v[i], b[(i / 63) % 5]) << "at " << i;
}

}  // namespace
}  // namespace ember

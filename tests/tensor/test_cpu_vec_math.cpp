// The AVX2 transcendental rows (tensor/cpu/unary_avx2.cpp, vec_math_avx2.h) against libm in f64,
// forward and backward, over wide ranges, extremes (denormals, overflow thresholds), +-inf and nan,
// at lengths that are not multiples of the 8-lane vector and on strided views (scalar path).
// Each test runs with the ISA forced to AVX2 and skips where the CPU lacks it.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "autograd/ops.h"
#include "tensor/cpu/cpu_features.h"

namespace ember {
namespace {

double sigmoid_d(double x) { return 1 / (1 + std::exp(-x)); }
double fwd_ref(UnaryOp op, double x) {
  switch (op) {
    case UnaryOp::exp: return std::exp(x);
    case UnaryOp::log: return std::log(x);
    case UnaryOp::tanh: return std::tanh(x);
    case UnaryOp::sigmoid: return sigmoid_d(x);
    case UnaryOp::silu: return x * sigmoid_d(x);
    case UnaryOp::gelu_tanh: return 0.5 * x * (1 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
    case UnaryOp::gelu_erf: return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
    default: return x;
  }
}
double bwd_ref(UnaryOp op, double x) {  // f'(x)
  switch (op) {
    case UnaryOp::exp: return std::exp(x);
    case UnaryOp::log: return 1 / x;
    case UnaryOp::tanh: return 1 - std::tanh(x) * std::tanh(x);
    case UnaryOp::sigmoid: return sigmoid_d(x) * (1 - sigmoid_d(x));
    case UnaryOp::silu: return sigmoid_d(x) * (1 + x * (1 - sigmoid_d(x)));
    case UnaryOp::gelu_tanh: {
      const double c = 0.7978845608028654, u = c * (x + 0.044715 * x * x * x), t = std::tanh(u);
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
    }
    case UnaryOp::gelu_erf:
      return 0.5 * (1 + std::erf(x / std::sqrt(2.0))) + x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
    default: return 1;
  }
}

// Sample points: a dense sweep over [lo, hi] plus edge values; length 1000 + 3 (not a multiple of 8).
std::vector<float> samples(double lo, double hi) {
  std::vector<float> v;
  for (int i = 0; i < 1003; ++i) v.push_back(float(lo + (hi - lo) * i / 1002.0));
  for (float e : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-40f, 1.0f, -1.0f}) v.push_back(e);
  return v;
}

struct Range {
  UnaryOp op;
  double lo, hi, rtol, atol;  // |got - ref| <= atol + rtol |ref|
};

class VecMath : public ::testing::TestWithParam<Range> {
 protected:
  void SetUp() override {
    if (cpu::best_isa() == cpu::Isa::scalar) GTEST_SKIP() << "CPU lacks AVX2";
    prev_ = cpu::active_isa();
    cpu::set_isa(cpu::Isa::avx2);
  }
  void TearDown() override { cpu::set_isa(prev_); }
  cpu::Isa prev_ = cpu::Isa::scalar;
};

// ref is rounded to f32 first (values beyond FLT_MAX become inf, tiny ones denormal or 0).
void expect_near_ref(double got, double ref_d, double rtol, double atol, const std::string& what, float x) {
  const double ref = double(float(ref_d));
  if (std::isnan(ref)) {
    EXPECT_TRUE(std::isnan(got)) << what << " x=" << x << " got " << got << " want nan";
  } else if (std::isinf(ref)) {
    EXPECT_EQ(got, ref) << what << " x=" << x;
  } else {
    EXPECT_LE(std::fabs(got - ref), atol + rtol * std::fabs(ref)) << what << " x=" << x << " ref " << ref;
  }
}

TEST_P(VecMath, ForwardAndBackwardMatchLibm) {
  const Range r = GetParam();
  const std::vector<float> xs = samples(r.lo, r.hi);
  const int64_t n = int64_t(xs.size());
  Tensor x = Tensor::from_vector(xs, {n}), y = Tensor::empty({n}), g = Tensor::full({n}, 0.75), gx = Tensor::empty({n});
  Backend& be = backend_for(Device::cpu());
  be.unary(r.op, x, y, {});
  be.unary_backward(r.op, x, g, gx, {});
  const std::vector<float> yv = y.to_vector<float>(), gv = gx.to_vector<float>();
  for (int64_t i = 0; i < n; ++i) {
    const double xi = xs[size_t(i)];
    // The f32 input is exact; compare with the f64 function of it. Backward tolerance is looser:
    // its formula multiplies several rounded factors.
    expect_near_ref(yv[size_t(i)], fwd_ref(r.op, xi), r.rtol, r.atol, "forward", xs[size_t(i)]);
    if (r.op == UnaryOp::log && xi <= 0) continue;
    // Backward formulas like 1 - tanh^2 cancel in f32 (absolute error ~ f32 eps), and e^x overflows
    // before g e^x does: an absolute floor of 1e-7, and no check where the forward overflows.
    const double dref = 0.75 * bwd_ref(r.op, xi);
    if (std::isfinite(dref) && std::isfinite(float(fwd_ref(r.op, xi))))
      expect_near_ref(gv[size_t(i)], dref, 4 * r.rtol, std::max(4 * r.atol, 1e-7), "backward", xs[size_t(i)]);
  }
}

// f32 ulp is 2^-23 ~ 1.2e-7 relative: rtol 2.5e-7 is ~2 ulp. gelu_erf and erf-based values get an
// absolute floor from the erf approximation (~1.5e-7 absolute).
INSTANTIATE_TEST_SUITE_P(Ops, VecMath,
                         ::testing::Values(Range{UnaryOp::exp, -110, 90, 2.5e-7, 3e-45},
                                           Range{UnaryOp::exp, -5, 5, 2.5e-7, 0},
                                           Range{UnaryOp::log, 1e-6, 1e6, 2.5e-7, 1e-7},
                                           Range{UnaryOp::log, 0.5, 2, 2.5e-7, 1e-7},
                                           Range{UnaryOp::tanh, -12, 12, 3.6e-7, 1e-9},
                                           Range{UnaryOp::tanh, -1, 1, 3.6e-7, 1e-9},
                                           Range{UnaryOp::sigmoid, -100, 100, 3.6e-7, 1e-40},
                                           Range{UnaryOp::silu, -100, 100, 3.6e-7, 1e-38},
                                           Range{UnaryOp::gelu_tanh, -12, 12, 4e-7, 1e-8},
                                           Range{UnaryOp::gelu_erf, -12, 12, 4e-7, 4e-7}));

TEST(VecMathSpecial, InfinitiesAndNan) {
  if (cpu::best_isa() == cpu::Isa::scalar) GTEST_SKIP() << "CPU lacks AVX2";
  const cpu::Isa prev = cpu::active_isa();
  cpu::set_isa(cpu::Isa::avx2);
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> xs = {inf, -inf, nan, 89.0f, -104.0f, 88.7f, 1e-45f, -1e-45f, 3e38f};
  const int64_t n = int64_t(xs.size());
  Tensor x = Tensor::from_vector(xs, {n});
  Backend& be = backend_for(Device::cpu());
  for (UnaryOp op : {UnaryOp::exp, UnaryOp::log, UnaryOp::tanh, UnaryOp::sigmoid, UnaryOp::silu, UnaryOp::gelu_tanh,
                     UnaryOp::gelu_erf}) {
    Tensor y = Tensor::empty({n});
    be.unary(op, x, y, {});
    const std::vector<float> yv = y.to_vector<float>();
    for (int64_t i = 0; i < n; ++i) {
      const double ref = fwd_ref(op, xs[size_t(i)]);
      expect_near_ref(yv[size_t(i)], ref, 4e-7, 1e-38, "op " + std::to_string(int(op)), xs[size_t(i)]);
    }
  }
  cpu::set_isa(prev);
}

TEST(VecMathSpecial, StridedViewMatchesContiguous) {
  // A transposed view takes the strided (scalar libm) path; it must agree with the AVX2 rows.
  if (cpu::best_isa() == cpu::Isa::scalar) GTEST_SKIP() << "CPU lacks AVX2";
  const cpu::Isa prev = cpu::active_isa();
  cpu::set_isa(cpu::Isa::avx2);
  Generator g(5);
  Tensor base = Tensor::rand({37, 29}, {}, &g) * 8.0 - 4.0;
  Tensor strided = base.t(), dense = base.t().contiguous();
  for (UnaryOp op : {UnaryOp::exp, UnaryOp::tanh, UnaryOp::sigmoid, UnaryOp::silu, UnaryOp::gelu_tanh}) {
    Tensor a = Tensor::empty({29, 37}), b = Tensor::empty({29, 37});
    backend_for(Device::cpu()).unary(op, strided, a, {});
    backend_for(Device::cpu()).unary(op, dense, b, {});
    const std::vector<float> av = a.to_vector<float>(), bv = b.to_vector<float>();
    for (size_t i = 0; i < av.size(); ++i)
      ASSERT_NEAR(av[i], bv[i], 1e-6 * (1 + std::fabs(bv[i]))) << "op " << int(op) << " at " << i;
  }
  cpu::set_isa(prev);
}

}  // namespace
}  // namespace ember

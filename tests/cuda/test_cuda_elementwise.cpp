// CUDA elementwise kernels vs the CPU backend: every unary op forward and backward, binary ops
// with broadcasting and strided views, comparisons, integer arithmetic, where.
// Sizes: 1, primes, 4097 (vector path + tail), 1000003 (large), plus non-contiguous views.
// Tolerance f32: rtol 1e-5, atol 1e-6 (GPU transcendentals are within a few ulp of libm; binary
// ops compare against an f64 CPU run because their broadcast gradients are 10^6-term sums);
// f64: rtol 1e-12; integer ops and comparisons exact.
#include <gtest/gtest.h>

#include "tests/cuda/cuda_harness.h"

namespace ember {
namespace {
using test::gpu;
using test::gpu_matches_cpu;
using test::Tol;
using V = std::vector<Tensor>;

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> f;
  double lo, hi;  // input range (away from kinks and poles)
};

std::vector<UnaryCase> unary_cases() {
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, -2, 2},
      {"exp", [](const Tensor& x) { return exp(x); }, -3, 3},
      {"log", [](const Tensor& x) { return log(x); }, 0.1, 4},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, 0.1, 4},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, 0.1, 4},
      {"abs", [](const Tensor& x) { return abs(x); }, -2, 2},
      {"sign", [](const Tensor& x) { return sign(x); }, -2, 2},
      {"tanh", [](const Tensor& x) { return tanh(x); }, -3, 3},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, -6, 6},
      {"relu", [](const Tensor& x) { return relu(x); }, -2, 2},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.07); }, -2, 2},
      {"gelu_erf", [](const Tensor& x) { return gelu(x); }, -3, 3},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApprox::tanh); }, -3, 3},
      {"silu", [](const Tensor& x) { return silu(x); }, -4, 4},
      {"square", [](const Tensor& x) { return square(x); }, -2, 2},
      {"sin", [](const Tensor& x) { return sin(x); }, -3, 3},
      {"cos", [](const Tensor& x) { return cos(x); }, -3, 3},
      {"clamp", [](const Tensor& x) { return clamp(x, -0.5, 0.7); }, -2, 2},
      {"pow_scalar", [](const Tensor& x) { return pow(x, 2.5); }, 0.1, 3},
      {"add_scalar", [](const Tensor& x) { return x + 1.75; }, -2, 2},
      {"mul_scalar", [](const Tensor& x) { return x * -3.5; }, -2, 2},
      {"reciprocal", [](const Tensor& x) { return 1.0 / x; }, 0.2, 3},
  };
}

TEST(CudaElementwise, UnaryForwardAndBackwardF32) {
  EMBER_REQUIRE_CUDA();
  for (const auto& c : unary_cases())
    for (int64_t n : {1, 37, 4097, 1000003}) {
      Tensor x = test::randu({n}, 7 + n, c.lo, c.hi);
      EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return c.f(in[0]); }, {x}, Tol{1e-5, 1e-6}, Tol{1e-5, 1e-6}))
          << c.name << " n=" << n;
    }
}

TEST(CudaElementwise, UnaryF64AndStridedInputs) {
  EMBER_REQUIRE_CUDA();
  for (const auto& c : unary_cases()) {
    Tensor x = test::randu({13, 29}, 3, c.lo, c.hi, DType::f64);
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return c.f(in[0]); }, {x}, Tol{1e-12, 1e-14}, Tol{1e-12, 1e-14}))
        << c.name << " f64";
    Tensor y = test::randu({31, 17}, 4, c.lo, c.hi);  // transposed and stepped views
    EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return c.f(in[0].t().slice(1, 1, 31, 2)); }, {y}))
        << c.name << " strided";
  }
}

TEST(CudaElementwise, BinaryBroadcastingForwardAndBackward) {
  EMBER_REQUIRE_CUDA();
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{1}, {1}}, {{4097}, {4097}}, {{7, 1, 5}, {1, 3, 5}}, {{1000003}, {1}}, {{5, 1}, {1, 131}}, {{2, 3, 4, 5, 6}, {6}}};
  const std::vector<std::pair<const char*, std::function<Tensor(const Tensor&, const Tensor&)>>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; }},
      {"pow", [](const Tensor& a, const Tensor& b) { return pow(a, b); }},
      {"maximum", [](const Tensor& a, const Tensor& b) { return maximum(a, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return minimum(a, b); }},
  };
  for (const auto& [sa, sb] : shapes)
    for (const auto& [name, f] : ops) {
      Tensor a = test::randu(sa, 11, 0.5, 2), b = test::randu(sb, 12, 0.5, 2);
      // f64 CPU reference: the broadcast gradients sum up to 10^6 terms.
      EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return f(in[0], in[1]); }, {a, b}, Tol{1e-5, 1e-6},
                                  Tol{1e-4, 1e-4}, true, true))
          << name << " " << shape_str(sa) << " " << shape_str(sb);
    }
}

TEST(CudaElementwise, ComparisonsWhereAndIntegers) {
  EMBER_REQUIRE_CUDA();
  Tensor a = test::randi({257, 3}, 1, -5, 5), b = test::randi({1, 3}, 2, -5, 5);
  for (auto f : {eq, ne, lt, le, gt, ge}) {
    Tensor got = test::cpu(f(gpu(a), gpu(b)));
    EXPECT_EQ(got.dtype(), DType::u8);
    EXPECT_TRUE(test::all_close(got, f(a, b), 0, 0));
  }
  // Integer arithmetic (division by zero yields 0 on both backends).
  EXPECT_TRUE(test::all_close(test::cpu(gpu(a) * gpu(b) + gpu(a)), a * b + a, 0, 0));
  {  // integer division is a backend primitive only (the op layer divides floats); by zero yields 0
    Tensor bb = b.expand(a.shape()), cq = Tensor::empty(a.shape(), {.dtype = DType::i64});
    Tensor gq = Tensor::empty(a.shape(), {.dtype = DType::i64, .device = Device::cuda()});
    backend_for(Device::cpu()).binary(BinaryOp::div, a, bb, cq);
    backend_for(Device::cuda()).binary(BinaryOp::div, gpu(a), gpu(b).expand(a.shape()), gq);
    EXPECT_TRUE(test::all_close(test::cpu(gq), cq, 0, 0));
  }
  EXPECT_TRUE(test::all_close(test::cpu(gpu(a.to(DType::i32)) - gpu(b.to(DType::i32))),
                              a.to(DType::i32) - b.to(DType::i32), 0, 0));
  // where with broadcast condition, forward and backward.
  Tensor x = test::randu({33, 65}, 5), y = test::randu({65}, 6);
  Tensor cond = gt(test::randu({33, 1}, 7), Tensor::zeros({1}));
  EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return where(in[0].device().is_cuda() ? gpu(cond) : cond, in[0], in[1]); },
                              {x, y}));
  EXPECT_TRUE(gpu_matches_cpu([&](const V& in) { return masked_fill(in[0], in[0].device().is_cuda() ? gpu(cond) : cond, -2.0); },
                              {x}));
}

TEST(CudaElementwise, InPlaceAndNaNPropagation) {
  EMBER_REQUIRE_CUDA();
  Tensor x = test::randu({1001}, 8);
  Tensor gx = gpu(x);
  gx.add_(gpu(x), 2.0);
  gx.mul_(0.5);
  EXPECT_TRUE(test::all_close(test::cpu(gx), (x + x * 2.0) * 0.5, 1e-6, 1e-7));
  Tensor n = Tensor::from_vector<float>({1.f, NAN, -2.f, 3.f}, {4});
  Tensor m = Tensor::from_vector<float>({NAN, 0.f, 5.f, -1.f}, {4});
  EXPECT_TRUE(test::all_close(test::cpu(maximum(gpu(n), gpu(m))), maximum(n, m), 0, 0));
  EXPECT_TRUE(test::all_close(test::cpu(minimum(gpu(n), gpu(m))), minimum(n, m), 0, 0));
}

}  // namespace
}  // namespace ember

// Elementwise ops: values against independently computed numbers, gradcheck for every
// differentiable op (f64), broadcasting with gradient reduction, comparisons, where/masked_fill.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "tests/common/expect_close.h"

namespace ember {
namespace {

using test::all_close;
using test::grad_ok;
using test::rand64;
using test::throws_with;

Tensor vec(std::vector<double> v, DType dt = DType::f32) {
  return Tensor::from_vector(v, {int64_t(v.size())}, {.dtype = dt});
}

// Values computed with Python's math module (math.erf, math.tanh, math.exp), e.g.
// gelu_erf(v) = 0.5*v*(1+math.erf(v/math.sqrt(2))).
TEST(Elementwise, ActivationValuesMatchPythonMath) {
  Tensor x = vec({-1.5, -0.2, 0.3, 2.0}, DType::f64);
  EXPECT_TRUE(all_close(gelu(x), {-0.10021080190328713, -0.0841480581121794, 0.18537342665668577, 1.9544997361036416}, 1e-12));
  EXPECT_TRUE(all_close(gelu(x, GeluApprox::tanh),
                        {-0.10042842301976707, -0.08414857021789374, 0.18537092354275922, 1.954597694087775}, 1e-12));
  EXPECT_TRUE(all_close(silu(x), {-0.2736382857095345, -0.09003320053750444, 0.1723327550434977, 1.7615941559557646}, 1e-12));
  EXPECT_TRUE(all_close(sigmoid(x), {0.18242552380635635, 0.45016600268752216, 0.574442516811659, 0.8807970779778823}, 1e-12));
  EXPECT_TRUE(all_close(leaky_relu(x, 0.1), {-0.15, -0.02, 0.3, 2.0}, 1e-12));
  EXPECT_TRUE(all_close(relu(x), {0, 0, 0.3, 2.0}));
  // hardswish(v) = v * min(max(v + 3, 0), 6) / 6
  EXPECT_TRUE(all_close(hardswish(vec({-4, -1.5, -0.2, 0.3, 2.0, 3.5}, DType::f64)),
                        {0, -0.375, -0.2 * 2.8 / 6, 0.3 * 3.3 / 6, 10.0 / 6, 3.5}, 1e-15));
  EXPECT_TRUE(all_close(clamp(x, -1.0, 1.0), {-1, -0.2, 0.3, 1}));
  EXPECT_TRUE(all_close(clamp(x, std::nullopt, 0.0), {-1.5, -0.2, 0, 0}));
  EXPECT_TRUE(all_close(abs(x), {1.5, 0.2, 0.3, 2.0}));
  // f32 agrees with f64 to f32 precision.
  EXPECT_TRUE(all_close(gelu(x.to(DType::f32)), gelu(x), 1e-6, 1e-7));
}

TEST(Elementwise, SigmoidIsStableForLargeInputs) {
  Tensor s = sigmoid(vec({-1000, 1000}));
  EXPECT_TRUE(all_close(s, {0, 1}));
}

using UnaryFn = Tensor (*)(const Tensor&);

struct UnaryCase {
  const char* name;
  std::function<Tensor(const Tensor&)> fn;
  double lo, hi;  // input range away from kinks and domain edges
};

TEST(Elementwise, GradcheckEveryUnaryOp) {
  const UnaryCase cases[] = {
      {"neg", [](const Tensor& x) { return neg(x); }, -2, 2},
      {"exp", [](const Tensor& x) { return exp(x); }, -2, 2},
      {"log", [](const Tensor& x) { return log(x); }, 0.2, 3},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, 0.2, 3},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, 0.2, 3},
      {"abs", [](const Tensor& x) { return abs(x); }, 0.1, 2},
      {"abs_neg", [](const Tensor& x) { return abs(x); }, -2, -0.1},
      {"square", [](const Tensor& x) { return square(x); }, -2, 2},
      {"sin", [](const Tensor& x) { return sin(x); }, -2, 2},
      {"cos", [](const Tensor& x) { return cos(x); }, -2, 2},
      {"tanh", [](const Tensor& x) { return tanh(x); }, -2, 2},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }, -4, 4},
      {"relu_pos", [](const Tensor& x) { return relu(x); }, 0.1, 2},
      {"relu_neg", [](const Tensor& x) { return relu(x); }, -2, -0.1},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.2) * 1.0; }, -2, -0.1},
      {"gelu_erf", [](const Tensor& x) { return gelu(x); }, -3, 3},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApprox::tanh); }, -3, 3},
      {"silu", [](const Tensor& x) { return silu(x); }, -3, 3},
      {"hardswish_mid", [](const Tensor& x) { return hardswish(x); }, -2.9, 2.9},
      {"hardswish_low", [](const Tensor& x) { return hardswish(x); }, -6, -3.1},
      {"hardswish_high", [](const Tensor& x) { return hardswish(x); }, 3.1, 6},
      {"clamp_inside", [](const Tensor& x) { return clamp(x, -5.0, 5.0); }, -2, 2},
      {"clamp_outside", [](const Tensor& x) { return clamp(x, -5.0, -3.0); }, -2, 2},
      {"pow_2.5", [](const Tensor& x) { return pow(x, 2.5); }, 0.2, 2},
      {"pow_-1", [](const Tensor& x) { return pow(x, -1.0); }, 0.2, 2},
      {"add_scalar", [](const Tensor& x) { return x + 3.0; }, -2, 2},
      {"rsub_scalar", [](const Tensor& x) { return 3.0 - x; }, -2, 2},
      {"mul_scalar", [](const Tensor& x) { return x * -1.5; }, -2, 2},
      {"rdiv_scalar", [](const Tensor& x) { return 2.0 / x; }, 0.5, 2},
  };
  for (const auto& c : cases) {
    Tensor x = rand64({3, 5}, 11, c.lo, c.hi);
    EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return c.fn(in[0]); }, {x})) << c.name;
  }
}

TEST(Elementwise, GradcheckBinaryOpsWithBroadcasting) {
  // a [2,1,4] with b [3,1]: both gradients must be summed back over the broadcast dims.
  Tensor a = rand64({2, 1, 4}, 1, 0.5, 2), b = rand64({3, 1}, 2, 0.5, 2);
  auto check = [&](const char* name, std::function<Tensor(const Tensor&, const Tensor&)> f) {
    EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return f(in[0], in[1]); }, {a, b})) << name;
  };
  check("add", [](const Tensor& x, const Tensor& y) { return x + y; });
  check("sub", [](const Tensor& x, const Tensor& y) { return x - y; });
  check("mul", [](const Tensor& x, const Tensor& y) { return x * y; });
  check("div", [](const Tensor& x, const Tensor& y) { return x / y; });
  check("pow", [](const Tensor& x, const Tensor& y) { return pow(x, y); });
  Tensor c = rand64({2, 3, 4}, 3, 0.5, 2);  // maximum/minimum away from ties
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return maximum(in[0], in[1]); }, {a, c}));
  EXPECT_TRUE(grad_ok([](const std::vector<Tensor>& in) { return minimum(in[0], in[1]); }, {a, c}));
}

TEST(Elementwise, BroadcastGradientIsSummed) {
  // y = a + b with a [2,3], b [3]: db = column sums of ones = 2 each.
  Tensor a = rand64({2, 3}, 4), b = rand64({3}, 5);
  (a + b).sum().backward();
  EXPECT_TRUE(all_close(b.grad(), {2, 2, 2}));
  EXPECT_EQ(a.grad().shape(), (Shape{2, 3}));
}

TEST(Elementwise, MaximumSplitsGradientOnTies) {
  Tensor a = Tensor::from_vector(std::vector<double>{1, 2}, {2}, {.dtype = DType::f64, .requires_grad = true});
  Tensor b = Tensor::from_vector(std::vector<double>{1, 3}, {2}, {.dtype = DType::f64, .requires_grad = true});
  maximum(a, b).sum().backward();
  EXPECT_TRUE(all_close(a.grad(), {0.5, 0}));
  EXPECT_TRUE(all_close(b.grad(), {0.5, 1}));
}

TEST(Elementwise, NonContiguousInputs) {
  Tensor x = Tensor::arange(0, 12).reshape({3, 4});
  Tensor t = x.t();  // [4,3], strides [1,4]
  Tensor y = t * Tensor::arange(0, 3);
  EXPECT_TRUE(all_close(y, {0, 4, 16, 0, 5, 18, 0, 6, 20, 0, 7, 22}));
  EXPECT_TRUE(all_close(exp(x.slice(1, 0, 4, 2)), exp(Tensor::from_vector(std::vector<float>{0, 2, 4, 6, 8, 10}, {3, 2}))));
}

TEST(Elementwise, ComparisonsReturnMasks) {
  Tensor a = vec({1, 2, 3}), b = vec({2, 2, 2});
  EXPECT_EQ(lt(a, b).dtype(), DType::u8);
  EXPECT_EQ(lt(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 0}));
  EXPECT_EQ(ge(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 1}));
  EXPECT_EQ(eq(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 1, 0}));
  EXPECT_EQ(ne(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 0, 1}));
  EXPECT_EQ(gt(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{0, 0, 1}));
  EXPECT_EQ(le(a, b).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 0}));
}

TEST(Elementwise, WhereAndMaskedFill) {
  Tensor cond = Tensor::from_vector(std::vector<uint8_t>{1, 0, 1}, {3}, {.dtype = DType::u8});
  Tensor a = rand64({2, 3}, 6), b = rand64({3}, 7);
  EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return where(cond, in[0], in[1]); }, {a, b}));
  Tensor y = where(cond, a, b);
  EXPECT_EQ(y.to_vector<double>()[1], b.to_vector<double>()[1]);
  EXPECT_TRUE(grad_ok([&](const std::vector<Tensor>& in) { return masked_fill(in[0], cond, -7.0); }, {a}));
  EXPECT_TRUE(all_close(masked_fill(vec({1, 2, 3}), cond, -7.0), {-7, 2, -7}));
  EXPECT_TRUE(throws_with([&] { where(a.detach(), a, b); }, {"where", "cond must be u8", "[2,3]"}));
}

TEST(Elementwise, ErrorsNameOpAndShapes) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 3});
  EXPECT_TRUE(throws_with([&] { a + b; }, {"add", "[2,3]", "[4,3]", "cannot be broadcast"}));
  EXPECT_TRUE(throws_with([&] { mul(a, Tensor::zeros({3}, {.dtype = DType::f64})); }, {"mul", "dtype mismatch"}));
  EXPECT_TRUE(throws_with([] { exp(Tensor::zeros({2}, {.dtype = DType::i64})); }, {"exp", "floating", "i64"}));
  EXPECT_TRUE(throws_with([&] { clamp(a, 2.0, 1.0); }, {"clamp", "greater than"}));
  EXPECT_TRUE(throws_with([&] { add(a, Tensor()); }, {"add", "undefined"}));
}

TEST(Elementwise, IntegerArithmetic) {
  Tensor a = Tensor::from_vector(std::vector<int64_t>{7, -3, 4}, {3}, {.dtype = DType::i64});
  Tensor b = Tensor::from_vector(std::vector<int64_t>{2, 2, 0}, {3}, {.dtype = DType::i64});
  EXPECT_EQ((a + b).to_vector<int64_t>(), (std::vector<int64_t>{9, -1, 4}));
  EXPECT_EQ((a * b).to_vector<int64_t>(), (std::vector<int64_t>{14, -6, 0}));
  EXPECT_EQ(neg(a).to_vector<int64_t>(), (std::vector<int64_t>{-7, 3, -4}));
}

TEST(Elementwise, LargeTensorUsesThreadsAndMatchesSingleThread) {
  Generator g(3);
  Tensor x = Tensor::randn({1 << 18}, {}, &g);
  set_num_threads(1);
  auto one = tanh(x).to_vector<float>();
  set_num_threads(2);
  auto two = tanh(x).to_vector<float>();
  EXPECT_EQ(one, two);
}

// Outside review (PyTorch comparison): d pow(a, b) / db was NaN where a == 0 (0 * log 0); PyTorch
// gives 0 there for b >= 0 (and 0 * -inf = NaN stays for b < 0, where a^b is inf anyway).
TEST(Elementwise, PowGradWrtExponentIsZeroWhereBaseIsZero) {
  Tensor a = Tensor::from_vector<double>({0.0, 0.0, 2.0}, {3}, {.dtype = DType::f64});
  Tensor b = Tensor::from_vector<double>({1.5, 0.0, 3.0}, {3}, {.dtype = DType::f64, .requires_grad = true});
  sum(pow(a, b)).backward();
  std::vector<double> g = b.grad().to_vector<double>();
  EXPECT_EQ(g[0], 0.0);
  EXPECT_EQ(g[1], 0.0);
  EXPECT_NEAR(g[2], 8.0 * std::log(2.0), 1e-12);  // a^b ln a
  // Broadcast exponent: a learnable scalar power of ReLU outputs.
  Tensor x = relu(Tensor::from_vector<float>({-1.f, 0.f, 2.f}, {3}));
  Tensor p = Tensor::full({1}, 2.0, {.requires_grad = true});
  sum(pow(x, p)).backward();
  EXPECT_NEAR(p.grad().item(), 4.0 * std::log(2.0), 1e-5);
}

}  // namespace
}  // namespace ember

// NaN propagation, as in PyTorch: every activation, pool and reduction given a NaN input yields NaN
// where that input contributes (relu(NaN) = NaN, max_pool2d / amax / argmax pick the NaN), on every
// ISA path this CPU runs (scalar, AVX2, AVX-512, forced as tests/tensor/cpu_isa_sweep.h does).
// Rows are long enough (37 elements) to reach both the vector body and the scalar tail.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>

#include "autograd/ops.h"
#include "tests/tensor/cpu_isa_sweep.h"

namespace ember {
namespace {

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// [2, 37] with one NaN at column `col` of row 0; the other values mix signs.
Tensor with_nan(int64_t col) {
  std::vector<float> v(74);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(int(i % 7) - 3) * 0.7f;
  v[size_t(col)] = kNaN;
  return Tensor::from_vector(v, {2, 37});
}

struct Case {
  const char* name;
  std::function<Tensor(const Tensor&)> f;
};

TEST(NanPropagation, ActivationsMapNanToNanOnEveryIsa) {
  const std::vector<Case> cases = {
      {"relu", [](const Tensor& x) { return relu(x); }},
      {"leaky_relu", [](const Tensor& x) { return leaky_relu(x, 0.1); }},
      {"gelu", [](const Tensor& x) { return gelu(x); }},
      {"gelu_tanh", [](const Tensor& x) { return gelu(x, GeluApprox::tanh); }},
      {"silu", [](const Tensor& x) { return silu(x); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); }},
      {"tanh", [](const Tensor& x) { return tanh(x); }},
      {"exp", [](const Tensor& x) { return exp(x); }},
      {"abs", [](const Tensor& x) { return abs(x); }},
      {"clamp", [](const Tensor& x) { return clamp(x, -1.0, 1.0); }},
      {"square", [](const Tensor& x) { return square(x); }},
      {"maximum", [](const Tensor& x) { return maximum(x, Tensor::zeros(x.shape(), x.options())); }},
      {"minimum", [](const Tensor& x) { return minimum(x, Tensor::zeros(x.shape(), x.options())); }},
  };
  for (cpu::Isa isa : test::cpu_isas()) {
    test::IsaScope scope(isa);
    for (int64_t col : {0, 20, 36}) {
      for (const Case& c : cases) {
        for (DType dt : {DType::f32, DType::f64}) {
          std::vector<double> y = c.f(with_nan(col).to(dt)).to_vector<double>();
          EXPECT_TRUE(std::isnan(y[size_t(col)])) << c.name << " " << dtype_name(dt) << " isa " << int(isa) << " col "
                                                  << col;
          for (size_t i = 0; i < y.size(); ++i) {
            if (int64_t(i) != col) {
              EXPECT_FALSE(std::isnan(y[i])) << c.name << " at " << i;
            }
          }
        }
      }
    }
  }
}

TEST(NanPropagation, LinearWithReluEpilogueKeepsNan) {
  // nn::Linear + ReLU: a NaN weight row must give NaN outputs, not a plausible 0.
  Tensor w = Tensor::ones({3, 37});
  w.data<float>()[37] = kNaN;  // row 1
  for (cpu::Isa isa : test::cpu_isas()) {
    test::IsaScope scope(isa);
    std::vector<float> y = relu(linear(Tensor::ones({4, 37}), w, Tensor::zeros({3}))).to_vector<float>();
    for (int r = 0; r < 4; ++r) {
      EXPECT_FALSE(std::isnan(y[size_t(r * 3)]));
      EXPECT_TRUE(std::isnan(y[size_t(r * 3 + 1)])) << "isa " << int(isa);
    }
  }
}

TEST(NanPropagation, ReductionsPickOrCarryNan) {
  for (cpu::Isa isa : test::cpu_isas()) {
    test::IsaScope scope(isa);
    for (int64_t col : {0, 17, 36}) {
      Tensor x = with_nan(col);
      for (const Case& c : std::vector<Case>{
               {"sum", [](const Tensor& t) { return sum(t, {1}); }},
               {"mean", [](const Tensor& t) { return mean(t, {1}); }},
               {"var", [](const Tensor& t) { return var(t, {1}); }},
               {"amax", [](const Tensor& t) { return amax(t, {1}); }},
               {"amin", [](const Tensor& t) { return amin(t, {1}); }},
               {"max", [](const Tensor& t) { return max(t, 1).values; }},
               {"logsumexp", [](const Tensor& t) { return logsumexp(t, {1}); }},
               {"amax_dim0", [](const Tensor& t) { return amax(t, {0}); }},
           }) {
        std::vector<float> y = c.f(x).to_vector<float>();
        size_t hit = c.name == std::string("amax_dim0") ? size_t(col) : 0;
        EXPECT_TRUE(std::isnan(y[hit])) << c.name << " isa " << int(isa) << " col " << col;
        EXPECT_FALSE(std::isnan(y[hit == 0 ? 1 : 0])) << c.name;
      }
      EXPECT_TRUE(std::isnan(sum(x).item()));
      EXPECT_TRUE(std::isnan(amax(x).item()));
      EXPECT_EQ(argmax(x, 1).to_vector<int64_t>()[0], col);  // PyTorch: argmax points at the NaN
      EXPECT_EQ(argmin(x, 1).to_vector<int64_t>()[0], col);
      std::vector<float> sm = softmax(x, 1).to_vector<float>();
      for (int i = 0; i < 37; ++i) EXPECT_TRUE(std::isnan(sm[size_t(i)])) << "softmax isa " << int(isa);
      EXPECT_FALSE(std::isnan(sm[40]));
    }
  }
}

TEST(NanPropagation, PoolsPickNan) {
  for (cpu::Isa isa : test::cpu_isas()) {
    test::IsaScope scope(isa);
    // [1, 2, 6, 34]: 2x2/stride 2 takes the vectorized plane kernels; 3x3/stride 1/pad 1 the generic loop.
    std::vector<float> v(size_t(2 * 6 * 34));
    for (size_t i = 0; i < v.size(); ++i) v[i] = float(i % 5) - 2.f;
    v[size_t(1 * 34 + 33)] = kNaN;  // row 1, col 33 of channel 0: output (0, 16) of the 2x2 pool
    Tensor x = Tensor::from_vector(v, {1, 2, 6, 34});
    auto mp = max_pool2d_with_indices(x, {.kernel_h = 2, .kernel_w = 2});
    std::vector<float> y = mp.values.to_vector<float>();
    EXPECT_TRUE(std::isnan(y[16])) << "max_pool2d 2x2 isa " << int(isa);
    EXPECT_EQ(mp.indices.to_vector<int64_t>()[16], 1 * 34 + 33);
    EXPECT_FALSE(std::isnan(y[15]));
    std::vector<float> y3 = max_pool2d(x, {.kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1,
                                           .pad_w = 1})
                                .to_vector<float>();
    EXPECT_TRUE(std::isnan(y3[33])) << "max_pool2d 3x3";
    EXPECT_TRUE(std::isnan(avg_pool2d(x).to_vector<float>()[16]));
    EXPECT_TRUE(std::isnan(adaptive_avg_pool2d(x, 1, 1).to_vector<float>()[0]));
    EXPECT_FALSE(std::isnan(adaptive_avg_pool2d(x, 1, 1).to_vector<float>()[1]));
  }
}

}  // namespace
}  // namespace ember

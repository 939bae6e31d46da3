#include "nn/init.h"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "autograd/grad_mode.h"
#include "tensor/error.h"

namespace ember::nn::init {
namespace {

void check_float(const Tensor& t, std::string_view fn) {
  check_defined(t, fn, "tensor");
  check_floating(t, fn);
}

// Inverse error function on (-1, 1): Giles' single-precision rational start ("Approximating the
// erfinv function", GPU Computing Gems), polished to double precision by two Newton steps.
double erfinv(double y) {
  if (y <= -1) return -INFINITY;
  if (y >= 1) return INFINITY;
  double w = -std::log((1.0 - y) * (1.0 + y)), x;
  if (w < 5.0) {
    w -= 2.5;
    double p = 2.81022636e-08;
    for (double c : {3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
                     -0.00417768164, 0.246640727, 1.50140941})
      p = c + p * w;
    x = p * y;
  } else {
    w = std::sqrt(w) - 3.0;
    double p = -0.000200214257;
    for (double c : {0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                     0.00943887047, 1.00167406, 2.83297682})
      p = c + p * w;
    x = p * y;
  }
  for (int i = 0; i < 2; ++i) x -= (std::erf(x) - y) / (2.0 / std::sqrt(std::numbers::pi) * std::exp(-x * x));
  return x;
}

double fan(const Tensor& t, FanMode mode) {
  auto [in, out] = fan_in_and_fan_out(t);
  return static_cast<double>(mode == FanMode::fan_in ? in : out);
}

}  // namespace

std::pair<int64_t, int64_t> fan_in_and_fan_out(const Tensor& t) {
  check_defined(t, "init", "tensor");
  EMBER_CHECK(t.dim() >= 2, "init: fan in/out need a tensor with at least 2 dims, got {}", shape_str(t.shape()));
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

double calculate_gain(Nonlinearity nl, double param) {
  switch (nl) {
    case Nonlinearity::linear:
    case Nonlinearity::sigmoid: return 1.0;
    case Nonlinearity::tanh: return 5.0 / 3.0;
    case Nonlinearity::relu: return std::sqrt(2.0);
    case Nonlinearity::leaky_relu: return std::sqrt(2.0 / (1.0 + param * param));
    case Nonlinearity::selu: return 0.75;
  }
  return 1.0;
}

Tensor& uniform_(Tensor& t, double lo, double hi, Generator* gen) {
  check_float(t, "init.uniform_");
  EMBER_CHECK(lo <= hi, "init.uniform_: low {} is above high {}", lo, hi);
  NoGradGuard no_grad;
  return t.uniform_(lo, hi, gen);
}

Tensor& normal_(Tensor& t, double mean, double std, Generator* gen) {
  check_float(t, "init.normal_");
  EMBER_CHECK(std >= 0, "init.normal_: std must be non-negative, got {}", std);
  NoGradGuard no_grad;
  return t.normal_(mean, std, gen);
}

Tensor& trunc_normal_(Tensor& t, double mean, double std, double a, double b, Generator* gen) {
  check_float(t, "init.trunc_normal_");
  EMBER_CHECK(std > 0 && a < b, "init.trunc_normal_: need std > 0 and a < b, got std {} a {} b {}", std, a, b);
  auto cdf = [](double x) { return 0.5 * (1.0 + std::erf(x / std::sqrt(2.0))); };
  const double lo = cdf((a - mean) / std), hi = cdf((b - mean) / std);
  std::vector<double> u = Tensor::rand(t.shape(), {.dtype = DType::f64}, gen).to_vector<double>();
  for (double& x : u) {
    const double p = lo + (hi - lo) * x;  // uniform in [cdf(a), cdf(b))
    x = std::clamp(mean + std * std::sqrt(2.0) * erfinv(2.0 * p - 1.0), a, b);
  }
  NoGradGuard no_grad;
  t.copy_(Tensor::from_vector(u, t.shape(), {.dtype = DType::f64}));
  return t;
}

Tensor& constant_(Tensor& t, double value) {
  check_float(t, "init.constant_");
  NoGradGuard no_grad;
  return t.fill_(value);
}
Tensor& zeros_(Tensor& t) { return constant_(t, 0.0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1.0); }

Tensor& xavier_uniform_(Tensor& t, double gain, Generator* gen) {
  auto [in, out] = fan_in_and_fan_out(t);
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(in + out));
  return uniform_(t, -bound, bound, gen);
}

Tensor& xavier_normal_(Tensor& t, double gain, Generator* gen) {
  auto [in, out] = fan_in_and_fan_out(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(in + out)), gen);
}

Tensor& kaiming_uniform_(Tensor& t, double a, FanMode mode, Nonlinearity nl, Generator* gen) {
  const double std = calculate_gain(nl, a) / std::sqrt(fan(t, mode));
  const double bound = std::sqrt(3.0) * std;
  return uniform_(t, -bound, bound, gen);
}

Tensor& kaiming_normal_(Tensor& t, double a, FanMode mode, Nonlinearity nl, Generator* gen) {
  return normal_(t, 0.0, calculate_gain(nl, a) / std::sqrt(fan(t, mode)), gen);
}

}  // namespace ember::nn::init

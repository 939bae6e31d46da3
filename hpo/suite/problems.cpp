#include "hpo/suite/problems.h"

#include <cmath>

#include "hpo/rng.h"

#include "tensor/error.h"

namespace ember::hpo::suite {

double branin(double x1, double x2) {
  const double b = 5.1 / (4.0 * M_PI * M_PI), c = 5.0 / M_PI, r = 6.0, s = 10.0, t = 1.0 / (8.0 * M_PI);
  const double a = x2 - b * x1 * x1 + c * x1 - r;
  return a * a + s * (1.0 - t) * std::cos(x1) + s;
}

double hartmann6(const std::array<double, 6>& x) {
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                 {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8},
                                 {17, 8, 0.05, 10, 0.1, 14}};
  static const double P[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                 {2329, 4135, 8307, 3736, 1004, 9991},
                                 {2348, 1451, 3522, 2883, 3047, 6650},
                                 {4047, 8828, 8732, 5743, 1091, 381}};
  double f = 0.0;
  for (int i = 0; i < 4; ++i) {
    double s = 0.0;
    for (int j = 0; j < 6; ++j) s += A[i][j] * (x[j] - 1e-4 * P[i][j]) * (x[j] - 1e-4 * P[i][j]);
    f -= alpha[i] * std::exp(-s);
  }
  return f;
}

double rosenbrock(const std::vector<double>& x) {
  double f = 0.0;
  for (size_t i = 0; i + 1 < x.size(); ++i)
    f += 100.0 * (x[i + 1] - x[i] * x[i]) * (x[i + 1] - x[i] * x[i]) + (1.0 - x[i]) * (1.0 - x[i]);
  return f;
}

double ackley(const std::vector<double>& x) {
  double sq = 0.0, cs = 0.0;
  for (double v : x) {
    sq += v * v;
    cs += std::cos(2.0 * M_PI * v);
  }
  const double n = static_cast<double>(x.size());
  return -20.0 * std::exp(-0.2 * std::sqrt(sq / n)) - std::exp(cs / n) + 20.0 + M_E;
}

double mixed(double lr, int64_t n, int cat) {
  static const double mu[4] = {-3.5, -2.5, -1.5, -4.0}, m[4] = {8, 23, 40, 55}, off[4] = {0.40, 0.0, 0.15, 0.80};
  const double u = std::log10(lr) - mu[cat], v = (static_cast<double>(n) - m[cat]) / 16.0;
  return off[cat] + 0.25 * u * u + v * v + 0.1 * (1.0 - std::cos(2.0 * M_PI * u)) + 0.05 * u * v;
}

double michalewicz(const std::vector<double>& x) {
  double f = 0.0;
  for (size_t i = 0; i < x.size(); ++i)
    f -= std::sin(x[i]) * std::pow(std::sin(double(i + 1) * x[i] * x[i] / M_PI), 20);
  return f;
}

double rastrigin(const std::vector<double>& x) {
  double f = 10.0 * double(x.size());
  for (double v : x) f += v * v - 10.0 * std::cos(2.0 * M_PI * v);
  return f;
}

// 418.98288727... = max of x sin(sqrt(x)) on [-500, 500] (at 420.968746), so f* = 0 exactly there.
double schwefel(const std::vector<double>& x) {
  static const double c = 420.9687463593 * std::sin(std::sqrt(420.9687463593));
  double f = c * double(x.size());
  for (double v : x) f -= v * std::sin(std::sqrt(std::abs(v)));
  return f;
}

double griewank(const std::vector<double>& x) {
  double s = 0.0, p = 1.0;
  for (size_t i = 0; i < x.size(); ++i) s += x[i] * x[i] / 4000.0, p *= std::cos(x[i] / std::sqrt(double(i + 1)));
  return 1.0 + s - p;
}

double camel6(double x1, double x2) {
  return (4.0 - 2.1 * x1 * x1 + x1 * x1 * x1 * x1 / 3.0) * x1 * x1 + x1 * x2 + (-4.0 + 4.0 * x2 * x2) * x2 * x2;
}

double hartmann3(const std::array<double, 3>& x) {
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  static const double A[4][3] = {{3, 10, 30}, {0.1, 10, 35}, {3, 10, 30}, {0.1, 10, 35}};
  static const double P[4][3] = {{3689, 1170, 2673}, {4699, 4387, 7470}, {1091, 8732, 5547}, {381, 5743, 8828}};
  double f = 0.0;
  for (int i = 0; i < 4; ++i) {
    double s = 0.0;
    for (int j = 0; j < 3; ++j) s += A[i][j] * (x[j] - 1e-4 * P[i][j]) * (x[j] - 1e-4 * P[i][j]);
    f -= alpha[i] * std::exp(-s);
  }
  return f;
}

double levy(const std::vector<double>& x) {
  auto w = [](double v) { return 1.0 + (v - 1.0) / 4.0; };
  const size_t d = x.size();
  const double s0 = std::sin(M_PI * w(x[0]));
  double f = s0 * s0;
  for (size_t i = 0; i + 1 < d; ++i) {
    const double wi = w(x[i]), s = std::sin(M_PI * wi + 1.0);
    f += (wi - 1.0) * (wi - 1.0) * (1.0 + 10.0 * s * s);
  }
  const double wd = w(x[d - 1]), s = std::sin(2.0 * M_PI * wd);
  return f + (wd - 1.0) * (wd - 1.0) * (1.0 + s * s);
}

double styblinski_tang(const std::vector<double>& x) {
  double f = 0.0;
  for (double v : x) f += 0.5 * (v * v * v * v - 16.0 * v * v + 5.0 * v);
  return f;
}

double lc4_final(const std::array<double, 4>& x) {
  static const double c[4] = {0.3, 0.7, 0.5, 0.2};
  double s = 0.0;
  for (int i = 0; i < 4; ++i) s += (x[i] - c[i]) * (x[i] - c[i]);
  return 0.05 + 0.9 * s / 4.0;
}

// tau = 3 + 40 x_1 with 0-based x_1 (HPO-SUITE.md: tau = 31 at the optimum, whose x_1 = 0.7).
double lc4_tau(const std::array<double, 4>& x) { return 3.0 + 40.0 * x[1]; }

double lc4_curve(const std::array<double, 4>& x, int t, double noise) {
  const double fin = lc4_final(x);
  return fin + (1.0 - fin) * std::exp(-static_cast<double>(t) / lc4_tau(x)) + noise;
}

namespace {

std::vector<Problem> build() {
  std::vector<Problem> ps;
  {
    Problem p{"branin", {}, nullptr, 0.397887357729739};
    p.space.add_float("x1", -5, 10).add_float("x2", 0, 15);
    p.f = [](const auto& v) { return branin(v.at("x1"), v.at("x2")); };
    ps.push_back(std::move(p));
  }
  {
    Problem p{"hartmann6", {}, nullptr, -3.32236801141551};
    for (int i = 0; i < 6; ++i) p.space.add_float(fmt::format("x{}", i), 0, 1);
    p.f = [](const auto& v) {
      std::array<double, 6> x;
      for (int i = 0; i < 6; ++i) x[i] = v.at(fmt::format("x{}", i));
      return hartmann6(x);
    };
    ps.push_back(std::move(p));
  }
  {
    Problem p{"rosenbrock4", {}, nullptr, 0.0};
    for (int i = 0; i < 4; ++i) p.space.add_float(fmt::format("x{}", i), -5, 10);
    p.f = [](const auto& v) {
      std::vector<double> x;
      for (int i = 0; i < 4; ++i) x.push_back(v.at(fmt::format("x{}", i)));
      return rosenbrock(x);
    };
    ps.push_back(std::move(p));
  }
  {
    Problem p{"ackley5", {}, nullptr, 0.0};
    for (int i = 0; i < 5; ++i) p.space.add_float(fmt::format("x{}", i), -32.768, 32.768);
    p.f = [](const auto& v) {
      std::vector<double> x;
      for (int i = 0; i < 5; ++i) x.push_back(v.at(fmt::format("x{}", i)));
      return ackley(x);
    };
    ps.push_back(std::move(p));
  }
  {
    Problem p{"mixed", {}, nullptr, 0.0};
    p.space.add_float("lr", 1e-5, 1, {.log = true}).add_int("n", 1, 64).add_categorical("cat", {"a", "b", "c", "d"});
    p.f = [](const auto& v) { return mixed(v.at("lr"), std::llround(v.at("n")), static_cast<int>(v.at("cat"))); };
    ps.push_back(std::move(p));
  }
  // ---- the generalization set ----
  auto vec = [](const auto& v, int d, const double* shift = nullptr) {
    std::vector<double> x;
    for (int i = 0; i < d; ++i) x.push_back(v.at(fmt::format("x{}", i)) - (shift ? shift[i] : 0.0));
    return x;
  };
  {
    Problem p{"michalewicz5", {}, nullptr, -4.687658179};
    for (int i = 0; i < 5; ++i) p.space.add_float(fmt::format("x{}", i), 0, M_PI);
    p.f = [vec](const auto& v) { return michalewicz(vec(v, 5)); };
    ps.push_back(std::move(p));
  }
  {
    Problem p{"rastrigin4", {}, nullptr, 0.0};
    for (int i = 0; i < 4; ++i) p.space.add_float(fmt::format("x{}", i), -5.12, 5.12);
    p.f = [vec](const auto& v) { return rastrigin(vec(v, 4, kRastriginShift.data())); };
    ps.push_back(std::move(p));
  }
  {
    Problem p{"schwefel4", {}, nullptr, 0.0};
    for (int i = 0; i < 4; ++i) p.space.add_float(fmt::format("x{}", i), -500, 500);
    p.f = [vec](const auto& v) { return schwefel(vec(v, 4)); };
    ps.push_back(std::move(p));
  }
  {
    Problem p{"griewank5", {}, nullptr, 0.0};
    for (int i = 0; i < 5; ++i) p.space.add_float(fmt::format("x{}", i), -100, 100);
    p.f = [vec](const auto& v) { return griewank(vec(v, 5, kGriewankShift.data())); };
    ps.push_back(std::move(p));
  }
  {
    Problem p{"camel6", {}, nullptr, -1.0316284534898774};
    p.space.add_float("x1", -3, 3).add_float("x2", -2, 2);
    p.f = [](const auto& v) { return camel6(v.at("x1"), v.at("x2")); };
    ps.push_back(std::move(p));
  }
  {
    Problem p{"hartmann3", {}, nullptr, -3.86278214782076};
    for (int i = 0; i < 3; ++i) p.space.add_float(fmt::format("x{}", i), 0, 1);
    p.f = [](const auto& v) { return hartmann3({v.at("x0"), v.at("x1"), v.at("x2")}); };
    ps.push_back(std::move(p));
  }
  {
    Problem p{"styblinski20", {}, nullptr, -39.16616570377142 * 20};
    for (int i = 0; i < 20; ++i) p.space.add_float(fmt::format("x{}", i), -5, 5);
    p.f = [vec](const auto& v) { return styblinski_tang(vec(v, 20)); };
    ps.push_back(std::move(p));
  }
  // Stop 18, for the GP's trust region (GpOptions::trust_region_dims): Levy and Rosenbrock in 10
  // and 20 dims (optimum at x = 1, off the box centre) and Ackley-20D shifted by kAckley20Shift.
  for (int dims : {10, 20}) {
    Problem l{fmt::format("levy{}", dims), {}, nullptr, 0.0};
    for (int i = 0; i < dims; ++i) l.space.add_float(fmt::format("x{}", i), -10, 10);
    l.f = [vec, dims](const auto& v) { return levy(vec(v, dims)); };
    ps.push_back(std::move(l));
    Problem r{fmt::format("rosenbrock{}", dims), {}, nullptr, 0.0};
    for (int i = 0; i < dims; ++i) r.space.add_float(fmt::format("x{}", i), -5, 10);
    r.f = [vec, dims](const auto& v) { return rosenbrock(vec(v, dims)); };
    ps.push_back(std::move(r));
  }
  {
    Problem p{"ackley20", {}, nullptr, 0.0};
    for (int i = 0; i < 20; ++i) p.space.add_float(fmt::format("x{}", i), -32.768, 32.768);
    p.f = [vec](const auto& v) { return ackley(vec(v, 20, kAckley20Shift.data())); };
    ps.push_back(std::move(p));
  }
  for (const auto& [id, sd] : {std::pair<const char*, double>{"branin", 1.0}, {"hartmann6", 0.1}}) {
    Problem p = ps[id == std::string("branin") ? 0 : 1];
    p.id += "-noisy";
    p.noise = sd;
    ps.push_back(std::move(p));
  }
  return ps;
}

}  // namespace

const std::vector<Problem>& problems() {
  static const std::vector<Problem> ps = build();
  return ps;
}

const Problem& problem(const std::string& id) {
  for (const auto& p : problems())
    if (p.id == id) return p;
  std::vector<std::string> ids;
  for (const auto& p : problems()) ids.push_back(p.id);
  EMBER_CHECK(false, "suite: unknown objective '{}' (expected one of {})", id, fmt::format("{}", fmt::join(ids, ", ")));
  return problems().front();
}

Objective objective(const Problem& p) {
  return [&p](Trial& trial) {
    const double f = p.f(p.space.suggest_all(trial));
    if (p.noise == 0) return f;
    Rng rng(mix_seed(stable_hash(p.id), uint64_t(trial.number()), 0x6e6f6973));
    return f + p.noise * rng.normal();
  };
}

}  // namespace ember::hpo::suite

// The HPO-SUITE.md problems at their stated optima (values copied from the suite table).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "hpo/rng.h"
#include "hpo/suite/problems.h"
#include "tensor/error.h"

using namespace ember::hpo::suite;

TEST(Suite, KnownOptima) {
  EXPECT_NEAR(branin(-M_PI, 12.275), 0.397887357729739, 1e-9);
  EXPECT_NEAR(branin(M_PI, 2.275), 0.397887357729739, 1e-9);
  EXPECT_NEAR(branin(9.42478, 2.475), 0.397887357729739, 1e-6);
  EXPECT_NEAR(hartmann6({0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573}), -3.32236801141551, 1e-5);
  EXPECT_DOUBLE_EQ(rosenbrock({1, 1, 1, 1}), 0.0);
  EXPECT_NEAR(ackley({0, 0, 0, 0, 0}), 0.0, 1e-12);
  EXPECT_NEAR(mixed(std::pow(10.0, -2.5), 23, 1), 0.0, 1e-12);
  EXPECT_NEAR(mixed(std::pow(10.0, -1.5), 40, 2), 0.15, 1e-12);
  EXPECT_NEAR(lc4_final({0.3, 0.7, 0.5, 0.2}), 0.05, 1e-15);
  EXPECT_DOUBLE_EQ(lc4_tau({0.3, 0.7, 0.5, 0.2}), 31.0);  // "the optimum converges slowly, tau = 31"
}

TEST(Suite, MixedBruteForceOptimumIsCategoryB) {
  double best = INFINITY;
  int best_cat = -1;
  for (int c = 0; c < 4; ++c)
    for (int n = 1; n <= 64; ++n)
      for (int i = 0; i <= 5000; ++i) {
        const double v = mixed(std::pow(10.0, -5.0 + 5.0 * i / 5000), n, c);
        if (v < best) best = v, best_cat = c;
      }
  EXPECT_EQ(best_cat, 1);
  EXPECT_NEAR(best, 0.0, 1e-6);
}

TEST(Suite, UnknownProblemIsAClearError) {
  try {
    problem("sphere");
    FAIL();
  } catch (const ember::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown objective 'sphere'"), std::string::npos);
  }
  for (const auto& p : problems()) {
    EXPECT_FALSE(p.space.empty()) << p.id;
  }
}

// The generalization set at its published optima, and each optimum a local minimum (no small
// perturbation inside the box goes lower).
TEST(Suite, GeneralizationSetAtItsOptima) {
  struct Case {
    std::string id;
    std::map<std::string, double> x;
    double tol;
  };
  auto xs = [](std::vector<double> v) {
    std::map<std::string, double> m;
    for (size_t i = 0; i < v.size(); ++i) m[fmt::format("x{}", i)] = v[i];
    return m;
  };
  const std::vector<Case> cases = {
      {"michalewicz5", xs({2.202906, 1.570796, 1.284992, 1.923058, 1.720470}), 1e-5},
      {"rastrigin4", xs({1.3, -2.1, 0.7, 3.2}), 1e-12},
      {"schwefel4", xs({420.9687463593, 420.9687463593, 420.9687463593, 420.9687463593}), 1e-9},
      {"griewank5", xs({-21.0, 35.5, 10.2, -44.4, 7.7}), 1e-12},
      {"camel6", {{"x1", 0.0898420131003}, {"x2", -0.7126564030207}}, 1e-10},
      {"hartmann3", xs({0.114614, 0.555649, 0.852547}), 1e-5},
      {"styblinski20", xs(std::vector<double>(20, -2.903534027771)), 1e-9},
      {"levy10", xs(std::vector<double>(10, 1.0)), 1e-12},
      {"rosenbrock10", xs(std::vector<double>(10, 1.0)), 1e-12},
      {"levy20", xs(std::vector<double>(20, 1.0)), 1e-12},
      {"rosenbrock20", xs(std::vector<double>(20, 1.0)), 1e-12},
      {"ackley20", xs(std::vector<double>(ember::hpo::suite::kAckley20Shift.begin(), ember::hpo::suite::kAckley20Shift.end())), 1e-12},
      {"branin-noisy", {{"x1", M_PI}, {"x2", 2.275}}, 1e-9},
  };
  ember::hpo::Rng rng(7);
  for (const auto& c : cases) {
    const Problem& p = problem(c.id);
    EXPECT_NEAR(p.f(c.x), p.optimum, c.tol) << c.id;
    for (int k = 0; k < 200; ++k) {
      auto y = c.x;
      for (auto& [name, v] : y) {
        const auto& d = p.space.find(name)->dist;
        v = std::clamp(v + 1e-3 * (d.high - d.low) * (rng.uniform() - 0.5), d.low, d.high);
      }
      EXPECT_GE(p.f(y), p.optimum - c.tol) << c.id;
    }
  }
  EXPECT_GE(problems().size(), 19u);
}

TEST(Suite, NoisyProblemsAddReproducibleNoiseToTheirTrials) {
  const Problem& p = problem("hartmann6-noisy");
  EXPECT_EQ(p.noise, 0.1);
  auto run = [&] {
    ember::hpo::Study s(ember::hpo::StudyOptions{.name = "n", .sampler = ember::hpo::make_sampler("random", {.seed = 3})});
    s.optimize(objective(p), {.n_trials = 20, .log = false});
    std::vector<double> noise;
    for (const auto& t : s.trials()) noise.push_back(*t->value - p.f(t->params));
    return noise;
  };
  const auto a = run(), b = run();
  EXPECT_EQ(a, b);
  double ss = 0;
  for (double v : a) ss += v * v;
  EXPECT_GT(std::sqrt(ss / double(a.size())), 0.03);  // about 0.1
  EXPECT_LT(std::sqrt(ss / double(a.size())), 0.3);
}

// GP building blocks: Cholesky and solves against hand-checked values, L-BFGS on known
// minima (with bounds), the GP model interpolating a smooth function, and the trust region.
#include <gtest/gtest.h>

#include <cmath>

#include <fmt/format.h>

#include "hpo/rng.h"
#include "hpo/sampler.h"
#include "hpo/samplers/gp/gp.h"
#include "hpo/samplers/gp/gp_model.h"
#include "hpo/samplers/gp/linalg.h"
#include "hpo/study.h"

using namespace ember::hpo;
using namespace ember::hpo::gp;

TEST(Linalg, CholeskyOfAKnownMatrix) {
  // A = L L^T with L = [[2,0,0],[1,3,0],[-1,2,4]] (chosen by hand).
  std::vector<double> a = {4, 2, -2, 2, 10, 5, -2, 5, 21};
  ASSERT_TRUE(cholesky(a, 3));
  const std::vector<double> l = {2, 0, 0, 1, 3, 0, -1, 2, 4};
  for (int i = 0; i < 9; ++i) {
    EXPECT_NEAR(a[i], l[i], 1e-12);
  }
  // Solve A x = b for x = (1, -1, 2): b = A x.
  double b[3] = {4 - 2 - 4, 2 - 10 + 10, -2 - 5 + 42};
  solve_lower(a, 3, b);
  solve_lower_t(a, 3, b);
  EXPECT_NEAR(b[0], 1, 1e-12);
  EXPECT_NEAR(b[1], -1, 1e-12);
  EXPECT_NEAR(b[2], 2, 1e-12);
  const auto inv = cholesky_inverse(a, 3);
  const std::vector<double> orig = {4, 2, -2, 2, 10, 5, -2, 5, 21};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double s = 0;
      for (int k = 0; k < 3; ++k) s += orig[i * 3 + k] * inv[k * 3 + j];
      EXPECT_NEAR(s, i == j ? 1.0 : 0.0, 1e-12);
    }
  std::vector<double> not_pd = {1, 2, 2, 1};
  EXPECT_FALSE(cholesky(not_pd, 2));
}

TEST(Linalg, LbfgsFindsRosenbrockMinimumAndRespectsBounds) {
  auto rosen = [](const std::vector<double>& x, std::vector<double>& g) {
    const double a = x[1] - x[0] * x[0], b = 1 - x[0];
    g[0] = -400 * a * x[0] - 2 * b;
    g[1] = 200 * a;
    return 100 * a * a + b * b;
  };
  std::vector<double> x = {-1.2, 1.0};
  LbfgsOptions opt;
  opt.max_iter = 500;
  opt.grad_tol = 1e-9;
  opt.f_tol = 0;
  lbfgs_minimize(rosen, x, opt);
  EXPECT_NEAR(x[0], 1.0, 1e-4);
  EXPECT_NEAR(x[1], 1.0, 1e-4);
  // Bounded: minimum of (x-3)^2 on [0, 2] is at the bound 2.
  std::vector<double> y = {0.5};
  LbfgsOptions bo;
  bo.lower = {0.0};
  bo.upper = {2.0};
  lbfgs_minimize([](const std::vector<double>& v, std::vector<double>& g) {
    g[0] = 2 * (v[0] - 3);
    return (v[0] - 3) * (v[0] - 3);
  }, y, bo);
  EXPECT_DOUBLE_EQ(y[0], 2.0);
}

TEST(GpModel, InterpolatesAndIsUncertainAwayFromData) {
  Rng rng(1);
  std::vector<double> x, y;
  for (int i = 0; i < 30; ++i) {
    const double a = rng.uniform(), b = rng.uniform();
    x.push_back(a);
    x.push_back(b);
    y.push_back(std::sin(3 * a) + std::cos(2 * b));
  }
  double mean = 0;
  for (double v : y) mean += v / 30;
  for (auto& v : y) v -= mean;
  GpModel m;
  m.fit(x, y, {false, false}, {}, 100);
  double mu, var;
  double gm[2], gv[2];
  for (int i = 0; i < 30; ++i) {
    m.predict(&x[i * 2], mu, var, nullptr, nullptr);
    EXPECT_NEAR(mu, y[i], 0.02);
  }
  const double p[2] = {0.37, 0.61};
  m.predict(p, mu, var, gm, gv);
  EXPECT_NEAR(mu + mean, std::sin(3 * 0.37) + std::cos(2 * 0.61), 0.05);
  // Gradient of the mean matches central differences.
  for (int k = 0; k < 2; ++k) {
    double q1[2] = {p[0], p[1]}, q2[2] = {p[0], p[1]};
    q1[k] += 1e-6;
    q2[k] -= 1e-6;
    double m1, m2, v1, v2;
    m.predict(q1, m1, v1, nullptr, nullptr);
    m.predict(q2, m2, v2, nullptr, nullptr);
    EXPECT_NEAR(gm[k], (m1 - m2) / 2e-6, 1e-4);
    EXPECT_NEAR(gv[k], (v1 - v2) / 2e-6, 1e-4);
  }
}

// The noise variance is estimated, not assumed: about zero for an exact smooth function, and
// near the truth when the observations carry Gaussian noise (targets standardized, as the
// sampler does).
TEST(GpModel, EstimatesObservationNoise) {
  auto fitted_noise = [](double sd, uint64_t seed) {
    Rng rng(seed);
    std::vector<double> x, y;
    for (int i = 0; i < 80; ++i) {
      const double a = rng.uniform(), b = rng.uniform();
      x.push_back(a);
      x.push_back(b);
      y.push_back(std::sin(3 * a) + std::cos(2 * b) + sd * rng.normal());
    }
    double mean = 0, var = 0;
    for (double v : y) mean += v / 80;
    for (double v : y) var += (v - mean) * (v - mean) / 80;
    for (auto& v : y) v = (v - mean) / std::sqrt(var);
    GpModel m;
    m.fit(x, y, {false, false}, {}, 100);
    return std::exp(m.theta().back()) * var;  // back to the units of y
  };
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    EXPECT_LT(fitted_noise(0.0, seed), 1e-4) << "seed " << seed;
    const double v = fitted_noise(0.3, seed);
    EXPECT_GT(v, 0.09 / 2.5) << "seed " << seed;
    EXPECT_LT(v, 0.09 * 2.5) << "seed " << seed;
  }
}

TEST(GpTrustRegion, ReplaysTuRBOsRules) {
  // 5 startup values (ignored but they set the best), then the rules: 3 improvements in a row
  // double the side (at most 1.6), max(4, dims) trials without one halve it.
  std::vector<double> losses = {5, 4, 6, 7, 3};
  EXPECT_DOUBLE_EQ(gp_trust_region(losses, 5, 12).length, 0.8);
  for (double v : {2.0, 1.0, 0.5}) losses.push_back(v);  // 3 successes: 1.6
  EXPECT_DOUBLE_EQ(gp_trust_region(losses, 5, 12).length, 1.6);
  for (double v : {0.4, 0.3, 0.2}) losses.push_back(v);  // 3 more: capped at 1.6
  EXPECT_DOUBLE_EQ(gp_trust_region(losses, 5, 12).length, 1.6);
  for (int i = 0; i < 11; ++i) losses.push_back(0.2);  // 11 failures of 12: unchanged
  EXPECT_DOUBLE_EQ(gp_trust_region(losses, 5, 12).length, 1.6);
  losses.push_back(0.2000001);  // the 12th (not better by 1e-3 relative): halved
  EXPECT_DOUBLE_EQ(gp_trust_region(losses, 5, 12).length, 0.8);
  // In 3 dims the failure limit is 4.
  EXPECT_DOUBLE_EQ(gp_trust_region({1, 1, 1, 1, 1, 1}, 2, 3).length, 0.4);
  // Halving below 1/128 restarts: 0.8 / 2^7 < 1/128, so 7 x 12 failures restart at the next index.
  std::vector<double> flat(5 + 7 * 12, 1.0);
  const GpTrustRegion tr = gp_trust_region(flat, 5, 12);
  EXPECT_EQ(tr.restarts, 1);
  EXPECT_EQ(tr.start, flat.size());
  EXPECT_DOUBLE_EQ(tr.length, 0.8);
  flat.pop_back();  // one short: 0.8 / 64 = 0.0125, no restart yet
  EXPECT_DOUBLE_EQ(gp_trust_region(flat, 5, 12).length, 0.8 / 64);
  EXPECT_EQ(gp_trust_region(flat, 5, 12).restarts, 0);
}

TEST(GpTrustRegion, BoxFollowsTheLengthscalesAndStaysInTheCube) {
  // Dims 0 and 2 numeric (lengthscales e^0.5 and e^-0.5, geometric mean 1), dim 1 categorical.
  std::vector<double> lower, upper;
  gp_trust_region_box({0.5, 2.0, 0.97}, 0.2, {0.5, 0.0, -0.5}, {0, 2}, lower, upper);
  EXPECT_NEAR(lower[0], 0.5 - 0.1 * std::exp(0.5), 1e-12);
  EXPECT_NEAR(upper[0], 0.5 + 0.1 * std::exp(0.5), 1e-12);
  EXPECT_EQ(lower[1], 0.0);  // not a region dim
  EXPECT_EQ(upper[1], 1.0);
  EXPECT_NEAR(lower[2], 0.97 - 0.1 * std::exp(-0.5), 1e-12);
  EXPECT_EQ(upper[2], 1.0);  // clamped
  // A lengthscale above 2 counts as 2: e^3 and e^-1 give sides 0.2 * sqrt(2 e) and 0.2 / sqrt(2 e).
  gp_trust_region_box({0.5, 0.5}, 0.2, {3.0, -1.0}, {0, 1}, lower, upper);
  EXPECT_NEAR(upper[0] - lower[0], 0.2 * std::sqrt(2.0 * std::exp(1.0)), 1e-12);
  EXPECT_NEAR(upper[1] - lower[1], 0.2 / std::sqrt(2.0 * std::exp(1.0)), 1e-12);
  // Unclamped, the sides multiply to length^dims.
  gp_trust_region_box({0.5, 0.5, 0.5}, 0.1, {0.3, -0.2, 0.5}, {0, 1, 2}, lower, upper);
  EXPECT_NEAR((upper[0] - lower[0]) * (upper[1] - lower[1]) * (upper[2] - lower[2]), 1e-3, 1e-15);
}

TEST(GpTrustRegion, SuggestionsStayInTheRegionAroundTheBest) {
  // 12 dims on [0, 1] (the unit cube itself). Trial 3 is the best (0); every other trial gives 1,
  // so after the 10 startup trials each one is a failure and the region shrinks (0.8, 0.4 after
  // 12, 0.2 after 24). The box's sides multiply to length^12, so the geometric mean of
  // |x_k - best_k| over the dims is at most length / 2 for a suggestion inside it.
  Space space;
  for (int i = 0; i < 12; ++i) space.add_float(fmt::format("x{}", i), 0, 1);
  auto geo_dist = [](const std::map<std::string, double>& a, const std::map<std::string, double>& b) {
    double s = 0;
    for (const auto& [k, v] : a) s += std::log(std::max(std::fabs(v - b.at(k)), 1e-300));
    return std::exp(s / double(a.size()));
  };
  for (int tr : {10, 0}) {
    Study study(StudyOptions{.name = "s", .sampler = make_sampler("gp", {.seed = 5, .space = space,
                                                                         .gp_trust_region_dims = tr})});
    std::map<std::string, double> best_x;
    std::vector<double> losses;
    int outside = 0;
    study.optimize(
        [&](Trial& t) {
          const auto x = space.suggest_all(t);
          if (t.number() >= 10) {
            const double length = gp_trust_region(losses, 10, 12).length;
            const bool inside = geo_dist(x, best_x) <= length / 2 + 1e-12;
            outside += !inside;
            if (tr) {
              EXPECT_TRUE(inside) << "trial " << t.number() << " length " << length;
            }
          }
          if (t.number() == 3) best_x = x;
          losses.push_back(t.number() == 3 ? 0.0 : 1.0);
          return losses.back();
        },
        {.n_trials = 40, .log = false});
    EXPECT_DOUBLE_EQ(gp_trust_region(losses, 10, 12).length, 0.2);
    if (!tr) {
      EXPECT_GT(outside, 10);  // the global search goes where the variance is, far from the best
    }
  }
}

TEST(GpTrustRegion, OnStallOnlyAfterMaxOf10AndDimsTrialsWithoutImprovement) {
  // 4 startup values (best 1), then S = max(10, 3) = 10 failures: stalled, side 0.8; each further
  // 10 halve it; after 0.8 / 64 the cycle starts again at 0.8. An improvement ends the stall.
  std::vector<double> losses = {3, 2, 1, 5};
  for (int i = 0; i < 9; ++i) losses.push_back(1.0);
  EXPECT_EQ(gp_stall_region_length(losses, 4, 3), 0.0);
  losses.push_back(1.0005);  // not better by 1e-3 relative: the 10th failure
  EXPECT_DOUBLE_EQ(gp_stall_region_length(losses, 4, 3), 0.8);
  for (int i = 0; i < 10; ++i) losses.push_back(2.0);
  EXPECT_DOUBLE_EQ(gp_stall_region_length(losses, 4, 3), 0.4);
  for (int i = 0; i < 50; ++i) losses.push_back(2.0);
  EXPECT_DOUBLE_EQ(gp_stall_region_length(losses, 4, 3), 0.8 / 64);
  for (int i = 0; i < 10; ++i) losses.push_back(2.0);
  EXPECT_DOUBLE_EQ(gp_stall_region_length(losses, 4, 3), 0.8);
  losses.push_back(0.5);  // an improvement: global again
  EXPECT_EQ(gp_stall_region_length(losses, 4, 3), 0.0);
  // 25 dims: 25 failures before the region.
  std::vector<double> flat(4 + 24, 1.0);
  EXPECT_EQ(gp_stall_region_length(flat, 4, 25), 0.0);
  flat.push_back(1.0);
  EXPECT_DOUBLE_EQ(gp_stall_region_length(flat, 4, 25), 0.8);
}

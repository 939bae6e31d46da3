// The HPO-SUITE.md problems at their stated optima (values copied from the suite table).
#include <gtest/gtest.h>

#include <cmath>

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

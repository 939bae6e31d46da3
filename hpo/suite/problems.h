// The HPO benchmark suite of HPO-SUITE.md: Branin, Hartmann6, Rosenbrock-4D, Ackley-5D, the
// mixed float/int/categorical problem, and the simulated learning-curve task LC4 for pruners.
// All problems are minimization; each carries its Space and known optimum f*.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "hpo/space.h"
#include "hpo/study.h"

namespace ember::hpo::suite {

struct Problem {
  std::string id;
  Space space;
  std::function<double(const std::map<std::string, double>&)> f;  // internal values (space.h)
  double optimum;
};

// branin, hartmann6, rosenbrock4, ackley5, mixed.
const std::vector<Problem>& problems();
// Throws ember::Error naming the valid ids on an unknown one.
const Problem& problem(const std::string& id);
// The objective for a study: suggests every parameter of the space, returns f.
Objective objective(const Problem& p);

// Closed forms, for tests.
double branin(double x1, double x2);
double hartmann6(const std::array<double, 6>& x);
double rosenbrock(const std::vector<double>& x);
double ackley(const std::vector<double>& x);
double mixed(double lr, int64_t n, int cat);  // cat: 0..3 = a..d

// LC4: x in [0,1]^4; final(x) and the noisy curve y(t), t = 1..100.
double lc4_final(const std::array<double, 4>& x);
double lc4_tau(const std::array<double, 4>& x);
double lc4_curve(const std::array<double, 4>& x, int t, double noise);

}  // namespace ember::hpo::suite

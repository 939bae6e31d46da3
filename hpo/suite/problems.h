// The HPO benchmark suite of HPO-SUITE.md: Branin, Hartmann6, Rosenbrock-4D, Ackley-5D, the
// mixed float/int/categorical problem, and the simulated learning-curve task LC4 for pruners;
// plus the generalization set (issue 12), on which no default was tuned first: Michalewicz-5D,
// shifted Rastrigin-4D, Schwefel-4D, shifted Griewank-5D, six-hump camel, Hartmann-3D,
// Styblinski-Tang-20D, Levy and Rosenbrock in 10 and 20 dims (optimum at x = 1, off the box
// centre), shifted Ackley-20D, and noisy Branin / Hartmann6 (additive Gaussian noise on each trial's
// value; regret is scored on the noise-free function). All problems are minimization; each
// carries its Space and known optimum f*.
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
  double noise = 0;  // sd of the additive Gaussian noise on each evaluation (f itself is noise-free)
};

// branin, hartmann6, rosenbrock4, ackley5, mixed, then the generalization set (see above).
const std::vector<Problem>& problems();
// Throws ember::Error naming the valid ids on an unknown one.
const Problem& problem(const std::string& id);
// The objective for a study: suggests every parameter of the space, returns f (plus noise for a
// noisy problem, keyed by the trial number so a run reproduces).
Objective objective(const Problem& p);

// Closed forms, for tests.
double branin(double x1, double x2);
double hartmann6(const std::array<double, 6>& x);
double rosenbrock(const std::vector<double>& x);
double ackley(const std::vector<double>& x);
double mixed(double lr, int64_t n, int cat);  // cat: 0..3 = a..d
double michalewicz(const std::vector<double>& x);  // m = 10
double rastrigin(const std::vector<double>& x);
double schwefel(const std::vector<double>& x);
double griewank(const std::vector<double>& x);
double camel6(double x1, double x2);
double hartmann3(const std::array<double, 3>& x);
double styblinski_tang(const std::vector<double>& x);
double levy(const std::vector<double>& x);
// The shifts of the shifted problems (their optimum; the box centre would favour samplers that start there).
inline constexpr std::array<double, 4> kRastriginShift = {1.3, -2.1, 0.7, 3.2};
inline constexpr std::array<double, 5> kGriewankShift = {-21.0, 35.5, 10.2, -44.4, 7.7};
inline constexpr std::array<double, 20> kAckley20Shift = {3.1,  -7.4, 12.9, -1.8,  5.5, -15.2, 9.7,  0.6,  -4.3, 18.1,
                                                          -9.9, 2.2,  -0.7, 14.4, -6.6, 7.8,   -12.5, 1.4, 10.3, -3.9};

// LC4: x in [0,1]^4; final(x) and the noisy curve y(t), t = 1..100.
double lc4_final(const std::array<double, 4>& x);
double lc4_tau(const std::array<double, 4>& x);
double lc4_curve(const std::array<double, 4>& x, int t, double noise);

}  // namespace ember::hpo::suite

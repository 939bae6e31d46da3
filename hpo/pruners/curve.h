// CurvePruner: prunes by extrapolating the learning curve, not by ranking partial values.
// Median and successive-halving pruners compare trials at equal steps, so they prune slowly
// converging configurations that would have ended best. This pruner fits each trial's curve
// with y(t) = a + b exp(-t / tau) (b >= 0, i.e. improving; tau over a log grid, a and b by least
// squares), takes the most optimistic final value y(T) among every tau that fits about as well
// as the best one (SSE within 9 sigma^2 of the minimum), and prunes only when even that
// optimistic final is worse than the best complete trial by more than 2 residual standard
// deviations (the fit cannot be trusted more finely). T is the last step of complete trials.
#pragma once

#include "hpo/pruner.h"

namespace ember::hpo {

struct CurvePrunerOptions {
  int n_startup_trials = 1;  // no pruning until this many trials completed
  int64_t min_steps = 4;     // reports needed before a fit
  double tolerance = 9.0;    // plausible fits: SSE <= SSE_min + tolerance * sigma^2 (about 3 sigma)
  double margin = 0.0;       // prune when optimistic final > best + margin
};

class CurvePruner final : public Pruner {
 public:
  explicit CurvePruner(CurvePrunerOptions opt = {});
  std::string name() const override { return "curve"; }
  bool prune(const History& history, const FrozenTrial& trial) override;

  // The most optimistic plausible value at step `horizon` of the curve (steps, losses), and
  // the residual standard deviation of the best fit.
  struct Extrapolation {
    double optimistic;
    double sigma;
  };
  static Extrapolation extrapolate(const std::vector<double>& steps, const std::vector<double>& losses,
                                   double horizon, double tolerance);

 private:
  CurvePrunerOptions opt_;
};

}  // namespace ember::hpo

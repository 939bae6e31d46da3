// MedianPruner (optuna's percentile pruner at 50): prune a trial whose best intermediate value
// so far is worse than the median of the complete trials' values at the same step.
#pragma once

#include "hpo/pruner.h"

namespace ember::hpo {

struct MedianPrunerOptions {
  int n_startup_trials = 5;  // no pruning until this many trials completed
  int64_t n_warmup_steps = 0;  // no pruning before this step
  int64_t interval_steps = 1;  // only check every n-th step after warm-up
  int n_min_trials = 1;        // need this many complete trials that reported the step
  double percentile = 50.0;
};

class MedianPruner final : public Pruner {
 public:
  explicit MedianPruner(MedianPrunerOptions opt = {});
  std::string name() const override { return "median"; }
  bool prune(const History& history, const FrozenTrial& trial) override;

 private:
  MedianPrunerOptions opt_;
};

}  // namespace ember::hpo

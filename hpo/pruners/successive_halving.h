// SuccessiveHalvingPruner: asynchronous successive halving (ASHA, Li et al. 2020), as optuna.
// Rung k sits at step min_resource * rf^(k + min_early_stopping_rate). When a trial reaches a
// rung it is compared with every trial that reached the same rung: it continues only if its
// value there is within the best 1/rf of them (the best one if fewer than rf reached it).
// min_resource = 0 means automatic: no pruning until a trial completes, then max(steps/100, 1).
#pragma once

#include <functional>

#include "hpo/pruner.h"

namespace ember::hpo {

struct SuccessiveHalvingOptions {
  int64_t min_resource = 0;  // 0: auto
  int reduction_factor = 4;
  int min_early_stopping_rate = 0;
};

class SuccessiveHalvingPruner final : public Pruner {
 public:
  explicit SuccessiveHalvingPruner(SuccessiveHalvingOptions opt = {});
  std::string name() const override { return "asha"; }
  bool prune(const History& history, const FrozenTrial& trial) override;

  // The decision for `trial` against the trials for which `peer` is true (Hyperband brackets).
  bool prune_among(const History& history, const FrozenTrial& trial,
                   const std::function<bool(const FrozenTrial&)>& peer) const;

 private:
  SuccessiveHalvingOptions opt_;
};

}  // namespace ember::hpo

// HyperbandPruner (Li et al. 2018, asynchronous form as optuna): several successive-halving
// brackets that differ in how early they start pruning (bracket b's first rung is at
// min_resource * rf^b). Each trial is assigned to one bracket by a hash of its number, weighted
// by the brackets' budgets, and competes only with trials of its own bracket.
#pragma once

#include <vector>

#include "hpo/pruner.h"
#include "hpo/pruners/successive_halving.h"

namespace ember::hpo {

struct HyperbandOptions {
  int64_t min_resource = 1;
  int64_t max_resource = 100;
  int reduction_factor = 3;
  uint64_t seed = 0;
};

class HyperbandPruner final : public Pruner {
 public:
  explicit HyperbandPruner(HyperbandOptions opt = {});
  std::string name() const override { return "hyperband"; }
  bool prune(const History& history, const FrozenTrial& trial) override;

  int n_brackets() const { return static_cast<int>(brackets_.size()); }
  int bracket_of(int64_t trial_number) const;

 private:
  HyperbandOptions opt_;
  std::vector<SuccessiveHalvingPruner> brackets_;
  std::vector<double> budget_cum_;  // cumulative bracket budgets, normalized to 1
};

}  // namespace ember::hpo

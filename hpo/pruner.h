// The Pruner interface: decides from intermediate values whether a running trial should stop.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "hpo/trial.h"

namespace ember::hpo {

class Pruner {
 public:
  virtual ~Pruner() = default;
  virtual std::string name() const = 0;
  // `trial` is the running trial with its intermediate values so far; `history` the whole study.
  virtual bool prune(const History& history, const FrozenTrial& trial) = 0;
};

// A pruner that never prunes.
class NopPruner final : public Pruner {
 public:
  std::string name() const override { return "none"; }
  bool prune(const History&, const FrozenTrial&) override { return false; }
};

// Settings for make_pruner; a field at its "unset" value keeps the pruner's own default.
struct PrunerOptions {
  int64_t max_resource = 0;     // hyperband: the steps of a complete trial (default 100)
  int64_t min_resource = 0;     // asha / hyperband
  int reduction_factor = 0;     // asha / hyperband
  int n_startup_trials = -1;    // median / curve: complete trials before any pruning
  int64_t n_warmup_steps = -1;  // median: no pruning before this step
  uint64_t seed = 0;            // hyperband: bracket assignment
};

// Builds a pruner by name: none, median, asha (successive halving), hyperband, curve
// (learning-curve extrapolation, pruners/curve.h).
std::shared_ptr<Pruner> make_pruner(const std::string& name, const PrunerOptions& opt = {});

}  // namespace ember::hpo

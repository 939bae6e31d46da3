// The Pruner interface: decides from intermediate values whether a running trial should stop.
#pragma once

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

// Builds a pruner by name with default settings: none, median, asha (successive halving),
// hyperband, curve (learning-curve extrapolation, pruners/curve.h).
std::shared_ptr<Pruner> make_pruner(const std::string& name);

}  // namespace ember::hpo

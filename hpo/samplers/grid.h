// GridSampler: the full factorial over given values per parameter, visited in a seeded random
// order. Each point is claimed in the study's storage before use, so parallel workers (threads
// or processes) never evaluate a point twice and a restarted study continues where it stopped.
// When every point is taken, ask() throws SearchExhausted and optimize() stops.
#pragma once

#include <vector>

#include "hpo/sampler.h"

namespace ember::hpo {

class GridSampler final : public Sampler {
 public:
  // `space` must be flat (no conditional parameters). Values per parameter come from
  // `values` if listed there; otherwise from the cell-centred grid for `budget` (HPO-SUITE.md)
  // if budget > 0; otherwise every value of an int/stepped/categorical parameter. A continuous
  // float with neither is an error.
  GridSampler(const Space& space, const std::map<std::string, std::vector<ParamValue>>& values, int budget,
              uint64_t seed = 0);

  std::string name() const override { return "grid"; }
  void attach(Storage* storage, int64_t study_id) override;
  bool is_exhausted(const History& history) override { return cursor_ >= order_.size(); }
  std::map<std::string, double> sample_relative(const History& history, const FrozenTrial& trial) override;
  double sample_independent(const History& history, const FrozenTrial& trial, const std::string& name,
                            const Distribution& dist) override;

  size_t n_points() const { return order_.size(); }
  // The values per parameter in space order (for tests and the CLI).
  const std::vector<std::vector<double>>& axes() const { return axes_; }

 private:
  std::map<std::string, double> point(uint64_t index) const;

  Space space_;
  uint64_t seed_;
  std::vector<std::vector<double>> axes_;
  std::vector<uint64_t> order_;  // a seeded permutation of the point indices
  size_t cursor_ = 0;
  Storage* storage_ = nullptr;
  int64_t study_id_ = -1;
};

}  // namespace ember::hpo

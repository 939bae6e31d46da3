// BlendSearch (FLAML; Wang et al., "Economic Hyperparameter Optimization with Blended Search
// Strategy", ICLR 2021): a global model-based sampler (our multivariate TPE) proposes points; a
// global point that lands among the best so far, away from every running local search, starts a
// local FLOW^2 search there (cfo/flow2.h, categoricals fixed to that point's choices). Each trial
// goes to whichever of the global search and the live local searches improved fastest per
// trial recently (a new local search first gets d + 1 turns); a converged local search ends.
// Needs a flat Space (conditional spaces fall back to plain TPE). Up to 4 local searches live.
#pragma once

#include <memory>
#include <optional>

#include "hpo/rng.h"
#include "hpo/sampler.h"
#include "hpo/samplers/cfo/flow2.h"

namespace ember::hpo {

struct BlendOptions {
  uint64_t seed = 0;
  std::optional<Space> space{};
  int max_threads = 4;          // live local searches
  double start_quantile = 0.25;  // a global point starts a local search if its loss is in this best share
};

class BlendSampler final : public Sampler {
 public:
  explicit BlendSampler(BlendOptions opt);
  std::string name() const override { return "blend"; }
  std::map<std::string, double> sample_relative(const History& history, const FrozenTrial& trial) override;
  double sample_independent(const History& history, const FrozenTrial& trial, const std::string& name,
                            const Distribution& dist) override;
  void after_trial(const History& history, const FrozenTrial& trial) override;

 private:
  struct Local {
    std::unique_ptr<cfo::Flow2> search;
    std::vector<double> cats;         // fixed categorical choices (internal values)
    std::vector<double> start_unit;   // where it started (for the "away from others" test)
    double start_loss = 0;
    std::vector<double> recent;       // improvement of each of its recent results (best-so-far deltas)
    int64_t turns = 0;
  };
  double speed(const std::vector<double>& recent) const;

  BlendOptions opt_;
  Rng rng_;
  std::shared_ptr<Sampler> global_;
  std::vector<std::string> num_names_, cat_names_;
  std::vector<Distribution> num_dists_, cat_dists_;
  double step_lb_ = 1e-4;
  std::vector<Local> locals_;
  std::map<int64_t, int> owner_;  // trial number -> local index (global trials are absent)
  std::vector<double> global_recent_;
  int64_t n_global_ = 0;  // finished global trials
  std::optional<double> global_best_, best_;
};

}  // namespace ember::hpo

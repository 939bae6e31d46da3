// The Sampler interface: proposes parameter values from a study's history.
// The study serializes calls into one sampler (one mutex), so implementations need no locking.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "hpo/space.h"
#include "hpo/trial.h"

namespace ember::hpo {

class Storage;

class Sampler {
 public:
  virtual ~Sampler() = default;
  virtual std::string name() const = 0;

  // Called once by the Study that uses this sampler: samplers that must coordinate workers
  // (grid: no point twice) claim keys in the study's storage.
  virtual void attach(Storage* storage, int64_t study_id) {}

  // Called once when a trial starts. Samplers that model parameters jointly (grid, TPE
  // multivariate, GP, CFO) return values for the parameters they know; the rest are drawn by
  // sample_independent when the objective suggests them.
  virtual std::map<std::string, double> sample_relative(const History& history, const FrozenTrial& trial) {
    return {};
  }
  // One parameter on its own. Returns a legal internal value of `dist`.
  virtual double sample_independent(const History& history, const FrozenTrial& trial, const std::string& name,
                                    const Distribution& dist) = 0;
  // Whether nothing is left to propose (a finished grid); checked before a trial is created.
  virtual bool is_exhausted(const History& history) { return false; }
  // Called after a trial finished (complete, pruned or failed) with the updated history.
  virtual void after_trial(const History& history, const FrozenTrial& trial) {}
};

// Thrown by a sampler that has nothing left to propose (a finished grid); optimize() stops.
class SearchExhausted : public std::exception {
 public:
  explicit SearchExhausted(std::string msg) : msg_(std::move(msg)) {}
  const char* what() const noexcept override { return msg_.c_str(); }

 private:
  std::string msg_;
};

struct SamplerOptions {
  uint64_t seed = 0;
  std::optional<Space> space{};  // required by grid; optional for TPE, GP and CFO
  int n_startup_trials = -1;   // -1: the sampler's default
  bool deterministic = false;  // GP: the objective has no noise (see GpOptions::deterministic)
  int gp_trust_region_dims = -1;  // GP: GpOptions::trust_region_dims (-1: its default; 0: no trust region)
  int gp_trust_region_on_stall = -1;  // GP: GpOptions::trust_region_on_stall (-1: its default; 0 off; 1 on)
  std::map<std::string, std::vector<ParamValue>> grid_values{};  // grid: explicit values per parameter
  int grid_budget = 0;  // grid: if > 0 and no explicit values, the cell-centred grid of HPO-SUITE.md
};

// Builds a sampler by name: random, grid, tpe, tpe-independent, gp, cfo, blend (BlendSearch). Throws ember::Error on an unknown name.
std::shared_ptr<Sampler> make_sampler(const std::string& name, SamplerOptions opt);

}  // namespace ember::hpo

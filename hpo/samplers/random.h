// RandomSampler: independent uniform draws (log-uniform for log parameters). Each value comes
// from its own stream seeded by (seed, trial number, parameter name), so a seed reproduces the
// same values whatever the order of suggestions or the number of workers.
#pragma once

#include "hpo/sampler.h"

namespace ember::hpo {

class RandomSampler final : public Sampler {
 public:
  explicit RandomSampler(uint64_t seed = 0) : seed_(seed) {}
  std::string name() const override { return "random"; }
  double sample_independent(const History& history, const FrozenTrial& trial, const std::string& name,
                            const Distribution& dist) override;

 private:
  uint64_t seed_;
};

// One uniform draw of `dist` from the stream for (seed, trial number, name); shared by the
// model-based samplers for their startup trials and fallbacks.
double sample_uniform(uint64_t seed, int64_t trial_number, const std::string& name, const Distribution& dist);

}  // namespace ember::hpo

#include "hpo/samplers/random.h"

#include "hpo/rng.h"

namespace ember::hpo {

double sample_uniform(uint64_t seed, int64_t trial_number, const std::string& name, const Distribution& dist) {
  Rng rng(mix_seed(seed, static_cast<uint64_t>(trial_number), stable_hash(name)));
  return dist.from_unit(rng.uniform());
}

double RandomSampler::sample_independent(const History&, const FrozenTrial& trial, const std::string& name,
                                         const Distribution& dist) {
  return sample_uniform(seed_, trial.number, name, dist);
}

}  // namespace ember::hpo

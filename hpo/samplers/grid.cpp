#include "hpo/samplers/grid.h"

#include <algorithm>
#include <cmath>

#include "hpo/rng.h"
#include "hpo/samplers/random.h"
#include "hpo/storage/storage.h"
#include "tensor/error.h"

namespace ember::hpo {

GridSampler::GridSampler(const Space& space, const std::map<std::string, std::vector<ParamValue>>& values,
                         int budget, uint64_t seed)
    : space_(space), seed_(seed) {
  EMBER_CHECK(!space.empty(), "grid: the search space is empty");
  EMBER_CHECK(space.is_flat(), "grid: conditional parameters are not supported");
  for (const auto& [name, v] : values) EMBER_CHECK(space.find(name) != nullptr, "grid: '{}' is not in the space", name);
  // k: the largest count per numeric dim with k^(numeric dims) * prod(choices) <= budget.
  int n_numeric = 0;
  double n_cat = 1.0;
  for (const auto& p : space.params()) {
    if (values.count(p.name)) n_cat *= static_cast<double>(values.at(p.name).size());
    else if (p.dist.kind == ParamKind::kCategorical) n_cat *= static_cast<double>(p.dist.n_choices());
    else ++n_numeric;
  }
  int k = 0;
  if (budget > 0 && n_numeric > 0)
    while (std::pow(k + 1, n_numeric) * n_cat <= budget + 1e-9) ++k;
  for (const auto& p : space.params()) {
    std::vector<double> axis;
    if (const auto it = values.find(p.name); it != values.end()) {
      for (const auto& pv : it->second) axis.push_back(p.dist.from_param_value(p.name, pv));
    } else if (p.dist.kind == ParamKind::kCategorical) {
      for (size_t i = 0; i < p.dist.n_choices(); ++i) axis.push_back(static_cast<double>(i));
    } else if (k > 0) {
      for (int i = 0; i < k; ++i) axis.push_back(p.dist.from_unit((i + 0.5) / k));  // cell centres
    } else {
      const uint64_t card = p.dist.cardinality();
      EMBER_CHECK(card > 0 && card <= 100000, "grid: '{}' ({}) needs explicit values or a budget", p.name,
                  p.dist.describe());
      for (uint64_t i = 0; i < card; ++i) axis.push_back(p.dist.low + static_cast<double>(i) * p.dist.step);
    }
    std::sort(axis.begin(), axis.end());
    axis.erase(std::unique(axis.begin(), axis.end()), axis.end());
    EMBER_CHECK(!axis.empty(), "grid: '{}' has no values (budget {} too small?)", p.name, budget);
    axes_.push_back(std::move(axis));
  }
  double total = 1.0;
  for (const auto& a : axes_) total *= static_cast<double>(a.size());
  EMBER_CHECK(total <= 1e7, "grid: {:.0f} points is too many (limit 1e7)", total);
  order_.resize(static_cast<size_t>(total));
  for (size_t i = 0; i < order_.size(); ++i) order_[i] = i;
  Rng rng(mix_seed(seed, 0x67726964));
  for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.below(i)]);
}

void GridSampler::attach(Storage* storage, int64_t study_id) {
  storage_ = storage;
  study_id_ = study_id;
}

std::map<std::string, double> GridSampler::point(uint64_t index) const {
  std::map<std::string, double> out;
  for (size_t d = axes_.size(); d-- > 0;) {  // mixed radix, last parameter fastest
    out[space_.params()[d].name] = axes_[d][index % axes_[d].size()];
    index /= axes_[d].size();
  }
  return out;
}

std::map<std::string, double> GridSampler::sample_relative(const History&, const FrozenTrial& trial) {
  while (cursor_ < order_.size()) {
    const uint64_t idx = order_[cursor_++];
    // Without a storage (sampler used on its own) the local cursor is the only record.
    if (storage_ == nullptr || storage_->claim_key(study_id_, fmt::format("grid:{}", idx), trial.id))
      return point(idx);
  }
  throw SearchExhausted(fmt::format("grid: all {} points have been taken", order_.size()));
}

double GridSampler::sample_independent(const History&, const FrozenTrial& trial, const std::string& name,
                                       const Distribution& dist) {
  // A parameter outside the grid's space (or with a different range) is drawn at random.
  return sample_uniform(seed_, trial.number, name, dist);
}

}  // namespace ember::hpo

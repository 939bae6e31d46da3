#include "hpo/pruners/hyperband.h"

#include <cmath>

#include "hpo/rng.h"
#include "tensor/error.h"

namespace ember::hpo {

HyperbandPruner::HyperbandPruner(HyperbandOptions opt) : opt_(opt) {
  EMBER_CHECK(opt.min_resource >= 1 && opt.max_resource >= opt.min_resource,
              "hyperband: need 1 <= min_resource <= max_resource (got {}, {})", opt.min_resource, opt.max_resource);
  EMBER_CHECK(opt.reduction_factor >= 2, "hyperband: reduction_factor must be >= 2 (got {})", opt.reduction_factor);
  const double rf = opt.reduction_factor;
  const int n = static_cast<int>(std::floor(std::log(static_cast<double>(opt.max_resource) / opt.min_resource) /
                                            std::log(rf) + 1e-9)) + 1;
  // Budget of bracket b (optuna): with s = n - 1 - b, ceil(n * rf^s / (s + 1)) trials' worth.
  double total = 0.0;
  std::vector<double> budgets;
  for (int b = 0; b < n; ++b) {
    brackets_.emplace_back(SuccessiveHalvingOptions{.min_resource = opt.min_resource,
                                                    .reduction_factor = opt.reduction_factor,
                                                    .min_early_stopping_rate = b});
    const int sb = n - 1 - b;
    budgets.push_back(std::ceil(static_cast<double>(n) * std::pow(rf, sb) / (sb + 1)));
    total += budgets.back();
  }
  double acc = 0.0;
  for (double b : budgets) budget_cum_.push_back(acc += b / total);
}

int HyperbandPruner::bracket_of(int64_t trial_number) const {
  const double u = static_cast<double>(mix_seed(opt_.seed, static_cast<uint64_t>(trial_number), 0x6862) >> 11) *
                   0x1.0p-53;
  for (size_t b = 0; b < budget_cum_.size(); ++b)
    if (u < budget_cum_[b]) return static_cast<int>(b);
  return static_cast<int>(budget_cum_.size()) - 1;
}

bool HyperbandPruner::prune(const History& history, const FrozenTrial& trial) {
  const int b = bracket_of(trial.number);
  return brackets_[static_cast<size_t>(b)].prune_among(
      history, trial, [&](const FrozenTrial& t) { return bracket_of(t.number) == b; });
}

}  // namespace ember::hpo

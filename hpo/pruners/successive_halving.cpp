#include "hpo/pruners/successive_halving.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace ember::hpo {

namespace {

// Value of `t` at rung resource r: its report at the largest step <= r, if it reached r.
std::optional<double> rung_value(const FrozenTrial& t, int64_t r) {
  if (t.intermediate.empty() || t.intermediate.rbegin()->first < r) return std::nullopt;
  auto it = t.intermediate.upper_bound(r);
  if (it == t.intermediate.begin()) return std::nullopt;
  --it;
  return it->second;
}

}  // namespace

SuccessiveHalvingPruner::SuccessiveHalvingPruner(SuccessiveHalvingOptions opt) : opt_(opt) {
  EMBER_CHECK(opt.min_resource >= 0, "successive halving: min_resource must be >= 0 (got {})", opt.min_resource);
  EMBER_CHECK(opt.reduction_factor >= 2, "successive halving: reduction_factor must be >= 2 (got {})",
              opt.reduction_factor);
  EMBER_CHECK(opt.min_early_stopping_rate >= 0, "successive halving: min_early_stopping_rate must be >= 0 (got {})",
              opt.min_early_stopping_rate);
}

bool SuccessiveHalvingPruner::prune(const History& history, const FrozenTrial& trial) {
  return prune_among(history, trial, [](const FrozenTrial&) { return true; });
}

bool SuccessiveHalvingPruner::prune_among(const History& history, const FrozenTrial& trial,
                                          const std::function<bool(const FrozenTrial&)>& peer) const {
  if (trial.intermediate.empty()) return false;
  const int64_t step = trial.intermediate.rbegin()->first;
  int64_t min_resource = opt_.min_resource;
  if (min_resource == 0) {
    int64_t last = -1;
    for (const auto& t : history.trials())
      if (t->state == TrialState::kComplete && !t->intermediate.empty())
        last = std::max(last, t->intermediate.rbegin()->first);
    if (last < 0) return false;
    min_resource = std::max<int64_t>(last / 100, 1);
  }
  const double rf = opt_.reduction_factor;
  // The highest rung this trial has reached; rungs below it were passed on earlier calls.
  int rung = -1;
  for (int k = 0;; ++k) {
    const double r = static_cast<double>(min_resource) * std::pow(rf, k + opt_.min_early_stopping_rate);
    if (r > static_cast<double>(step)) break;
    rung = k;
  }
  if (rung < 0) return false;
  const int64_t r = static_cast<int64_t>(std::llround(static_cast<double>(min_resource) *
                                                      std::pow(rf, rung + opt_.min_early_stopping_rate)));
  // Only decide at the step where the rung is reached (or the first report past it).
  const auto prev = trial.intermediate.size() >= 2 ? std::prev(trial.intermediate.end(), 2)->first : -1;
  if (prev >= r) return false;
  const auto mine = rung_value(trial, r);
  if (!mine.has_value() || !std::isfinite(*mine)) return true;
  std::vector<double> competing{history.loss(*mine)};
  for (const auto& t : history.trials()) {
    if (t->id == trial.id || !peer(*t)) continue;
    const auto v = rung_value(*t, r);
    if (v.has_value() && std::isfinite(*v)) competing.push_back(history.loss(*v));
  }
  std::sort(competing.begin(), competing.end());
  const size_t k = std::max<size_t>(competing.size() / static_cast<size_t>(opt_.reduction_factor), 1);
  return history.loss(*mine) > competing[k - 1];
}

}  // namespace ember::hpo

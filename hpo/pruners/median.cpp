#include "hpo/pruners/median.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace ember::hpo {

MedianPruner::MedianPruner(MedianPrunerOptions opt) : opt_(opt) {
  EMBER_CHECK(opt.n_startup_trials >= 0, "median pruner: n_startup_trials must be >= 0 (got {})", opt.n_startup_trials);
  EMBER_CHECK(opt.n_warmup_steps >= 0, "median pruner: n_warmup_steps must be >= 0 (got {})", opt.n_warmup_steps);
  EMBER_CHECK(opt.interval_steps >= 1, "median pruner: interval_steps must be >= 1 (got {})", opt.interval_steps);
  EMBER_CHECK(opt.percentile >= 0 && opt.percentile <= 100, "median pruner: percentile {} outside [0, 100]",
              opt.percentile);
}

bool MedianPruner::prune(const History& history, const FrozenTrial& trial) {
  if (trial.intermediate.empty()) return false;
  const int64_t step = trial.intermediate.rbegin()->first;
  if (step < opt_.n_warmup_steps) return false;
  if ((step - opt_.n_warmup_steps) % opt_.interval_steps != 0) return false;
  // The trial's best value so far (NaN reports are skipped; all-NaN means prune).
  std::optional<double> best;
  for (const auto& [s, v] : trial.intermediate)
    if (std::isfinite(v) && (!best.has_value() || history.loss(v) < *best)) best = history.loss(v);
  std::vector<double> others;
  int n_complete = 0;
  for (const auto& t : history.trials()) {
    if (t->state != TrialState::kComplete || t->id == trial.id) continue;
    ++n_complete;
    const auto it = t->intermediate.find(step);
    if (it != t->intermediate.end() && std::isfinite(it->second)) others.push_back(history.loss(it->second));
  }
  if (n_complete < opt_.n_startup_trials) return false;
  if (static_cast<int>(others.size()) < std::max(opt_.n_min_trials, 1)) return false;
  if (!best.has_value()) return true;
  // Linear-interpolated percentile of the others (numpy's default), in loss terms.
  std::sort(others.begin(), others.end());
  const double pos = opt_.percentile / 100.0 * static_cast<double>(others.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, others.size() - 1);
  const double threshold = others[lo] + (pos - static_cast<double>(lo)) * (others[hi] - others[lo]);
  return *best > threshold;
}

}  // namespace ember::hpo

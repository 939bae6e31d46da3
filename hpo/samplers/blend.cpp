// BlendSearch: global TPE + local FLOW^2 searches, scheduled by recent improvement per trial.
#include "hpo/samplers/blend.h"

#include <algorithm>
#include <cmath>

#include "hpo/samplers/tpe/tpe.h"
#include "tensor/error.h"

namespace ember::hpo {

namespace {
constexpr size_t kWindow = 8;  // results that count for a searcher's speed
void push_recent(std::vector<double>& r, double v) {
  r.push_back(v);
  if (r.size() > kWindow) r.erase(r.begin());
}
}  // namespace

BlendSampler::BlendSampler(BlendOptions opt)
    : opt_(std::move(opt)), rng_(mix_seed(opt_.seed, 0x626c656e64)),
      global_(std::make_shared<TpeSampler>(TpeOptions{.seed = opt_.seed, .multivariate = true, .space = opt_.space})) {
  if (!opt_.space || !opt_.space->is_flat()) return;  // plain TPE
  for (const auto& p : opt_.space->params()) {
    (p.dist.kind == ParamKind::kCategorical ? cat_names_ : num_names_).push_back(p.name);
    (p.dist.kind == ParamKind::kCategorical ? cat_dists_ : num_dists_).push_back(p.dist);
  }
  double lb = INFINITY;
  for (const auto& d : num_dists_)
    if (d.step > 0.0 && d.high > d.low) lb = std::min(lb, d.step / (d.high - d.low + d.step));
  step_lb_ = std::isfinite(lb) ? lb * std::sqrt(double(std::max<size_t>(num_dists_.size(), 1))) : 1e-4;
}

double BlendSampler::speed(const std::vector<double>& recent) const {
  if (recent.empty()) return INFINITY;  // untried: give it a turn
  double s = 0;
  for (double v : recent) s += v;
  return s / double(recent.size());
}

std::map<std::string, double> BlendSampler::sample_relative(const History& history, const FrozenTrial& trial) {
  if (num_names_.empty()) return global_->sample_relative(history, trial);
  // The searcher that improved fastest per trial lately: global first while it has fewer than 10
  // results (its startup), a young local search next (d + 1 turns), then the best recent gain per
  // trial; when nobody improved lately, the global search (it explores).
  int pick = -1;
  double best_speed = n_global_ < 10 ? INFINITY : speed(global_recent_);
  for (size_t i = 0; i < locals_.size() && best_speed != INFINITY; ++i) {
    const auto& l = locals_[i];
    const double s = l.turns < int64_t(num_names_.size()) + 1 ? INFINITY : speed(l.recent);
    if (s > best_speed) best_speed = s, pick = int(i);
  }
  if (best_speed <= 0) pick = -1;
  if (pick < 0) return global_->sample_relative(history, trial);
  Local& l = locals_[size_t(pick)];
  auto u = l.search->propose(trial.number, rng_);
  if (!u) {  // converged: the local search ends; this trial goes global
    locals_.erase(locals_.begin() + pick);
    for (auto it = owner_.begin(); it != owner_.end();)
      if (it->second == pick) it = owner_.erase(it);
      else (it->second > pick ? --it->second : 0), ++it;
    return global_->sample_relative(history, trial);
  }
  ++l.turns;
  owner_[trial.number] = pick;
  std::map<std::string, double> out;
  for (size_t i = 0; i < num_names_.size(); ++i) out[num_names_[i]] = num_dists_[i].from_unit((*u)[i]);
  for (size_t i = 0; i < cat_names_.size(); ++i) out[cat_names_[i]] = l.cats[i];
  return out;
}

double BlendSampler::sample_independent(const History& history, const FrozenTrial& trial, const std::string& name,
                                        const Distribution& dist) {
  return global_->sample_independent(history, trial, name, dist);
}

void BlendSampler::after_trial(const History& history, const FrozenTrial& trial) {
  global_->after_trial(history, trial);
  if (num_names_.empty()) return;
  const bool ok = trial.state == TrialState::kComplete && trial.value && std::isfinite(*trial.value);
  const std::optional<double> loss = ok ? std::optional(history.loss(*trial.value)) : std::nullopt;
  const double gain = loss && best_ ? std::max(0.0, *best_ - *loss) : 0.0;
  if (loss && (!best_ || *loss < *best_)) best_ = loss;
  const auto it = owner_.find(trial.number);
  if (it != owner_.end()) {  // a local search's trial
    Local& l = locals_[size_t(it->second)];
    l.search->on_result(trial.number, loss);
    push_recent(l.recent, gain);
    owner_.erase(it);
    return;
  }
  push_recent(global_recent_, gain);
  ++n_global_;
  if (!loss || int(locals_.size()) >= opt_.max_threads) return;
  // Start a local search at a good global point: among the best start_quantile of complete trials...
  std::vector<double> losses;
  for (const auto& t : history.trials())
    if (t->state == TrialState::kComplete && t->value) losses.push_back(history.loss(*t->value));
  if (losses.size() < 10) return;
  std::sort(losses.begin(), losses.end());
  if (*loss > losses[size_t(opt_.start_quantile * double(losses.size() - 1))]) return;
  std::vector<double> x(num_names_.size()), cats(cat_names_.size());
  for (size_t i = 0; i < num_names_.size(); ++i) {
    const auto p = trial.params.find(num_names_[i]);
    if (p == trial.params.end()) return;
    x[i] = num_dists_[i].to_unit(p->second);
  }
  for (size_t i = 0; i < cat_names_.size(); ++i) {
    const auto p = trial.params.find(cat_names_[i]);
    if (p == trial.params.end()) return;
    cats[i] = p->second;
  }
  // ... and away from every live local search (another start in the same basin wastes trials).
  for (const auto& l : locals_) {
    double d2 = 0;
    for (size_t i = 0; i < x.size(); ++i) d2 += (x[i] - l.search->incumbent()[i]) * (x[i] - l.search->incumbent()[i]);
    if (l.cats == cats && std::sqrt(d2) < 0.1 * std::sqrt(double(x.size()))) return;
  }
  Local l{std::make_unique<cfo::Flow2>(x, step_lb_), cats, x, *loss, {}, 0};
  // The start point is this trial: Flow2 proposes it first, and learns its known loss.
  const int64_t id = -1 - trial.number;
  (void)l.search->propose(id, rng_);
  l.search->on_result(id, loss);
  locals_.push_back(std::move(l));
}

}  // namespace ember::hpo

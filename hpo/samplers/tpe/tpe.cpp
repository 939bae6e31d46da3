#include "hpo/samplers/tpe/tpe.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "hpo/rng.h"
#include "hpo/samplers/random.h"
#include "hpo/samplers/tpe/parzen.h"

namespace ember::hpo {

namespace {

// optuna's default_weights: 1 for the newest 25, a linear ramp from 1/n up for older ones.
std::vector<double> ramp_weights(size_t n) {
  std::vector<double> w(n, 1.0);
  if (n < 25) return w;
  const size_t m = n - 25;
  for (size_t i = 0; i < m; ++i)
    w[i] = m == 1 ? 1.0 / static_cast<double>(n)
                  : 1.0 / static_cast<double>(n) + (1.0 - 1.0 / static_cast<double>(n)) * static_cast<double>(i) /
                                                        static_cast<double>(m - 1);
  return w;
}

size_t count_finished(const History& h) {
  size_t n = 0;
  for (const auto& t : h.trials()) n += t->state == TrialState::kComplete || t->state == TrialState::kPruned;
  return n;
}

}  // namespace

std::vector<std::pair<std::string, Distribution>> intersection_space(const History& history) {
  std::vector<std::pair<std::string, Distribution>> out;
  bool first = true;
  for (const auto& t : history.trials()) {
    if (t->state != TrialState::kComplete) continue;
    if (first) {
      out.assign(t->distributions.begin(), t->distributions.end());
      first = false;
      continue;
    }
    std::erase_if(out, [&](const auto& p) {
      const auto it = t->distributions.find(p.first);
      return it == t->distributions.end() || !(it->second == p.second);
    });
  }
  return out;
}

int TpeSampler::name_id(const std::string& name) {
  const auto it = name_ids_.find(name);
  if (it != name_ids_.end()) return it->second;
  const int id = static_cast<int>(name_ids_.size());
  name_ids_.emplace(name, id);
  return id;
}

const std::vector<TrialPtr>& TpeSampler::ranked(const History& history, int64_t trial_number) {
  if (cache_trial_ == trial_number && cache_history_size_ == history.trials().size()) return ranked_;
  // Complete trials by loss, then pruned ones by depth (deeper first) and last value; failed
  // and running trials carry no information.
  std::vector<std::pair<std::tuple<int, double, double>, TrialPtr>> keyed;
  for (const auto& t : history.trials()) {
    if (t->state == TrialState::kComplete && t->value.has_value()) {
      keyed.push_back({{0, history.loss(*t->value), 0.0}, t});
    } else if (t->state == TrialState::kPruned) {
      const auto last = t->last_intermediate();
      if (last.has_value() && std::isfinite(*last))
        keyed.push_back({{1, -static_cast<double>(t->intermediate.rbegin()->first), history.loss(*last)}, t});
      else
        keyed.push_back({{2, 0.0, 0.0}, t});
    }
  }
  std::stable_sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  ranked_.clear();
  ranked_flat_.clear();
  for (auto& [k, t] : keyed) {
    // A finished trial never changes, so its flattened parameters are cached by id.
    auto it = flat_cache_.find(t->id);
    if (it == flat_cache_.end()) {
      FlatTrial f{t->number, {}};
      for (const auto& [name, v] : t->params) f.values.emplace_back(name_id(name), v);
      it = flat_cache_.emplace(t->id, std::move(f)).first;
    }
    ranked_flat_.push_back(it->second);
    ranked_.push_back(std::move(t));
  }
  cache_trial_ = trial_number;
  cache_history_size_ = history.trials().size();
  return ranked_;
}

std::optional<std::vector<double>> TpeSampler::propose(const History& history, int64_t trial_number, uint64_t stream,
                                                       const std::vector<std::string>& names,
                                                       const std::vector<Distribution>& dists,
                                                       bool multivariate) {
  // Split all finished trials into the best gamma(n) ("below", l(x)) and the rest ("above",
  // g(x)) first, then keep those that carry every parameter (optuna's rule, so a conditional
  // parameter is judged against the whole study).
  const auto& order = ranked(history, trial_number);
  const size_t d = names.size();
  std::vector<int> name_ids;
  for (const auto& n : names) name_ids.push_back(name_id(n));
  const size_t n_below = std::min<size_t>(
      static_cast<size_t>(std::ceil(opt_.gamma_fraction * static_cast<double>(order.size()))),
      static_cast<size_t>(opt_.gamma_max));
  std::vector<std::pair<int64_t, size_t>> below_idx, above_idx;  // (trial number, row in xs)
  std::vector<double> xs;
  std::vector<double> row(d);
  for (size_t i = 0; i < order.size(); ++i) {
    const FlatTrial& t = ranked_flat_[i];
    bool ok = true;
    for (size_t k = 0; k < d && ok; ++k) {
      const auto v = t.find(name_ids[k]);
      ok = v.has_value() && dists[k].contains(*v);
      if (ok) row[k] = *v;
    }
    if (!ok) continue;
    (i < n_below ? below_idx : above_idx).emplace_back(t.number, xs.size() / std::max<size_t>(d, 1));
    xs.insert(xs.end(), row.begin(), row.end());
  }
  if (below_idx.size() + above_idx.size() < 2) return std::nullopt;
  auto build = [&](std::vector<std::pair<int64_t, size_t>>& idx) {
    std::sort(idx.begin(), idx.end());  // oldest first, for the weight ramp
    std::vector<double> obs;
    obs.reserve(idx.size() * d);
    for (const auto& [num, r] : idx)
      obs.insert(obs.end(), xs.begin() + static_cast<long>(r * d), xs.begin() + static_cast<long>((r + 1) * d));
    const bool wide = opt_.wide_every > 0 && trial_number % opt_.wide_every == opt_.wide_every - 1;
    const tpe::ParzenOptions po{.prior_weight = opt_.prior_weight, .magic_clip = opt_.magic_clip,
                                .multivariate = multivariate,
                                .bandwidth_factor = wide ? 0.2 : opt_.bandwidth_factor};
    return tpe::ParzenEstimator(dists, obs, ramp_weights(idx.size()), po);
  };
  const auto below = build(below_idx);
  const auto above = build(above_idx);
  Rng rng(mix_seed(opt_.seed, static_cast<uint64_t>(trial_number), stream));
  std::vector<double> best;
  double best_score = -INFINITY;
  for (int c = 0; c < opt_.n_ei_candidates; ++c) {
    auto x = below.sample(rng);
    const double score = below.log_pdf(x) - above.log_pdf(x);
    if (best.empty() || score > best_score) {
      best_score = score;
      best = std::move(x);
    }
  }
  return best;
}

std::map<std::string, double> TpeSampler::sample_relative(const History& history, const FrozenTrial& trial) {
  if (!opt_.multivariate) return {};
  if (count_finished(history) < static_cast<size_t>(std::max(opt_.n_startup_trials, 0))) return {};
  std::vector<std::string> names;
  std::vector<Distribution> dists;
  if (opt_.space) {
    for (const auto& p : opt_.space->params())
      if (!p.condition) names.push_back(p.name), dists.push_back(p.dist);
  } else {
    for (auto& [n, d] : intersection_space(history)) names.push_back(n), dists.push_back(d);
  }
  if (names.empty()) return {};
  const auto x = propose(history, trial.number, stable_hash("relative"), names, dists, true);
  if (!x) return {};
  std::map<std::string, double> out;
  for (size_t d = 0; d < names.size(); ++d) out[names[d]] = (*x)[d];
  return out;
}

double TpeSampler::sample_independent(const History& history, const FrozenTrial& trial, const std::string& name,
                                      const Distribution& dist) {
  if (count_finished(history) >= static_cast<size_t>(std::max(opt_.n_startup_trials, 0))) {
    if (const auto x = propose(history, trial.number, stable_hash(name), {name}, {dist}, false)) return (*x)[0];
  }
  return sample_uniform(opt_.seed, trial.number, name, dist);
}

}  // namespace ember::hpo

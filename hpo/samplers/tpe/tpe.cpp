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

std::optional<std::vector<double>> TpeSampler::propose(const History& history, int64_t trial_number, uint64_t stream,
                                                       const std::vector<std::string>& names,
                                                       const std::vector<Distribution>& dists,
                                                       bool multivariate) const {
  // Rank the finished trials that carry every parameter: complete by loss, then pruned by depth
  // and last value; failed and running trials carry no information.
  struct Obs {
    std::tuple<int, double, double> key;
    int64_t number;
    std::vector<double> x;
  };
  std::vector<Obs> obs;
  for (const auto& t : history.trials()) {
    std::tuple<int, double, double> key;
    if (t->state == TrialState::kComplete && t->value.has_value()) {
      key = {0, history.loss(*t->value), 0.0};
    } else if (t->state == TrialState::kPruned) {
      const auto last = t->last_intermediate();
      if (last.has_value() && std::isfinite(*last))
        key = {1, -static_cast<double>(t->intermediate.rbegin()->first), history.loss(*last)};
      else
        key = {2, 0.0, 0.0};
    } else {
      continue;
    }
    std::vector<double> x;
    bool ok = true;
    for (size_t d = 0; d < names.size() && ok; ++d) {
      const auto it = t->params.find(names[d]);
      ok = it != t->params.end() && dists[d].contains(it->second);
      if (ok) x.push_back(it->second);
    }
    if (ok) obs.push_back({key, t->number, std::move(x)});
  }
  if (obs.size() < 2) return std::nullopt;
  std::stable_sort(obs.begin(), obs.end(), [](const Obs& a, const Obs& b) { return a.key < b.key; });
  const size_t n_below = std::min<size_t>(
      static_cast<size_t>(std::ceil(opt_.gamma_fraction * static_cast<double>(obs.size()))),
      static_cast<size_t>(opt_.gamma_max));
  auto build = [&](size_t from, size_t to) {
    std::vector<const Obs*> part;
    for (size_t i = from; i < to; ++i) part.push_back(&obs[i]);
    std::sort(part.begin(), part.end(), [](const Obs* a, const Obs* b) { return a->number < b->number; });
    std::vector<std::vector<double>> xs;
    for (const Obs* o : part) xs.push_back(o->x);
    const tpe::ParzenOptions po{.prior_weight = opt_.prior_weight, .magic_clip = opt_.magic_clip,
                                .multivariate = multivariate};
    return tpe::ParzenEstimator(dists, xs, ramp_weights(xs.size()), po);
  };
  const auto below = build(0, n_below);
  const auto above = build(n_below, obs.size());
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

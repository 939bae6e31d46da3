#include "hpo/samplers/cfo/cfo.h"

#include <algorithm>
#include <cmath>

#include "hpo/samplers/random.h"
#include "hpo/samplers/tpe/tpe.h"

namespace ember::hpo {

CfoSampler::CfoSampler(CfoOptions opt) : opt_(std::move(opt)), rng_(mix_seed(opt_.seed, stable_hash("cfo"))) {
  if (opt_.space) {
    std::vector<std::pair<std::string, Distribution>> params;
    for (const auto& p : opt_.space->params())
      if (!p.condition) params.emplace_back(p.name, p.dist);
    init_space(params);
  }
}

void CfoSampler::init_space(const std::vector<std::pair<std::string, Distribution>>& params) {
  for (const auto& [name, dist] : params) {
    if (dist.kind == ParamKind::kCategorical) {
      cat_names_.push_back(name);
      cat_dists_.push_back(dist);
    } else {
      num_names_.push_back(name);
      num_dists_.push_back(dist);
    }
  }
  // Lower bound of the step: the width of one cell of the finest discrete dim (times sqrt d,
  // as FLAML), else 1e-4.
  double lb = INFINITY;
  for (const auto& d : num_dists_)
    if (d.step > 0.0 && d.high > d.low) lb = std::min(lb, d.step / (d.high - d.low + d.step));
  const double dim = static_cast<double>(std::max<size_t>(num_dists_.size(), 1));
  step_lb_ = std::isfinite(lb) ? lb * std::sqrt(dim) : 1e-4;
  // Arms: every combination of categorical choices, at most 16 (random ones beyond that).
  double combos = 1.0;
  for (const auto& d : cat_dists_) combos *= static_cast<double>(d.n_choices());
  if (combos <= 16.0) {
    for (size_t i = 0; i < static_cast<size_t>(combos); ++i) {
      Arm arm;
      size_t rest = i;
      for (const auto& d : cat_dists_) {
        arm.cats.push_back(static_cast<double>(rest % d.n_choices()));
        rest /= d.n_choices();
      }
      arms_.push_back(std::move(arm));
    }
  } else {
    for (int i = 0; i < 16; ++i) {
      Arm arm;
      for (const auto& d : cat_dists_) arm.cats.push_back(static_cast<double>(rng_.below(d.n_choices())));
      arms_.push_back(std::move(arm));
    }
  }
  // Visit arms in a seeded random order.
  for (size_t i = arms_.size(); i > 1; --i) std::swap(arms_[i - 1], arms_[rng_.below(i)]);
  ready_ = true;
}

std::vector<double> CfoSampler::random_start() {
  std::vector<double> u(num_dists_.size());
  for (auto& v : u) v = rng_.uniform();
  return u;
}

size_t CfoSampler::pick_arm() {
  // Successive halving over the arms: the surviving arms take turns until each has had
  // `round` proposals, then the worse half (by incumbent loss) is dropped and `round` doubles.
  // Every arm gets at least 3 (d + 1) proposals, so one that starts in a poor region of its
  // basin is not judged on a handful of points (FLAML's CFO can lock onto the first category
  // that looks good).
  if (round_ == 0) round_ = 3 * (static_cast<int64_t>(num_dists_.size()) + 1);
  for (;;) {
    size_t pick = arms_.size();
    for (size_t i = 0; i < arms_.size(); ++i)
      if (arms_[i].alive && arms_[i].n_proposed < round_ && (pick == arms_.size() || arms_[i].n_proposed < arms_[pick].n_proposed))
        pick = i;
    if (pick < arms_.size()) return pick;
    std::vector<size_t> alive;
    for (size_t i = 0; i < arms_.size(); ++i)
      if (arms_[i].alive) alive.push_back(i);
    if (alive.size() == 1) return alive[0];
    // Rank by incumbent loss (an arm without a result yet ranks last) and drop the worse half.
    std::stable_sort(alive.begin(), alive.end(), [&](size_t x, size_t y) {
      const auto& a = arms_[x].best_loss;
      const auto& b = arms_[y].best_loss;
      if (a.has_value() != b.has_value()) return a.has_value();
      return a.has_value() && *a < *b;
    });
    for (size_t k = (alive.size() + 1) / 2; k < alive.size(); ++k) arms_[alive[k]].alive = false;
    round_ *= 2;
  }
}

std::map<std::string, double> CfoSampler::sample_relative(const History& history, const FrozenTrial& trial) {
  if (!ready_) {
    const auto params = intersection_space(history);
    if (params.empty()) return {};  // learn the space from the first complete trial
    init_space(params);
  }
  ++n_proposals_;
  const size_t a = pick_arm();
  Arm& arm = arms_[a];
  ++arm.n_proposed;
  std::optional<std::vector<double>> u;
  const cfo::Flow2Limits limits{.stall = opt_.restart_stall, .flat = opt_.restart_flat};
  if (num_dists_.empty()) {
    u = std::vector<double>{};
  } else {
    if (!arm.search) arm.search = std::make_unique<cfo::Flow2>(random_start(), step_lb_, limits);
    u = arm.search->propose(trial.number, rng_);
    if (!u) {  // converged, stalled or flat: restart this arm's local search from a fresh random point
      arm.search = std::make_unique<cfo::Flow2>(random_start(), step_lb_, limits);
      u = arm.search->propose(trial.number, rng_);
    }
  }
  arm_of_trial_[trial.number] = a;
  std::map<std::string, double> out;
  for (size_t k = 0; k < num_dists_.size(); ++k) out[num_names_[k]] = num_dists_[k].from_unit((*u)[k]);
  for (size_t k = 0; k < cat_dists_.size(); ++k) out[cat_names_[k]] = arm.cats[k];
  return out;
}

double CfoSampler::sample_independent(const History&, const FrozenTrial& trial, const std::string& name,
                                      const Distribution& dist) {
  return sample_uniform(opt_.seed, trial.number, name, dist);
}

void CfoSampler::after_trial(const History& history, const FrozenTrial& trial) {
  const auto it = arm_of_trial_.find(trial.number);
  if (it == arm_of_trial_.end()) return;
  Arm& arm = arms_[it->second];
  arm_of_trial_.erase(it);
  std::optional<double> loss;
  if (trial.state == TrialState::kComplete && trial.value.has_value() && std::isfinite(*trial.value))
    loss = history.loss(*trial.value);
  if (arm.search) arm.search->on_result(trial.number, loss);
  if (loss.has_value() && (!arm.best_loss.has_value() || *loss < *arm.best_loss)) arm.best_loss = loss;
}

}  // namespace ember::hpo

#include "hpo/samplers/cfo/flow2.h"

#include <algorithm>
#include <cmath>

namespace ember::hpo::cfo {

Flow2::Flow2(std::vector<double> start, double step_lb, Flow2Limits limits)
    : incumbent_(std::move(start)), dim_(static_cast<int>(incumbent_.size())) {
  stall_limit_ = static_cast<int64_t>(std::ceil(limits.stall * (dim_ + 1)));
  flat_limit_ = static_cast<int64_t>(std::ceil(limits.flat * (dim_ + 1)));
  step_ub_ = std::sqrt(static_cast<double>(std::max(dim_, 1)));
  step_ = 0.1 * step_ub_;  // FLAML: STEPSIZE * step_ub
  step_lb_ = step_lb;
  dir_ = 1 << std::min(9, dim_);
  trunc_ = dim_ > 9 ? dim_ / 2 : 0;  // FLAML truncates directions only in high dimension
}

std::optional<std::vector<double>> Flow2::propose(int64_t id, Rng& rng) {
  if (!start_proposed_) {
    start_proposed_ = true;
    ++n_proposed_;
    pending_[id] = {incumbent_, step_, incumbent_version_};
    return incumbent_;
  }
  if (!converged_ && ((stall_limit_ > 0 && n_proposed_ - last_improvement_ >= stall_limit_) ||
                      (flat_limit_ > 0 && n_flat_ >= flat_limit_)))
    converged_ = true;
  if (converged_) return std::nullopt;
  ++n_proposed_;
  std::vector<double> move(incumbent_);
  if (direction_tried_) {
    // The opposite of the last direction.
    for (int i = 0; i < dim_; ++i) move[i] -= (*direction_tried_)[i];
    direction_tried_.reset();
  } else {
    // Uniform direction on the unit sphere (optionally on `trunc_` random coordinates), times step.
    std::vector<double> u(dim_);
    double norm = 0.0;
    for (auto& v : u) v = rng.normal();
    if (trunc_ > 0 && trunc_ < dim_) {
      std::vector<int> idx(dim_);
      for (int i = 0; i < dim_; ++i) idx[i] = i;
      for (int i = dim_; i > 1; --i) std::swap(idx[i - 1], idx[rng.below(static_cast<uint64_t>(i))]);
      for (int i = trunc_; i < dim_; ++i) u[idx[i]] = 0.0;
    }
    for (double v : u) norm += v * v;
    norm = std::sqrt(std::max(norm, 1e-300));
    for (auto& v : u) v = v / norm * step_;
    for (int i = 0; i < dim_; ++i) move[i] += u[i];
    direction_tried_ = std::move(u);
  }
  for (auto& v : move) v = std::clamp(v, 0.0, 1.0);  // project onto the box
  pending_[id] = {move, step_, incumbent_version_};
  ++n_proposed_by_incumbent_;
  if (n_proposed_by_incumbent_ == dir_) {
    // No improvement in dir_ proposals: shrink the step (or stop below the lower bound).
    n_proposed_by_incumbent_ -= 2;
    if (step_ < step_lb_) {
      converged_ = true;
    } else {
      old_k_ = k_ > 0 ? k_ : std::max<int64_t>(iter_best_, 1);
      k_ = n_proposed_ + 1;
      step_ *= std::sqrt(static_cast<double>(old_k_) / static_cast<double>(k_));
    }
  }
  return move;
}

void Flow2::on_result(int64_t id, std::optional<double> loss) {
  const auto it = pending_.find(id);
  if (it == pending_.end()) return;
  const Proposal p = std::move(it->second);
  pending_.erase(it);
  ++n_complete_;
  // Explicit comparison: a loss of exactly 0.0 is a result like any other (FLAML's `if obj:` is not).
  if (!loss.has_value() || !std::isfinite(*loss)) return;
  if (best_loss_.has_value() && *loss == *best_loss_) ++n_flat_;
  else n_flat_ = 0;
  if (!best_loss_.has_value() || *loss < *best_loss_) {
    const bool first = !best_loss_.has_value();
    best_loss_ = loss;
    incumbent_ = p.x;
    ++incumbent_version_;
    if (first) return;  // the start point's own result
    step_ = p.step;
    n_proposed_by_incumbent_ = 0;
    direction_tried_.reset();
    if (k_ > 0 && old_k_ > 0) step_ *= std::sqrt(static_cast<double>(k_) / static_cast<double>(old_k_));
    step_ = std::min(step_, step_ub_);
    iter_best_ = n_complete_;
    last_improvement_ = n_proposed_;
    if (trunc_ > 0) trunc_ = std::min(trunc_ + 1, dim_);
  } else if (trunc_ > 0) {
    trunc_ = std::max(trunc_ >> 1, 1);
  }
}

}  // namespace ember::hpo::cfo

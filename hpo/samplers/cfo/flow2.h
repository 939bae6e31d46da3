// Flow2: FLAML's FLOW^2 randomized direct search (Wu et al., "Frugal Optimization for
// Cost-related Hyperparameters", AAAI 2021) as an explicit state machine over the unit cube.
// Legend: d numeric dims. From the incumbent x it proposes x + step*u (u uniform on the unit
// sphere, optionally truncated to a few coordinates) and, if that fails, x - step*u. After
// 2^min(9,d) proposals without improvement the step shrinks by sqrt(K_old / K); an improvement
// moves the incumbent and grows the step back; below the lower bound the search has converged.
// Two extra stopping rules, so a caller can restart elsewhere (both count proposals, in units of
// d + 1; 0 turns a rule off): `stall` = no improvement of the incumbent for that many proposals
// (a basin that has stopped paying), `flat` = that many results in a row exactly equal to the
// incumbent's (a plateau: FLOW^2 would shrink its step there for hundreds of trials).
// This class only keeps that state; CfoSampler (cfo.h) maps it onto trials.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "hpo/rng.h"

namespace ember::hpo::cfo {

struct Flow2Limits {
  double stall = 0, flat = 0;  // in units of d + 1 proposals; 0: off
};

class Flow2 {
 public:
  // `start` in [0,1]^d; `step_lb` the smallest useful step (resolution of discrete dims).
  Flow2(std::vector<double> start, double step_lb, Flow2Limits limits = {});

  // The next point to evaluate (the start point first), or nullopt once converged.
  std::optional<std::vector<double>> propose(int64_t id, Rng& rng);
  // The loss of proposal `id` (nullopt: the trial failed or was pruned).
  void on_result(int64_t id, std::optional<double> loss);

  bool converged() const { return converged_; }
  std::optional<double> best_loss() const { return best_loss_; }
  const std::vector<double>& incumbent() const { return incumbent_; }
  int dims() const { return dim_; }

 private:
  struct Proposal {
    std::vector<double> x;
    double step;
    int incumbent_version;
  };
  std::vector<double> incumbent_;
  std::optional<double> best_loss_;
  bool start_proposed_ = false;
  int dim_;
  double step_, step_ub_, step_lb_;
  int dir_;                // proposals per incumbent before the step shrinks
  int64_t k_ = 0, old_k_ = 0;
  int64_t n_proposed_ = 0, n_complete_ = 0, iter_best_ = 0;
  int64_t stall_limit_ = 0, flat_limit_ = 0;  // proposals (0: off)
  int64_t last_improvement_ = 0;             // n_proposed_ when the incumbent last improved
  int64_t n_flat_ = 0;                       // results in a row equal to the incumbent's loss
  int n_proposed_by_incumbent_ = 0;
  int trunc_ = 0;  // 0: full-dimensional directions
  int incumbent_version_ = 0;
  bool converged_ = false;
  std::optional<std::vector<double>> direction_tried_;
  std::map<int64_t, Proposal> pending_;
};

}  // namespace ember::hpo::cfo

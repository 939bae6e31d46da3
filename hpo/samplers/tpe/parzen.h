// ParzenEstimator: the kernel mixture at the heart of TPE (Bergstra et al. 2011; the details
// follow optuna's implementation). It models a set of observations over D parameters, in
// the unit cube of each parameter (space.h's to_unit, so log scale is already applied):
//   numeric dims: truncated normal kernels on [0,1]; ints and stepped floats are scored by the
//                 mass of their cell, so a discrete value is a bin, not a point;
//   categorical:  each observation puts mass 1 on its choice plus prior_weight/n on every choice.
// One extra "prior" component (centre 0.5, width 1, uniform choices) keeps the mixture broad.
// Univariate mode (one dim) uses optuna's neighbour-distance bandwidths; multivariate mode
// (several dims, one kernel = one observation across all dims) uses Scott's rule.
#pragma once

#include <vector>

#include "hpo/rng.h"
#include "hpo/space.h"

namespace ember::hpo::tpe {

struct ParzenOptions {
  double prior_weight = 1.0;
  bool magic_clip = true;
  bool multivariate = false;
  double bandwidth_factor = 0.2;  // multivariate: Scott's rule constant
};

class ParzenEstimator {
 public:
  // obs[i * D + d]: internal value of dim d in observation i (row-major, n = weights.size()
  // observations); weights[i]: its weight (> 0).
  ParzenEstimator(const std::vector<Distribution>& dims, const std::vector<double>& obs,
                  const std::vector<double>& weights, const ParzenOptions& opt);

  // A point drawn from the mixture, as internal values (legal for each distribution).
  std::vector<double> sample(Rng& rng) const;
  // log density (log mass for discrete dims) of a point of internal values.
  double log_pdf(const std::vector<double>& x) const;

 private:
  static constexpr double kNarrow = 0.02;
  void build_window();

  std::vector<Distribution> dims_;
  std::vector<double> log_w_;                 // [K] log mixture weights (K = observations + prior)
  std::vector<double> w_cum_;                 // [K] cumulative weights for sampling
  std::vector<std::vector<double>> mu_;       // [D][K] numeric centres (unit space)
  std::vector<std::vector<double>> sigma_;    // [D][K]
  std::vector<std::vector<double>> log_z_;    // [D][K] log truncation mass on [0,1]
  std::vector<std::vector<double>> inv_sigma_;  // [D][K] 1 / sigma
  std::vector<std::vector<double>> log_norm_;   // [D][K] -log(sigma) - log(sqrt(2 pi)) - log_z
  std::vector<std::vector<double>> cat_log_;  // [D][K * n] categorical log probabilities
  // Univariate continuous fast path: narrow components (sigma <= kNarrow) sorted by centre, so
  // a point only visits those within 9 sigma; wide ones are always visited.
  bool windowed_ = false;
  std::vector<double> win_mu_, win_inv_sigma_, win_lw_;  // narrow, sorted by mu; lw = log_w + log_norm
  std::vector<double> wide_mu_, wide_inv_sigma_, wide_lw_;
  // Several continuous dims: component-major copies [K][D] so one pass keeps a component's
  // sum in a register instead of streaming the [K] partial sums through memory D times.
  bool component_major_ = false;
  std::vector<double> cm_mu_, cm_inv_sigma_, cm_log_norm_;
};

}  // namespace ember::hpo::tpe

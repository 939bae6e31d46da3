// GpModel: a Gaussian process regressor with a Matern-5/2 ARD kernel, for the GP sampler.
// Legend: n observations, D dims. Inputs live in the unit cube; a categorical dim holds the
// choice index and contributes [x != x'] / l^2 to the squared distance (a Hamming kernel).
//   k(x, x') = s2 * (1 + sqrt5 r + 5/3 r^2) exp(-sqrt5 r),  r^2 = sum_d dist_d(x, x')^2 / l_d^2
// Targets are standardized by the caller. Hyperparameters theta = [log l_1..D, log s2,
// log noise] maximize the log marginal likelihood plus weak priors (log-normal on the
// lengthscales, as in Hvarfner et al. 2024 / BoTorch; a gamma prior that keeps noise small),
// by bounded L-BFGS with the analytic gradient
//   d LML / d theta = 1/2 tr((alpha alpha^T - K^{-1}) dK/dtheta),  alpha = K^{-1} y.
#pragma once

#include <vector>

namespace ember::hpo::gp {

class GpModel {
 public:
  // x: n*D row-major; y: n standardized targets. `theta0` (if non-empty) warm-starts the fit.
  // `max_noise` bounds the noise variance (standardized units): 0.5 in general, about 3e-4 for
  // a deterministic objective, where it keeps the model from explaining structure as noise.
  void fit(const std::vector<double>& x, const std::vector<double>& y, const std::vector<bool>& is_cat,
           const std::vector<double>& theta0, int max_iter, double max_noise = 0.5);

  // Posterior mean and variance (latent, noise excluded) at one point; with `grad_mean` and
  // `grad_var` non-null, also their gradients in every dim (0 for categorical dims).
  void predict(const double* x, double& mean, double& var, double* grad_mean, double* grad_var) const;

  const std::vector<double>& theta() const { return theta_; }
  int n() const { return n_; }
  int dims() const { return d_; }

 private:
  double neg_log_posterior(const std::vector<double>& theta, std::vector<double>& grad);
  bool factorize(const std::vector<double>& theta);  // fills l_, alpha_ for theta

  int n_ = 0, d_ = 0;
  std::vector<double> x_, y_;
  std::vector<bool> is_cat_;
  std::vector<double> sq_;  // [D][n*n] per-dim squared distances (precomputed for the fit)
  std::vector<double> theta_;
  std::vector<double> inv_ls2_;  // [D] 1 / l_d^2
  double s2_ = 1.0, noise_ = 1e-6;
  std::vector<double> l_, alpha_;  // Cholesky factor of K + noise I; K^{-1} y
};

// Lower and upper bounds of theta for D dims.
void gp_theta_bounds(int d, double max_noise, std::vector<double>& lower, std::vector<double>& upper);
std::vector<double> gp_theta_default(int d);

}  // namespace ember::hpo::gp

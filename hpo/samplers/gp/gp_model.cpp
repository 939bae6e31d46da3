#include "hpo/samplers/gp/gp_model.h"

#include <algorithm>
#include <cmath>

#include "hpo/samplers/gp/linalg.h"
#include "tensor/error.h"

namespace ember::hpo::gp {

namespace {

constexpr double kSqrt5 = 2.23606797749978969641;

// Priors, as log densities over theta (constants dropped):
//   log l ~ Normal(sqrt2 + log(D)/2, sqrt3)   (lengthscales grow with dimension)
//   log s2 ~ Normal(0, 1.5)                    (targets are standardized)
//   noise ~ Gamma(1.1, rate 30), density in log noise: 1.1 log(noise) - 30 noise
double log_prior(const std::vector<double>& th, int d, std::vector<double>& grad) {
  const double mu = M_SQRT2 + 0.5 * std::log(static_cast<double>(d)), var = 3.0;
  double lp = 0.0;
  for (int i = 0; i < d; ++i) {
    lp += -0.5 * (th[i] - mu) * (th[i] - mu) / var;
    grad[i] = -(th[i] - mu) / var;
  }
  lp += -0.5 * th[d] * th[d] / 2.25;
  grad[d] = -th[d] / 2.25;
  const double noise = std::exp(th[d + 1]);
  lp += 1.1 * th[d + 1] - 30.0 * noise;
  grad[d + 1] = 1.1 - 30.0 * noise;
  return lp;
}

}  // namespace

void gp_theta_bounds(int d, double max_noise, std::vector<double>& lower, std::vector<double>& upper) {
  lower.assign(d + 2, std::log(0.005));
  upper.assign(d + 2, std::log(50.0));
  lower[d] = std::log(0.05);
  upper[d] = std::log(20.0);
  lower[d + 1] = std::log(1e-6);
  upper[d + 1] = std::log(std::max(max_noise, 2e-6));
}

std::vector<double> gp_theta_default(int d) {
  std::vector<double> th(d + 2, std::log(0.5));
  th[d] = 0.0;
  th[d + 1] = std::log(1e-4);
  return th;
}

bool GpModel::factorize(const std::vector<double>& theta) {
  const int n = n_, d = d_;
  inv_ls2_.resize(d);
  for (int k = 0; k < d; ++k) inv_ls2_[k] = std::exp(-2.0 * theta[k]);
  s2_ = std::exp(theta[d]);
  noise_ = std::exp(theta[d + 1]);
  l_.assign(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      double r2 = 0.0;
      for (int k = 0; k < d; ++k) r2 += sq_[static_cast<size_t>(k) * n * n + static_cast<size_t>(i) * n + j] * inv_ls2_[k];
      const double r = std::sqrt(r2);
      l_[static_cast<size_t>(i) * n + j] = s2_ * (1.0 + kSqrt5 * r + 5.0 / 3.0 * r2) * std::exp(-kSqrt5 * r);
    }
    l_[static_cast<size_t>(i) * n + i] += noise_;
  }
  if (!cholesky(l_, n)) return false;
  alpha_ = y_;
  solve_lower(l_, n, alpha_.data());
  solve_lower_t(l_, n, alpha_.data());
  return true;
}

double GpModel::neg_log_posterior(const std::vector<double>& theta, std::vector<double>& grad) {
  const int n = n_, d = d_;
  if (!factorize(theta)) {
    std::fill(grad.begin(), grad.end(), 0.0);
    return INFINITY;
  }
  // LML = -1/2 y^T alpha - sum log L_ii - n/2 log 2 pi
  double lml = 0.0;
  for (int i = 0; i < n; ++i) lml += -0.5 * y_[i] * alpha_[i] - std::log(l_[static_cast<size_t>(i) * n + i]);
  // W = alpha alpha^T - K^{-1}; dLML/dtheta = 1/2 sum_ij W_ij dK_ij/dtheta.
  std::vector<double> w = cholesky_inverse(l_, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) w[static_cast<size_t>(i) * n + j] = alpha_[i] * alpha_[j] - w[static_cast<size_t>(i) * n + j];
  std::vector<double> g(d + 2, 0.0);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j <= i; ++j) {
      const size_t ij = static_cast<size_t>(i) * n + j;
      const double wij = (i == j ? 0.5 : 1.0) * w[ij];  // both triangles, diagonal once
      double r2 = 0.0;
      for (int k = 0; k < d; ++k) r2 += sq_[static_cast<size_t>(k) * n * n + ij] * inv_ls2_[k];
      const double r = std::sqrt(r2), e = std::exp(-kSqrt5 * r);
      const double kij = s2_ * (1.0 + kSqrt5 * r + 5.0 / 3.0 * r2) * e;
      // dk/d(log l_k) = 5/3 s2 (1 + sqrt5 r) e^{-sqrt5 r} * dist_k^2 / l_k^2
      const double c = 5.0 / 3.0 * s2_ * (1.0 + kSqrt5 * r) * e * wij;
      for (int k = 0; k < d; ++k) g[k] += c * sq_[static_cast<size_t>(k) * n * n + ij] * inv_ls2_[k];
      g[d] += wij * kij;  // dk/d(log s2) = k
      if (i == j) g[d + 1] += wij * noise_;
    }
  }
  std::vector<double> pg(d + 2);
  const double lp = log_prior(theta, d, pg);
  for (int k = 0; k < d + 2; ++k) grad[k] = -(g[k] + pg[k]);  // g already holds 1/2 tr(...) x 2 / 2
  return -(lml + lp);
}

void GpModel::fit(const std::vector<double>& x, const std::vector<double>& y, const std::vector<bool>& is_cat,
                  const std::vector<double>& theta0, int max_iter, double max_noise) {
  n_ = static_cast<int>(y.size());
  d_ = static_cast<int>(is_cat.size());
  x_ = x;
  y_ = y;
  is_cat_ = is_cat;
  const int n = n_, d = d_;
  EMBER_ASSERT(static_cast<int>(x.size()) == n * d, "gp: x has {} values for n={} d={}", x.size(), n, d);
  sq_.assign(static_cast<size_t>(d) * n * n, 0.0);
  for (int k = 0; k < d; ++k)
    for (int i = 0; i < n; ++i)
      for (int j = 0; j <= i; ++j) {
        const double a = x[static_cast<size_t>(i) * d + k], b = x[static_cast<size_t>(j) * d + k];
        const double v = is_cat[k] ? (a != b ? 1.0 : 0.0) : (a - b) * (a - b);
        sq_[static_cast<size_t>(k) * n * n + static_cast<size_t>(i) * n + j] = v;
      }
  LbfgsOptions opt;
  opt.max_iter = max_iter;
  opt.grad_tol = 1e-3;
  opt.f_tol = 1e-6;
  gp_theta_bounds(d, max_noise, opt.lower, opt.upper);
  auto f = [&](const std::vector<double>& th, std::vector<double>& g) { return neg_log_posterior(th, g); };
  // Start from the warm start or the default, whichever scores better.
  std::vector<double> start = gp_theta_default(d), grad(d + 2);
  for (size_t k = 0; k < start.size(); ++k) start[k] = std::clamp(start[k], opt.lower[k], opt.upper[k]);
  if (static_cast<int>(theta0.size()) == d + 2) {
    std::vector<double> g2(d + 2);
    if (f(theta0, g2) < f(start, grad)) start = theta0;
  }
  lbfgs_minimize(f, start, opt);
  theta_ = start;
  if (!factorize(theta_)) {  // numerically hopeless: more noise until it factorizes
    for (double bump = 1e-4; bump < 1.0 && !factorize(theta_); bump *= 10) theta_[d + 1] = std::log(bump);
    EMBER_ASSERT(factorize(theta_), "gp: kernel matrix of {} points is not positive definite", n);
  }
  sq_.clear();
  sq_.shrink_to_fit();
}

void GpModel::predict(const double* x, double& mean, double& var, double* grad_mean, double* grad_var) const {
  const int n = n_, d = d_;
  std::vector<double> kx(n), dk(grad_mean ? static_cast<size_t>(n) * d : 0);
  for (int i = 0; i < n; ++i) {
    const double* xi = &x_[static_cast<size_t>(i) * d];
    double r2 = 0.0;
    for (int k = 0; k < d; ++k) {
      const double v = is_cat_[k] ? (x[k] != xi[k] ? 1.0 : 0.0) : (x[k] - xi[k]) * (x[k] - xi[k]);
      r2 += v * inv_ls2_[k];
    }
    const double r = std::sqrt(r2), e = std::exp(-kSqrt5 * r);
    kx[i] = s2_ * (1.0 + kSqrt5 * r + 5.0 / 3.0 * r2) * e;
    if (grad_mean) {
      // dk/dx_k = -5/3 s2 (1 + sqrt5 r) e^{-sqrt5 r} (x_k - xi_k) / l_k^2
      const double c = -5.0 / 3.0 * s2_ * (1.0 + kSqrt5 * r) * e;
      for (int k = 0; k < d; ++k)
        dk[static_cast<size_t>(i) * d + k] = is_cat_[k] ? 0.0 : c * (x[k] - xi[k]) * inv_ls2_[k];
    }
  }
  mean = 0.0;
  for (int i = 0; i < n; ++i) mean += kx[i] * alpha_[i];
  std::vector<double> v(kx);
  solve_lower(l_, n, v.data());
  double vv = 0.0;
  for (double t : v) vv += t * t;
  var = std::max(s2_ - vv, 1e-12);
  if (grad_mean) {
    // dmean/dx = sum_i alpha_i dk_i/dx;  dvar/dx = -2 sum_i (K^{-1} k)_i dk_i/dx
    solve_lower_t(l_, n, v.data());
    for (int k = 0; k < d; ++k) {
      grad_mean[k] = 0.0;
      grad_var[k] = 0.0;
    }
    for (int i = 0; i < n; ++i) {
      const double* dki = &dk[static_cast<size_t>(i) * d];
      for (int k = 0; k < d; ++k) {
        grad_mean[k] += alpha_[i] * dki[k];
        grad_var[k] += -2.0 * v[i] * dki[k];
      }
    }
  }
}

}  // namespace ember::hpo::gp

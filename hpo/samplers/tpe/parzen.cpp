#include "hpo/samplers/tpe/parzen.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <cmath>
#include <numeric>

#include "tensor/error.h"

namespace ember::hpo::tpe {

namespace {

constexpr double kLogSqrt2Pi = 0.91893853320467274178;

// log(Phi(b) - Phi(a)) for a < b, accurate in both tails.
double log_ndtr_diff(double a, double b) {
  double d;
  if (a > 0.0) d = 0.5 * (std::erfc(a / M_SQRT2) - std::erfc(b / M_SQRT2));
  else d = 0.5 * (std::erfc(-b / M_SQRT2) - std::erfc(-a / M_SQRT2));
  return std::log(std::max(d, 1e-300));
}

// Cell [lo, hi] (unit space) occupied by the discrete internal value v.
std::pair<double, double> unit_cell(const Distribution& d, double v) {
  if (d.kind == ParamKind::kInt && d.log) {
    const double lo = std::log(d.low - 0.5), hi = std::log(d.high + 0.5);
    return {(std::log(v - 0.5) - lo) / (hi - lo), (std::log(v + 0.5) - lo) / (hi - lo)};
  }
  const double c = d.to_unit(v);
  const double half = 0.5 * d.step / (d.high - d.low + d.step);
  return {c - half, c + half};
}

bool is_discrete(const Distribution& d) { return d.kind != ParamKind::kCategorical && d.step > 0.0; }

// exp(x) for x <= 0 to ~1e-9 relative (plenty for comparing densities), branch-free:
// x = n ln2 + r (|r| <= ln2/2), e^r by a degree-8 Taylor polynomial (error < 0.35^9/9! ~ 2e-10),
// 2^n built in the exponent bits (0x1.8p52 puts round(x/ln2) in the low mantissa bits).
inline double exp_nonpositive(double x) {
  x = x < -708.0 ? -708.0 : x;
  const double nd = x * 1.4426950408889634 + 0x1.8p52;
  uint64_t bits;
  std::memcpy(&bits, &nd, sizeof bits);
  const double n = nd - 0x1.8p52;
  const double r = (x - n * 6.93147180369123816490e-01) - n * 1.90821492927058770002e-10;
  // Estrin-style split keeps the dependency chain short.
  const double r2 = r * r, r4 = r2 * r2;
  const double p01 = 1.0 + r, p23 = 0.5 + r * (1.0 / 6.0), p45 = 1.0 / 24.0 + r * (1.0 / 120.0),
               p67 = 1.0 / 720.0 + r * (1.0 / 5040.0);
  const double p = (p01 + r2 * p23) + r4 * ((p45 + r2 * p67) + r4 * (1.0 / 40320.0));
  const uint64_t scale_bits = (bits + 1023) << 52;
  double scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  return p * scale;
}

}  // namespace

ParzenEstimator::ParzenEstimator(const std::vector<Distribution>& dims, const std::vector<double>& obs,
                                 const std::vector<double>& weights, const ParzenOptions& opt)
    : dims_(dims) {
  const size_t n = weights.size(), K = n + 1, D = dims.size();
  EMBER_ASSERT(obs.size() == n * D, "parzen: {} values for {} observations of {} dims", obs.size(), n, D);
  // Mixture weights: observations, then the prior.
  std::vector<double> w(weights);
  w.push_back(opt.prior_weight);
  const double wsum = std::accumulate(w.begin(), w.end(), 0.0);
  double acc = 0.0;
  for (double x : w) {
    log_w_.push_back(std::log(x / wsum));
    acc += x / wsum;
    w_cum_.push_back(acc);
  }
  mu_.assign(D, {});
  sigma_.assign(D, {});
  log_z_.assign(D, {});
  inv_sigma_.assign(D, {});
  log_norm_.assign(D, {});
  cat_log_.assign(D, {});
  for (size_t d = 0; d < D; ++d) {
    const Distribution& dist = dims[d];
    if (dist.kind == ParamKind::kCategorical) {
      const size_t nc = dist.n_choices();
      auto& table = cat_log_[d];
      table.assign(K * nc, 0.0);
      for (size_t k = 0; k < K; ++k) {
        // optuna: an observation's kernel is prior_weight / K on every choice plus 1 on its own.
        std::vector<double> p(nc, k < n ? opt.prior_weight / static_cast<double>(K) : 1.0);
        if (k < n) p[static_cast<size_t>(obs[k * D + d])] += 1.0;
        const double s = std::accumulate(p.begin(), p.end(), 0.0);
        for (size_t c = 0; c < nc; ++c) table[k * nc + c] = std::log(p[c] / s);
      }
      continue;
    }
    auto& mu = mu_[d];
    auto& sigma = sigma_[d];
    for (size_t i = 0; i < n; ++i) mu.push_back(dist.to_unit(obs[i * D + d]));
    if (opt.multivariate) {
      // Scott's rule: bandwidth_factor * n^(-1/(D+4)) of the range (optuna's factor: 0.2).
      const double s = opt.bandwidth_factor * std::pow(std::max<double>(static_cast<double>(n), 1.0), -1.0 / (static_cast<double>(D) + 4.0));
      sigma.assign(n, s);
    } else {
      // Distance to the farther neighbour among the sorted centres (prior centre included, the
      // ends of [0,1] as fences); the outermost use their inner neighbour only.
      std::vector<double> with_prior(mu);
      with_prior.push_back(0.5);
      std::vector<size_t> idx(with_prior.size());
      std::iota(idx.begin(), idx.end(), 0);
      std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return with_prior[a] < with_prior[b]; });
      std::vector<double> s(with_prior.size() + 2);
      s.front() = 0.0;
      s.back() = 1.0;
      for (size_t i = 0; i < idx.size(); ++i) s[i + 1] = with_prior[idx[i]];
      std::vector<double> sorted_sigma(idx.size());
      for (size_t i = 0; i < idx.size(); ++i) sorted_sigma[i] = std::max(s[i + 1] - s[i], s[i + 2] - s[i + 1]);
      if (s.size() >= 4) {
        sorted_sigma.front() = s[2] - s[1];
        sorted_sigma.back() = s[s.size() - 2] - s[s.size() - 3];
      }
      sigma.assign(n, 0.0);
      for (size_t i = 0; i < idx.size(); ++i)
        if (idx[i] < n) sigma[idx[i]] = sorted_sigma[i];
    }
    const double min_sigma = opt.magic_clip ? 1.0 / std::min(100.0, 1.0 + static_cast<double>(K)) : 1e-12;
    for (auto& s : sigma) s = std::clamp(s, min_sigma, 1.0);
    mu.push_back(0.5);  // prior
    sigma.push_back(1.0);
    double log_sigma = 0.0, last_sigma = -1.0;
    for (size_t k = 0; k < K; ++k) {
      // A kernel more than 8.5 sigma inside both ends loses < 1e-16 of its mass: log Z = 0.
      const double lo = (0.0 - mu[k]) / sigma[k], hi = (1.0 - mu[k]) / sigma[k];
      log_z_[d].push_back(lo < -8.5 && hi > 8.5 ? 0.0 : log_ndtr_diff(lo, hi));
      if (sigma[k] != last_sigma) last_sigma = sigma[k], log_sigma = std::log(sigma[k]);  // often shared
      inv_sigma_[d].push_back(1.0 / sigma[k]);
      log_norm_[d].push_back(-log_sigma - kLogSqrt2Pi - log_z_[d][k]);
    }
  }
  if (D >= 2 && std::all_of(dims.begin(), dims.end(), [](const Distribution& x) {
        return x.kind != ParamKind::kCategorical && !is_discrete(x);
      })) {
    component_major_ = true;
    for (size_t k = 0; k < K; ++k)
      for (size_t d = 0; d < D; ++d) {
        cm_mu_.push_back(mu_[d][k]);
        cm_inv_sigma_.push_back(inv_sigma_[d][k]);
        cm_log_norm_.push_back(log_norm_[d][k]);
      }
  }
  // Only worth it for many components of one continuous dim.
  if (D == 1 && dims[0].kind != ParamKind::kCategorical && !is_discrete(dims[0]) && K > 64) build_window();
}

void ParzenEstimator::build_window() {
  const size_t K = log_w_.size();
  std::vector<size_t> idx;
  for (size_t k = 0; k < K; ++k) {
    const double lw = log_w_[k] + log_norm_[0][k];
    if (sigma_[0][k] <= kNarrow) {
      idx.push_back(k);
    } else {
      wide_mu_.push_back(mu_[0][k]);
      wide_inv_sigma_.push_back(inv_sigma_[0][k]);
      wide_lw_.push_back(lw);
    }
  }
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return mu_[0][a] < mu_[0][b]; });
  for (size_t k : idx) {
    win_mu_.push_back(mu_[0][k]);
    win_inv_sigma_.push_back(inv_sigma_[0][k]);
    win_lw_.push_back(log_w_[k] + log_norm_[0][k]);
  }
  windowed_ = true;
}

std::vector<double> ParzenEstimator::sample(Rng& rng) const {
  const double r = rng.uniform();
  size_t k = static_cast<size_t>(std::lower_bound(w_cum_.begin(), w_cum_.end(), r) - w_cum_.begin());
  k = std::min(k, w_cum_.size() - 1);
  std::vector<double> x(dims_.size());
  for (size_t d = 0; d < dims_.size(); ++d) {
    const Distribution& dist = dims_[d];
    if (dist.kind == ParamKind::kCategorical) {
      const size_t nc = dist.n_choices();
      double u = rng.uniform(), c = 0.0;
      size_t choice = nc - 1;
      for (size_t j = 0; j < nc; ++j) {
        c += std::exp(cat_log_[d][k * nc + j]);
        if (u < c) {
          choice = j;
          break;
        }
      }
      x[d] = static_cast<double>(choice);
      continue;
    }
    // Truncated normal on [0,1] by rejection (acceptance >= ~1/3 since sigma <= 1, mu in [0,1]).
    double u = 0.5;
    for (int tries = 0; tries < 100; ++tries) {
      u = mu_[d][k] + sigma_[d][k] * rng.normal();
      if (u >= 0.0 && u <= 1.0) break;
    }
    x[d] = dist.from_unit(std::clamp(u, 0.0, 1.0));
  }
  return x;
}

double ParzenEstimator::log_pdf(const std::vector<double>& x) const {
  const size_t K = log_w_.size();
  if (windowed_) {
    // Components with |u - mu| > 9 sigma sit e^-40 below their peak: skipped (see the header).
    const double u = dims_[0].to_unit(x[0]);
    thread_local std::vector<double> lw;
    lw.clear();
    const auto lo = std::lower_bound(win_mu_.begin(), win_mu_.end(), u - 9.0 * kNarrow) - win_mu_.begin();
    const auto hi = std::upper_bound(win_mu_.begin(), win_mu_.end(), u + 9.0 * kNarrow) - win_mu_.begin();
    for (auto k = lo; k < hi; ++k) {
      const double z = (u - win_mu_[k]) * win_inv_sigma_[k];
      lw.push_back(win_lw_[k] - 0.5 * z * z);
    }
    for (size_t k = 0; k < wide_mu_.size(); ++k) {
      const double z = (u - wide_mu_[k]) * wide_inv_sigma_[k];
      lw.push_back(wide_lw_[k] - 0.5 * z * z);
    }
    const double m = *std::max_element(lw.begin(), lw.end());
    double sum = 0.0;
    for (double v : lw)
      if (v > m - 25.0) sum += exp_nonpositive(v - m);
    return m + std::log(sum);
  }
  // Per-component log density, summed over dims, then log-sum-exp over components.
  thread_local std::vector<double> lp;
  lp.assign(log_w_.begin(), log_w_.end());
  const size_t D = dims_.size();
  if (component_major_) {
    thread_local std::vector<double> u;
    u.resize(D);
    for (size_t d = 0; d < D; ++d) u[d] = dims_[d].to_unit(x[d]);
    for (size_t k = 0; k < K; ++k) {
      const double* mu = &cm_mu_[k * D];
      const double* is = &cm_inv_sigma_[k * D];
      const double* ln = &cm_log_norm_[k * D];
      double acc = lp[k];
      for (size_t d = 0; d < D; ++d) {
        const double z = (u[d] - mu[d]) * is[d];
        acc += ln[d] - 0.5 * z * z;
      }
      lp[k] = acc;
    }
  }
  for (size_t d = 0; d < D && !component_major_; ++d) {
    const Distribution& dist = dims_[d];
    if (dist.kind == ParamKind::kCategorical) {
      const size_t nc = dist.n_choices(), c = static_cast<size_t>(x[d]);
      for (size_t k = 0; k < K; ++k) lp[k] += cat_log_[d][k * nc + c];
    } else if (is_discrete(dist)) {
      const auto [lo, hi] = unit_cell(dist, x[d]);
      for (size_t k = 0; k < K; ++k)
        lp[k] += log_ndtr_diff((lo - mu_[d][k]) / sigma_[d][k], (hi - mu_[d][k]) / sigma_[d][k]) - log_z_[d][k];
    } else {
      const double u = dist.to_unit(x[d]);
      const double* mu = mu_[d].data();
      const double* inv_sigma = inv_sigma_[d].data();
      const double* log_norm = log_norm_[d].data();
      for (size_t k = 0; k < K; ++k) {
        const double z = (u - mu[k]) * inv_sigma[k];
        lp[k] += log_norm[k] - 0.5 * z * z;
      }
    }
  }
  const double m = *std::max_element(lp.begin(), lp.end());
  // Components more than e^-25 below the largest change the sum by < 1e-10 relative; with a
  // thousand narrow kernels most are that far from any one point, so skip their exp.
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  const double cut = m - 25.0;
  size_t k = 0;
  for (; k + 4 <= K; k += 4) {
    if (lp[k] > cut) s0 += exp_nonpositive(lp[k] - m);
    if (lp[k + 1] > cut) s1 += exp_nonpositive(lp[k + 1] - m);
    if (lp[k + 2] > cut) s2 += exp_nonpositive(lp[k + 2] - m);
    if (lp[k + 3] > cut) s3 += exp_nonpositive(lp[k + 3] - m);
  }
  for (; k < K; ++k)
    if (lp[k] > cut) s0 += exp_nonpositive(lp[k] - m);
  return m + std::log((s0 + s1) + (s2 + s3));
}

}  // namespace ember::hpo::tpe

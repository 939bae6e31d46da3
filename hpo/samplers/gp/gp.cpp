#include "hpo/samplers/gp/gp.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "hpo/rng.h"
#include "hpo/samplers/gp/gp_model.h"
#include "hpo/samplers/gp/linalg.h"
#include "hpo/samplers/random.h"
#include "hpo/samplers/tpe/tpe.h"

namespace ember::hpo {

namespace {

constexpr double kInvSqrt2Pi = 0.39894228040143267794;

double norm_cdf(double z) { return 0.5 * std::erfc(-z / M_SQRT2); }
double norm_pdf(double z) { return kInvSqrt2Pi * std::exp(-0.5 * z * z); }

// log EI for minimization, EI = sigma h(z), h(z) = z Phi(z) + phi(z), z = (best - mu) / sigma,
// stable for very negative z. Also d logEI / d mu and d logEI / d sigma.
double log_ei(double mu, double sigma, double best, double& d_mu, double& d_sigma) {
  const double z = (best - mu) / sigma;
  double log_h, cdf_over_h, pdf_over_h;
  if (z > -6.0) {
    const double cdf = norm_cdf(z), pdf = norm_pdf(z);
    const double h = std::max(z * cdf + pdf, 1e-300);
    log_h = std::log(h);
    cdf_over_h = cdf / h;
    pdf_over_h = pdf / h;
  } else {
    // Asymptotics: h ~ phi(z)/z^2 (1 - 3/z^2 + 15/z^4), Phi ~ phi(z)/|z| (1 - 1/z^2 + 3/z^4).
    const double z2 = z * z, a = 1.0 - 3.0 / z2 + 15.0 / (z2 * z2);
    log_h = -0.5 * z2 - 0.91893853320467274178 - 2.0 * std::log(-z) + std::log(a);
    cdf_over_h = -z * (1.0 - 1.0 / z2 + 3.0 / (z2 * z2)) / a;
    pdf_over_h = z2 / a;
  }
  d_mu = -cdf_over_h / sigma;
  d_sigma = pdf_over_h / sigma;
  return std::log(sigma) + log_h;
}

struct Encoded {
  std::vector<std::string> names;
  std::vector<Distribution> dists;
  std::vector<bool> is_cat;
};

// Acquisition on the unit cube (categorical dims hold indices).
struct Acquisition {
  const gp::GpModel& model;
  double best;
  double value(const std::vector<double>& x) const {
    double m, v, dm, ds;
    model.predict(x.data(), m, v, nullptr, nullptr);
    return log_ei(m, std::sqrt(v), best, dm, ds);
  }
  // Negative log EI and its gradient (for minimization).
  double neg_with_grad(const std::vector<double>& x, std::vector<double>& g) const {
    const size_t d = x.size();
    std::vector<double> gm(d), gv(d);
    double m, v, dm, ds;
    model.predict(x.data(), m, v, gm.data(), gv.data());
    const double s = std::sqrt(v);
    const double val = log_ei(m, s, best, dm, ds);
    for (size_t k = 0; k < d; ++k) g[k] = -(dm * gm[k] + ds * gv[k] / (2.0 * s));
    return -val;
  }
};

// A trust region's notion of progress: better than the best by 1e-3 relative.
bool improves(double y, double best) { return y < best - 1e-3 * std::fabs(best); }

}  // namespace

GpTrustRegion gp_trust_region(const std::vector<double>& losses, int n_startup, int numeric_dims) {
  constexpr double kInit = 0.8, kMin = 1.0 / 128, kMax = 1.6;
  constexpr int kSuccess = 3;
  const int fail_limit = std::max(4, numeric_dims);
  GpTrustRegion tr{.length = kInit};
  double best = INFINITY;
  int succ = 0, fail = 0;
  for (size_t i = 0; i < losses.size(); ++i) {
    const double y = losses[i];
    if (static_cast<int>(i) < n_startup) {
      best = std::min(best, y);
      continue;
    }
    if (improves(y, best)) ++succ, fail = 0;
    else ++fail, succ = 0;
    best = std::min(best, y);
    if (succ == kSuccess) tr.length = std::min(2.0 * tr.length, kMax), succ = 0;
    if (fail == fail_limit) tr.length /= 2.0, fail = 0;
    if (tr.length < kMin) {  // restart: a new region, centred on what comes next
      tr = GpTrustRegion{.length = kInit, .start = i + 1, .restarts = tr.restarts + 1};
      best = INFINITY;
      succ = fail = 0;
    }
  }
  return tr;
}

double gp_stall_region_length(const std::vector<double>& losses, int n_startup, int numeric_dims) {
  const int s = std::max(10, numeric_dims);
  double best = INFINITY;
  int since = 0;
  for (size_t i = 0; i < losses.size(); ++i) {
    const double y = losses[i];
    if (static_cast<int>(i) < n_startup) {
      best = std::min(best, y);
      continue;
    }
    if (improves(y, best)) since = 0;
    else ++since;
    best = std::min(best, y);
  }
  if (since < s) return 0.0;
  return 0.8 / double(1 << ((since / s - 1) % 7));
}

void gp_trust_region_box(const std::vector<double>& center, double length, const std::vector<double>& log_ls,
                         const std::vector<int>& dims, std::vector<double>& lower, std::vector<double>& upper) {
  lower.assign(center.size(), 0.0);
  upper.assign(center.size(), 1.0);
  if (dims.empty()) return;
  // Lengthscales above 2 (a dim the model finds irrelevant; the fit allows up to 50) are read as 2,
  // as TuRBO bounds them: otherwise a few such dims take the whole volume and the others' sides
  // shrink to nothing.
  auto log_l = [&](int k) { return std::min(log_ls[size_t(k)], std::log(2.0)); };
  double log_mean = 0.0;
  for (int k : dims) log_mean += log_l(k);
  log_mean /= double(dims.size());
  for (int k : dims) {
    const double half = 0.5 * length * std::exp(log_l(k) - log_mean);
    lower[size_t(k)] = std::max(0.0, center[size_t(k)] - half);
    upper[size_t(k)] = std::min(1.0, center[size_t(k)] + half);
  }
}

double GpSampler::sample_independent(const History&, const FrozenTrial& trial, const std::string& name,
                                     const Distribution& dist) {
  return sample_uniform(opt_.seed, trial.number, name, dist);
}

std::map<std::string, double> GpSampler::sample_relative(const History& history, const FrozenTrial& trial) {
  Encoded enc;
  if (opt_.space) {
    for (const auto& p : opt_.space->params())
      if (!p.condition) enc.names.push_back(p.name), enc.dists.push_back(p.dist);
  } else {
    for (auto& [n, d] : intersection_space(history)) enc.names.push_back(n), enc.dists.push_back(d);
  }
  if (enc.names.empty()) return {};
  const int d = static_cast<int>(enc.names.size());
  for (const auto& dist : enc.dists) enc.is_cat.push_back(dist.kind == ParamKind::kCategorical);
  auto encode = [&](size_t k, double v) { return enc.is_cat[k] ? v : enc.dists[k].to_unit(v); };
  auto decode = [&](const std::vector<double>& u) {
    std::map<std::string, double> out;
    for (int k = 0; k < d; ++k) out[enc.names[k]] = enc.is_cat[k] ? u[k] : enc.dists[k].from_unit(u[k]);
    return out;
  };

  // Observations: complete trials with every joint parameter.
  std::vector<double> xs, losses;
  for (const auto& t : history.trials()) {
    if (t->state != TrialState::kComplete || !t->value.has_value() || !std::isfinite(*t->value)) continue;
    std::vector<double> row;
    for (int k = 0; k < d; ++k) {
      const auto it = t->params.find(enc.names[k]);
      if (it == t->params.end() || !enc.dists[k].contains(it->second)) break;
      row.push_back(encode(k, it->second));
    }
    if (static_cast<int>(row.size()) != d) continue;
    xs.insert(xs.end(), row.begin(), row.end());
    losses.push_back(history.loss(*t->value));
  }
  // In trial order, for the trust region (copied only when one can be used: max_points may drop
  // observations below).
  const bool region_possible = opt_.trust_region_dims > 0 || opt_.trust_region_on_stall;
  const std::vector<double> all_xs = region_possible ? xs : std::vector<double>{};
  const std::vector<double> all_losses = region_possible ? losses : std::vector<double>{};
  // Bounded cost at large histories: the model sees at most max_points observations (the best
  // half and the most recent rest), so a suggestion at 1,000 trials costs about what it does at 256.
  if (opt_.max_points > 0 && static_cast<int>(losses.size()) > opt_.max_points) {
    const size_t m = losses.size(), keep_best = size_t(opt_.max_points) / 2;
    std::vector<size_t> idx(m);
    std::iota(idx.begin(), idx.end(), 0);
    std::partial_sort(idx.begin(), idx.begin() + long(keep_best), idx.end(),
                      [&](size_t a, size_t b) { return losses[a] < losses[b]; });
    std::vector<char> keep(m, 0);
    for (size_t i = 0; i < keep_best; ++i) keep[idx[i]] = 1;
    for (size_t i = m, recent = 0; i-- > 0 && recent < size_t(opt_.max_points) - keep_best;)
      if (!keep[i]) keep[i] = 1, ++recent;
    std::vector<double> xs2, l2;
    for (size_t i = 0; i < m; ++i)
      if (keep[i]) xs2.insert(xs2.end(), xs.begin() + long(i) * d, xs.begin() + long(i + 1) * d), l2.push_back(losses[i]);
    xs.swap(xs2);
    losses.swap(l2);
  }
  const int n = static_cast<int>(losses.size());
  Rng rng(mix_seed(opt_.seed, static_cast<uint64_t>(trial.number), stable_hash("gp")));

  if (n < std::max(opt_.n_startup_trials, 2)) {
    std::vector<double> u(d);
    const int ns = std::max(opt_.n_startup_trials, 1);
    if (trial.number < ns) {
      // Latin hypercube: dim k's strata are permuted by a stream shared by all startup trials.
      for (int k = 0; k < d; ++k) {
        Rng perm_rng(mix_seed(opt_.seed, 0x6c6873, static_cast<uint64_t>(k)));
        std::vector<int> perm(ns);
        std::iota(perm.begin(), perm.end(), 0);
        for (int i = ns; i > 1; --i) std::swap(perm[i - 1], perm[perm_rng.below(static_cast<uint64_t>(i))]);
        u[k] = (perm[static_cast<size_t>(trial.number)] + rng.uniform()) / ns;
      }
    } else {
      for (auto& v : u) v = rng.uniform();
    }
    for (int k = 0; k < d; ++k)
      if (enc.is_cat[k]) u[k] = enc.dists[k].from_unit(u[k]);
    return decode(u);
  }

  // Targets: log-warped (see GpOptions::warp_eps; a small eps made one point an isolated spike
  // and the fit collapsed to short lengthscales), then standardized.
  std::vector<double> y(losses);
  const double y_min = *std::min_element(y.begin(), y.end());
  if (opt_.warp_eps > 0) {
    std::vector<double> sorted(y);
    std::sort(sorted.begin(), sorted.end());
    const double spread = sorted[sorted.size() / 2] - y_min;
    const double eps = std::max(opt_.warp_eps * spread, 1e-12 * std::max(1.0, std::fabs(y_min)));
    for (auto& v : y) v = std::log(v - y_min + eps);
  }
  const double mean = std::accumulate(y.begin(), y.end(), 0.0) / n;
  double var = 0.0;
  for (double v : y) var += (v - mean) * (v - mean);
  const double sd = var > 0.0 ? std::sqrt(var / n) : 1.0;
  for (auto& v : y) v = (v - mean) / sd;

  gp::GpModel model;
  model.fit(xs, y, enc.is_cat, theta_, theta_.empty() ? 100 : 20, opt_.deterministic ? 3e-4 : 0.5);
  theta_ = model.theta();
  const Acquisition acq{model, *std::min_element(y.begin(), y.end())};

  std::vector<int> num_dims;
  for (int k = 0; k < d; ++k)
    if (!enc.is_cat[k]) num_dims.push_back(k);
  const int d_num = static_cast<int>(num_dims.size());
  // Box of the acquisition search on the unit cube: all of it, or the trust region.
  std::vector<double> lower(d, 0.0), upper(d, 1.0);
  std::vector<double> tr_center;
  if (d_num > 0 && opt_.trust_region_dims > 0 && d_num >= opt_.trust_region_dims) {
    const GpTrustRegion tr = gp_trust_region(all_losses, std::max(opt_.n_startup_trials, 2), d_num);
    if (tr.start < all_losses.size()) {  // else: just restarted, this trial explores globally
      const size_t c = size_t(std::min_element(all_losses.begin() + long(tr.start), all_losses.end()) -
                              all_losses.begin());
      tr_center.assign(all_xs.begin() + long(c) * d, all_xs.begin() + long(c + 1) * d);
      gp_trust_region_box(tr_center, tr.length, theta_, num_dims, lower, upper);
    }
  } else if (d_num > 0 && opt_.trust_region_on_stall) {
    const double length = gp_stall_region_length(all_losses, std::max(opt_.n_startup_trials, 2), d_num);
    if (length > 0) {
      const size_t c = size_t(std::min_element(all_losses.begin(), all_losses.end()) - all_losses.begin());
      tr_center.assign(all_xs.begin() + long(c) * d, all_xs.begin() + long(c + 1) * d);
      gp_trust_region_box(tr_center, length, theta_, num_dims, lower, upper);
    }
  }

  // Candidate pool: uniform points plus perturbations of the best observations; in a trust region,
  // its centre with a random subset of about 20 dims redrawn in the box (TuRBO's perturbation mask).
  std::vector<std::vector<double>> pool;
  auto random_point = [&] {
    std::vector<double> u(d);
    for (int k = 0; k < d; ++k)
      u[k] = enc.is_cat[k] ? static_cast<double>(rng.below(enc.dists[k].n_choices()))
                           : lower[k] + (upper[k] - lower[k]) * rng.uniform();
    return u;
  };
  auto region_point = [&] {
    std::vector<double> u(tr_center);
    const double p = std::min(1.0, 20.0 / d_num);
    bool moved = false;
    for (int k = 0; k < d; ++k) {
      if (enc.is_cat[k]) {
        if (rng.uniform() < 0.15) u[k] = static_cast<double>(rng.below(enc.dists[k].n_choices()));
      } else if (rng.uniform() < p) {
        u[k] = lower[k] + (upper[k] - lower[k]) * rng.uniform(), moved = true;
      }
    }
    if (!moved) {
      const int k = num_dims[rng.below(static_cast<uint64_t>(d_num))];
      u[k] = lower[k] + (upper[k] - lower[k]) * rng.uniform();
    }
    return u;
  };
  for (int i = 0; i < opt_.n_candidates; ++i) pool.push_back(tr_center.empty() ? random_point() : region_point());
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return y[a] < y[b]; });
  for (int r = 0; r < (tr_center.empty() ? std::min(n, 5) : 0); ++r) {
    const double* best_x = &xs[static_cast<size_t>(order[r]) * d];
    for (int j = 0; j < 24; ++j) {
      std::vector<double> u(best_x, best_x + d);
      const double scale = j % 2 == 0 ? 0.02 : 0.1;
      for (int k = 0; k < d; ++k) {
        if (enc.is_cat[k]) {
          if (rng.uniform() < 0.15) u[k] = static_cast<double>(rng.below(enc.dists[k].n_choices()));
        } else {
          u[k] = std::clamp(u[k] + scale * rng.normal(), 0.0, 1.0);
        }
      }
      pool.push_back(std::move(u));
    }
  }
  std::vector<std::pair<double, size_t>> scored;
  for (size_t i = 0; i < pool.size(); ++i) scored.emplace_back(acq.value(pool[i]), i);
  const size_t n_starts = std::min<size_t>(static_cast<size_t>(opt_.n_local_starts), scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<long>(n_starts), scored.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });

  // Refine: L-BFGS over the numeric dims with categoricals fixed, then a sweep of each
  // categorical's choices (re-refining when a switch helps).
  auto refine = [&](std::vector<double>& u) {
    if (num_dims.empty()) return acq.value(u);
    std::vector<double> z;
    for (int k : num_dims) z.push_back(u[k]);
    gp::LbfgsOptions lo;
    lo.max_iter = 40;
    lo.grad_tol = 1e-7;
    for (int k : num_dims) lo.lower.push_back(lower[k]), lo.upper.push_back(upper[k]);
    std::vector<double> full(u), gfull(d);
    auto f = [&](const std::vector<double>& zz, std::vector<double>& g) {
      for (size_t i = 0; i < num_dims.size(); ++i) full[num_dims[i]] = zz[i];
      const double v = acq.neg_with_grad(full, gfull);
      for (size_t i = 0; i < num_dims.size(); ++i) g[i] = gfull[num_dims[i]];
      return v;
    };
    gp::lbfgs_minimize(f, z, lo);
    for (size_t i = 0; i < num_dims.size(); ++i) u[num_dims[i]] = z[i];
    return acq.value(u);
  };
  std::vector<double> best_u;
  double best_val = -INFINITY;
  for (size_t s = 0; s < n_starts; ++s) {
    std::vector<double> u = pool[scored[s].second];
    double val = refine(u);
    for (int k = 0; k < d; ++k) {
      if (!enc.is_cat[k]) continue;
      for (size_t c = 0; c < enc.dists[k].n_choices(); ++c) {
        if (static_cast<double>(c) == u[k]) continue;
        std::vector<double> alt(u);
        alt[k] = static_cast<double>(c);
        if (acq.value(alt) <= val) continue;
        const double alt_val = refine(alt);
        if (alt_val > val) u = alt, val = alt_val;
      }
    }
    if (std::isfinite(val) && val > best_val) best_val = val, best_u = u;
  }
  if (best_u.empty()) best_u = pool[scored.front().second];
  return decode(best_u);
}

}  // namespace ember::hpo

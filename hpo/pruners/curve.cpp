#include "hpo/pruners/curve.h"

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace ember::hpo {

CurvePruner::CurvePruner(CurvePrunerOptions opt) : opt_(opt) {
  EMBER_CHECK(opt.min_steps >= 3, "curve pruner: min_steps must be >= 3 (got {})", opt.min_steps);
  EMBER_CHECK(opt.tolerance >= 0, "curve pruner: tolerance must be >= 0 (got {})", opt.tolerance);
}

CurvePruner::Extrapolation CurvePruner::extrapolate(const std::vector<double>& steps,
                                                    const std::vector<double>& losses, double horizon,
                                                    double tolerance) {
  const size_t n = steps.size();
  struct Fit {
    double sse, pred;
  };
  // For one tau: a and b by least squares on the basis e_i = exp(-t_i / tau), b clamped >= 0.
  auto fit_at = [&](double tau) {
    double se = 0, see = 0, sy = 0, sey = 0;
    for (size_t i = 0; i < n; ++i) {
      const double e = std::exp(-steps[i] / tau);
      se += e;
      see += e * e;
      sy += losses[i];
      sey += e * losses[i];
    }
    const double nn = static_cast<double>(n), det = nn * see - se * se;
    double b = det > 1e-12 * nn * see ? (nn * sey - se * sy) / det : 0.0;
    b = std::max(b, 0.0);
    const double a = (sy - b * se) / nn;
    double sse = 0;
    for (size_t i = 0; i < n; ++i) {
      const double r = losses[i] - a - b * std::exp(-steps[i] / tau);
      sse += r * r;
    }
    return Fit{sse, a + b * std::exp(-horizon / tau)};
  };
  // tau on a log grid from 0.25 to 8 * horizon (40 points), then the best refined by a
  // golden-section search on log tau between its neighbours.
  std::vector<Fit> fits;
  std::vector<double> log_taus;
  for (int g = 0; g < 40; ++g) {
    log_taus.push_back(std::log(0.25) + std::log(32.0 * horizon) * g / 39.0);
    fits.push_back(fit_at(std::exp(log_taus.back())));
  }
  const size_t gbest = static_cast<size_t>(
      std::min_element(fits.begin(), fits.end(), [](const Fit& x, const Fit& y) { return x.sse < y.sse; }) -
      fits.begin());
  double lo = log_taus[gbest > 0 ? gbest - 1 : 0], hi = log_taus[std::min<size_t>(gbest + 1, 39)];
  const double phi = 0.6180339887498949;
  for (int it = 0; it < 30; ++it) {
    const double m1 = hi - phi * (hi - lo), m2 = lo + phi * (hi - lo);
    if (fit_at(std::exp(m1)).sse < fit_at(std::exp(m2)).sse) hi = m2;
    else lo = m1;
  }
  fits.push_back(fit_at(std::exp(0.5 * (lo + hi))));
  double sse_min = INFINITY;
  for (const auto& f : fits) sse_min = std::min(sse_min, f.sse);
  const double sigma2 = std::max(sse_min / std::max<double>(static_cast<double>(n) - 3.0, 1.0), 1e-12);
  double best = INFINITY;
  for (const auto& f : fits)
    if (f.sse <= sse_min + tolerance * sigma2) best = std::min(best, f.pred);
  return {best, std::sqrt(sigma2)};
}

bool CurvePruner::prune(const History& history, const FrozenTrial& trial) {
  if (static_cast<int64_t>(trial.intermediate.size()) < opt_.min_steps) return false;
  std::optional<double> best;
  int64_t horizon = -1;
  int n_complete = 0;
  for (const auto& t : history.trials()) {
    if (t->state != TrialState::kComplete || !t->value.has_value() || t->id == trial.id) continue;
    ++n_complete;
    const double l = history.loss(*t->value);
    if (!best.has_value() || l < *best) best = l;
    if (!t->intermediate.empty()) horizon = std::max(horizon, t->intermediate.rbegin()->first);
  }
  if (n_complete < opt_.n_startup_trials || !best.has_value() || horizon <= 0) return false;
  const int64_t last = trial.intermediate.rbegin()->first;
  if (last >= horizon) return false;
  std::vector<double> steps, losses;
  for (const auto& [s, v] : trial.intermediate) {
    if (!std::isfinite(v)) continue;
    steps.push_back(static_cast<double>(s));
    losses.push_back(history.loss(v));
  }
  if (static_cast<int64_t>(steps.size()) < opt_.min_steps) return false;
  const auto e = extrapolate(steps, losses, static_cast<double>(horizon), opt_.tolerance);
  return e.optimistic > *best + opt_.margin + 2.0 * e.sigma;
}

}  // namespace ember::hpo

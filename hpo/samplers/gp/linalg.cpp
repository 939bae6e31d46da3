#include "hpo/samplers/gp/linalg.h"

#include <algorithm>
#include <cmath>
#include <deque>

namespace ember::hpo::gp {

namespace {
// Dot product with four partial sums: without -ffast-math the compiler keeps a single sum in
// order, which makes these reductions (the inner loops of Cholesky and the solves) scalar.
inline double dot4(const double* a, const double* b, int n) {
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int k = 0;
  for (; k + 4 <= n; k += 4) {
    s0 += a[k] * b[k];
    s1 += a[k + 1] * b[k + 1];
    s2 += a[k + 2] * b[k + 2];
    s3 += a[k + 3] * b[k + 3];
  }
  for (; k < n; ++k) s0 += a[k] * b[k];
  return (s0 + s1) + (s2 + s3);
}
}  // namespace

bool cholesky(std::vector<double>& a, int n) {
  // Row-oriented Cholesky-Banachiewicz: L[i][j] = (A[i][j] - sum_k<j L[i][k] L[j][k]) / L[j][j].
  for (int i = 0; i < n; ++i) {
    double* li = &a[static_cast<size_t>(i) * n];
    for (int j = 0; j <= i; ++j) {
      const double* lj = &a[static_cast<size_t>(j) * n];
      const double s = li[j] - dot4(li, lj, j);
      if (i == j) {
        if (!(s > 0.0) || !std::isfinite(s)) return false;
        li[i] = std::sqrt(s);
      } else {
        li[j] = s / lj[j];
      }
    }
    for (int j = i + 1; j < n; ++j) li[j] = 0.0;
  }
  return true;
}

void solve_lower(const std::vector<double>& l, int n, double* b) {
  for (int i = 0; i < n; ++i) {
    const double* li = &l[static_cast<size_t>(i) * n];
    b[i] = (b[i] - dot4(li, b, i)) / li[i];
  }
}

void solve_lower_t(const std::vector<double>& l, int n, double* b) {
  // Column sweep of L^T (= row sweep of L backwards) keeps unit stride.
  for (int i = n - 1; i >= 0; --i) {
    const double* li = &l[static_cast<size_t>(i) * n];
    b[i] /= li[i];
    const double bi = b[i];
    for (int k = 0; k < i; ++k) b[k] -= li[k] * bi;
  }
}

std::vector<double> cholesky_inverse(const std::vector<double>& l, int n) {
  // Linv = L^{-1} (lower), then A^{-1} = Linv^T Linv.
  std::vector<double> linv(static_cast<size_t>(n) * n, 0.0);
  for (int i = 0; i < n; ++i) {
    // Row i of Linv: -(sum_{m<i} L[i][m] Linv[m][:]) / L[i][i], accumulated row by row (unit stride).
    const double* li = &l[static_cast<size_t>(i) * n];
    double* ri = &linv[static_cast<size_t>(i) * n];
    for (int m = 0; m < i; ++m) {
      const double a = li[m];
      const double* rm = &linv[static_cast<size_t>(m) * n];
      for (int k = 0; k <= m; ++k) ri[k] += a * rm[k];
    }
    const double inv_d = 1.0 / li[i];
    for (int k = 0; k < i; ++k) ri[k] = -ri[k] * inv_d;
    ri[i] = inv_d;
  }
  std::vector<double> inv(static_cast<size_t>(n) * n, 0.0);
  for (int m = 0; m < n; ++m) {
    const double* rm = &linv[static_cast<size_t>(m) * n];
    for (int i = 0; i <= m; ++i) {
      const double a = rm[i];
      if (a == 0.0) continue;
      double* out = &inv[static_cast<size_t>(i) * n];
      for (int j = 0; j <= i; ++j) out[j] += a * rm[j];
    }
  }
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < i; ++j) inv[static_cast<size_t>(j) * n + i] = inv[static_cast<size_t>(i) * n + j];
  return inv;
}

namespace {

void project(std::vector<double>& x, const LbfgsOptions& opt) {
  if (opt.lower.empty()) return;
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::clamp(x[i], opt.lower[i], opt.upper[i]);
}

// Components held at a bound: the gradient pushes outward there.
bool at_active_bound(const std::vector<double>& x, const std::vector<double>& g, size_t i, const LbfgsOptions& opt) {
  if (opt.lower.empty()) return false;
  return (x[i] <= opt.lower[i] && g[i] > 0.0) || (x[i] >= opt.upper[i] && g[i] < 0.0);
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

double lbfgs_minimize(const std::function<double(const std::vector<double>&, std::vector<double>&)>& f,
                      std::vector<double>& x, const LbfgsOptions& opt) {
  const size_t n = x.size();
  project(x, opt);
  std::vector<double> g(n), gn(n), d(n), xn(n);
  double fx = f(x, g);
  if (!std::isfinite(fx)) return fx;
  std::deque<std::pair<std::vector<double>, std::vector<double>>> mem;  // (s, y)
  for (int it = 0; it < opt.max_iter; ++it) {
    std::vector<double> gp(g);
    for (size_t i = 0; i < n; ++i)
      if (at_active_bound(x, g, i, opt)) gp[i] = 0.0;
    double gmax = 0.0;
    for (double v : gp) gmax = std::max(gmax, std::fabs(v));
    if (gmax < opt.grad_tol) break;
    // Two-loop recursion on the free components.
    d = gp;
    std::vector<double> alpha(mem.size());
    for (size_t k = mem.size(); k-- > 0;) {
      alpha[k] = dot(mem[k].first, d) / dot(mem[k].second, mem[k].first);
      for (size_t i = 0; i < n; ++i) d[i] -= alpha[k] * mem[k].second[i];
    }
    if (!mem.empty()) {
      const double gamma = dot(mem.back().first, mem.back().second) / dot(mem.back().second, mem.back().second);
      for (auto& v : d) v *= gamma;
    }
    for (size_t k = 0; k < mem.size(); ++k) {
      const double beta = dot(mem[k].second, d) / dot(mem[k].second, mem[k].first);
      for (size_t i = 0; i < n; ++i) d[i] += (alpha[k] - beta) * mem[k].first[i];
    }
    for (size_t i = 0; i < n; ++i) d[i] = gp[i] == 0.0 ? 0.0 : -d[i];
    if (!(dot(d, gp) < 0.0)) {  // not a descent direction: restart from steepest descent
      mem.clear();
      for (size_t i = 0; i < n; ++i) d[i] = -gp[i];
    }
    if (mem.empty()) {  // no curvature yet: a step of length at most 1
      const double norm = std::sqrt(dot(d, d));
      if (norm > 1.0)
        for (auto& v : d) v /= norm;
    }
    const double slope = dot(d, gp);
    // Backtracking Armijo line search on the projected path.
    double t = 1.0, fn = fx;
    bool accepted = false;
    for (int ls = 0; ls < 30; ++ls) {
      for (size_t i = 0; i < n; ++i) xn[i] = x[i] + t * d[i];
      project(xn, opt);
      fn = f(xn, gn);
      if (std::isfinite(fn) && fn <= fx + 1e-4 * t * slope) {
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    if (!accepted) break;
    std::vector<double> s(n), y(n);
    for (size_t i = 0; i < n; ++i) {
      s[i] = xn[i] - x[i];
      y[i] = gn[i] - g[i];
    }
    const double decrease = fx - fn;
    x = xn;
    g = gn;
    fx = fn;
    if (dot(s, y) > 1e-12) {
      mem.emplace_back(std::move(s), std::move(y));
      if (static_cast<int>(mem.size()) > opt.history) mem.pop_front();
    }
    if (decrease <= opt.f_tol * std::max(1.0, std::fabs(fx))) break;
  }
  return fx;
}

}  // namespace ember::hpo::gp

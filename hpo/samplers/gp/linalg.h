// Small dense linear algebra for the GP: Cholesky, triangular solves, the inverse from a
// Cholesky factor, and a bounded L-BFGS minimizer. Matrices are row-major n x n std::vectors.
// Sizes are a few hundred at most, so plain loops (ordered for unit stride) are enough.
#pragma once

#include <functional>
#include <vector>

namespace ember::hpo::gp {

// In place: A (symmetric positive definite, lower triangle read) -> L with A = L L^T
// (upper triangle zeroed). Returns false if A is not positive definite.
bool cholesky(std::vector<double>& a, int n);
// Solves L x = b in place (b: n values).
void solve_lower(const std::vector<double>& l, int n, double* b);
// Solves L^T x = b in place.
void solve_lower_t(const std::vector<double>& l, int n, double* b);
// (L L^T)^{-1}, full symmetric n x n.
std::vector<double> cholesky_inverse(const std::vector<double>& l, int n);

struct LbfgsOptions {
  int max_iter = 50;
  int history = 8;
  double grad_tol = 1e-6;  // stop when the projected gradient's max-norm is below
  double f_tol = 1e-10;    // ... or the relative decrease of f is below
  std::vector<double> lower, upper;  // box bounds (empty: unbounded)
};

// f(x, grad) returns f(x) and writes its gradient. Minimizes from x (updated in place) and
// returns the final value. Bounds are handled by projection (components at an active bound
// whose gradient points outward are held fixed).
double lbfgs_minimize(const std::function<double(const std::vector<double>&, std::vector<double>&)>& f,
                      std::vector<double>& x, const LbfgsOptions& opt);

}  // namespace ember::hpo::gp

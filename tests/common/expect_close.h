// Test helpers: elementwise closeness with a readable failure (op, first bad index, got vs ref,
// max abs/rel error), gradcheck as an assertion, and f64 random inputs.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "tensor/tensor.h"

namespace ember::test {

// |got - ref| <= atol + rtol * |ref| elementwise; shapes must match.
inline ::testing::AssertionResult all_close(const Tensor& got, const Tensor& ref, double rtol = 1e-5,
                                            double atol = 1e-6) {
  if (got.shape() != ref.shape())
    return ::testing::AssertionFailure() << "shape " << shape_str(got.shape()) << " vs ref " << shape_str(ref.shape());
  auto g = got.to_vector<double>(), r = ref.to_vector<double>();
  double max_abs = 0, max_rel = 0;
  int64_t first_bad = -1;
  for (size_t i = 0; i < g.size(); ++i) {
    double d = std::abs(g[i] - r[i]);
    bool bad = !(d <= atol + rtol * std::abs(r[i])) && !(std::isnan(g[i]) && std::isnan(r[i])) &&
               !(std::isinf(g[i]) && g[i] == r[i]);
    if (bad && first_bad < 0) first_bad = static_cast<int64_t>(i);
    if (std::isfinite(d)) {
      max_abs = std::max(max_abs, d);
      max_rel = std::max(max_rel, d / std::max(std::abs(r[i]), 1e-30));
    }
  }
  if (first_bad < 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "shape " << shape_str(ref.shape()) << ": first mismatch at flat index "
                                       << first_bad << " got " << g[first_bad] << " ref " << r[first_bad]
                                       << " (max abs err " << max_abs << ", max rel err " << max_rel << ")";
}

// Values from a plain list, for hand-derived expectations.
inline ::testing::AssertionResult all_close(const Tensor& got, const std::vector<double>& ref, double rtol = 1e-5,
                                            double atol = 1e-6) {
  return all_close(got.to(DType::f64).reshape({-1}),
                   Tensor::from_vector(ref, {static_cast<int64_t>(ref.size())}, {.dtype = DType::f64}), rtol, atol);
}

inline ::testing::AssertionResult grad_ok(const GradFn& fn, const std::vector<Tensor>& inputs,
                                          GradcheckOptions opts = {}) {
  auto r = gradcheck(fn, inputs, opts);
  if (r.ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << r.message;
}

// f64 leaf in [lo, hi) with requires_grad, deterministic per seed.
inline Tensor rand64(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Generator g(seed);
  Tensor t = Tensor::rand(shape, {.dtype = DType::f64}, &g);
  Tensor out = (t * (hi - lo) + lo).detach();
  out.requires_grad_(true);
  return out;
}

// Runs `fn` and expects an ember::Error whose message contains every fragment.
template <typename F>
::testing::AssertionResult throws_with(F&& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& f : fragments)
      if (msg.find(f) == std::string::npos)
        return ::testing::AssertionFailure() << "message \"" << msg << "\" lacks \"" << f << "\"";
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-ember exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "did not throw";
}

}  // namespace ember::test

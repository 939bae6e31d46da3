// gradcheck: compares analytic gradients (one backward pass) with central differences.
// Inputs should be f64; for a non-scalar output the check uses a fixed random cotangent g and
// compares d(sum(g * fn(x)))/dx. An input is checked when it requires grad.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace ember {

struct GradcheckOptions {
  double eps = 1e-6;   // finite-difference step
  double atol = 1e-5;  // |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
  uint64_t seed = 1234;  // for the cotangent
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // first mismatch: input, flat index, analytic vs numeric
  explicit operator bool() const { return ok; }
};

using GradFn = std::function<Tensor(const std::vector<Tensor>&)>;

GradcheckResult gradcheck(const GradFn& fn, const std::vector<Tensor>& inputs, GradcheckOptions opts = {});

}  // namespace ember

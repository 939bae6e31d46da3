// Shared by the CUDA tests: the skip guard and a CPU-vs-GPU harness.
//  * EMBER_REQUIRE_CUDA() skips (never passes) a test when there is no GPU or no driver.
//  * gpu_matches_cpu(fn, inputs, fwd, grad) runs fn on CPU leaves and on their GPU copies, compares
//    the outputs, then backpropagates sum(out * r) for one fixed random r on both devices and
//    compares the gradient of every floating input. The CPU backend is the reference.
// Tolerances are |gpu - cpu| <= atol + rtol |cpu|, stated at each call: f32 elementwise 1e-5 / 1e-6
// (GPU libm differs by a few ulp), reductions and norms scale with the reduction length.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <vector>

#include "autograd/ops.h"
#include "cuda/cuda.h"
#include "cuda/device.h"
#include "tensor/backend.h"
#include "tensor/generator.h"
#include "tests/common/expect_close.h"

#define EMBER_REQUIRE_CUDA()                                                                \
  do {                                                                                      \
    if (!::ember::cuda::is_available()) GTEST_SKIP() << "no CUDA device (or no driver)";    \
  } while (0)

namespace ember::test {

struct Tol {
  double rtol = 1e-5, atol = 1e-6;
};

inline Tensor gpu(const Tensor& t) { return to_device(t.detach(), Device::cuda()).detach(); }
inline Tensor cpu(const Tensor& t) { return to_device(t.detach(), Device::cpu()).detach(); }

// Uniform [lo, hi) CPU tensor, deterministic per seed.
inline Tensor randu(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1, DType dt = DType::f32) {
  Generator g(seed);
  return (Tensor::rand(shape, {.dtype = dt}, &g) * (hi - lo) + lo).detach();
}
// Random i64 CPU tensor in [lo, hi).
inline Tensor randi(const Shape& shape, uint64_t seed, int64_t lo, int64_t hi) {
  Generator g(seed);
  return Tensor::randint(lo, hi, shape, {.dtype = DType::i64}, &g);
}

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

// cpu_f64: the CPU reference runs on f64 copies of the floating inputs (for long reductions, where
// the f32 CPU result itself carries ~eps*R of summation error).
inline ::testing::AssertionResult gpu_matches_cpu(const Fn& fn, const std::vector<Tensor>& inputs, Tol fwd = {},
                                                  Tol grad = {}, bool backward = true, bool cpu_f64 = false) {
  std::vector<Tensor> ci, gi;
  for (const Tensor& x : inputs) {
    Tensor c = cpu_f64 && x.dtype() == DType::f32 ? x.to(DType::f64).detach() : x.detach(), g = gpu(x);
    if (backward && is_floating(x.dtype())) {
      c.requires_grad_(true);
      g.requires_grad_(true);
    }
    ci.push_back(c);
    gi.push_back(g);
  }
  Tensor yc = fn(ci), yg = fn(gi);
  if (!yg.device().is_cuda()) return ::testing::AssertionFailure() << "output is on " << yg.device().str();
  if (auto r = all_close(cpu(yg), yc, fwd.rtol, fwd.atol); !r) return ::testing::AssertionFailure() << "forward: " << r.message();
  if (!backward || !yc.requires_grad()) return ::testing::AssertionSuccess();
  Tensor w = randu(yc.shape(), 4242, -1, 1, yg.dtype());
  sum(mul(yc, w.to(yc.dtype()))).backward();
  sum(mul(yg, gpu(w))).backward();
  for (size_t i = 0; i < ci.size(); ++i) {
    if (!ci[i].requires_grad()) continue;
    if (!ci[i].grad().defined() || !gi[i].grad().defined()) {
      if (ci[i].grad().defined() != gi[i].grad().defined())
        return ::testing::AssertionFailure() << "input " << i << ": gradient defined on one device only";
      continue;
    }
    if (!gi[i].grad().device().is_cuda()) return ::testing::AssertionFailure() << "input " << i << ": grad not on cuda";
    if (auto r = all_close(cpu(gi[i].grad()), ci[i].grad(), grad.rtol, grad.atol); !r)
      return ::testing::AssertionFailure() << "grad of input " << i << ": " << r.message();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace ember::test

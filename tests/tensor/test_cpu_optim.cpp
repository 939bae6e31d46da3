// The fused CPU Adam/AdamW update (tensor/cpu/optim.cpp) against the formula of Backend::AdamStep
// evaluated in f64, for f32 (AVX2 and scalar rows) and f64, classic L2 and decoupled weight decay,
// several steps, lengths that are not multiples of the vector width, and a length above the
// threading grain. Also: non-contiguous or mismatched operands make it decline (return false).
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/ops.h"
#include "tensor/cpu/cpu_features.h"

namespace ember {
namespace {

struct State {
  std::vector<double> p, g, m, v;
};

void reference_step(State& s, const Backend::AdamStep& a) {
  const double bc1 = 1 - std::pow(a.beta1, double(a.step)), bc2 = 1 - std::pow(a.beta2, double(a.step));
  for (size_t i = 0; i < s.p.size(); ++i) {
    if (a.decoupled) s.p[i] *= 1 - a.lr * a.weight_decay;
    const double g = s.g[i] + (a.decoupled ? 0 : a.weight_decay * s.p[i]);
    s.m[i] = a.beta1 * s.m[i] + (1 - a.beta1) * g;
    s.v[i] = a.beta2 * s.v[i] + (1 - a.beta2) * g * g;
    s.p[i] -= a.lr / bc1 * s.m[i] / (std::sqrt(s.v[i] / bc2) + a.eps);
  }
}

void run_case(DType dt, cpu::Isa isa, int64_t n, bool decoupled, double wd) {
  const cpu::Isa prev = cpu::active_isa();
  cpu::set_isa(isa);
  Generator gen(uint64_t(n) * 7 + uint64_t(decoupled));
  Tensor p = (Tensor::rand({n}, {}, &gen) - 0.5).to(dt), m = Tensor::zeros({n}, {.dtype = dt});
  Tensor v = Tensor::zeros({n}, {.dtype = dt});
  State ref{p.to(DType::f64).to_vector<double>(), {}, std::vector<double>(size_t(n)), std::vector<double>(size_t(n))};
  for (int64_t step = 1; step <= 3; ++step) {
    Tensor g = (Tensor::rand({n}, {}, &gen) - 0.5).to(dt);
    ref.g = g.to(DType::f64).to_vector<double>();
    const Backend::AdamStep a{.lr = 1e-2, .weight_decay = wd, .decoupled = decoupled, .step = step};
    ASSERT_TRUE(backend_for(Device::cpu()).adam_update(p, g, m, v, a));
    reference_step(ref, a);
  }
  cpu::set_isa(prev);
  // f32: each step's update is lr-sized with a few roundings; 1e-6 absolute covers it.
  const double tol = dt == DType::f32 ? 1e-6 : 1e-14;
  const std::vector<double> pg = p.to(DType::f64).to_vector<double>(), mg = m.to(DType::f64).to_vector<double>(),
                            vg = v.to(DType::f64).to_vector<double>();
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_NEAR(pg[size_t(i)], ref.p[size_t(i)], tol) << "param " << i << " n=" << n;
    ASSERT_NEAR(mg[size_t(i)], ref.m[size_t(i)], tol) << "exp_avg " << i;
    ASSERT_NEAR(vg[size_t(i)], ref.v[size_t(i)], tol) << "exp_avg_sq " << i;
  }
}

TEST(CpuAdam, MatchesFormulaOnEveryPath) {
  std::vector<cpu::Isa> isas = {cpu::Isa::scalar};
  if (cpu::best_isa() != cpu::Isa::scalar) isas.push_back(cpu::Isa::avx2);
  for (cpu::Isa isa : isas)
    for (int64_t n : {1, 7, 8, 1003, 70001})
      for (bool decoupled : {false, true}) {
        run_case(DType::f32, isa, n, decoupled, decoupled ? 0.1 : 0.01);
        run_case(DType::f64, isa, n, decoupled, 0.05);
      }
  run_case(DType::f32, cpu::Isa::scalar, 33, false, 0.0);
}

TEST(CpuAdam, DeclinesWhatItCannotFuse) {
  Backend& be = backend_for(Device::cpu());
  Tensor p = Tensor::zeros({4, 6}), g = Tensor::zeros({6, 4}).t(), m = Tensor::zeros({4, 6}), v = Tensor::zeros({4, 6});
  EXPECT_FALSE(be.adam_update(p, g, m, v, {}));  // transposed grad
  EXPECT_FALSE(be.adam_update(p, Tensor::zeros({24}), m, v, {}));
  EXPECT_FALSE(be.adam_update(p, Tensor::zeros({4, 6}, {.dtype = DType::f64}), m, v, {}));
  EXPECT_TRUE(be.adam_update(p, Tensor::zeros({4, 6}), m, v, {}));
}

}  // namespace
}  // namespace ember

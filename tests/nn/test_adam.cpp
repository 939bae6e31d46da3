// Adam and AdamW against hand-derived values (the first-element anchors were computed with a few
// lines of Python straight from the torch.optim.Adam formulas) and a scalar reimplementation of
// those formulas for every element: composite and fused paths, L2 vs decoupled decay, amsgrad,
// param groups, the engine round trip, and state save/load with bit-identical continuation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "nn/optim/adam.h"
#include "tests/common/expect_close.h"

namespace ember::nn {
namespace {

using test::all_close;
using test::throws_with;

struct RefOptions {
  double lr = 0.1, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled = false, amsgrad = false;
};

// Scalar Adam per element: g += wd*p (Adam) or p *= 1 - lr*wd (AdamW); m, v moving averages;
// p -= lr/(1 - b1^t) * m / (sqrt(v or max v)/sqrt(1 - b2^t) + eps).
std::vector<double> adam_reference(std::vector<double> p, const std::vector<std::vector<double>>& grads,
                                   const RefOptions& o) {
  std::vector<double> m(p.size()), v(p.size()), vmax(p.size());
  for (size_t t = 1; t <= grads.size(); ++t)
    for (size_t i = 0; i < p.size(); ++i) {
      double g = grads[t - 1][i];
      if (o.decoupled)
        p[i] *= 1 - o.lr * o.weight_decay;
      else
        g += o.weight_decay * p[i];
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
      vmax[i] = std::max(vmax[i], v[i]);
      double bc1 = 1 - std::pow(o.beta1, double(t)), bc2 = 1 - std::pow(o.beta2, double(t));
      double denom = std::sqrt(o.amsgrad ? vmax[i] : v[i]) / std::sqrt(bc2) + o.eps;
      p[i] -= o.lr / bc1 * m[i] / denom;
    }
  return p;
}

const std::vector<std::vector<double>> kGrads = {{1, -0.5, 2e-3}, {2, 0.25, -1e-3}, {3, -4, 5e-3}};
const std::vector<double> kStart = {1, -0.5, 2};

bool cuda_present() {
  try {
    backend_for(Device::cuda());
    return true;
  } catch (const Error&) {
    return false;
  }
}

// Does the device's backend have a fused Adam kernel? (A probe on scratch tensors.)
bool fuses_adam(Device d) {
  Tensor p = Tensor::zeros({4}, {.device = d}), g = Tensor::ones({4}, {.device = d});
  Tensor m = Tensor::zeros({4}, {.device = d}), v = Tensor::zeros({4}, {.device = d});
  return backend_for(d).adam_update(p, g, m, v, {});
}

// Runs three steps of `make(p)` on a parameter starting at kStart, checking each step against the
// reference; anchors (first element after each step) when given.
template <typename Make>
void check_run(Make make, const RefOptions& ref, const std::vector<double>& anchors, DType dtype = DType::f64,
               Device device = Device::cpu(), double rtol = 1e-12) {
  Tensor p = Tensor::from_vector(kStart, {3}, {.dtype = dtype, .device = device});
  p.requires_grad_(true);
  auto opt = make(p);
  for (size_t t = 0; t < kGrads.size(); ++t) {
    p.set_grad(Tensor::from_vector(kGrads[t], {3}, {.dtype = dtype, .device = device}));
    opt.step();
    std::vector<std::vector<double>> seen(kGrads.begin(), kGrads.begin() + long(t) + 1);
    Tensor host = p.detach().to(Device::cpu());
    EXPECT_TRUE(all_close(host, adam_reference(kStart, seen, ref), rtol, rtol)) << "step " << t + 1;
    if (!anchors.empty()) {
      EXPECT_NEAR(host.to_vector<double>()[0], anchors[t], rtol) << "step " << t + 1;
    }
  }
  EXPECT_EQ(opt.step_count(0), 3);
}

TEST(Adam, CompositeStepsMatchHandValues) {
  check_run([](Tensor p) { return Adam({p}, {.lr = 0.1, .fused = false}); }, {},
            {0.900000001, 0.8034817990281663, 0.707681677061681});
}

TEST(Adam, DefaultPathMatchesHandValues) {
  // Fused when the backend has the kernel, composite otherwise: same numbers either way.
  check_run([](Tensor p) { return Adam({p}, {.lr = 0.1}); }, {}, {0.900000001, 0.8034817990281663, 0.707681677061681});
}

TEST(Adam, L2WeightDecayFoldsIntoTheGradient) {
  check_run([](Tensor p) { return Adam({p}, {.lr = 0.1, .weight_decay = 0.1, .fused = false}); },
            {.weight_decay = 0.1}, {0.9000000009090909, 0.8029473346876735, 0.7066099948355327});
}

TEST(Adam, AmsgradUsesTheRunningMaxOfV) {
  Tensor p = Tensor::from_vector<double>({1}, {1}, {.dtype = DType::f64});
  p.requires_grad_(true);
  Adam opt({p}, {.lr = 0.1, .beta2 = 0.5, .amsgrad = true});
  // g = 3, 1, 0.5 with beta2 0.5: v shrinks after step 1, so the max differs from v.
  const double want[] = {0.9000000003333333, 0.8204990177780898, 0.7581790455966995};
  const double plain[] = {0.9000000003333333, 0.7983020018587366, 0.6903606440627287};  // without amsgrad
  int t = 0;
  for (double g : {3.0, 1.0, 0.5}) {
    p.set_grad(Tensor::from_vector<double>({g}, {1}, {.dtype = DType::f64}));
    opt.step();
    EXPECT_NEAR(p.item(), want[t], 1e-14);
    if (t > 0) {
      EXPECT_GT(std::abs(p.item() - plain[t]), 1e-3);
    }
    ++t;
  }
  EXPECT_EQ(opt.fused_updates(), 0);  // the fused kernel has no amsgrad
  check_run([](Tensor q) { return Adam({q}, {.lr = 0.1, .amsgrad = true}); }, {.amsgrad = true}, {});
}

TEST(AdamW, DecoupledDecayMatchesHandValues) {
  check_run([](Tensor p) { return AdamW({p}, {.lr = 0.1, .weight_decay = 0.1, .fused = false}); },
            {.weight_decay = 0.1, .decoupled = true}, {0.890000001, 0.7845817990181663, 0.6809358590614992});
  check_run([](Tensor p) { return AdamW({p}, {.lr = 0.1, .weight_decay = 0.1}); },
            {.weight_decay = 0.1, .decoupled = true}, {0.890000001, 0.7845817990181663, 0.6809358590614992});
}

TEST(AdamW, DefaultsFollowPyTorch) {
  Tensor p = Tensor::zeros({2});
  AdamW w({p});
  EXPECT_EQ(w.name(), "AdamW");
  EXPECT_EQ(*w.param_groups()[0].weight_decay, 1e-2);
  EXPECT_EQ(w.lr(), 1e-3);
  EXPECT_EQ(*w.param_groups()[0].beta2, 0.999);
  Adam a({p});
  EXPECT_EQ(a.name(), "Adam");
  EXPECT_EQ(*a.param_groups()[0].weight_decay, 0.0);
  EXPECT_EQ(a.momentum(), 0.9);  // schedulers see beta1 as the momentum
  a.set_momentum(0, 0.8);
  EXPECT_EQ(*a.param_groups()[0].beta1, 0.8);
}

TEST(Adam, F32CompositeTracksTheDoubleReference) {
  check_run([](Tensor p) { return Adam({p}, {.lr = 0.1, .fused = false}); }, {}, {}, DType::f32, Device::cpu(), 2e-6);
  check_run([](Tensor p) { return AdamW({p}, {.lr = 0.1, .fused = false}); }, {.weight_decay = 1e-2, .decoupled = true},
            {}, DType::f32, Device::cpu(), 2e-6);
}

TEST(Adam, FusedFlagOffNeverCallsTheKernel) {
  Tensor p = Tensor::ones({3});
  p.set_grad(Tensor::ones({3}));
  Adam opt({p}, {.fused = false});
  opt.step();
  EXPECT_EQ(opt.fused_updates(), 0);
}

// The fused kernel on every device that has one, f32 (the training dtype) and f64.
TEST(Adam, FusedKernelMatchesTheReference) {
  std::vector<Device> devices = {Device::cpu()};
  if (cuda_present()) devices.push_back(Device::cuda());
  int ran = 0;
  for (Device d : devices) {
    if (!fuses_adam(d)) continue;
    for (DType dt : {DType::f32, DType::f64}) {
      double tol = dt == DType::f32 ? 2e-6 : 1e-12;
      Tensor p = Tensor::from_vector(kStart, {3}, {.dtype = dt, .device = d});
      p.requires_grad_(true);
      AdamW opt({p}, {.lr = 0.1, .weight_decay = 0.1});
      Tensor q = Tensor::from_vector(kStart, {3}, {.dtype = dt, .device = d});
      q.requires_grad_(true);
      Adam opt_l2({q}, {.lr = 0.1, .weight_decay = 0.1});
      for (size_t t = 0; t < kGrads.size(); ++t) {
        p.set_grad(Tensor::from_vector(kGrads[t], {3}, {.dtype = dt, .device = d}));
        q.set_grad(Tensor::from_vector(kGrads[t], {3}, {.dtype = dt, .device = d}));
        opt.step();
        opt_l2.step();
        std::vector<std::vector<double>> seen(kGrads.begin(), kGrads.begin() + long(t) + 1);
        EXPECT_TRUE(all_close(p.detach().to(Device::cpu()),
                              adam_reference(kStart, seen, {.weight_decay = 0.1, .decoupled = true}), tol, tol))
            << d.str() << " " << dtype_name(dt) << " AdamW step " << t + 1;
        EXPECT_TRUE(all_close(q.detach().to(Device::cpu()), adam_reference(kStart, seen, {.weight_decay = 0.1}), tol,
                              tol))
            << d.str() << " " << dtype_name(dt) << " Adam step " << t + 1;
      }
      EXPECT_EQ(opt.fused_updates(), 3);
      EXPECT_EQ(opt_l2.fused_updates(), 3);
      ++ran;
    }
  }
  if (ran == 0) GTEST_SKIP() << "no backend here has a fused adam_update kernel (the composite path is tested above)";
}

TEST(Adam, ParamGroupsUseTheirOwnOptions) {
  Tensor a = Tensor::from_vector<double>({1}, {1}, {.dtype = DType::f64});
  Tensor b = a.clone();
  a.requires_grad_(true);
  b.requires_grad_(true);
  Adam opt(std::vector<ParamGroup>{{.params = {a}}, {.params = {b}, .lr = 0.01, .beta1 = 0.5, .eps = 1e-3}},
           {.lr = 0.1, .fused = false});
  std::vector<std::vector<double>> grads;
  for (double g : {1.0, 2.0, 3.0}) {
    a.set_grad(Tensor::from_vector<double>({g}, {1}, {.dtype = DType::f64}));
    b.set_grad(Tensor::from_vector<double>({g}, {1}, {.dtype = DType::f64}));
    opt.step();
    grads.push_back({g});
  }
  EXPECT_NEAR(a.item(), adam_reference({1}, grads, {})[0], 1e-14);
  EXPECT_NEAR(b.item(), adam_reference({1}, grads, {.lr = 0.01, .beta1 = 0.5, .eps = 1e-3})[0], 1e-14);
  EXPECT_NEAR(a.item(), 0.707681677061681, 1e-14);
}

TEST(Adam, MinimisesAQuadraticThroughTheEngine) {
  Tensor target = Tensor::from_vector<float>({0.5f, -1.5f, 2.0f, 0.0f}, {4});
  Tensor p = Tensor::zeros({4});
  p.requires_grad_(true);
  AdamW opt({p}, {.lr = 0.05, .weight_decay = 0});
  for (int i = 0; i < 300; ++i) {
    opt.zero_grad();
    Tensor d = p - target;
    (d * d).sum().backward();
    opt.step();
  }
  EXPECT_TRUE(all_close(p, target, 0, 2e-2));
}

TEST(Adam, RejectsBadOptions) {
  Tensor p = Tensor::zeros({1});
  EXPECT_TRUE(throws_with([&] { Adam({p}, {.beta1 = 1.0}); }, {"Adam: beta1 1 is outside [0, 1)"}));
  EXPECT_TRUE(throws_with([&] { AdamW({p}, {.beta2 = -0.1}); }, {"AdamW: beta2 -0.1 is outside"}));
  EXPECT_TRUE(throws_with([&] { Adam({p}, {.eps = -1}); }, {"eps -1"}));
  EXPECT_TRUE(throws_with([&] { Adam(std::vector<ParamGroup>{{.params = {p}, .momentum = 0.9}}); },
                          {"sets momentum, which Adam does not use"}));
  Adam opt({p});
  EXPECT_TRUE(throws_with([&] { opt.set_momentum(0, 1.5); }, {"beta1 1.5 is outside"}));
  EXPECT_EQ(opt.momentum(), 0.9);
}

std::string tmp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::temp_directory_path() / fmt::format("ember_adam_{}_{}_{}", ::getpid(), info->name(), name))
      .string();
}

// Three steps, save, a fresh optimizer over copies loads the file, then both take three more
// steps: the parameters must stay bit-identical.
template <typename Opt, typename Options>
void check_resume(Options o) {
  Generator gen(7);
  Tensor a = Tensor::randn({3, 4}, {}, &gen), b = Tensor::randn({5}, {}, &gen);
  a.requires_grad_(true);
  b.requires_grad_(true);
  std::vector<Tensor> grads_a, grads_b;
  for (int t = 0; t < 6; ++t) {
    grads_a.push_back(Tensor::randn({3, 4}, {}, &gen));
    grads_b.push_back(Tensor::randn({5}, {}, &gen));
  }
  Opt opt(std::vector<ParamGroup>{{.params = {a}}, {.params = {b}, .lr = 0.02}}, o);
  for (int t = 0; t < 3; ++t) {
    a.set_grad(grads_a[size_t(t)]);
    b.set_grad(grads_b[size_t(t)]);
    opt.step();
  }
  std::string path = tmp_path("state.safetensors");
  opt.save(path);
  Tensor a2 = a.detach().clone(), b2 = b.detach().clone();
  a2.requires_grad_(true);
  b2.requires_grad_(true);
  Opt fresh(std::vector<ParamGroup>{{.params = {a2}}, {.params = {b2}}}, o);
  fresh.load(path);
  EXPECT_EQ(fresh.step_count(1), 3);
  EXPECT_EQ(fresh.lr(1), 0.02);
  for (int t = 3; t < 6; ++t) {
    a.set_grad(grads_a[size_t(t)]);
    b.set_grad(grads_b[size_t(t)]);
    opt.step();
    a2.set_grad(grads_a[size_t(t)]);
    b2.set_grad(grads_b[size_t(t)]);
    fresh.step();
    EXPECT_EQ(a.to_vector<float>(), a2.to_vector<float>()) << "step " << t + 1;
    EXPECT_EQ(b.to_vector<float>(), b2.to_vector<float>()) << "step " << t + 1;
  }
  std::filesystem::remove(path);
}

TEST(Adam, StateRoundTripGivesBitIdenticalSteps) {
  check_resume<Adam>(AdamOptions{.lr = 0.01, .weight_decay = 0.05});
  check_resume<Adam>(AdamOptions{.lr = 0.01, .amsgrad = true});
  check_resume<Adam>(AdamOptions{.lr = 0.01, .fused = false});
  check_resume<AdamW>(AdamWOptions{.lr = 0.01});
}

TEST(Adam, StateDictHoldsMomentsAndStepsAndChecksTheType) {
  Tensor p = Tensor::ones({2});
  p.set_grad(Tensor::ones({2}));
  Adam opt({p}, {.amsgrad = true});
  opt.step();
  opt.step();
  TensorDict sd = opt.state_dict();
  EXPECT_EQ(sd.names(), (std::vector<std::string>{"state.0.exp_avg", "state.0.exp_avg_sq", "state.0.max_exp_avg_sq"}));
  EXPECT_EQ(sd.metadata.at("optimizer.state.0.step"), "2");
  EXPECT_EQ(sd.metadata.at("optimizer.group.0.beta2"), "0.999");
  // m after two unit gradients: 0.1 then 0.9*0.1 + 0.1 = 0.19.
  EXPECT_TRUE(all_close(sd.at("state.0.exp_avg"), {0.19, 0.19}, 1e-6, 1e-7));
  // The dict is a snapshot: further steps do not change it.
  opt.step();
  EXPECT_TRUE(all_close(sd.at("state.0.exp_avg"), {0.19, 0.19}, 1e-6, 1e-7));

  Tensor q = Tensor::ones({2});
  AdamW w({q});
  EXPECT_TRUE(throws_with([&] { w.load_state_dict(sd); }, {"state is for Adam, this optimizer is AdamW"}));
  Adam plain({q});
  EXPECT_TRUE(throws_with([&] { plain.load_state_dict(sd); }, {"Adam has no buffer 'max_exp_avg_sq'"}));
  TensorDict wrong_dtype = sd;
  wrong_dtype.tensors[0].second = Tensor::zeros({2}, {.dtype = DType::f64});
  Adam ams({q}, {.amsgrad = true});
  EXPECT_TRUE(throws_with([&] { ams.load_state_dict(wrong_dtype); }, {"'state.0.exp_avg' is [2] f64, parameter 0 is [2] f32"}));
}

}  // namespace
}  // namespace ember::nn

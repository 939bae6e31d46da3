// Schedulers against closed-form values at chosen steps (each expectation written out from the
// schedule's formula), momentum cycling, errors, and resume through a saved checkpoint.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <numbers>

#include "nn/optim/adam.h"
#include "nn/optim/scheduler.h"
#include "nn/optim/sgd.h"
#include "tests/common/expect_close.h"

namespace ember::nn {
namespace {

using std::numbers::pi;
using test::throws_with;

Tensor leaf() {
  Tensor p = Tensor::zeros({2});
  p.requires_grad_(true);
  return p;
}

// lr of group 0 after each of steps 0..n (step 0 = right after construction).
std::vector<double> trace(LRScheduler& s, int n) {
  std::vector<double> out = {s.last_lr()[0]};
  for (int i = 0; i < n; ++i) {
    s.step();
    out.push_back(s.last_lr()[0]);
  }
  return out;
}

void expect_near_all(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-15) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "step " << i;
}

TEST(StepLR, DecaysEveryStepSizeSteps) {
  Tensor a = leaf(), b = leaf();
  SGD opt(std::vector<ParamGroup>{{.params = {a}}, {.params = {b}, .lr = 0.01}}, {.lr = 0.1});
  StepLR s(opt, {.step_size = 3, .gamma = 0.5});
  EXPECT_EQ(s.base_lrs(), (std::vector<double>{0.1, 0.01}));
  expect_near_all(trace(s, 7), {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025});
  EXPECT_EQ(s.last_step(), 7);
  EXPECT_NEAR(s.last_lr()[1], 0.0025, 1e-16);
  EXPECT_EQ(opt.lr(0), s.last_lr()[0]);  // written into the optimizer
  EXPECT_EQ(opt.lr(1), s.last_lr()[1]);
  EXPECT_TRUE(throws_with([&] { StepLR(opt, {.step_size = 0}); }, {"StepLR: step_size must be > 0"}));
}

TEST(CosineWithWarmup, WarmsUpLinearlyThenFollowsTheCosine) {
  Tensor p = leaf();
  SGD opt({p}, {.lr = 0.1});
  CosineWithWarmup s(opt, {.warmup_steps = 4, .total_steps = 12, .start_factor = 0.2, .min_lr = 0.001});
  auto lr = trace(s, 14);
  // Warm-up: 0.1 * (0.2 + 0.8 * t/4).
  EXPECT_NEAR(lr[0], 0.02, 1e-16);
  EXPECT_NEAR(lr[1], 0.04, 1e-16);
  EXPECT_NEAR(lr[2], 0.06, 1e-16);
  EXPECT_NEAR(lr[3], 0.08, 1e-16);
  // Cosine over steps 4..12: 0.001 + 0.099 * (1 + cos(pi * (t - 4) / 8)) / 2.
  EXPECT_NEAR(lr[4], 0.1, 1e-16);
  EXPECT_NEAR(lr[6], 0.001 + 0.0495 * (1 + std::cos(pi / 4)), 1e-16);
  EXPECT_NEAR(lr[8], 0.0505, 1e-16);
  EXPECT_NEAR(lr[10], 0.001 + 0.0495 * (1 + std::cos(3 * pi / 4)), 1e-16);
  EXPECT_NEAR(lr[12], 0.001, 1e-16);
  EXPECT_NEAR(lr[14], 0.001, 1e-16);  // flat after total_steps
  EXPECT_TRUE(throws_with([&] { CosineWithWarmup(opt, {.warmup_steps = 5, .total_steps = 5}); },
                          {"CosineWithWarmup: need 0 <= warmup_steps < total_steps"}));
  EXPECT_TRUE(throws_with([&] { CosineWithWarmup(opt, {.total_steps = 5, .start_factor = 2}); }, {"start_factor 2"}));
}

TEST(CosineWithWarmup, NoWarmupStartsAtTheBaseLr) {
  Tensor p = leaf();
  SGD opt({p}, {.lr = 0.5});
  CosineWithWarmup s(opt, {.total_steps = 4});
  // 0.5 * (1 + cos(pi * t / 4)) / 2.
  expect_near_all(trace(s, 4), {0.5, 0.25 * (1 + std::cos(pi / 4)), 0.25, 0.25 * (1 + std::cos(3 * pi / 4)), 0.0});
}

// max_lr 0.1, 10 steps, pct_start 0.3: initial 0.1/25 = 0.004, min 0.004/1e4 = 4e-7; phase 1 ends at
// step 0.3*10 - 1 = 2, phase 2 at 9.
TEST(OneCycle, TwoPhaseCosineMatchesPyTorchsFormula) {
  Tensor p = leaf();
  SGD opt({p}, {.lr = 1.0, .momentum = 0.9});
  OneCycle s(opt, {.max_lr = {0.1}, .total_steps = 10});
  EXPECT_NEAR(opt.lr(), 0.004, 1e-17);
  EXPECT_NEAR(opt.momentum(), 0.95, 1e-16);  // max_momentum at the start
  std::vector<double> lr = {s.last_lr()[0]}, mom = {opt.momentum()};
  for (int t = 1; t <= 10; ++t) {
    s.step();
    lr.push_back(s.last_lr()[0]);
    mom.push_back(opt.momentum());
  }
  EXPECT_NEAR(lr[1], 0.052, 1e-16);  // halfway up: cos(pi/2) = 0
  EXPECT_NEAR(lr[2], 0.1, 1e-16);
  EXPECT_NEAR(lr[5], 4e-7 + (0.1 - 4e-7) / 2 * (1 + std::cos(pi * 3 / 7)), 1e-16);
  EXPECT_NEAR(lr[9], 4e-7, 1e-18);
  EXPECT_NEAR(lr[10], 4e-7 + (0.1 - 4e-7) / 2 * (1 + std::cos(pi * 8 / 7)), 1e-16);  // PyTorch allows step T
  EXPECT_NEAR(mom[1], 0.9, 1e-15);
  EXPECT_NEAR(mom[2], 0.85, 1e-15);
  EXPECT_NEAR(mom[5], 0.95 + (0.85 - 0.95) / 2 * (1 + std::cos(pi * 3 / 7)), 1e-15);
  EXPECT_NEAR(mom[9], 0.95, 1e-15);
  EXPECT_TRUE(throws_with([&] { s.step(); }, {"OneCycle: tried to step 11 times, but total_steps is 10"}));
  EXPECT_EQ(s.last_step(), 10);  // the refused step changed nothing
  EXPECT_EQ(opt.lr(), lr[10]);
}

// Outside review: with anneal_cos = false the step after the final update (t = total_steps, which
// PyTorch allows) extrapolated below min_lr to -0.0143 and threw, killing a normal training loop.
TEST(OneCycle, LinearLastStepStaysAtTheMinimum) {
  Tensor p = leaf();
  Adam opt({p}, {.lr = 1.0});
  OneCycle s(opt, {.max_lr = {0.1}, .total_steps = 10, .anneal_cos = false});
  for (int t = 1; t <= 10; ++t) EXPECT_NO_THROW(s.step()) << t;
  EXPECT_NEAR(s.last_lr()[0], 4e-7, 1e-18);
  EXPECT_GE(opt.lr(), 0.0);
}

TEST(OneCycle, ThreePhaseLinearAndPerGroupMaxLr) {
  Tensor a = leaf(), b = leaf();
  Adam opt(std::vector<ParamGroup>{{.params = {a}}, {.params = {b}}});
  OneCycle s(opt, {.max_lr = {0.1, 1.0}, .total_steps = 10, .anneal_cos = false, .three_phase = true});
  // Phases end at 2 (0.004 -> 0.1), 4 (0.1 -> 0.004), 9 (0.004 -> 4e-7); linear interpolation.
  std::vector<double> lr = {s.last_lr()[0]}, beta1 = {opt.momentum(0)};
  for (int t = 1; t <= 9; ++t) {
    s.step();
    lr.push_back(s.last_lr()[0]);
    beta1.push_back(opt.momentum(0));
  }
  EXPECT_NEAR(lr[0], 0.004, 1e-17);
  EXPECT_NEAR(lr[1], 0.052, 1e-16);
  EXPECT_NEAR(lr[3], 0.052, 1e-16);
  EXPECT_NEAR(lr[4], 0.004, 1e-17);
  EXPECT_NEAR(lr[6], 0.004 + (4e-7 - 0.004) * 2 / 5, 1e-17);
  EXPECT_NEAR(lr[9], 4e-7, 1e-18);
  EXPECT_NEAR(s.last_lr()[1], 4e-6, 1e-17);  // group 1: max 1.0 -> min 1.0/25/1e4
  // beta1 (Adam's momentum): 0.95 -> 0.85 -> 0.95, then flat.
  EXPECT_NEAR(beta1[1], 0.9, 1e-15);
  EXPECT_NEAR(beta1[2], 0.85, 1e-15);
  EXPECT_NEAR(beta1[3], 0.9, 1e-15);
  EXPECT_NEAR(beta1[7], 0.95, 1e-15);
  EXPECT_TRUE(throws_with([&] { OneCycle(opt, {.max_lr = {0.1, 0.2, 0.3}, .total_steps = 10}); },
                          {"max_lr has 3 values, expected 1 or one per param group (2)"}));
  EXPECT_TRUE(throws_with([&] { OneCycle(opt, {.max_lr = {0.1}, .total_steps = 10, .pct_start = 0.1}); },
                          {"zero length"}));
}

// An optimizer without momentum, to check that OneCycle refuses to cycle it.
class Plain : public Optimizer {
 public:
  explicit Plain(std::vector<Tensor> ps) : Optimizer(ParamGroup{.lr = 0.1}) { init_groups({{.params = std::move(ps)}}); }
  void step() override {}
  std::string name() const override { return "Plain"; }

 protected:
  std::vector<std::string> buffer_names() const override { return {}; }
  void check_group(const ParamGroup&) const override {}
};

TEST(OneCycle, CycleMomentumNeedsAMomentum) {
  Plain opt({leaf()});
  EXPECT_FALSE(opt.has_momentum());
  EXPECT_TRUE(throws_with([&] { OneCycle(opt, {.max_lr = {0.1}, .total_steps = 10}); },
                          {"cycle_momentum needs an optimizer with momentum, Plain has none"}));
  OneCycle s(opt, {.max_lr = {0.1}, .total_steps = 10, .cycle_momentum = false});
  EXPECT_NEAR(opt.lr(), 0.004, 1e-17);
  EXPECT_TRUE(throws_with([&] { opt.momentum(); }, {"Plain: optimizer has no momentum"}));
}

std::string tmp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::temp_directory_path() / fmt::format("ember_sched_{}_{}_{}", ::getpid(), info->name(), name))
      .string();
}

// Train 4 steps, checkpoint optimizer + scheduler in one file, rebuild both from scratch, load, and
// continue: lrs, momenta and parameters match the uninterrupted run bit for bit.
template <typename MakeSched>
void check_resume(MakeSched make_sched) {
  Generator gen(3);
  Tensor p = Tensor::randn({6}, {}, &gen);
  p.requires_grad_(true);
  std::vector<Tensor> grads;
  for (int t = 0; t < 9; ++t) grads.push_back(Tensor::randn({6}, {}, &gen));
  SGD opt({p}, {.lr = 0.1, .momentum = 0.9});
  auto sched = make_sched(opt);
  for (int t = 0; t < 4; ++t) {
    p.set_grad(grads[size_t(t)]);
    opt.step();
    sched->step();
  }
  std::string path = tmp_path("ckpt.safetensors");
  auto extra = sched->state_dict();
  extra["epoch"] = "4";
  opt.save(path, extra);

  Tensor q = p.detach().clone();
  q.requires_grad_(true);
  SGD opt2({q}, {.lr = 0.1, .momentum = 0.9});
  auto sched2 = make_sched(opt2);
  auto meta = opt2.load(path);
  sched2->load_state_dict(meta);
  EXPECT_EQ(meta.at("epoch"), "4");
  EXPECT_EQ(sched2->last_step(), 4);
  EXPECT_EQ(sched2->last_lr(), sched->last_lr());
  EXPECT_EQ(opt2.lr(), opt.lr());
  for (int t = 4; t < 9; ++t) {
    p.set_grad(grads[size_t(t)]);
    opt.step();
    sched->step();
    q.set_grad(grads[size_t(t)]);
    opt2.step();
    sched2->step();
    EXPECT_EQ(sched2->last_lr(), sched->last_lr()) << "step " << t;
    EXPECT_EQ(opt2.momentum(), opt.momentum()) << "step " << t;
    EXPECT_EQ(q.to_vector<float>(), p.to_vector<float>()) << "step " << t;
  }
  std::filesystem::remove(path);
}

TEST(Scheduler, ResumeContinuesTheScheduleExactly) {
  check_resume([](Optimizer& o) { return std::make_unique<StepLR>(o, StepLROptions{.step_size = 2, .gamma = 0.7}); });
  check_resume([](Optimizer& o) {
    return std::make_unique<CosineWithWarmup>(o, CosineWithWarmupOptions{.warmup_steps = 3, .total_steps = 9});
  });
  check_resume([](Optimizer& o) {
    return std::make_unique<OneCycle>(o, OneCycleOptions{.max_lr = {0.5}, .total_steps = 9});
  });
}

TEST(Scheduler, LoadStateDictChecksTypeAndGroups) {
  Tensor p = leaf();
  SGD opt({p}, {.lr = 0.1});
  StepLR s(opt, {.step_size = 2});
  s.step();
  s.step();
  auto st = s.state_dict();
  EXPECT_EQ(st.at("scheduler.type"), "StepLR");
  EXPECT_EQ(st.at("scheduler.step"), "2");
  EXPECT_EQ(st.at("scheduler.base_lr.0"), "0.1");
  CosineWithWarmup c(opt, {.total_steps = 10});
  EXPECT_TRUE(throws_with([&] { c.load_state_dict(st); }, {"CosineWithWarmup load_state_dict: state is for StepLR"}));
  EXPECT_EQ(c.last_step(), 0);
  auto bad = st;
  bad["scheduler.num_groups"] = "3";
  StepLR s2(opt, {.step_size = 2});
  EXPECT_TRUE(throws_with([&] { s2.load_state_dict(bad); }, {"state has 3 groups, this scheduler 1"}));
  bad = st;
  bad.erase("scheduler.step");
  EXPECT_TRUE(throws_with([&] { s2.load_state_dict(bad); }, {"lacks 'scheduler.step'"}));
  s2.load_state_dict(st);
  EXPECT_EQ(s2.last_step(), 2);
  EXPECT_NEAR(opt.lr(), 0.01, 1e-17);
  // Groups added to the optimizer after the scheduler was built are refused, not ignored.
  opt.add_param_group({.params = {leaf()}});
  EXPECT_TRUE(throws_with([&] { s2.step(); }, {"the optimizer has 2 param groups, the scheduler 1"}));
}

}  // namespace
}  // namespace ember::nn

// SGD against hand-computed updates (numbers worked out in the comments, plus a scalar
// reimplementation of torch.optim.SGD's update for multi-element cases), param groups, zero_grad,
// the engine round trip, option checks, and state save/load (bit-identical continuation).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "nn/optim/sgd.h"
#include "tests/common/expect_close.h"

namespace ember::nn {
namespace {

using test::all_close;
using test::throws_with;

Tensor param(const std::vector<double>& v) {
  Tensor p = Tensor::from_vector(v, {int64_t(v.size())}, {.dtype = DType::f64});
  p.requires_grad_(true);
  return p;
}

void set_grad(const Tensor& p, const std::vector<double>& g) {
  p.set_grad(Tensor::from_vector(g, {int64_t(g.size())}, {.dtype = DType::f64}));
}

std::string tmp_path(const std::string& name) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return (std::filesystem::temp_directory_path() / fmt::format("ember_sgd_{}_{}_{}", ::getpid(), info->name(), name))
      .string();
}

// Scalar torch.optim.SGD, element by element: d = g + wd*p; buf = d (first) or m*buf + (1-damp)*d;
// d = nesterov ? d + m*buf : buf; p -= lr*d.
std::vector<double> sgd_reference(std::vector<double> p, const std::vector<std::vector<double>>& grads,
                                  const SGDOptions& o) {
  std::vector<double> buf(p.size());
  for (size_t t = 0; t < grads.size(); ++t)
    for (size_t i = 0; i < p.size(); ++i) {
      double d = grads[t][i] + o.weight_decay * p[i];
      if (o.momentum != 0) {
        buf[i] = t == 0 ? d : o.momentum * buf[i] + (1 - o.dampening) * d;
        d = o.nesterov ? d + o.momentum * buf[i] : buf[i];
      }
      p[i] -= o.lr * d;
    }
  return p;
}

// Runs `steps` steps with the grads below and checks every step against the literal values (first
// element) and the scalar reference (all elements).
void check_run(const SGDOptions& o, const std::vector<double>& expected_first) {
  const std::vector<std::vector<double>> grads = {{1, -1, 0.5}, {2, 0.5, -0.25}, {3, 2, 0}};
  Tensor p = param({1, -0.5, 2});
  SGD opt({p}, o);
  for (size_t t = 0; t < grads.size(); ++t) {
    set_grad(p, grads[t]);
    opt.step();
    std::vector<std::vector<double>> seen(grads.begin(), grads.begin() + long(t) + 1);
    EXPECT_TRUE(all_close(p, sgd_reference({1, -0.5, 2}, seen, o), 1e-12, 1e-14)) << "step " << t + 1;
    EXPECT_NEAR(p.to_vector<double>()[0], expected_first[t], 1e-12) << "step " << t + 1;
  }
  EXPECT_EQ(opt.step_count(0), 3);
}

TEST(SGD, PlainStepsMatchHandValues) {
  // p0 = 1, g = 1, 2, 3, lr 0.1: 0.9, 0.7, 0.4.
  check_run({.lr = 0.1}, {0.9, 0.7, 0.4});
}

TEST(SGD, MomentumStepsMatchHandValues) {
  // buf = 1 -> p 0.9; buf = 0.9*1 + 2 = 2.9 -> p 0.61; buf = 0.9*2.9 + 3 = 5.61 -> p 0.049.
  check_run({.lr = 0.1, .momentum = 0.9}, {0.9, 0.61, 0.049});
}

TEST(SGD, DampeningSkipsTheFirstStep) {
  // buf = 1 (no dampening on the first step) -> 0.9; buf = 0.9 + 0.5*2 = 1.9 -> 0.71;
  // buf = 0.9*1.9 + 0.5*3 = 3.21 -> 0.389.
  check_run({.lr = 0.1, .momentum = 0.9, .dampening = 0.5}, {0.9, 0.71, 0.389});
}

TEST(SGD, NesterovStepsMatchHandValues) {
  // d = g + 0.9*buf: 1 + 0.9 = 1.9 -> 0.81; 2 + 0.9*2.9 = 4.61 -> 0.349; 3 + 0.9*5.61 = 8.049 -> -0.4559.
  check_run({.lr = 0.1, .momentum = 0.9, .nesterov = true}, {0.81, 0.349, -0.4559});
}

TEST(SGD, WeightDecayStepsMatchHandValues) {
  // d = g + 0.1*p: 1.1 -> 0.89; 2 + 0.089 = 2.089 -> 0.6811; 3 + 0.06811 = 3.06811 -> 0.374289.
  check_run({.lr = 0.1, .weight_decay = 0.1}, {0.89, 0.6811, 0.374289});
}

TEST(SGD, WeightDecayWithMomentum) {
  // d1 = 1.1, buf 1.1 -> 0.89; d2 = 2.089, buf = 0.99 + 2.089 = 3.079 -> 0.5821;
  // d3 = 3.05821, buf = 2.7711 + 3.05821 = 5.82931 -> -0.000831.
  check_run({.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1}, {0.89, 0.5821, -0.000831});
}

TEST(SGD, ParamGroupsUseTheirOwnOptions) {
  Tensor a = param({1}), b = param({1});
  SGD opt(std::vector<ParamGroup>{{.params = {a}}, {.params = {b}, .lr = 0.01, .momentum = 0.5}},
          {.lr = 0.1, .momentum = 0.9});
  EXPECT_EQ(opt.num_groups(), 2u);
  EXPECT_EQ(opt.lr(0), 0.1);
  EXPECT_EQ(opt.lr(1), 0.01);
  EXPECT_EQ(opt.momentum(1), 0.5);
  EXPECT_EQ(*opt.param_groups()[1].dampening, 0.0);  // unset options take the defaults
  for (double g : {1.0, 2.0}) {
    set_grad(a, {g});
    set_grad(b, {g});
    opt.step();
  }
  // a: buf 1 -> 0.9; buf 0.9 + 2 = 2.9 -> 0.61.   b: buf 1 -> 0.99; buf 0.5 + 2 = 2.5 -> 0.965.
  EXPECT_NEAR(a.item(), 0.61, 1e-14);
  EXPECT_NEAR(b.item(), 0.965, 1e-14);
  opt.set_lr(0.2);
  EXPECT_EQ(opt.lr(1), 0.2);
  opt.set_lr(1, 0.3);
  EXPECT_EQ(opt.lr(0), 0.2);
  EXPECT_EQ(opt.lr(1), 0.3);
  opt.set_momentum(0, 0.8);
  EXPECT_EQ(*opt.param_groups()[0].momentum, 0.8);
}

TEST(SGD, AddParamGroupExtendsTheState) {
  Tensor a = param({1}), b = param({2});
  SGD opt({a}, {.lr = 0.1});
  opt.add_param_group({.params = {b}, .lr = 0.5});
  set_grad(a, {1});
  set_grad(b, {1});
  opt.step();
  EXPECT_NEAR(a.item(), 0.9, 1e-15);
  EXPECT_NEAR(b.item(), 1.5, 1e-15);
  EXPECT_EQ(opt.params().size(), 2u);
  EXPECT_EQ(opt.step_count(1), 1);
  EXPECT_TRUE(throws_with([&] { opt.add_param_group({.params = {a}}); }, {"SGD", "appears in more than one place"}));
}

TEST(SGD, SkipsParamsWithoutGradAndZeroGradFillsOrDrops) {
  Tensor a = param({1, 2}), b = param({3});
  SGD opt({a, b}, {.lr = 0.5});
  set_grad(a, {1, 1});
  opt.step();
  EXPECT_EQ(b.item(), 3.0);  // no grad: untouched
  EXPECT_EQ(opt.step_count(1), 0);
  opt.zero_grad();
  ASSERT_TRUE(a.grad().defined());
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{0, 0}));
  EXPECT_FALSE(b.grad().defined());
  opt.zero_grad(/*set_to_none=*/true);
  EXPECT_FALSE(a.grad().defined());
}

TEST(SGD, TrainsThroughTheAutogradEngine) {
  // loss = sum(p^2) has grad 2p, so each step scales p by (1 - 2*lr) = 0.8.
  Tensor p = Tensor::from_vector<float>({1, -2, 4}, {3});
  p.requires_grad_(true);
  SGD opt({p}, {.lr = 0.1});
  for (int i = 0; i < 3; ++i) {
    opt.zero_grad();
    Tensor loss = (p * p).sum();
    loss.backward();
    opt.step();
  }
  EXPECT_TRUE(all_close(p, {0.512, -1.024, 2.048}, 1e-6, 1e-6));
}

TEST(SGD, StepBumpsTheVersionSoStaleGraphsAreCaught) {
  Tensor p = Tensor::from_vector<float>({1, 2}, {2});
  p.requires_grad_(true);
  SGD opt({p}, {.lr = 0.1});
  Tensor loss = (p * p).sum();  // saves p for backward
  p.set_grad(Tensor::ones({2}));
  opt.step();
  EXPECT_TRUE(throws_with([&] { loss.backward(); }, {"modified in place"}));
}

TEST(SGD, RejectsBadOptionsAndParams) {
  Tensor p = param({1});
  EXPECT_TRUE(throws_with([&] { SGD({p}, {.lr = -1}); }, {"SGD: lr -1 is outside"}));
  EXPECT_TRUE(throws_with([&] { SGD({p}, {.lr = 0.1, .nesterov = true}); }, {"nesterov needs momentum > 0"}));
  EXPECT_TRUE(throws_with([&] { SGD({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
                          {"dampening == 0"}));
  EXPECT_TRUE(throws_with([&] { SGD(std::vector<Tensor>{}); }, {"SGD: got an empty parameter list"}));
  EXPECT_TRUE(throws_with([&] { SGD({p, p}); }, {"appears in more than one place"}));
  EXPECT_TRUE(throws_with([&] { SGD(std::vector<ParamGroup>{{.params = {p}, .beta1 = 0.9}}); },
                          {"SGD: param group 0 sets beta1, which SGD does not use"}));
  Tensor q = param({1});
  Tensor non_leaf = q * 2.0;
  EXPECT_TRUE(throws_with([&] { SGD({non_leaf}); }, {"not a leaf"}));
  Tensor ints = Tensor::zeros({2}, {.dtype = DType::i64});
  EXPECT_TRUE(throws_with([&] { SGD({ints}); }, {"not floating"}));
  SGD opt({p});
  EXPECT_TRUE(throws_with([&] { opt.lr(3); }, {"group 3 out of range"}));
  EXPECT_TRUE(throws_with([&] { opt.set_lr(0, NAN); }, {"must be finite"}));
}

TEST(SGD, StateRoundTripGivesBitIdenticalSteps) {
  const std::vector<std::vector<double>> grads = {{0.3, -1.7}, {2.2, 0.1}, {-0.4, 0.9}, {1.1, -2.3}, {0.7, 0.6}};
  SGDOptions o{.lr = 0.05, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01};
  Tensor a = param({0.25, -1.5}), b = param({3.0});
  SGD opt(std::vector<ParamGroup>{{.params = {a}}, {.params = {b}, .lr = 0.2}}, o);
  auto feed = [&](Tensor x, Tensor y, size_t t) {
    set_grad(x, grads[t]);
    set_grad(y, {grads[t][0] * 3});
  };
  for (size_t t = 0; t < 3; ++t) {
    feed(a, b, t);
    opt.step();
  }
  const std::string path = tmp_path("sgd.safetensors");
  opt.save(path, {{"epoch", "7"}});

  // A fresh optimizer over copies of the parameters, different lrs: load restores everything.
  Tensor a2 = a.detach().clone(), b2 = b.detach().clone();
  a2.requires_grad_(true);
  b2.requires_grad_(true);
  SGD fresh(std::vector<ParamGroup>{{.params = {a2}}, {.params = {b2}}}, {.lr = 1.0, .momentum = 0.5});
  auto meta = fresh.load(path);
  EXPECT_EQ(meta.at("epoch"), "7");
  EXPECT_EQ(fresh.lr(1), 0.2);
  EXPECT_EQ(fresh.momentum(0), 0.9);
  EXPECT_EQ(*fresh.param_groups()[0].dampening, 0.1);
  EXPECT_EQ(fresh.step_count(0), 3);
  for (size_t t = 3; t < grads.size(); ++t) {
    feed(a, b, t);
    opt.step();
    feed(a2, b2, t);
    fresh.step();
    EXPECT_EQ(a.to_vector<double>(), a2.to_vector<double>()) << "step " << t + 1;
    EXPECT_EQ(b.to_vector<double>(), b2.to_vector<double>()) << "step " << t + 1;
  }
  std::filesystem::remove(path);
}

TEST(SGD, LoadStateDictRejectsMismatchesAndChangesNothing) {
  Tensor a = param({1, 2}), b = param({3});
  SGD opt({a, b}, {.lr = 0.1, .momentum = 0.9});
  set_grad(a, {1, 1});
  set_grad(b, {1});
  opt.step();
  TensorDict sd = opt.state_dict();
  EXPECT_EQ(sd.metadata.at("optimizer.type"), "SGD");
  EXPECT_EQ(sd.metadata.at("optimizer.group.0.lr"), "0.1");
  EXPECT_TRUE(sd.contains("state.0.momentum_buffer"));
  EXPECT_TRUE(sd.contains("state.1.momentum_buffer"));

  Tensor c = param({1, 2});
  SGD one({c}, {.lr = 0.3});
  EXPECT_TRUE(throws_with([&] { one.load_state_dict(sd); }, {"group 0 has 2 parameters in the state, 1 here"}));
  EXPECT_EQ(one.lr(), 0.3);

  Tensor d = param({1, 2, 3}), e = param({3});
  SGD wrong_shape({d, e}, {.lr = 0.3, .momentum = 0.9});
  EXPECT_TRUE(throws_with([&] { wrong_shape.load_state_dict(sd); },
                          {"'state.0.momentum_buffer' is [2] f64, parameter 0 is [3] f64"}));
  EXPECT_EQ(wrong_shape.lr(), 0.3);  // nothing restored
  EXPECT_EQ(wrong_shape.step_count(0), 0);

  TensorDict two_groups = sd;
  two_groups.metadata["optimizer.num_groups"] = "2";
  EXPECT_TRUE(throws_with([&] { opt.load_state_dict(two_groups); }, {"state has 2 param groups, this SGD has 1"}));
  TensorDict bad_number = sd;
  bad_number.metadata["optimizer.group.0.lr"] = "0.1x";
  EXPECT_TRUE(throws_with([&] { opt.load_state_dict(bad_number); }, {"'optimizer.group.0.lr' = '0.1x' is not a number"}));
  TensorDict stray = sd;
  stray.tensors.emplace_back("state.5.momentum_buffer", Tensor::zeros({1}));
  EXPECT_TRUE(throws_with([&] { opt.load_state_dict(stray); }, {"refers to parameter 5, but there are 2"}));
  TensorDict odd = sd;
  odd.tensors.emplace_back("weights", Tensor::zeros({1}));
  EXPECT_TRUE(throws_with([&] { opt.load_state_dict(odd); }, {"unexpected tensor 'weights'"}));
  TensorDict unknown = sd;
  unknown.tensors.emplace_back("state.0.exp_avg", Tensor::zeros({2}, {.dtype = DType::f64}));
  EXPECT_TRUE(throws_with([&] { opt.load_state_dict(unknown); }, {"SGD has no buffer 'exp_avg'"}));
  TensorDict other = sd;
  other.metadata["optimizer.type"] = "Adam";
  EXPECT_TRUE(throws_with([&] { opt.load_state_dict(other); }, {"state is for Adam, this optimizer is SGD"}));
  EXPECT_TRUE(throws_with([&] { opt.save(tmp_path("x"), {{"optimizer.type", "x"}}); }, {"reserved prefix"}));
}

}  // namespace
}  // namespace ember::nn

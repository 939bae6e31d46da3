// Module: registration and dotted names, traversal order, train/eval, zero_grad, state_dict
// round trips and their errors (which must leave the module untouched), to(dtype), summary().
#include <gtest/gtest.h>

#include "nn/nn.h"
#include "tests/common/expect_close.h"

namespace ember::nn {
namespace {
using test::all_close;
using test::throws_with;

// A two-level model: block (Linear + BatchNorm2d-free norm) inside a top module with a buffer.
struct Block : Module {
  Block() {
    fc = register_module("fc", std::make_shared<Linear>(3, 2));
    norm = register_module("norm", std::make_shared<LayerNorm>(Shape{2}));
  }
  Tensor forward(const Tensor& x) override { return norm->forward(fc->forward(x)); }
  std::string type_name() const override { return "Block"; }
  std::shared_ptr<Linear> fc;
  std::shared_ptr<LayerNorm> norm;
};

struct Net : Module {
  Net() {
    scale = register_parameter("scale", Tensor::ones({2}));
    steps = register_buffer("steps", Tensor::zeros({1}));
    block = register_module("block", std::make_shared<Block>());
    head = register_module("head", std::make_shared<Linear>(2, 1, /*bias=*/false));
  }
  Tensor forward(const Tensor& x) override { return head->forward(block->forward(x) * scale); }
  std::string type_name() const override { return "Net"; }
  Tensor scale, steps;
  std::shared_ptr<Block> block;
  std::shared_ptr<Linear> head;
};

std::vector<std::string> names(const NamedTensors& nt) {
  std::vector<std::string> out;
  for (const auto& [n, _] : nt) out.push_back(n);
  return out;
}

TEST(Module, NamesFollowRegistrationOrder) {
  Net net;
  EXPECT_EQ(names(net.named_parameters()),
            (std::vector<std::string>{"scale", "block.fc.weight", "block.fc.bias", "block.norm.weight",
                                      "block.norm.bias", "head.weight"}));
  EXPECT_EQ(names(net.named_parameters(/*recurse=*/false)), (std::vector<std::string>{"scale"}));
  EXPECT_EQ(names(net.named_buffers()), (std::vector<std::string>{"steps"}));
  EXPECT_EQ(names(net.state_dict()), (std::vector<std::string>{"scale", "steps", "block.fc.weight", "block.fc.bias",
                                                               "block.norm.weight", "block.norm.bias",
                                                               "head.weight"}));
  std::vector<std::string> mods;
  for (auto& [n, _] : net.named_modules()) mods.push_back(n);
  EXPECT_EQ(mods, (std::vector<std::string>{"block", "block.fc", "block.norm", "head"}));
  EXPECT_EQ(net.num_parameters(), 2 + (3 * 2 + 2) + (2 + 2) + 2);
  for (const Tensor& p : net.parameters()) EXPECT_TRUE(p.requires_grad());
  EXPECT_FALSE(net.steps.requires_grad());
}

TEST(Module, RejectsBadNames) {
  struct Bad : Module {
    std::string type_name() const override { return "Bad"; }
    void add(const std::string& n) { register_parameter(n, Tensor::zeros({1})); }
  } bad;
  bad.add("w");
  EXPECT_TRUE(throws_with([&] { bad.add("w"); }, {"Bad", "'w'", "already registered"}));
  EXPECT_TRUE(throws_with([&] { bad.add("a.b"); }, {"'a.b'", "no '.'"}));
  EXPECT_TRUE(throws_with([&] { bad.add(""); }, {"non-empty"}));
  EXPECT_TRUE(throws_with([&] { Linear(2, 2).forward(Tensor::zeros({1})); }, {"Linear", "[1]"}));
}

TEST(Module, TrainEvalRecurses) {
  Net net;
  EXPECT_TRUE(net.block->fc->is_training());
  net.eval();
  EXPECT_FALSE(net.is_training());
  EXPECT_FALSE(net.block->norm->is_training());
  net.train();
  EXPECT_TRUE(net.head->is_training());
}

TEST(Module, ZeroGradFillsOrDrops) {
  Net net;
  sum(net.forward(Tensor::ones({4, 3}))).backward();
  Tensor g = net.block->fc->weight.grad();
  ASSERT_TRUE(g.defined());
  EXPECT_GT(sum(abs(g)).item(), 0.0);
  net.zero_grad();
  EXPECT_TRUE(net.block->fc->weight.grad().is_same(g));  // same buffer, zero-filled
  EXPECT_EQ(sum(abs(g)).item(), 0.0);
  net.zero_grad(/*set_to_none=*/true);
  EXPECT_FALSE(net.block->fc->weight.grad().defined());
}

TEST(Module, StateDictRoundTrip) {
  manual_seed(1);
  Net a;
  manual_seed(2);
  Net b;
  Tensor x = Tensor::rand({5, 3});
  ASSERT_FALSE(all_close(a.forward(x), b.forward(x)));
  NamedTensors state;
  for (auto& [n, t] : a.state_dict()) state.emplace_back(n, t.clone());
  b.load_state_dict(state);
  EXPECT_TRUE(all_close(a.forward(x), b.forward(x), 0, 0));
  // b's layer handles still point at the tensors that were loaded into.
  EXPECT_TRUE(b.block->fc->weight.is_same(b.named_parameters()[1].second));
}

TEST(Module, LoadStateDictErrorsLeaveModuleUntouched) {
  Net net;
  const Tensor before = net.block->fc->weight.clone();
  NamedTensors state;
  for (auto& [n, t] : net.state_dict()) state.emplace_back(n, Tensor::zeros(t.shape()));
  NamedTensors missing(state.begin() + 1, state.end());
  EXPECT_TRUE(throws_with([&] { net.load_state_dict(missing); }, {"missing", "'scale'"}));
  NamedTensors extra = state;
  extra.emplace_back("bogus", Tensor::zeros({1}));
  EXPECT_TRUE(throws_with([&] { net.load_state_dict(extra); }, {"unexpected key 'bogus'"}));
  net.load_state_dict(extra, /*strict=*/false);  // extra keys allowed when not strict
  EXPECT_EQ(sum(abs(net.block->fc->weight)).item(), 0.0);
  net.block->fc->weight.detach().copy_(before);
  NamedTensors wrong = state;
  wrong[2].second = Tensor::zeros({3, 2});
  EXPECT_TRUE(throws_with([&] { net.load_state_dict(wrong); }, {"'block.fc.weight'", "[2,3]", "[3,2]"}));
  EXPECT_TRUE(all_close(net.block->fc->weight, before, 0, 0));
}

TEST(Module, ToDtypeKeepsHandles) {
  Net net;
  Tensor w = net.head->weight;
  net.to(DType::f64);
  EXPECT_EQ(w.dtype(), DType::f64);
  EXPECT_EQ(net.block->norm->bias.dtype(), DType::f64);
  Tensor y = net.forward(Tensor::rand({2, 3}, {.dtype = DType::f64}));
  EXPECT_EQ(y.dtype(), DType::f64);
  sum(y).backward();
  EXPECT_TRUE(w.grad().defined());
  EXPECT_TRUE(w.requires_grad());
}

TEST(Module, SummaryCountsParameters) {
  Sequential w2{std::make_shared<Conv2d>(1, 32, 3, ConvOptions{.padding = 1}), std::make_shared<ReLU>(),
                std::make_shared<MaxPool2d>(2), std::make_shared<Conv2d>(32, 64, 3, ConvOptions{.padding = 1}),
                std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2), std::make_shared<Flatten>(),
                std::make_shared<Linear>(3136, 128), std::make_shared<ReLU>(), std::make_shared<Linear>(128, 10)};
  EXPECT_EQ(w2.num_parameters(), 421642);  // WORKLOADS.md W2
  const std::string s = w2.summary();
  EXPECT_NE(s.find("total parameters: 421,642"), std::string::npos) << s;
  EXPECT_NE(s.find("(7) Linear(in=3136, out=128, bias=true)"), std::string::npos) << s;
  EXPECT_NE(s.find("401,536"), std::string::npos) << s;  // 3136*128 + 128
}

TEST(Module, SequentialFromModulesWithoutAListType) {
  auto a = std::make_shared<Sequential>(std::make_shared<Linear>(4, 3), std::make_shared<ReLU>(),
                                        std::make_shared<Linear>(3, 2));
  auto b = sequential(std::make_shared<Linear>(4, 3), std::make_shared<ReLU>());
  ASSERT_EQ(a->size(), 3u);
  ASSERT_EQ(b->size(), 2u);
  EXPECT_EQ((*a)[1]->type_name(), "ReLU");
  EXPECT_EQ(a->num_parameters(), 4 * 3 + 3 + 3 * 2 + 2);
  EXPECT_EQ(a->forward(Tensor::ones({5, 4})).shape(), (Shape{5, 2}));
}

}  // namespace
}  // namespace ember::nn

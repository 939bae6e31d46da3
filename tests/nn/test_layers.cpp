// Layers: each forward against the functional op or a hand formula, PyTorch-default init ranges,
// parameter shapes, train/eval behaviour (BatchNorm, Dropout), gradients reaching parameters, and
// clear errors on wrong input shapes.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/nn.h"
#include "tests/common/expect_close.h"

namespace ember::nn {
namespace {
using test::all_close;
using test::throws_with;

double max_abs(const Tensor& t) { return amax(abs(t)).item(); }

TEST(Linear, ForwardInitAndGrad) {
  manual_seed(3);
  Linear fc(20, 7);
  EXPECT_EQ(fc.weight.shape(), (Shape{7, 20}));
  EXPECT_EQ(fc.bias.shape(), (Shape{7}));
  const double bound = 1 / std::sqrt(20.0);
  EXPECT_LE(max_abs(fc.weight), bound);
  EXPECT_GT(max_abs(fc.weight), 0.8 * bound);  // 140 draws fill the range
  EXPECT_LE(max_abs(fc.bias), bound);
  Tensor x = Tensor::rand({4, 3, 20});
  EXPECT_TRUE(all_close(fc.forward(x), matmul(x, fc.weight.t()) + fc.bias, 1e-5, 1e-6));
  sum(fc.forward(x)).backward();
  // d/db sum(xW^T + b) = number of rows.
  EXPECT_TRUE(all_close(fc.bias.grad(), Tensor::full({7}, 12.0)));
  EXPECT_TRUE(all_close(fc.weight.grad(), expand(sum(x.reshape({12, 20}), {0}, true), {7, 20}), 1e-5, 1e-5));
  Linear nob(5, 2, false);
  EXPECT_FALSE(nob.bias.defined());
  EXPECT_EQ(nob.num_parameters(), 10);
  EXPECT_TRUE(throws_with([&] { fc.forward(Tensor::rand({4, 19})); }, {"Linear", "[..., 20]", "[4,19]"}));
  EXPECT_TRUE(throws_with([] { Linear(0, 3); }, {"in_features", "positive"}));
}

TEST(Embedding, LooksUpRows) {
  Embedding emb(10, 4);
  Tensor idx = Tensor::from_vector<int64_t>({3, 0, 9, 3}, {2, 2}, {.dtype = DType::i64});
  Tensor y = emb.forward(idx);
  EXPECT_EQ(y.shape(), (Shape{2, 2, 4}));
  EXPECT_TRUE(all_close(select(select(y, 0, 0), 0, 0), select(emb.weight, 0, 3), 0, 0));
  EXPECT_TRUE(all_close(select(select(y, 0, 0), 0, 1), select(emb.weight, 0, 0), 0, 0));
}

TEST(Conv2d, MatchesOpAndInit) {
  manual_seed(4);
  Conv2d conv(4, 6, 3, {.stride = 2, .padding = 1});
  EXPECT_EQ(conv.weight.shape(), (Shape{6, 4, 3, 3}));
  const double bound = 1 / std::sqrt(4.0 * 9);
  EXPECT_LE(max_abs(conv.weight), bound);
  EXPECT_LE(max_abs(conv.bias), bound);
  Tensor x = Tensor::rand({2, 4, 9, 8});
  Tensor y = conv.forward(x);
  EXPECT_EQ(y.shape(), (Shape{2, 6, 5, 4}));
  EXPECT_TRUE(all_close(y, conv2d(x, conv.weight, conv.bias, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}),
                        0, 0));
  Conv2d grouped(4, 8, 1, {.groups = 2, .bias = false});
  EXPECT_EQ(grouped.weight.shape(), (Shape{8, 2, 1, 1}));
  EXPECT_TRUE(throws_with([&] { conv.forward(Tensor::rand({2, 3, 9, 8})); }, {"Conv2d", "[N, 4, ...]", "[2,3,9,8]"}));
  EXPECT_TRUE(throws_with([] { Conv2d(3, 4, 3, {.groups = 2}); }, {"divisible by groups 2"}));
}

TEST(ConvTranspose2d, DoublesResolution) {
  manual_seed(5);
  ConvTranspose2d up(6, 3, 2, {.stride = 2});
  EXPECT_EQ(up.weight.shape(), (Shape{6, 3, 2, 2}));
  EXPECT_LE(max_abs(up.weight), 1 / std::sqrt(3.0 * 4));  // PyTorch's fan_in: dim 1 * k * k
  Tensor x = Tensor::rand({2, 6, 5, 7});
  Tensor y = up.forward(x);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 10, 14}));
  EXPECT_TRUE(all_close(y, conv_transpose2d(x, up.weight, up.bias, {.stride_h = 2, .stride_w = 2}), 0, 0));
}

TEST(BatchNorm2d, TrainUpdatesRunningStatsEvalUsesThem) {
  BatchNorm2d bn(3);
  Tensor x = Tensor::rand({4, 3, 5, 5}) * 4.0 + 1.0;
  Tensor y = bn.forward(x);
  // Training mode: per-channel batch statistics -> zero mean, unit (biased) variance.
  EXPECT_TRUE(all_close(mean(y, {0, 2, 3}), Tensor::zeros({3}), 0, 1e-5));
  EXPECT_TRUE(all_close(var(y, {0, 2, 3}, 0), Tensor::ones({3}), 1e-3, 0));
  // running = 0.9 * init + 0.1 * batch stat (unbiased variance).
  EXPECT_TRUE(all_close(bn.running_mean, mean(x, {0, 2, 3}) * 0.1, 1e-5, 1e-6));
  EXPECT_TRUE(all_close(bn.running_var, var(x, {0, 2, 3}, 1) * 0.1 + 0.9, 1e-5, 1e-6));
  bn.eval();
  Tensor rm = bn.running_mean.clone(), rv = bn.running_var.clone();
  Tensor ye = bn.forward(x);
  Tensor want = (x - rm.reshape({1, 3, 1, 1})) / sqrt(rv.reshape({1, 3, 1, 1}) + 1e-5);
  EXPECT_TRUE(all_close(ye, want, 1e-5, 1e-5));
  EXPECT_TRUE(all_close(bn.running_mean, rm, 0, 0));  // eval leaves the stats alone
  EXPECT_EQ(bn.named_buffers().size(), 2u);
  EXPECT_TRUE(throws_with([&] { bn.forward(Tensor::rand({4, 2, 5, 5})); }, {"BatchNorm2d", "[4,2,5,5]"}));
}

TEST(Norms, GroupLayerRms) {
  Tensor x = Tensor::rand({2, 4, 3, 3});
  GroupNorm gn(2, 4);
  EXPECT_TRUE(all_close(gn.forward(x), group_norm(x, 2), 0, 0));
  EXPECT_TRUE(throws_with([] { GroupNorm(3, 4); }, {"not divisible into 3 groups"}));
  LayerNorm ln(Shape{3, 3});
  EXPECT_TRUE(all_close(ln.forward(x), layer_norm(x, {3, 3}), 0, 0));
  RMSNorm rms(3);
  Tensor r = rms.forward(x);
  EXPECT_TRUE(all_close(r, x * rsqrt(mean(square(x), {-1}, true) + 1e-5), 1e-5, 1e-6));
  EXPECT_TRUE(throws_with([&] { rms.forward(Tensor::rand({2, 4})); }, {"RMSNorm", "[..., 3]"}));
}

TEST(Shapes, PoolUpsampleFlatten) {
  Tensor x = Tensor::rand({2, 3, 8, 6});
  EXPECT_TRUE(all_close(MaxPool2d(2).forward(x), max_pool2d(x), 0, 0));
  EXPECT_EQ(MaxPool2d(3, 1, 1).forward(x).shape(), (Shape{2, 3, 8, 6}));
  EXPECT_EQ(AvgPool2d(2).forward(x).shape(), (Shape{2, 3, 4, 3}));
  EXPECT_EQ(Upsample(2).forward(x).shape(), (Shape{2, 3, 16, 12}));
  EXPECT_EQ(Upsample(3, UpsampleMode::bilinear).forward(x).shape(), (Shape{2, 3, 24, 18}));
  EXPECT_EQ(Flatten().forward(x).shape(), (Shape{2, 144}));
  EXPECT_TRUE(throws_with([] { MaxPool2d(2, 2, 2); }, {"padding 2"}));
}

TEST(Dropout, TrainDropsEvalPasses) {
  manual_seed(6);
  Dropout drop(0.25);
  Tensor x = Tensor::ones({4000});
  Tensor y = drop.forward(x);
  const double kept = sum(gt(y, Tensor::scalar(0))).item();
  EXPECT_NEAR(kept / 4000, 0.75, 0.03);
  EXPECT_NEAR(amax(y).item(), 1 / 0.75, 1e-6);
  drop.eval();
  EXPECT_TRUE(all_close(drop.forward(x), x, 0, 0));
  EXPECT_TRUE(throws_with([] { Dropout(1.0); }, {"[0, 1)"}));
}

TEST(Activations, MatchOps) {
  Tensor x = Tensor::rand({10}) * 4.0 - 2.0;
  EXPECT_TRUE(all_close(ReLU().forward(x), relu(x), 0, 0));
  EXPECT_TRUE(all_close(LeakyReLU(0.2).forward(x), leaky_relu(x, 0.2), 0, 0));
  EXPECT_TRUE(all_close(GELU(GeluApprox::tanh).forward(x), gelu(x, GeluApprox::tanh), 0, 0));
  EXPECT_TRUE(all_close(SiLU().forward(x), silu(x), 0, 0));
  EXPECT_TRUE(all_close(Tanh().forward(x), tanh(x), 0, 0));
  EXPECT_TRUE(all_close(Sigmoid().forward(x), sigmoid(x), 0, 0));
  EXPECT_TRUE(all_close(Identity().forward(x), x, 0, 0));
  EXPECT_TRUE(all_close(sum(Softmax().forward(x)), {1.0}, 1e-6));
}

TEST(Containers, SequentialAndModuleList) {
  auto fc1 = std::make_shared<Linear>(4, 8);
  auto fc2 = std::make_shared<Linear>(8, 2);
  Sequential seq{fc1, std::make_shared<ReLU>(), fc2};
  Tensor x = Tensor::rand({3, 4});
  EXPECT_TRUE(all_close(seq.forward(x), fc2->forward(relu(fc1->forward(x))), 0, 0));
  EXPECT_EQ(seq.named_parameters()[2].first, "2.weight");
  EXPECT_EQ(seq.size(), 3u);
  EXPECT_TRUE(throws_with([&] { seq[3]; }, {"index 3 out of range"}));
  ModuleList list{fc1, std::make_shared<ReLU>()};
  EXPECT_EQ(list.at<Linear>(0), fc1);
  EXPECT_TRUE(throws_with([&] { list.at<Linear>(1); }, {"entry 1 is a ReLU"}));
  EXPECT_TRUE(throws_with([&] { list.forward(x); }, {"ModuleList", "single tensor"}));
  EXPECT_EQ(list.num_parameters(), 40);
}

}  // namespace
}  // namespace ember::nn

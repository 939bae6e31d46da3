// The supernet (hpo/nas/supernet.h): a mixed op is the softmax-weighted sum of its ops (and the
// partial-channel variant passes the other channels through, shuffled); gradients w.r.t. alpha,
// beta and the weights of a tiny supernet by gradcheck; the latency term and its table.
#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

#include "hpo/nas/latency.h"
#include "hpo/nas/ops.h"
#include "hpo/nas/supernet.h"
#include "tests/common/expect_close.h"
#include "tests/common/sanitizer.h"

namespace ember::nas {
namespace {
using test::all_close;

TEST(NasSupernet, MixedOpIsTheWeightedSumOfItsOps) {
  manual_seed(1);
  Generator gen(2);
  const Tensor x = Tensor::randn({2, 4, 6, 6}, {}, &gen);
  const Tensor w = softmax(Tensor::randn({7}, {}, &gen), 0);
  for (int64_t stride : {1, 2}) {
    MixedOp m(4, stride, 1, default_ops());
    const Tensor got = m.forward_mixed(x, w, 0);
    Tensor want = Tensor::zeros(got.shape());
    for (const auto& [name, op] : m.named_children())  // children are named by op index; "none" has none
      want = add(want, mul(op->forward(x), w.to_vector<float>()[size_t(std::stoi(name))]));
    EXPECT_TRUE(all_close(got, want, 1e-5, 1e-6)) << "stride " << stride;
    // the DARTS- auxiliary skip adds aux * x on stride-1 edges only
    const Tensor aux = m.forward_mixed(x, w, 0.25);
    EXPECT_TRUE(all_close(aux, stride == 1 ? add(want, mul(x, 0.25)) : want, 1e-5, 1e-6));
  }
  // partial channels (K = 2): the ops see channels 0-1; channels 2-3 pass through, and the shuffle
  // interleaves the two halves: output channels (op0, x2, op1, x3)
  MixedOp pc(4, 1, 2, default_ops());
  const Tensor out = pc.forward_mixed(x, w, 0);
  EXPECT_TRUE(all_close(select(out, 1, 1), select(x, 1, 2), 0, 0));
  EXPECT_TRUE(all_close(select(out, 1, 3), select(x, 1, 3), 0, 0));
  Tensor ops_half = Tensor::zeros({2, 2, 6, 6});
  for (const auto& [name, op] : pc.named_children())
    ops_half = add(ops_half, mul(op->forward(narrow(x, 1, 0, 2)), w.to_vector<float>()[size_t(std::stoi(name))]));
  EXPECT_TRUE(all_close(select(out, 1, 2), select(ops_half, 1, 1), 1e-5, 1e-6));
}

TEST(NasSupernet, GradcheckAlphaBetaAndWeights) {
  if (EMBER_ASAN) GTEST_SKIP() << "hundreds of supernet forwards: slow under ASan at -O0";
  manual_seed(4);
  // a subset of the ops keeps the number of forwards small; the other ops are checked above and by
  // their own layers' gradchecks
  Supernet net({.channels = 4, .cells = 3, .nodes = 2, .partial = 2,
                .ops = {"none", "max_pool_3x3", "skip_connect", "sep_conv_3x3", "dil_conv_3x3"}, .seed = 9});
  net.to(DType::f64);
  for (Tensor* a : {&net.alpha_normal, &net.alpha_reduce, &net.beta_normal, &net.beta_reduce}) {
    *a = (a->to(DType::f64) * 300.0).detach();  // spread the softmax so every op matters
    a->requires_grad_(true);
  }
  net.aux_skip = 0.3;
  Generator gen(5);
  const Tensor x = Tensor::rand({2, 1, 8, 8}, {.dtype = DType::f64}, &gen);
  const Tensor y = Tensor::from_vector(std::vector<int64_t>{1, 4}, {2}, {.dtype = DType::i64});
  const auto loss = [&](const std::vector<Tensor>&) { return cross_entropy(net.forward(x), y); };
  EXPECT_TRUE(test::grad_ok(loss, net.arch_parameters(), {.atol = 1e-6, .rtol = 1e-4}));
  // a depthwise weight of a separable conv in a normal cell, a dilated one in a reduction cell, the
  // classifier's bias
  std::vector<Tensor> weights;
  for (const auto& [name, p] : net.named_parameters())
    if (name == "cell0.edge0.3.first.depthwise.weight" || name == "cell1.edge1.4.depthwise.weight" ||
        name == "classifier.bias")
      weights.push_back(p);
  ASSERT_EQ(weights.size(), 3u);
  EXPECT_TRUE(test::grad_ok(loss, weights, {.atol = 1e-6, .rtol = 1e-4}));
}

TEST(NasSupernet, ExpectedLatencyAndTheMeasuredTable) {
  manual_seed(2);
  Supernet net({.channels = 4, .cells = 3, .nodes = 2, .partial = 1});
  const auto shapes = net.cell_shapes(8);
  ASSERT_EQ(shapes.size(), 3u);
  EXPECT_TRUE(shapes[1].reduction && shapes[2].reduction && !shapes[0].reduction);
  EXPECT_EQ(shapes[2].size, 4);
  const auto path = std::filesystem::temp_directory_path() / ("ember_latency_" + std::to_string(::getpid()) + ".json");
  std::filesystem::remove(path);
  const LatencyTable t = measure_latency(shapes, net.opts.ops, path.string(), 3);
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(t.at("none", 8, 8, 2), 0);
  EXPECT_GT(t.at("sep_conv_5x5", 4, 8, 1), 0);
  EXPECT_THROW(t.at("sep_conv_5x5", 4, 9, 1), Error);
  EXPECT_EQ(measure_latency(shapes, net.opts.ops, path.string(), 3).ms, t.ms);  // served from the cache
  std::filesystem::remove(path);

  // E[lat] = sum softmax(alpha) * cost; its gradient favours cheap ops: d/d alpha[e, o] =
  // w_o (cost_o - E_e[cost]), positive for sep_conv_5x5 (the costliest), negative for skip.
  LatencyTable hand = t;
  for (auto& [k, v] : hand.ms)
    v = k.rfind("sep_conv_5x5", 0) == 0 ? 10.0 : k.rfind("skip_connect", 0) == 0 || k.rfind("none", 0) == 0 ? 0.0 : 1.0;
  const LatencyCost cost = latency_cost(hand, shapes, net.opts.ops, 2);
  Tensor lat = expected_latency(net, cost);
  // 3 cells x 5 edges, nearly uniform alpha: each edge (10 + 4 * 1 + 0 + 0) / 7
  EXPECT_NEAR(lat.item(), 15 * (10.0 + 4.0) / 7.0, 0.05);
  lat.backward();
  const auto g = net.alpha_normal.grad().to_vector<double>();
  EXPECT_GT(g[5], 0);  // edge 0, sep_conv_5x5
  EXPECT_LT(g[3], 0);  // edge 0, skip_connect
}

}  // namespace
}  // namespace ember::nas

// DistributedDataParallel and DistributedSampler with ranks as threads (ThreadGroup): initial
// weights come from rank 0, averaged gradients reproduce full-batch training, buckets of any size
// give the same result, and the sampler's shards rebuild the single-process global batches.
#include <set>
#include <thread>

#include "data/transforms.h"
#include "dist/threads.h"
#include "tests/dist/dist_test_util.h"

namespace ember::dist {
namespace {

using namespace testing;

// Runs tiny_train on `world` threads, rank r starting from seed 100 + r; returns rank 0's losses
// and every rank's final parameters.
std::pair<std::vector<double>, std::vector<std::vector<float>>> run_threads(int world, int steps,
                                                                            int64_t bucket_bytes, bool overlap = true) {
  auto comms = make_thread_group(world, std::chrono::seconds(20));
  std::vector<std::shared_ptr<nn::Sequential>> models;
  for (int r = 0; r < world; ++r) models.push_back(tiny_model(100 + r));  // the default generator is not per thread
  std::vector<std::vector<double>> losses(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] { losses[size_t(r)] = tiny_train(models[size_t(r)], comms[size_t(r)], steps, bucket_bytes, overlap); });
  for (auto& t : threads) t.join();
  std::vector<std::vector<float>> params;
  for (auto& m : models) {
    std::vector<float> flat;
    for (auto& p : m->parameters()) {
      auto v = p.to_vector<float>();
      flat.insert(flat.end(), v.begin(), v.end());
    }
    params.push_back(flat);
  }
  for (int r = 1; r < world; ++r) EXPECT_EQ(losses[size_t(r)], losses[0]) << "every rank reports the same mean";
  return {losses[0], params};
}

class DdpTest : public ::testing::Test {
 protected:
  void SetUp() override { set_num_threads(1); }  // ranks are threads already
};

TEST_F(DdpTest, TwoHalfBatchRanksMatchOneFullBatchProcess) {
  const auto reference = tiny_train(tiny_model(100), nullptr, 20);
  for (int64_t bucket : {int64_t(256), int64_t(25) << 20}) {
    const auto [losses, params] = run_threads(2, 20, bucket);
    const double diff = max_relative_difference(losses, reference);
    EXPECT_LT(diff, 1e-6) << "bucket " << bucket;
    EXPECT_EQ(params[0], params[1]) << "ranks drifted apart";
    std::printf("threads, 2 ranks, bucket %ld B: max relative loss difference over 20 steps %.3g\n", long(bucket), diff);
  }
}

TEST_F(DdpTest, OverlapGivesTheAfterBackwardResultBitForBit) {
  for (int64_t bucket : {int64_t(256), int64_t(25) << 20}) {
    const auto [on_losses, on_params] = run_threads(2, 8, bucket, true);
    const auto [off_losses, off_params] = run_threads(2, 8, bucket, false);
    EXPECT_EQ(on_losses, off_losses) << "bucket " << bucket;
    EXPECT_EQ(on_params, off_params) << "bucket " << bucket;
  }
}

// Two ranks on a 16-32-5 MLP with a side head 16-5. mode "unused": rank 1 never uses the side
// head. mode "accumulate": two micro-batches, the first under no_sync(). Returns each rank's
// gradients after sync_gradients, flattened, and rank 0's side-head weight gradient before it.
struct GradRun {
  std::vector<std::vector<float>> grads;
  std::vector<float> side_before;
  std::vector<int64_t> started_in_backward;
};
GradRun run_grads(bool overlap, const std::string& mode) {
  auto comms = make_thread_group(2, std::chrono::seconds(20));
  GradRun out;
  out.grads.resize(2);
  out.started_in_backward.resize(2);
  std::vector<std::shared_ptr<nn::Sequential>> models;
  for (int r = 0; r < 2; ++r) {  // here, not on the rank threads: the default generator is shared
    manual_seed(7 + uint64_t(r));
    models.push_back(std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
        std::make_shared<nn::Linear>(16, 32), std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(32, 5),
        std::make_shared<nn::Linear>(16, 5)}));
  }
  auto rank_main = [&](int r) {
    const auto& m = models[size_t(r)];
    DistributedDataParallel ddp(m, comms[size_t(r)], {.bucket_bytes = 256, .overlap = overlap});
    Generator gen(50 + uint64_t(r));
    Tensor x = Tensor::randn({8, 16}, {}, &gen), y = Tensor::randint(0, 5, {8}, {.dtype = DType::i64}, &gen);
    auto loss_of = [&](const Tensor& xb, const Tensor& yb, bool side) {
      Tensor z = (*m)[2]->forward((*m)[1]->forward((*m)[0]->forward(xb)));
      if (side) z = z + (*m)[3]->forward(xb);
      return cross_entropy(z, yb);
    };
    if (mode == "unused") {
      loss_of(x, y, r == 0).backward();
      if (r == 0) out.side_before = (*m)[3]->parameters()[0].grad().to_vector<float>();
    } else {
      {
        auto guard = ddp.no_sync();
        loss_of(x.narrow(0, 0, 4), y.narrow(0, 0, 4), true).backward();
      }
      loss_of(x.narrow(0, 4, 4), y.narrow(0, 4, 4), true).backward();
    }
    ddp.sync_gradients();
    out.started_in_backward[size_t(r)] = ddp.buckets_started_in_backward();
    for (auto& p : m->parameters()) {
      auto v = p.grad().to_vector<float>();
      out.grads[size_t(r)].insert(out.grads[size_t(r)].end(), v.begin(), v.end());
    }
  };
  std::thread t1(rank_main, 1);
  rank_main(0);
  t1.join();
  return out;
}

TEST_F(DdpTest, UnusedParametersAreReadyAtSync) {
  const GradRun on = run_grads(true, "unused"), off = run_grads(false, "unused");
  EXPECT_EQ(on.grads, off.grads);
  EXPECT_EQ(on.grads[0], on.grads[1]);
  // The side head's weight is the last 80 gradients but for its 5 biases: rank 1 counts as zeros.
  const std::vector<float>& g = on.grads[0];
  const size_t w = g.size() - 85;
  for (size_t i = 0; i < 80; ++i) EXPECT_FLOAT_EQ(g[w + i], on.side_before[i] / 2) << i;
  // The side head is registered last, so its bucket comes first: on rank 1 it waits for sync, and
  // bucket order holds back every later bucket too. Rank 0 starts them all in backward.
  EXPECT_EQ(on.started_in_backward[1], 0);
  EXPECT_GT(on.started_in_backward[0], 0);
  EXPECT_EQ(off.started_in_backward[0], 0);
}

TEST_F(DdpTest, NoSyncAccumulatesLocally) {
  const GradRun on = run_grads(true, "accumulate"), off = run_grads(false, "accumulate");
  EXPECT_EQ(on.grads, off.grads);
  EXPECT_EQ(on.grads[0], on.grads[1]);
  EXPECT_GT(on.started_in_backward[0], 0) << "the last micro-batch's backward starts the buckets";
}

TEST_F(DdpTest, MisuseGivesClearErrors) {
  auto comms = make_thread_group(1);
  auto model = tiny_model(3);
  DistributedDataParallel ddp(model, comms[0], {.bucket_bytes = 700});
  Tensor x = Tensor::randn({4, 16}), y = Tensor::zeros({4}, {.dtype = DType::i64});
  cross_entropy(model->forward(x), y).backward();
  cross_entropy(model->forward(x), y).backward();
  EXPECT_THROW_MSG(ddp.sync_gradients(), "received gradients from two backward passes in one step");
  cross_entropy(model->forward(x), y).backward();  // the next step is clean again
  ddp.sync_gradients();
  EXPECT_EQ(ddp.buckets_started_in_backward(), 3);
  auto guard = ddp.no_sync();
  EXPECT_THROW_MSG(ddp.sync_gradients(), "sync_gradients: called inside no_sync()");
}

TEST_F(DdpTest, BucketsFollowReverseRegistrationOrder) {
  auto comms = make_thread_group(1);
  auto model = tiny_model(1);
  // Parameters (bytes): 16x32 w 2048, b 128, 32x5 w 640, b 20. A 700-byte cap packs from the end:
  // {b2 20, w2 640} | {b1 128} | {w1 2048}.
  DistributedDataParallel small(model, comms[0], {.bucket_bytes = 700});
  EXPECT_EQ(small.num_buckets(), 3);
  DistributedDataParallel one(model, comms[0]);
  EXPECT_EQ(one.num_buckets(), 1);
  EXPECT_THROW_MSG(DistributedDataParallel(model, comms[0], {.bucket_bytes = 0}), "bucket_bytes must be > 0");
}

TEST_F(DdpTest, MissingGradientCountsAsZero) {
  auto comms = make_thread_group(2);
  auto m0 = tiny_model(5), m1 = tiny_model(6);
  std::thread t([&] {
    DistributedDataParallel d(m1, comms[1]);
    for (auto& p : m1->parameters()) p.set_grad(Tensor::full(p.shape(), 2.0));
    d.sync_gradients();
  });
  DistributedDataParallel d(m0, comms[0]);  // rank 0 has no gradients at all
  d.sync_gradients();
  t.join();
  for (auto& p : m0->parameters()) EXPECT_EQ(p.grad().to_vector<float>()[0], 1.0f);
}

TEST(DistributedSampler, ShardsRebuildTheGlobalBatches) {
  const int64_t n = 103, batch = 8;
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = (i * 37) % n;  // a permutation
  std::vector<DistributedSampler> s;
  for (int r = 0; r < 4; ++r) s.emplace_back(n, r, 4, batch);
  EXPECT_EQ(s[0].num_samples(), 25);  // 103 -> 100 used, 25 per rank
  EXPECT_EQ(s[0].steps_per_epoch(), 13);
  std::vector<std::vector<int64_t>> shards;
  for (auto& x : s) shards.push_back(x.shard(order));
  for (int64_t step = 0; step < s[0].steps_per_epoch(); ++step) {
    std::multiset<int64_t> got, want(order.begin() + step * batch, order.begin() + std::min<int64_t>(100, (step + 1) * batch));
    for (auto& sh : shards)
      for (int64_t i = step * 2; i < std::min<int64_t>(25, step * 2 + 2); ++i) got.insert(sh[size_t(i)]);
    EXPECT_EQ(got, want) << "step " << step;
  }
  EXPECT_THROW_MSG(DistributedSampler(n, 0, 4, 6), "global batch 6 must be a positive multiple of the world size 4");
  EXPECT_THROW_MSG(DistributedSampler(n, 4, 4, 8), "rank 4 is not in a world of 4");
}

TEST(DistributedSampler, BatchesKeepTheSingleProcessTransformKeys) {
  // Inputs are the sample indices; the transform adds each sample's key, so a batch shows both
  // which samples it holds and which keys they got.
  auto ds = std::make_shared<data::TensorDataset>(Tensor::arange(0, 40, 1, {.dtype = DType::f64}).reshape({40, 1}),
                                                  Tensor::zeros({40}, {.dtype = DType::i64}));
  data::Transform mark = [](const Tensor& x, std::span<const uint64_t> keys) {
    std::vector<double> v = x.to_vector<double>();
    for (size_t i = 0; i < v.size(); ++i) v[i] += double(keys[i] % 1000) * 1000;
    return Tensor::from_vector(v, x.shape(), {.dtype = DType::f64});
  };
  data::DataLoader loader(ds, {.batch_size = 8, .shuffle = true, .seed = 9, .transform = mark});
  DistributedSampler r0(40, 0, 2, 8), r1(40, 1, 2, 8);
  for (int64_t step : {0, 1, 2, 3, 4, 0}) {  // back to step 0: the cached shard is reused
    std::multiset<double> got, want;
    for (double v : r0.batch(loader, 3, step).input.to_vector<double>()) got.insert(v);
    for (double v : r1.batch(loader, 3, step).input.to_vector<double>()) got.insert(v);
    for (double v : loader.batch(3, step).input.to_vector<double>()) want.insert(v);
    EXPECT_EQ(got, want) << "step " << step;
  }
}

}  // namespace
}  // namespace ember::dist

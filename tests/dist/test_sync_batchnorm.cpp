// SyncBatchNorm2d on ranks that are threads: 2 ranks with half of a batch each, under DDP (overlap
// on and off), follow one process with nn::BatchNorm2d and the whole batch: losses within 1e-6
// relative over a few SGD steps, the same running statistics, and eval mode without collectives.
#include <thread>

#include "dist/sync_batchnorm.h"
#include "dist/threads.h"
#include "tests/dist/dist_test_util.h"

namespace ember::dist {
namespace {

using namespace testing;

// conv 3->4 (3x3) | norm | ReLU | conv 4->2 (1x1); `norm` is BatchNorm2d or SyncBatchNorm2d(comm).
std::shared_ptr<nn::Sequential> small_cnn(CommunicatorPtr comm) {
  manual_seed(11);
  nn::ModulePtr norm = comm ? nn::ModulePtr(std::make_shared<SyncBatchNorm2d>(4, comm))
                            : nn::ModulePtr(std::make_shared<nn::BatchNorm2d>(4));
  return std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
      std::make_shared<nn::Conv2d>(3, 4, 3, nn::ConvOptions{.padding = 1}), norm, std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Conv2d>(4, 2, 1)});
}

// 4 SGD steps of MSE on 8 fixed samples; rank r of W takes samples [8r/W, 8(r+1)/W).
std::vector<double> train(const std::shared_ptr<nn::Sequential>& model, CommunicatorPtr comm, bool overlap) {
  Generator gen(5);
  Tensor x = Tensor::randn({8, 3, 6, 6}, {}, &gen) * 2.0 + 0.5, y = Tensor::randn({8, 2, 6, 6}, {}, &gen);
  std::optional<DistributedDataParallel> ddp;
  if (comm) {
    ddp.emplace(model, comm, DdpOptions{.bucket_bytes = 64, .overlap = overlap});
    const int64_t n = 8 / comm->world_size();
    x = x.narrow(0, comm->rank() * n, n);
    y = y.narrow(0, comm->rank() * n, n);
  }
  nn::SGD opt(model->parameters(), {.lr = 0.1});
  std::vector<double> losses;
  for (int s = 0; s < 4; ++s) {
    opt.zero_grad();
    Tensor loss = mse_loss(model->forward(x), y);
    loss.backward();
    if (ddp) ddp->sync_gradients();
    opt.step();
    losses.push_back(comm ? comm->allreduce(loss.item(), ReduceOp::avg) : loss.item());
  }
  return losses;
}

TEST(SyncBatchNorm, TwoHalfBatchRanksMatchOneProcessWithBatchNorm) {
  set_num_threads(1);
  auto reference = small_cnn(nullptr);
  const auto want = train(reference, nullptr, false);
  const auto& bn = dynamic_cast<nn::BatchNorm2d&>(*(*reference)[1]);
  for (bool overlap : {true, false}) {
    auto comms = make_thread_group(2, std::chrono::seconds(20));
    std::vector<std::shared_ptr<nn::Sequential>> models{small_cnn(comms[0]), small_cnn(comms[1])};
    std::vector<std::vector<double>> got(2);
    std::thread t1([&] { got[1] = train(models[1], comms[1], overlap); });
    got[0] = train(models[0], comms[0], overlap);
    t1.join();
    EXPECT_EQ(got[0], got[1]);
    const double diff = max_relative_difference(got[0], want);
    EXPECT_LT(diff, 1e-6) << "overlap " << overlap;
    std::printf("SyncBatchNorm2d, 2 ranks, overlap %d: max relative loss difference over 4 steps %.3g\n", overlap,
                diff);
    for (auto& m : models) {
      const auto& sbn = dynamic_cast<SyncBatchNorm2d&>(*(*m)[1]);
      const auto rm = sbn.running_mean.to_vector<float>(), rv = sbn.running_var.to_vector<float>();
      const auto wm = bn.running_mean.to_vector<float>(), wv = bn.running_var.to_vector<float>();
      for (size_t c = 0; c < 4; ++c) {
        EXPECT_NEAR(rm[c], wm[c], 1e-5) << c;
        EXPECT_NEAR(rv[c], wv[c], 1e-5) << c;
      }
    }
    // Eval mode normalises with the running statistics on one rank alone (no collective to meet).
    models[0]->eval();
    reference->eval();
    Tensor probe = Tensor::randn({2, 3, 6, 6});
    NoGradGuard no_grad;
    const auto a = models[0]->forward(probe).to_vector<float>(), b = reference->forward(probe).to_vector<float>();
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-4) << i;
    reference->train();
  }
}

TEST(SyncBatchNorm, ChecksItsInput) {
  auto comms = make_thread_group(1);
  SyncBatchNorm2d bn(4, comms[0]);
  EXPECT_THROW_MSG(bn.forward(Tensor::zeros({2, 3, 4, 4})),
                   "SyncBatchNorm2d(4, eps=1e-05, momentum=0.1): input must be [N, 4, H, W]");
  EXPECT_THROW_MSG(bn.forward(Tensor::zeros({1, 4, 1, 1})), "expected more than 1 value per channel over all ranks");
  EXPECT_THROW_MSG(SyncBatchNorm2d(4, nullptr), "SyncBatchNorm2d: the communicator is null");
}

}  // namespace
}  // namespace ember::dist

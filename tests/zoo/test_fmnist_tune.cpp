// zoo/fmnist/tune.h on real Fashion-MNIST images (the first 400 training and 100 test images,
// written as IDX files): the default space, a trial that reports every epoch, a pruned trial that
// stops after its first epoch, and the test metric only when asked for. Skips without the data.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>

#include "data/fashion_mnist.h"
#include "hpo/study.h"
#include "tests/common/sanitizer.h"
#include "tests/data/temp_dir.h"
#include "zoo/fmnist/tune.h"

namespace ember::zoo::fmnist {
namespace {
namespace fs = std::filesystem;

struct PruneAfterOne : hpo::Pruner {
  std::string name() const override { return "after1"; }
  bool prune(const hpo::History&, const hpo::FrozenTrial& t) override { return t.number == 1; }
};

void write_subset(const fs::path& dir, data::Split split, const std::string& prefix, uint32_t n) {
  data::FashionMnist full(split);
  Tensor bytes = to_dtype(add(mul(full.images().narrow(0, 0, n), 255.0), 0.5), DType::u8);
  Tensor labels = to_dtype(full.labels().narrow(0, 0, n), DType::u8);
  test::write_bytes((dir / (prefix + "-images-idx3-ubyte")).string(),
                    test::idx_bytes(0x803, {n, 28, 28}, bytes.contiguous().to_vector<uint8_t>()));
  test::write_bytes((dir / (prefix + "-labels-idx1-ubyte")).string(),
                    test::idx_bytes(0x801, {n}, labels.to_vector<uint8_t>()));
}

TEST(FmnistTune, TrialsReportEveryEpochAndAPrunedTrialStops) {
  if (!data::FashionMnist::available(data::Split::train) || !data::FashionMnist::available(data::Split::test))
    GTEST_SKIP() << "Fashion-MNIST not installed: apt-get install dataset-fashion-mnist";
  if (EMBER_ASAN) GTEST_SKIP() << "CNN training is too slow under the sanitizers";
  const fs::path dir = fs::temp_directory_path() / ("ember_fmnist_tune_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  write_subset(dir, data::Split::train, "train", 400);
  write_subset(dir, data::Split::test, "t10k", 100);
  auto t = make_trainable({.data_dir = dir.string(), .val_size = 100});
  EXPECT_EQ(t->metric(), "val_accuracy");
  EXPECT_EQ(t->direction(), hpo::Direction::kMaximize);
  EXPECT_EQ(t->space().size(), 8u);

  hpo::Study study(hpo::StudyOptions{.name = "f", .direction = hpo::Direction::kMaximize,
                                     .pruner = std::make_shared<PruneAfterOne>()});
  // The smallest configuration, so the test stays fast.
  for (int i = 0; i < 2; ++i)
    study.enqueue({{"arch", std::string(i ? "vgg" : "w2")}, {"lr", 3e-3}, {"weight_decay", 1e-4},
                   {"batch", std::string("64")}, {"width", int64_t(16)}, {"dropout", 0.1},
                   {"augment", std::string(i ? "flip+crop" : "none")}, {"schedule", std::string("cosine")}});
  std::optional<hpo::RunResult> first;
  study.optimize([&](hpo::Trial& tr) {
    const auto r = t->run(tr, {.max_resource = 2});
    if (!first) first = r;
    return r.value;
  }, {.n_trials = 2, .log = false});
  const auto trials = study.trials();
  ASSERT_EQ(trials.size(), 2u);
  EXPECT_EQ(trials[0]->state, hpo::TrialState::kComplete) << trials[0]->message;
  EXPECT_EQ(trials[0]->intermediate.size(), 2u);
  EXPECT_GT(*trials[0]->value, 0.3);  // learned something from 300 images (10 classes: chance 0.1)
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->resource, 2);
  EXPECT_FALSE(first->test.has_value());  // validation only while tuning
  EXPECT_EQ(trials[1]->state, hpo::TrialState::kPruned);
  EXPECT_EQ(trials[1]->intermediate.size(), 1u);  // stopped after its first epoch

  // The final run measures the test split once.
  hpo::Study final_study(hpo::StudyOptions{.name = "final", .direction = hpo::Direction::kMaximize});
  final_study.enqueue({{"arch", std::string("w2")}, {"lr", 3e-3}, {"weight_decay", 1e-4},
                       {"batch", std::string("64")}, {"width", int64_t(16)}, {"dropout", 0.1},
                       {"augment", std::string("none")}, {"schedule", std::string("cosine")}});
  hpo::Trial tr = final_study.ask();
  const auto r = t->run(tr, {.max_resource = 2, .measure_test = true});
  ASSERT_TRUE(r.test.has_value());
  EXPECT_GT(*r.test, 0.3);
  EXPECT_DOUBLE_EQ(r.value, *trials[0]->value);  // same configuration and seed: the same run
  // The tuning run kept its model: its test metric is the retrained one's, without retraining.
  ASSERT_TRUE(first->measure_test);
  EXPECT_DOUBLE_EQ(first->measure_test(), *r.test);
  EXPECT_FALSE(r.measure_test);  // the final run measured it itself
  fs::remove_all(dir);
}

int64_t parameter_count(nn::Module& m) {
  int64_t n = 0;
  for (const Tensor& p : m.parameters()) n += p.numel();
  return n;
}

TEST(FmnistTune, EveryFamilyMemberStaysUnderOneMillionParameters) {
  for (const char* arch : {"w2", "vgg"})
    for (int64_t w = 16; w <= 48; w += 8) {
      auto m = make_tuned_cnn(arch, w, 0.0);
      EXPECT_LT(parameter_count(*m), 1'000'000) << arch << " " << w;
      const Tensor y = m->forward(Tensor::zeros({2, 1, 28, 28}));
      EXPECT_EQ(y.shape(), (Shape{2, 10})) << arch << " " << w;
    }
  EXPECT_EQ(parameter_count(*make_tuned_cnn("w2", 32, 0.0)), 421642);  // W2 (WORKLOADS.md)
  EXPECT_THROW(make_tuned_cnn("resnet", 32, 0.0), Error);
}

TEST(FmnistTune, RejectsBadSettingsBeforeReadingTheData) {
  EXPECT_THROW(make_trainable({.val_size = 0}), Error);
  EXPECT_THROW(make_trainable({.train_limit = -1}), Error);
}

}  // namespace
}  // namespace ember::zoo::fmnist

// zoo/common/trainer.cpp: the epoch loop learns, logs, checkpoints and resumes bit for bit (a
// model with dropout, so the generator's position matters), refuses mismatched resumes, and stops
// on a non-finite loss unless told to skip such steps.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "autograd/ops.h"
#include "nn/nn.h"
#include "nn/optim/adam.h"
#include "nn/optim/scheduler.h"
#include "zoo/common/trainer.h"

namespace fs = std::filesystem;

namespace ember::zoo {
namespace {

struct TrainerTest : ::testing::Test {
  void SetUp() override {
    dir_ = fs::temp_directory_path() / fmt::format("ember_trainer_{}_{}", ::getpid(),
                                                    ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    // Two Gaussian blobs in 8-D: class = sign of the first coordinate's mean.
    Generator g(11);
    Tensor x = Tensor::randn({256, 8}, {}, &g);
    Tensor y = Tensor::randint(0, 2, {256}, {}, &g).to(DType::i64);
    x = x + (y.to(DType::f32).unsqueeze(1) * 2.0 - 1.0) * 1.5;
    data_ = std::make_shared<data::TensorDataset>(x, y);
  }
  void TearDown() override { fs::remove_all(dir_); }

  struct Run {
    std::shared_ptr<nn::Sequential> model;
    std::vector<EpochLog> history;
  };
  // Trains a fresh model (seed 5) with `opt` options; an existing run folder is resumed when asked.
  Run train(TrainerOptions o) {
    manual_seed(5);
    auto model = nn::sequential(std::make_shared<nn::Linear>(8, 16), std::make_shared<nn::ReLU>(),
                                std::make_shared<nn::Dropout>(0.2), std::make_shared<nn::Linear>(16, 2));
    nn::Adam opt(model->parameters(), {.lr = 1e-2});
    nn::CosineWithWarmup sched(opt, {.warmup_steps = 2, .total_steps = 4 * 8});
    data::DataLoader loader(data_, {.batch_size = 32, .shuffle = true, .seed = 3});
    Trainer trainer(*model, opt, o, &sched);
    auto history = trainer.fit(
        loader, [&](const data::Batch& b) { return cross_entropy(model->forward(b.input), b.target); },
        [&] {
          Tensor logits = model->forward(data_->inputs());
          const double acc = sum(eq(argmax(logits, 1), data_->targets())).item() / 256.0;
          return std::map<std::string, double>{{"accuracy", acc}};
        });
    return {model, history};
  }

  fs::path dir_;
  std::shared_ptr<data::TensorDataset> data_;
};

TEST_F(TrainerTest, LearnsAndWritesMetrics) {
  const Run r = train({.epochs = 4, .out = dir_.string(), .progress = false});
  ASSERT_EQ(r.history.size(), 4u);
  EXPECT_LT(r.history.back().train_loss, r.history.front().train_loss);
  EXPECT_GT(r.history.back().eval.at("accuracy"), 0.9);
  std::ifstream f(dir_ / "metrics.jsonl");
  std::string line;
  int lines = 0;
  while (std::getline(f, line)) {
    ++lines;
    EXPECT_NE(line.find("\"accuracy\""), std::string::npos) << line;
  }
  EXPECT_EQ(lines, 4);
}

TEST_F(TrainerTest, ResumeIsBitForBit) {
  const Run straight = train({.epochs = 4, .out = (dir_ / "a").string(), .progress = false});
  const Run first = train({.epochs = 4, .out = (dir_ / "b").string(), .progress = false, .stop_after = 2});
  ASSERT_EQ(first.history.size(), 2u);
  const Run resumed = train({.epochs = 4, .out = (dir_ / "b").string(), .resume = true, .progress = false});
  ASSERT_EQ(resumed.history.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(resumed.history[i].train_loss, straight.history[i].train_loss) << "epoch " << i + 1;
    EXPECT_EQ(resumed.history[i].eval.at("accuracy"), straight.history[i].eval.at("accuracy"));
  }
  const auto a = straight.model->state_dict(), b = resumed.model->state_dict();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    const auto va = a[i].second.to_vector<float>(), vb = b[i].second.to_vector<float>();
    EXPECT_EQ(va, vb) << a[i].first;
  }
}

TEST_F(TrainerTest, ResumeChecksTheRunSettings) {
  train({.epochs = 2, .out = dir_.string(), .progress = false, .run_config = "lr=1e-2"});
  try {
    train({.epochs = 3, .out = dir_.string(), .resume = true, .progress = false, .run_config = "lr=5e-2"});
    FAIL() << "a resume with other settings went through";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("settings lr=1e-2, not lr=5e-2"), std::string::npos) << e.what();
  }
}

TEST_F(TrainerTest, NonFiniteLossStopsOrIsSkipped) {
  manual_seed(5);
  auto model = std::make_shared<nn::Linear>(8, 2);
  nn::Adam opt(model->parameters(), {.lr = 1e-2});
  data::DataLoader loader(data_, {.batch_size = 64});
  int calls = 0;
  auto loss = [&](const data::Batch& b) {
    Tensor l = cross_entropy(model->forward(b.input), b.target);
    return ++calls == 2 ? l * std::nan("") : l;  // the second batch goes bad
  };
  Trainer stop(*model, opt, {.epochs = 1, .progress = false});
  try {
    stop.fit(loader, loss);
    FAIL() << "a NaN loss did not stop training";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the loss is nan at epoch 1 step 2"), std::string::npos) << e.what();
  }
  calls = 0;
  Trainer skip(*model, opt, {.epochs = 1, .progress = false, .skip_nonfinite = true});
  const auto h = skip.fit(loader, loss);
  ASSERT_EQ(h.size(), 1u);
  EXPECT_TRUE(std::isfinite(h[0].train_loss));
  for (const Tensor& p : model->parameters()) EXPECT_TRUE(std::isfinite(sum(p).item()));
}

TEST_F(TrainerTest, BadOptionsAreClearErrors) {
  auto model = std::make_shared<nn::Linear>(8, 2);
  nn::Adam opt(model->parameters(), {.lr = 1e-2});
  EXPECT_THROW(Trainer(*model, opt, {.epochs = 0}), Error);
  EXPECT_THROW(Trainer(*model, opt, {.resume = true}), Error);
  EXPECT_THROW(Trainer(*model, opt, {.clip_grad_norm = -1.0}), Error);
}

}  // namespace
}  // namespace ember::zoo

// `ember train fmnist` / `ember eval fmnist` as a user runs them (subprocess), and the copyable
// example script: a short real run end to end, and one clear line plus a non-zero exit for bad
// flags, bad values, a missing dataset and a missing checkpoint.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include <fmt/format.h>

#include "data/fashion_mnist.h"
#include "tests/common/subprocess.h"

namespace fs = std::filesystem;
using ember::test::count_lines;
using ember::test::run_command;

namespace {

class CliFmnist : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(EMBER_CLI_PATH)) GTEST_SKIP() << "ember binary not built";
    dir_ = fs::temp_directory_path() / fmt::format("ember_cli_fmnist_{}", getpid());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  ember::test::RunResult ember(const std::string& args) {
    return run_command(fmt::format("cd '{}' && '{}' {}", dir_.string(), EMBER_CLI_PATH, args));
  }
  fs::path dir_;
};

TEST_F(CliFmnist, BadFlagsAndValuesFailWithOneLine) {
  for (const char* args : {"train fmnist --bogus", "train fmnist --model resnet", "train fmnist --epochs -2",
                           "train fmnist --lr abc", "train fmnist --augment rotate", "eval fmnist", "train",
                           "train fmnist --matmul-precision medium"}) {
    auto r = ember(args);
    EXPECT_NE(r.rc, 0) << args;
    EXPECT_LE(count_lines(r.out), 2u) << args << ":\n" << r.out;
    EXPECT_EQ(r.out.find("terminate"), std::string::npos) << r.out;
  }
  auto r = ember("eval fmnist --checkpoint nothing.safetensors");
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "ember: error: eval fmnist: checkpoint 'nothing.safetensors' does not exist\n");
  r = ember("train fmnist --data /nonexistent/fmnist --out run");
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(count_lines(r.out), 1u) << r.out;
  EXPECT_NE(r.out.find("apt-get install dataset-fashion-mnist"), std::string::npos) << r.out;
  r = run_command(fmt::format("cd '{}' && EMBER_MATMUL_PRECISION=bogus '{}' train fmnist --out run", dir_.string(),
                              EMBER_CLI_PATH));
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(r.out, "ember: error: EMBER_MATMUL_PRECISION: expected highest, tf32 or bf16, got 'bogus'\n");
}

// Outside review: --epochs 2^62 and --batch 1e20 overflowed into a scheduler error; --threads 100000
// aborted with "terminate called without an active exception". Each is now one clear line (or,
// for threads, a capped pool), before any training.
TEST_F(CliFmnist, HugeNumbersAreClearErrors) {
  for (const char* args : {"train fmnist --epochs 4611686018427387904 --out run",
                           "train fmnist --batch 100000000000000000000 --out run", "train fmnist --batch 1e20 --out run",
                           "train fmnist --epochs 99999999999999999999999 --out run"}) {
    auto r = ember(args);
    EXPECT_NE(r.rc, 0) << args;
    EXPECT_LE(count_lines(r.out), 2u) << args << ":\n" << r.out;
    EXPECT_EQ(r.out.find("terminate"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("CosineWithWarmup"), std::string::npos) << r.out;
  }
  if (!ember::data::FashionMnist::available(ember::data::Split::test)) GTEST_SKIP() << "Fashion-MNIST not installed";
  auto r = ember("train fmnist --model mlp --epochs 1 --batch 100 --train-limit 100 --test-limit 100 --threads 100000 "
                 "--no-progress --no-plots --out run");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out.find("terminate"), std::string::npos) << r.out;
}

TEST_F(CliFmnist, TrainThenEvalReproducesAccuracy) {
  if (!ember::data::FashionMnist::available(ember::data::Split::train)) GTEST_SKIP() << "Fashion-MNIST missing";
  auto r = ember("train fmnist --model mlp --epochs 1 --batch 50 --train-limit 200 --test-limit 300 --out run "
                 "--no-progress --no-plots --threads 1");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("epoch 1/1: train loss"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(dir_ / "run" / "model.safetensors"));
  r = ember("eval fmnist --checkpoint run/model.safetensors --test-limit 300 --threads 1");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("(identical)"), std::string::npos) << r.out;
}

// The flag and the environment variable select the same bf16 GEMMs: identical runs, and not the f32 one.
TEST_F(CliFmnist, MatmulPrecisionFlagAndVariableAgree) {
  if (!ember::data::FashionMnist::available(ember::data::Split::train)) GTEST_SKIP() << "Fashion-MNIST missing";
  const std::string args = "train fmnist --model mlp --epochs 1 --batch 50 --train-limit 200 --test-limit 300 "
                           "--no-progress --no-plots --threads 1 --out ";
  auto metrics = [](const std::string& out) {  // "train loss ... test accuracy ...%" without the timing
    const size_t from = out.find("train loss");
    return from == std::string::npos ? out : out.substr(from, out.find(") |", from) - from);
  };
  auto flag = ember(args + "a --matmul-precision bf16");
  auto env = run_command(fmt::format("cd '{}' && EMBER_MATMUL_PRECISION=bf16 '{}' {}b", dir_.string(), EMBER_CLI_PATH, args));
  auto f32 = ember(args + "c --matmul-precision highest");
  ASSERT_EQ(flag.rc, 0) << flag.out;
  ASSERT_EQ(env.rc, 0) << env.out;
  ASSERT_EQ(f32.rc, 0) << f32.out;
  EXPECT_EQ(metrics(flag.out), metrics(env.out));
  EXPECT_NE(metrics(flag.out), metrics(f32.out));
}

TEST(Example, TrainClassifierRunsAFewSteps) {
  if (!fs::exists(EMBER_EXAMPLE_PATH)) GTEST_SKIP() << "example not built";
  if (!ember::data::FashionMnist::available(ember::data::Split::train)) GTEST_SKIP() << "Fashion-MNIST missing";
  const fs::path dir = fs::temp_directory_path() / fmt::format("ember_example_{}", getpid());
  fs::create_directories(dir);
  auto r = run_command(fmt::format("cd '{}' && '{}' 5 1", dir.string(), EMBER_EXAMPLE_PATH));
  fs::remove_all(dir);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("epoch 0 step 5 loss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reloads: ok"), std::string::npos) << r.out;
}

}  // namespace

// The launcher and Gloo across real processes on 127.0.0.1: `launch` starts copies of this test
// binary filtered to LaunchWorker.Run, which acts out the role named by $EMBER_DIST_TEST_ROLE and
// writes what it saw under $EMBER_DIST_TEST_OUT. Checked here: the torchrun environment, 2 processes
// with half of the batch each against 1 process with all of it (20 steps, within 1e-6 relative),
// and a killed or hung rank making the other fail with a clear error within the timeout.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "data/fashion_mnist.h"
#include "dist/init.h"
#include "dist/launch.h"
#include "tests/common/sanitizer.h"
#include "tests/common/subprocess.h"
#include "tests/dist/dist_test_util.h"

namespace ember::dist {
namespace {

using namespace testing;
using Clock = std::chrono::steady_clock;

std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_text(const std::filesystem::path& p, const std::string& s) {
  std::ofstream f(p.string() + ".tmp");
  f << s;
  f.close();
  std::filesystem::rename(p.string() + ".tmp", p);
}

// The body of every launched rank.
TEST(LaunchWorker, Run) {
  const char* role_env = std::getenv("EMBER_DIST_TEST_ROLE");
  if (!role_env) GTEST_SKIP() << "runs only as a rank started by the Launch tests";
  const std::string role = role_env;
  const std::filesystem::path out = std::getenv("EMBER_DIST_TEST_OUT");
  set_num_threads(1);
  const DistEnv env = env_from_environment().value();
  if (role == "env") {
    const char* threads = std::getenv("EMBER_NUM_THREADS");
    write_text(out / fmt::format("env_{}", env.rank),
               fmt::format("{} {} {} {} {}:{} {}", env.rank, env.world_size, env.local_rank, env.local_world_size,
                           env.master_addr, env.master_port, threads ? threads : "unset"));
    return;
  }
  CommunicatorPtr comm = init_process_group(env);
  if (role == "train") {
    const auto losses = tiny_train(tiny_model(100 + env.rank), comm, 20);
    std::string text;
    for (double l : losses) text += fmt::format("{:.17g}\n", l);
    if (env.rank == 0) write_text(out / "losses", text);
    return;
  }
  // "kill" / "hang": rank 1 leaves after 3 steps (SIGKILL, or stops answering); rank 0 must fail.
  try {
    auto model = tiny_model(100);
    DistributedDataParallel ddp(model, comm);
    for (int step = 0; step < 20; ++step) {
      if (env.rank == 1 && step == 3) {
        if (role == "kill") ::raise(SIGKILL);
        std::this_thread::sleep_for(std::chrono::seconds(60));
      }
      for (auto& p : model->parameters()) p.set_grad(Tensor::ones(p.shape()));
      ddp.sync_gradients();
    }
  } catch (const std::exception& e) {
    write_text(out / fmt::format("error_{}", env.rank), e.what());
    std::_Exit(3);
  }
}

class Launch : public ::testing::Test {
 protected:
  void SetUp() override {
    out_ = make_temp_dir("ember_launch");
    ::setenv("EMBER_DIST_TEST_OUT", out_.c_str(), 1);
    char self[4096] = {};
    ASSERT_GT(::readlink("/proc/self/exe", self, sizeof(self) - 1), 0);
    self_ = self;
  }
  void TearDown() override {
    ::unsetenv("EMBER_DIST_TEST_ROLE");
    ::unsetenv("EMBER_DIST_TIMEOUT");
    std::filesystem::remove_all(out_);
  }
  int run(const std::string& role, int nproc, std::chrono::milliseconds grace = std::chrono::seconds(10)) {
    ::setenv("EMBER_DIST_TEST_ROLE", role.c_str(), 1);
    return launch({.nproc = nproc, .command = {self_, "--gtest_filter=LaunchWorker.Run"}, .grace = grace,
                   .verbose = false});
  }
  std::filesystem::path out_;
  std::string self_;
};

TEST_F(Launch, SetsTheTorchrunEnvironment) {
  ASSERT_EQ(run("env", 3), 0);
  std::string port;
  for (int r = 0; r < 3; ++r) {
    std::istringstream in(read_text(out_ / fmt::format("env_{}", r)));
    int rank, world, local, local_world;
    std::string master, threads;
    in >> rank >> world >> local >> local_world >> master >> threads;
    EXPECT_EQ(rank, r);
    EXPECT_EQ(world, 3);
    EXPECT_EQ(local, r);
    EXPECT_EQ(local_world, 3);
    EXPECT_EQ(master.rfind("127.0.0.1:", 0), 0u) << master;
    EXPECT_NE(master, "127.0.0.1:0") << "a free port is chosen";
    if (!std::getenv("EMBER_NUM_THREADS") && !std::getenv("OMP_NUM_THREADS")) {  // a third of the cores each
      EXPECT_EQ(threads, std::to_string(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / 3)));
    }
  }
}

TEST_F(Launch, RejectsBadOptions) {
  EXPECT_THROW_MSG(launch({.nproc = 0, .command = {"true"}}), "launch: --nproc must be >= 1, got 0");
  EXPECT_THROW_MSG(launch({.nproc = 1}), "launch: no command to run");
  EXPECT_THROW_MSG(launch({.master = "nohost", .command = {"true"}}), "launch: --master 'nohost' is not ADDR:PORT");
  EXPECT_THROW_MSG(launch({.nnodes = 2, .command = {"true"}}), "needs an explicit port with --nnodes 2");
  EXPECT_EQ(launch({.nproc = 2, .command = {"false"}, .verbose = false}), 1);
  EXPECT_EQ(launch({.command = {"/nonexistent/program"}}), 127);
}

TEST_F(Launch, TwoProcessesWithHalfBatchesMatchOneProcess) {
  set_num_threads(1);
  const auto reference = tiny_train(tiny_model(100), nullptr, 20);
  ASSERT_EQ(run("train", 2), 0);
  std::vector<double> losses;
  std::istringstream in(read_text(out_ / "losses"));
  for (double l; in >> l;) losses.push_back(l);
  ASSERT_EQ(losses.size(), 20u);
  const double diff = max_relative_difference(losses, reference);
  std::printf("gloo, 2 processes on loopback: max relative loss difference over 20 steps %.3g\n", diff);
  EXPECT_LT(diff, 1e-6);
}

TEST_F(Launch, KilledRankMakesTheOtherFailClearly) {
  ::setenv("EMBER_DIST_TIMEOUT", "5", 1);
  const auto start = Clock::now();
  EXPECT_NE(run("kill", 2, std::chrono::seconds(20)), 0);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(15));
  const std::string err = read_text(out_ / "error_0");
  EXPECT_NE(err.find("allreduce: rank 0 of 2 failed"), std::string::npos) << err;
}

TEST_F(Launch, HungRankMakesTheOtherFailWithinTheTimeout) {
  ::setenv("EMBER_DIST_TIMEOUT", "2", 1);
  const auto start = Clock::now();
  EXPECT_EQ(run("hang", 2, std::chrono::milliseconds(200)), 3);  // rank 0's status; rank 1 is then stopped
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(12));
  const std::string err = read_text(out_ / "error_0");
  EXPECT_NE(err.find("allreduce: rank 0 of 2 failed (a peer died or did not answer within 2000 ms)"),
            std::string::npos)
      << err;
}

// Slow under the sanitizers (three runs of five processes that each read Fashion-MNIST): Release only.
#if defined(EMBER_CLI_PATH) && !EMBER_ASAN
// `ember launch --nproc 2 -- ember train fmnist --distributed` follows the single-process run (same
// global batch, split over the ranks) and resumes from its own checkpoint.
TEST_F(Launch, EmberTrainFmnistDistributedFollowsOneProcess) {
  if (!std::filesystem::exists(std::filesystem::path(data::FashionMnist::default_root()) / "train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)";
  const std::string ember = EMBER_CLI_PATH;
  const std::string common =
      " train fmnist --model mlp --epochs 2 --batch 64 --train-limit 512 --test-limit 200 --threads 1 --no-progress "
      "--no-plots --out ";
  const auto one = test::run_command(ember + common + (out_ / "one").string());
  ASSERT_EQ(one.rc, 0) << one.out;
  const std::string two = ember + " launch --nproc 2 -- " + ember + common + (out_ / "two").string() + " --distributed";
  const auto first = test::run_command(two + " --stop-after 1");
  ASSERT_EQ(first.rc, 0) << first.out;
  EXPECT_NE(first.out.find("distributed: 2 ranks (gloo), 32 images of each global batch of 64 per rank"),
            std::string::npos)
      << first.out;
  const auto second = test::run_command(two + " --resume");
  ASSERT_EQ(second.rc, 0) << second.out;
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(second.out, "resuming mlp from epoch 1/2"), 1u) << "rank 0 alone reports:\n" << second.out;
  EXPECT_EQ(count(second.out, "final: epoch 2"), 1u) << second.out;
  auto metrics = [](const std::filesystem::path& dir) {
    std::vector<nlohmann::json> rows;
    std::istringstream in(read_text(dir / "metrics.jsonl"));
    for (std::string line; std::getline(in, line);) rows.push_back(nlohmann::json::parse(line));
    return rows;
  };
  const auto a = metrics(out_ / "one"), b = metrics(out_ / "two");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  for (size_t e = 0; e < 2; ++e)
    for (const char* key : {"train_loss", "test_loss"}) {
      const double x = a[e][key].get<double>(), y = b[e][key].get<double>();
      EXPECT_NEAR(y, x, 1e-5 * std::abs(x)) << key << " of epoch " << e + 1;
    }
}
#endif

}  // namespace
}  // namespace ember::dist

// `train lm` and `train colorize` with a communicator: 2 ranks that are threads (ThreadGroup),
// each with half of every batch, against one process with all of it. lm: the loss of every step
// (4 steps, accumulation 2, so no_sync is in play) within 1e-6 relative, and a distributed resume.
// colorize: SyncBatchNorm, per-epoch train loss and validation within 1e-6 relative (skipped
// without the packed OpenMoji data, `ember data openmoji`, and in sanitizer builds).
#include <fstream>
#include <thread>

#include "dist/threads.h"
#include "tests/common/sanitizer.h"
#include "tests/dist/dist_test_util.h"
#include "zoo/colorize/colorize.h"
#include "zoo/lm/lm.h"

namespace ember::dist {
namespace {

namespace fs = std::filesystem;
using namespace testing;

// Runs fn(rank, comm) on 2 rank threads and returns rank 0's result (or rethrows its error).
template <class F>
auto on_two_ranks(F fn) {
  auto comms = make_thread_group(2, std::chrono::seconds(60));
  decltype(fn(0, comms[0])) r0, r1;
  std::exception_ptr e0, e1;
  std::thread t([&] {
    try {
      r1 = fn(1, comms[1]);
    } catch (...) {
      e1 = std::current_exception();
    }
  });
  try {
    r0 = fn(0, comms[0]);
  } catch (...) {
    e0 = std::current_exception();
  }
  t.join();
  if (e0 || e1) std::rethrow_exception(e0 ? e0 : e1);
  return r0;
}

double rel(double a, double b) { return std::abs(a - b) / std::max(std::abs(b), 1e-30); }

TEST(DistributedZoo, LmTwoRanksFollowOneProcess) {
  const fs::path dir = make_temp_dir("dist_lm");
  // Real text when `ember data kjv` has run (its first 600 verses), else verse-like lines.
  std::string text;
  std::ifstream kjv(zoo::lm::default_kjv_path());
  for (std::string line; text.size() < 40000 && std::getline(kjv, line);) text += line + "\n";
  if (text.empty())
    for (int i = 0; i < 800; ++i)
      text += fmt::format("And the {} said unto {}, behold the {}.\n", i % 13, i % 7, i % 5);
  std::ofstream(dir / "text.txt") << text;
  zoo::lm::TrainConfig c{.preset = "tiny", .steps = 4, .batch = 4, .ctx = 16, .accum = 2, .lr = 3e-3, .warmup = 1,
                         .data_file = (dir / "text.txt").string(), .out = (dir / "one").string(), .threads = 1,
                         .eval_every = 1, .eval_bytes = 64, .sample_tokens = 0, .final_test = false,
                         .progress = false, .plots = false};
  set_num_threads(1);
  const auto one = zoo::lm::train(c);
  auto run = [&](const std::string& out, int64_t stop_after, bool resume) {
    return on_two_ranks([&](int, CommunicatorPtr comm) {
      zoo::lm::TrainConfig rc = c;
      rc.out = (dir / out).string();
      rc.stop_after = stop_after;
      rc.resume = resume;
      return zoo::lm::train(rc, comm);
    });
  };
  const auto two = run("two", 0, false);
  ASSERT_EQ(two.history.size(), one.history.size());
  double worst = 0;
  for (size_t i = 0; i < one.history.size(); ++i) {
    worst = std::max(worst, rel(two.history[i].train_loss, one.history[i].train_loss));
    EXPECT_LT(rel(two.history[i].val_bpc, one.history[i].val_bpc), 1e-5) << "step " << i + 1;
  }
  EXPECT_LT(worst, 1e-6);
  std::printf("lm, 2 thread ranks: max relative train-loss difference over 4 steps %.3g\n", worst);
  EXPECT_FALSE(fs::exists(dir / "two" / "model.safetensors.tmp"));
  // Stop after 2 steps, resume on 2 ranks: the same trajectory.
  run("resumed", 2, false);
  const auto resumed = run("resumed", 0, true);
  ASSERT_EQ(resumed.history.size(), one.history.size());
  EXPECT_LT(rel(resumed.history.back().train_loss, one.history.back().train_loss), 1e-6);
  c.batch = 3;
  EXPECT_THROW_MSG(run("odd", 0, false), "--batch 3 must be a multiple of the world size 2");
  fs::remove_all(dir);
}

TEST(DistributedZoo, ColorizeTwoRanksWithSyncBatchNormFollowOneProcess) {
  namespace cz = zoo::colorize;
  if (EMBER_ASAN)
    GTEST_SKIP() << "64x64 U-Net training runs in Release builds only (test_sync_batchnorm covers SyncBatchNorm2d)";
  if (!fs::exists(fs::path(cz::packed_dir(cz::default_data_root(), 64)) / "names.txt"))
    GTEST_SKIP() << "OpenMoji data not built (run: ember data openmoji)";
  const fs::path dir = make_temp_dir("dist_colorize");
  cz::TrainConfig c{.epochs = 3, .batch = 4, .depth = 1, .width = 4, .out = (dir / "one").string(), .threads = 1,
                    .train_limit = 8, .val_limit = 4, .progress = false, .plots = false};
  set_num_threads(1);
  const auto one = cz::train(c);
  const auto two = on_two_ranks([&](int, CommunicatorPtr comm) {
    cz::TrainConfig rc = c;
    rc.out = (dir / "two").string();
    return cz::train(rc, comm);
  });
  ASSERT_EQ(two.history.size(), one.history.size());
  double worst = 0;
  for (size_t i = 0; i < one.history.size(); ++i) {
    worst = std::max(worst, rel(two.history[i].train_loss, one.history[i].train_loss));
    EXPECT_LT(rel(two.history[i].val_l1, one.history[i].val_l1), 1e-5) << "epoch " << i + 1;
  }
  EXPECT_LT(worst, 1e-6);
  std::printf("colorize, 2 thread ranks, SyncBatchNorm: max relative train-loss difference over 3 epochs %.3g\n",
              worst);
  // The distributed checkpoint is a plain one (BatchNorm2d names).
  const auto loaded = cz::load_checkpoint(two.checkpoint);
  EXPECT_EQ(loaded.epoch, 3);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace ember::dist

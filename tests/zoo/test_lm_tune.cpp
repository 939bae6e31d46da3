// zoo/lm/tune.h on a real text (the first 60,000 bytes of the KJV, skipped when `ember data kjv`
// has not been run): a trial reports the validation bpc after each round and improves on the
// untrained model, a pruned trial stops after its first round, and the test bpc only when asked.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "hpo/study.h"
#include "tests/common/sanitizer.h"
#include "zoo/lm/lm.h"
#include "zoo/lm/tune.h"

namespace ember::zoo::lm {
namespace {
namespace fs = std::filesystem;

struct PruneSecond : hpo::Pruner {
  std::string name() const override { return "second"; }
  bool prune(const hpo::History&, const hpo::FrozenTrial& t) override { return t.number == 1; }
};

TEST(LmTune, TrialsReportEachRoundAndAPrunedTrialStops) {
  if (!fs::exists(default_kjv_path())) GTEST_SKIP() << "the KJV text is not built (ember data kjv)";
  if (EMBER_ASAN) GTEST_SKIP() << "LM training is too slow under the sanitizers";
  const fs::path file = fs::temp_directory_path() / ("ember_lm_tune_" + std::to_string(::getpid()) + ".txt");
  {
    std::ifstream in(default_kjv_path(), std::ios::binary);
    std::string text(60000, '\0');
    in.read(text.data(), std::streamsize(text.size()));
    std::ofstream(file, std::ios::binary) << text;
  }
  auto t = make_trainable({.data_file = file.string(), .steps = 8, .val_bytes = 2048, .test_bytes = 2048});
  EXPECT_EQ(t->metric(), "val_bpc");
  hpo::Study study(hpo::StudyOptions{.name = "lm", .pruner = std::make_shared<PruneSecond>()});
  for (int i = 0; i < 2; ++i)
    study.enqueue({{"lr", 3e-3}, {"warmup", 0.05}, {"width", std::string("128")}, {"depth", int64_t(2)},
                   {"batch", std::string("8")}, {"ctx", std::string("64")},
                   {"vocab", std::string("256")}, {"dropout", 0.1}});
  study.optimize([&](hpo::Trial& tr) { return t->run(tr, {.max_resource = 2}).value; }, {.n_trials = 2, .log = false});
  const auto trials = study.trials();
  ASSERT_EQ(trials[0]->state, hpo::TrialState::kComplete) << trials[0]->message;
  ASSERT_EQ(trials[0]->intermediate.size(), 2u);
  EXPECT_LT(*trials[0]->value, 7.0);  // an untrained byte model scores about 8 bits per byte
  EXPECT_EQ(trials[1]->state, hpo::TrialState::kPruned);
  EXPECT_EQ(trials[1]->intermediate.size(), 1u);
  hpo::Study final_study(hpo::StudyOptions{.name = "final"});
  final_study.enqueue({{"lr", 3e-3}, {"warmup", 0.05}, {"width", std::string("128")}, {"depth", int64_t(2)},
                       {"batch", std::string("8")}, {"ctx", std::string("64")},
                       {"vocab", std::string("256")}, {"dropout", 0.1}});
  hpo::Trial tr = final_study.ask();
  const auto r = t->run(tr, {.max_resource = 2, .measure_test = true});
  ASSERT_TRUE(r.test.has_value());
  EXPECT_DOUBLE_EQ(r.value, *trials[0]->value);  // the same configuration and seed: the same run
  // BPE tokens (learned on the training split) cover ~3 bytes a step: fewer bits per byte for the
  // same steps.
  final_study.enqueue({{"lr", 3e-3}, {"warmup", 0.05}, {"width", std::string("128")}, {"depth", int64_t(2)},
                       {"batch", std::string("8")}, {"ctx", std::string("64")},
                       {"vocab", std::string("1024")}, {"dropout", 0.1}});
  hpo::Trial bpe = final_study.ask();
  const auto rb = t->run(bpe, {.max_resource = 2});
  EXPECT_LT(rb.value, r.value) << "bytes " << r.value << ", bpe " << rb.value;
  fs::remove(file);
}

}  // namespace
}  // namespace ember::zoo::lm

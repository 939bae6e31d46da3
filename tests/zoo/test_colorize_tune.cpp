// zoo/colorize/tune.h on real OpenMoji pairs (the first 32 training and 16 validation pairs;
// skipped when `ember data openmoji` has not been run): a trial reports the validation L1 each
// epoch, a pruned trial stops after its first epoch, the test L1 only when asked for.
#include <gtest/gtest.h>

#include <filesystem>

#include "hpo/study.h"
#include "tests/common/sanitizer.h"
#include "zoo/colorize/colorize.h"
#include "zoo/colorize/tune.h"

namespace ember::zoo::colorize {
namespace {
namespace fs = std::filesystem;

struct PruneSecond : hpo::Pruner {
  std::string name() const override { return "second"; }
  bool prune(const hpo::History&, const hpo::FrozenTrial& t) override { return t.number == 1; }
};

TEST(ColorizeTune, TrialsReportEachEpochAndAPrunedTrialStops) {
  if (!fs::exists(fs::path(packed_dir(default_data_root(), 64)) / "names.txt"))
    GTEST_SKIP() << "OpenMoji not packed (ember data openmoji)";
  if (EMBER_ASAN) GTEST_SKIP() << "U-Net training is too slow under the sanitizers";
  auto t = make_trainable({.train_limit = 32, .val_limit = 16});
  EXPECT_EQ(t->metric(), "val_l1");
  EXPECT_EQ(t->space().size(), 4u);
  hpo::Study study(hpo::StudyOptions{.name = "c", .pruner = std::make_shared<PruneSecond>()});
  const std::map<std::string, hpo::ParamValue> p = {{"lr", 3e-3}, {"width", std::string("8")},
                                                    {"loss", std::string("l1")}, {"hints", std::string("random")}};
  study.enqueue(p);
  study.enqueue(p);
  study.optimize([&](hpo::Trial& tr) { return t->run(tr, {.max_resource = 2}).value; }, {.n_trials = 2, .log = false});
  const auto trials = study.trials();
  ASSERT_EQ(trials[0]->state, hpo::TrialState::kComplete) << trials[0]->message;
  EXPECT_EQ(trials[0]->intermediate.size(), 2u);
  EXPECT_GT(*trials[0]->value, 0.0);
  EXPECT_LT(*trials[0]->value, 0.6);  // L1 of colours in [0, 1]
  EXPECT_EQ(trials[1]->state, hpo::TrialState::kPruned);
  EXPECT_EQ(trials[1]->intermediate.size(), 1u);
  hpo::Study final_study(hpo::StudyOptions{.name = "final"});
  final_study.enqueue(p);
  hpo::Trial tr = final_study.ask();
  const auto r = t->run(tr, {.max_resource = 2, .measure_test = true});
  ASSERT_TRUE(r.test.has_value());
  EXPECT_DOUBLE_EQ(r.value, *trials[0]->value);  // the same configuration and seed: the same run
}

}  // namespace
}  // namespace ember::zoo::colorize

// The command objective: placeholders, metric lines as reports, exit codes, missing or bad
// metrics, timeouts, a pruned program killed, and the --param spec forms.
#include <gtest/gtest.h>

#include <chrono>

#include "hpo/command.h"
#include "hpo/tuner.h"
#include "tensor/error.h"

using namespace ember::hpo;

namespace {

CommandOptions sh(const std::string& script, double timeout = 0) {
  CommandOptions o{.argv = {"/bin/sh", "-c", script}, .timeout_s = timeout};
  add_param_spec(o.space, "x=float:0:1");
  add_param_spec(o.space, "n=int:1:8");
  return o;
}

// Runs one trial of `opt` (with x and n fixed) and returns the finished record.
FrozenTrial run_one(const CommandOptions& opt, std::shared_ptr<Pruner> pruner = nullptr, int64_t max_resource = 1) {
  CommandTrainable c(opt);
  Study study(StudyOptions{.name = "c", .pruner = pruner});
  study.enqueue({{"x", 0.25}, {"n", int64_t(3)}});
  study.optimize([&](Trial& t) { return c.run(t, {.max_resource = max_resource}).value; }, {.n_trials = 1, .log = false});
  return *study.trials().at(0);
}

struct PruneAtTwo : Pruner {
  std::string name() const override { return "at2"; }
  bool prune(const History&, const FrozenTrial& t) override { return t.intermediate.size() >= 2; }
};

}  // namespace

TEST(Command, SubstitutesParametersAndReadsTheLastMetricLine) {
  const auto t = run_one(sh("echo starting; echo 'metric=1.5'; echo \"metric: $(echo {x}) {n}\" | cut -d' ' -f1,2"));
  ASSERT_EQ(t.state, TrialState::kComplete) << t.message;
  EXPECT_DOUBLE_EQ(*t.value, 0.25);
  EXPECT_EQ(t.intermediate.size(), 2u);  // every metric line is a report
  EXPECT_DOUBLE_EQ(t.intermediate.at(1), 1.5);
}

TEST(Command, FailuresSayWhy) {
  auto msg = [](const CommandOptions& o) { return run_one(o).message; };
  EXPECT_NE(msg(sh("echo metric=1; echo oops >&2; exit 3")).find("exited with status 3; last stderr line: oops"),
            std::string::npos);
  EXPECT_NE(msg(sh("echo loss=1")).find("printed no 'metric=VALUE' line"), std::string::npos);
  EXPECT_NE(msg(sh("echo metric=abc")).find("'metric=abc', which is not a number"), std::string::npos);
  EXPECT_NE(msg(sh("kill -9 $$")).find("killed by signal 9"), std::string::npos);
  CommandOptions missing{.argv = {"/nonexistent/prog"}};
  EXPECT_NE(msg(missing).find("exited with status 127; last stderr line: cannot run '/nonexistent/prog'"),
            std::string::npos);
}

TEST(Command, TimesOutAndKillsTheProgram) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto t = run_one(sh("echo metric=1; sleep 30; echo metric=2", 0.3));
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  EXPECT_EQ(t.state, TrialState::kFailed);
  EXPECT_NE(t.message.find("timed out after 0.3 s"), std::string::npos) << t.message;
}

TEST(Command, APrunedProgramIsStopped) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto t = run_one(sh("for i in 1 2 3 4 5 6; do echo metric=$i; sleep 0.2; done; sleep 30"),
                         std::make_shared<PruneAtTwo>(), 6);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  EXPECT_EQ(t.state, TrialState::kPruned);
  EXPECT_EQ(t.intermediate.size(), 2u);
}

TEST(Command, ParamSpecsAndPlaceholdersAreChecked) {
  Space s;
  add_param_spec(s, "lr=float:1e-5:1e-1:log");
  add_param_spec(s, "w=int:16:256:log");
  add_param_spec(s, "act=cat:relu,tanh");
  EXPECT_TRUE(s.find("lr")->dist.log);
  EXPECT_EQ(s.find("act")->dist.choices.size(), 2u);
  for (const char* bad : {"lr", "lr=float:1", "lr=float:a:1", "w=int:1.5:3", "x=weird:1:2", "x=float:0:1:lin"})
    EXPECT_THROW(add_param_spec(s, bad), ember::Error) << bad;
  EXPECT_THROW(CommandTrainable(sh("echo {lrr}")), ember::Error);  // a placeholder without a --param
  EXPECT_THROW(CommandTrainable(CommandOptions{}), ember::Error);  // no program
}

// Study: ask/tell, optimize (failures, NaN, threads, timeout), enqueue, best trial, export, user
// attributes.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "hpo/study.h"
#include "tensor/error.h"
#include "tensor/threads.h"

using namespace ember::hpo;

TEST(Study, AskTellAndBestTrial) {
  Study study(StudyOptions{.name = "s", .direction = Direction::kMaximize,
                           .sampler = make_sampler("random", {.seed = 1})});
  for (int i = 0; i < 5; ++i) {
    Trial t = study.ask();
    EXPECT_EQ(t.number(), i);
    const double x = t.suggest_float("x", 0, 1);
    EXPECT_EQ(t.suggest_float("x", 0, 1), x);  // repeated suggestion returns the same value
    EXPECT_THROW(t.suggest_float("x", 0, 2), ember::Error);
    study.tell(t, x);
    EXPECT_THROW(study.tell(t, 1.0), ember::Error);  // told twice
  }
  const auto best = study.best_trial();
  ASSERT_TRUE(best.has_value());
  for (const auto& t : study.trials()) {
    EXPECT_LE(*t->value, *best->value);
  }
}

TEST(Study, NoBestTrialBeforeAnyCompletes) {
  Study study(StudyOptions{.name = "empty"});
  EXPECT_FALSE(study.best_trial().has_value());
}

TEST(Study, FailuresNaNAndBadRangesBecomeFailedTrials) {
  Study study(StudyOptions{.name = "f"});
  int i = 0;
  study.optimize(
      [&](Trial& t) -> double {
        const int k = i++ % 4;
        if (k == 0) throw std::runtime_error("boom");
        if (k == 1) return NAN;
        if (k == 2) t.suggest_float("lr", 0.0, 1.0, {.log = true});  // invalid range
        return t.suggest_float("x", 0, 1);
      },
      {.n_trials = 12});
  EXPECT_EQ(study.count(TrialState::kFailed), 9);
  EXPECT_EQ(study.count(TrialState::kComplete), 3);
  const auto trials = study.trials();
  EXPECT_EQ(trials[0]->message, "boom");
  EXPECT_EQ(trials[1]->message, "objective returned nan");
  EXPECT_NE(trials[2]->message.find("'lr' is log-scaled but low = 0"), std::string::npos);
}

TEST(Study, ZeroIsARealResult) {
  Study study(StudyOptions{.name = "zero"});
  study.optimize([](Trial& t) { return t.suggest_int("n", 0, 3) == 0 ? 0.0 : 1.0; }, {.n_trials = 30});
  ASSERT_TRUE(study.best_trial().has_value());
  EXPECT_EQ(*study.best_trial()->value, 0.0);
}

TEST(Study, ParallelJobsRunEveryTrialOnce) {
  Study study(StudyOptions{.name = "p", .sampler = make_sampler("tpe", {.seed = 3})});
  std::atomic<int> calls{0};
  study.optimize(
      [&](Trial& t) {
        ++calls;
        return std::pow(t.suggest_float("x", -1, 1), 2);
      },
      {.n_trials = 40, .n_jobs = 4});
  EXPECT_EQ(calls.load(), 40);
  const auto trials = study.trials();
  ASSERT_EQ(trials.size(), 40u);
  for (size_t i = 0; i < trials.size(); ++i) {
    EXPECT_EQ(trials[i]->number, static_cast<int64_t>(i));
  }
}

// Outside review: --jobs 100000 aborted the process when a thread spawn failed.
TEST(Study, RefusedThreadSpawnsStillRunEveryTrial) {
  for (int allowed : {0, 3}) {
    Study study(StudyOptions{.name = "spawn", .sampler = make_sampler("random", {.seed = 3})});
    std::atomic<int> calls{0};
    ember::testing::fail_thread_spawns_after(allowed);
    study.optimize(
        [&](Trial& t) {
          ++calls;
          return t.suggest_float("x", -1, 1);
        },
        {.n_trials = 25, .n_jobs = 100000});
    ember::testing::fail_thread_spawns_after(-1);
    EXPECT_EQ(calls.load(), 25);
    EXPECT_EQ(study.trials().size(), 25u);
  }
}

TEST(Study, TimeoutStops) {
  Study study(StudyOptions{.name = "t"});
  study.optimize(
      [](Trial& t) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        return t.suggest_float("x", 0, 1);
      },
      {.timeout_s = 0.2});
  EXPECT_GT(study.count(TrialState::kComplete), 2);
  EXPECT_LT(study.count(TrialState::kComplete), 30);
}

TEST(Study, EnqueuedConfigurationIsUsedFirst) {
  Study study(StudyOptions{.name = "e"});
  study.enqueue({{"lr", 0.01}, {"opt", std::string("adam")}, {"n", int64_t{7}}});
  study.enqueue({{"opt", std::string("rmsprop")}});  // not a choice: that trial fails clearly
  study.optimize(
      [](Trial& t) {
        const double lr = t.suggest_float("lr", 1e-4, 1, {.log = true});
        const auto opt = t.suggest_categorical("opt", {"sgd", "adam"});
        return lr + static_cast<double>(t.suggest_int("n", 1, 10)) + (opt == "adam" ? 0.0 : 1.0);
      },
      {.n_trials = 3});
  const auto trials = study.trials();
  ASSERT_EQ(trials.size(), 3u);
  EXPECT_EQ(trials[0]->param_string("opt"), "adam");
  EXPECT_DOUBLE_EQ(trials[0]->params.at("lr"), 0.01);
  EXPECT_DOUBLE_EQ(*trials[0]->value, 7.01);
  EXPECT_EQ(trials[1]->state, TrialState::kFailed);
  EXPECT_NE(trials[1]->message.find("'rmsprop' is not one of its choices"), std::string::npos);
  EXPECT_EQ(trials[2]->state, TrialState::kComplete);
}

TEST(Study, ExistingStudyWithOtherDirectionIsAnError) {
  auto storage = open_storage("memory");
  Study a(StudyOptions{.name = "x", .storage = storage});
  EXPECT_THROW(Study(StudyOptions{.name = "x", .direction = Direction::kMaximize, .storage = storage}), ember::Error);
  EXPECT_THROW(Study(StudyOptions{.name = "x", .storage = storage, .load_if_exists = false}), ember::Error);
}

TEST(Study, PrunedTrialsKeepTheirLastValue) {
  Study study(StudyOptions{.name = "pr", .pruner = make_pruner("median")});
  study.optimize(
      [](Trial& t) {
        const double x = t.suggest_float("x", 0, 1);
        for (int s = 1; s <= 10; ++s) {
          t.report(s, x + 1.0 / s);
          if (t.should_prune()) throw TrialPruned();
        }
        return x;
      },
      {.n_trials = 30});
  EXPECT_GT(study.count(TrialState::kPruned), 0);
  for (const auto& t : study.trials())
    if (t->state == TrialState::kPruned) {
      EXPECT_EQ(t->value, t->last_intermediate());
      EXPECT_EQ(t->message, "");  // pruned by the pruner: no reason given
    }
}

TEST(Study, APrunedTrialsReasonBecomesItsMessage) {
  Study study(StudyOptions{.name = "why"});
  study.optimize(
      [](Trial& t) -> double {
        t.report(1, 0.5);
        t.report(2, 0.25);
        throw TrialPruned("stopped: the wall-clock budget ran out");
      },
      {.n_trials = 1, .log = false, .catch_exceptions = false});  // a pruned trial is not an error
  const auto trials = study.trials();
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0]->state, TrialState::kPruned);
  EXPECT_EQ(trials[0]->value, 0.25);
  EXPECT_EQ(trials[0]->message, "stopped: the wall-clock budget ran out");
  EXPECT_STREQ(TrialPruned("r").what(), "r");
  EXPECT_STREQ(TrialPruned().what(), "trial pruned");
}

TEST(Study, ExportCsvAndJson) {
  Study study(StudyOptions{.name = "exp"});
  study.optimize(
      [](Trial& t) {
        const auto c = t.suggest_categorical("c", {"a,b", "q\"t"});
        return t.suggest_float("x", 0, 1) + (c == "a,b");
      },
      {.n_trials = 6});
  const std::string csv = trials_to_csv(study.trials());
  EXPECT_EQ(csv.rfind("number,state,value,params_c,params_x,duration_s,message\n", 0), 0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 7);
  const auto j = nlohmann::json::parse(trials_to_json(study.name(), study.direction(), study.trials()));
  EXPECT_EQ(j["study"], "exp");
  ASSERT_EQ(j["trials"].size(), 6u);
  EXPECT_TRUE(j["trials"][0]["params"]["c"].is_string());
  EXPECT_TRUE(j["trials"][0]["params"]["x"].is_number());
}

// User attributes: any JSON value, kept with the trial (here through a sqlite file and a reopen),
// exported with the trials, and clear errors for what cannot be stored.
TEST(Study, UserAttributesRoundTrip) {
  const std::string path = ::testing::TempDir() + "ember_user_attrs_" + std::to_string(::getpid()) + ".db";
  std::remove(path.c_str());
  {
    Study study(StudyOptions{.name = "ua", .storage = open_storage("sqlite:" + path)});
    study.optimize(
        [](Trial& t) {
          const double x = t.suggest_float("x", 0, 1);
          t.set_user_attr("test_accuracy", 0.5 + x / 4);
          t.set_user_attr("checkpoint", "runs/t" + std::to_string(t.number()));
          t.set_user_attr("curve", nlohmann::json::array({1, 2, 3}));
          t.set_user_attr("epochs", 1);
          t.set_user_attr("epochs", 2);  // the last value wins
          return x;
        },
        {.n_trials = 3, .log = false});
  }
  Study study(StudyOptions{.name = "ua", .storage = open_storage("sqlite:" + path)});
  const auto trials = study.trials();
  ASSERT_EQ(trials.size(), 3u);
  for (const auto& t : trials) {
    EXPECT_DOUBLE_EQ(t->user_attr("test_accuracy").get<double>(), 0.5 + t->params.at("x") / 4);
    EXPECT_EQ(t->user_attr("checkpoint"), "runs/t" + std::to_string(t->number));
    EXPECT_EQ(t->user_attr("curve"), nlohmann::json::array({1, 2, 3}));
    EXPECT_EQ(t->user_attr("epochs"), 2);
  }
  try {
    trials[0]->user_attr("acc");
    ADD_FAILURE() << "no error for a missing attribute";
  } catch (const ember::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no user attribute 'acc' (it has: checkpoint, curve, epochs, test_accuracy)"),
              std::string::npos)
        << e.what();
  }
  const auto j = nlohmann::json::parse(trials_to_json(study.name(), study.direction(), trials));
  EXPECT_EQ(j["trials"][1]["user_attrs"]["curve"], nlohmann::json::array({1, 2, 3}));
  // Bad keys and values fail the trial with the reason; nothing is stored for them.
  study.optimize([](Trial& t) {
    t.set_user_attr("", 1);
    return 0.0;
  }, {.n_trials = 1, .log = false});
  study.optimize([](Trial& t) {
    t.set_user_attr("nan", nlohmann::json::array({1.0, std::nan("")}));
    return 0.0;
  }, {.n_trials = 1, .log = false});
  study.optimize([](Trial& t) {
    t.set_user_attr("bytes", std::string("\xff\xfe"));
    return 0.0;
  }, {.n_trials = 1, .log = false});
  const auto after = study.trials();
  ASSERT_EQ(after.size(), 6u);
  EXPECT_NE(after[5]->message.find("user attribute 'bytes' cannot be written as JSON"), std::string::npos)
      << after[5]->message;
  EXPECT_EQ(after[3]->state, TrialState::kFailed);
  EXPECT_NE(after[3]->message.find("a user attribute needs a non-empty key"), std::string::npos) << after[3]->message;
  EXPECT_EQ(after[4]->state, TrialState::kFailed);
  EXPECT_NE(after[4]->message.find("user attribute 'nan' holds NaN or infinity"), std::string::npos) << after[4]->message;
  EXPECT_TRUE(after[4]->user_attrs.empty());
  for (const char* ext : {"", "-wal", "-shm"}) std::remove((path + ext).c_str());
}

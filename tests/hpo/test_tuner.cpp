// The tuner over a Trainable (pruning stops a trial, epochs spent, wall and CPU budgets, resume checks, the
// final test run, plots, importance) and the Study's logging / re-raise options.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <thread>

#include "hpo/storage/storage.h"
#include "hpo/tuner.h"
#include "tensor/error.h"

using namespace ember::hpo;
namespace fs = std::filesystem;

namespace {

// A learning-curve task: val accuracy after epoch t is q(x) (1 - exp(-t / 2)) with q best at
// x = 0.3; counts epochs trained and how often the test metric was asked for.
class CurveTask : public Trainable {
 public:
  std::string name() const override { return "curve"; }
  std::string metric() const override { return "val_accuracy"; }
  Direction direction() const override { return Direction::kMaximize; }
  Space space() const override {
    Space s;
    s.add_float("x", 0, 1).add_categorical("opt", {"a", "b"});
    return s;
  }
  RunResult run(Trial& trial, const RunContext& ctx) override {
    const auto v = space().suggest_all(trial);
    const double q = 1 - (v.at("x") - 0.3) * (v.at("x") - 0.3) - 0.05 * v.at("opt");
    RunResult r;
    for (int64_t e = 1; e <= ctx.max_resource; ++e) {
      ++epochs;
      if (sleep_ms) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
      if (spin_cpu_ms) {  // busy: CPU time, for the CPU budget
        const double until = process_cpu_seconds() + spin_cpu_ms / 1000.0;
        while (process_cpu_seconds() < until) {
        }
      }
      r.value = q * (1 - std::exp(-double(e) / 2));
      r.resource = e;
      report_epoch(trial, ctx, e, r.value);
    }
    if (ctx.measure_test) r.test = r.value - 0.01, ++tests;
    // As a trainable that keeps its model: the test of this very run, on demand.
    if (keeps_model && !ctx.measure_test) {
      const int number = int(trial.number());
      r.measure_test = [this, number, v = r.value] {
        ++tests;
        tested.push_back(number);
        return v - 0.01;
      };
    }
    return r;
  }
  int64_t epochs = 0, tests = 0;
  int sleep_ms = 0, spin_cpu_ms = 0;
  bool keeps_model = false;
  std::vector<int> tested;  // trial numbers whose kept model was tested
};

TuneOptions quiet(TuneOptions o) {
  o.print = [](const std::string&) {};
  return o;
}

}  // namespace

TEST(Tuner, PrunedTrialsStopAndTheBestIsRetrainedOnceWithTheTest) {
  CurveTask task;
  const auto rep = tune(task, quiet({.sampler = "random", .pruner = "median", .trials = 20, .max_resource = 8}));
  EXPECT_EQ(rep.complete + rep.pruned, 20);
  EXPECT_GT(rep.pruned, 0);
  // Pruned trials stopped early: the epochs spent are fewer than 20 full trials, and each
  // pruned trial has fewer reports than max_resource.
  EXPECT_LT(rep.epochs, 20 * 8);
  EXPECT_EQ(task.epochs, rep.epochs + 8);  // + the final retrain
  ASSERT_TRUE(rep.best && rep.final && rep.final->test);
  EXPECT_EQ(task.tests, 1);  // the test metric is measured once, for the best configuration
  EXPECT_DOUBLE_EQ(rep.final->value, *rep.best->value);
}

TEST(Tuner, AKeptModelOfTheBestTrialIsTestedInsteadOfRetrained) {
  for (const int jobs : {1, 3}) {
    CurveTask task;
    task.keeps_model = true;
    const auto rep =
        tune(task, quiet({.sampler = "random", .pruner = "median", .trials = 20, .jobs = jobs, .max_resource = 8}));
    ASSERT_TRUE(rep.best && rep.final && rep.final->test) << jobs;
    EXPECT_EQ(task.epochs, rep.epochs) << jobs;  // no retrain
    EXPECT_EQ(task.tests, 1) << jobs;
    ASSERT_EQ(task.tested.size(), 1u);
    EXPECT_EQ(task.tested[0], rep.best->number) << jobs;  // the best trial's own model
    EXPECT_DOUBLE_EQ(*rep.final->test, *rep.best->value - 0.01) << jobs;
    EXPECT_DOUBLE_EQ(rep.final->value, *rep.best->value) << jobs;
  }
}

TEST(Tuner, EnqueuedConfigurationsRunFirstOnlyInANewStudy) {
  CurveTask task;
  const std::string db = (fs::temp_directory_path() / fmt::format("ember_enqueue_{}.db", ::getpid())).string();
  fs::remove(db);
  auto o = quiet({.sampler = "random", .pruner = "none", .storage = "sqlite:" + db, .trials = 3, .max_resource = 2,
                  .final_test = false});
  o.enqueue = {"x=0.3,opt=a", "opt=b"};
  auto rep = tune(task, o);
  auto load = [&] {
    return Study(StudyOptions{.name = "curve", .direction = Direction::kMaximize, .storage = open_storage("sqlite:" + db)})
        .trials();
  };
  auto trials = load();
  ASSERT_EQ(trials.size(), 3u);
  EXPECT_DOUBLE_EQ(trials[0]->params.at("x"), 0.3);
  EXPECT_DOUBLE_EQ(trials[0]->params.at("opt"), 0);
  EXPECT_DOUBLE_EQ(trials[1]->params.at("opt"), 1);  // x sampled
  EXPECT_EQ(rep.best->number, 0);
  // Resumed: the queue is not added again.
  o.trials = 4;
  rep = tune(task, o);
  trials = load();
  ASSERT_EQ(trials.size(), 4u);
  EXPECT_NE(trials[3]->params.at("x"), 0.3);
  fs::remove(db);
}

TEST(Tuner, ParsesAssignmentsAgainstTheSpace) {
  Space s;
  s.add_float("lr", 1e-4, 1e-1, {.log = true}).add_int("width", 16, 48, {.step = 8}).add_categorical("aug", {"none", "flip"});
  const auto a = parse_assignment(s, "lr=0.002,width=32,aug=flip");
  EXPECT_DOUBLE_EQ(std::get<double>(a.at("lr")), 0.002);
  EXPECT_EQ(std::get<int64_t>(a.at("width")), 32);
  EXPECT_EQ(std::get<std::string>(a.at("aug")), "flip");
  auto throws_with = [&](const std::string& text, const std::string& what) {
    try {
      parse_assignment(s, text);
      ADD_FAILURE() << text << " was accepted";
    } catch (const ember::Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  throws_with("depth=3", "no parameter 'depth'");
  throws_with("width=33", "outside");
  throws_with("width=wide", "needs a number");
  throws_with("lr=1", "outside");
  throws_with("aug=crop", "not one of its choices");
  throws_with("lr=0.01,lr=0.02", "given twice");
  throws_with("lr", "NAME=VALUE");
  throws_with("lr=0.01,", "NAME=VALUE");
}

TEST(Tuner, NoPrunerRunsEveryEpoch) {
  CurveTask task;
  const auto rep =
      tune(task, quiet({.sampler = "random", .pruner = "none", .trials = 16, .max_resource = 4, .final_test = false}));
  EXPECT_EQ(rep.complete, 16);
  EXPECT_EQ(rep.epochs, 64);
  EXPECT_FALSE(rep.final.has_value());
  ASSERT_FALSE(rep.importance.empty());
  EXPECT_EQ(rep.importance[0].first, "x");  // x drives the value; opt only a little
}

TEST(Tuner, BudgetStopsRunningTrials) {
  CurveTask task;
  task.sleep_ms = 50;  // a trial (10 epochs) outlasts the budget: the first one is running at the deadline
  const auto t0 = std::chrono::steady_clock::now();
  const auto rep = tune(task, quiet({.pruner = "none", .trials = 1000, .budget_s = 0.3, .max_resource = 10,
                                     .final_test = false}));
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(s, 2.0);
  EXPECT_EQ(rep.complete, 0);
  // The trial running at the deadline stops there: pruned (its last value kept), not failed.
  EXPECT_EQ(rep.failed, 0);
  EXPECT_EQ(rep.pruned, 1);
  EXPECT_EQ(rep.budget_stopped, 1);
  EXPECT_LT(task.epochs, 10);
}

TEST(Tuner, CpuBudgetCountsCpuTimeNotWallTime) {
  CurveTask busy;
  busy.spin_cpu_ms = 50;  // 10 busy epochs outlast a 0.3 s CPU budget: the first trial stops there
  std::string printed;
  auto o = quiet({.pruner = "none", .trials = 1000, .cpu_budget_s = 0.3, .max_resource = 10, .final_test = false});
  o.print = [&](const std::string& s) { printed += s; };
  const auto rep = tune(busy, o);
  EXPECT_EQ(rep.complete, 0);
  EXPECT_EQ(rep.failed, 0);
  EXPECT_EQ(rep.budget_stopped, 1);
  EXPECT_NE(printed.find("stopped: the CPU budget ran out"), std::string::npos) << printed;
  EXPECT_NE(printed.find("1 pruned (1 by the budget), 0 failed"), std::string::npos) << printed;
  EXPECT_LT(busy.epochs, 10);
  EXPECT_NE(printed.find(", CPU budget 0.3 s,"), std::string::npos) << printed;  // the header names it
  // A task that sleeps uses no CPU: the same budget lets all its trials finish.
  CurveTask idle;
  idle.sleep_ms = 40;
  const auto rep2 = tune(idle, quiet({.pruner = "none", .trials = 3, .cpu_budget_s = 0.3, .max_resource = 5,
                                      .final_test = false}));
  EXPECT_EQ(rep2.complete, 3);
  EXPECT_EQ(idle.epochs, 15);
  try {
    parse_duration("soon", "--cpu-budget");
    ADD_FAILURE() << "no error";
  } catch (const ember::Error& e) {
    EXPECT_NE(std::string(e.what()).find("tune: --cpu-budget 'soon' is not a duration"), std::string::npos) << e.what();
  }
}

TEST(Tuner, ResumesTheSameStudyAndRefusesAnotherSpace) {
  const fs::path db = fs::temp_directory_path() / ("ember_tuner_" + std::to_string(::getpid()) + ".db");
  fs::remove(db);
  CurveTask task;
  auto o = quiet({.study = "s", .sampler = "random", .pruner = "none", .storage = "sqlite:" + db.string(), .trials = 3,
                  .max_resource = 2, .final_test = false});
  EXPECT_EQ(tune(task, o).complete, 3);
  o.trials = 5;  // the total: two more
  EXPECT_EQ(tune(task, o).complete, 2);
  struct Other : CurveTask {
    Space space() const override {
      Space s;
      s.add_float("x", 0, 2).add_categorical("opt", {"a", "b"});
      return s;
    }
  } other;
  try {
    tune(other, o);
    ADD_FAILURE() << "a study of another space was resumed";
  } catch (const ember::Error& e) {
    EXPECT_NE(std::string(e.what()).find("study 's' in sqlite:"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("was run on another objective or space"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos);
  }
  fs::remove(db);
}

TEST(Tuner, WritesThePlots) {
  if (std::system("gnuplot --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "gnuplot not installed";
  const fs::path dir = fs::temp_directory_path() / ("ember_tuner_plots_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  CurveTask task;
  tune(task, quiet({.pruner = "median", .trials = 12, .max_resource = 5, .final_test = false,
                    .plots = (dir / "s").string()}));
  for (const char* f : {"s_history.png", "s_intermediate.png", "s_importance.png"})
    EXPECT_GT(fs::file_size(dir / f), 1000u) << f;
  fs::remove_all(dir);
}

TEST(Tuner, ParsesDurations) {
  EXPECT_DOUBLE_EQ(parse_duration("90"), 90);
  EXPECT_DOUBLE_EQ(parse_duration("90s"), 90);
  EXPECT_DOUBLE_EQ(parse_duration("30m"), 1800);
  EXPECT_DOUBLE_EQ(parse_duration("2h"), 7200);
  EXPECT_DOUBLE_EQ(parse_duration("1h30m"), 5400);
  for (const char* bad : {"", "abc", "2d", "0", "-5m"}) EXPECT_THROW(parse_duration(bad), ember::Error) << bad;
}

TEST(StudyApi, LogsEveryTrialByDefaultAndFailuresWithTheirException) {
  Study study(StudyOptions{.name = "log"});
  std::vector<std::string> lines;
  study.optimize(
      [](Trial& t) {
        const double x = t.suggest_float("x", 0, 1);
        if (t.number() == 1) throw std::runtime_error("boom at one");
        return x;
      },
      {.n_trials = 3, .logger = [&](const std::string& s) { lines.push_back(s); }});
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_NE(lines[0].find("trial 0 complete with value"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("trial 1 failed: boom at one"), std::string::npos) << lines[1];
  lines.clear();
  study.optimize([](Trial& t) { return t.suggest_float("x", 0, 1); },
                 {.n_trials = 2, .log = false, .logger = [&](const std::string& s) { lines.push_back(s); }});
  EXPECT_TRUE(lines.empty());
}

TEST(StudyApi, CanReRaiseTheObjectivesException) {
  Study study(StudyOptions{.name = "raise"});
  EXPECT_THROW(study.optimize([](Trial&) -> double { throw std::invalid_argument("bad objective"); },
                              {.n_trials = 5, .log = false, .catch_exceptions = false}),
               std::invalid_argument);
  ASSERT_EQ(study.trials().size(), 1u);  // recorded as failed, then re-raised: no further trials
  EXPECT_EQ(study.trials()[0]->state, TrialState::kFailed);
  // Pruning is not an error.
  Study s2(StudyOptions{.name = "p"});
  s2.optimize([](Trial&) -> double { throw TrialPruned(); }, {.n_trials = 2, .log = false, .catch_exceptions = false});
  EXPECT_EQ(s2.count(TrialState::kPruned), 2);
}

TEST(StudyApi, DeleteStudyRemovesItAndItsTrials) {
  const fs::path db = fs::temp_directory_path() / ("ember_delete_" + std::to_string(::getpid()) + ".db");
  fs::remove(db);
  for (const std::string& url : {std::string("memory"), "sqlite:" + db.string()}) {
    auto storage = open_storage(url);
    for (const char* name : {"b", "a"}) {  // "a" holds the newest rows: an id reused after the delete must come clean
      Study s(StudyOptions{.name = name, .storage = storage});
      s.optimize([](Trial& t) {
        t.set_user_attr("k", 1);  // a study's user attributes go with it
        return t.suggest_float("x", 0, 1);
      }, {.n_trials = 3, .log = false});
    }
    storage->delete_study("a");
    ASSERT_EQ(storage->list_studies().size(), 1u) << url;
    EXPECT_EQ(storage->list_studies()[0].name, "b");
    EXPECT_FALSE(storage->find_study("a").has_value());
    EXPECT_THROW(storage->delete_study("a"), ember::Error) << url;
    Study again(StudyOptions{.name = "a", .storage = storage});  // the name is free again, and empty
    EXPECT_TRUE(again.trials().empty()) << url;
    again.optimize([](Trial& t) { return t.suggest_float("x", 0, 1); }, {.n_trials = 3, .log = false});
    for (const auto& t : again.trials()) EXPECT_TRUE(t->user_attrs.empty()) << url << " trial " << t->number;
    EXPECT_EQ(Study(StudyOptions{.name = "b", .storage = storage}).trials().size(), 3u);
  }
  fs::remove(db);
}

TEST(StudyApi, PrunerOptionsThroughTheFactory) {
  // Median with 2 startup trials prunes the third trial's bad curve; with 10 it cannot yet.
  for (const auto& [startup, pruned] : {std::pair{2, true}, std::pair{10, false}}) {
    Study s(StudyOptions{.name = "p", .pruner = make_pruner("median", {.n_startup_trials = startup})});
    s.optimize(
        [](Trial& t) {
          const double v = t.number() < 2 ? 0.0 : 1.0;
          for (int64_t e = 1; e <= 3; ++e) {
            t.report(e, v);
            if (t.should_prune()) throw TrialPruned();
          }
          return v;
        },
        {.n_trials = 3, .log = false});
    EXPECT_EQ(s.count(TrialState::kPruned), pruned ? 1 : 0) << startup;
  }
  EXPECT_THROW(make_pruner("sometimes"), ember::Error);
}

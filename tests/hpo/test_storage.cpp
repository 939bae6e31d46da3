// Conformance suite over every storage (memory, sqlite), plus the sqlite-only properties:
// resume after restart, resume after SIGKILL mid-run, concurrent processes on one study, and
// clear errors for foreign or corrupted files.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "hpo/storage/memory.h"
#include "hpo/storage/sqlite.h"
#include "hpo/study.h"
#include "tensor/error.h"

using namespace ember::hpo;
namespace fs = std::filesystem;

namespace {

fs::path temp_db(const std::string& tag) {
  const fs::path p = fs::temp_directory_path() / fmt::format("ember_hpo_{}_{}.db", tag, getpid());
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(p.string() + ext);
  return p;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ember::Error& e) {
    return e.what();
  }
  return "";
}

class StorageConformance : public ::testing::TestWithParam<std::string> {
 protected:
  std::shared_ptr<Storage> open() {
    if (GetParam() == "memory") {
      if (!mem_) mem_ = std::make_shared<MemoryStorage>();
      return mem_;  // "reopening" memory returns the same object
    }
    return std::make_shared<SqliteStorage>(path_.string());
  }
  void SetUp() override { path_ = temp_db("conf"); }
  void TearDown() override {
    for (const char* ext : {"", "-wal", "-shm"}) fs::remove(path_.string() + ext);
  }
  fs::path path_;
  std::shared_ptr<MemoryStorage> mem_;
};

}  // namespace

TEST_P(StorageConformance, StudiesAndTrialsRoundTrip) {
  auto s = open();
  const int64_t id = s->create_study("a", Direction::kMaximize);
  EXPECT_THROW(s->create_study("a", Direction::kMinimize), ember::Error);
  ASSERT_TRUE(s->find_study("a").has_value());
  EXPECT_EQ(s->find_study("a")->direction, Direction::kMaximize);
  EXPECT_FALSE(s->find_study("b").has_value());
  const auto t0 = s->create_trial(id, TrialState::kRunning, {});
  const auto t1 = s->create_trial(id, TrialState::kRunning, {});
  EXPECT_EQ(t0.number, 0);
  EXPECT_EQ(t1.number, 1);
  const auto dist = Distribution::make_categorical("c", {"x", "y"});
  s->set_param(t0.id, "c", dist, 1.0);
  s->set_param(t0.id, "lr", Distribution::make_float("lr", 1e-4, 1, {.log = true}), 0.01);
  s->set_intermediate(t0.id, 3, 0.5);
  s->set_intermediate(t0.id, 4, NAN);
  s->set_user_attr(t0.id, "note", "\"first\"");
  s->set_user_attr(t0.id, "epochs", "3");
  s->set_user_attr(t0.id, "epochs", "4");  // replaces
  s->finish_trial(t0.id, TrialState::kComplete, 0.0, "");
  EXPECT_NE(error_of([&] { s->set_user_attr(t0.id, "late", "1"); }).find("cannot set user attribute 'late'"),
            std::string::npos);
  EXPECT_THROW(s->finish_trial(t0.id, TrialState::kFailed, std::nullopt, ""), ember::Error);
  s->finish_trial(t1.id, TrialState::kFailed, std::nullopt, "why");
  const auto back = s->get_trial(t0.id);
  EXPECT_EQ(back.state, TrialState::kComplete);
  ASSERT_TRUE(back.value.has_value());
  EXPECT_EQ(*back.value, 0.0);
  EXPECT_EQ(back.params.at("c"), 1.0);
  EXPECT_EQ(back.distributions.at("c"), dist);
  EXPECT_DOUBLE_EQ(back.params.at("lr"), 0.01);
  EXPECT_EQ(back.intermediate.at(3), 0.5);
  EXPECT_TRUE(std::isnan(back.intermediate.at(4)));
  EXPECT_EQ(back.user_attrs, (std::map<std::string, std::string>{{"epochs", "4"}, {"note", "\"first\""}}));
  const auto all = s->get_trials(id);
  EXPECT_EQ(all[0]->user_attrs.size(), 2u);
  EXPECT_TRUE(all[1]->user_attrs.empty());
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[1]->message, "why");
  EXPECT_FALSE(all[1]->value.has_value());
  EXPECT_EQ(s->list_studies().size(), 1u);
  EXPECT_EQ(s->list_studies()[0].n_trials, 2);
}

TEST_P(StorageConformance, WaitingTrialsAndClaims) {
  auto s = open();
  const int64_t id = s->create_study("w", Direction::kMinimize);
  s->create_trial(id, TrialState::kWaiting, {{"x", 0.5}, {"n", int64_t{3}}, {"c", std::string("b")}});
  auto claimed = s->claim_waiting_trial(id);
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->state, TrialState::kRunning);
  EXPECT_EQ(std::get<int64_t>(claimed->fixed_params.at("n")), 3);
  EXPECT_EQ(std::get<std::string>(claimed->fixed_params.at("c")), "b");
  EXPECT_FALSE(s->claim_waiting_trial(id).has_value());
  EXPECT_TRUE(s->claim_key(id, "grid:1", claimed->id));
  EXPECT_FALSE(s->claim_key(id, "grid:1", claimed->id));
}

TEST_P(StorageConformance, StudyResumesAfterReopen) {
  {
    Study study(StudyOptions{.name = "r", .sampler = make_sampler("tpe", {.seed = 1}), .storage = open()});
    study.optimize([](Trial& t) { return t.suggest_float("x", -1, 1); }, {.n_trials = 7});
  }
  Study study(StudyOptions{.name = "r", .sampler = make_sampler("tpe", {.seed = 1}), .storage = open()});
  EXPECT_EQ(study.count(TrialState::kComplete), 7);
  study.optimize([](Trial& t) { return t.suggest_float("x", -1, 1); }, {.n_trials = 5});
  const auto trials = study.trials();
  ASSERT_EQ(trials.size(), 12u);
  for (size_t i = 0; i < trials.size(); ++i) {
    EXPECT_EQ(trials[i]->number, static_cast<int64_t>(i));
  }
}

INSTANTIATE_TEST_SUITE_P(AllStorages, StorageConformance, ::testing::Values("memory", "sqlite"));

TEST(OpenStorage, UrlsAndErrors) {
  EXPECT_NE(dynamic_cast<MemoryStorage*>(open_storage("memory").get()), nullptr);
  EXPECT_NE(error_of([] { open_storage("postgres://x"); }).find("unknown storage"), std::string::npos);
  EXPECT_NE(error_of([] { open_storage("sqlite:"); }).find("names no file"), std::string::npos);
}

TEST(SqliteStorage, ForeignAndCorruptFilesAreClearErrors) {
  const fs::path text = temp_db("text");
  std::ofstream(text) << "this is not a database, just some text that is long enough\n";
  EXPECT_NE(error_of([&] { SqliteStorage s(text.string()); }).find("is not an SQLite database"), std::string::npos);

  // A valid SQLite database of another application.
  const fs::path foreign = temp_db("foreign");
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(foreign.string().c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE users(id INTEGER, name TEXT)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_NE(error_of([&] { SqliteStorage s(foreign.string()); }).find("another application (tables: users)"),
            std::string::npos);

  // Corruption: a real database whose pages past the header are overwritten with garbage.
  const fs::path bad = temp_db("corrupt");
  {
    SqliteStorage s(bad.string());
    Study study(StudyOptions{.name = "c", .storage = std::shared_ptr<Storage>(&s, [](Storage*) {})});
    study.optimize([](Trial& t) { return t.suggest_float("x", 0, 1); }, {.n_trials = 3});
  }
  {
    std::fstream f(bad, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    const std::string junk(3000, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  for (const char* ext : {"-wal", "-shm"}) fs::remove(bad.string() + ext);
  const std::string err = error_of([&] {
    SqliteStorage s(bad.string());
    s.list_studies();
  });
  EXPECT_NE(err.find(bad.string()), std::string::npos) << err;
  EXPECT_TRUE(err.find("corrupt") != std::string::npos || err.find("not a database") != std::string::npos) << err;
  for (const auto& p : {text, foreign, bad})
    for (const char* ext : {"", "-wal", "-shm"}) fs::remove(p.string() + ext);
}

// A study killed with SIGKILL mid-run and started again resumes with no complete trial lost
// or duplicated; the trial that was running is marked failed (its owner died).
TEST(SqliteStorage, ResumesAfterSigkill) {
  const fs::path db = temp_db("kill");
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    try {
      Study study(StudyOptions{.name = "k", .storage = std::make_shared<SqliteStorage>(db.string())});
      study.optimize(
          [](Trial& t) {
            if (t.number() == 6) raise(SIGKILL);  // die in the middle of trial 6
            return t.suggest_float("x", 0, 1);
          },
          {.n_trials = 100});
    } catch (...) {
    }
    _exit(3);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto storage = std::make_shared<SqliteStorage>(db.string());
  Study study(StudyOptions{.name = "k", .storage = storage});
  EXPECT_EQ(study.count(TrialState::kComplete), 6);
  EXPECT_EQ(study.count(TrialState::kRunning), 1);
  EXPECT_EQ(storage->fail_stale_trials(study.id()), 1);
  EXPECT_EQ(study.count(TrialState::kRunning), 0);
  study.optimize([](Trial& t) { return t.suggest_float("x", 0, 1); }, {.n_trials = 4});
  const auto trials = study.trials();
  ASSERT_EQ(trials.size(), 11u);
  std::set<int64_t> numbers;
  for (const auto& t : trials) numbers.insert(t->number);
  EXPECT_EQ(numbers.size(), 11u);
  EXPECT_EQ(study.count(TrialState::kComplete), 10);
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(db.string() + ext);
}

// Two processes (and two threads each) write to one study at once: every trial is recorded
// once, numbers are unique, and a grid shared by all never repeats a point.
TEST(SqliteStorage, ConcurrentProcessesShareOneStudy) {
  const fs::path db = temp_db("conc");
  { SqliteStorage init(db.string()); }
  Space space;
  space.add_int("a", 0, 9).add_int("b", 0, 3);
  std::vector<pid_t> kids;
  for (int k = 0; k < 2; ++k) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      try {
        Study study(StudyOptions{.name = "shared",
                                 .sampler = make_sampler("grid", {.seed = 5, .space = space}),
                                 .storage = std::make_shared<SqliteStorage>(db.string())});
        study.optimize([&](Trial& t) { return space.suggest_all(t).at("a"); }, {.n_trials = 30, .n_jobs = 2});
      } catch (const std::exception& e) {
        fprintf(stderr, "child: %s\n", e.what());
        rc = 1;
      }
      _exit(rc);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  Study study(StudyOptions{.name = "shared", .storage = std::make_shared<SqliteStorage>(db.string())});
  std::set<std::pair<double, double>> points;
  std::set<int64_t> numbers;
  int complete = 0;
  for (const auto& t : study.trials()) {
    EXPECT_TRUE(numbers.insert(t->number).second);
    if (t->state != TrialState::kComplete) continue;
    ++complete;
    EXPECT_TRUE(points.insert({t->params.at("a"), t->params.at("b")}).second) << "grid point evaluated twice";
  }
  EXPECT_EQ(complete, 40);  // the whole 10 x 4 grid, each point once
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(db.string() + ext);
}

// Outside review: two `ember tune --trials 300` processes on one study ended with 599 trials.
// max_total_trials is counted in the storage, in the transaction that inserts the trial.
TEST(SqliteStorage, TwoProcessesShareOneTotalTrialBudget) {
  const fs::path db = temp_db("budget");
  { SqliteStorage init(db.string()); }
  std::vector<pid_t> kids;
  for (int k = 0; k < 2; ++k) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      try {
        Study study(StudyOptions{.name = "budget", .sampler = make_sampler("random", {.seed = uint64_t(k)}),
                                 .storage = std::make_shared<SqliteStorage>(db.string())});
        study.optimize([](Trial& t) { return t.suggest_float("x", 0, 1); },
                       {.n_trials = 30, .max_total_trials = 30, .n_jobs = 2});
      } catch (const std::exception& e) {
        fprintf(stderr, "child: %s\n", e.what());
        rc = 1;
      }
      _exit(rc);
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  Study study(StudyOptions{.name = "budget", .storage = std::make_shared<SqliteStorage>(db.string())});
  EXPECT_EQ(study.count(TrialState::kComplete), 30);
  EXPECT_EQ(study.trials().size(), 30u);
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(db.string() + ext);
}

TEST(StorageBudget, MemoryStorageHoldsTheTotalAcrossThreads) {
  Study study(StudyOptions{.name = "mem", .storage = std::make_shared<MemoryStorage>()});
  study.optimize([](Trial& t) { return t.suggest_float("x", 0, 1); },
                 {.n_trials = 100, .max_total_trials = 17, .n_jobs = 4});
  EXPECT_EQ(study.trials().size(), 17u);
}

// Outside review: a tampered database surfaced nlohmann messages ("type_error.302", "key 'low'
// not found") naming no file or field, and a stored x1 = 1e308 came back as a best parameter.
TEST(SqliteStorage, TamperedRowsAreClearErrors) {
  const fs::path db = temp_db("tamper");
  {
    Study study(StudyOptions{.name = "t", .storage = std::make_shared<SqliteStorage>(db.string())});
    study.optimize([](Trial& t) { return t.suggest_float("x1", 0, 1); }, {.n_trials = 2});
  }
  auto tamper_and_read = [&](const char* sql) {
    sqlite3* h = nullptr;
    EXPECT_EQ(sqlite3_open(db.string().c_str(), &h), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(h, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql;
    sqlite3_close(h);
    return error_of([&] {
      Study study(StudyOptions{.name = "t", .storage = std::make_shared<SqliteStorage>(db.string())});
      study.trials();
    });
  };
  std::string err = tamper_and_read("UPDATE params SET value = 1e308 WHERE trial_id = (SELECT MIN(trial_id) FROM params)");
  EXPECT_NE(err.find(db.string()), std::string::npos) << err;
  EXPECT_NE(err.find("trial 0 parameter 'x1': stored value 1e+308 is outside float[0, 1]"), std::string::npos) << err;
  err = tamper_and_read(R"(UPDATE params SET value = 0.5, dist = '{"kind":"float","high":1,"log":false,"step":0}')");
  EXPECT_NE(err.find("parameter 'x1': stored float distribution has no numeric 'low'"), std::string::npos) << err;
  err = tamper_and_read(R"(UPDATE params SET dist = '{"kind":"float","low":"0","high":1,"log":false,"step":0}')");
  EXPECT_NE(err.find("no numeric 'low'"), std::string::npos) << err;
  err = tamper_and_read(R"(UPDATE params SET dist = '{"kind":"float","low":2,"high":1,"log":false,"step":0}')");
  EXPECT_NE(err.find("stored distribution is invalid"), std::string::npos) << err;
  err = tamper_and_read(R"(UPDATE params SET dist = '[1,2]')");
  EXPECT_NE(err.find("stored distribution is malformed"), std::string::npos) << err;
  err = tamper_and_read(R"(UPDATE trials SET state = 'exploded')");
  EXPECT_NE(err.find("trial 0: trial: unknown state 'exploded'"), std::string::npos) << err;
  for (const char* ext : {"", "-wal", "-shm"}) fs::remove(db.string() + ext);
}

// PostgresStorage against a throw-away PostgreSQL server: initdb + pg_ctl on a temporary folder
// and a free port on 127.0.0.1 (as the `postgres` or `nobody` account when the tests run as root,
// since initdb refuses root). Skipped, with the reason, when the Debian server binaries are absent.
// Checked: the storage contract, grace-based heartbeats, and 4 worker processes x 2 threads sharing
// one 200-point grid study, one of them SIGKILLed mid-trial, then resumed to completion.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <set>
#include <thread>

#include "hpo/storage/postgres.h"
#include "hpo/study.h"
#include "tensor/error.h"

using namespace ember::hpo;
namespace fs = std::filesystem;

namespace {

// One server per test (CTest runs each test in its own process); stopped and deleted afterwards.
class PostgresServer : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::path bin;
    for (const char* v : {"17", "16", "15", "14", "13"})
      if (fs::exists(fs::path("/usr/lib/postgresql") / v / "bin/initdb")) {
        bin = fs::path("/usr/lib/postgresql") / v / "bin";
        break;
      }
    if (bin.empty()) GTEST_SKIP() << "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)";
    std::string as;  // initdb refuses to run as root: run the server as an unprivileged account
    if (geteuid() == 0) {
      for (const char* user : {"postgres", "nobody"})
        if (getpwnam(user)) {
          as = fmt::format("runuser -u {} -- ", user);
          break;
        }
      if (as.empty()) GTEST_SKIP() << "running as root and no 'postgres' or 'nobody' account for the server";
    }
    char tmpl[] = "/tmp/ember_pg_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    if (geteuid() == 0) {
      const passwd* pw = getpwnam(as.find("postgres") != std::string::npos ? "postgres" : "nobody");
      ASSERT_EQ(chown(dir_.c_str(), pw->pw_uid, pw->pw_gid), 0);
    }
    port_ = free_port();
    const std::string data = (dir_ / "data").string(), log = (dir_ / "log").string();
    ctl_ = fmt::format("{}{}/pg_ctl -D {} -l {}", as, bin.string(), data, log);
    const std::string init =
        fmt::format("{}{}/initdb -D {} -A trust -U ember --no-sync -E UTF8 > {}/initdb.log 2>&1", as, bin.string(),
                    data, dir_.string());
    ASSERT_EQ(std::system(init.c_str()), 0) << "initdb failed; see " << dir_ / "initdb.log";
    const std::string start = fmt::format(
        "{} -w -t 30 -o \"-F -p {} -k {} -c listen_addresses=127.0.0.1\" start > /dev/null", ctl_, port_,
        dir_.string());
    ASSERT_EQ(std::system(start.c_str()), 0) << "pg_ctl start failed; see " << log;
    url_ = fmt::format("postgresql://ember@127.0.0.1:{}/postgres", port_);
  }
  void TearDown() override {
    if (!ctl_.empty()) (void)std::system((ctl_ + " -m immediate -w stop > /dev/null 2>&1").c_str());
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  static int free_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    return ntohs(addr.sin_port);
  }
  fs::path dir_;
  std::string ctl_, url_;
  int port_ = 0;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// The Storage contract (the same steps as the memory/sqlite conformance suite), reopening, schema
// version, clear errors, and heartbeats.
TEST_F(PostgresServer, StorageContractAndHeartbeats) {
  const Distribution dist = Distribution::make_float("x", 0, 1);
  int64_t study = -1, first_id = -1;
  {
    auto s = open_storage(url_);
    study = s->create_study("s", Direction::kMaximize);
    EXPECT_NE(error_of([&] { s->create_study("s", Direction::kMinimize); }).find("study 's' already exists"),
              std::string::npos);
    FrozenTrial t = s->create_trial(study, TrialState::kRunning, {});
    first_id = t.id;
    EXPECT_EQ(t.number, 0);
    s->set_param(t.id, "x", dist, 0.25);
    s->set_intermediate(t.id, 1, 0.5);
    s->set_intermediate(t.id, 2, std::nan(""));
    s->set_user_attr(t.id, "epochs", "3");
    s->set_user_attr(t.id, "epochs", "{\"n\":4}");  // replaces
    s->finish_trial(t.id, TrialState::kComplete, 0.1 + 0.2, "");  // 0.30000000000000004 must survive
    EXPECT_NE(error_of([&] { s->set_user_attr(t.id, "late", "1"); }).find("trial 0 is complete, cannot set user attribute 'late'"),
              std::string::npos);
    EXPECT_NE(error_of([&] { s->finish_trial(t.id, TrialState::kFailed, std::nullopt, "x"); }).find("trial 0 is already complete"),
              std::string::npos);
    FrozenTrial w = s->create_trial(study, TrialState::kWaiting, {{"x", 0.75}, {"n", int64_t(3)}, {"c", std::string("a")}});
    EXPECT_EQ(w.number, 1);
    auto claimed = s->claim_waiting_trial(study);
    ASSERT_TRUE(claimed.has_value());
    EXPECT_EQ(claimed->id, w.id);
    EXPECT_EQ(claimed->state, TrialState::kRunning);
    EXPECT_EQ(std::get<int64_t>(claimed->fixed_params.at("n")), 3);
    EXPECT_FALSE(s->claim_waiting_trial(study).has_value());
    EXPECT_TRUE(s->claim_key(study, "grid:1", claimed->id));
    EXPECT_FALSE(s->claim_key(study, "grid:1", claimed->id));
    s->finish_trial(claimed->id, TrialState::kPruned, std::nullopt, "pruned at 1");
  }
  {  // reopen: everything is still there
    auto s = open_storage(url_);
    const auto studies = s->list_studies();
    ASSERT_EQ(studies.size(), 1u);
    EXPECT_EQ(studies[0].direction, Direction::kMaximize);
    EXPECT_EQ(studies[0].n_trials, 2);
    FrozenTrial t = s->get_trial(first_id);
    EXPECT_EQ(*t.value, 0.1 + 0.2);
    EXPECT_EQ(t.params.at("x"), 0.25);
    EXPECT_EQ(t.intermediate.at(1), 0.5);
    EXPECT_TRUE(std::isnan(t.intermediate.at(2)));
    EXPECT_EQ(t.user_attrs, (std::map<std::string, std::string>{{"epochs", "{\"n\":4}"}}));
    EXPECT_EQ(s->get_trials(study).back()->message, "pruned at 1");
    EXPECT_NE(error_of([&] { s->get_trial(999999); }).find("no trial with id 999999"), std::string::npos);
  }
  // Heartbeats: a trial whose storage went away (its worker stopped beating) is failed after the
  // grace; one whose worker still beats is left alone.
  const std::string fast = url_ + "?ember_heartbeat=0.1&ember_grace=0.6";
  int64_t silent_id = -1, alive_id = -1;
  {
    PostgresStorage gone(fast);
    silent_id = gone.create_trial(study, TrialState::kRunning, {}).id;
  }
  PostgresStorage alive(fast);
  alive_id = alive.create_trial(study, TrialState::kRunning, {}).id;
  PostgresStorage checker(fast);
  EXPECT_EQ(checker.fail_stale_trials(study), 0);  // both are fresh
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  EXPECT_EQ(checker.fail_stale_trials(study), 1);
  const FrozenTrial failed = checker.get_trial(silent_id);
  EXPECT_EQ(failed.state, TrialState::kFailed);
  EXPECT_NE(failed.message.find("sent no heartbeat"), std::string::npos) << failed.message;
  EXPECT_EQ(checker.get_trial(alive_id).state, TrialState::kRunning);
  // Bad URLs and servers give one clear line.
  EXPECT_NE(error_of([&] { PostgresStorage s(url_ + "?ember_grace=-1"); }).find("ember_grace must be a positive number"),
            std::string::npos);
  const std::string down = error_of([] { open_storage("postgresql://ember:secret@127.0.0.1:1/none"); });
  EXPECT_NE(down.find("postgres storage: cannot connect to 'postgresql://ember:***@127.0.0.1:1/none'"),
            std::string::npos)
      << down;
}

// 4 worker processes x 2 threads on one study over a 200-point grid; worker 3 is SIGKILLed in the
// middle of its 10th trial. Afterwards every started trial was recorded once, the killed ones are
// failed, and resuming finishes the grid with every point evaluated exactly once.
TEST_F(PostgresServer, FourWorkersShareOneStudyAndSurviveAKill) {
  Space space;
  space.add_int("a", 0, 49).add_int("b", 0, 3);  // 200 grid points
  { open_storage(url_); }  // create the schema before the workers race for it (they may race too)
  std::vector<pid_t> kids;
  for (int w = 0; w < 4; ++w) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int rc = 0;
      try {
        std::atomic<int> started{0};
        Study study(StudyOptions{.name = "shared",
                                 .sampler = make_sampler("grid", {.seed = 7, .space = space}),
                                 .storage = open_storage(url_)});
        study.optimize(
            [&](Trial& t) {
              const auto p = space.suggest_all(t);
              if (w == 3 && ++started == 10) raise(SIGKILL);
              return p.at("a") + 0.01 * p.at("b");
            },
            {.n_trials = 50, .n_jobs = 2});
      } catch (const std::exception& e) {
        fprintf(stderr, "worker %d: %s\n", w, e.what());
        rc = 1;
      }
      _exit(rc);
    }
    kids.push_back(pid);
  }
  for (int w = 0; w < 4; ++w) {
    int status = 0;
    waitpid(kids[size_t(w)], &status, 0);  // reaped, so the dead worker's pid is gone
    if (w == 3) EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    else EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "worker " << w;
  }
  auto storage = open_storage(url_);
  Study study(StudyOptions{.name = "shared", .sampler = make_sampler("grid", {.seed = 7, .space = space}),
                           .storage = storage});
  const int running = static_cast<int>(study.count(TrialState::kRunning));
  // Workers 0-2 finished 50 each; worker 3 died in its 10th objective call, while its other thread
  // may have had the 9th or an 11th trial in flight.
  const int64_t started = study.count(TrialState::kComplete) + running;
  EXPECT_GE(study.count(TrialState::kComplete), 150 + 10 - 2);
  EXPECT_TRUE(started == 160 || started == 161) << started;
  EXPECT_GE(running, 1);  // the killed worker's trial(s) in flight
  EXPECT_EQ(storage->fail_stale_trials(study.id()), running);
  EXPECT_EQ(study.count(TrialState::kRunning), 0);
  const int64_t remaining = 200 - study.count(TrialState::kComplete);
  study.optimize([&](Trial& t) { return space.suggest_all(t).at("a"); },
                 {.n_trials = remaining, .n_jobs = 2});
  std::set<std::pair<double, double>> points;
  std::set<int64_t> numbers;
  int complete = 0, failed = 0;
  for (const auto& t : study.trials()) {
    EXPECT_TRUE(numbers.insert(t->number).second) << "trial number " << t->number << " twice";
    if (t->state == TrialState::kFailed) {
      ++failed;
      EXPECT_NE(t->message.find("died"), std::string::npos) << t->message;
    } else {
      ASSERT_EQ(t->state, TrialState::kComplete);
      ++complete;
      EXPECT_TRUE(points.insert({t->params.at("a"), t->params.at("b")}).second) << "grid point evaluated twice";
    }
  }
  EXPECT_EQ(complete, 200);
  EXPECT_EQ(failed, running);
  EXPECT_EQ(*numbers.rbegin(), int64_t(numbers.size()) - 1) << "numbers are 0..N-1 without gaps";
}

// --trials as a total across workers: create_trial_within counts and inserts under the study row's
// lock, so 4 threads with their own connections asking for 40 trials in all create exactly 17.
TEST_F(PostgresServer, TotalTrialBudgetHoldsAcrossConnections) {
  const int64_t study = open_storage(url_)->create_study("budget", Direction::kMinimize);
  std::atomic<int> created{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&] {
      auto s = open_storage(url_);
      for (int i = 0; i < 10; ++i)
        if (auto t = s->create_trial_within(study, 17)) {
          ++created;
          s->finish_trial(t->id, TrialState::kComplete, 1.0, "");
        }
    });
  for (auto& t : workers) t.join();
  EXPECT_EQ(created.load(), 17);
  EXPECT_EQ(open_storage(url_)->get_trials(study).size(), 17u);
}

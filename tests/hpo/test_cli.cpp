// The `ember tune` / `ember study` commands, run as a subprocess (path from cli/CMakeLists.txt).
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "tests/common/subprocess.h"

namespace fs = std::filesystem;

#ifndef EMBER_CLI_PATH
#define EMBER_CLI_PATH ""
#endif

namespace {

using ember::test::RunResult;

RunResult run_ember(const std::string& args) {
  return ember::test::run_command(fmt::format("'{}' {}", EMBER_CLI_PATH, args));
}

size_t lines(const std::string& s) { return ember::test::count_lines(s); }

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string(EMBER_CLI_PATH).empty() || !fs::exists(EMBER_CLI_PATH)) GTEST_SKIP() << "ember binary not built";
    dir_ = fs::temp_directory_path() / fmt::format("ember_cli_{}", getpid());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

}  // namespace

TEST_F(Cli, TunePrintsProgressAndSummary) {
  const auto r = run_ember("tune --objective branin --sampler tpe --trials 12 --seed 3");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("trial   11"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("best value"), std::string::npos);
  EXPECT_NE(r.out.find("regret"), std::string::npos);
}

TEST_F(Cli, BadInputIsOneLineAndNonZero) {
  for (const std::string args : {"tune --objective branin --sampler bayes --trials 3",
                                 "tune --objective sphere --trials 3", "tune --objective branin --trials 0",
                                 "study show --storage sqlite:/nonexistent/dir/x.db --study a"}) {
    const auto r = run_ember(args);
    EXPECT_NE(r.rc, 0) << args;
    EXPECT_EQ(lines(r.out), 1u) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("error"), std::string::npos) << r.out;
  }
  const auto r = run_ember("tune --trials 3");  // CLI11: missing --objective
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("objective"), std::string::npos);
}

TEST_F(Cli, PersistentStudyResumesAndExports) {
  const std::string url = "sqlite:" + (dir_ / "s.db").string();
  auto r = run_ember("tune --objective mixed --sampler cfo --trials 8 --seed 1 --quiet --study m --storage " + url);
  ASSERT_EQ(r.rc, 0) << r.out;
  r = run_ember("tune --objective mixed --sampler cfo --trials 12 --seed 1 --quiet --study m --storage " + url);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("resuming study 'm': 8 complete"), std::string::npos) << r.out;
  r = run_ember("study list --storage " + url);
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("12 trials"), std::string::npos) << r.out;
  r = run_ember("study best --storage " + url + " --study m");
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("cat="), std::string::npos) << r.out;
  r = run_ember("study export --format csv --storage " + url + " --study m");
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(lines(r.out), 13u) << r.out;
  r = run_ember("study export --format json --output " + (dir_ / "t.json").string() + " --storage " + url + " --study m");
  EXPECT_EQ(r.rc, 0);
  EXPECT_TRUE(fs::exists(dir_ / "t.json"));
  r = run_ember("study show --storage " + url + " --study nope");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("no study 'nope'"), std::string::npos);
  EXPECT_NE(r.out.find("studies: m"), std::string::npos);
}

// Outside review: two `ember tune --trials 300` processes on one study ended with 599 trials.
// --trials is the study's total, counted in the storage.
TEST_F(Cli, TwoTuneProcessesShareTheTrialTotal) {
  const std::string url = "sqlite:" + (dir_ / "two.db").string();
  const std::string one = fmt::format("'{}' tune --objective branin --sampler random --trials 40 --quiet --study two "
                                      "--storage {}",
                                      EMBER_CLI_PATH, url);
  auto r = ember::test::run_command(fmt::format("{} --seed 1 & {} --seed 2 & wait", one, one));
  r = run_ember("study list --storage " + url);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("40 trials"), std::string::npos) << r.out;
  // 2^32 + 1 used to be truncated to 1 (one trial); the grid now sees the real budget and says it is too big.
  r = run_ember("tune --objective branin --sampler grid --trials 4294967297 --quiet");
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("too many"), std::string::npos) << r.out;
}

TEST_F(Cli, PlotsArePngFiles) {
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) GTEST_SKIP() << "gnuplot not installed";
  const std::string prefix = (dir_ / "p").string();
  const auto r = run_ember("tune --objective branin --sampler random --trials 10 --quiet --plot " + prefix);
  ASSERT_EQ(r.rc, 0) << r.out;
  for (const char* suffix : {"_history.png", "_params.png"}) {
    const fs::path png = prefix + suffix;
    ASSERT_TRUE(fs::exists(png)) << png;
    FILE* f = fopen(png.c_str(), "rb");
    unsigned char magic[4] = {};
    ASSERT_EQ(fread(magic, 1, 4, f), 4u);
    fclose(f);
    EXPECT_EQ(magic[1], 'P');
    EXPECT_EQ(magic[2], 'N');
    EXPECT_EQ(magic[3], 'G');
  }
}

TEST_F(Cli, TuneCommandThenDeleteTheStudy) {
  const std::string url = "sqlite:" + (dir_ / "c.db").string(), out = (dir_ / "run").string();
  auto r = run_ember("tune command --param x=float:0:1 --param k=cat:a,b --sampler random --trials 6 --quiet --out " +
                     out + " --storage " + url + " --study c -- /bin/sh -c 'echo metric={x}; echo {k} >&2'");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("best trial"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(fs::path(out) / "summary.json"));
  r = run_ember("study delete --storage " + url + " --study c");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("deleted study 'c' (6 trials)"), std::string::npos) << r.out;
  r = run_ember("study list --storage " + url);
  EXPECT_NE(r.out.find("no studies"), std::string::npos) << r.out;
  r = run_ember("tune command --trials 2 --quiet --out " + out + " -- /bin/true");  // no --param
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(lines(r.out), 1u) << r.out;
}

TEST_F(Cli, TuneCsvReportsTheTestMetricAndRejectsBadFiles) {
  std::string text = "x,kind,y\n";
  for (int i = 0; i < 40; ++i) text += fmt::format("{},{},{}\n", i * 0.1, i % 2 ? "odd" : "even", 2 * i * 0.1 + (i % 2));
  const fs::path csv = dir_ / "d.csv", bad = dir_ / "bad.csv";
  FILE* f = fopen(csv.c_str(), "w");
  fputs(text.c_str(), f);
  fclose(f);
  f = fopen(bad.c_str(), "w");
  fputs("x,y\n1,2\n3,\n", f);
  fclose(f);
  auto r = run_ember(fmt::format("tune csv --file {} --target y --task regression --trials 3 --epochs 3 --quiet --out {}",
                                 csv.string(), (dir_ / "o").string()));
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("best configuration retrained: val_rmse"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(", test "), std::string::npos) << r.out;
  r = run_ember(fmt::format("tune csv --file {} --target y --task regression --quiet", bad.string()));
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(lines(r.out), 1u) << r.out;
  EXPECT_NE(r.out.find("line 3: column 'y' has a missing value"), std::string::npos) << r.out;
}

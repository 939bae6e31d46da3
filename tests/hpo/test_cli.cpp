// The `ember tune` / `ember study` commands, run as a subprocess (path from cli/CMakeLists.txt).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <fmt/format.h>

namespace fs = std::filesystem;

#ifndef EMBER_CLI_PATH
#define EMBER_CLI_PATH ""
#endif

namespace {

struct Result {
  int rc;
  std::string out;  // stdout and stderr together
};

Result ember(const std::string& args) {
  const std::string cmd = fmt::format("'{}' {} 2>&1", EMBER_CLI_PATH, args);
  FILE* p = popen(cmd.c_str(), "r");
  Result r{-1, ""};
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

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
  const auto r = ember("tune --objective branin --sampler tpe --trials 12 --seed 3");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("trial   11"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("best value"), std::string::npos);
  EXPECT_NE(r.out.find("regret"), std::string::npos);
}

TEST_F(Cli, BadInputIsOneLineAndNonZero) {
  for (const std::string args : {"tune --objective branin --sampler bayes --trials 3",
                                 "tune --objective sphere --trials 3", "tune --objective branin --trials 0",
                                 "study show --storage sqlite:/nonexistent/dir/x.db --study a"}) {
    const auto r = ember(args);
    EXPECT_NE(r.rc, 0) << args;
    EXPECT_EQ(lines(r.out), 1u) << args << "\n" << r.out;
    EXPECT_NE(r.out.find("error"), std::string::npos) << r.out;
  }
  const auto r = ember("tune --trials 3");  // CLI11: missing --objective
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("objective"), std::string::npos);
}

TEST_F(Cli, PersistentStudyResumesAndExports) {
  const std::string url = "sqlite:" + (dir_ / "s.db").string();
  auto r = ember("tune --objective mixed --sampler cfo --trials 8 --seed 1 --quiet --study m --storage " + url);
  ASSERT_EQ(r.rc, 0) << r.out;
  r = ember("tune --objective mixed --sampler cfo --trials 12 --seed 1 --quiet --study m --storage " + url);
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("resuming study 'm': 8 complete"), std::string::npos) << r.out;
  r = ember("study list --storage " + url);
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("12 trials"), std::string::npos) << r.out;
  r = ember("study best --storage " + url + " --study m");
  EXPECT_EQ(r.rc, 0);
  EXPECT_NE(r.out.find("cat="), std::string::npos) << r.out;
  r = ember("study export --format csv --storage " + url + " --study m");
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(lines(r.out), 13u) << r.out;
  r = ember("study export --format json --output " + (dir_ / "t.json").string() + " --storage " + url + " --study m");
  EXPECT_EQ(r.rc, 0);
  EXPECT_TRUE(fs::exists(dir_ / "t.json"));
  r = ember("study show --storage " + url + " --study nope");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("no study 'nope'"), std::string::npos);
  EXPECT_NE(r.out.find("studies: m"), std::string::npos);
}

TEST_F(Cli, PlotsArePngFiles) {
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) GTEST_SKIP() << "gnuplot not installed";
  const std::string prefix = (dir_ / "p").string();
  const auto r = ember("tune --objective branin --sampler random --trials 10 --quiet --plot " + prefix);
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

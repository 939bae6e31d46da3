// cli/usage.cpp: "did you mean" suggestions, readable validators, exit codes (0 / 1 runtime /
// 2 usage), --version, bash completion, and read-only commands that create no files.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "cli/usage.h"
#include "tests/common/subprocess.h"

namespace fs = std::filesystem;
using ember::test::run_command;

namespace ember::cli {
namespace {

TEST(Usage, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0);
  EXPECT_EQ(edit_distance("train", "train"), 0);
  EXPECT_EQ(edit_distance("trian", "train"), 2);  // a swap is two substitutions
  EXPECT_EQ(edit_distance("--epoch", "--epochs"), 1);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3);
  EXPECT_EQ(edit_distance("abc", ""), 3);
}

TEST(Usage, ClosestOnlyWhenLikelyATypo) {
  const std::vector<std::string> cmds{"tune", "study", "train", "eval", "data"};
  EXPECT_EQ(closest("trian", cmds), "train");
  EXPECT_EQ(closest("evl", cmds), "eval");
  EXPECT_EQ(closest("stu", cmds), "study");  // unique prefix
  EXPECT_EQ(closest("xylophone", cmds), "");
  EXPECT_EQ(closest("--epoch", {"--epochs", "--batch", "--lr"}), "--epochs");
}

// A small command tree like ember's: train fmnist with options and a flag.
struct Tree {
  CLI::App app{"test", "ember"};
  int epochs = 1;
  double lr = 1e-3;
  bool resume = false;
  Tree() {
    auto* train = app.add_subcommand("train");
    auto* fm = train->add_subcommand("fmnist");
    fm->add_option("--epochs", epochs)->check(positive());
    fm->add_option("--lr", lr)->check(positive());
    fm->add_flag("--resume", resume);
    app.add_subcommand("tune");
  }
};

TEST(Usage, SuggestsCommandsAndFlags) {
  Tree t;
  EXPECT_EQ(suggestion(t.app, {"trian", "fmnist"}), "'ember' has no command 'trian'; did you mean 'train'?");
  EXPECT_EQ(suggestion(t.app, {"train", "fmnst"}), "'ember train' has no command 'fmnst'; did you mean 'fmnist'?");
  EXPECT_EQ(suggestion(t.app, {"train", "fmnist", "--epoch", "1"}),
            "'ember train fmnist' has no option --epoch; did you mean --epochs?");
  // Option values are skipped, flags take none, and --opt=value is one token.
  EXPECT_EQ(suggestion(t.app, {"train", "fmnist", "--lr", "3", "--resume", "--epochs=2", "--lrr", "1"}),
            "'ember train fmnist' has no option --lrr; did you mean --lr?");
  EXPECT_EQ(suggestion(t.app, {"train", "fmnist", "--epochs", "2"}), "");
  EXPECT_EQ(suggestion(t.app, {"zzzzzz"}), "'ember' has no command 'zzzzzz' (commands: train, tune)");
}

TEST(Usage, ValidatorMessagesAreReadable) {
  for (const auto& [text, want] : std::vector<std::pair<std::string, std::string>>{
           {"0", "must be > 0 (got 0)"}, {"-1", "must be > 0 (got -1)"}, {"abc", "expected a number, got 'abc'"},
           {"2x", "expected a number, got '2x'"}, {"0.5", ""}}) {
    std::string s = text;
    EXPECT_EQ(positive()(s), want) << text;
  }
  std::string s = "7";
  EXPECT_EQ(in_range(0, 1)(s), "must be between 0 and 1 (got 7)");
  s = "0";
  EXPECT_EQ(non_negative()(s), "");
}

// ---- the binary ----
struct Binary : ::testing::Test {
  void SetUp() override {
    if (!fs::exists(EMBER_CLI_PATH)) GTEST_SKIP() << "ember binary not built";
    dir_ = fs::temp_directory_path() / fmt::format("ember_cli_usage_{}", ::getpid());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  ember::test::RunResult ember(const std::string& args) {
    return run_command(fmt::format("cd '{}' && '{}' {}", dir_.string(), EMBER_CLI_PATH, args));
  }
  fs::path dir_;
};

TEST_F(Binary, UsageErrorsExitTwoWithASuggestion) {
  auto r = ember("trian fmnist");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("did you mean 'train'?"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Run 'ember --help'"), std::string::npos) << r.out;
  r = ember("train fmnist --epoch 1");
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.out.find("did you mean --epochs?"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Run 'ember train fmnist --help'"), std::string::npos) << r.out;
  for (const char* args : {"train fmnist --lr 0", "train fmnist --epochs abc", "train fmnist --threads -1"}) {
    r = ember(args);
    EXPECT_EQ(r.rc, 2) << args << "\n" << r.out;
    EXPECT_LT(r.out.size(), 200u) << args << "\n" << r.out;  // no 300-digit range bounds
    EXPECT_TRUE(r.out.find("must be") != std::string::npos || r.out.find("expected a number") != std::string::npos)
        << r.out;
  }
  r = ember("train fmnist --help");
  EXPECT_EQ(r.rc, 0);
  EXPECT_EQ(r.out.find("{false}"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Usage: ember train fmnist"), std::string::npos) << r.out;  // not the build path
}

TEST_F(Binary, RuntimeErrorsExitOne) {
  const auto r = ember("eval fmnist --checkpoint missing.safetensors");
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_EQ(r.out.rfind("ember: error: ", 0), 0u) << r.out;
}

TEST_F(Binary, VersionNamesCommitIsaAndCuda) {
  const auto r = ember("--version");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(r.out.rfind("ember 0.1", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("commit "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CPU kernels: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("CUDA: "), std::string::npos) << r.out;
}

TEST_F(Binary, BashCompletionIsValidBashAndKnowsTheCommands) {
  auto r = ember("completion bash > ember.bash");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = run_command(fmt::format("bash -n '{}/ember.bash'", dir_.string()));
  EXPECT_EQ(r.rc, 0) << r.out;
  // Complete "ember train fmnist --ep" in a real bash.
  r = run_command(fmt::format(
      "bash -c 'source {}/ember.bash; COMP_WORDS=(ember train fmnist --ep); COMP_CWORD=3; _ember_complete; "
      "echo ${{COMPREPLY[@]}}'",
      dir_.string()));
  EXPECT_EQ(r.out, "--epochs\n");
  r = run_command(fmt::format(
      "bash -c 'source {}/ember.bash; COMP_WORDS=(ember tr); COMP_CWORD=1; _ember_complete; echo ${{COMPREPLY[@]}}'",
      dir_.string()));
  EXPECT_EQ(r.out, "train\n");
}

TEST_F(Binary, ReadOnlyCommandsCreateNoFile) {
  const auto r = ember("study list --storage sqlite:missing.db");
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("no database at 'missing.db'"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "missing.db"));
}

TEST_F(Binary, TuneSaysWhyAGridRunsFewerTrials) {
  const auto r = ember("tune --objective branin --sampler grid --trials 7 --quiet");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("note: the grid for branin has 4 points (axes: 2 x 2), fewer than --trials 7"),
            std::string::npos)
      << r.out;
}

TEST_F(Binary, TuneRefusesToResumeAStudyOfAnotherObjective) {
  auto r = ember("tune --objective branin --trials 3 --storage sqlite:s.db --study one --quiet");
  ASSERT_EQ(r.rc, 0) << r.out;
  r = ember("tune --objective hartmann6 --trials 3 --storage sqlite:s.db --study one --quiet");
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("study 'one' in sqlite:s.db was run on another objective"), std::string::npos) << r.out;
  r = ember("tune --objective branin --trials 4 --storage sqlite:s.db --study one --quiet");
  EXPECT_EQ(r.rc, 0) << r.out;  // the same objective resumes
}

}  // namespace
}  // namespace ember::cli

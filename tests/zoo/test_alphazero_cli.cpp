// The `ember` commands of zoo/alphazero, run as a user would: `ember play` against the shipped
// network (a human game fed on stdin, with analysis; an illegal move is refused and asked again),
// `ember play --vs` matches, `ember eval alphazero --solve`, a tiny `ember train alphazero`, and
// one-line errors.
#include <gtest/gtest.h>

#include <filesystem>

#include <unistd.h>

#include "tests/common/subprocess.h"

namespace ember {
namespace {
namespace fs = std::filesystem;

const std::string kEmber = EMBER_CLI_PATH;
const std::string kWeights = std::string(EMBER_SOURCE_DIR) + "/zoo/alphazero/weights/connect4.safetensors";

TEST(AlphaZeroCli, PlayAgainstTheShippedNetwork) {
  // Column 9 is refused, then 4, 4, 4 ... until the input ends.
  const auto r = test::run_command("printf '9\\n4\\n4\\n4\\n' | " + kEmber + " play connect4 --checkpoint " + kWeights +
                                   " --sims 16 --show-analysis --threads 1");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("generation"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not a legal move: '9'"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("analysis: value"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("agent plays"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  1 2 3 4 5 6 7"), std::string::npos) << r.out;
}

TEST(AlphaZeroCli, MatchesSolveAndErrors) {
  auto r = test::run_command(kEmber + " play connect4 --checkpoint " + kWeights +
                             " --vs random --games 1 --sims 16 --threads 1");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("total: "), std::string::npos) << r.out;
  // X has three stacked in column 1 and wins with its next stone, the 7th: score (43 - 6) / 2.
  r = test::run_command(kEmber + " eval alphazero --solve 121212");
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("score 18 for the side to move (win)"), std::string::npos) << r.out;
  r = test::run_command(kEmber + " play connect4 --checkpoint " + kWeights + " --vs alphabeta:x");
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("ember: error: play: bad opponent 'alphabeta:x'"), std::string::npos) << r.out;
  r = test::run_command(kEmber + " play tictactoe --checkpoint " + kWeights);
  EXPECT_NE(r.rc, 0);
  EXPECT_NE(r.out.find("holds a connect4 network, not tictactoe"), std::string::npos) << r.out;
}

TEST(AlphaZeroCli, TrainTicTacToe) {
  const fs::path out = fs::temp_directory_path() / ("ember_az_cli_" + std::to_string(::getpid()));
  const auto r = test::run_command(kEmber + " train alphazero --game tictactoe --generations 1 --games-per-gen 8 "
                                   "--sims 8 --channels 4 --blocks 1 --batch 16 --arena-games 2 --no-plots "
                                   "--no-progress --threads 1 --out " + out.string());
  EXPECT_EQ(r.rc, 0) << r.out;
  EXPECT_NE(r.out.find("gen 1: self-play 8 games"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(out / "best.safetensors"));
  fs::remove_all(out);
}

}  // namespace
}  // namespace ember

// zoo/alphazero training on tic-tac-toe (tiny net, a few generations): it improves against random
// play, the trained agent with search never loses (every line of the opponent is tried), a resumed
// run reproduces the uninterrupted one bit for bit, the run folder's files, and errors. Each run
// takes about a second in Release; the sanitizer build runs only the (shorter) resume test.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <unistd.h>

#include "nn/safetensors.h"
#include "tests/common/expect_close.h"
#include "tests/common/sanitizer.h"
#include "zoo/alphazero/alphazero.h"

namespace ember::zoo::alphazero {
namespace {
namespace fs = std::filesystem;

constexpr int64_t kGenerations = 6;

TrainConfig tiny(const fs::path& out) {
  return {.game = GameKind::tictactoe, .generations = kGenerations, .games_per_gen = 48, .sims = 24,
          .channels = 16, .blocks = 1, .batch = 64, .train_steps = 40, .lr = 3e-3, .arena_games = 10, .seed = 1, .out = out.string(),
          .threads = 1, .progress = false, .plots = false};
}

// A temp folder per test, removed afterwards.
class AlphaZeroTrain : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() /
            ("ember_az_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  fs::path root_;
};

// Score of `agent` against random play over `games` games as each side.
double score_vs_random(Agent& agent, int64_t games) {
  RandomAgent r1(11), r2(12);
  const MatchResult first = play_match(GameKind::tictactoe, agent, r1, games, true);
  const MatchResult second = play_match(GameKind::tictactoe, agent, r2, games, false);
  return (first.score() + second.score()) / 2;
}

// The agent plays every game against every possible sequence of opponent moves.
void never_loses(Agent& agent, const State& s, bool agent_first, int64_t& games, std::map<uint64_t, int>& memo) {
  if (s.is_terminal()) {
    ++games;
    const bool first_won = s.last_move_won() && (s.num_moves() - 1) % 2 == 0;
    const bool second_won = s.last_move_won() && (s.num_moves() - 1) % 2 == 1;
    EXPECT_FALSE(agent_first ? second_won : first_won) << "agent lost:\n" << s.to_string();
    return;
  }
  if ((s.num_moves() % 2 == 0) == agent_first) {
    auto [it, fresh] = memo.try_emplace(s.key(), 0);
    if (fresh) it->second = agent.choose(s);
    never_loses(agent, s.after(it->second), agent_first, games, memo);
  } else {
    for (int a : s.legal_actions()) never_loses(agent, s.after(a), agent_first, games, memo);
  }
}

// One short run: the trained network beats random play more often than the untrained one, the
// agent with search never loses, the run folder holds every file.
TEST_F(AlphaZeroTrain, LearnsTicTacToe) {
#if EMBER_ASAN
  GTEST_SKIP() << "six generations and hundreds of searches: too slow under the sanitizers (ResumeIsBitForBit runs the loop)";
#endif
  const TrainResult result = train(tiny(root_ / "full"));
  ASSERT_EQ(static_cast<int64_t>(result.history.size()), kGenerations);
  manual_seed(1);
  PolicyValueNet untrained({.game = GameKind::tictactoe, .channels = 16, .blocks = 1});
  untrained.eval();
  LoadedNet trained = load_net((root_ / "full" / "candidate.safetensors").string());
  NetAgent before(untrained, 0), after(*trained.net, 0);  // raw policies
  const double s0 = score_vs_random(before, 100), s1 = score_vs_random(after, 100);
  EXPECT_GT(s1, s0 + 0.1) << "raw policy vs random: before " << s0 << ", after " << s1;
  EXPECT_LT(result.history.back().policy_loss, result.history.front().policy_loss);
  EXPECT_GT(result.history.back().elo, 0);

  for (const char* file : {"best.safetensors", "candidate.safetensors", "train_state.safetensors",
                           "replay.safetensors", "metrics.jsonl"})
    EXPECT_TRUE(fs::exists(root_ / "full" / file)) << file;
  std::ifstream in(root_ / "full" / "metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(in, line);) lines += line.find("\"arena_score\"") != std::string::npos;
  EXPECT_EQ(lines, kGenerations);
  EXPECT_TRUE(test::throws_with([&] { load_net((root_ / "full" / "replay.safetensors").string()); },
                                {"alphazero", "replay.safetensors", "is not an AlphaZero network"}));

  NetAgent agent(*load_net(result.best).net, 800);
  int64_t games = 0;
  for (bool first : {true, false}) {
    std::map<uint64_t, int> memo;
    never_loses(agent, State(GameKind::tictactoe), first, games, memo);
  }
  EXPECT_GT(games, 100);
}

TEST_F(AlphaZeroTrain, ResumeIsBitForBit) {
#if EMBER_ASAN
  const int64_t gens = 2;
#else
  const int64_t gens = 3;
#endif
  TrainConfig whole = tiny(root_ / "full");
  whole.generations = gens;
  const TrainResult full = train(whole);
  TrainConfig first = tiny(root_ / "resumed");
  first.generations = gens - 1;
  train(first);
  TrainConfig rest = first;
  rest.generations = gens;
  rest.resume = true;
  const TrainResult resumed = train(rest);
  ASSERT_EQ(resumed.history.size(), full.history.size());
  for (size_t i = 0; i < resumed.history.size(); ++i) {
    EXPECT_EQ(resumed.history[i].policy_loss, full.history[i].policy_loss) << i;
    EXPECT_EQ(resumed.history[i].arena_score, full.history[i].arena_score) << i;
    EXPECT_EQ(resumed.history[i].elo, full.history[i].elo) << i;
  }
  for (const char* file : {"best.safetensors", "candidate.safetensors", "replay.safetensors"}) {
    const nn::TensorDict a = nn::load_safetensors((root_ / "full" / file).string());
    const nn::TensorDict b = nn::load_safetensors((root_ / "resumed" / file).string());
    ASSERT_EQ(a.names(), b.names()) << file;
    for (size_t i = 0; i < a.tensors.size(); ++i)
      EXPECT_TRUE(test::all_close(a.tensors[i].second, b.tensors[i].second, 0, 0)) << file << " " << a.tensors[i].first;
  }
  // Another run's settings are refused.
  TrainConfig other = rest;
  other.sims = 25;
  EXPECT_TRUE(test::throws_with([&] { train(other); }, {"--resume", "was written by a run with"}));
}

TEST(AlphaZeroTrainErrors, BadConfigurations) {
  EXPECT_TRUE(test::throws_with([] { train({.out = "/tmp/ember_az_never"}); }, {"--generations or --hours"}));
  EXPECT_TRUE(test::throws_with([] { train({.generations = 1, .sims = 0}); }, {"--sims must be >= 1"}));
  EXPECT_TRUE(test::throws_with([] { parse_game("chess"); }, {"unknown game 'chess'"}));
}

}  // namespace
}  // namespace ember::zoo::alphazero

// zoo/alphazero solver and baseline opponents: exact scores and outcomes of the bitboard solver
// against a slow, independent full-width minimax on late-game positions; hand-checked positions;
// optimal-move labels; the fixed-depth alpha-beta and UCT players take wins and block threats.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>

#include "tests/common/expect_close.h"
#include "zoo/alphazero/solver.h"

namespace ember::zoo::alphazero {
namespace {

State c4(const std::string& moves) { return State::from_moves(GameKind::connect4, moves); }

// Independent reference: plain minimax over every legal move (no pruning, no table, no bitboard
// tricks beyond State), scoring a win made with the (m+1)-th stone as (43 - m) / 2.
int slow_score(const State& s) {
  if (s.is_terminal()) return s.last_move_won() ? -(44 - s.num_moves()) / 2 : 0;
  int best = -100;
  for (int a : s.legal_actions()) {
    const int v = s.wins_with(a) ? (43 - s.num_moves()) / 2 : -slow_score(s.after(a));
    best = std::max(best, v);
  }
  return best;
}

// Random late-game positions (no four yet) with `stones` stones.
std::vector<State> late_positions(int count, int stones, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<State> out;
  while (static_cast<int>(out.size()) < count) {
    State s(GameKind::connect4);
    while (!s.is_terminal() && s.num_moves() < stones) {
      const auto legal = s.legal_actions();
      s.play(legal[rng() % legal.size()]);
    }
    if (!s.is_terminal()) out.push_back(s);
  }
  return out;
}

TEST(AlphaZeroSolver, MatchesSlowMinimaxOnLatePositions) {
  Solver solver(16);
  int decided = 0;
  for (const State& s : late_positions(16, 34, 7)) {
    const int want = slow_score(s);
    EXPECT_EQ(solver.solve(s), want) << s.to_string();
    EXPECT_EQ(solver.solve_outcome(s), want > 0 ? 1 : (want < 0 ? -1 : 0)) << s.to_string();
    decided += want != 0;
    // Optimal moves: exactly those whose slow outcome equals the best outcome.
    std::vector<int> best_moves;
    int best = -2;
    for (int a : s.legal_actions()) {
      const int v = s.wins_with(a) ? 1 : -((slow_score(s.after(a)) > 0) - (slow_score(s.after(a)) < 0));
      if (v > best) best = v, best_moves.clear();
      if (v == best) best_moves.push_back(a);
    }
    EXPECT_EQ(solver.optimal_moves(s), best_moves) << s.to_string();
  }
  EXPECT_GT(decided, 4);  // the sample holds wins and losses, not only draws
}

TEST(AlphaZeroSolver, HandCheckedPositions) {
  Solver solver(16);
  // X to move with three stacked in column 1: wins now with its 4th stone (6 stones on the board).
  const State win_now = c4("121212");
  EXPECT_EQ(solver.solve(win_now), (43 - 6) / 2);
  // O to move, X threatens both ends of an open three on the bottom row (c2-c4 with c1 and c5
  // empty): O cannot stop both, X wins with its 4th stone: score -(43 - 6) / 2 for O.
  const State open_three = c4("2737");
  EXPECT_EQ(solver.solve(open_three.after(3)), -(43 - 6) / 2);
  EXPECT_TRUE(test::throws_with([&] { solver.solve(State(GameKind::tictactoe)); }, {"solve: only Connect Four"}));
}

// An early position (9 stones) checked by the negamax identity: its score is the best over its
// moves of the move's score (an immediate win, or minus the child's score), each child solved
// with a cold table. The node count guards the table's hashing: indexed by the key's low bits
// (columns 0-2 only) this position took 185 M nodes instead of 7.4 M.
TEST(AlphaZeroSolver, EarlyPositionAgreesWithItsChildren) {
  const State s = c4("444441115");
  Solver solver(22);
  const int score = solver.solve(s);
  EXPECT_LT(solver.nodes(), 20'000'000u);
  int best = -100;
  for (int a : s.legal_actions()) {
    Solver fresh(20);
    const int child = s.wins_with(a) ? (43 - s.num_moves()) / 2 : -fresh.solve(s.after(a));
    best = std::max(best, child);
  }
  EXPECT_EQ(score, best);
}

TEST(AlphaZeroSolver, BaselineOpponentsTakeWinsAndBlock) {
  for (int depth : {2, 4}) {
    AlphaBetaAgent ab(depth, 1);
    EXPECT_EQ(ab.choose(c4("121212")), 0) << "depth " << depth;  // win in column 1
    EXPECT_EQ(ab.choose(c4("12121")), 0) << "depth " << depth;   // block column 1
  }
  UctAgent uct(2000, 1);
  EXPECT_EQ(uct.choose(c4("121212")), 0);
  // The solver's player picks among the optimal moves of a late position.
  Solver solver(16);
  SolverAgent perfect(1);
  for (const State& s : late_positions(4, 34, 11)) {
    const auto best = solver.optimal_moves(s);
    EXPECT_NE(std::find(best.begin(), best.end(), perfect.choose(s)), best.end()) << s.to_string();
  }
}

TEST(AlphaZeroSolver, OpponentSpecsAndLabelledPositions) {
  EXPECT_EQ(make_opponent("mcts:1000", GameKind::connect4, 0)->name(), "mcts:1000");
  EXPECT_EQ(make_opponent("alphabeta:6", GameKind::connect4, 0)->name(), "alphabeta:6");
  EXPECT_EQ(make_opponent("random", GameKind::tictactoe, 0)->name(), "random");
  EXPECT_TRUE(test::throws_with([] { make_opponent("mcts:x", GameKind::connect4, 0); }, {"bad opponent 'mcts:x'"}));
  EXPECT_TRUE(test::throws_with([] { make_opponent("alphabeta:4", GameKind::tictactoe, 0); }, {"only Connect Four"}));
  EXPECT_TRUE(test::throws_with([] { make_opponent("minimax", GameKind::connect4, 0); }, {"bad opponent 'minimax'"}));
  // Another network as the opponent: the shipped Connect Four one, searching 10 simulations a move.
  const std::string shipped = default_weights(GameKind::connect4);
  ASSERT_FALSE(shipped.empty());
  auto net = make_opponent("net:" + shipped, GameKind::connect4, 0, 10);
  EXPECT_EQ(net->name(), "net+mcts10");
  EXPECT_TRUE(State::from_moves(GameKind::connect4, "").is_legal(net->choose(State::from_moves(GameKind::connect4, ""))));
  EXPECT_TRUE(test::throws_with([] { make_opponent("net:/nonexistent.safetensors", GameKind::connect4, 0); },
                                {"no network file '/nonexistent.safetensors'"}));
  EXPECT_TRUE(test::throws_with([&] { make_opponent("net:" + shipped, GameKind::tictactoe, 0); },
                                {"holds a connect4 network, not tictactoe"}));
  // Late positions label in milliseconds; the set is cached in a file and read back identically.
  const std::string cache = ::testing::TempDir() + "ember_az_labels.txt";
  std::remove(cache.c_str());
  const auto set = labelled_positions(6, 36, 3, cache);
  ASSERT_EQ(set.size(), 6u);
  Solver solver(16);
  for (const auto& p : set) {
    const State s = State::from_moves(GameKind::connect4, p.moves);
    EXPECT_GE(s.num_moves(), 36);
    EXPECT_EQ(p.optimal, solver.optimal_moves(s)) << p.moves;
  }
  const auto again = labelled_positions(6, 36, 3, cache);
  for (size_t i = 0; i < set.size(); ++i) EXPECT_EQ(again[i].moves, set[i].moves);
  SolverAgent perfect(2);
  EXPECT_EQ(move_accuracy(perfect, set), 1.0);
  std::remove(cache.c_str());
}

}  // namespace
}  // namespace ember::zoo::alphazero

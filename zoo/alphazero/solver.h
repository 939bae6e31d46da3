// Connect Four evaluation opponents, written for this project: a perfect solver (negamax with
// alpha-beta on bitboards, threat-based move ordering, a transposition table and a null-window
// search that narrows the score), fixed-depth alpha-beta players with a simple heuristic, and UCT
// with random rollouts. Only used to evaluate the AlphaZero agents.
//
// Scores (the usual convention): 0 draw; an immediate win from a position with m stones scores
// (43 - m) / 2 (integer division), and each further move the winner needs lowers it by one; a loss
// scores minus the opponent's win score. Positive: the side to move wins.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "zoo/alphazero/alphazero.h"

namespace ember::zoo::alphazero {

class Solver {
 public:
  explicit Solver(int log2_entries = 22);  // transposition table of 2^log2_entries entries (16 B each)
  // The exact score of a Connect Four position for the side to move (see the file comment).
  int solve(const State& s);
  // Only the outcome: +1 the side to move wins, 0 draw, -1 it loses (much faster than solve()).
  int solve_outcome(const State& s);
  // Outcome (for the side to move at s) after each legal move: +1 / 0 / -1, or -2 for illegal ones.
  std::vector<int> move_outcomes(const State& s);
  // The moves whose outcome is the best one (the optimal moves in the win/draw/loss sense).
  std::vector<int> optimal_moves(const State& s);
  uint64_t nodes() const { return nodes_; }
  void clear();

 private:
  int negamax(uint64_t cur, uint64_t mask, int moves, int alpha, int beta);
  int search(const State& s, int lo, int hi);  // null-window narrowing within [lo, hi]
  struct Entry {
    uint64_t key = 0;
    int8_t value = 0;
    uint8_t bound = 0;  // 1 upper, 2 lower
  };
  std::vector<Entry> table_;
  int shift_ = 42;  // 64 - log2(table size): the hash's top bits index the table
  uint64_t nodes_ = 0;
};

// Alpha-beta to a fixed depth; leaves scored by a heuristic (cells that would complete four for
// each side, stones in the centre columns); exact wins and losses are found within the depth. Ties
// among the best moves are broken at random (seeded), so games differ.
class AlphaBetaAgent : public Agent {
 public:
  AlphaBetaAgent(int depth, uint64_t seed);
  std::string name() const override;
  int choose(const State& s) override;

 private:
  int negamax(const State& s, int depth, int alpha, int beta);
  int depth_;
  std::mt19937_64 rng_;
};

// Plain UCT (C = sqrt(2)) with uniformly random playouts to the end of the game.
class UctAgent : public Agent {
 public:
  UctAgent(int64_t playouts, uint64_t seed);
  std::string name() const override;
  int choose(const State& s) override;

 private:
  int64_t playouts_;
  std::mt19937_64 rng_;
};

// Plays an optimal (win/draw/loss) move, chosen at random among them.
class SolverAgent : public Agent {
 public:
  explicit SolverAgent(uint64_t seed) : rng_(seed) {}
  std::string name() const override { return "solver"; }
  int choose(const State& s) override;

 private:
  Solver solver_;
  std::mt19937_64 rng_;
};

}  // namespace ember::zoo::alphazero

// zoo/alphazero MCTS: forced wins in one and two moves with a uniform prior (Connect Four and
// tic-tac-toe), batched search over several trees == each tree searched alone, virtual loss,
// tree reuse and root noise.
#include <gtest/gtest.h>

#include <random>

#include <cmath>
#include <numeric>

#include "zoo/alphazero/mcts.h"

namespace ember::zoo::alphazero {
namespace {

// Uniform prior, value 0: the search sees only game results.
class UniformEvaluator : public Evaluator {
 public:
  explicit UniformEvaluator(int actions) : actions_(actions) {}
  void evaluate(const float*, int64_t n, float* logits, float* values) override {
    std::fill(logits, logits + n * actions_, 0.f);
    std::fill(values, values + n, 0.f);
    calls++;
    positions += n;
  }
  int actions_;
  int64_t calls = 0, positions = 0;
};

// A fixed pseudo-random linear function of the planes: deterministic, position dependent.
class LinearEvaluator : public Evaluator {
 public:
  LinearEvaluator(int plane_size, int actions) : ps_(plane_size), actions_(actions), w_(plane_size * (actions + 1)) {
    std::mt19937_64 rng(5);
    for (float& x : w_) x = std::uniform_real_distribution<float>(-1, 1)(rng);
  }
  void evaluate(const float* planes, int64_t n, float* logits, float* values) override {
    for (int64_t i = 0; i < n; ++i) {
      for (int a = 0; a <= actions_; ++a) {
        float s = 0;
        for (int k = 0; k < ps_; ++k) s += planes[i * ps_ + k] * w_[k * (actions_ + 1) + a];
        if (a < actions_) logits[i * actions_ + a] = s;
        else values[i] = std::tanh(0.3f * s);
      }
    }
  }
  int ps_, actions_;
  std::vector<float> w_;
};

int best_move(const State& s, int sims, int leaves = 1) {
  UniformEvaluator ev(s.info().actions);
  Tree tree(s, {.simulations = sims, .leaves_per_step = leaves});
  BatchedSearch search(ev);
  search.run({&tree});
  std::mt19937_64 rng(0);
  return tree.choose(0, rng);
}

TEST(AlphaZeroMcts, FindsWinInOne) {
  EXPECT_EQ(best_move(State::from_moves(GameKind::connect4, "121212"), 100), 0);
  EXPECT_EQ(best_move(State::from_moves(GameKind::tictactoe, "1425"), 50), 2);
  EXPECT_EQ(best_move(State::from_moves(GameKind::connect4, "121212"), 100, 8), 0);  // with virtual loss
}

TEST(AlphaZeroMcts, FindsWinInTwo) {
  // Connect Four: X (c2, c3 on the bottom row) plays c4 for an open three, O cannot block c1 and c5.
  EXPECT_EQ(best_move(State::from_moves(GameKind::connect4, "2737"), 3000), 3);
  // Tic-tac-toe: X 1 5, O 2 9: X forks with 4 (threats 6 and 7) or 7 (threats 3 and 4).
  const int m = best_move(State::from_moves(GameKind::tictactoe, "1259"), 800);
  EXPECT_TRUE(m == 3 || m == 6) << m;
  const int v = best_move(State::from_moves(GameKind::tictactoe, "1259"), 800, 4);
  EXPECT_TRUE(v == 3 || v == 6) << v;
}

TEST(AlphaZeroMcts, BatchedEqualsUnbatched) {
  const std::vector<std::string> openings = {"", "4", "43", "4435", "1267"};
  LinearEvaluator ev(3 * 42, 7);
  const MctsConfig cfg{.simulations = 150};
  std::vector<std::vector<int>> alone;
  for (const auto& o : openings) {
    Tree t(State::from_moves(GameKind::connect4, o), cfg);
    BatchedSearch s(ev);
    s.run({&t});
    alone.push_back(t.visit_counts());
  }
  std::vector<std::unique_ptr<Tree>> trees;
  std::vector<Tree*> ptrs;
  for (const auto& o : openings) {
    trees.push_back(std::make_unique<Tree>(State::from_moves(GameKind::connect4, o), cfg));
    ptrs.push_back(trees.back().get());
  }
  BatchedSearch together(ev);
  together.run(ptrs);
  for (size_t i = 0; i < openings.size(); ++i) EXPECT_EQ(trees[i]->visit_counts(), alone[i]) << openings[i];
  // One forward per step for all five trees (terminal leaves need none).
  EXPECT_LE(together.batches(), 150);
  EXPECT_LE(together.evaluations(), 150 * static_cast<int64_t>(openings.size()));
  EXPECT_GT(together.evaluations(), 4 * together.batches());
}

TEST(AlphaZeroMcts, VisitsReuseAndNoise) {
  UniformEvaluator ev(7);
  Tree t(State(GameKind::connect4), {.simulations = 400, .leaves_per_step = 8});
  BatchedSearch s(ev);
  s.run({&t});
  const auto visits = t.visit_counts();
  EXPECT_EQ(std::accumulate(visits.begin(), visits.end(), 0), 399);  // the first simulation expanded the root
  EXPECT_LT(ev.calls, 400);  // leaves were batched
  const int kept = visits[3];
  t.advance(3);
  EXPECT_EQ(t.root_state().num_moves(), 1);
  const auto after = t.visit_counts();
  EXPECT_EQ(std::accumulate(after.begin(), after.end(), 0), kept - 1);
  EXPECT_EQ(t.playouts(), 0);
  EXPECT_FALSE(t.done());

  Tree noisy(State(GameKind::connect4), {.simulations = 10, .root_noise = true, .dirichlet_alpha = 0.3f}, 9);
  s.run({&noisy});
  const auto p = noisy.root_priors();
  EXPECT_NEAR(std::accumulate(p.begin(), p.end(), 0.0), 1.0, 1e-5);
  EXPECT_GT(*std::max_element(p.begin(), p.end()) - *std::min_element(p.begin(), p.end()), 1e-3);
}

}  // namespace
}  // namespace ember::zoo::alphazero

// PUCT Monte Carlo tree search guided by an Evaluator (net.h), with leaf evaluations batched
// across many trees: each step selects leaves in every tree (virtual loss lets one tree add several
// per step), evaluates all of them with one Evaluator call, then expands and backs them up.
//
// Selection maximises Q(s,a) + c_puct * P(s,a) * sqrt(N(s)) / (1 + N(s,a)), with Q from the
// mover's point of view; an unvisited child gets the parent's Q minus fpu_reduction ("first play
// urgency": a side that is winning keeps exploring its other moves, which finds quick wins). A leaf's value v (for its side to move)
// backs up as -v, +v, -v, ... towards the root. Terminal leaves use the game result and need no
// evaluation. Dirichlet noise P = (1 - eps) P + eps Dir(alpha) is mixed into the root's priors.
// advance() keeps the subtree below the chosen move (tree reuse).
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "zoo/alphazero/game.h"
#include "zoo/alphazero/net.h"

namespace ember::zoo::alphazero {

struct MctsConfig {
  int simulations = 200;      // new simulations per move
  float c_puct = 1.5f;
  float fpu_reduction = 0.1f;  // Q of an unvisited child: the parent's Q minus this
  bool root_noise = false;    // self-play only
  float dirichlet_alpha = 1.0f, dirichlet_eps = 0.25f;
  int leaves_per_step = 1;    // leaves one tree may add per batched step (> 1 uses virtual loss)
  float virtual_loss = 1.0f;  // each pending visit counts as a loss of this size for its mover
};

class Tree {
 public:
  Tree(State root, MctsConfig config, uint64_t seed = 0);

  const State& root_state() const { return nodes_[0].state; }
  const MctsConfig& config() const { return config_; }
  // Simulations since the tree was built or last advanced; done() when they reach config.simulations.
  int playouts() const { return playouts_; }
  bool done() const { return playouts_ >= config_.simulations || root_state().is_terminal(); }

  // Selection: descends to up to config.leaves_per_step leaves that need the network, writing their
  // planes at planes + i * plane_size; terminal leaves are backed up on the spot. Returns the count.
  int select(float* planes);
  // Expansion and backup of the leaves returned by the last select(), in the same order.
  void backup(const float* logits, const float* values);

  // Root statistics: visits per action (0 for illegal ones), the value estimate for the side to
  // move (mean of the backed-up values), and the priors after noise.
  std::vector<int> visit_counts() const;
  float root_value() const;
  std::vector<float> root_priors() const;
  // The move: argmax of visits (temperature 0) or sampled with probability ~ N^(1/T).
  int choose(float temperature, std::mt19937_64& rng) const;
  // Plays `action` at the root and keeps its subtree (the rest is dropped).
  void advance(int action);
  size_t num_nodes() const { return nodes_.size(); }

 private:
  struct Node {
    State state;
    int32_t first_child = -1;
    int16_t num_children = 0;
    int16_t action = -1;
    float prior = 0, value_sum = 0;  // value_sum: for the player who moved into this node
    int32_t visits = 0, pending = 0;
  };
  void expand(int32_t node, const float* logits);
  void backup_path(const std::vector<int32_t>& path, float leaf_value);
  void add_root_noise();

  MctsConfig config_;
  std::vector<Node> nodes_;
  std::vector<std::vector<int32_t>> leaves_;  // paths of the leaves awaiting evaluation
  int playouts_ = 0;
  std::mt19937_64 rng_;
};

// Drives trees in lock step: each step() selects in every tree that is not done, makes one
// Evaluator call over all of their leaves and backs the results up. Buffers are reused.
class BatchedSearch {
 public:
  explicit BatchedSearch(Evaluator& evaluator) : evaluator_(&evaluator) {}
  // One step over `trees`; returns the number of positions evaluated.
  int64_t step(const std::vector<Tree*>& trees);
  // Steps until every tree is done.
  void run(const std::vector<Tree*>& trees);
  int64_t evaluations() const { return evaluations_; }
  int64_t batches() const { return batches_; }

 private:
  Evaluator* evaluator_;
  std::vector<float> planes_, logits_, values_;
  std::vector<int> counts_;
  int64_t evaluations_ = 0, batches_ = 0;
};

// The visit counts as a distribution (sums to 1 over actions).
std::vector<float> visit_distribution(const std::vector<int>& visits);

}  // namespace ember::zoo::alphazero

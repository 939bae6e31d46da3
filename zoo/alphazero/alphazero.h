// AlphaZero for tic-tac-toe and Connect Four: self-play with batched PUCT search (mcts.h), a replay
// window with left-right mirror augmentation, training of the W6 policy/value net (net.h) on
// (planes, visit distribution, outcome), an arena that promotes the new net over the best one at
// >= promote_at, and checkpoints that resume bit for bit. `ember train alphazero` wraps train().
//
// A run folder (--out) holds:
//   best.safetensors       the promoted network (metadata: game, channels, blocks, generation, Elo)
//   candidate.safetensors  the network being trained
//   train_state.safetensors  Adam state, generation counter, Elo, metric history, config
//   replay.safetensors     the replay window (u8 planes, visit distributions, outcomes)
//   metrics.jsonl          one JSON object per generation;  curves.png  loss / Elo / arena plots
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "zoo/alphazero/mcts.h"
#include "zoo/alphazero/net.h"

namespace ember::zoo::alphazero {

struct TrainConfig {
  GameKind game = GameKind::connect4;
  int64_t generations = 0;  // 0: until `hours` run out (one of the two must be set)
  double hours = 0;
  int64_t games_per_gen = 64, sims = 100;
  int64_t channels = 64, blocks = 4;
  int64_t batch = 256, train_steps = 0;  // 0: new positions * 4 / batch (at least 8)
  double lr = 1e-3, weight_decay = 1e-4;
  int64_t replay_window = 60000;  // positions kept
  int64_t arena_games = 20, arena_sims = 0;  // arena_sims 0: sims; arena_games 0: always promote
  double promote_at = 0.55;
  int64_t temp_moves = 0;  // moves sampled with temperature 1 (0: 2 for tic-tac-toe, 10 for Connect Four)
  float dirichlet_alpha = 1.0f;
  uint64_t seed = 0;
  std::string out = "runs/alphazero";
  bool resume = false;
  int threads = 0;
  bool progress = true, plots = true;
};

struct GenerationMetrics {
  int64_t generation = 0;
  int64_t games = 0, positions = 0, replay_size = 0;
  double selfplay_seconds = 0, games_per_second = 0, evals_per_second = 0;
  double first_player_wins = 0, draws = 0;  // share of self-play games
  double policy_loss = 0, value_loss = 0, train_seconds = 0;
  double arena_score = 0;  // candidate's score against the best net (win 1, draw 1/2)
  bool promoted = false;
  double elo = 0;          // of the best net, gen-0 net = 0
  double seconds = 0;      // wall time of the generation
};

struct TrainResult {
  std::vector<GenerationMetrics> history;
  std::string best;  // path of best.safetensors
};

TrainResult train(const TrainConfig& config);

// A network read from a safetensors file written by train() (best or candidate).
struct LoadedNet {
  std::shared_ptr<PolicyValueNet> net;
  int64_t generation = 0;
  double elo = 0;
};
LoadedNet load_net(const std::string& path);
// The same, and a clear error unless the network plays `game`.
LoadedNet load_net(const std::string& path, GameKind game);
void save_net(const std::string& path, PolicyValueNet& net, int64_t generation, double elo);

// ---- playing ----

class Agent {
 public:
  virtual ~Agent() = default;
  virtual std::string name() const = 0;
  virtual int choose(const State& s) = 0;
};

// The network with PUCT search (sims >= 1) or its raw policy (sims 0: the most likely legal move).
class NetAgent : public Agent {
 public:
  NetAgent(const PolicyValueNet& net, int64_t sims, uint64_t seed = 0, int64_t leaves_per_step = 8);
  std::string name() const override;
  int choose(const State& s) override;
  // The last search (or the raw policy): value for the side to move, visits (or policy x 1000).
  float last_value() const { return last_value_; }
  const std::vector<int>& last_visits() const { return last_visits_; }
  std::vector<float> policy(const State& s);  // softmax over legal moves
  // Sampled with temperature 1 for the first `n` moves of a game (diversity in matches).
  void set_random_opening(int64_t n) { random_opening_ = n; }

 private:
  InferenceNet infer_;
  int64_t sims_, leaves_;
  int64_t random_opening_ = 0;
  std::mt19937_64 rng_;
  float last_value_ = 0;
  std::vector<int> last_visits_;
};

class RandomAgent : public Agent {
 public:
  explicit RandomAgent(uint64_t seed) : rng_(seed) {}
  std::string name() const override { return "random"; }
  int choose(const State& s) override;

 private:
  std::mt19937_64 rng_;
};

struct MatchResult {
  int64_t wins = 0, draws = 0, losses = 0;  // for agent a
  double score() const;                      // (wins + draws / 2) / games
};
// Plays `games` games of a against b from the empty board; a moves first when a_first.
MatchResult play_match(GameKind game, Agent& a, Agent& b, int64_t games, bool a_first);

// Batched arena between two evaluators: `games` games (half with each side first), sims per move,
// the first 2 moves sampled (temperature 1) so games differ. Result for a.
MatchResult arena(GameKind game, Evaluator& a, Evaluator& b, int64_t games, int64_t sims, uint64_t seed);

// ---- evaluation (evaluate.cpp) ----

// An opponent from its spec: "random", "mcts:<playouts>" (UCT, random rollouts), "alphabeta:<depth>",
// "solver" (Connect Four only), "net:<checkpoint>" (another network, searching `sims` simulations
// a move, e.g. an older run's best.safetensors); clear error for anything else.
std::unique_ptr<Agent> make_opponent(const std::string& spec, GameKind game, uint64_t seed, int64_t sims = 200);

// A Connect Four position (its moves, 1-based columns) with the solver's optimal moves.
struct LabelledPosition {
  std::string moves;
  std::vector<int> optimal;  // 0-based columns
};
// `count` positions with at least min_stones stones, taken from games between two depth-2
// alpha-beta players with random tie-breaks (a weak agent), spread evenly over the stone counts
// min_stones..40, each labelled by the solver. The file, when given, caches the set (one line per
// position: moves, a space, optimal columns).
std::vector<LabelledPosition> labelled_positions(int64_t count, int min_stones, uint64_t seed,
                                                 const std::string& cache_file = "");
// Share of positions where the agent's move is one of the optimal ones.
double move_accuracy(Agent& agent, const std::vector<LabelledPosition>& positions);

// The shipped Connect Four network: zoo/alphazero/weights/connect4.safetensors, looked up from the
// working directory and from the executable's folder upwards; "" when not found.
std::string default_weights(GameKind game);

}  // namespace ember::zoo::alphazero

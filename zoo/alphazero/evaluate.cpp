// Evaluation helpers: opponents by name, the solver-labelled position set and move accuracy.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "data/image.h"
#include "zoo/alphazero/solver.h"

namespace ember::zoo::alphazero {
namespace fs = std::filesystem;

std::unique_ptr<Agent> make_opponent(const std::string& spec, GameKind game, uint64_t seed, int64_t sims) {
  if (spec.starts_with("net:")) {
    // The agent folds its own copy of the weights.
    return std::make_unique<NetAgent>(*load_net(spec.substr(4), game).net, sims, seed);
  }
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  int64_t n = 0;
  if (colon != std::string::npos) {
    try {
      size_t used = 0;
      n = std::stoll(spec.substr(colon + 1), &used);
      EMBER_CHECK(used == spec.size() - colon - 1, "");
    } catch (const std::exception&) {
      EMBER_CHECK(false, "play: bad opponent '{}' (the number after ':' is not an integer)", spec);
    }
  }
  if (kind == "random" && colon == std::string::npos) return std::make_unique<RandomAgent>(seed);
  if (kind == "mcts" && n >= 1) return std::make_unique<UctAgent>(n, seed);
  const bool c4 = game == GameKind::connect4;
  EMBER_CHECK(c4 || (kind != "alphabeta" && kind != "solver"), "play: opponent '{}' plays only Connect Four", spec);
  if (kind == "alphabeta" && n >= 1 && n <= 20) return std::make_unique<AlphaBetaAgent>(static_cast<int>(n), seed);
  if (kind == "solver" && colon == std::string::npos) return std::make_unique<SolverAgent>(seed);
  EMBER_CHECK(false,
              "play: bad opponent '{}' (expected random, mcts:<playouts>, alphabeta:<depth 1..20>, solver or "
              "net:<checkpoint>)",
              spec);
  return nullptr;
}

std::vector<LabelledPosition> labelled_positions(int64_t count, int min_stones, uint64_t seed,
                                                 const std::string& cache_file) {
  EMBER_CHECK(count >= 1 && min_stones >= 0 && min_stones <= 40,
              "eval alphazero: need count >= 1 and 0 <= min_stones <= 40 (got {}, {})", count, min_stones);
  std::vector<LabelledPosition> out;
  if (!cache_file.empty() && fs::exists(cache_file)) {
    std::ifstream in(cache_file);
    for (std::string line; std::getline(in, line) && static_cast<int64_t>(out.size()) < count;) {
      std::istringstream ss(line);
      LabelledPosition p;
      std::string best;
      ss >> p.moves >> best;
      for (char ch : best) p.optimal.push_back(ch - '1');
      (void)State::from_moves(GameKind::connect4, p.moves);  // validates the line
      EMBER_CHECK(!p.optimal.empty(), "eval alphazero: {}: line '{}' has no optimal moves", cache_file, line);
      out.push_back(p);
    }
    if (static_cast<int64_t>(out.size()) == count) return out;
    out.clear();
  }
  std::mt19937_64 rng(seed);
  AlphaBetaAgent a(2, seed + 1), b(2, seed + 2);
  Solver solver(22);
  const int span = 41 - min_stones;
  for (int64_t i = 0; static_cast<int64_t>(out.size()) < count; ++i) {
    const int target = min_stones + static_cast<int>(i % span);  // spread over the game phases
    State s(GameKind::connect4);
    std::string moves;
    // Two random opening moves, then the weak players, until the target stone count.
    while (!s.is_terminal() && s.num_moves() < target) {
      const int m = s.num_moves() < 2 ? s.legal_actions()[rng() % s.legal_actions().size()]
                                      : (s.num_moves() % 2 == 0 ? a : b).choose(s);
      s.play(m);
      moves += static_cast<char>('1' + m);
    }
    if (s.is_terminal() || s.num_moves() != target) continue;
    out.push_back({moves, solver.optimal_moves(s)});
  }
  if (!cache_file.empty()) {
    std::string text;
    for (const auto& p : out) {
      text += p.moves + ' ';
      for (int m : p.optimal) text += static_cast<char>('1' + m);
      text += '\n';
    }
    data::write_file_atomic(cache_file, std::vector<uint8_t>(text.begin(), text.end()));
  }
  return out;
}

double move_accuracy(Agent& agent, const std::vector<LabelledPosition>& positions) {
  int64_t hits = 0;
  for (const auto& p : positions) {
    const int m = agent.choose(State::from_moves(GameKind::connect4, p.moves));
    hits += std::find(p.optimal.begin(), p.optimal.end(), m) != p.optimal.end();
  }
  return positions.empty() ? 0.0 : static_cast<double>(hits) / static_cast<double>(positions.size());
}

std::string default_weights(GameKind game) {
  const fs::path rel = fs::path("zoo") / "alphazero" / "weights" / (std::string(game_info(game).name) + ".safetensors");
  if (fs::exists(rel)) return rel.string();
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (int up = 0; !ec && up < 4 && !dir.empty(); ++up, dir = dir.parent_path())
    if (fs::exists(dir / rel)) return (dir / rel).string();
  return "";
}

}  // namespace ember::zoo::alphazero

// Connect Four solver and baseline opponents (see solver.h).
#include "zoo/alphazero/solver.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include <fmt/format.h>

#include "tensor/error.h"

namespace ember::zoo::alphazero {

namespace {
using namespace c4;
constexpr int kCells = kRows * kCols;
constexpr int kOrder[kCols] = {3, 2, 4, 1, 5, 0, 6};  // centre columns first

void check_connect4(const State& s, const char* who) {
  EMBER_CHECK(s.kind() == GameKind::connect4, "{}: only Connect Four positions (got {})", who, s.info().name);
}
}  // namespace

Solver::Solver(int log2_entries) : table_(size_t{1} << log2_entries), shift_(64 - log2_entries) {}

void Solver::clear() { std::fill(table_.begin(), table_.end(), Entry{}); }

// Precondition: the side to move (stones `cur`) cannot win with its next stone.
int Solver::negamax(uint64_t cur, uint64_t mask, int moves, int alpha, int beta) {
  ++nodes_;
  uint64_t possible = (mask + bottom_row()) & board_bits();
  const uint64_t opp_wins = winning_cells(cur ^ mask, mask);
  const uint64_t forced = possible & opp_wins;
  if (forced) {
    if (forced & (forced - 1)) return -(kCells - moves) / 2;  // two threats: lost next move
    possible = forced;
  }
  possible &= ~(opp_wins >> 1);  // never play right below an opponent's winning cell
  if (!possible) return -(kCells - moves) / 2;
  if (moves >= kCells - 2) return 0;  // nobody can win any more

  // Bounds: the opponent cannot win with its next stone, we cannot win with this one.
  const int lo = -(kCells - 2 - moves) / 2;
  if (alpha < lo && (alpha = lo) >= beta) return alpha;
  int hi = (kCells - 1 - moves) / 2;
  const uint64_t key = cur + mask + bottom_row();
  // The key's low bits are the first columns only: multiply (Fibonacci hashing) so every column
  // picks the slot. `key & (size - 1)` left columns 3-6 out of the index, and the table thrashed.
  Entry& e = table_[(key * 0x9E3779B97F4A7C15ull) >> shift_];
  if (e.key == key) {
    if (e.bound == 1) hi = std::min<int>(hi, e.value);
    else if (alpha < e.value && (alpha = e.value) >= beta) return alpha;
  }
  if (beta > hi && (beta = hi) <= alpha) return beta;

  // Order: moves creating more winning cells for us first, centre first among equals.
  uint64_t moves_by_rank[kCols];
  int threat[kCols], n = 0;
  for (int c : kOrder) {
    const uint64_t m = possible & column_bits(c);
    if (!m) continue;
    const int t = std::popcount(winning_cells(cur | m, mask | m));
    int i = n++;
    for (; i > 0 && threat[i - 1] < t; --i) moves_by_rank[i] = moves_by_rank[i - 1], threat[i] = threat[i - 1];
    moves_by_rank[i] = m, threat[i] = t;
  }
  for (int i = 0; i < n; ++i) {
    const uint64_t m = moves_by_rank[i];
    const int score = -negamax(cur ^ mask, mask | m, moves + 1, -beta, -alpha);
    if (score >= beta) {
      e = Entry{key, static_cast<int8_t>(score), 2};
      return score;
    }
    alpha = std::max(alpha, score);
  }
  e = Entry{key, static_cast<int8_t>(alpha), 1};
  return alpha;
}

int Solver::search(const State& s, int lo, int hi) {
  const int m = s.num_moves();
  while (lo < hi) {  // null-window probes, biased towards 0 where most positions end
    int med = lo + (hi - lo) / 2;
    if (med <= 0 && lo / 2 < med) med = lo / 2;
    else if (med >= 0 && hi / 2 > med) med = hi / 2;
    const int r = negamax(s.own(), s.occupied(), m, med, med + 1);
    if (r <= med) hi = r;
    else lo = r;
  }
  return lo;
}

int Solver::solve(const State& s) {
  check_connect4(s, "solve");
  const int m = s.num_moves();
  if (s.is_terminal()) return s.last_move_won() ? -(kCells + 2 - m) / 2 : 0;
  if (winning_cells(s.own(), s.occupied()) & ((s.occupied() + bottom_row()) & board_bits())) return (kCells + 1 - m) / 2;
  return search(s, -(kCells - m) / 2, (kCells + 1 - m) / 2);
}

int Solver::solve_outcome(const State& s) {
  check_connect4(s, "solve");
  if (s.is_terminal()) return s.terminal_value();
  if (winning_cells(s.own(), s.occupied()) & ((s.occupied() + bottom_row()) & board_bits())) return 1;
  const int r = negamax(s.own(), s.occupied(), s.num_moves(), -1, 1);
  return r > 0 ? 1 : (r < 0 ? -1 : 0);
}

std::vector<int> Solver::move_outcomes(const State& s) {
  check_connect4(s, "solve");
  std::vector<int> out(kCols, -2);
  for (int a : s.legal_actions()) out[a] = s.wins_with(a) ? 1 : -solve_outcome(s.after(a));
  return out;
}

std::vector<int> Solver::optimal_moves(const State& s) {
  const std::vector<int> v = move_outcomes(s);
  const int best = *std::max_element(v.begin(), v.end());
  std::vector<int> out;
  for (int a = 0; a < kCols; ++a)
    if (v[a] == best && best > -2) out.push_back(a);
  return out;
}

int SolverAgent::choose(const State& s) {
  const std::vector<int> best = solver_.optimal_moves(s);
  EMBER_CHECK(!best.empty(), "SolverAgent: the game is over");
  return best[std::uniform_int_distribution<size_t>(0, best.size() - 1)(rng_)];
}

// ---- fixed-depth alpha-beta ----

AlphaBetaAgent::AlphaBetaAgent(int depth, uint64_t seed) : depth_(depth), rng_(seed) {
  EMBER_CHECK(depth >= 1, "alphabeta: depth must be >= 1, got {}", depth);
}

std::string AlphaBetaAgent::name() const { return fmt::format("alphabeta:{}", depth_); }

namespace {
constexpr int kWin = 1000;
// Heuristic for the side to move: 4 x (own - opponent's winning cells) + centre-column stones.
int heuristic(const State& s) {
  const uint64_t own = s.own(), opp = s.opponent(), mask = s.occupied();
  const int threats = std::popcount(winning_cells(own, mask)) - std::popcount(winning_cells(opp, mask));
  const int centre = std::popcount(own & column_bits(3)) - std::popcount(opp & column_bits(3));
  return 4 * threats + centre;
}
}  // namespace

int AlphaBetaAgent::negamax(const State& s, int depth, int alpha, int beta) {
  if (s.last_move_won()) return -(kWin - s.num_moves());  // faster wins score higher
  if (s.is_terminal()) return 0;
  if (depth == 0) return heuristic(s);
  const uint32_t legal = s.legal_mask();
  for (int c : kOrder) {
    if (!(legal >> c & 1)) continue;
    const int v = -negamax(s.after(c), depth - 1, -beta, -alpha);
    if (v >= beta) return v;
    alpha = std::max(alpha, v);
  }
  return alpha;
}

int AlphaBetaAgent::choose(const State& s) {
  check_connect4(s, "alphabeta");
  EMBER_CHECK(!s.is_terminal(), "alphabeta: the game is over");
  int best = -1000000;
  std::vector<int> ties;
  for (int c : kOrder) {
    if (!s.is_legal(c)) continue;
    // Window (best - 1, inf): exact for every move that ties or beats the best so far.
    const int v = -negamax(s.after(c), depth_ - 1, -1000000, -(best - 1));
    if (v > best) best = v, ties.assign(1, c);
    else if (v == best) ties.push_back(c);
  }
  return ties[std::uniform_int_distribution<size_t>(0, ties.size() - 1)(rng_)];
}

// ---- UCT with random playouts ----

UctAgent::UctAgent(int64_t playouts, uint64_t seed) : playouts_(playouts), rng_(seed) {
  EMBER_CHECK(playouts >= 1, "mcts: playouts must be >= 1, got {}", playouts);
}

std::string UctAgent::name() const { return fmt::format("mcts:{}", playouts_); }

int UctAgent::choose(const State& root_state) {
  EMBER_CHECK(!root_state.is_terminal(), "mcts: the game is over");
  const int A = root_state.info().actions;
  struct Node {
    State s;
    int32_t parent = -1;
    uint32_t untried = 0;
    int32_t child[9] = {-1, -1, -1, -1, -1, -1, -1, -1, -1};
    double visits = 0, wins = 0;  // wins for the player who moved into this node (draw = 1/2)
  };
  std::vector<Node> nodes;
  nodes.reserve(static_cast<size_t>(std::min<int64_t>(playouts_ + 1, 1 << 22)));
  nodes.push_back(Node{.s = root_state, .untried = root_state.legal_mask()});
  auto random_bit = [&](uint32_t m) {
    int k = static_cast<int>(rng_() % static_cast<uint64_t>(std::popcount(m)));
    for (; k > 0; --k) m &= m - 1;
    return std::countr_zero(m);
  };
  for (int64_t it = 0; it < playouts_; ++it) {
    int32_t n = 0;
    // Selection: descend through fully expanded nodes by UCB1.
    while (nodes[n].untried == 0 && !nodes[n].s.is_terminal()) {
      const double log_n = std::log(nodes[n].visits);
      int32_t best = -1;
      double best_ucb = -1;
      for (int a = 0; a < A; ++a) {
        const int32_t c = nodes[n].child[a];
        if (c < 0) continue;
        const double ucb = nodes[c].wins / nodes[c].visits + std::sqrt(2.0 * log_n / nodes[c].visits);
        if (ucb > best_ucb) best_ucb = ucb, best = c;
      }
      n = best;
    }
    // Expansion: one untried move.
    if (!nodes[n].s.is_terminal()) {
      const int a = random_bit(nodes[n].untried);
      nodes[n].untried &= ~(1u << a);
      State next = nodes[n].s.after(a);
      nodes[n].child[a] = static_cast<int32_t>(nodes.size());
      nodes.push_back(Node{.s = next, .parent = n, .untried = next.legal_mask()});
      n = static_cast<int32_t>(nodes.size()) - 1;
    }
    // Playout: uniformly random moves to the end.
    State s = nodes[n].s;
    while (!s.is_terminal()) s.play_unchecked(random_bit(s.legal_mask()));
    // The winner's parity: the player who made the last move, when it won.
    const int winner_parity = s.last_move_won() ? (s.num_moves() - 1) % 2 : -1;
    for (int32_t k = n; k >= 0; k = nodes[k].parent) {
      Node& nd = nodes[k];
      nd.visits += 1;
      const int mover_parity = (nd.s.num_moves() - 1) % 2;  // who moved into this node
      nd.wins += winner_parity < 0 ? 0.5 : (winner_parity == mover_parity ? 1.0 : 0.0);
    }
  }
  int best = -1;
  double most = -1;
  for (int a = 0; a < A; ++a) {
    const int32_t c = nodes[0].child[a];
    if (c >= 0 && nodes[c].visits > most) most = nodes[c].visits, best = a;
  }
  return best;
}

}  // namespace ember::zoo::alphazero

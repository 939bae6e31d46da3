// Agents (network with search or raw policy, random), matches between agents, and the batched
// arena that gates promotion during training.
#include <algorithm>
#include <bit>
#include <cmath>

#include <fmt/format.h>

#include "zoo/alphazero/alphazero.h"

namespace ember::zoo::alphazero {

double MatchResult::score() const {
  const int64_t n = wins + draws + losses;
  return n > 0 ? (static_cast<double>(wins) + 0.5 * static_cast<double>(draws)) / static_cast<double>(n) : 0.0;
}

NetAgent::NetAgent(const PolicyValueNet& net, int64_t sims, uint64_t seed, int64_t leaves_per_step)
    : infer_(net), sims_(sims), leaves_(leaves_per_step), rng_(seed) {
  EMBER_CHECK(sims >= 0, "NetAgent: sims must be >= 0, got {}", sims);
}

std::string NetAgent::name() const { return sims_ > 0 ? fmt::format("net+mcts{}", sims_) : "net-policy"; }

std::vector<float> NetAgent::policy(const State& s) {
  const GameInfo& g = s.info();
  std::vector<float> planes(3 * g.rows * g.cols), logits(g.actions), p(g.actions, 0.f);
  float value = 0;
  s.write_planes(planes.data());
  infer_.evaluate(planes.data(), 1, logits.data(), &value);
  last_value_ = value;
  const uint32_t legal = s.legal_mask();
  float mx = -1e30f, total = 0;
  for (uint32_t m = legal; m; m &= m - 1) mx = std::max(mx, logits[std::countr_zero(m)]);
  for (uint32_t m = legal; m; m &= m - 1) {
    const int a = std::countr_zero(m);
    total += (p[a] = std::exp(logits[a] - mx));
  }
  for (float& x : p) x /= total;
  return p;
}

int NetAgent::choose(const State& s) {
  EMBER_CHECK(!s.is_terminal(), "NetAgent: the game is over");
  const float temp = s.num_moves() < random_opening_ ? 1.0f : 0.0f;
  if (sims_ == 0) {
    const std::vector<float> p = policy(s);
    last_visits_.assign(p.size(), 0);
    for (size_t a = 0; a < p.size(); ++a) last_visits_[a] = static_cast<int>(std::lround(p[a] * 1000));
    if (temp > 0) return std::discrete_distribution<int>(p.begin(), p.end())(rng_);
    return static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin());
  }
  Tree tree(s, {.simulations = static_cast<int>(sims_), .leaves_per_step = static_cast<int>(leaves_)});
  BatchedSearch search(infer_);
  search.run({&tree});
  last_value_ = tree.root_value();
  last_visits_ = tree.visit_counts();
  return tree.choose(temp, rng_);
}

int RandomAgent::choose(const State& s) {
  const std::vector<int> legal = s.legal_actions();
  EMBER_CHECK(!legal.empty(), "RandomAgent: the game is over");
  return legal[std::uniform_int_distribution<size_t>(0, legal.size() - 1)(rng_)];
}

MatchResult play_match(GameKind game, Agent& a, Agent& b, int64_t games, bool a_first) {
  MatchResult r;
  for (int64_t i = 0; i < games; ++i) {
    State s(game);
    while (!s.is_terminal()) {
      const bool a_moves = (s.num_moves() % 2 == 0) == a_first;
      s.play((a_moves ? a : b).choose(s));
    }
    if (!s.last_move_won()) {
      ++r.draws;
    } else {
      const bool first_won = (s.num_moves() - 1) % 2 == 0;
      ++(first_won == a_first ? r.wins : r.losses);
    }
  }
  return r;
}

MatchResult arena(GameKind game, Evaluator& a, Evaluator& b, int64_t games, int64_t sims, uint64_t seed) {
  struct Game {
    std::unique_ptr<Tree> tree[2];  // [0] searched with a, [1] with b; both follow every move
    bool a_first = true, over = false;
    std::mt19937_64 rng;
  };
  const MctsConfig mc{.simulations = static_cast<int>(sims)};
  std::vector<Game> gs(games);
  for (int64_t i = 0; i < games; ++i) {
    gs[i].a_first = i % 2 == 0;
    gs[i].rng.seed(seed * 1000003 + static_cast<uint64_t>(i));
    for (auto& t : gs[i].tree) t = std::make_unique<Tree>(State(game), mc);
  }
  auto mover = [](const Game& g) { return (g.tree[0]->root_state().num_moves() % 2 == 0) == g.a_first ? 0 : 1; };
  BatchedSearch search_a(a), search_b(b);
  MatchResult r;
  int64_t left = games;
  std::vector<Tree*> ta, tb;
  while (left > 0) {
    ta.clear();
    tb.clear();
    for (Game& g : gs) {
      if (g.over) continue;
      const int p = mover(g);
      if (!g.tree[p]->done()) (p == 0 ? ta : tb).push_back(g.tree[p].get());
    }
    search_a.step(ta);
    search_b.step(tb);
    for (Game& g : gs) {
      if (g.over) continue;
      const int p = mover(g);
      if (!g.tree[p]->done()) continue;
      const State& s = g.tree[p]->root_state();
      const int action = g.tree[p]->choose(s.num_moves() < 2 ? 1.0f : 0.0f, g.rng);
      for (auto& t : g.tree) t->advance(action);
      const State& next = g.tree[0]->root_state();
      if (!next.is_terminal()) continue;
      g.over = true;
      --left;
      if (!next.last_move_won()) {
        ++r.draws;
      } else {
        const bool first_won = (next.num_moves() - 1) % 2 == 0;
        ++(first_won == g.a_first ? r.wins : r.losses);
      }
    }
  }
  return r;
}

}  // namespace ember::zoo::alphazero

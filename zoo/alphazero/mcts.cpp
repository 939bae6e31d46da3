// PUCT search with virtual loss, batched leaf evaluation and tree reuse (see mcts.h).
#include "zoo/alphazero/mcts.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "tensor/error.h"
#include "tensor/parallel.h"

namespace ember::zoo::alphazero {

Tree::Tree(State root, MctsConfig config, uint64_t seed) : config_(config), rng_(seed) {
  EMBER_CHECK(config.simulations >= 1, "mcts: simulations must be >= 1, got {}", config.simulations);
  EMBER_CHECK(config.leaves_per_step >= 1, "mcts: leaves_per_step must be >= 1, got {}", config.leaves_per_step);
  nodes_.push_back(Node{.state = root});
}

int Tree::select(float* planes) {
  leaves_.clear();
  if (done()) return 0;
  const int plane_size = 3 * root_state().info().rows * root_state().info().cols;
  const int budget = std::min(config_.leaves_per_step, config_.simulations - playouts_);
  const float vl = config_.virtual_loss;
  for (int attempt = 0; attempt < budget; ++attempt) {
    std::vector<int32_t> path{0};
    int32_t n = 0;
    while (nodes_[n].num_children > 0) {
      // PUCT over the children, with pending (virtual) visits counted as losses.
      const Node& parent = nodes_[n];
      const float sqrt_n = std::sqrt(static_cast<float>(std::max(1, parent.visits + parent.pending)));
      // The parent's value for the player choosing here (its value_sum is for the other player).
      const float fpu = (parent.visits > 0 ? -parent.value_sum / static_cast<float>(parent.visits) : 0.f) -
                        config_.fpu_reduction;
      int32_t best = -1;
      float best_score = -1e30f;
      for (int32_t c = parent.first_child; c < parent.first_child + parent.num_children; ++c) {
        const Node& ch = nodes_[c];
        const int n_eff = ch.visits + ch.pending;
        const float q = n_eff > 0 ? (ch.value_sum - vl * static_cast<float>(ch.pending)) / static_cast<float>(n_eff)
                                  : fpu;
        const float score = q + config_.c_puct * ch.prior * sqrt_n / static_cast<float>(1 + n_eff);
        if (score > best_score) best_score = score, best = c;
      }
      n = best;
      path.push_back(n);
    }
    const Node& leaf = nodes_[n];
    if (leaf.state.is_terminal()) {
      backup_path(path, static_cast<float>(leaf.state.terminal_value()));
      ++playouts_;
      continue;
    }
    if (leaf.pending > 0) break;  // this step already evaluates that leaf: wait for it
    for (int32_t i : path) ++nodes_[i].pending;
    leaf.state.write_planes(planes + static_cast<size_t>(leaves_.size()) * plane_size);
    leaves_.push_back(std::move(path));
  }
  return static_cast<int>(leaves_.size());
}

void Tree::backup_path(const std::vector<int32_t>& path, float leaf_value) {
  // leaf_value is for the leaf's side to move; each node stores values for the player who moved into it.
  float v = -leaf_value;
  for (size_t i = path.size(); i-- > 0;) {
    Node& n = nodes_[path[i]];
    n.value_sum += v;
    ++n.visits;
    v = -v;
  }
}

void Tree::backup(const float* logits, const float* values) {
  const int actions = root_state().info().actions;
  for (size_t i = 0; i < leaves_.size(); ++i) {
    const auto& path = leaves_[i];
    for (int32_t n : path) --nodes_[n].pending;
    expand(path.back(), logits + i * actions);
    backup_path(path, values[i]);
    ++playouts_;
  }
  leaves_.clear();
}

void Tree::expand(int32_t node, const float* logits) {
  if (nodes_[node].num_children > 0) return;
  const State s = nodes_[node].state;
  const uint32_t legal = s.legal_mask();
  float mx = -1e30f;
  for (uint32_t m = legal; m; m &= m - 1) mx = std::max(mx, logits[std::countr_zero(m)]);
  float total = 0;
  const int32_t first = static_cast<int32_t>(nodes_.size());
  for (uint32_t m = legal; m; m &= m - 1) {
    const int a = std::countr_zero(m);
    const float p = std::exp(logits[a] - mx);
    total += p;
    nodes_.push_back(Node{.state = s.after(a), .action = static_cast<int16_t>(a), .prior = p});
  }
  Node& n = nodes_[node];
  n.first_child = first;
  n.num_children = static_cast<int16_t>(nodes_.size() - first);
  for (int32_t c = first; c < first + n.num_children; ++c) nodes_[c].prior /= total;
  if (node == 0 && config_.root_noise) add_root_noise();
}

void Tree::add_root_noise() {
  const Node& root = nodes_[0];
  if (root.num_children == 0) return;
  std::gamma_distribution<float> gamma(config_.dirichlet_alpha, 1.0f);
  std::vector<float> noise(root.num_children);
  float total = 0;
  for (float& x : noise) total += (x = gamma(rng_));
  const float eps = config_.dirichlet_eps;
  for (int i = 0; i < root.num_children; ++i) {
    Node& c = nodes_[root.first_child + i];
    c.prior = (1 - eps) * c.prior + eps * (total > 0 ? noise[i] / total : 1.0f / root.num_children);
  }
}

std::vector<int> Tree::visit_counts() const {
  std::vector<int> v(root_state().info().actions, 0);
  const Node& r = nodes_[0];
  for (int32_t c = r.first_child; c < r.first_child + r.num_children; ++c) v[nodes_[c].action] = nodes_[c].visits;
  return v;
}

std::vector<float> Tree::root_priors() const {
  std::vector<float> p(root_state().info().actions, 0.f);
  const Node& r = nodes_[0];
  for (int32_t c = r.first_child; c < r.first_child + r.num_children; ++c) p[nodes_[c].action] = nodes_[c].prior;
  return p;
}

float Tree::root_value() const {
  const Node& r = nodes_[0];
  return r.visits > 0 ? -r.value_sum / static_cast<float>(r.visits) : 0.f;
}

int Tree::choose(float temperature, std::mt19937_64& rng) const {
  const std::vector<int> visits = visit_counts();
  const uint32_t legal = root_state().legal_mask();
  EMBER_CHECK(legal != 0, "mcts: no move to choose (the game is over)");
  int best = std::countr_zero(legal);
  for (uint32_t m = legal; m; m &= m - 1)
    if (visits[std::countr_zero(m)] > visits[best]) best = std::countr_zero(m);
  if (temperature <= 1e-3f || visits[best] == 0) return best;
  std::vector<double> w(visits.size(), 0.0);
  double total = 0;
  for (size_t a = 0; a < visits.size(); ++a)
    total += (w[a] = visits[a] > 0 ? std::pow(static_cast<double>(visits[a]), 1.0 / temperature) : 0.0);
  double r = std::uniform_real_distribution<double>(0.0, total)(rng);
  for (size_t a = 0; a < w.size(); ++a) {
    if (w[a] > 0 && r < w[a]) return static_cast<int>(a);
    r -= w[a];
  }
  return best;
}

void Tree::advance(int action) {
  EMBER_CHECK(root_state().is_legal(action), "mcts: illegal move {} at the root", action + 1);
  const Node& r = nodes_[0];
  int32_t child = -1;
  for (int32_t c = r.first_child; c < r.first_child + r.num_children; ++c)
    if (nodes_[c].action == action) child = c;
  playouts_ = 0;
  leaves_.clear();
  if (child < 0) {
    const State next = root_state().after(action);
    nodes_.assign(1, Node{.state = next});
    return;
  }
  // Breadth-first copy of the subtree, so each node's children stay contiguous.
  std::vector<Node> kept{nodes_[child]};
  std::vector<int32_t> old{child};
  for (size_t i = 0; i < kept.size(); ++i) {
    const Node& o = nodes_[old[i]];
    if (o.num_children == 0) continue;
    kept[i].first_child = static_cast<int32_t>(kept.size());
    for (int32_t c = o.first_child; c < o.first_child + o.num_children; ++c) {
      kept.push_back(nodes_[c]);
      old.push_back(c);
    }
  }
  nodes_ = std::move(kept);
  for (Node& n : nodes_) n.pending = 0;
  if (config_.root_noise) add_root_noise();
}

int64_t BatchedSearch::step(const std::vector<Tree*>& trees) {
  if (trees.empty()) return 0;
  const GameInfo& g = trees[0]->root_state().info();
  const int plane_size = 3 * g.rows * g.cols;
  int lps = 0;
  for (const Tree* t : trees) lps = std::max(lps, t->config().leaves_per_step);
  const size_t slots = trees.size() * static_cast<size_t>(lps);
  if (planes_.size() < slots * plane_size) planes_.resize(slots * plane_size);
  if (logits_.size() < slots * g.actions) logits_.resize(slots * g.actions), values_.resize(slots);
  counts_.assign(trees.size(), 0);
  // Selection: tree i writes into its own slots; then the leaves are packed together.
  parallel_for(static_cast<int64_t>(trees.size()), 8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) counts_[i] = trees[i]->select(planes_.data() + i * lps * plane_size);
  });
  std::vector<int64_t> offset(trees.size());
  int64_t n = 0;
  for (size_t i = 0; i < trees.size(); ++i) {
    offset[i] = n;
    if (counts_[i] > 0 && n != static_cast<int64_t>(i) * lps)
      std::memmove(planes_.data() + n * plane_size, planes_.data() + i * lps * plane_size,
                   sizeof(float) * counts_[i] * plane_size);
    n += counts_[i];
  }
  if (n > 0) {
    evaluator_->evaluate(planes_.data(), n, logits_.data(), values_.data());
    ++batches_;
    evaluations_ += n;
  }
  parallel_for(static_cast<int64_t>(trees.size()), 8, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      if (counts_[i] > 0) trees[i]->backup(logits_.data() + offset[i] * g.actions, values_.data() + offset[i]);
  });
  return n;
}

void BatchedSearch::run(const std::vector<Tree*>& trees) {
  std::vector<Tree*> active;
  for (;;) {
    active.clear();
    for (Tree* t : trees)
      if (!t->done()) active.push_back(t);
    if (active.empty()) return;
    step(active);
  }
}

std::vector<float> visit_distribution(const std::vector<int>& visits) {
  std::vector<float> p(visits.size(), 0.f);
  double total = 0;
  for (int v : visits) total += v;
  if (total > 0)
    for (size_t a = 0; a < visits.size(); ++a) p[a] = static_cast<float>(visits[a] / total);
  return p;
}

}  // namespace ember::zoo::alphazero

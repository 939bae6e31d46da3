// The AlphaZero training loop: batched self-play, replay window, training with mirror
// augmentation, arena gating, checkpoints and metrics (see alphazero.h for the run folder).
#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "data/image.h"
#include "report/gnuplot.h"
#include "nn/optim/adam.h"
#include "nn/safetensors.h"
#include "tensor/parallel.h"
#include "zoo/alphazero/alphazero.h"
#include "zoo/common/progress.h"

namespace ember::zoo::alphazero {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kBest = "best.safetensors";
constexpr const char* kCandidate = "candidate.safetensors";
constexpr const char* kState = "train_state.safetensors";
constexpr const char* kReplay = "replay.safetensors";

TrainConfig resolve(TrainConfig c) {
  EMBER_CHECK(c.generations > 0 || c.hours > 0, "train alphazero: give --generations or --hours");
  EMBER_CHECK(c.games_per_gen >= 1 && c.sims >= 1, "train alphazero: --games-per-gen and --sims must be >= 1 (got {}, {})",
              c.games_per_gen, c.sims);
  EMBER_CHECK(c.batch >= 1 && c.lr > 0 && c.replay_window >= c.batch,
              "train alphazero: need batch >= 1, lr > 0 and replay window >= batch (got {}, {}, {})", c.batch, c.lr,
              c.replay_window);
  EMBER_CHECK(c.promote_at > 0 && c.promote_at <= 1, "train alphazero: --promote-at must be in (0, 1], got {}",
              c.promote_at);
  if (c.temp_moves == 0) c.temp_moves = c.game == GameKind::tictactoe ? 2 : 10;
  if (c.arena_sims == 0) c.arena_sims = c.sims;
  return c;
}

// What shapes the trajectory: a resumed run must have the same.
json config_json(const TrainConfig& c) {
  return {{"game", game_info(c.game).name}, {"games_per_gen", c.games_per_gen}, {"sims", c.sims},
          {"channels", c.channels}, {"blocks", c.blocks}, {"batch", c.batch}, {"train_steps", c.train_steps},
          {"lr", c.lr}, {"weight_decay", c.weight_decay}, {"replay_window", c.replay_window},
          {"arena_games", c.arena_games}, {"arena_sims", c.arena_sims}, {"promote_at", c.promote_at},
          {"temp_moves", c.temp_moves}, {"dirichlet_alpha", c.dirichlet_alpha}, {"seed", c.seed}};
}

json metrics_json(const GenerationMetrics& m) {
  return {{"generation", m.generation}, {"games", m.games}, {"positions", m.positions},
          {"replay_size", m.replay_size}, {"selfplay_seconds", m.selfplay_seconds},
          {"games_per_second", m.games_per_second}, {"evals_per_second", m.evals_per_second},
          {"first_player_wins", m.first_player_wins}, {"draws", m.draws}, {"policy_loss", m.policy_loss},
          {"value_loss", m.value_loss}, {"train_seconds", m.train_seconds}, {"arena_score", m.arena_score},
          {"promoted", m.promoted}, {"elo", m.elo}, {"seconds", m.seconds}};
}

GenerationMetrics metrics_from_json(const json& j) {
  GenerationMetrics m;
  m.generation = j.at("generation");
  m.games = j.at("games");
  m.positions = j.at("positions");
  m.replay_size = j.at("replay_size");
  m.selfplay_seconds = j.at("selfplay_seconds");
  m.games_per_second = j.at("games_per_second");
  m.evals_per_second = j.at("evals_per_second");
  m.first_player_wins = j.at("first_player_wins");
  m.draws = j.at("draws");
  m.policy_loss = j.at("policy_loss");
  m.value_loss = j.at("value_loss");
  m.train_seconds = j.at("train_seconds");
  m.arena_score = j.at("arena_score");
  m.promoted = j.at("promoted");
  m.elo = j.at("elo");
  m.seconds = j.at("seconds");
  return m;
}

// The replay window: positions as u8 planes [3, H, W], visit distributions and outcomes.
struct Replay {
  int64_t plane_size = 0, actions = 0;
  std::vector<uint8_t> planes = {};
  std::vector<float> pi = {}, z = {};
  int64_t size() const { return static_cast<int64_t>(z.size()); }
  void trim(int64_t window) {
    const int64_t drop = size() - window;
    if (drop <= 0) return;
    planes.erase(planes.begin(), planes.begin() + drop * plane_size);
    pi.erase(pi.begin(), pi.begin() + drop * actions);
    z.erase(z.begin(), z.begin() + drop);
  }
  void save(const std::string& path) const {
    const int64_t n = size();
    nn::save_safetensors(path, {{"planes", Tensor::from_buffer(planes.data(), {n, plane_size}, {.dtype = DType::u8})},
                                {"pi", Tensor::from_vector(pi, {n, actions})},
                                {"z", Tensor::from_vector(z, {n})}});
  }
  void load(const std::string& path) {
    nn::TensorDict d = nn::load_safetensors(path);
    const Tensor& p = d.at("planes");
    EMBER_CHECK(p.dim() == 2 && p.size(1) == plane_size, "train alphazero --resume: {} holds planes {}, expected [N,{}]",
                path, shape_str(p.shape()), plane_size);
    const uint8_t* src = p.data<uint8_t>();
    planes.assign(src, src + p.numel());
    pi = d.at("pi").to_vector<float>();
    z = d.at("z").to_vector<float>();
  }
};

struct SelfPlayStats {
  int64_t games = 0, positions = 0, first_wins = 0, draws = 0, evaluations = 0;
  double seconds = 0;
};

// Plays `games` games of the net against itself, all at once (one batched forward per step), and
// appends their positions to the replay in game order.
SelfPlayStats self_play(const TrainConfig& cfg, Evaluator& net, int64_t generation, Replay& replay) {
  const GameInfo& g = game_info(cfg.game);
  const int64_t plane_size = 3 * g.rows * g.cols;
  const auto start = std::chrono::steady_clock::now();
  struct Game {
    std::unique_ptr<Tree> tree;
    std::mt19937_64 rng;
    std::vector<std::vector<float>> planes, pi;
    std::vector<int> side;
    int result = 0;  // +1 first player won, -1 second, 0 draw
    bool over = false;
  };
  std::vector<Game> games(cfg.games_per_gen);
  const MctsConfig mc{.simulations = static_cast<int>(cfg.sims), .root_noise = true,
                      .dirichlet_alpha = cfg.dirichlet_alpha};
  for (int64_t i = 0; i < cfg.games_per_gen; ++i) {
    const uint64_t seed = cfg.seed * 1000003 + static_cast<uint64_t>(generation) * 7919 + static_cast<uint64_t>(i);
    games[i].tree = std::make_unique<Tree>(State(cfg.game), mc, seed);
    games[i].rng.seed(seed ^ 0x5bd1e995u);
  }
  BatchedSearch search(net);
  Progress progress(fmt::format("gen {} self-play", generation), cfg.games_per_gen, 1, cfg.progress);
  int64_t finished = 0;
  std::vector<Tree*> active;
  while (finished < cfg.games_per_gen) {
    active.clear();
    for (Game& gm : games)
      if (!gm.over && !gm.tree->done()) active.push_back(gm.tree.get());
    search.step(active);
    for (Game& gm : games) {
      if (gm.over || !gm.tree->done()) continue;
      const State& s = gm.tree->root_state();
      std::vector<float> planes(plane_size);
      s.write_planes(planes.data());
      gm.planes.push_back(std::move(planes));
      gm.pi.push_back(visit_distribution(gm.tree->visit_counts()));
      gm.side.push_back(s.num_moves() % 2);
      const float temp = s.num_moves() < cfg.temp_moves ? 1.0f : 0.0f;
      gm.tree->advance(gm.tree->choose(temp, gm.rng));
      const State& next = gm.tree->root_state();
      if (next.is_terminal()) {
        gm.over = true;
        gm.result = next.last_move_won() ? ((next.num_moves() - 1) % 2 == 0 ? 1 : -1) : 0;
        gm.tree.reset();
        progress.update(++finished, fmt::format("{} evals", search.evaluations()));
      }
    }
  }
  progress.finish();
  SelfPlayStats st;
  st.games = cfg.games_per_gen;
  st.evaluations = search.evaluations();
  for (const Game& gm : games) {
    st.first_wins += gm.result == 1;
    st.draws += gm.result == 0;
    for (size_t k = 0; k < gm.planes.size(); ++k) {
      for (float v : gm.planes[k]) replay.planes.push_back(static_cast<uint8_t>(v));
      replay.pi.insert(replay.pi.end(), gm.pi[k].begin(), gm.pi[k].end());
      const int winner_side = gm.result == 1 ? 0 : 1;
      replay.z.push_back(gm.result == 0 ? 0.f : (gm.side[k] == winner_side ? 1.f : -1.f));
      ++st.positions;
    }
  }
  replay.trim(cfg.replay_window);
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return st;
}

struct TrainStats {
  double policy_loss = 0, value_loss = 0, seconds = 0;
};

// SGD steps on minibatches drawn uniformly from the replay window, each position mirrored with
// probability 1/2. Loss (W6): cross-entropy against the visit distribution + (v - z)^2.
TrainStats train_steps(const TrainConfig& cfg, PolicyValueNet& net, nn::Adam& opt, const Replay& replay,
                       int64_t steps, std::mt19937_64& rng) {
  const GameInfo& g = game_info(cfg.game);
  const int64_t hw = g.rows * g.cols, ps = 3 * hw, A = g.actions, B = cfg.batch;
  const State proto(cfg.game);
  TrainStats st;
  const auto start = std::chrono::steady_clock::now();
  net.train();
  std::vector<float> x(B * ps), pi(B * A), z(B);
  std::uniform_int_distribution<int64_t> pick(0, replay.size() - 1);
  for (int64_t step = 0; step < steps; ++step) {
    for (int64_t b = 0; b < B; ++b) {
      const int64_t i = pick(rng);
      const bool flip = (rng() & 1) != 0;
      const uint8_t* src = replay.planes.data() + i * ps;
      for (int64_t p = 0; p < 3; ++p)
        for (int64_t r = 0; r < g.rows; ++r)
          for (int64_t c = 0; c < g.cols; ++c)
            x[b * ps + p * hw + r * g.cols + c] = src[p * hw + r * g.cols + (flip ? g.cols - 1 - c : c)];
      for (int64_t a = 0; a < A; ++a)
        pi[b * A + a] = replay.pi[i * A + (flip ? proto.mirror_action(static_cast<int>(a)) : a)];
      z[b] = replay.z[i];
    }
    opt.zero_grad();
    auto [logits, v] = net.forward_pv(Tensor::from_vector(x, {B, 3, g.rows, g.cols}));
    Tensor lp = cross_entropy_probs(logits, Tensor::from_vector(pi, {B, A}));
    Tensor lv = mse_loss(v.reshape({B}), Tensor::from_vector(z, {B}));
    Tensor loss = add(lp, lv);
    loss.backward();
    opt.step();
    st.policy_loss += lp.item() / static_cast<double>(steps);
    st.value_loss += lv.item() / static_cast<double>(steps);
  }
  st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return st;
}

void write_metrics(const fs::path& out, const std::vector<GenerationMetrics>& history) {
  std::string lines;
  for (const auto& m : history) lines += metrics_json(m).dump() + "\n";
  data::write_file_atomic((out / "metrics.jsonl").string(), std::vector<uint8_t>(lines.begin(), lines.end()));
}

void plot_curves(const fs::path& out, const std::vector<GenerationMetrics>& history, const std::string& game) {
  std::string rows;
  for (const auto& m : history)
    rows += fmt::format("{} {:.5f} {:.5f} {:.2f} {:.4f}\n", m.generation, m.policy_loss, m.value_loss, m.elo,
                        m.arena_score);
  const std::string script = fmt::format(
      "set terminal pngcairo size 1200,420\nset output 'out.png'\nset multiplot layout 1,3 title "
      "'AlphaZero {}'\nset xlabel 'generation'\nset grid\nset key top right\nset ylabel 'loss'\n"
      "plot 'curves.dat' using 1:2 with lines lw 2 title 'policy (cross-entropy)', '' using 1:3 with lines lw 2 "
      "title 'value (MSE)'\nset ylabel 'Elo (gen 0 = 0)'\nset key top left\n"
      "plot 'curves.dat' using 1:4 with linespoints lw 2 lc rgb '#2a9d3a' title 'best net'\n"
      "set ylabel 'arena score'\nset yrange [0:1]\n"
      "plot 'curves.dat' using 1:5 with points pt 7 title 'candidate vs best', 0.55 with lines dt 2 title "
      "'promotion'\nunset multiplot\n",
      game);
  report::run_gnuplot(script, {{"curves.dat", rows}}, (out / "curves.png").string());
}

double elo_of(double score) {
  const double p = std::clamp(score, 0.02, 0.98);
  return 400.0 * std::log10(p / (1 - p));
}

}  // namespace

void save_net(const std::string& path, PolicyValueNet& net, int64_t generation, double elo) {
  const NetConfig& c = net.config();
  nn::save_safetensors(path, net.state_dict(),
                       {{"ember.model", std::string("alphazero-") + game_info(c.game).name},
                        {"alphazero.channels", std::to_string(c.channels)},
                        {"alphazero.blocks", std::to_string(c.blocks)},
                        {"alphazero.generation", std::to_string(generation)},
                        {"alphazero.elo", fmt::format("{:.17g}", elo)}});
}

LoadedNet load_net(const std::string& path) {
  EMBER_CHECK(fs::exists(path), "alphazero: no network file '{}'", path);
  nn::TensorDict d = nn::load_safetensors(path);
  auto meta = [&](const std::string& k) {
    auto it = d.metadata.find(k);
    EMBER_CHECK(it != d.metadata.end(), "alphazero: '{}' is not an AlphaZero network (no metadata {})", path, k);
    return it->second;
  };
  const std::string model = meta("ember.model");
  EMBER_CHECK(model.rfind("alphazero-", 0) == 0, "alphazero: '{}' is not an AlphaZero network (ember.model is '{}')",
              path, model);
  LoadedNet r;
  r.net = std::make_shared<PolicyValueNet>(NetConfig{.game = parse_game(model.substr(10)),
                                                     .channels = std::stoll(meta("alphazero.channels")),
                                                     .blocks = std::stoll(meta("alphazero.blocks"))});
  r.net->load_state_dict(d.tensors);
  r.net->eval();
  r.generation = std::stoll(meta("alphazero.generation"));
  r.elo = std::stod(meta("alphazero.elo"));
  return r;
}

LoadedNet load_net(const std::string& path, GameKind game) {
  LoadedNet r = load_net(path);
  EMBER_CHECK(r.net->config().game == game, "alphazero: {} holds a {} network, not {}", path,
              game_info(r.net->config().game).name, game_info(game).name);
  return r;
}

TrainResult train(const TrainConfig& config) {
  const TrainConfig cfg = resolve(config);
  if (cfg.threads > 0) set_num_threads(cfg.threads);
  const fs::path out(cfg.out);
  fs::create_directories(out);
  const GameInfo& g = game_info(cfg.game);
  const NetConfig nc{.game = cfg.game, .channels = cfg.channels, .blocks = cfg.blocks};

  manual_seed(cfg.seed);
  PolicyValueNet candidate(nc), best(nc);
  best.load_state_dict(candidate.state_dict());
  nn::Adam opt(candidate.parameters(), {.lr = cfg.lr, .weight_decay = cfg.weight_decay});
  Replay replay{.plane_size = 3 * g.rows * g.cols, .actions = g.actions};
  TrainResult result;
  result.best = (out / kBest).string();
  int64_t generation = 0;
  double elo = 0;

  if (cfg.resume && fs::exists(out / kState)) {
    std::map<std::string, std::string> meta = opt.load((out / kState).string());
    const json saved = json::parse(meta.at("alphazero.config"));
    EMBER_CHECK(saved == config_json(cfg), "train alphazero --resume: {} was written by a run with {}, not {}",
                (out / kState).string(), saved.dump(), config_json(cfg).dump());
    generation = std::stoll(meta.at("alphazero.generation"));
    elo = std::stod(meta.at("alphazero.elo"));
    LoadedNet b = load_net((out / kBest).string()), c = load_net((out / kCandidate).string());
    EMBER_CHECK(b.generation == generation && c.generation == generation,
                "train alphazero --resume: files of generations {}, {} and {} in {}", generation, b.generation,
                c.generation, out.string());
    best.load_state_dict(b.net->state_dict());
    candidate.load_state_dict(c.net->state_dict());
    replay.load((out / kReplay).string());
    for (const auto& j : json::parse(meta.at("alphazero.history"))) result.history.push_back(metrics_from_json(j));
    fmt::print("resuming {} from generation {} ({} positions in the replay window)\n", g.name, generation,
               replay.size());
  } else if (cfg.resume) {
    fmt::print("no checkpoint in {}; starting a new run\n", out.string());
  }
  fmt::print("alphazero {}: {} parameters ({} channels, {} blocks), {} games x {} sims per generation, "
             "arena {} games x {} sims, {} threads\n",
             g.name, candidate.num_parameters(), cfg.channels, cfg.blocks, cfg.games_per_gen, cfg.sims,
             cfg.arena_games, cfg.arena_sims, get_num_threads());

  const auto run_start = std::chrono::steady_clock::now();
  double last_gen_seconds = 0;
  for (int64_t run_gens = 0;; ++run_gens) {
    if (cfg.generations > 0 && generation >= cfg.generations) break;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();
    if (cfg.hours > 0 && elapsed + last_gen_seconds > cfg.hours * 3600) {
      fmt::print("time budget of {} h reached after {} generations of this run\n", cfg.hours, run_gens);
      break;
    }
    const auto gen_start = std::chrono::steady_clock::now();
    ++generation;
    GenerationMetrics m;
    m.generation = generation;
    best.eval();
    InferenceNet best_inf(best);
    const SelfPlayStats sp = self_play(cfg, best_inf, generation, replay);
    m.games = sp.games;
    m.positions = sp.positions;
    m.replay_size = replay.size();
    m.selfplay_seconds = sp.seconds;
    m.games_per_second = sp.games / sp.seconds;
    m.evals_per_second = sp.evaluations / sp.seconds;
    m.first_player_wins = static_cast<double>(sp.first_wins) / sp.games;
    m.draws = static_cast<double>(sp.draws) / sp.games;

    std::mt19937_64 rng(cfg.seed * 6364136223846793005ull + static_cast<uint64_t>(generation));
    const int64_t steps = cfg.train_steps > 0 ? cfg.train_steps : std::max<int64_t>(8, sp.positions * 4 / cfg.batch);
    if (replay.size() >= cfg.batch) {
      const TrainStats ts = train_steps(cfg, candidate, opt, replay, steps, rng);
      m.policy_loss = ts.policy_loss;
      m.value_loss = ts.value_loss;
      m.train_seconds = ts.seconds;
    }
    candidate.eval();
    InferenceNet cand_inf(candidate);
    if (cfg.arena_games > 0) {
      const MatchResult ar = arena(cfg.game, cand_inf, best_inf, cfg.arena_games, cfg.arena_sims,
                                   cfg.seed * 31 + static_cast<uint64_t>(generation));
      m.arena_score = ar.score();
    } else {
      m.arena_score = 1;
    }
    m.promoted = m.arena_score >= cfg.promote_at;
    if (m.promoted) {
      best.load_state_dict(candidate.state_dict());
      if (cfg.arena_games > 0) elo += elo_of(m.arena_score);
    }
    m.elo = elo;
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - gen_start).count();
    last_gen_seconds = m.seconds;
    result.history.push_back(m);

    // Checkpoint: replay and networks first, the state file (which names the generation) last.
    replay.save((out / kReplay).string());
    save_net((out / kCandidate).string(), candidate, generation, elo);
    save_net(result.best, best, generation, elo);
    json hist = json::array();
    for (const auto& h : result.history) hist.push_back(metrics_json(h));
    opt.save((out / kState).string(), {{"alphazero.generation", std::to_string(generation)},
                                       {"alphazero.elo", fmt::format("{:.17g}", elo)},
                                       {"alphazero.history", hist.dump()},
                                       {"alphazero.config", config_json(cfg).dump()}});
    write_metrics(out, result.history);
    if (cfg.plots) plot_curves(out, result.history, g.name);
    fmt::print("gen {}: self-play {} games {:.2f} games/s {:.0f} evals/s ({} positions, replay {}, first-player "
               "wins {:.0f}% draws {:.0f}%) | loss policy {:.4f} value {:.4f} ({:.1f} s) | arena {:.3f} {} | Elo "
               "{:.0f} | {:.1f} s\n",
               generation, m.games, m.games_per_second, m.evals_per_second, m.positions, m.replay_size,
               100 * m.first_player_wins, 100 * m.draws, m.policy_loss, m.value_loss, m.train_seconds,
               m.arena_score, m.promoted ? "promoted" : "kept", m.elo, m.seconds);
    std::fflush(stdout);
  }
  return result;
}

}  // namespace ember::zoo::alphazero

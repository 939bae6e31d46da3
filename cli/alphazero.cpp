// `ember train alphazero`, `ember eval alphazero` and `ember play`: the AlphaZero agents of zoo/alphazero.
#include <chrono>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/usage.h"
#include "tensor/parallel.h"
#include "zoo/alphazero/alphazero.h"
#include "zoo/alphazero/solver.h"

namespace ember::cli {

namespace {

namespace az = zoo::alphazero;

void add_train_alphazero(CLI::App& train) {
  auto* cmd = train.add_subcommand("alphazero", "AlphaZero self-play training for Connect Four or tic-tac-toe");
  auto cfg = std::make_shared<az::TrainConfig>();
  auto game = std::make_shared<std::string>("connect4");
  cmd->add_option("--game", *game, "connect4 or tictactoe")->check(CLI::IsMember({"connect4", "tictactoe"}))
      ->capture_default_str();
  cmd->add_option("--generations", cfg->generations, "stop after this many generations (in total)")
      ->check(non_negative());
  cmd->add_option("--hours", cfg->hours, "stop before this run's wall time passes H hours")->check(non_negative());
  cmd->add_option("--games-per-gen", cfg->games_per_gen, "self-play games per generation (played at once)")
      ->check(positive())->capture_default_str();
  cmd->add_option("--sims", cfg->sims, "MCTS simulations per move")->check(positive())->capture_default_str();
  cmd->add_option("--channels", cfg->channels, "residual tower width (W6: 64)")->check(positive())
      ->capture_default_str();
  cmd->add_option("--blocks", cfg->blocks, "residual blocks (W6: 4)")->check(non_negative())->capture_default_str();
  cmd->add_option("--batch", cfg->batch, "training minibatch")->check(positive())->capture_default_str();
  cmd->add_option("--train-steps", cfg->train_steps, "training steps per generation (0: 4 x new positions / batch)")
      ->check(non_negative());
  cmd->add_option("--lr", cfg->lr, "Adam learning rate")->check(positive())->capture_default_str();
  cmd->add_option("--replay-window", cfg->replay_window, "positions kept for training")->check(positive())
      ->capture_default_str();
  cmd->add_option("--arena-games", cfg->arena_games, "arena games per generation (0: always promote)")
      ->check(non_negative())->capture_default_str();
  cmd->add_option("--arena-sims", cfg->arena_sims, "simulations per arena move (0: --sims)")
      ->check(non_negative());
  cmd->add_option("--promote-at", cfg->promote_at, "arena score that promotes the candidate")->capture_default_str();
  cmd->add_option("--temp-moves", cfg->temp_moves, "opening moves sampled at temperature 1 (0: 2 / 10)")
      ->check(non_negative());
  cmd->add_option("--seed", cfg->seed, "seed of the weights and of self-play")->capture_default_str();
  cmd->add_option("--out", cfg->out, "run folder")->capture_default_str();
  cmd->add_flag("--resume", cfg->resume, "continue from the checkpoint in --out");
  cmd->add_option("--threads", cfg->threads, "CPU threads (0: all cores)")->check(non_negative());
  cmd->add_flag_function("--no-progress", [cfg](int64_t) { cfg->progress = false; }, "no progress line");
  cmd->add_flag_function("--no-plots", [cfg](int64_t) { cfg->plots = false; }, "skip curves.png");
  cmd->callback([cfg, game] {
    cfg->game = az::parse_game(*game);
    az::TrainResult r = az::train(*cfg);
    if (r.history.empty()) return;
    fmt::print("final: generation {}, Elo {:.0f}; best network {}\n", r.history.back().generation,
               r.history.back().elo, r.best);
  });
}

az::LoadedNet load_agent_net(const std::string& checkpoint, az::GameKind game) {
  std::string path = checkpoint.empty() ? az::default_weights(game) : checkpoint;
  EMBER_CHECK(!path.empty(), "play: no {} network shipped; train one (ember train alphazero --game {}) and pass "
              "--checkpoint RUN/best.safetensors", az::game_info(game).name, az::game_info(game).name);
  az::LoadedNet n = az::load_net(path, game);
  fmt::print("network {} (generation {}, {} parameters)\n", path, n.generation, n.net->num_parameters());
  return n;
}

// Agent vs opponent, `games` games with each side first; one summary line per side.
az::MatchResult run_match(az::GameKind game, az::Agent& agent, az::Agent& opp, int64_t games, bool show) {
  az::MatchResult total;
  for (bool first : {true, false}) {
    const auto t0 = std::chrono::steady_clock::now();
    const az::MatchResult r = az::play_match(game, agent, opp, games, first);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (show)
      fmt::print("{} vs {} ({} first): {} wins, {} draws, {} losses of {} (score {:.2f}) [{:.0f} s]\n", agent.name(),
                 opp.name(), first ? "agent" : "opponent", r.wins, r.draws, r.losses, games, r.score(), sec);
    total.wins += r.wins, total.draws += r.draws, total.losses += r.losses;
  }
  return total;
}

void print_analysis(const az::NetAgent& agent, const az::State& s) {
  std::string line = "visits:";
  for (int v : agent.last_visits()) line += fmt::format(" {:>4}", v);
  fmt::print("analysis: value {:+.3f} for {} to move | {}\n", agent.last_value(), s.num_moves() % 2 == 0 ? "X" : "O",
             line);
}

void play_human(az::GameKind game, az::NetAgent& agent, bool human_first, bool analysis) {
  az::State s(game);
  const int actions = s.info().actions;
  fmt::print("you play {}; moves are {} 1..{}; q quits\n", human_first ? "X (first)" : "O (second)",
             game == az::GameKind::connect4 ? "columns" : "cells", actions);
  while (!s.is_terminal()) {
    fmt::print("\n{}", s.to_string());
    if ((s.num_moves() % 2 == 0) == human_first) {
      fmt::print("your move: ");
      std::fflush(stdout);
      std::string line;
      if (!std::getline(std::cin, line) || line == "q") {
        fmt::print("\nbye\n");
        return;
      }
      int m = 0;
      std::istringstream in(line);
      if (!(in >> m) || !s.is_legal(m - 1)) {
        fmt::print("not a legal move: '{}' (legal: {})\n", line, [&] {
          std::string l;
          for (int a : s.legal_actions()) l += fmt::format("{} ", a + 1);
          return l;
        }());
        continue;
      }
      s.play(m - 1);
    } else {
      const int m = agent.choose(s);
      if (analysis) print_analysis(agent, s);
      fmt::print("agent plays {}\n", m + 1);
      s.play(m);
    }
  }
  fmt::print("\n{}", s.to_string());
  if (!s.last_move_won()) fmt::print("draw\n");
  else fmt::print("{} wins\n", ((s.num_moves() - 1) % 2 == 0) == human_first ? "you" : "the agent");
}

void add_play(CLI::App& app) {
  auto* cmd = app.add_subcommand("play", "play against an AlphaZero agent, or run agent-vs-agent matches (--vs)");
  struct Args {
    std::string game = "connect4", checkpoint, first = "human", vs;
    int64_t sims = 400, games = 10, random_opening = 0;
    bool analysis = false;
    uint64_t seed = 0;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("game", a->game, "connect4 or tictactoe")->check(CLI::IsMember({"connect4", "tictactoe"}))
      ->capture_default_str();
  cmd->add_option("--checkpoint", a->checkpoint, "network file (default: the shipped Connect Four network)");
  cmd->add_option("--sims", a->sims, "MCTS simulations per agent move (0: raw policy)")->check(non_negative())
      ->capture_default_str();
  cmd->add_option("--first", a->first, "who moves first against a human")->check(CLI::IsMember({"human", "agent"}))
      ->capture_default_str();
  cmd->add_flag("--show-analysis", a->analysis, "print the agent's value estimate and visit counts");
  cmd->add_option("--vs", a->vs,
                  "opponent for a match: random, mcts:<playouts>, alphabeta:<depth>, solver, net:<checkpoint>");
  cmd->add_option("--games", a->games, "match games with each side first")->check(positive())
      ->capture_default_str();
  cmd->add_option("--random-opening", a->random_opening, "agent moves sampled (temperature 1) at the start")
      ->check(non_negative());
  cmd->add_option("--seed", a->seed, "seed of the opponents' randomness")->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads (0: all cores)")->check(non_negative());
  cmd->callback([a] {
    if (a->threads > 0) set_num_threads(a->threads);
    const az::GameKind game = az::parse_game(a->game);
    std::unique_ptr<az::Agent> opp;
    if (!a->vs.empty()) opp = az::make_opponent(a->vs, game, a->seed, a->sims);
    az::LoadedNet net = load_agent_net(a->checkpoint, game);
    az::NetAgent agent(*net.net, a->sims, a->seed + 7);
    agent.set_random_opening(a->random_opening);
    if (!opp) return play_human(game, agent, a->first == "human", a->analysis);
    const az::MatchResult t = run_match(game, agent, *opp, a->games, true);
    fmt::print("total: {} wins, {} draws, {} losses of {} (score {:.2f})\n", t.wins, t.draws, t.losses,
               2 * a->games, t.score());
  });
}

void add_eval_alphazero(CLI::App& eval) {
  auto* cmd = eval.add_subcommand("alphazero", "evaluate an AlphaZero network against baselines and the solver");
  struct Args {
    std::string game = "connect4", checkpoint, labels, solve;
    std::vector<std::string> vs;
    int64_t sims = 200, games = 10, accuracy = 0, min_stones = 16;
    uint64_t seed = 0;
    int threads = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--game", a->game, "connect4 or tictactoe")->check(CLI::IsMember({"connect4", "tictactoe"}))
      ->capture_default_str();
  cmd->add_option("--checkpoint", a->checkpoint, "network file (default: the shipped Connect Four network)");
  cmd->add_option("--sims", a->sims, "MCTS simulations per agent move")->check(non_negative())
      ->capture_default_str();
  cmd->add_option("--vs", a->vs, "opponents (each: random, mcts:<playouts>, alphabeta:<depth>, solver, net:<checkpoint>)")
      ->delimiter(',');
  cmd->add_option("--games", a->games, "games with each side first, per opponent (0: no matches)")
      ->check(non_negative())
      ->capture_default_str();
  cmd->add_option("--accuracy", a->accuracy, "solver-labelled positions for move accuracy (0: none)")
      ->check(non_negative());
  cmd->add_option("--min-stones", a->min_stones, "fewest stones in a labelled position")->capture_default_str();
  cmd->add_option("--labels", a->labels, "file caching the labelled positions");
  cmd->add_option("--solve", a->solve, "only solve this Connect Four position (moves, e.g. 4453) and time it");
  cmd->add_option("--seed", a->seed, "seed of the opponents and the position set")->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads (0: all cores)")->check(non_negative());
  cmd->callback([a] {
    if (a->threads > 0) set_num_threads(a->threads);
    const az::GameKind game = az::parse_game(a->game);
    if (!a->solve.empty()) {
      const az::State s = az::State::from_moves(az::GameKind::connect4, a->solve == "-" ? "" : a->solve);
      az::Solver solver(24);
      const auto t0 = std::chrono::steady_clock::now();
      const int score = solver.solve(s);
      const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      fmt::print("{}score {} for the side to move ({}), {} nodes, {:.2f} s\n", s.to_string(), score,
                 score > 0 ? "win" : (score < 0 ? "loss" : "draw"), solver.nodes(), sec);
      return;
    }
    az::LoadedNet net = load_agent_net(a->checkpoint, game);
    for (const std::string& spec : a->vs) {
      if (a->games == 0) break;
      std::unique_ptr<az::Agent> opp = az::make_opponent(spec, game, a->seed, a->sims);
      az::NetAgent agent(*net.net, a->sims, a->seed + 7);
      run_match(game, agent, *opp, a->games, true);
    }
    if (a->accuracy > 0) {
      EMBER_CHECK(game == az::GameKind::connect4, "eval alphazero: --accuracy needs Connect Four");
      const auto t0 = std::chrono::steady_clock::now();
      const auto positions = az::labelled_positions(a->accuracy, static_cast<int>(a->min_stones), a->seed, a->labels);
      // Positions where the choice matters (some legal move is not optimal), and what a uniformly
      // random mover would score (optimal moves / legal moves, averaged).
      std::vector<az::LabelledPosition> decisive;
      size_t fewest = 42;
      double random_all = 0, random_decisive = 0;
      for (const auto& p : positions) {
        fewest = std::min(fewest, p.moves.size());
        const double legal = static_cast<double>(az::State::from_moves(game, p.moves).legal_actions().size());
        random_all += static_cast<double>(p.optimal.size()) / legal;
        if (static_cast<double>(p.optimal.size()) < legal) {
          decisive.push_back(p);
          random_decisive += static_cast<double>(p.optimal.size()) / legal;
        }
      }
      fmt::print("{} labelled positions ({} to 40 stones) in {:.0f} s, {} where some move is not optimal\n",
                 positions.size(), fewest, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                 decisive.size());
      auto report = [&](const std::string& who, az::Agent& agent) {
        fmt::print("move accuracy of {}: {:.1f}% of all, {:.1f}% where it matters\n", who,
                   100 * az::move_accuracy(agent, positions), 100 * az::move_accuracy(agent, decisive));
      };
      fmt::print("move accuracy of a random mover: {:.1f}% of all, {:.1f}% where it matters\n",
                 100 * random_all / static_cast<double>(positions.size()),
                 decisive.empty() ? 0.0 : 100 * random_decisive / static_cast<double>(decisive.size()));
      az::NetAgent raw(*net.net, 0), searched(*net.net, a->sims);
      report("the raw policy", raw);
      report(fmt::format("MCTS {} sims", a->sims), searched);
      for (const std::string& spec : a->vs) {
        if (spec == "solver") continue;
        std::unique_ptr<az::Agent> opp = az::make_opponent(spec, game, a->seed, a->sims);
        report(spec.starts_with("net:") ? spec : opp->name(), *opp);
      }
    }
  });
}

}  // namespace

void add_alphazero_commands(const ZooCommands& zoo) {
  add_train_alphazero(*zoo.train);
  add_eval_alphazero(*zoo.eval);
  add_play(*zoo.app);
}

}  // namespace ember::cli

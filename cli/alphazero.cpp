// `ember train alphazero`, `ember eval alphazero` and `ember play`: the AlphaZero agents of zoo/alphazero.
#include <fmt/format.h>

#include "cli/commands.h"
#include "zoo/alphazero/alphazero.h"

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
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--hours", cfg->hours, "stop before this run's wall time passes H hours")->check(CLI::NonNegativeNumber);
  cmd->add_option("--games-per-gen", cfg->games_per_gen, "self-play games per generation (played at once)")
      ->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--sims", cfg->sims, "MCTS simulations per move")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--channels", cfg->channels, "residual tower width (W6: 64)")->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--blocks", cfg->blocks, "residual blocks (W6: 4)")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--batch", cfg->batch, "training minibatch")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--train-steps", cfg->train_steps, "training steps per generation (0: 4 x new positions / batch)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--lr", cfg->lr, "Adam learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--replay-window", cfg->replay_window, "positions kept for training")->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--arena-games", cfg->arena_games, "arena games per generation (0: always promote)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_option("--arena-sims", cfg->arena_sims, "simulations per arena move (0: --sims)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--promote-at", cfg->promote_at, "arena score that promotes the candidate")->capture_default_str();
  cmd->add_option("--temp-moves", cfg->temp_moves, "opening moves sampled at temperature 1 (0: 2 / 10)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", cfg->seed, "seed of the weights and of self-play")->capture_default_str();
  cmd->add_option("--out", cfg->out, "run folder")->capture_default_str();
  cmd->add_flag("--resume", cfg->resume, "continue from the checkpoint in --out");
  cmd->add_option("--threads", cfg->threads, "CPU threads (0: all cores)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--no-progress{false}", cfg->progress, "no progress line");
  cmd->add_flag("--no-plots{false}", cfg->plots, "skip curves.png");
  cmd->callback([cfg, game] {
    cfg->game = az::parse_game(*game);
    az::TrainResult r = az::train(*cfg);
    if (r.history.empty()) return;
    fmt::print("final: generation {}, Elo {:.0f}; best network {}\n", r.history.back().generation,
               r.history.back().elo, r.best);
  });
}

}  // namespace

void add_alphazero_commands(const ZooCommands& zoo) {
  add_train_alphazero(*zoo.train);
}

}  // namespace ember::cli

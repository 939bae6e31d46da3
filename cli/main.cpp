// ember: the command-line entry point. Subcommands are registered from their own files
// (commands.h); usage errors exit 2 with a "did you mean" where one fits, runtime errors exit 1
// (usage.h), never a stack trace.
#include <cstdio>

#include "cli/commands.h"
#include "cli/usage.h"

int main(int argc, char** argv) {
  CLI::App app{"ember: a from-scratch deep-learning framework", "ember"};
  app.require_subcommand(1);
  app.set_version_flag("--version", ember::cli::version_text(), "print the version, commit, CPU ISA and CUDA status");
  ember::cli::add_tune_command(app);
  ember::cli::add_study_command(app);
  ember::cli::add_launch_command(app);
  ember::cli::add_nas_command(app);

  ember::cli::ZooCommands zoo{.app = &app,
                              .train = app.add_subcommand("train", "train a zoo model"),
                              .eval = app.add_subcommand("eval", "evaluate a zoo checkpoint"),
                              .data = app.add_subcommand("data", "build a data set outside the source tree")};
  zoo.train->require_subcommand(1);
  zoo.eval->require_subcommand(1);
  zoo.data->require_subcommand(1);
  ember::cli::add_fmnist_commands(zoo);
  ember::cli::add_lm_commands(zoo);
  ember::cli::add_colorize_commands(zoo);
  ember::cli::add_alphazero_commands(zoo);

  auto* completion = app.add_subcommand("completion", "print a shell completion script");
  completion->add_subcommand("bash", "bash: source <(ember completion bash)")->callback([&app] {
    std::fputs(ember::cli::bash_completion(app).c_str(), stdout);
  });
  completion->require_subcommand(1);

  return ember::cli::run(app, argc, argv);
}

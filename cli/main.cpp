// ember: the command-line entry point. Subcommands are registered from their own files
// (commands.h); errors print one line and exit non-zero, never a stack trace.
#include <cstdio>
#include <exception>

#include "cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"ember: a from-scratch deep-learning framework"};
  app.require_subcommand(1);
  ember::cli::add_tune_command(app);
  ember::cli::add_study_command(app);

  ember::cli::ZooCommands zoo{.app = &app,
                              .train = app.add_subcommand("train", "train a zoo model"),
                              .eval = app.add_subcommand("eval", "evaluate a zoo checkpoint"),
                              .data = app.add_subcommand("data", "build a data set outside the source tree")};
  zoo.train->require_subcommand(1);
  zoo.eval->require_subcommand(1);
  zoo.data->require_subcommand(1);
  ember::cli::add_fmnist_commands(zoo);
  ember::cli::add_alphazero_commands(zoo);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ember: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

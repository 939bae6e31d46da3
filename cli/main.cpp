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
  ember::cli::add_train_command(app);
  ember::cli::add_eval_command(app);
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

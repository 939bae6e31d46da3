// The `ember` command's subcommands. Each file registers one subcommand on the app; main.cpp
// calls them all. A subcommand's callback throws ember::Error (or any std::exception) on bad
// input; main turns that into one line on stderr and a non-zero exit.
#pragma once

#include <CLI/CLI.hpp>

namespace ember::cli {

void add_tune_command(CLI::App& app);   // tune.cpp: run a study on a suite objective
void add_study_command(CLI::App& app);  // study.cpp: list / show / best / export / plot a storage
void add_train_command(CLI::App& app);  // fmnist.cpp (and later zoo files): train a zoo model
void add_eval_command(CLI::App& app);   // fmnist.cpp: evaluate a zoo checkpoint

}  // namespace ember::cli

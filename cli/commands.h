// The `ember` command's subcommands. Each file registers its subcommands on the app; main.cpp
// calls them all. A subcommand's callback throws ember::Error (or any std::exception) on bad
// input; main turns that into one line on stderr and a non-zero exit.
//
// Zoo models share three parent commands (`ember train <model>`, `ember eval <model>`,
// `ember data <set>`): main.cpp creates them and hands them to each model's add_*_commands, which
// may also add top-level commands of its own (e.g. `ember generate`, `ember play`).
#pragma once

#include <CLI/CLI.hpp>

namespace ember::cli {

struct ZooCommands {
  CLI::App* app;    // the top-level `ember` app, for a model's own top-level commands
  CLI::App* train;  // `ember train`
  CLI::App* eval;   // `ember eval`
  CLI::App* data;   // `ember data`
};

void add_tune_command(CLI::App& app);   // tune.cpp: run a study on a suite objective
void add_study_command(CLI::App& app);  // study.cpp: list / show / best / export / plot a storage
void add_fmnist_commands(const ZooCommands& zoo);  // fmnist.cpp: train / eval fmnist
void add_launch_command(CLI::App& app);  // launch.cpp: run N ranks of a distributed job
void add_nas_command(CLI::App& app);     // nas.cpp: nas fmnist / random / bench (DARTS search)
void add_lm_commands(const ZooCommands& zoo);      // lm.cpp: data kjv, train / eval lm, generate, quantize
void add_colorize_commands(const ZooCommands& zoo);  // colorize.cpp: data openmoji, train / eval colorize, colorize
void add_alphazero_commands(const ZooCommands& zoo);  // alphazero.cpp: train / eval alphazero, play

}  // namespace ember::cli

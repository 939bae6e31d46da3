// How the `ember` command answers mistakes: readable validators for numeric flags, "did you mean"
// suggestions for mistyped commands and flags, and one exit-code rule (0 success, 1 runtime
// error, 2 usage error), shared by every subcommand file.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace ember::cli {

// Validators whose messages read "must be > 0 (got 0)" instead of CLI11's range bounds.
CLI::Validator positive();      // > 0
CLI::Validator non_negative();  // >= 0
CLI::Validator at_least(double lo);
CLI::Validator in_range(double lo, double hi);  // lo <= x <= hi

// Levenshtein distance (insertions, deletions, substitutions; each costs 1).
int edit_distance(std::string_view a, std::string_view b);

// The closest of `candidates` to `word` when it is close enough to be a likely typo (distance
// <= 2, or <= 1/3 of the word, or a prefix of exactly one candidate); "" otherwise.
std::string closest(std::string_view word, const std::vector<std::string>& candidates);

// After a failed parse of argv[1..]: a "did you mean" line for the first token that names no
// command or flag of the command it was given to ("" when there is nothing to suggest).
std::string suggestion(const CLI::App& app, const std::vector<std::string>& args);

// Parses and runs `app`: --help and --version print and return 0; a usage error prints one line
// naming the command, a suggestion if there is one and where to find help, and returns 2; an
// exception from a command's callback prints "ember: error: <what>" and returns 1.
int run(CLI::App& app, int argc, char** argv);

// `ember completion bash`: a bash completion script generated from the command tree.
std::string bash_completion(const CLI::App& app);

// The --version text: version, git commit, the CPU ISA in use, CUDA built in / devices found.
std::string version_text();

}  // namespace ember::cli

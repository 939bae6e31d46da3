// PNG plots of a study through gnuplot (data and script go to a temporary directory):
// the optimization history (each trial's value and the best so far against trial number) and
// a parameter-vs-value scatter. Throws ember::Error if gnuplot is missing or fails.
#pragma once

#include <string>
#include <vector>

#include "hpo/trial.h"

namespace ember::hpo {

// Runs a gnuplot `script` in a fresh temporary directory holding `files` (name -> content); the
// script writes its PNG to 'out.png', which is moved to png_path (temp name + rename). Throws
// ember::Error naming png_path when gnuplot is missing or fails. Shared by the zoo's curve plots.
void run_gnuplot(const std::string& script, const std::vector<std::pair<std::string, std::string>>& files,
                 const std::string& png_path);
// A gnuplot single-quoted string literal.
std::string gnuplot_quote(const std::string& s);

void plot_history(const std::vector<TrialPtr>& trials, Direction direction, const std::string& png_path,
                  const std::string& title = "optimization history");
// One panel per parameter (numeric on its own scale, log axis for log params; categorical by index).
void plot_params(const std::vector<TrialPtr>& trials, const std::string& png_path,
                 const std::string& title = "parameters vs value");

}  // namespace ember::hpo

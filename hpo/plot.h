// PNG plots of a study through gnuplot (report/gnuplot.h runs it):
// the optimization history (each trial's value and the best so far against trial number) and
// a parameter-vs-value scatter. Throws ember::Error if gnuplot is missing or fails.
#pragma once

#include <string>
#include <vector>

#include "hpo/trial.h"

namespace ember::hpo {

void plot_history(const std::vector<TrialPtr>& trials, Direction direction, const std::string& png_path,
                  const std::string& title = "optimization history");
// One panel per parameter (numeric on its own scale, log axis for log params; categorical by index).
void plot_params(const std::vector<TrialPtr>& trials, const std::string& png_path,
                 const std::string& title = "parameters vs value");

}  // namespace ember::hpo

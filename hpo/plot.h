// PNG plots of a study through gnuplot (report/gnuplot.h runs it):
// the optimization history (each trial's value and the best so far against trial number; a log
// value axis when the values are positive and span more than two decades), a parameter-vs-value
// scatter, the intermediate values of every trial (pruned trials dashed and marked where they
// stopped) and a parameter-importance bar chart. Throws ember::Error if gnuplot is missing or fails.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "hpo/trial.h"

namespace ember::hpo {

void plot_history(const std::vector<TrialPtr>& trials, Direction direction, const std::string& png_path,
                  const std::string& title = "optimization history");
// One panel per parameter (numeric on its own scale, log axis for log params; categorical by index).
void plot_params(const std::vector<TrialPtr>& trials, const std::string& png_path,
                 const std::string& title = "parameters vs value");

// One line per trial of its reported values against step; pruned trials end in a cross.
void plot_intermediate(const std::vector<TrialPtr>& trials, const std::string& png_path,
                       const std::string& title = "intermediate values");
// Horizontal bars: (parameter, importance) as given (hpo/tuner.h param_importance).
void plot_importance(const std::vector<std::pair<std::string, double>>& importance, const std::string& png_path,
                     const std::string& title = "parameter importance");

}  // namespace ember::hpo

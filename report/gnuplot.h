// PNG plots through gnuplot, shared by hpo/ (study plots) and zoo/ (training curves): the data
// and the script go to a temporary directory, the PNG is moved into place (temp name + rename).
// Depends on nothing above tensor/error.h, so neither hpo nor the zoo pulls the other in to plot.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace ember::report {

// Runs a gnuplot `script` in a fresh temporary directory holding `files` (name -> content); the
// script writes its PNG to 'out.png', which is moved to png_path (temp name + rename). Throws
// ember::Error naming png_path when gnuplot is missing or fails.
void run_gnuplot(const std::string& script, const std::vector<std::pair<std::string, std::string>>& files,
                 const std::string& png_path);
// A gnuplot single-quoted string literal.
std::string gnuplot_quote(const std::string& s);

}  // namespace ember::report

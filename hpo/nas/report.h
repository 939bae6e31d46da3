// Pictures of a search: the architecture weights of every edge over the epochs (gnuplot), the
// collapse indicators over the epochs, and a genotype's cells as graphs (Graphviz `dot`).
#pragma once

#include <string>
#include <vector>

#include "hpo/nas/search.h"

namespace ember::nas {

// alphas.png: one panel per edge (normal cell edges, then reduction cell edges), softmax(alpha)
// of each op against the epoch. history may start with an epoch-0 record (the initial weights).
void plot_alphas(const std::vector<SearchEpoch>& history, const std::vector<std::string>& ops, int64_t nodes,
                 const std::string& png_path);
// indicators.png: validation accuracy, parameter-free ops in the derived cells and the dominant
// Hessian eigenvalue against the epoch.
void plot_indicators(const std::vector<SearchEpoch>& history, const std::string& png_path);
// <stem>_normal.dot / <stem>_reduce.dot, and the PNGs when Graphviz's `dot` is installed (returns
// whether it was). Files are written under temp names and renamed.
bool draw_genotype(const Genotype& g, const std::string& stem);

}  // namespace ember::nas

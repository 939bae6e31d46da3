#include "hpo/plot.h"

#include <unistd.h>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <set>

#include "report/gnuplot.h"
#include "tensor/error.h"

namespace ember::hpo {

using report::gnuplot_quote;
using report::run_gnuplot;

void plot_history(const std::vector<TrialPtr>& trials, Direction direction, const std::string& png_path,
                  const std::string& title) {
  std::string data;
  std::optional<double> best;
  for (const auto& t : trials) {
    if (t->state != TrialState::kComplete || !t->value.has_value()) continue;
    const double v = *t->value;
    if (!best.has_value() || (direction == Direction::kMinimize ? v < *best : v > *best)) best = v;
    data += fmt::format("{} {:.17g} {:.17g}\n", t->number, v, *best);
  }
  EMBER_CHECK(!data.empty(), "plot: no complete trials to plot");
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& t : trials)
    if (t->state == TrialState::kComplete && t->value) lo = std::min(lo, *t->value), hi = std::max(hi, *t->value);
  const bool log_axis = lo > 0 && hi / lo > 100;  // where a log axis helps: positive values over decades
  const std::string script = fmt::format(
      "set terminal pngcairo size 900,560 noenhanced\nset output {}\nset title {}\nset xlabel 'trial'\nset ylabel 'value'\n"
      "set key top right\nset grid\n{}"
      "plot 'history.dat' using 1:2 with points pt 7 ps 0.6 title 'value', "
      "'' using 1:3 with steps lw 2 title 'best so far'\n",
      "'out.png'", gnuplot_quote(title), log_axis ? "set logscale y\n" : "");
  run_gnuplot(script, {{"history.dat", data}}, png_path);
}

void plot_params(const std::vector<TrialPtr>& trials, const std::string& png_path, const std::string& title) {
  std::set<std::string> names;
  for (const auto& t : trials)
    if (t->state == TrialState::kComplete)
      for (const auto& [k, v] : t->params) names.insert(k);
  EMBER_CHECK(!names.empty(), "plot: no complete trials with parameters to plot");
  const int n = static_cast<int>(names.size());
  const int cols = std::min(n, 3), rows = (n + cols - 1) / cols;
  std::vector<std::pair<std::string, std::string>> files;
  std::string script = fmt::format("set terminal pngcairo size {},{} noenhanced\nset output {}\nset multiplot layout {},{} title {}\n",
                                   380 * cols, 300 * rows, "'out.png'", rows, cols, gnuplot_quote(title));
  int i = 0;
  for (const auto& name : names) {
    std::string data;
    const Distribution* dist = nullptr;
    for (const auto& t : trials) {
      if (t->state != TrialState::kComplete || !t->value.has_value()) continue;
      const auto it = t->params.find(name);
      if (it == t->params.end()) continue;
      dist = &t->distributions.at(name);
      data += fmt::format("{:.17g} {:.17g}\n", it->second, *t->value);
    }
    const std::string file = fmt::format("p{}.dat", i++);
    files.emplace_back(file, data);
    script += fmt::format("set title {}\nset xlabel {}\nset ylabel 'value'\nunset logscale x\nunset xtics\nset xtics\n"
                          "set format x '% g'\n",
                          gnuplot_quote(name), gnuplot_quote(name));
    if (dist && dist->log) script += "set logscale x\nset format x '%.0e'\n";
    if (dist && dist->kind == ParamKind::kCategorical) {
      script += "set xtics (";
      for (size_t c = 0; c < dist->n_choices(); ++c)
        script += fmt::format("{}{} {}", c ? ", " : "", gnuplot_quote(dist->choices[c]), c);
      script += fmt::format(")\nset xrange [-0.5:{}]\n", dist->n_choices() - 0.5);
    } else {
      script += "set autoscale x\n";
    }
    script += fmt::format("plot {} using 1:2 with points pt 7 ps 0.6 notitle\n", gnuplot_quote(file));
  }
  script += "unset multiplot\n";
  run_gnuplot(script, files, png_path);
}

void plot_intermediate(const std::vector<TrialPtr>& trials, const std::string& png_path, const std::string& title) {
  std::string data, pruned_ends;
  int curves = 0;
  std::string plots;
  for (const auto& t : trials) {
    if (t->intermediate.empty()) continue;
    for (const auto& [step, v] : t->intermediate)
      if (std::isfinite(v)) data += fmt::format("{} {:.17g}\n", step, v);
    data += "\n\n";  // one gnuplot data block per trial
    const bool pruned = t->state == TrialState::kPruned;
    if (pruned) {
      const auto& [step, v] = *t->intermediate.rbegin();
      if (std::isfinite(v)) pruned_ends += fmt::format("{} {:.17g}\n", step, v);
    }
    plots += fmt::format("{}'curves.dat' index {} using 1:2 with lines lw {} dt {} lc rgb '{}' notitle", curves ? ", " : "",
                         curves, pruned ? 1 : 2, pruned ? 2 : 1, pruned ? "#c0504d" : "#2a6fb0");
    ++curves;
  }
  EMBER_CHECK(curves > 0, "plot: no trial reported intermediate values");
  if (!pruned_ends.empty()) plots += ", 'pruned.dat' using 1:2 with points pt 2 ps 1.2 lc rgb '#c0504d' title 'pruned'";
  const std::string script = fmt::format(
      "set terminal pngcairo size 900,560 noenhanced\nset output 'out.png'\nset title {}\nset xlabel 'epoch (step)'\n"
      "set ylabel 'reported value'\nset grid\nset key bottom right\nplot {}\n",
      gnuplot_quote(title + " (solid: complete, dashed: pruned)"), plots);
  run_gnuplot(script, {{"curves.dat", data}, {"pruned.dat", pruned_ends.empty() ? "0 0\n" : pruned_ends}}, png_path);
}

void plot_importance(const std::vector<std::pair<std::string, double>>& importance, const std::string& png_path,
                     const std::string& title) {
  EMBER_CHECK(!importance.empty(), "plot: no parameter importances to plot");
  std::string data;
  for (size_t i = 0; i < importance.size(); ++i)
    data += fmt::format("{} {:.17g} \"{}\"\n", i, importance[i].second, importance[i].first);
  const std::string script = fmt::format(
      "set terminal pngcairo size 800,{} noenhanced\nset output 'out.png'\nset title {}\nset style fill solid 0.8\n"
      "set xlabel 'share of the value variance explained alone'\nset xrange [0:1]\nset yrange [-0.6:{}]\n"
      "set grid x\nunset key\nplot 'imp.dat' using (0.5*$2):1:(0.5*$2):(0.35):ytic(3) with boxxyerrorbars lc rgb '#2a6fb0'\n",
      160 + 40 * importance.size(), gnuplot_quote(title), double(importance.size()) - 0.4);
  run_gnuplot(script, {{"imp.dat", data}}, png_path);
}

}  // namespace ember::hpo

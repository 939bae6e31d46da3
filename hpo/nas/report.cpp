// Search pictures through gnuplot and Graphviz (report.h).
#include "hpo/nas/report.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "report/gnuplot.h"

namespace ember::nas {

void plot_alphas(const std::vector<SearchEpoch>& history, const std::vector<std::string>& ops, int64_t nodes,
                 const std::string& png_path) {
  const int64_t edges = nodes * (nodes + 3) / 2, n_ops = static_cast<int64_t>(ops.size());
  std::string data;
  std::vector<std::string> titles;
  for (int cell = 0; cell < 2; ++cell) {
    int64_t e = 0;
    for (int64_t i = 0; i < nodes; ++i)
      for (int64_t j = 0; j < i + 2; ++j, ++e) {
        for (const auto& h : history) {
          const auto& w = cell == 0 ? h.op_normal : h.op_reduce;
          const auto& ew = cell == 0 ? h.edge_normal : h.edge_reduce;
          data += fmt::format("{} {:.5f}", h.epoch, ew.empty() ? 1.0 : ew[size_t(e)]);
          for (int64_t o = 0; o < n_ops; ++o) data += fmt::format(" {:.5f}", w[size_t(e * n_ops + o)]);
          data += "\n";
        }
        data += "\n\n";
        titles.push_back(fmt::format("{} {}->{}", cell == 0 ? "normal" : "reduce", j, i + 2));
      }
  }
  const int64_t panels = 2 * edges, cols = std::min<int64_t>(edges, 7), rows = (panels + cols - 1) / cols;
  std::string script = fmt::format(
      "set terminal pngcairo noenhanced size {},{} font ',8'\nset output 'out.png'\n"
      "set multiplot layout {},{} title 'softmax(alpha) per edge over the search (dashed: edge weight, right axis)'\n"
      "set grid\nset xlabel 'epoch'\nset ytics nomirror\nset y2tics\n",
      260 * cols, 220 * rows + 60, rows, cols);
  for (int64_t p = 0; p < panels; ++p) {
    script += fmt::format("set title {}\n", report::gnuplot_quote(titles[size_t(p)]));
    script += p == 0 ? "set key top left font ',7'\n" : "unset key\n";
    script += fmt::format("plot for [o=0:{}] 'alpha.dat' index {} using 1:(column(o+3)) with lines lw 2 title word('{}', o+1), "
                          "'' index {} using 1:2 axes x1y2 with lines dt 2 lc rgb 'black' notitle\n",
                          n_ops - 1, p, fmt::join(ops, " "), p);
  }
  script += "unset multiplot\n";
  report::run_gnuplot(script, {{"alpha.dat", data}}, png_path);
}

void plot_indicators(const std::vector<SearchEpoch>& history, const std::string& png_path) {
  std::string data;
  bool any_eigenvalue = false;
  for (const auto& h : history) {
    any_eigenvalue = any_eigenvalue || !std::isnan(h.hessian_eigenvalue);
    data += fmt::format("{} {:.4f} {} {}\n", h.epoch, 100 * h.val_accuracy, h.parameter_free_ops,
                        std::isnan(h.hessian_eigenvalue) ? std::string("NaN") : fmt::format("{:.6g}", h.hessian_eigenvalue));
  }
  // With --hessian-iters 0 every eigenvalue is NaN and gnuplot refuses a panel without one point:
  // that panel then says so instead of failing the whole search.
  const std::string eigen_plot =
      any_eigenvalue ? "plot 'ind.dat' using 1:4 with linespoints lw 2 lc rgb '#9467bd'\n"
                     : "set label 1 'not computed (--hessian-iters 0)' at graph 0.5,0.5 center\n"
                       "plot 'ind.dat' using 1:(0) with lines lc rgb 'white'\n";
  const std::string script =
      "set terminal pngcairo noenhanced size 1200,380\nset output 'out.png'\nset multiplot layout 1,3 title 'search indicators'\n"
      "set grid\nset xlabel 'epoch'\nunset key\n"
      "set title 'supernet validation accuracy (%)'\nplot 'ind.dat' using 1:2 with linespoints lw 2\n"
      "set title 'parameter-free ops in the derived cells'\nset yrange [0:*]\n"
      "plot 'ind.dat' using 1:3 with linespoints lw 2 lc rgb '#d62728'\n"
      "set title 'top eigenvalue of the alpha Hessian'\nset autoscale y\n" +
      eigen_plot + "unset multiplot\n";
  report::run_gnuplot(script, {{"ind.dat", data}}, png_path);
}

bool draw_genotype(const Genotype& g, const std::string& stem) {
  EMBER_CHECK(stem.find('\'') == std::string::npos, "nas: output path '{}' must not contain a single quote", stem);
  const bool have_dot = std::system("command -v dot > /dev/null 2>&1") == 0;
  for (const std::string cell : {"normal", "reduce"}) {
    const std::string dot_path = fmt::format("{}_{}.dot", stem, cell), png_path = fmt::format("{}_{}.png", stem, cell);
    {
      std::ofstream out(dot_path + ".tmp");
      EMBER_CHECK(out.good(), "nas: cannot write '{}'", dot_path + ".tmp");
      out << to_dot(g, cell);
    }
    std::filesystem::rename(dot_path + ".tmp", dot_path);
    if (!have_dot) continue;
    const std::string tmp = png_path + ".tmp.png";
    const int rc = std::system(fmt::format("dot -Tpng '{}' -o '{}'", dot_path, tmp).c_str());
    EMBER_CHECK(rc == 0, "nas: Graphviz dot failed on '{}' (exit {})", dot_path, rc);
    std::filesystem::rename(tmp, png_path);
  }
  return have_dot;
}

}  // namespace ember::nas

// gnuplot runner shared by hpo's study plots and the zoo's training curves.
#include "report/gnuplot.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "tensor/error.h"

namespace ember::report {

std::string gnuplot_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

void run_gnuplot(const std::string& script, const std::vector<std::pair<std::string, std::string>>& files,
                 const std::string& png_path) {
  EMBER_CHECK(std::system("command -v gnuplot > /dev/null 2>&1") == 0,
              "plot: gnuplot is not installed (apt-get install gnuplot-nox), cannot write '{}'", png_path);
  std::string tmpl = (std::filesystem::temp_directory_path() / "ember_plot_XXXXXX").string();
  EMBER_CHECK(mkdtemp(tmpl.data()) != nullptr, "plot: cannot create a temporary directory");
  const std::filesystem::path dir(tmpl);
  for (const auto& [name, content] : files) std::ofstream(dir / name) << content;
  std::ofstream(dir / "plot.gp") << script;
  const std::string cmd = fmt::format("cd {} && gnuplot plot.gp > gnuplot.log 2>&1", gnuplot_quote(dir.string()));
  const int rc = std::system(cmd.c_str());
  std::string log;
  if (rc != 0) {
    std::ifstream in(dir / "gnuplot.log");
    std::getline(in, log);
  }
  std::error_code ec;
  if (rc == 0) {
    // Copy next to the destination, then rename: a reader never sees a half-written PNG.
    const std::string tmp = fmt::format("{}.tmp.{}", png_path, getpid());
    std::filesystem::copy_file(dir / "out.png", tmp, std::filesystem::copy_options::overwrite_existing, ec);
    if (!ec) std::filesystem::rename(tmp, png_path, ec);
    if (ec) {
      log = fmt::format("cannot move the plot into place: {}", ec.message());
      std::filesystem::remove(tmp, ec);
    }
  }
  std::filesystem::remove_all(dir, ec);
  EMBER_CHECK(rc == 0 && log.empty(), "plot: gnuplot failed writing '{}': {}", png_path, log);
}

}  // namespace ember::report

// `ember tune`: optimize a suite objective (HPO-SUITE.md) with a chosen sampler, printing each
// trial and a final summary; optionally persistent (--storage sqlite:PATH --study NAME, resumed
// when it exists: --trials is the total, so a killed run continues where it stopped) and plotted.
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "cli/commands.h"
#include "hpo/plot.h"
#include "hpo/samplers/grid.h"
#include "hpo/study.h"
#include "hpo/suite/problems.h"
#include "tensor/error.h"

namespace ember::cli {

namespace {

struct TuneArgs {
  std::string objective;
  std::string sampler = "tpe";
  int64_t trials = 50;
  uint64_t seed = 0;
  std::string storage = "memory";
  std::string study;
  int jobs = 1;
  std::string plot;
  bool quiet = false;
};

void run_tune(const TuneArgs& a) {
  const auto& problem = hpo::suite::problem(a.objective);
  EMBER_CHECK(a.trials >= 1, "tune: --trials must be >= 1 (got {})", a.trials);
  EMBER_CHECK(a.jobs >= 1, "tune: --jobs must be >= 1 (got {})", a.jobs);
  auto sampler = hpo::make_sampler(
      a.sampler, {.seed = a.seed, .space = problem.space, .deterministic = true,  // suite objectives are exact
                  .grid_budget = static_cast<int>(a.trials)});
  auto storage = hpo::open_storage(a.storage);
  const std::string name = a.study.empty() ? fmt::format("{}-{}-{}", a.objective, a.sampler, a.seed) : a.study;
  hpo::Study study(hpo::StudyOptions{.name = name, .sampler = sampler, .storage = storage});
  // A study name holds one objective: a resumed study whose trials used other parameters was run
  // on another objective (or space), and continuing it would mix the two.
  for (const auto& t : study.trials()) {
    for (const auto& [pname, dist] : t->distributions) {
      const hpo::ParamSpec* spec = problem.space.find(pname);
      EMBER_CHECK(spec != nullptr && spec->dist == dist,
                  "tune: study '{}' in {} was run on another objective (its parameter '{}' {} in {}); choose "
                  "another --study name",
                  name, a.storage, pname, spec ? "has another range" : "does not exist", a.objective);
    }
  }
  if (auto* grid = dynamic_cast<hpo::GridSampler*>(sampler.get()); grid && grid->n_points() < size_t(a.trials))
    fmt::print("note: the grid for {} has {} points (axes: {}), fewer than --trials {}; it stops when all are done\n",
               a.objective, grid->n_points(), [&] {
                 std::vector<size_t> n;
                 for (const auto& axis : grid->axes()) n.push_back(axis.size());
                 return fmt::format("{}", fmt::join(n, " x "));
               }(), a.trials);
  const int stale = storage->fail_stale_trials(study.id());
  const int64_t done = study.count(hpo::TrialState::kComplete);
  if (done > 0 || stale > 0)
    fmt::print("resuming study '{}': {} complete trials, {} interrupted trials marked failed\n", name, done, stale);
  const int64_t remaining = std::max<int64_t>(a.trials - done, 0);
  fmt::print("tune {} with {} (seed {}), {} trials{}, storage {}\n", a.objective, sampler->name(), a.seed,
             remaining, a.jobs > 1 ? fmt::format(" on {} threads", a.jobs) : "", a.storage);
  const auto t0 = std::chrono::steady_clock::now();
  study.optimize(hpo::suite::objective(problem),
                 {.n_trials = remaining, .n_jobs = a.jobs, .callback = [&](hpo::Study& s, const hpo::FrozenTrial& t) {
                    if (a.quiet) return;
                    const auto best = s.best_trial();
                    const std::string value =
                        t.value.has_value() ? fmt::format("{:.6g}", *t.value) : hpo::to_string(t.state);
                    fmt::print("trial {:4d}  value {:>12}  best {:>12}  {}{}\n", t.number, value,
                               best ? fmt::format("{:.6g}", *best->value) : "-", t.params_string(),
                               t.message.empty() ? "" : "  (" + t.message + ")");
                  }});
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto best = study.best_trial();
  fmt::print("\nsummary: {} trials ({} complete, {} failed) in {:.2f} s\n", study.trials().size(),
             study.count(hpo::TrialState::kComplete), study.count(hpo::TrialState::kFailed), secs);
  if (best) {
    fmt::print("best value {:.9g} at trial {} (regret {:.3g} vs f* = {:.9g})\n", *best->value, best->number,
               *best->value - problem.optimum, problem.optimum);
    fmt::print("best params {}\n", best->params_string());
  }
  if (!a.plot.empty()) {
    hpo::plot_history(study.trials(), study.direction(), a.plot + "_history.png", name + ": optimization history");
    hpo::plot_params(study.trials(), a.plot + "_params.png", name + ": parameters vs value");
    fmt::print("plots: {}_history.png {}_params.png\n", a.plot, a.plot);
  }
}

}  // namespace

void add_tune_command(CLI::App& app) {
  auto args = std::make_shared<TuneArgs>();
  auto* cmd = app.add_subcommand("tune", "optimize a benchmark objective (HPO-SUITE.md)");
  cmd->add_option("--objective", args->objective, "branin | hartmann6 | rosenbrock4 | ackley5 | mixed")->required();
  cmd->add_option("--sampler", args->sampler, "random | grid | tpe | tpe-independent | gp | cfo")
      ->capture_default_str();
  cmd->add_option("--trials", args->trials, "total number of trials (a resumed study counts its complete ones)")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "sampler seed")->capture_default_str();
  cmd->add_option("--storage", args->storage, "memory | sqlite:PATH | postgresql://user@host/db")->capture_default_str();
  cmd->add_option("--study", args->study, "study name (default: objective-sampler-seed)");
  cmd->add_option("--jobs", args->jobs, "parallel trials (threads)")->capture_default_str();
  cmd->add_option("--plot", args->plot, "write PREFIX_history.png and PREFIX_params.png");
  cmd->add_flag("--quiet", args->quiet, "only print the summary");
  cmd->callback([args] { run_tune(*args); });
}

}  // namespace ember::cli

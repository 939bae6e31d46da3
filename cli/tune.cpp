// `ember tune`: `ember tune --objective NAME` optimizes a suite objective (HPO-SUITE.md);
// `ember tune fmnist | csv | command` tune real training through hpo/tuner.h (a Trainable from the
// zoo, an MLP on a CSV file, or any program as a black box). All of them are optionally persistent
// (--storage sqlite:PATH --study NAME, resumed when it exists: --trials is the total, so a killed
// run continues where it stopped, and processes sharing a study run that many between them) and
// plotted.
#include <chrono>
#include <climits>
#include <cmath>
#include <filesystem>

#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "hpo/command.h"
#include "hpo/plot.h"
#include "hpo/tuner.h"
#include "tensor/parallel.h"
#include "zoo/colorize/tune.h"
#include "zoo/csv/tune.h"
#include "zoo/fmnist/tune.h"
#include "zoo/lm/tune.h"
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
  EMBER_CHECK(!a.objective.empty(),
              "tune: name what to tune: --objective NAME (a suite problem), or a task: fmnist, colorize, lm, csv, command");
  const auto& problem = hpo::suite::problem(a.objective);
  EMBER_CHECK(a.trials >= 1, "tune: --trials must be >= 1 (got {})", a.trials);
  EMBER_CHECK(a.jobs >= 1, "tune: --jobs must be >= 1 (got {})", a.jobs);
  auto sampler = hpo::make_sampler(
      a.sampler, {.seed = a.seed, .space = problem.space, .deterministic = problem.noise == 0,  // exact objectives
                  .grid_budget = static_cast<int>(std::min<int64_t>(a.trials, INT_MAX))});  // no truncation
  auto storage = hpo::open_storage(a.storage);
  const std::string name = a.study.empty() ? fmt::format("{}-{}-{}", a.objective, a.sampler, a.seed) : a.study;
  hpo::Study study(hpo::StudyOptions{.name = name, .sampler = sampler, .storage = storage});
  // A study name holds one objective: continuing one run on another objective would mix the two.
  hpo::check_study_space(study, problem.space, a.objective, a.storage);
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
                 {.n_trials = remaining, .max_total_trials = a.trials, .n_jobs = a.jobs, .log = false, .callback = [&](hpo::Study& s, const hpo::FrozenTrial& t) {
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

// The options every real task shares (hpo::TuneOptions) plus the run folder.
struct TaskArgs {
  hpo::TuneOptions tune{.trials = 20};
  std::string budget, cpu_budget, out;
  int64_t epochs = 0;  // 0: the task's default
  int threads = 0;
  bool no_final = false;
  // fmnist
  zoo::fmnist::TuneConfig fmnist{};
  // lm, colorize
  zoo::lm::TuneConfig lm{};
  zoo::colorize::TuneConfig colorize{};
  // csv
  zoo::csv::TuneConfig csv{};
  std::string task = "classification";
  bool no_header = false;
  // command
  std::vector<std::string> params, argv;
  std::string metric = "metric", direction = "minimize";
  double timeout = 0;
};

void run_task(TaskArgs& a, const std::string& task, int64_t default_epochs) {
  if (a.threads > 0) set_num_threads(a.threads);
  hpo::TuneOptions opt = a.tune;
  opt.max_resource = a.epochs > 0 ? a.epochs : default_epochs;
  if (!a.budget.empty()) opt.budget_s = hpo::parse_duration(a.budget);
  if (!a.cpu_budget.empty()) opt.cpu_budget_s = hpo::parse_duration(a.cpu_budget, "--cpu-budget");
  opt.final_test = !a.no_final;
  const std::string out = a.out.empty() ? "runs/tune-" + task : a.out;
  std::filesystem::create_directories(out);
  opt.plots = (std::filesystem::path(out) / "study").string();
  std::unique_ptr<hpo::Trainable> t;
  if (task == "fmnist") {
    t = zoo::fmnist::make_trainable(a.fmnist);
  } else if (task == "colorize") {
    t = zoo::colorize::make_trainable(a.colorize);
  } else if (task == "lm") {
    t = zoo::lm::make_trainable(a.lm);
  } else if (task == "csv") {
    a.csv.task = zoo::csv::parse_task(a.task);
    a.csv.header = !a.no_header;
    t = zoo::csv::make_trainable(a.csv);
  } else {
    hpo::CommandOptions c{.argv = a.argv, .metric = a.metric, .direction = hpo::direction_from_string(a.direction),
                          .timeout_s = a.timeout};
    EMBER_CHECK(!a.params.empty(), "tune command: give at least one --param NAME=float:LO:HI (see --help)");
    for (const auto& p : a.params) hpo::add_param_spec(c.space, p);
    t = std::make_unique<hpo::CommandTrainable>(c);
  }
  const hpo::TuneReport r = hpo::tune(*t, opt);
  // summary.json: the best configuration and its numbers, next to the plots.
  nlohmann::json j{{"task", task}, {"study", r.study}, {"metric", t->metric()}, {"complete", r.complete},
                   {"pruned", r.pruned}, {"stopped_by_budget", r.budget_stopped}, {"failed", r.failed}, {"epochs", r.epochs}, {"seconds", r.seconds}};
  if (r.best) {
    j["best_trial"] = r.best->number;
    j["best_value"] = *r.best->value;
    for (const auto& [k, v] : r.best->params) j["best_params"][k] = r.best->param_string(k);
  }
  if (r.final && r.final->test) j["final_test"] = *r.final->test;
  if (r.final) j["final_value"] = r.final->value;
  for (const auto& [k, v] : r.importance) j["importance"][k] = v;
  const std::string path = (std::filesystem::path(out) / "summary.json").string();
  {
    std::ofstream f(path + ".tmp");
    f << j.dump(2) << "\n";
    EMBER_CHECK(f.good(), "tune: cannot write {}", path);
  }
  std::filesystem::rename(path + ".tmp", path);
  fmt::print("summary: {}\n", path);
}

CLI::App* add_task(CLI::App* tune, const std::string& name, const std::string& help, std::shared_ptr<TaskArgs> a,
                   int64_t default_epochs, const std::string& default_pruner) {
  auto* c = tune->add_subcommand(name, help);
  a->tune.pruner = default_pruner;
  c->add_option("--sampler", a->tune.sampler, "random | tpe | tpe-independent | gp | cfo | blend | grid")
      ->capture_default_str();
  c->add_option("--pruner", a->tune.pruner, "none | median | asha | hyperband | curve")->capture_default_str();
  c->add_option("--trials", a->tune.trials, "total trials in the study (a resumed study counts its finished ones)")
      ->capture_default_str();
  c->add_option("--epochs", a->epochs, fmt::format("epochs of a complete trial, the pruners' resource (default {})",
                                                   default_epochs));
  c->add_option("--budget", a->budget, "wall-clock budget: 90s, 30m, 2h, 1h30m (running trials stop at their next epoch)");
  c->add_option("--cpu-budget", a->cpu_budget,
                "CPU-time budget (this process and its finished child processes): 90s, 30m, 2h; running trials "
                "stop at their next epoch");
  c->add_option("--jobs", a->tune.jobs, "trials in parallel")->capture_default_str();
  c->add_option("--seed", a->tune.seed, "sampler seed")->capture_default_str();
  c->add_option("--storage", a->tune.storage, "memory | sqlite:PATH | postgresql://... (resumes an existing study)")
      ->capture_default_str();
  c->add_option("--study", a->tune.study, fmt::format("study name (default {})", name));
  c->add_option("--out", a->out, fmt::format("folder for the plots and summary.json (default runs/tune-{})", name));
  c->add_option("--threads", a->threads, "compute threads (0: all cores)")->capture_default_str();
  c->add_option("--enqueue", a->tune.enqueue,
                "a configuration to try first, NAME=VALUE,NAME=VALUE (repeatable; the sampler fills the rest; only "
                "when the study is new)");
  c->add_flag("--no-final", a->no_final, "skip retraining the best configuration with the test metric");
  c->add_flag("--quiet", a->tune.quiet, "only the summary");
  c->callback([a, name, default_epochs] { run_task(*a, name, default_epochs); });
  return c;
}

}  // namespace

void add_tune_command(CLI::App& app) {
  auto args = std::make_shared<TuneArgs>();
  auto* cmd = app.add_subcommand("tune", "tune real training (fmnist, colorize, lm, csv, command) or a benchmark objective");
  cmd->require_subcommand(0, 1);
  {
    auto a = std::make_shared<TaskArgs>();
    auto* c = add_task(cmd, "fmnist", "tune the Fashion-MNIST CNN (validation: 5,000 training images)", a, 6, "median");
    c->add_option("--train-limit", a->fmnist.train_limit, "train on the first N of the 55,000 images (0: all)")
        ->capture_default_str();
    c->add_option("--val-size", a->fmnist.val_size, "validation images (the last N of the training set)")
        ->capture_default_str();
    c->add_option("--test-limit", a->fmnist.test_limit, "test on the first N test images (0: all)")
        ->capture_default_str();
    c->add_option("--data-dir", a->fmnist.data_dir, "Fashion-MNIST folder (default: the installed data set)");
  }
  {
    auto a = std::make_shared<TaskArgs>();
    auto* c = add_task(cmd, "lm", "tune the byte-level Llama LM (val bits per character)", a, 10, "median");
    c->add_option("--data-file", a->lm.data_file, "text file (default: the KJV from `ember data kjv`)");
    c->add_option("--steps", a->lm.steps, "optimizer steps per report (--epochs reports per trial)")
        ->capture_default_str();
    c->add_option("--val-bytes", a->lm.val_bytes, "validation bytes per report (0: all)")->capture_default_str();
  }
  {
    auto a = std::make_shared<TaskArgs>();
    auto* c = add_task(cmd, "colorize", "tune the OpenMoji colorization U-Net (val L1 without hints)", a, 6, "median");
    c->add_option("--data-root", a->colorize.data_root, "OpenMoji folder (default: `ember data openmoji`'s)");
    c->add_option("--train-limit", a->colorize.train_limit, "the first N training pairs (0: all)")
        ->capture_default_str();
    c->add_option("--val-limit", a->colorize.val_limit, "the first N validation pairs (0: all)")->capture_default_str();
  }
  {
    auto a = std::make_shared<TaskArgs>();
    auto* c = add_task(cmd, "csv", "tune an MLP on a CSV file (classification or regression)", a, 60, "median");
    c->add_option("--file", a->csv.file, "the CSV file")->required();
    c->add_option("--target", a->csv.target, "the target column (c<k> with --no-header)")->required();
    c->add_option("--task", a->task, "classification | regression")->capture_default_str();
    c->add_flag("--no-header", a->no_header, "the first line is data: columns are c0, c1, ...");
    c->add_option("--skip", a->csv.skip, "lines to skip before the header / data")->capture_default_str();
    c->add_option("--split-seed", a->csv.seed, "seed of the train/validation/test split")->capture_default_str();
  }
  {
    auto a = std::make_shared<TaskArgs>();
    auto* c = add_task(cmd, "command", "tune any program that prints NAME=VALUE lines", a, 1, "none");
    c->add_option("--param", a->params, "NAME=float:LO:HI[:log] | NAME=int:LO:HI[:log] | NAME=cat:A,B (repeat)");
    c->add_option("--metric", a->metric, "the NAME of the metric lines")->capture_default_str();
    c->add_option("--direction", a->direction, "minimize | maximize")->capture_default_str();
    c->add_option("--timeout", a->timeout, "seconds per trial (0: none)")->capture_default_str();
    c->add_option("program", a->argv, "-- PROG ARGS... with {name} placeholders")->required();
    a->no_final = true;  // a black box has no separate test metric
  }
  cmd->add_option("--objective", args->objective,
                  "a suite problem: branin | hartmann6 | rosenbrock4 | ackley5 | mixed | michalewicz5 | rastrigin4 | "
                  "schwefel4 | griewank5 | camel6 | hartmann3 | styblinski20 | branin-noisy | hartmann6-noisy");
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
  cmd->callback([args, cmd] {
    if (cmd->get_subcommands().empty()) run_tune(*args);
  });
}

}  // namespace ember::cli

// hpo_bench: every sampler on every HPO-SUITE.md problem (median and interquartile range of
// regret over seeds at budgets 25/50/100, and 200 on hartmann6 and the 10- and 20-dim problems), sampler overhead in ms per
// suggest at 100/500/1000 trials, and the LC4 pruning task. Prints markdown tables.
//
//   hpo_bench [--seeds 10] [--threads 2] [--only regret|overhead|pruning] [--samplers a,b] [--problems a,b]
//
// One run per (problem, sampler, seed) at the largest budget gives the best-so-far at every
// smaller budget (samplers do not know the budget), except grid, which is built per budget.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "hpo/pruners/curve.h"
#include "hpo/pruners/hyperband.h"
#include "hpo/pruners/median.h"
#include "hpo/pruners/successive_halving.h"
#include "hpo/rng.h"
#include "hpo/study.h"
#include "hpo/suite/problems.h"
#include "tensor/error.h"

using namespace ember::hpo;

namespace {


double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos)), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

std::string fmt_regret(double v) {
  if (v == 0.0) return "0";
  return fmt::format("{:.3g}", v);
}

// CPU time of the calling thread in milliseconds.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

// Runs `jobs` on `threads` workers.
void parallel_for(size_t n, int threads, const std::function<void(size_t)>& job) {
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < n;) job(i);
    });
  for (auto& t : pool) t.join();
}

// The problems with a B = 200 column: hartmann6 and the 10- and 20-dimensional ones.
bool high_budget(const std::string& id) {
  return id == "hartmann6" || id == "styblinski20" || id.ends_with("10") || id.ends_with("20");
}

// Best-so-far regret after each budget in `budgets`.
std::vector<double> run_regret(const suite::Problem& p, const std::string& sampler, uint64_t seed,
                               const std::vector<int>& budgets) {
  std::vector<double> out;
  if (sampler == "grid") {
    for (int b : budgets) {
      Study study(StudyOptions{.name = "g", .sampler = make_sampler("grid", {.seed = seed, .space = p.space,
                                                                            .grid_budget = b})});
      study.optimize(suite::objective(p), {.n_trials = b, .log = false});
      const auto best = study.best_trial();  // a noisy problem: the best observed, scored noise-free
      out.push_back((p.noise == 0 ? *best->value : p.f(best->params)) - p.optimum);
    }
    return out;
  }
  // "gp" runs with its defaults (the noise level is fitted); "gp:det" tells it the objective is
  // deterministic (GpOptions::deterministic), which a user may do for the noise-free problems;
  // "gp:tr=N" sets GpOptions::trust_region_dims (0: no trust region), "gp:stall=1"
  // GpOptions::trust_region_on_stall; suffixes combine.
  // On a noisy problem the best trial is the best observed value, scored on the noise-free function.
  SamplerOptions so{.seed = seed, .space = p.space};
  const std::string base = sampler.substr(0, sampler.find(':'));
  for (size_t at = sampler.find(':'); at != std::string::npos;) {
    const size_t next = sampler.find(':', at + 1);
    const std::string suffix = sampler.substr(at + 1, next == std::string::npos ? std::string::npos : next - at - 1);
    if (suffix == "det") so.deterministic = true;
    else if (suffix.starts_with("tr=")) so.gp_trust_region_dims = std::stoi(suffix.substr(3));
    else if (suffix.starts_with("stall=")) so.gp_trust_region_on_stall = std::stoi(suffix.substr(6));
    else EMBER_CHECK(false, "hpo_bench: unknown sampler suffix '{}' in '{}' (expected det, tr=N or stall=0|1)", suffix, sampler);
    at = next;
  }
  Study study(StudyOptions{.name = "r", .sampler = make_sampler(base, so)});
  std::optional<double> best, best_true;
  int n = 0;
  size_t next = 0;
  study.optimize(suite::objective(p), {.n_trials = budgets.back(), .log = false, .callback = [&](Study&, const FrozenTrial& t) {
                                         ++n;
                                         if (t.value.has_value() && (!best || *t.value < *best))
                                           best = t.value, best_true = p.noise == 0 ? *t.value : p.f(t.params);
                                         while (next < budgets.size() && n == budgets[next]) {
                                           out.push_back(*best_true - p.optimum);
                                           ++next;
                                         }
                                       }});
  return out;
}

void bench_regret(const std::vector<std::string>& problems, const std::vector<std::string>& samplers, int seeds,
                  int threads) {
  struct Job {
    std::string problem, sampler;
    uint64_t seed;
  };
  std::vector<Job> jobs;
  for (const auto& pid : problems)
    for (const auto& s : samplers) {
      // HPO-SUITE.md: k <= 2 points per axis (5 or more numeric dimensions) is not a meaningful grid.
      if (s == "grid" && suite::problem(pid).space.size() >= 5) continue;
      const int n = s == "grid" ? 1 : seeds;                                    // grid is deterministic
      for (int seed = 0; seed < n; ++seed) jobs.push_back({pid, s, static_cast<uint64_t>(seed)});
    }
  // Slow jobs first so the tail is short.
  std::stable_sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    return a.sampler.starts_with("gp") > b.sampler.starts_with("gp");
  });
  std::map<std::pair<std::string, std::string>, std::vector<std::vector<double>>> results;
  std::map<std::pair<std::string, std::string>, double> seconds;
  std::mutex mu;
  parallel_for(jobs.size(), threads, [&](size_t i) {
    const auto& j = jobs[i];
    const auto& p = suite::problem(j.problem);
    std::vector<int> budgets = {25, 50, 100};
    if (high_budget(j.problem)) budgets.push_back(200);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = run_regret(p, j.sampler, j.seed, budgets);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::lock_guard lock(mu);
    results[{j.problem, j.sampler}].push_back(std::move(r));
    seconds[{j.problem, j.sampler}] += dt;
  });
  fmt::print("## Regret (median [q25, q75] over {} seeds; grid: one deterministic run)\n\n", seeds);
  for (const auto& pid : problems) {
    const bool h6 = high_budget(pid);  // the problems with a B=200 column
    fmt::print("### {}\n\n| sampler | B=25 | B=50 | B=100 |{} time/run (s) |\n|---|---|---|---|{}---|\n", pid,
               h6 ? " B=200 |" : "", h6 ? "---|" : "");
    for (const auto& s : samplers) {
      const auto it = results.find({pid, s});
      if (it == results.end()) continue;
      const auto& runs = it->second;
      fmt::print("| {} |", s);
      for (size_t b = 0; b < runs[0].size(); ++b) {
        std::vector<double> v;
        for (const auto& r : runs) v.push_back(r[b]);
        if (v.size() == 1) fmt::print(" {} |", fmt_regret(v[0]));
        else fmt::print(" {} [{}, {}] |", fmt_regret(quantile(v, 0.5)), fmt_regret(quantile(v, 0.25)),
                        fmt_regret(quantile(v, 0.75)));
      }
      fmt::print(" {:.2f} |\n", seconds[{pid, s}] / static_cast<double>(runs.size()));
    }
    fmt::print("\n");
  }
  std::fflush(stdout);
}

void bench_overhead(const std::vector<std::string>& samplers) {
  fmt::print("## Sampler overhead (CPU ms per suggest of all 6 hartmann6 parameters, median of 21 suggests at "
             "each history size; thread CPU time, so other load on the machine does not count)\n\n");
  fmt::print("| sampler | n=100 | n=200 | n=500 | n=1000 |\n|---|---|---|---|---|\n");
  const auto& p = suite::problem("hartmann6");
  for (const auto& s : samplers) {
    if (s == "grid") continue;
    std::vector<int> points = {100, 200, 500, 1000};
    if (s == "gp") points = {100, 200, 500, 1000};  // GpOptions::max_points bounds the model size
    Study study(StudyOptions{.name = "o", .sampler = make_sampler(s, {.seed = 1, .space = p.space,
                                                                      .deterministic = true})});
    fmt::print("| {} |", s);
    int done = 0;
    for (int n : points) {
      // Fill the history up to n trials with the sampler itself, then time 5 suggestions.
      study.optimize(suite::objective(p), {.n_trials = n - done, .log = false});
      std::vector<double> ms;
      for (int k = 0; k < 21; ++k) {
        const double t0 = thread_cpu_ms();
        Trial t = study.ask();
        const auto v = p.space.suggest_all(t);
        ms.push_back(thread_cpu_ms() - t0);
        study.tell(t, p.f(v));
      }
      done = n + 21;
      fmt::print(" {:.3f} |", quantile(ms, 0.5));
      std::fflush(stdout);
    }
    for (size_t k = points.size(); k < 4; ++k) fmt::print(" - |");
    fmt::print("\n");
  }
  fmt::print("\n");
}

struct Lc4Result {
  int64_t epochs;
  double best;     // best observed y(100) over complete trials
  double regret;   // final(x_best) - 0.05 of that trial
  std::vector<double> best_at;  // best-so-far y(100) at cumulative epochs 1000, 2000, 5000, 10000
};

Lc4Result run_lc4(const std::string& sampler, const std::string& pruner, uint64_t seed) {
  std::shared_ptr<Pruner> pr;
  if (pruner == "median") pr = std::make_shared<MedianPruner>(MedianPrunerOptions{.n_startup_trials = 5});
  else if (pruner == "median-warmup") pr = std::make_shared<MedianPruner>(MedianPrunerOptions{.n_warmup_steps = 10});
  else if (pruner == "asha") pr = std::make_shared<SuccessiveHalvingPruner>(SuccessiveHalvingOptions{.reduction_factor = 4});
  else if (pruner == "hyperband")
    pr = std::make_shared<HyperbandPruner>(HyperbandOptions{.min_resource = 1, .max_resource = 100, .reduction_factor = 3});
  else if (pruner == "curve") pr = make_pruner("curve");
  Study study(StudyOptions{.name = "lc4", .sampler = make_sampler(sampler, {.seed = seed}), .pruner = pr});
  Lc4Result r{0, INFINITY, INFINITY, {}};
  const std::vector<int64_t> marks = {1000, 2000, 5000, 10000};
  std::vector<std::optional<double>> at(marks.size());
  study.optimize(
      [&](Trial& t) {
        std::array<double, 4> x;
        for (int i = 0; i < 4; ++i) x[i] = t.suggest_float(fmt::format("x{}", i), 0, 1);
        Rng noise(mix_seed(seed, static_cast<uint64_t>(t.number()), 0x6c6334));
        double y = 0.0;
        for (int e = 1; e <= 100; ++e) {
          ++r.epochs;
          y = suite::lc4_curve(x, e, 0.005 * noise.normal());
          t.report(e, y);
          if (e < 100 && t.should_prune()) throw TrialPruned();
        }
        if (y < r.best) {
          r.best = y;
          r.regret = suite::lc4_final(x) - 0.05;
        }
        for (size_t m = 0; m < marks.size(); ++m)
          if (r.epochs <= marks[m] && (!at[m] || y < *at[m])) at[m] = y;
        return y;
      },
      {.n_trials = 100, .log = false});
  for (size_t m = 0; m < marks.size(); ++m) {
    // Carry the best forward: a mark beyond the run's total epochs sees the final best.
    std::optional<double> b;
    for (size_t k = 0; k <= m; ++k)
      if (at[k] && (!b || *at[k] < *b)) b = at[k];
    r.best_at.push_back(b ? *b : NAN);
  }
  return r;
}

void bench_pruning(int seeds, int threads) {
  fmt::print("## LC4 pruning task (100 trials; median over {} seeds)\n\n", seeds);
  fmt::print("| sampler | pruner | epochs | best y(100) | regret of best | best @1000 ep | best @2000 ep |\n");
  fmt::print("|---|---|---|---|---|---|---|\n");
  const std::vector<std::string> samplers = {"random", "tpe"};
  const std::vector<std::string> pruners = {"none", "median", "median-warmup", "asha", "hyperband", "curve"};
  for (const auto& s : samplers)
    for (const auto& pr : pruners) {
      std::vector<Lc4Result> res(static_cast<size_t>(seeds));
      parallel_for(res.size(), threads, [&](size_t i) { res[i] = run_lc4(s, pr, i); });
      std::vector<double> ep, best, reg, b1, b2;
      for (const auto& r : res) {
        ep.push_back(static_cast<double>(r.epochs));
        best.push_back(r.best);
        reg.push_back(r.regret);
        b1.push_back(r.best_at[0]);
        b2.push_back(r.best_at[1]);
      }
      fmt::print("| {} | {} | {:.0f} | {:.4f} | {:.4f} | {:.4f} | {:.4f} |\n", s, pr, quantile(ep, 0.5),
                 quantile(best, 0.5), quantile(reg, 0.5), quantile(b1, 0.5), quantile(b2, 0.5));
      std::fflush(stdout);
    }
  fmt::print("\n");
}

}  // namespace

int main(int argc, char** argv) {
  int seeds = 10, threads = 2;
  std::string only;
  std::vector<std::string> samplers = {"random", "grid", "tpe", "tpe-independent", "gp", "cfo"};
  std::vector<std::string> problems;
  for (const auto& p : suite::problems()) problems.push_back(p.id);
  CLI::App app{"hpo_bench: every sampler on every HPO-SUITE.md problem (regret), the samplers' cost per "
               "suggestion (overhead), and the pruners on the learning-curve task (pruning)",
               "hpo_bench"};
  app.add_option("--seeds", seeds, "seeds per (sampler, problem)")->capture_default_str()->check(CLI::Range(1, 1000));
  app.add_option("--threads", threads, "studies run in parallel")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--only", only, "one part: regret | overhead | pruning (default: all three)")
      ->check(CLI::IsMember({"regret", "overhead", "pruning"}));
  app.add_option("--samplers", samplers, "comma-separated samplers")->delimiter(',')->capture_default_str();
  app.add_option("--problems", problems, "comma-separated problems")->delimiter(',')->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  try {
    if (only.empty() || only == "regret") bench_regret(problems, samplers, seeds, threads);
    if (only.empty() || only == "overhead") bench_overhead(samplers);
    if (only.empty() || only == "pruning") bench_pruning(seeds, threads);
  } catch (const std::exception& e) {
    fmt::print(stderr, "hpo_bench: error: {}\n", e.what());
    return 1;
  }
  return 0;
}

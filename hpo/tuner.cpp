// The tuner over a Trainable: study setup and resume checks, the live table, the budget, the final
// retrain of the best configuration, parameter importance and the plots.
#include "hpo/tuner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <mutex>
#include <regex>

#include <fmt/format.h>

#include "hpo/plot.h"
#include "hpo/storage/storage.h"
#include "tensor/error.h"

namespace ember::hpo {

double parse_duration(const std::string& text, const std::string& option) {
  static const std::regex re(R"(^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$)");
  std::smatch m;
  EMBER_CHECK(!text.empty() && std::regex_match(text, m, re) && (m[1].matched || m[2].matched || m[3].matched),
              "tune: {} '{}' is not a duration (examples: 90s, 30m, 2h, 1h30m)", option, text);
  double s = 0;
  if (m[1].matched) s += 3600 * std::stod(m[1].str());
  if (m[2].matched) s += 60 * std::stod(m[2].str());
  if (m[3].matched) s += std::stod(m[3].str());
  EMBER_CHECK(s > 0, "tune: {} '{}' must be positive", option, text);
  return s;
}

void check_study_space(const Study& study, const Space& space, const std::string& what, const std::string& where) {
  for (const auto& t : study.trials()) {
    for (const auto& [pname, dist] : t->distributions) {
      const ParamSpec* spec = space.find(pname);
      EMBER_CHECK(spec != nullptr && spec->dist == dist,
                  "tune: study '{}' in {} was run on another objective or space (its parameter '{}' {} in {}); "
                  "resume it with the same settings or choose another --study name",
                  study.name(), where, pname,
                  spec ? fmt::format("is {} there but {} here", dist.describe(), spec->dist.describe())
                       : std::string("does not exist"),
                  what);
    }
  }
}

std::vector<std::pair<std::string, double>> param_importance(const std::vector<TrialPtr>& trials) {
  std::vector<TrialPtr> done;
  for (const auto& t : trials)
    if (t->state == TrialState::kComplete && t->value && std::isfinite(*t->value)) done.push_back(t);
  std::vector<std::pair<std::string, double>> out;
  if (done.size() < 4) return out;
  double mean = 0;
  for (const auto& t : done) mean += *t->value;
  mean /= double(done.size());
  double total = 0;
  for (const auto& t : done) total += (*t->value - mean) * (*t->value - mean);
  if (!(total > 0)) return out;
  std::map<std::string, Distribution> dists;
  for (const auto& t : done)
    for (const auto& [k, d] : t->distributions) dists.emplace(k, d);
  double sum_share = 0;
  for (const auto& [name, dist] : dists) {
    // Group trials by bin: the choice for a categorical, else one of B quantile bins of the value.
    std::vector<std::pair<double, double>> xv;  // (unit value, value); trials without it form their own group
    for (const auto& t : done)
      if (auto it = t->params.find(name); it != t->params.end()) xv.emplace_back(dist.to_unit(it->second), *t->value);
    std::vector<int> group(xv.size());
    if (dist.kind == ParamKind::kCategorical) {
      for (size_t i = 0; i < xv.size(); ++i) group[i] = int(std::lround(xv[i].first * double(dist.n_choices()) - 0.5));
    } else {
      std::vector<size_t> order(xv.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return xv[a].first < xv[b].first; });
      const size_t bins = std::clamp<size_t>(xv.size() / 4, 1, 5);
      for (size_t r = 0; r < order.size(); ++r) group[order[r]] = int(r * bins / order.size());
    }
    std::map<int, std::pair<double, int>> acc;
    for (size_t i = 0; i < xv.size(); ++i) {
      acc[group[i]].first += xv[i].second;
      acc[group[i]].second += 1;
    }
    double between = 0;
    for (const auto& [g, sn] : acc) {
      const double m = sn.first / sn.second;
      between += sn.second * (m - mean) * (m - mean);
    }
    // Small groups explain variance by chance: subtract the expected share of noise (groups - 1) / (n - 1).
    const double share = std::max(0.0, between / total - double(acc.size() - 1) / double(done.size() - 1));
    out.emplace_back(name, share);
    sum_share += share;
  }
  for (auto& [n, s] : out) s = sum_share > 0 ? s / sum_share : 1.0 / double(out.size());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  return out;
}

std::map<std::string, ParamValue> parse_assignment(const Space& space, const std::string& text) {
  std::map<std::string, ParamValue> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t end = std::min(text.find(',', pos), text.size());
    const std::string item = text.substr(pos, end - pos);
    pos = end + 1;
    const size_t eq = item.find('=');
    EMBER_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < item.size(),
                "--enqueue '{}': each item must be NAME=VALUE, got '{}'", text, item);
    const std::string name = item.substr(0, eq), value = item.substr(eq + 1);
    const ParamSpec* spec = space.find(name);
    if (spec == nullptr) {
      std::vector<std::string> names;
      for (const auto& p : space.params()) names.push_back(p.name);
      EMBER_CHECK(false, "--enqueue '{}': no parameter '{}' in the space [{}]", text, name, fmt::join(names, ", "));
    }
    EMBER_CHECK(!out.contains(name), "--enqueue '{}': '{}' is given twice", text, name);
    ParamValue v = value;
    if (spec->dist.kind != ParamKind::kCategorical) {
      char* stop = nullptr;
      const double d = std::strtod(value.c_str(), &stop);
      EMBER_CHECK(stop == value.c_str() + value.size() && std::isfinite(d),
                  "--enqueue '{}': '{}' needs a number, got '{}'", text, name, value);
      v = d;
      if (spec->dist.kind == ParamKind::kInt && d == std::floor(d) && std::fabs(d) < 9e15) v = int64_t(d);
    }
    spec->dist.from_param_value(name, v);  // range, step and choice checks
    out[name] = v;
  }
  return out;
}

TuneReport tune(Trainable& trainable, const TuneOptions& opt) {
  auto print = opt.print ? opt.print : [](const std::string& s) { std::fputs(s.c_str(), stdout), std::fflush(stdout); };
  EMBER_CHECK(opt.trials >= 1, "tune: --trials must be >= 1 (got {})", opt.trials);
  EMBER_CHECK(opt.jobs >= 1, "tune: --jobs must be >= 1 (got {})", opt.jobs);
  EMBER_CHECK(opt.max_resource >= 1, "tune: the epochs per trial must be >= 1 (got {})", opt.max_resource);
  const Space space = trainable.space();
  auto sampler = make_sampler(opt.sampler, {.seed = opt.seed, .space = space,
                                            .deterministic = trainable.deterministic(),
                                            .grid_budget = int(std::min<int64_t>(opt.trials, 1 << 30))});
  auto storage = open_storage(opt.storage);
  const std::string name = opt.study.empty() ? trainable.name() : opt.study;
  Study study(StudyOptions{.name = name, .direction = trainable.direction(), .sampler = sampler,
                           .pruner = make_pruner(opt.pruner, {.max_resource = opt.max_resource, .seed = opt.seed}),
                           .storage = storage});
  check_study_space(study, space, trainable.name(), opt.storage);
  const int stale = storage->fail_stale_trials(study.id());
  const int64_t done = study.count(TrialState::kComplete) + study.count(TrialState::kPruned);
  if (done > 0 || stale > 0)
    print(fmt::format("resuming study '{}': {} finished trials, {} interrupted trials marked failed\n", name, done,
                      stale));
  if (study.trials().empty())
    for (const std::string& e : opt.enqueue) study.enqueue(parse_assignment(space, e));
  else if (!opt.enqueue.empty())
    print("--enqueue ignored: the study already holds trials (its queued ones run first)\n");
  const int64_t remaining = std::max<int64_t>(opt.trials - done, 0);
  print(fmt::format("tune {}: {}\n  {} by {} ({}), sampler {} (seed {}), pruner {}, {} trials of up to {} epochs{}{}, "
                    "storage {}\n",
                    trainable.name(), trainable.describe(), trainable.metric(), to_string(trainable.direction()),
                    space.size() == 0 ? "no parameters" : fmt::format("{} parameters", space.size()),
                    sampler->name(), opt.seed, opt.pruner, remaining, opt.max_resource,
                    opt.jobs > 1 ? fmt::format(" on {} threads", opt.jobs) : "",
                    (opt.budget_s ? fmt::format(", budget {:.4g} s", *opt.budget_s) : "") +
                        (opt.cpu_budget_s ? fmt::format(", CPU budget {:.4g} s", *opt.cpu_budget_s) : ""),
                    opt.storage));

  TuneReport rep;
  rep.study = name;
  const auto t0 = std::chrono::steady_clock::now();
  RunContext ctx{.max_resource = opt.max_resource};
  if (opt.budget_s)
    ctx.deadline = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                            std::chrono::duration<double>(*opt.budget_s));
  if (opt.cpu_budget_s) ctx.cpu_deadline_s = process_cpu_seconds() + *opt.cpu_budget_s;
  std::mutex print_mu;
  // Epoch lines at most once a second (fast tasks would flood the terminal); every trial's row
  // at its end carries its whole curve.
  auto last_line = std::chrono::steady_clock::now() - std::chrono::seconds(10);
  if (!opt.quiet)
    ctx.on_report = [&](const Trial& t, int64_t step, double v) {
      std::lock_guard lock(print_mu);
      const auto now = std::chrono::steady_clock::now();
      if (now - last_line < std::chrono::seconds(1)) return;
      last_line = now;
      print(fmt::format("  trial {:4d}  epoch {:3d}/{}  {} {:.6g}\n", t.number(), step, opt.max_resource,
                        trainable.metric(), v));
    };
  // Test closures of finished runs wait in `pending` until their trial's callback, which keeps the
  // one of the study's best trial (so at most jobs + 1 trained models are held).
  std::map<int64_t, std::function<double()>> pending;
  std::pair<int64_t, std::function<double()>> kept{-1, {}};
  std::mutex kept_mu;
  const Objective objective = [&](Trial& t) {
    RunResult r;
    try {
      r = trainable.run(t, ctx);
    } catch (const BudgetExceeded&) {
      std::lock_guard lock(kept_mu);
      ++rep.budget_stopped;
      throw;
    }
    if (r.measure_test && opt.final_test) {
      std::lock_guard lock(kept_mu);
      pending[t.number()] = std::move(r.measure_test);
    }
    return r.value;
  };
  study.optimize(objective, {.n_trials = remaining, .max_total_trials = opt.trials, .timeout_s = opt.budget_s,
                             .cpu_timeout_s = opt.cpu_budget_s,
                             .n_jobs = opt.jobs, .log = false, .callback = [&](Study& s, const FrozenTrial& t) {
                               rep.epochs += int64_t(t.intermediate.size());
                               rep.complete += t.state == TrialState::kComplete;
                               rep.pruned += t.state == TrialState::kPruned;
                               rep.failed += t.state == TrialState::kFailed;
                               const auto best = s.best_trial();
                               {
                                 std::lock_guard lock(kept_mu);
                                 if (auto it = pending.find(t.number); it != pending.end()) {
                                   if (best && best->number == t.number && t.state == TrialState::kComplete)
                                     kept = {t.number, std::move(it->second)};
                                   pending.erase(it);
                                 }
                               }
                               if (opt.quiet) return;
                               std::lock_guard lock(print_mu);
                               std::string curve;  // the reported values, at most 8 (evenly spaced)
                               const size_t n = t.intermediate.size(), every = (n + 7) / 8;
                               size_t k = 0;
                               for (const auto& [step, v] : t.intermediate)
                                 if (k++ % std::max<size_t>(every, 1) == 0 || k == n)
                                   curve += fmt::format("{}{:.4g}", curve.empty() ? "" : " ", v);
                               last_line = std::chrono::steady_clock::now();
                               print(fmt::format(
                                   "trial {:4d} {:<8} {} {:>10}  best {:>10}  epochs {:3d} [{}]  {}{}\n", t.number,
                                   to_string(t.state), trainable.metric(),
                                   t.value ? fmt::format("{:.6g}", *t.value) : "-",
                                   best ? fmt::format("{:.6g}", *best->value) : "-", n, curve, t.params_string(),
                                   t.message.empty() ? "" : "  (" + t.message + ")"));
                             }});
  rep.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  rep.best = study.best_trial();
  const auto trials = study.trials();
  rep.importance = param_importance(trials);
  print(fmt::format("\nsummary: {} complete, {} pruned{}, {} failed in this run ({} epochs, {:.1f} s); the study "
                    "holds {} trials\n",
                    rep.complete, rep.pruned,
                    rep.budget_stopped ? fmt::format(" ({} by the budget)", rep.budget_stopped) : "", rep.failed,
                    rep.epochs, rep.seconds, trials.size()));
  if (!rep.importance.empty()) {
    std::string s;
    for (const auto& [n, v] : rep.importance) s += fmt::format(" {}={:.2f}", n, v);
    print("importance:" + s + "\n");
  }
  if (!rep.best) {
    print("no trial completed\n");
  } else {
    print(fmt::format("best trial {}: {} {:.6g}  {}\n", rep.best->number, trainable.metric(), *rep.best->value,
                      rep.best->params_string()));
    if (opt.final_test && kept.first == rep.best->number) {
      // This run trained the best trial and its model was kept: measure its test metric (the only
      // time the test split is touched).
      rep.final = RunResult{.value = *rep.best->value, .test = kept.second(),
                            .resource = int64_t(rep.best->intermediate.size())};
      print(fmt::format("best trial's kept model: {} {:.6g}, test {:.6g}\n", trainable.metric(), rep.final->value,
                        *rep.final->test));
    } else if (opt.final_test) {
      // The best configuration once more, now with the test metric (the only time it is measured).
      Study final_study(StudyOptions{.name = "final", .direction = trainable.direction()});
      std::map<std::string, ParamValue> params;
      for (const auto& [k, v] : rep.best->params) params[k] = rep.best->distributions.at(k).to_param_value(v);
      final_study.enqueue(params);
      Trial t = final_study.ask();
      RunContext fctx{.max_resource = opt.max_resource, .measure_test = true, .verbose = !opt.quiet};
      rep.final = trainable.run(t, fctx);
      final_study.tell(t, rep.final->value);
      print(fmt::format("best configuration retrained: {} {:.6g}, test {}\n", trainable.metric(), rep.final->value,
                        rep.final->test ? fmt::format("{:.6g}", *rep.final->test) : "-"));
    }
  }
  if (!opt.plots.empty() && rep.best) {
    plot_history(trials, study.direction(), opt.plots + "_history.png", name + ": " + trainable.metric());
    plot_intermediate(trials, opt.plots + "_intermediate.png", name + ": " + trainable.metric() + " per epoch");
    if (!rep.importance.empty())
      plot_importance(rep.importance, opt.plots + "_importance.png", name + ": parameter importance");
    print(fmt::format("plots: {}_history.png {}_intermediate.png{}\n", opt.plots, opt.plots,
                      rep.importance.empty() ? "" : " " + opt.plots + "_importance.png"));
  }
  return rep;
}

}  // namespace ember::hpo

// The tuner: runs a study over a Trainable (hpo/trainable.h) with a sampler, a pruner, a storage
// (resumed when the study exists, after checking it was run on the same space), a wall-clock budget
// and parallel trials; prints a live table; at the end retrains the best configuration once with
// the test metric and writes the study plots. `ember tune fmnist|csv|command|...` are thin wrappers.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "hpo/study.h"
#include "hpo/trainable.h"

namespace ember::hpo {

struct TuneOptions {
  std::string study{};             // default: the trainable's name
  std::string sampler = "tpe";     // random | grid | tpe | tpe-independent | gp | cfo | blend
  uint64_t seed = 0;
  std::string pruner = "median";   // none | median | asha | hyperband | curve
  std::string storage = "memory";  // memory | sqlite:PATH | postgresql://...
  int64_t trials = 20;             // total trials in the study (a resumed study counts its own)
  std::optional<double> budget_s{};  // wall-clock budget of this call (running trials stop at their next report)
  std::optional<double> cpu_budget_s{};  // CPU-time budget of this call (process + finished children), likewise
  int jobs = 1;                    // trials in parallel (threads)
  int64_t max_resource = 1;        // epochs of a complete trial
  bool final_test = true;          // retrain the best configuration and measure the test metric
  std::string plots{};             // PREFIX: PREFIX_history.png, _intermediate.png, _importance.png
  bool quiet = false;              // only the summary
  // Configurations to try first, each "name=value,name=value" (a subset of the space; the sampler
  // fills the rest). Queued only when the study holds no trials yet, so a resumed study does not
  // run them twice.
  std::vector<std::string> enqueue{};
  std::function<void(const std::string&)> print{};  // default: stdout
};

struct TuneReport {
  std::string study;
  std::optional<FrozenTrial> best;  // the best complete trial of the study
  std::optional<RunResult> final;   // the best configuration retrained, with its test metric
  int64_t complete = 0, pruned = 0, failed = 0;
  int64_t budget_stopped = 0;  // of the pruned: the trials the budget stopped (BudgetExceeded)
  int64_t epochs = 0;               // reports over all trials of this call (the resource spent)
  double seconds = 0;
  std::vector<std::pair<std::string, double>> importance;  // parameter, share of explained variance
};

TuneReport tune(Trainable& trainable, const TuneOptions& opt);

// Throws a clear error when the study already holds trials whose parameters are not in `space`
// (or have other ranges): a resumed study must be the same objective and space. `what` names the
// objective, `where` the storage (both for the message).
void check_study_space(const Study& study, const Space& space, const std::string& what, const std::string& where);

// "lr=0.002,width=32,augment=flip" -> the values of those parameters of `space`, checked against
// their distributions; throws naming the unknown parameter or the bad value.
std::map<std::string, ParamValue> parse_assignment(const Space& space, const std::string& text);

// "90", "90s", "30m", "2h", "1h30m" -> seconds; throws on anything else (naming `option`).
double parse_duration(const std::string& text, const std::string& option = "--budget");

// Main-effect importance of each parameter over the complete trials: the share of the value's
// variance explained by the parameter alone (between-bin variance over quantile bins of its unit
// value, or per choice), normalized to sum to 1. Sorted, largest first.
std::vector<std::pair<std::string, double>> param_importance(const std::vector<TrialPtr>& trials);

}  // namespace ember::hpo

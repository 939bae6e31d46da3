// Trainable: what a real training job exposes to HPO. hpo/ never includes the zoo; the zoo (and
// any user) implements this interface and hpo/tuner.h drives it: a search space with good
// defaults, and run(trial) that trains with the trial's parameters, reports the validation metric
// after every epoch (or every K steps) through report_epoch() below, which honours the pruner, and
// returns the final validation metric. The test split is only touched when the tuner asks for it,
// once, for the best configuration: through RunResult::measure_test when the trainable kept that
// trial's model, else by retraining it with RunContext::measure_test.
//
//   class MyTask : public hpo::Trainable {
//     hpo::Space space() const override { ... }
//     hpo::RunResult run(hpo::Trial& t, const hpo::RunContext& ctx) override {
//       auto p = space().suggest_all(t);
//       for (int64_t e = 1; e <= ctx.max_resource; ++e) { train_epoch(); hpo::report_epoch(t, ctx, e, val()); }
//       return {.value = val(), .test = ctx.measure_test ? std::optional(test()) : std::nullopt};
//     }
//   };
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "hpo/space.h"
#include "hpo/study.h"
#include "hpo/trial.h"

namespace ember::hpo {

struct RunContext {
  int64_t max_resource = 1;    // epochs (or evaluation rounds) a complete trial trains
  bool measure_test = false;   // only for the final run of the best configuration
  bool verbose = false;        // the trainable may print its own progress
  // Past this point a running trial stops at its next report (the study's wall-clock budget).
  std::optional<std::chrono::steady_clock::time_point> deadline{};
  // Likewise for the CPU budget: the process CPU time (process_cpu_seconds(), study.h) past which
  // a running trial stops at its next report.
  std::optional<double> cpu_deadline_s{};
  // Called on every report (the tuner's live table); may be empty.
  std::function<void(const Trial&, int64_t step, double value)> on_report{};
};

struct RunResult {
  double value = 0;                 // the final validation metric (what the study optimizes)
  std::optional<double> test{};     // the test metric, only when RunContext::measure_test
  int64_t resource = 0;             // epochs (steps) actually trained
  // Optional: the trained model's test metric, measured when called. A trainable that keeps its
  // model can return this from a complete run; the tuner keeps it only while the trial is the
  // study's best, and calls it once, for the best trial, instead of retraining it.
  std::function<double()> measure_test{};
};

// Thrown by report_epoch when the study's deadline passed: the trial is recorded as pruned (stopped
// before its full resource, its last reported value kept, as the pruners' own stops are) with this
// message, and the tuner stops. It was recorded as failed until stop 18, which lost a run's
// intermediate values to the samplers and counted a healthy trial as broken.
struct BudgetExceeded : TrialPruned {
  explicit BudgetExceeded(const char* which = "wall-clock")
      : TrialPruned(std::string("stopped: the ") + which + " budget ran out") {}
};

class Trainable {
 public:
  virtual ~Trainable() = default;
  virtual std::string name() const = 0;
  // The metric run() returns and reports ("val_accuracy", "val_rmse", ...) and its direction.
  virtual std::string metric() const = 0;
  virtual Direction direction() const = 0;
  // The default search space (every parameter with a range that works for this task).
  virtual Space space() const = 0;
  // A one-line description of the data and model (printed by the tuner).
  virtual std::string describe() const { return name(); }
  // The same configuration always gives the same metric (seeded, reproducible training, as every
  // zoo task): samplers may then treat the objective as noise-free (GpOptions::deterministic).
  virtual bool deterministic() const { return false; }
  // Trains one configuration (the trial's parameters, suggested from space()). Reports through
  // report_epoch; a pruned trial ends by the TrialPruned that report_epoch throws.
  virtual RunResult run(Trial& trial, const RunContext& ctx) = 0;
};

// Reports `value` after `step` (1-based epoch) and throws TrialPruned when the pruner stops the
// trial, BudgetExceeded when the deadline passed. Not pruned at the last step (a finished trial
// completes).
inline void report_epoch(Trial& trial, const RunContext& ctx, int64_t step, double value) {
  trial.report(step, value);
  if (ctx.on_report) ctx.on_report(trial, step, value);
  if (step >= ctx.max_resource || ctx.measure_test) return;
  if (ctx.deadline && std::chrono::steady_clock::now() > *ctx.deadline) throw BudgetExceeded();
  if (ctx.cpu_deadline_s && process_cpu_seconds() > *ctx.cpu_deadline_s) throw BudgetExceeded("CPU");
  if (trial.should_prune()) throw TrialPruned();
}

}  // namespace ember::hpo

// Study: the ask/tell core of hpo. ask() starts a trial, tell() finishes it; optimize() is a
// thin loop over both that runs the objective on n_jobs threads, marks a trial failed when the
// objective throws or returns a non-finite value, and keeps going.
//
//   auto study = Study(StudyOptions{.name = "lr", .sampler = make_sampler("tpe", {.seed = 1})});
//   study.optimize([](Trial& t) { return f(t.suggest_float("lr", 1e-5, 1, {.log = true})); },
//                  {.n_trials = 100});
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hpo/pruner.h"
#include "hpo/sampler.h"
#include "hpo/storage/storage.h"
#include "hpo/trial.h"

namespace ember::hpo {

struct StudyOptions {
  std::string name = "default";
  Direction direction = Direction::kMinimize;
  std::shared_ptr<Sampler> sampler{};  // default: random with seed 0
  std::shared_ptr<Pruner> pruner{};    // default: none
  std::shared_ptr<Storage> storage{};  // default: a fresh MemoryStorage
  bool load_if_exists = true;        // false: an existing study of that name is an error
};

using Objective = std::function<double(Trial&)>;

// CPU seconds (user + system) used so far by this process and its waited-for children.
double process_cpu_seconds();

struct OptimizeOptions {
  std::optional<int64_t> n_trials{};  // trials to run in this call (unset: until timeout or stop)
  // Stop once the study (in its storage, whoever runs it) holds this many trials that did not fail;
  // counted in one storage transaction, so processes sharing a study run exactly this many in total.
  std::optional<int64_t> max_total_trials{};
  std::optional<double> timeout_s{};
  // CPU budget of this call: no trial starts once the process (with its finished child
  // processes, e.g. `ember tune command` trials) has used this many CPU seconds since the call.
  std::optional<double> cpu_timeout_s{};
  int n_jobs = 1;
  // One line per finished trial (number, state, value, best so far, params; a failed trial's
  // exception), like optuna's logging; false silences it, `logger` redirects it (default stderr).
  bool log = true;
  std::function<void(const std::string&)> logger{};
  // false: an exception from the objective (not TrialPruned) is re-raised by optimize after the
  // trial is recorded as failed (optuna's catch=()); true: the study goes on.
  bool catch_exceptions = true;
  // Called after each finished trial (from the worker thread that ran it, serialized).
  std::function<void(Study&, const FrozenTrial&)> callback{};
};

class Study {
 public:
  explicit Study(StudyOptions opt);
  Study(const Study&) = delete;
  Study& operator=(const Study&) = delete;

  // max_total: see OptimizeOptions::max_total_trials; throws BudgetReached when the study is full.
  Trial ask(std::optional<int64_t> max_total = std::nullopt);
  void tell(Trial& trial, double value);  // a non-finite value marks the trial failed
  void tell(Trial& trial, TrialState state, const std::string& message = {});
  void optimize(const Objective& objective, const OptimizeOptions& opt);
  void stop() { stop_requested_ = true; }

  // Adds a trial whose parameters are fixed to these values (validated when suggested).
  void enqueue(const std::map<std::string, ParamValue>& params);

  const std::string& name() const { return name_; }
  int64_t id() const { return study_id_; }
  Direction direction() const { return direction_; }
  Sampler& sampler() { return *sampler_; }
  Storage& storage() { return *storage_; }
  std::vector<TrialPtr> trials() const;
  History history() const;
  std::optional<FrozenTrial> best_trial() const;  // none until a trial completes
  int64_t count(TrialState state) const;

 private:
  friend class Trial;
  double suggest(Trial& trial, const std::string& name, const Distribution& dist);
  bool should_prune(Trial& trial);
  void finish(Trial& trial, TrialState state, std::optional<double> value, const std::string& message);
  void run_one(const Objective& objective, const OptimizeOptions& opt);

  std::string name_;
  Direction direction_;
  std::shared_ptr<Sampler> sampler_;
  std::shared_ptr<Pruner> pruner_;
  std::shared_ptr<Storage> storage_;
  int64_t study_id_ = -1;
  std::mutex sampler_mu_;   // one sampler call at a time
  std::mutex callback_mu_;  // one callback at a time
  std::atomic<bool> stop_requested_{false};
};

// Export every trial: CSV (number,state,value,params...,time) and JSON (an array of objects).
std::string trials_to_csv(const std::vector<TrialPtr>& trials);
std::string trials_to_json(const std::string& study_name, Direction direction, const std::vector<TrialPtr>& trials);

}  // namespace ember::hpo

// Trials: FrozenTrial (a record: state, value, params, intermediate values), History (the
// snapshot of a study that samplers and pruners read) and Trial (the live handle an objective
// gets: suggest_*, report, should_prune).
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "hpo/space.h"

namespace ember::hpo {

enum class Direction { kMinimize, kMaximize };
enum class TrialState { kRunning, kComplete, kPruned, kFailed, kWaiting };

std::string to_string(Direction d);
std::string to_string(TrialState s);
Direction direction_from_string(const std::string& s);  // "minimize" | "maximize", throws otherwise
TrialState trial_state_from_string(const std::string& s);

struct FrozenTrial {
  int64_t id = -1;      // storage-wide id
  int64_t number = -1;  // 0, 1, 2, ... within the study
  TrialState state = TrialState::kRunning;
  std::optional<double> value;  // set for complete trials (and pruned ones with a last report)
  std::map<std::string, double> params;  // internal representation (see space.h)
  std::map<std::string, Distribution> distributions;
  std::map<int64_t, double> intermediate;          // step -> reported value
  std::map<std::string, ParamValue> fixed_params;  // enqueued values, used before the sampler
  double time_start = 0.0;  // seconds since the epoch
  double time_end = 0.0;
  std::string message;  // why a trial failed
  std::map<std::string, std::string> user_attrs;  // key -> value as JSON text (Trial::set_user_attr)

  bool is_finished() const {
    return state == TrialState::kComplete || state == TrialState::kPruned || state == TrialState::kFailed;
  }
  std::optional<double> last_intermediate() const;
  // The user-facing value of a parameter (throws if the trial has no such parameter).
  ParamValue param(const std::string& name) const;
  std::string param_string(const std::string& name) const;
  std::string params_string() const;  // "name=value name=value ..." in name order
  // A user attribute as JSON (throws ember::Error naming the key and the keys the trial has).
  nlohmann::json user_attr(const std::string& key) const;
};

using TrialPtr = std::shared_ptr<const FrozenTrial>;

// An immutable snapshot of a study's trials, in trial-number order.
class History {
 public:
  History(Direction direction, std::vector<TrialPtr> trials)
      : direction_(direction), trials_(std::move(trials)) {}

  Direction direction() const { return direction_; }
  const std::vector<TrialPtr>& trials() const { return trials_; }
  // Trials in the given state.
  std::vector<TrialPtr> with_state(TrialState s) const;
  // The value turned into a loss (lower is better): value for minimize, -value for maximize.
  double loss(double value) const { return direction_ == Direction::kMinimize ? value : -value; }
  // The best complete trial, if any.
  TrialPtr best() const;

 private:
  Direction direction_;
  std::vector<TrialPtr> trials_;
};

// Thrown by an objective (after should_prune() returned true) to stop the trial as pruned: it is
// recorded with its last reported value, as a trial stopped before its full resource. A reason,
// when given, becomes the trial's message (e.g. the tuner's budget running out).
struct TrialPruned : std::exception {
  TrialPruned() = default;
  explicit TrialPruned(std::string reason) : reason_(std::move(reason)) {}
  const char* what() const noexcept override { return reason_.empty() ? "trial pruned" : reason_.c_str(); }
  const std::string& reason() const noexcept { return reason_; }

 private:
  std::string reason_;
};

class Study;

class Trial {
 public:
  // Suggest a parameter value. A repeated name returns the same value (and must give the same
  // range); invalid ranges throw ember::Error naming the parameter.
  double suggest_float(const std::string& name, double low, double high, FloatOptions opt = {});
  int64_t suggest_int(const std::string& name, int64_t low, int64_t high, IntOptions opt = {});
  std::string suggest_categorical(const std::string& name, std::vector<std::string> choices);
  // The general form (used by Space::suggest_all): returns the internal value.
  double suggest(const std::string& name, const Distribution& dist);

  // Record an intermediate value (e.g. validation loss after `step` epochs).
  void report(int64_t step, double value);
  // Ask the study's pruner whether this trial should stop now.
  bool should_prune();
  // Attach a JSON value to the trial (optuna's set_user_attr): anything the user wants to keep
  // beside the parameters, e.g. the test metric, the epoch count or a checkpoint path. Stored
  // with the trial in every storage; setting a key again replaces its value. Only while the
  // trial runs; the key must be non-empty.
  void set_user_attr(const std::string& key, const nlohmann::json& value);

  int64_t number() const { return record_.number; }
  int64_t id() const { return record_.id; }
  const FrozenTrial& record() const { return record_; }
  const std::map<std::string, double>& params() const { return record_.params; }

 private:
  friend class Study;
  Trial(Study* study, FrozenTrial record, std::shared_ptr<const History> history,
        std::map<std::string, double> relative)
      : study_(study), record_(std::move(record)), history_(std::move(history)), relative_(std::move(relative)) {}

  Study* study_;
  FrozenTrial record_;
  std::shared_ptr<const History> history_;  // the study as it was when the trial started
  std::map<std::string, double> relative_;  // joint proposals from Sampler::sample_relative
};

}  // namespace ember::hpo

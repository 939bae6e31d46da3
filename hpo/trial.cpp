// FrozenTrial helpers, History queries and the Trial handle (which forwards to its Study).
#include "hpo/trial.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "hpo/study.h"
#include "tensor/error.h"

namespace ember::hpo {

std::string to_string(Direction d) { return d == Direction::kMinimize ? "minimize" : "maximize"; }

std::string to_string(TrialState s) {
  switch (s) {
    case TrialState::kRunning: return "running";
    case TrialState::kComplete: return "complete";
    case TrialState::kPruned: return "pruned";
    case TrialState::kFailed: return "failed";
    case TrialState::kWaiting: return "waiting";
  }
  return "?";
}

Direction direction_from_string(const std::string& s) {
  if (s == "minimize") return Direction::kMinimize;
  if (s == "maximize") return Direction::kMaximize;
  EMBER_CHECK(false, "study: unknown direction '{}' (expected minimize or maximize)", s);
  return Direction::kMinimize;
}

TrialState trial_state_from_string(const std::string& s) {
  for (auto st : {TrialState::kRunning, TrialState::kComplete, TrialState::kPruned, TrialState::kFailed,
                  TrialState::kWaiting})
    if (to_string(st) == s) return st;
  EMBER_CHECK(false, "trial: unknown state '{}'", s);
  return TrialState::kFailed;
}

std::optional<double> FrozenTrial::last_intermediate() const {
  if (intermediate.empty()) return std::nullopt;
  return intermediate.rbegin()->second;
}

ParamValue FrozenTrial::param(const std::string& name) const {
  const auto it = params.find(name);
  EMBER_CHECK(it != params.end(), "trial {}: has no parameter '{}'", number, name);
  return distributions.at(name).to_param_value(it->second);
}

std::string FrozenTrial::param_string(const std::string& name) const {
  const auto it = params.find(name);
  if (it == params.end()) return "";
  return distributions.at(name).format_value(it->second);
}

std::string FrozenTrial::params_string() const {
  std::string s;
  for (const auto& [name, v] : params) s += (s.empty() ? "" : " ") + name + "=" + param_string(name);
  return s;
}

std::vector<TrialPtr> History::with_state(TrialState s) const {
  std::vector<TrialPtr> out;
  for (const auto& t : trials_)
    if (t->state == s) out.push_back(t);
  return out;
}

TrialPtr History::best() const {
  TrialPtr best;
  for (const auto& t : trials_) {
    if (t->state != TrialState::kComplete || !t->value.has_value()) continue;
    if (best == nullptr || loss(*t->value) < loss(*best->value)) best = t;
  }
  return best;
}

// ---- Trial ----

double Trial::suggest_float(const std::string& name, double low, double high, FloatOptions opt) {
  return suggest(name, Distribution::make_float(name, low, high, opt));
}

int64_t Trial::suggest_int(const std::string& name, int64_t low, int64_t high, IntOptions opt) {
  return std::llround(suggest(name, Distribution::make_int(name, low, high, opt)));
}

std::string Trial::suggest_categorical(const std::string& name, std::vector<std::string> choices) {
  const auto dist = Distribution::make_categorical(name, std::move(choices));
  return std::get<std::string>(dist.to_param_value(suggest(name, dist)));
}

double Trial::suggest(const std::string& name, const Distribution& dist) {
  EMBER_CHECK(record_.state == TrialState::kRunning, "trial {}: suggest '{}' after the trial finished",
              record_.number, name);
  return study_->suggest(*this, name, dist);
}

void Trial::report(int64_t step, double value) {
  EMBER_CHECK(record_.state == TrialState::kRunning, "trial {}: report after the trial finished", record_.number);
  EMBER_CHECK(step >= 0, "trial {}: report step must be >= 0 (got {})", record_.number, step);
  if (record_.intermediate.count(step)) return;  // first report of a step wins (like optuna)
  record_.intermediate[step] = value;
  study_->storage().set_intermediate(record_.id, step, value);
}

bool Trial::should_prune() { return study_->should_prune(*this); }

void Trial::set_user_attr(const std::string& key, const nlohmann::json& value) {
  EMBER_CHECK(!key.empty(), "trial {}: a user attribute needs a non-empty key", record_.number);
  EMBER_CHECK(record_.state == TrialState::kRunning, "trial {}: set_user_attr('{}') after the trial finished",
              record_.number, key);
  EMBER_CHECK(!value.is_discarded(), "trial {}: user attribute '{}' has no value", record_.number, key);
  // NaN and infinity have no JSON form (they would be written as null): say so instead.
  auto finite = [](const nlohmann::json& j, const auto& self) -> bool {
    if (j.is_number_float()) return std::isfinite(j.get<double>());
    if (j.is_structured())
      for (const auto& v : j) if (!self(v, self)) return false;
    return true;
  };
  EMBER_CHECK(finite(value, finite), "trial {}: user attribute '{}' holds NaN or infinity, which JSON cannot store",
              record_.number, key);
  std::string text;
  try {
    text = value.dump();
  } catch (const nlohmann::json::exception& e) {  // e.g. a string that is not UTF-8
    EMBER_CHECK(false, "trial {}: user attribute '{}' cannot be written as JSON: {}", record_.number, key, e.what());
  }
  study_->storage().set_user_attr(record_.id, key, text);
  record_.user_attrs[key] = std::move(text);
}

nlohmann::json FrozenTrial::user_attr(const std::string& key) const {
  const auto it = user_attrs.find(key);
  if (it == user_attrs.end()) {
    std::string have;
    for (const auto& [k, v] : user_attrs) have += (have.empty() ? "" : ", ") + k;
    EMBER_CHECK(false, "trial {}: no user attribute '{}' (it has: {})", number, key, have.empty() ? "none" : have);
  }
  auto j = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  EMBER_CHECK(!j.is_discarded(), "trial {}: user attribute '{}' is not valid JSON: {}", number, key, it->second);
  return j;
}

}  // namespace ember::hpo

// MemoryStorage: one mutex, copy-on-write trial records.
#include "hpo/storage/memory.h"

#include <chrono>

#include "tensor/error.h"

namespace ember::hpo {

MemoryStorage::StudyRec& MemoryStorage::study(int64_t id) {
  EMBER_CHECK(id >= 0 && id < static_cast<int64_t>(studies_.size()) && !studies_[size_t(id)].deleted,
              "memory storage: no study with id {}", id);
  return studies_[static_cast<size_t>(id)];
}

std::shared_ptr<FrozenTrial>& MemoryStorage::trial_slot(int64_t trial_id) {
  const auto it = trial_index_.find(trial_id);
  EMBER_CHECK(it != trial_index_.end(), "memory storage: no trial with id {}", trial_id);
  auto& slot = studies_[static_cast<size_t>(it->second.first)].trials[it->second.second];
  if (slot.use_count() > 1) slot = std::make_shared<FrozenTrial>(*slot);  // a snapshot still reads the old one
  return slot;
}

int64_t MemoryStorage::create_study(const std::string& name, Direction direction) {
  std::lock_guard lock(mu_);
  for (const auto& s : studies_)
    EMBER_CHECK(s.deleted || s.info.name != name, "memory storage: study '{}' already exists", name);
  StudyRec rec;
  rec.info = {static_cast<int64_t>(studies_.size()), name, direction, 0};
  studies_.push_back(std::move(rec));
  return studies_.back().info.id;
}

std::optional<StudyInfo> MemoryStorage::find_study(const std::string& name) {
  std::lock_guard lock(mu_);
  for (const auto& s : studies_) {
    if (s.deleted || s.info.name != name) continue;
    StudyInfo info = s.info;
    info.n_trials = static_cast<int64_t>(s.trials.size());
    return info;
  }
  return std::nullopt;
}

std::vector<StudyInfo> MemoryStorage::list_studies() {
  std::lock_guard lock(mu_);
  std::vector<StudyInfo> out;
  for (const auto& s : studies_) {
    if (s.deleted) continue;
    out.push_back(s.info);
    out.back().n_trials = static_cast<int64_t>(s.trials.size());
  }
  return out;
}

void MemoryStorage::delete_study(const std::string& name) {
  std::lock_guard lock(mu_);
  for (auto& s : studies_) {
    if (s.deleted || s.info.name != name) continue;
    for (const auto& t : s.trials) trial_index_.erase(t->id);
    s.trials.clear();
    s.claims.clear();
    s.deleted = true;
    return;
  }
  EMBER_CHECK(false, "memory storage: no study '{}' to delete", name);
}

FrozenTrial MemoryStorage::create_trial(int64_t study_id, TrialState state,
                                        const std::map<std::string, ParamValue>& fixed_params) {
  EMBER_CHECK(state == TrialState::kRunning || state == TrialState::kWaiting,
              "memory storage: a new trial must be running or waiting, not {}", to_string(state));
  std::lock_guard lock(mu_);
  auto& s = study(study_id);
  auto t = std::make_shared<FrozenTrial>();
  t->id = next_trial_id_++;
  t->number = static_cast<int64_t>(s.trials.size());
  t->state = state;
  t->fixed_params = fixed_params;
  if (state == TrialState::kRunning) t->time_start = now_s();
  trial_index_[t->id] = {study_id, s.trials.size()};
  s.trials.push_back(t);
  return *t;
}

std::optional<FrozenTrial> MemoryStorage::create_trial_within(int64_t study_id, int64_t max_trials) {
  std::lock_guard budget(budget_mu_);  // no other budgeted insert between the count and the insert
  {
    std::lock_guard lock(mu_);
    int64_t live = 0;
    for (const auto& t : study(study_id).trials) live += t->state != TrialState::kFailed;
    if (live >= max_trials) return std::nullopt;
  }
  return create_trial(study_id, TrialState::kRunning, {});
}

std::optional<FrozenTrial> MemoryStorage::claim_waiting_trial(int64_t study_id) {
  std::lock_guard lock(mu_);
  auto& s = study(study_id);
  for (auto& t : s.trials) {
    if (t->state != TrialState::kWaiting) continue;
    auto& slot = trial_slot(t->id);
    slot->state = TrialState::kRunning;
    slot->time_start = now_s();
    return *slot;
  }
  return std::nullopt;
}

void MemoryStorage::set_param(int64_t trial_id, const std::string& name, const Distribution& dist, double value) {
  std::lock_guard lock(mu_);
  auto& t = trial_slot(trial_id);
  EMBER_CHECK(t->state == TrialState::kRunning, "memory storage: trial {} is {}, cannot set '{}'", t->number,
              to_string(t->state), name);
  t->params[name] = value;
  t->distributions[name] = dist;
}

void MemoryStorage::set_intermediate(int64_t trial_id, int64_t step, double value) {
  std::lock_guard lock(mu_);
  auto& t = trial_slot(trial_id);
  EMBER_CHECK(t->state == TrialState::kRunning, "memory storage: trial {} is {}, cannot report", t->number,
              to_string(t->state));
  t->intermediate[step] = value;
}

void MemoryStorage::set_user_attr(int64_t trial_id, const std::string& key, const std::string& json) {
  std::lock_guard lock(mu_);
  auto& t = trial_slot(trial_id);
  EMBER_CHECK(t->state == TrialState::kRunning, "memory storage: trial {} is {}, cannot set user attribute '{}'",
              t->number, to_string(t->state), key);
  t->user_attrs[key] = json;
}

void MemoryStorage::finish_trial(int64_t trial_id, TrialState state, std::optional<double> value,
                                 const std::string& message) {
  std::lock_guard lock(mu_);
  auto& t = trial_slot(trial_id);
  EMBER_CHECK(t->state == TrialState::kRunning, "memory storage: trial {} is already {}", t->number,
              to_string(t->state));
  t->state = state;
  t->value = value;
  t->message = message;
  t->time_end = now_s();
}

FrozenTrial MemoryStorage::get_trial(int64_t trial_id) {
  std::lock_guard lock(mu_);
  const auto it = trial_index_.find(trial_id);
  EMBER_CHECK(it != trial_index_.end(), "memory storage: no trial with id {}", trial_id);
  return *studies_[static_cast<size_t>(it->second.first)].trials[it->second.second];
}

std::vector<TrialPtr> MemoryStorage::get_trials(int64_t study_id) {
  std::lock_guard lock(mu_);
  const auto& s = study(study_id);
  return {s.trials.begin(), s.trials.end()};
}

bool MemoryStorage::claim_key(int64_t study_id, const std::string& key, int64_t trial_id) {
  std::lock_guard lock(mu_);
  return study(study_id).claims.emplace(key, trial_id).second;
}

}  // namespace ember::hpo

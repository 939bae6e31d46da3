// The Storage interface: where studies and trials live. Implementations: MemoryStorage
// (storage/memory.h) and SqliteStorage (storage/sqlite.h, one file, WAL mode, shared by
// processes). Every method is safe to call from several threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpo/trial.h"

namespace ember::hpo {

// Seconds since the Unix epoch (trial start/end stamps in every storage).
inline double now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct StudyInfo {
  int64_t id = -1;
  std::string name;
  Direction direction = Direction::kMinimize;
  int64_t n_trials = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Creates a study; throws if the name is taken.
  virtual int64_t create_study(const std::string& name, Direction direction) = 0;
  virtual std::optional<StudyInfo> find_study(const std::string& name) = 0;
  virtual std::vector<StudyInfo> list_studies() = 0;
  // Removes a study and all its trials (optuna's delete_study); throws if there is no such study.
  virtual void delete_study(const std::string& name) = 0;

  // Creates a trial with the next number, in state kRunning or kWaiting (enqueued).
  virtual FrozenTrial create_trial(int64_t study_id, TrialState state,
                                   const std::map<std::string, ParamValue>& fixed_params) = 0;
  // Creates a running trial only while the study holds fewer than `max_trials` trials that have
  // not failed (complete, pruned, running, waiting), checked and inserted in one transaction, so
  // several processes sharing a study run exactly `max_trials` between them; nullopt when full.
  // The default is not atomic across processes: storages shared by processes override it.
  virtual std::optional<FrozenTrial> create_trial_within(int64_t study_id, int64_t max_trials) {
    int64_t live = 0;
    for (const auto& t : get_trials(study_id)) live += t->state != TrialState::kFailed;
    if (live >= max_trials) return std::nullopt;
    return create_trial(study_id, TrialState::kRunning, {});
  }
  // Atomically moves the oldest waiting trial to running and returns it.
  virtual std::optional<FrozenTrial> claim_waiting_trial(int64_t study_id) = 0;
  virtual void set_param(int64_t trial_id, const std::string& name, const Distribution& dist, double value) = 0;
  virtual void set_intermediate(int64_t trial_id, int64_t step, double value) = 0;
  // Sets (or replaces) a user attribute of a running trial; `json` is the value's JSON text.
  virtual void set_user_attr(int64_t trial_id, const std::string& key, const std::string& json) = 0;
  // Finishes a running trial (complete / pruned / failed). Throws if it is not running.
  virtual void finish_trial(int64_t trial_id, TrialState state, std::optional<double> value,
                            const std::string& message) = 0;

  virtual FrozenTrial get_trial(int64_t trial_id) = 0;
  virtual std::vector<TrialPtr> get_trials(int64_t study_id) = 0;

  // Claims `key` for `trial_id` once per study (first caller wins); used by the grid sampler so
  // parallel workers never evaluate a point twice.
  virtual bool claim_key(int64_t study_id, const std::string& key, int64_t trial_id) = 0;
  // Marks running trials whose owning process has died as failed and frees their keys.
  // Returns how many were marked.
  virtual int fail_stale_trials(int64_t study_id) = 0;
};

// "memory" (or "") -> MemoryStorage; "sqlite:PATH" -> SqliteStorage; "postgresql://..." ->
// PostgresStorage (storage/postgres.h). Throws on anything else.
std::shared_ptr<Storage> open_storage(const std::string& url);

}  // namespace ember::hpo

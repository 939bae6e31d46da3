// SqliteStorage: a study database in one SQLite file (WAL mode, synchronous=NORMAL), so a
// completed trial is durable once tell() returns, even if the process is then killed, and
// several processes can share a study (writes take BEGIN IMMEDIATE; readers never block).
//
// Schema (version 1): ember_meta(key, value), studies, trials, params, intermediate, claims.
// Opening a file that is not SQLite, is corrupted, or holds another application's tables
// throws ember::Error naming the file.
#pragma once

#include <mutex>
#include <string>

#include "hpo/storage/storage.h"

struct sqlite3;

namespace ember::hpo {

class SqliteStorage final : public Storage {
 public:
  explicit SqliteStorage(const std::string& path);
  ~SqliteStorage() override;
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  int64_t create_study(const std::string& name, Direction direction) override;
  std::optional<StudyInfo> find_study(const std::string& name) override;
  std::vector<StudyInfo> list_studies() override;
  void delete_study(const std::string& name) override;
  FrozenTrial create_trial(int64_t study_id, TrialState state,
                           const std::map<std::string, ParamValue>& fixed_params) override;
  std::optional<FrozenTrial> claim_waiting_trial(int64_t study_id) override;
  std::optional<FrozenTrial> create_trial_within(int64_t study_id, int64_t max_trials) override;
  void set_param(int64_t trial_id, const std::string& name, const Distribution& dist, double value) override;
  void set_intermediate(int64_t trial_id, int64_t step, double value) override;
  void set_user_attr(int64_t trial_id, const std::string& key, const std::string& json) override;
  void finish_trial(int64_t trial_id, TrialState state, std::optional<double> value,
                    const std::string& message) override;
  FrozenTrial get_trial(int64_t trial_id) override;
  std::vector<TrialPtr> get_trials(int64_t study_id) override;
  bool claim_key(int64_t study_id, const std::string& key, int64_t trial_id) override;
  int fail_stale_trials(int64_t study_id) override;

  const std::string& path() const { return path_; }

 private:
  void exec(const char* sql);
  // INSERT of the next-numbered trial; the caller holds mu_ and an open transaction.
  FrozenTrial insert_trial_locked(int64_t study_id, TrialState state, const std::map<std::string, ParamValue>& fixed);
  std::vector<FrozenTrial> load_trials(const char* where_sql, int64_t key);

  std::string path_;
  sqlite3* db_ = nullptr;
  std::recursive_mutex mu_;  // one connection, used by one thread at a time
};

}  // namespace ember::hpo

// PostgresStorage: a study database on a PostgreSQL server (libpq), shared by many worker
// processes on many machines, the way Optuna's RDB storage is used.
//
//   open_storage("postgresql://user@host:5432/db")            // any libpq connection URI
//   open_storage("postgresql://user@host/db?ember_heartbeat=5&ember_grace=30")
//
// Schema (version 1, created on first use under an advisory lock so racing workers create it once):
// ember_meta(key, value), studies (with a per-study trial counter), trials (owner, heartbeat),
// params, intermediate, claims. Concurrency: trial numbers come from an UPDATE ... RETURNING on the
// study row (serialized by its row lock), waiting trials are claimed with FOR UPDATE SKIP LOCKED,
// grid keys with INSERT ... ON CONFLICT DO NOTHING, so no trial is duplicated or lost.
// Heartbeats: a background thread stamps this process's running trials every `heartbeat` seconds;
// fail_stale_trials marks failed the running trials whose heartbeat is older than `grace` seconds
// (any host), or whose owner process on this host is gone.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "hpo/storage/storage.h"

struct pg_conn;

namespace ember::hpo {

struct PostgresOptions {
  double heartbeat_s = 5;  // how often running trials are stamped
  double grace_s = 30;     // a running trial without a stamp for this long is failed by fail_stale_trials
};

class PostgresStorage final : public Storage {
 public:
  // `url`: a libpq URI (postgresql://...); the ember_heartbeat / ember_grace query parameters, when
  // present, override `options` and are removed before libpq sees the URI.
  explicit PostgresStorage(const std::string& url, PostgresOptions options = {});
  ~PostgresStorage() override;
  PostgresStorage(const PostgresStorage&) = delete;
  PostgresStorage& operator=(const PostgresStorage&) = delete;

  int64_t create_study(const std::string& name, Direction direction) override;
  std::optional<StudyInfo> find_study(const std::string& name) override;
  std::vector<StudyInfo> list_studies() override;
  void delete_study(const std::string& name) override;
  FrozenTrial create_trial(int64_t study_id, TrialState state,
                           const std::map<std::string, ParamValue>& fixed_params) override;
  std::optional<FrozenTrial> create_trial_within(int64_t study_id, int64_t max_trials) override;
  std::optional<FrozenTrial> claim_waiting_trial(int64_t study_id) override;
  void set_param(int64_t trial_id, const std::string& name, const Distribution& dist, double value) override;
  void set_intermediate(int64_t trial_id, int64_t step, double value) override;
  void set_user_attr(int64_t trial_id, const std::string& key, const std::string& json) override;
  void finish_trial(int64_t trial_id, TrialState state, std::optional<double> value,
                    const std::string& message) override;
  FrozenTrial get_trial(int64_t trial_id) override;
  std::vector<TrialPtr> get_trials(int64_t study_id) override;
  bool claim_key(int64_t study_id, const std::string& key, int64_t trial_id) override;
  int fail_stale_trials(int64_t study_id) override;

  const std::string& owner() const { return owner_; }  // "host:pid:tag" stamped on running trials

 private:
  class Result;
  Result query(const char* sql, const std::vector<std::optional<std::string>>& params = {});
  template <class Fn>
  auto transaction(Fn&& fn);
  std::vector<FrozenTrial> load_trials(const char* where_sql, int64_t key);
  void heartbeat_loop();

  std::string where_;  // the URL without password, for messages
  std::string owner_;
  PostgresOptions options_;
  pg_conn* conn_ = nullptr;
  std::recursive_mutex mu_;  // one connection, one statement at a time
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread heartbeat_;
};

}  // namespace ember::hpo

// MemoryStorage: studies in process memory. Trials are copy-on-write shared pointers, so a
// snapshot (get_trials) costs one pointer copy per trial however many intermediate values exist.
#pragma once

#include <mutex>
#include <unordered_map>

#include "hpo/storage/storage.h"

namespace ember::hpo {

class MemoryStorage final : public Storage {
 public:
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
  int fail_stale_trials(int64_t study_id) override { return 0; }  // no other process can own one

 private:
  struct StudyRec {
    StudyInfo info;
    std::vector<std::shared_ptr<FrozenTrial>> trials;
    std::map<std::string, int64_t> claims;
    bool deleted = false;  // ids are positions, so a deleted study stays as a tombstone
  };
  StudyRec& study(int64_t id);
  std::shared_ptr<FrozenTrial>& trial_slot(int64_t trial_id);  // copy-on-write: replaces the pointer

  std::mutex mu_;
  std::mutex budget_mu_;  // held across create_trial_within's count and insert
  std::vector<StudyRec> studies_;
  std::unordered_map<int64_t, std::pair<int64_t, size_t>> trial_index_;  // id -> (study, position)
  int64_t next_trial_id_ = 0;
};

}  // namespace ember::hpo

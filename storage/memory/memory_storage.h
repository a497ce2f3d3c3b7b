// memory_storage.h — the in-process backend ("memory:").
//
// Everything lives in this object and dies with it. One mutex serializes every operation; reads return
// copies. Used by tests and by single-process studies that do not need to survive the process.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "bbo/storage.h"

namespace bbo {

class MemoryStorage final : public Storage {
 public:
  MemoryStorage() = default;

  std::string url() const override { return "memory:"; }

  int64_t create_study(const std::string& name, const std::vector<Direction>& directions,
                       const json& system_attrs) override;
  std::optional<StudyInfo> find_study(const std::string& name) override;
  StudyInfo get_study(int64_t study_id) override;
  std::vector<StudyInfo> list_studies() override;
  void delete_study(int64_t study_id) override;
  void set_study_user_attr(int64_t study_id, const std::string& key, const json& value) override;
  void set_study_system_attr(int64_t study_id, const std::string& key, const json& value) override;

  FrozenTrial create_trial(int64_t study_id, const FrozenTrial* tmpl = nullptr) override;
  std::optional<FrozenTrial> claim_waiting_trial(int64_t study_id) override;
  void set_trial_param(int64_t trial_id, const std::string& name, double internal,
                       const Distribution& d) override;
  void set_trial_intermediate_value(int64_t trial_id, int64_t step, int objective, double value) override;
  void set_trial_user_attr(int64_t trial_id, const std::string& key, const json& value) override;
  void set_trial_system_attr(int64_t trial_id, const std::string& key, const json& value) override;
  void finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values,
                    const std::vector<double>& constraints) override;
  void heartbeat(int64_t trial_id) override;
  std::vector<int64_t> fail_stale_trials(int64_t study_id, double grace_seconds) override;

  FrozenTrial get_trial(int64_t trial_id) override;
  FrozenTrial get_trial_by_number(int64_t study_id, int64_t number) override;
  std::vector<FrozenTrial> get_trials(int64_t study_id, const std::vector<TrialState>& states = {}) override;
  TrialsDelta get_trials_since(int64_t study_id, int64_t since_version) override;
  int64_t count_trials(int64_t study_id, const std::vector<TrialState>& states = {}) override;

  PluginState get_plugin_state(int64_t study_id, const std::string& key) override;
  bool compare_and_swap_plugin_state(int64_t study_id, const std::string& key, int64_t expected_version,
                                     const std::string& blob) override;

 private:
  struct StudyRecord {
    StudyInfo info;
    std::vector<FrozenTrial> trials;       // index = trial number
    std::vector<int64_t> trial_versions;   // index = trial number; the trials_version of its last write
    int64_t trials_version = 0;
    std::map<std::string, PluginState> plugin_states;
  };
  struct TrialRef {
    int64_t study_id;
    int64_t number;
  };

  StudyRecord& study_locked(int64_t study_id);
  FrozenTrial& trial_locked(int64_t trial_id, StudyRecord** study = nullptr);
  // The trial for a write: throws TrialStateError unless RUNNING.
  FrozenTrial& running_trial_locked(int64_t trial_id, StudyRecord** study, const char* what);
  void touch_locked(StudyRecord& s, int64_t number);
  StudyInfo info_locked(const StudyRecord& s) const;

  mutable std::mutex mu_;
  std::map<int64_t, StudyRecord> studies_;
  std::map<int64_t, TrialRef> trials_;
  int64_t next_study_id_ = 1;
  int64_t next_trial_id_ = 1;
};

}  // namespace bbo

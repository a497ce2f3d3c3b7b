#include "memory/memory_storage.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "bbo/error.h"

namespace bbo {
namespace {


bool state_selected(TrialState s, const std::vector<TrialState>& states) {
  return states.empty() || std::find(states.begin(), states.end(), s) != states.end();
}

}  // namespace

MemoryStorage::StudyRecord& MemoryStorage::study_locked(int64_t study_id) {
  auto it = studies_.find(study_id);
  if (it == studies_.end()) throw NotFoundError("study id " + std::to_string(study_id) + " not found in memory:");
  return it->second;
}

FrozenTrial& MemoryStorage::trial_locked(int64_t trial_id, StudyRecord** study) {
  auto it = trials_.find(trial_id);
  if (it == trials_.end()) throw NotFoundError("trial id " + std::to_string(trial_id) + " not found in memory:");
  StudyRecord& s = study_locked(it->second.study_id);
  if (study) *study = &s;
  return s.trials[static_cast<size_t>(it->second.number)];
}

FrozenTrial& MemoryStorage::running_trial_locked(int64_t trial_id, StudyRecord** study, const char* what) {
  FrozenTrial& t = trial_locked(trial_id, study);
  if (t.state != TrialState::kRunning) {
    throw TrialStateError("trial " + std::to_string(t.number) + " is " + to_string(t.state) + "; cannot " +
                          what + " (only a RUNNING trial can be written)");
  }
  return t;
}

void MemoryStorage::touch_locked(StudyRecord& s, int64_t number) {
  s.trial_versions[static_cast<size_t>(number)] = ++s.trials_version;
}

StudyInfo MemoryStorage::info_locked(const StudyRecord& s) const {
  StudyInfo info = s.info;
  info.n_trials = static_cast<int64_t>(s.trials.size());
  return info;
}

// ---- studies

int64_t MemoryStorage::create_study(const std::string& name, const std::vector<Direction>& directions,
                                    const json& system_attrs) {
  if (name.empty()) throw ValueError("study name must not be empty");
  if (directions.empty()) throw ValueError("study '" + name + "' needs at least one direction");
  std::lock_guard lock(mu_);
  for (const auto& [id, s] : studies_) {
    if (s.info.name == name) throw DuplicateError("study '" + name + "' already exists in memory:");
  }
  int64_t id = next_study_id_++;
  StudyRecord& s = studies_[id];
  s.info.id = id;
  s.info.name = name;
  s.info.directions = directions;
  s.info.system_attrs = system_attrs.is_null() ? json::object() : system_attrs;
  s.info.datetime_start_us = now_us();
  return id;
}

std::optional<StudyInfo> MemoryStorage::find_study(const std::string& name) {
  std::lock_guard lock(mu_);
  for (const auto& [id, s] : studies_) {
    if (s.info.name == name) return info_locked(s);
  }
  return std::nullopt;
}

StudyInfo MemoryStorage::get_study(int64_t study_id) {
  std::lock_guard lock(mu_);
  return info_locked(study_locked(study_id));
}

std::vector<StudyInfo> MemoryStorage::list_studies() {
  std::lock_guard lock(mu_);
  std::vector<StudyInfo> out;
  out.reserve(studies_.size());
  for (const auto& [id, s] : studies_) out.push_back(info_locked(s));
  return out;
}

void MemoryStorage::delete_study(int64_t study_id) {
  std::lock_guard lock(mu_);
  StudyRecord& s = study_locked(study_id);
  for (const FrozenTrial& t : s.trials) trials_.erase(t.id);
  studies_.erase(study_id);
}

void MemoryStorage::set_study_user_attr(int64_t study_id, const std::string& key, const json& value) {
  std::lock_guard lock(mu_);
  study_locked(study_id).info.user_attrs[key] = value;
}

void MemoryStorage::set_study_system_attr(int64_t study_id, const std::string& key, const json& value) {
  std::lock_guard lock(mu_);
  study_locked(study_id).info.system_attrs[key] = value;
}

// ---- trials

FrozenTrial MemoryStorage::create_trial(int64_t study_id, const FrozenTrial* tmpl) {
  std::lock_guard lock(mu_);
  StudyRecord& s = study_locked(study_id);
  FrozenTrial t;
  int64_t now = now_us();
  if (tmpl) {
    t = *tmpl;
    if (t.state == TrialState::kRunning) {
      if (!t.datetime_start_us) t.datetime_start_us = now;
      if (!t.heartbeat_us) t.heartbeat_us = now;
    }
    if (!t.user_attrs.is_object()) t.user_attrs = json::object();
    if (!t.system_attrs.is_object()) t.system_attrs = json::object();
  } else {
    t.state = TrialState::kRunning;
    t.datetime_start_us = now;
    t.heartbeat_us = now;
  }
  t.id = next_trial_id_++;
  t.study_id = study_id;
  t.number = static_cast<int64_t>(s.trials.size());
  s.trials.push_back(t);
  s.trial_versions.push_back(0);
  touch_locked(s, t.number);
  trials_[t.id] = TrialRef{study_id, t.number};
  return t;
}

std::optional<FrozenTrial> MemoryStorage::claim_waiting_trial(int64_t study_id) {
  std::lock_guard lock(mu_);
  StudyRecord& s = study_locked(study_id);
  for (FrozenTrial& t : s.trials) {
    if (t.state != TrialState::kWaiting) continue;
    int64_t now = now_us();
    t.state = TrialState::kRunning;
    t.datetime_start_us = now;
    t.heartbeat_us = now;
    touch_locked(s, t.number);
    return t;
  }
  return std::nullopt;
}

void MemoryStorage::set_trial_param(int64_t trial_id, const std::string& name, double internal,
                                    const Distribution& d) {
  std::lock_guard lock(mu_);
  StudyRecord* s = nullptr;
  FrozenTrial& t = running_trial_locked(trial_id, &s, ("set param '" + name + "'").c_str());
  t.params[name] = internal;
  t.distributions.insert_or_assign(name, d);
  touch_locked(*s, t.number);
}

void MemoryStorage::set_trial_intermediate_value(int64_t trial_id, int64_t step, int objective, double value) {
  if (step < 0 || objective < 0) {
    throw ValueError("intermediate value needs step >= 0 and objective >= 0, got step " + std::to_string(step) +
                     ", objective " + std::to_string(objective));
  }
  std::lock_guard lock(mu_);
  StudyRecord* s = nullptr;
  FrozenTrial& t = running_trial_locked(trial_id, &s, "report an intermediate value");
  t.intermediate_values[StepKey{step, objective}] = value;
  touch_locked(*s, t.number);
}

void MemoryStorage::set_trial_user_attr(int64_t trial_id, const std::string& key, const json& value) {
  std::lock_guard lock(mu_);
  StudyRecord* s = nullptr;
  FrozenTrial& t = running_trial_locked(trial_id, &s, ("set user attr '" + key + "'").c_str());
  t.user_attrs[key] = value;
  touch_locked(*s, t.number);
}

void MemoryStorage::set_trial_system_attr(int64_t trial_id, const std::string& key, const json& value) {
  std::lock_guard lock(mu_);
  StudyRecord* s = nullptr;
  FrozenTrial& t = running_trial_locked(trial_id, &s, ("set system attr '" + key + "'").c_str());
  t.system_attrs[key] = value;
  touch_locked(*s, t.number);
}

void MemoryStorage::finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values,
                                 const std::vector<double>& constraints) {
  if (!is_finished(state)) {
    throw ValueError(std::string("cannot finish a trial with state ") + to_string(state) +
                     " (COMPLETE, PRUNED or FAIL)");
  }
  std::lock_guard lock(mu_);
  StudyRecord* s = nullptr;
  FrozenTrial& t = running_trial_locked(trial_id, &s, "finish it");
  t.state = state;
  t.values = values;
  t.constraints = constraints;
  t.datetime_complete_us = now_us();
  touch_locked(*s, t.number);
}

void MemoryStorage::heartbeat(int64_t trial_id) {
  std::lock_guard lock(mu_);
  StudyRecord* s = nullptr;
  FrozenTrial& t = running_trial_locked(trial_id, &s, "record a heartbeat");
  t.heartbeat_us = now_us();
  touch_locked(*s, t.number);
}

std::vector<int64_t> MemoryStorage::fail_stale_trials(int64_t study_id, double grace_seconds) {
  if (!(grace_seconds >= 0) || std::isinf(grace_seconds)) {
    throw ValueError("fail_stale_trials needs a finite grace period >= 0 s, got " + std::to_string(grace_seconds));
  }
  std::lock_guard lock(mu_);
  StudyRecord& s = study_locked(study_id);
  int64_t now = now_us();
  int64_t cutoff = now - static_cast<int64_t>(grace_seconds * 1e6);
  std::vector<int64_t> failed;
  for (FrozenTrial& t : s.trials) {
    if (t.state != TrialState::kRunning) continue;
    int64_t hb = t.heartbeat_us.value_or(t.datetime_start_us.value_or(now));
    if (hb >= cutoff) continue;
    t.state = TrialState::kFail;
    t.datetime_complete_us = now;
    t.system_attrs["fail_reason"] =
        "heartbeat older than " + std::to_string(grace_seconds) + " s (the worker is presumed dead)";
    touch_locked(s, t.number);
    failed.push_back(t.number);
  }
  return failed;
}

FrozenTrial MemoryStorage::get_trial(int64_t trial_id) {
  std::lock_guard lock(mu_);
  return trial_locked(trial_id);
}

FrozenTrial MemoryStorage::get_trial_by_number(int64_t study_id, int64_t number) {
  std::lock_guard lock(mu_);
  StudyRecord& s = study_locked(study_id);
  if (number < 0 || number >= static_cast<int64_t>(s.trials.size())) {
    throw NotFoundError("trial number " + std::to_string(number) + " not found in study '" + s.info.name + "'");
  }
  return s.trials[static_cast<size_t>(number)];
}

std::vector<FrozenTrial> MemoryStorage::get_trials(int64_t study_id, const std::vector<TrialState>& states) {
  std::lock_guard lock(mu_);
  StudyRecord& s = study_locked(study_id);
  std::vector<FrozenTrial> out;
  out.reserve(s.trials.size());
  for (const FrozenTrial& t : s.trials) {
    if (state_selected(t.state, states)) out.push_back(t);
  }
  return out;
}

TrialsDelta MemoryStorage::get_trials_since(int64_t study_id, int64_t since_version) {
  std::lock_guard lock(mu_);
  StudyRecord& s = study_locked(study_id);
  TrialsDelta delta;
  for (size_t i = 0; i < s.trials.size(); ++i) {
    if (s.trial_versions[i] > since_version) delta.trials.push_back(s.trials[i]);
  }
  delta.version = s.trials_version;
  return delta;
}

int64_t MemoryStorage::count_trials(int64_t study_id, const std::vector<TrialState>& states) {
  std::lock_guard lock(mu_);
  StudyRecord& s = study_locked(study_id);
  if (states.empty()) return static_cast<int64_t>(s.trials.size());
  return std::count_if(s.trials.begin(), s.trials.end(),
                       [&](const FrozenTrial& t) { return state_selected(t.state, states); });
}

// ---- plugin state

PluginState MemoryStorage::get_plugin_state(int64_t study_id, const std::string& key) {
  std::lock_guard lock(mu_);
  StudyRecord& s = study_locked(study_id);
  auto it = s.plugin_states.find(key);
  return it == s.plugin_states.end() ? PluginState{} : it->second;
}

bool MemoryStorage::compare_and_swap_plugin_state(int64_t study_id, const std::string& key,
                                                  int64_t expected_version, const std::string& blob) {
  std::lock_guard lock(mu_);
  StudyRecord& s = study_locked(study_id);
  PluginState& st = s.plugin_states[key];  // a fresh entry has version 0 = never written
  if (st.version != expected_version) return false;
  st.version = expected_version + 1;
  st.blob = blob;
  return true;
}

}  // namespace bbo

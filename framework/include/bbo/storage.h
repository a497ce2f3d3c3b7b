// bbo/storage.h — the storage interface every backend implements, and open_storage(url).
//
// The contract is the conformance suite in framework/testing/storage_conformance.h: every backend passes it.
//
// Backends: "memory:" (in-process, one per open_storage call), "sqlite:///path/to/file.db" (the embedded
// default; many processes may share the file), "postgresql://user:pass@host:port/db" (many machines).
//
// Rules shared by every backend:
//  - Trial numbers are 0, 1, 2, ... per study, without gaps or duplicates under any concurrency.
//  - Only a RUNNING trial can be written (params, intermediate values, attrs, heartbeat, finish). Writing a
//    finished trial throws TrialStateError and changes nothing. Every write is one transaction.
//  - ±inf and NaN values round-trip.
//  - Reads return copies. An object may be used from several threads (backends serialize internally).
//  - Unknown study/trial ids throw NotFoundError; backend failures throw StorageError.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bbo/space.h"
#include "bbo/trial.h"

namespace bbo {

struct StudyInfo {
  int64_t id = -1;
  std::string name;
  std::vector<Direction> directions;
  json user_attrs = json::object();
  json system_attrs = json::object();  // bbo keeps seed, strategy and pruner configuration here
  int64_t n_trials = 0;                // number of trials at the time of the read
  std::optional<int64_t> datetime_start_us;
};

// A versioned opaque blob kept per (study, key), for plugins that keep state across processes.
struct PluginState {
  int64_t version = 0;  // 0: never written
  std::string blob;
};

// Result of an incremental read: trials changed since a version, and the version to ask from next time.
struct TrialsDelta {
  std::vector<FrozenTrial> trials;  // sorted by number
  int64_t version = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // The URL this storage was opened with.
  virtual std::string url() const = 0;

  // ---- studies
  // Throws DuplicateError when `name` is taken, ValueError when name is empty or directions is empty.
  virtual int64_t create_study(const std::string& name, const std::vector<Direction>& directions,
                               const json& system_attrs) = 0;
  virtual std::optional<StudyInfo> find_study(const std::string& name) = 0;
  virtual StudyInfo get_study(int64_t study_id) = 0;
  virtual std::vector<StudyInfo> list_studies() = 0;
  // Deletes the study and all its trials.
  virtual void delete_study(int64_t study_id) = 0;
  virtual void set_study_user_attr(int64_t study_id, const std::string& key, const json& value) = 0;
  virtual void set_study_system_attr(int64_t study_id, const std::string& key, const json& value) = 0;

  // ---- trials
  // Creates the next trial of the study. Without a template: a RUNNING trial with start time and heartbeat
  // now. With a template: its state (WAITING, RUNNING or finished), params, values, constraints,
  // intermediate values, attrs and times are copied; its id/number are ignored. Returns the stored record.
  virtual FrozenTrial create_trial(int64_t study_id, const FrozenTrial* tmpl = nullptr) = 0;
  // Atomically moves the lowest-numbered WAITING trial to RUNNING (start time and heartbeat now) and returns
  // it; two callers never get the same trial. nullopt when there is none.
  virtual std::optional<FrozenTrial> claim_waiting_trial(int64_t study_id) = 0;
  virtual void set_trial_param(int64_t trial_id, const std::string& name, double internal,
                               const Distribution& d) = 0;
  virtual void set_trial_intermediate_value(int64_t trial_id, int64_t step, int objective, double value) = 0;
  virtual void set_trial_user_attr(int64_t trial_id, const std::string& key, const json& value) = 0;
  virtual void set_trial_system_attr(int64_t trial_id, const std::string& key, const json& value) = 0;
  // Finishes a RUNNING trial in one transaction: state (COMPLETE, PRUNED or FAIL), values, constraints,
  // completion time. Throws TrialStateError when the trial is not RUNNING (nothing is written).
  virtual void finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values,
                            const std::vector<double>& constraints) = 0;
  // Sets the heartbeat of a RUNNING trial to now (the database clock where there is one).
  virtual void heartbeat(int64_t trial_id) = 0;
  // Moves RUNNING trials of the study whose heartbeat is older than `grace_seconds` to FAIL (with system attr
  // "fail_reason"), exactly once even when several workers race. Returns the numbers of the trials it failed.
  virtual std::vector<int64_t> fail_stale_trials(int64_t study_id, double grace_seconds) = 0;

  virtual FrozenTrial get_trial(int64_t trial_id) = 0;
  virtual FrozenTrial get_trial_by_number(int64_t study_id, int64_t number) = 0;
  // All trials of the study (optionally only those in `states`), sorted by number.
  virtual std::vector<FrozenTrial> get_trials(int64_t study_id,
                                              const std::vector<TrialState>& states = {}) = 0;
  // Trials created or changed after `since_version` (0: all); pass the returned version next time.
  virtual TrialsDelta get_trials_since(int64_t study_id, int64_t since_version) = 0;
  virtual int64_t count_trials(int64_t study_id, const std::vector<TrialState>& states = {}) = 0;

  // ---- plugin state
  virtual PluginState get_plugin_state(int64_t study_id, const std::string& key) = 0;
  // Writes `blob` with version expected_version + 1 iff the stored version equals expected_version (0 when
  // never written). Returns false, writing nothing, when another writer got there first.
  virtual bool compare_and_swap_plugin_state(int64_t study_id, const std::string& key,
                                             int64_t expected_version, const std::string& blob) = 0;
};

// Opens a storage by URL: "memory:", "sqlite:///abs/path.db" or "sqlite://relative/path.db" (also
// "sqlite:path.db"), "postgresql://..." (when built with BBO_WITH_POSTGRES). SQLite options go in the query
// string: "?synchronous=FULL&timeout_ms=60000". Throws StorageError naming the URL when it cannot be opened
// and ConfigError for an unknown scheme. Defined in storage/open_storage.cc (compiled into libbbo).
std::unique_ptr<Storage> open_storage(const std::string& url);

// `url` with any password hidden ("postgresql://user:***@host/db", "...?password=***"): what to print.
std::string redact_storage_url(const std::string& url);

// Now, in microseconds since the Unix epoch (the local clock).
int64_t now_us();

}  // namespace bbo

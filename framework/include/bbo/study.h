// bbo/study.h — Study: the ask/tell orchestrator.
//
// A Study is a handle on one stored study. Its configuration (strategy and pruner names and parameters,
// seed, declared search space) is stored with the study, so Study::load in another process rebuilds the same
// optimizer. Every trial is stored as it goes: several Study objects, in one process or many, can work on
// the same study through a shared storage.
//
// Thread safety: a Study may be shared between threads (calls are serialized); each Trial is used by one
// thread at a time. Errors: ValueError/ConfigError for bad input, NotFoundError, DuplicateError,
// StorageError, PluginError, TrialStateError; nothing is written when a call is rejected.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bbo/space.h"
#include "bbo/storage.h"
#include "bbo/trial.h"

namespace bbo {

struct StudyOptions {
  std::string name;
  std::string storage = "memory:";  // a URL for open_storage
  std::vector<Direction> directions = {Direction::kMinimize};
  std::string strategy = "auto";    // plugin name or alias; auto picks one (plugins/auto, docs/plugins.md)
  json strategy_params = json::object();
  std::string pruner = "none";      // "none" or a pruner plugin name
  json pruner_params = json::object();
  std::optional<uint64_t> seed;     // default: drawn from std::random_device and stored
  SearchSpace search_space;         // optional declared space: every ask() suggests all of it
  bool load_if_exists = false;      // create: open the existing study instead of failing with DuplicateError
  json user_attrs = json::object();
  // Heartbeat: RUNNING trials whose heartbeat is older than this are failed before each ask (0 = off).
  double heartbeat_grace_seconds = 0.0;
  // Retry: each trial failed for a stale heartbeat is re-enqueued as a WAITING trial with the same params
  // (system attr "retry_of" = the failed trial's number), by the one worker that failed it.
  bool retry_failed_trials = false;
};

// What optimize() does.
struct OptimizeOptions {
  std::optional<int64_t> n_trials;                   // stop after this many trials (by this call)
  std::optional<std::chrono::duration<double>> timeout;  // stop starting trials after this long
  bool catch_failures = true;  // an objective that throws → FAIL trial, go on; false: FAIL, then rethrow
  // Called after each finished trial; return false to stop.
  std::vector<std::function<bool(class Study&, const FrozenTrial&)>> callbacks;
  // Interval of the background heartbeat thread while an objective runs (0 = no thread).
  double heartbeat_interval_seconds = 0.0;
};

// Thrown by an objective (or returned through Trial::should_prune) to mark the trial PRUNED.
class TrialPruned : public std::exception {
 public:
  const char* what() const noexcept override { return "trial pruned"; }
};

class StudyImpl;

class Study {
 public:
  // Creates a study (or opens it with load_if_exists). Throws DuplicateError when the name exists.
  static Study create(const StudyOptions& options);
  // Opens an existing study with its stored configuration. Throws NotFoundError.
  static Study load(const std::string& name, const std::string& storage_url);
  // Same, sharing an already-open storage.
  static Study load(const std::string& name, std::shared_ptr<Storage> storage);
  static Study create(const StudyOptions& options, std::shared_ptr<Storage> storage);

  Study(Study&&) noexcept;
  Study& operator=(Study&&) noexcept;
  ~Study();

  const std::string& name() const;
  int64_t id() const;
  const std::vector<Direction>& directions() const;
  uint64_t seed() const;
  Storage& storage();
  const SearchSpace& search_space() const;  // the declared space (may be empty)

  // A new RUNNING trial (or the lowest WAITING one, claimed atomically). With a declared search space, all
  // its parameters are suggested before returning.
  Trial ask();
  // Same, with `space` suggested before returning (in addition to any declared space).
  Trial ask(const SearchSpace& space);
  // A batch of n trials; each later trial sees the earlier ones as pending (RUNNING).
  std::vector<Trial> ask(int n);

  // Finish a trial. One value per direction; a NaN value or a wrong count is recorded as... see below:
  //  - wrong number of values → ValueError, nothing written;
  //  - a NaN value → the trial is stored as FAIL with system attr fail_reason, and tell returns FAIL.
  // Telling a finished trial throws TrialStateError.
  TrialState tell(Trial& trial, double value);
  TrialState tell(Trial& trial, const std::vector<double>& values);
  TrialState tell(Trial& trial, TrialState state, const std::vector<double>& values = {});
  // By number, for trials asked elsewhere (the CLI).
  TrialState tell(int64_t number, TrialState state, const std::vector<double>& values,
                  const std::vector<double>& constraints = {});

  // Runs ask → fn → tell until n_trials or timeout. fn returns one value per direction (a single-objective
  // overload takes a double). Exceptions from fn: TrialPruned → PRUNED; others → FAIL with the message
  // stored in system attr fail_reason, then continue or rethrow per options.catch_failures.
  void optimize(const std::function<std::vector<double>(Trial&)>& fn, const OptimizeOptions& options);
  void optimize(const std::function<double(Trial&)>& fn, const OptimizeOptions& options);

  // Adds a WAITING trial with these parameters; the next ask() claims it. Values are external; each must
  // fit the distribution the study uses for that name when suggested (checked at suggest time).
  void enqueue(const std::map<std::string, ParamValue>& params);
  // Adds a finished trial (warm start). Validates params against distributions, values against directions.
  FrozenTrial add_trial(const FrozenTrial& trial);

  // The best COMPLETE feasible trial of a single-objective study (NotFoundError when none;
  // ValueError for multi-objective studies).
  FrozenTrial best_trial();
  // The Pareto front of COMPLETE feasible trials (for one direction: all trials tied at the best value).
  std::vector<FrozenTrial> best_trials();
  std::vector<FrozenTrial> trials(const std::vector<TrialState>& states = {});
  FrozenTrial trial(int64_t number);

  // Prune decision for a stored trial (what `bbo should-prune` asks).
  bool should_prune(int64_t number);
  // Reports an intermediate value for a stored RUNNING trial by number.
  void report(int64_t number, int64_t step, double value, int objective = 0);

  void set_user_attr(const std::string& key, const json& value);
  json user_attrs();
  // Moves stale RUNNING trials to FAIL now (also done before each ask when a grace period is set) and returns
  // their numbers. With retry_failed_trials, each of them is re-enqueued (see StudyOptions).
  std::vector<int64_t> fail_stale_trials(double grace_seconds);

 private:
  explicit Study(std::shared_ptr<StudyImpl> impl);
  std::shared_ptr<StudyImpl> impl_;
};

// Indices (into `points`) of the non-dominated points for the given directions.
std::vector<size_t> pareto_front(const std::vector<std::vector<double>>& points,
                                 const std::vector<Direction>& directions);

}  // namespace bbo

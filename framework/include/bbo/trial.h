// bbo/trial.h — trial states, the stored trial record (FrozenTrial) and the live trial handle (Trial).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bbo/space.h"

namespace bbo {

enum class Direction { kMinimize, kMaximize };

// kWaiting: enqueued, not yet claimed by a worker. kRunning: being evaluated. The other three are final: a
// finished trial is immutable.
enum class TrialState { kRunning, kWaiting, kComplete, kPruned, kFail };

std::string to_string(TrialState s);      // "RUNNING", "WAITING", "COMPLETE", "PRUNED", "FAIL"
TrialState trial_state_from_string(const std::string& s);  // case-insensitive; throws ValueError
std::string to_string(Direction d);       // "minimize", "maximize"
Direction direction_from_string(const std::string& s);     // throws ValueError
inline bool is_finished(TrialState s) {
  return s == TrialState::kComplete || s == TrialState::kPruned || s == TrialState::kFail;
}

// Key of an intermediate value: a learning-curve point for one objective.
struct StepKey {
  int64_t step = 0;
  int objective = 0;
  auto operator<=>(const StepKey&) const = default;
};

// A copy of a stored trial. Storage always returns copies, never references into its own state.
struct FrozenTrial {
  int64_t id = -1;      // storage-wide trial id
  int64_t study_id = -1;
  int64_t number = -1;  // 0, 1, 2, ... within the study, no gaps or duplicates
  TrialState state = TrialState::kRunning;
  std::map<std::string, double> params;             // internal values
  std::map<std::string, Distribution> distributions;  // one per param
  std::vector<double> values;                       // one per objective (COMPLETE trials)
  std::vector<double> constraints;                  // feasible iff all <= 0; empty = unconstrained
  std::map<StepKey, double> intermediate_values;
  json user_attrs = json::object();
  json system_attrs = json::object();
  std::optional<int64_t> datetime_start_us;         // microseconds since the Unix epoch
  std::optional<int64_t> datetime_complete_us;
  std::optional<int64_t> heartbeat_us;

  bool feasible() const;                          // all constraints <= 0 (NaN is infeasible)
  ParamValue param(const std::string& name) const;  // external value; throws NotFoundError
  std::map<std::string, ParamValue> external_params() const;
  // The learning curve of one objective: step -> value.
  std::map<int64_t, double> curve(int objective = 0) const;
  // The value at the largest reported step of objective 0, if any.
  std::optional<std::pair<int64_t, double>> last_step() const;
};

// ISO 8601 UTC with microseconds ("2026-11-24T18:37:22.703324Z"); "" for nullopt.
std::string format_time_us(const std::optional<int64_t>& us);

json to_json(const FrozenTrial& t);               // number, state, values, params (external), ...
json params_to_json(const FrozenTrial& t);        // {"x": 0.1, "act": "relu"}

// Seed of a trial's random generator: a hash of (study seed, trial number), so the same seed gives the same
// trials whatever the number of workers or processes. `salt` separates independent streams.
uint64_t trial_seed(uint64_t study_seed, int64_t number, uint64_t salt = 0);
// 64-bit hash of a string (FNV-1a), for deriving per-parameter streams.
uint64_t hash_string(const std::string& s);

class StudyImpl;

// A live handle on a RUNNING trial, returned by Study::ask. Define-by-run: every suggest_* call adds a
// parameter to this trial's space (conditional parameters are simply not suggested on some trials).
// Asking again for a name already suggested returns the same value; with an incompatible distribution it
// throws ValueError. Once the trial is told (finished), every writing call throws TrialStateError.
// A Trial is movable, not copyable, and is used by one thread at a time; it keeps its Study alive.
class Trial {
 public:
  Trial(Trial&&) noexcept;
  Trial& operator=(Trial&&) noexcept;
  ~Trial();

  int64_t number() const;
  int64_t id() const;

  double suggest_float(const std::string& name, double low, double high, bool log = false,
                       std::optional<double> step = std::nullopt);
  int64_t suggest_int(const std::string& name, int64_t low, int64_t high, bool log = false, int64_t step = 1);
  std::string suggest_categorical(const std::string& name, const std::vector<std::string>& choices);
  // Choices of mixed types (null, bool, int, double, string); returns the chosen value.
  ParamValue suggest_choice(const std::string& name, const std::vector<ParamValue>& choices);
  // Generic form: returns the internal value (for a categorical, the choice index).
  double suggest(const std::string& name, const Distribution& d);

  // Intermediate value at `step` (>= 0) for objective `objective`; a repeated step overwrites.
  void report(int64_t step, double value, int objective = 0);
  // Asks the study's pruner whether this trial should stop now.
  bool should_prune();

  // Constraint values written together with the result at tell (feasible iff all <= 0).
  void set_constraints(std::vector<double> constraints);
  const std::vector<double>& constraints() const;

  void set_user_attr(const std::string& key, const json& value);
  // Refreshes the heartbeat of this trial in storage (see Study heartbeat options).
  void heartbeat();

  // Parameters suggested so far (external values).
  std::map<std::string, ParamValue> params() const;
  // A fresh copy of the stored record.
  FrozenTrial frozen() const;
  // This trial's random generator, seeded from (study seed, trial number).
  std::mt19937_64& rng();

 private:
  friend class Study;
  friend class StudyImpl;
  struct State;
  explicit Trial(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace bbo

// plugins/auto/auto_choice.h — how the `auto` strategy picks a strategy: a pure function of what is known
// about the study (its space, objectives, budget, workers, pruning) and of the installed plugins.
//
// Kept apart from the plugin so the rules can be tested without a study, and so that docs/plugins.md can
// state them as they are: each rule below is one `if` in choose().
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bbo::autosel {

using json = nlohmann::json;

// The modelled space as auto sees it: counts by kind (stepped floats count as integer-like) and whether trials
// suggest different parameter sets (a define-by-run conditional space).
struct SpaceSummary {
  int continuous = 0;
  int integer = 0;
  int categorical = 0;
  bool conditional = false;
  int dims() const { return continuous + integer + categorical; }
};

struct Situation {
  SpaceSummary space;
  int objectives = 1;
  bool constrained = false;       // some finished trial reported constraints
  int64_t n_trials = 0;           // the study's budget; 0 = unknown
  int workers = 1;                // parallel workers (>= 1)
  std::string pruner = "none";    // the study's pruner name
  std::set<std::string> installed;  // strategy plugin names (and aliases) that can be built
};

// One strategy for a range of trial numbers: trials [previous phase's until, until) use `strategy`;
// until == -1 means "to the end".
struct Phase {
  std::string strategy;
  json params = json::object();
  int64_t until = -1;
};

struct Choice {
  std::vector<Phase> phases;  // non-empty; the last phase has until == -1
  std::string reason;         // one sentence a user can read (`bbo best`, the dashboard)

  // The phase for trial `number`.
  const Phase& phase_for(int64_t number) const;
  size_t phase_index(int64_t number) const;
  // "gp (trials 0-199), then cmaes" — a short label.
  std::string label() const;
  json to_json() const;
  static Choice from_json(const json& j);  // throws std::invalid_argument on a malformed record
};

// Tunable thresholds (plugin parameters of `auto`, documented there).
struct Thresholds {
  int64_t gp_max_trials = 200;      // GP-BO for at most this many trials, then CMA-ES warm-started from them
  int high_dim = 10;                // from this many dimensions on, model-free strategies (bench/run quality-rank)
  int64_t cheap_budget = 50000;     // a budget this large means a cheap objective: swarm/DE for high dims
  int separable_dim = 100;          // from this many dimensions on, sep-CMA-ES
  int64_t mo_gp_max_trials = 300;   // GP + EHVI for 2-3 objectives up to this budget and gp_mo_max_dim dims
  int mo_gp_max_dim = 10;
};

// The choice for `s`. Never throws: when a preferred plugin is not installed the next fitting one is taken
// (down to `random`, which is always built), and the reason says so.
Choice choose(const Situation& s, const Thresholds& t = {});

// True for the pruners that stop trials early on intermediate values (multi-fidelity).
bool is_pruning(const std::string& pruner);

}  // namespace bbo::autosel

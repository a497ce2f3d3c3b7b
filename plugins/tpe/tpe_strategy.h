// tpe_strategy.h — the `tpe` strategy: Tree-structured Parzen Estimator with Optuna 3.1's TPESampler semantics.
//
// For each ask:
//  1. the trials COMPLETE and PRUNED (and, with constant_liar in single-objective studies, RUNNING ones of
//     every worker) are ranked: complete trials by value; pruned ones after them by (last reported step,
//     descending; value), one without reports after those; running ones last. With constraints (any trial
//     has some; feasible iff all <= 0) feasible trials come first and infeasible ones by total violation;
//     trials without constraint values count as infinitely violating. Multi-objective studies (MOTPE) rank
//     by nondomination rank and fill the last rank by greedy hypervolume subset selection; the `below` kernels
//     are then weighted by their hypervolume contributions. Pruned and running trials are not used there.
//  2. the best gamma(n) (n = complete + pruned trials) form `below` and the rest `above`; each is a Parzen
//     estimator (parzen_estimator.h) with Optuna's weights; 24 candidates drawn from `below` are scored by
//     log l(x) − log g(x) and the best is proposed (with `optuna31_kernels`, Optuna 3.1's kernel log-density,
//     whose continuous kernels lack the 1/σ factor; measured better than normalized kernels).
//  3. before n_startup_trials complete/pruned trials, parameters are drawn uniformly (per-parameter streams).
//  With `multivariate`, this is done jointly over the relative space: with `group`, each group of parameters
//  that always occur together in the finished trials (a define-by-run/conditional space decomposed as
//  Optuna's _GroupDecomposedSearchSpace) is one joint estimator; without `group`, the intersection of the
//  finished trials' spaces. Any other parameter is sampled by univariate TPE on the trials that have it.
//
// Randomness: each group draws from a generator seeded by (study seed, trial number, the group's first name)
// and each independent parameter from (study seed, trial number, its name), so proposals are reproducible,
// do not depend on the order of suggest calls, and a strategy rebuilt from storage proposes the same point.
// The strategy keeps only a cache of the group decomposition, which depends on the finished trials alone.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bbo/plugin.h"
#include "bbo/strategy.h"
#include "plugins/tpe/parzen_estimator.h"

namespace bbo::tpe {

struct TpeOptions {
  TpeOptions() { parzen.optuna31_kernels = true; }  // the plugin's default, measured better (docs/plugins.md)
  ParzenOptions parzen;
  int64_t n_startup_trials = 10;
  int64_t n_ei_candidates = 24;
  bool hyperopt_gamma = false;  // gamma "hyperopt" instead of "default"
  bool group = true;
  bool constant_liar = true;
};

std::vector<ParamSpec> tpe_param_specs();
TpeOptions tpe_options(const PluginParams& p);  // throws ConfigError naming the parameter

// The rank key of one observation: lexicographic (step, values) for one objective; `values` are minimized.
struct Score {
  double step = 0;  // -inf: complete; -(last step): pruned; 1: pruned without reports; +inf: running
  std::vector<double> values;
};

// Indices of `below` (the n_below best) and `above` (the rest), as Optuna's _split_observation_pairs:
// single objective: stable sort by (step, value), both lists then in chronological order; multi-objective:
// whole nondomination ranks, the last one completed by greedy HSSP (below in selection order, above sorted).
// `violations` (empty: unconstrained): feasible (0) first, then by violation.
std::pair<std::vector<size_t>, std::vector<size_t>> split_observations(const std::vector<Score>& scores,
                                                                       size_t n_below,
                                                                       const std::vector<double>& violations);

// Nondomination rank (0 = Pareto front) of each point (minimized).
std::vector<int> nondomination_ranks(const std::vector<std::vector<double>>& points);
// Exact hypervolume dominated by `points` (minimized) up to `reference`, any number of objectives (WFG).
double hypervolume(std::vector<std::vector<double>> points, const std::vector<double>& reference);
// Greedy hypervolume subset selection of `k` of `points`; returns positions in `points` in selection order.
std::vector<size_t> solve_hssp(const std::vector<std::vector<double>>& points, size_t k,
                               const std::vector<double>& reference);
// MOTPE's weights of the below trials `indices`: hypervolume contributions / the largest, EPS for infeasible.
std::vector<double> weights_below_multi_objective(const std::vector<Score>& scores,
                                                  const std::vector<size_t>& indices,
                                                  const std::vector<double>& violations);

// One parameter group of the relative space (names sorted).
using Group = std::vector<std::string>;

class TpeStrategy : public Strategy {
 public:
  explicit TpeStrategy(const PluginParams& p);
  explicit TpeStrategy(TpeOptions options);

  SearchSpace relative_space(const StudyView& study) override;
  std::map<std::string, double> sample_relative(const SampleContext& ctx, const SearchSpace& space) override;
  double sample_independent(const SampleContext& ctx, const std::string& name, const Distribution& d) override;

  // The groups of the last relative_space() call (for tests).
  const std::vector<Group>& groups() const { return groups_; }

 private:
  struct NameInfo {
    Distribution dist;
    bool conflict = false;  // seen with two distributions: left to independent sampling
    uint64_t signature = 0;  // xor of a hash of the numbers of the finished trials that have it
    int64_t count = 0;
  };
  void update_decomposition(const StudyView& study);

  TpeOptions o_;
  int64_t study_id_ = -2;
  std::vector<char> seen_;  // trial number -> counted in names_
  int64_t n_finished_ = 0;
  std::map<std::string, NameInfo> names_;
  std::vector<Group> groups_;
  SearchSpace space_;  // the relative space of the last relative_space() call
};

}  // namespace bbo::tpe

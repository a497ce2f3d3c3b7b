// bbo/importance.h — how much of the objective's variation each parameter explains (fANOVA).
//
// fANOVA (Hutter, Hoos & Leyton-Brown, "An Efficient Approach for Assessing Hyperparameter Importance",
// ICML 2014): a random forest is fitted to the COMPLETE trials; each tree is a piecewise-constant function on
// an axis-aligned partition of the search space, so its functional ANOVA decomposition is computed exactly.
// A parameter's importance is the variance of its main-effect marginal (the tree's prediction averaged over
// every other parameter, as a function of this one) divided by the tree's total variance, averaged over the
// trees and normalised over the parameters. This is what Optuna's FanovaImportanceEvaluator computes; one
// difference: bbo works in the unit cube of `SearchSpace` (log-scale parameters uniform in log space, ints
// and stepped floats as equal-width bins), while Optuna uses the raw scale.
//
// Pure functions of their arguments, thread-safe. The forest is fitted on several threads; the result depends
// only on the trials, the options and the seed, not on the number of threads or the order of `trials`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bbo/trial.h"

namespace bbo {

struct ImportanceOptions {
  int objective = 0;                 // which objective's values are explained
  std::vector<std::string> params;   // empty: every parameter present in all the COMPLETE trials used
  int n_trees = 64;
  int max_depth = 64;
  uint64_t seed = 0;
  // Added beyond the fixed contract above (defaults are Optuna's / scikit-learn's):
  int min_samples_split = 2;   // a node with fewer distinct trials is a leaf
  int min_samples_leaf = 1;    // distinct trials on each side of a split, at least
  // Fraction of the parameters tried at each split, drawn at random per node (at least one). 1 tries them
  // all (scikit-learn's RandomForestRegressor default, which Optuna uses); smaller values decorrelate trees.
  double max_features = 1.0;
  int n_threads = 0;           // 0: std::thread::hardware_concurrency()
};

struct ParamImportance {
  std::string name;
  double importance = 0;  // share of the variance explained by this parameter's main effect, normalised to sum to 1 over the returned list
  double std_dev = 0;     // spread across the trees
};

// fANOVA on a random forest fitted to the COMPLETE trials (params in the internal representation / unit
// cube; categoricals as categories, split by subsets of choices). Sorted by importance, descending (ties keep
// the order of `params`, or name order when `params` is empty).
//
// Trials used: COMPLETE, with a finite value for `objective` and every parameter of the analysis. Without
// `params`, the analysis covers the parameters present in every COMPLETE trial with a finite value; with
// `params`, the forest is fitted to those parameters alone (as Optuna does), so the effect of a parameter left
// out acts as noise. A
// parameter with a single possible value is listed with importance 0. `std_dev` is the standard deviation
// across trees of the per-tree variance fraction, scaled by the same normalisation as `importance`. When no
// parameter has any main effect (a pure interaction the forest cannot split, or only single-valued
// parameters), every importance is 0.
//
// Throws bbo::ValueError when fewer than 2 usable trials exist, a requested param is missing from every
// COMPLETE trial or requested twice, no parameter is common to the trials, a parameter's distribution differs
// between trials, the values used are all equal (nothing to explain), or an option is out of range
// (objective < 0, n_trees < 1, max_depth < 1, min_samples_* < 1, max_features outside (0, 1]).
std::vector<ParamImportance> param_importances(const std::vector<FrozenTrial>& trials,
                                               const ImportanceOptions& options = {});

}  // namespace bbo

// batch_lbfgs.h — lockstep multi-start L-BFGS with box bounds, for objectives that are cheaper per point when
// evaluated for many points at once (the GP's log likelihood on a GPU: one batch of Cholesky factorizations).
//
// Every start runs its own L-BFGS (own history of `history` pairs, own line search); in each round all starts
// that are still running propose one trial point, and the objective sees those points in ONE call. Method:
//   - direction: the L-BFGS two-loop recursion on the free coordinates (a coordinate at a bound whose
//     negative gradient points out of the box is held fixed), steepest descent scaled to a unit max-step when
//     there is no usable history or the recursion does not give a descent direction;
//   - trial point: the projection of x + t·d onto the box, t = 1 first;
//   - Armijo backtracking on the projected path: accepted when f(x_t) ≤ f(x) + c₁ gᵀ(x_t − x); otherwise t
//     shrinks by a safeguarded quadratic interpolation (into [0.1, 0.5] of the last t; 0.25 after a non-finite
//     value);
//   - a start stops when an accepted step improves f by less than ftol_abs, moves every coordinate by at most
//     xtol_rel·|x_i|, when its evaluations reach max_evals, or after max_backtracks failed trials in a row.
// It minimizes. Non-finite objective values are treated as +∞ (the line search backs off). Deterministic: the
// result depends only on the inputs (and on the objective being deterministic).
#pragma once

#include <cstddef>
#include <functional>
#include <limits>
#include <vector>

namespace bbo::gp {

struct BatchLbfgsOptions {
  int max_evals = 120;      // objective evaluations per start, at most (the first at the start point)
  int history = 10;         // L-BFGS memory (pairs)
  double ftol_abs = 1e-3;   // stop when an accepted step improves f by less than this
  double xtol_rel = 1e-7;   // ... or changes every coordinate by at most xtol_rel·|x_i|
  double armijo = 1e-4;     // c₁ of the sufficient-decrease condition
  int max_backtracks = 30;  // failed trials in a row before a start gives up
};

struct BatchLbfgsResult {
  std::vector<double> x;  // the best point evaluated (lowest finite value); empty when none was finite
  double f = std::numeric_limits<double>::infinity();
  int evals = 0;          // objective evaluations spent by this start
};

// objective(X, B, values, grads): X holds B points (B × P, row-major); fill values[b] and grads[b·P .. +P).
using BatchObjective = std::function<void(const double* X, size_t B, double* values, double* grads)>;

// Minimizes from each start (each of size P = lower.size(), clamped into [lower, upper]); one result per
// start, in order. ValueError when the sizes disagree or a bound pair is empty (lower > upper).
std::vector<BatchLbfgsResult> batch_lbfgs_minimize(const BatchObjective& objective,
                                                   const std::vector<std::vector<double>>& starts,
                                                   const std::vector<double>& lower, const std::vector<double>& upper,
                                                   const BatchLbfgsOptions& options = {});

}  // namespace bbo::gp

// bbo/acquisition.h — acquisition functions over fitted surrogates, and their optimizer over the unit cube.
//
// Conventions: every modelled quantity is MINIMIZED (objectives arrive sign-flipped for maximization);
// constraints are feasible when c(x) <= 0 (as in Study::set_constraints). Acquisition values are to be
// MAXIMIZED. All functions here are deterministic given their inputs and the rng passed in.
//
// Usable by every surrogate: gradients are used when every surrogate involved has_gradient(), otherwise the
// optimizer searches without them; joint samples and fantasies likewise degrade gracefully (documented per
// kind below).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bbo/surrogate.h"

namespace bbo {

// ---- Closed forms (f ~ N(mean, sd²), minimization; improvement = best - f) ------------------------------

// log E[max(best - f, 0)]. Numerically stable: equals log(EI) wherever EI is a normal double and stays
// finite (≈ -z²/2 - log z terms) far below where EI underflows. sd <= 0 → log(max(best - mean, 0)) (-inf
// when there is no improvement).
double log_expected_improvement(double mean, double sd, double best);
// d/dmean and d/dsd of log_expected_improvement (sd > 0).
void log_expected_improvement_grad(double mean, double sd, double best, double& dmean, double& dsd);
// log P(f < best) = log Φ((best - mean)/sd), stable in the lower tail.
double log_probability_of_improvement(double mean, double sd, double best);
// log Φ(z), stable for z → -inf.
double log_normal_cdf(double z);

// ---- Acquisition functions ----------------------------------------------------------------------------------

struct AcquisitionOptions {
  // "logei" (default), "ucb" (negated lower confidence bound mean - sqrt(beta)·sd), "pi" (log probability of
  // improvement), "thompson" (one joint posterior draw over the candidates per evaluate() call: the cost of
  // the surrogate's sample() over all candidates, O(m³) for a GP — use a few hundred candidates), "qlogei"
  // (Monte-Carlo batch LogEI over the candidate and the pending points jointly), "random_quantile" (each candidate
  // scored by -q_tau(x) of the first objective's Surrogate::quantiles, with one level tau of `quantile_levels` drawn
  // per candidate by a hash of a seed drawn at construction and the candidate's coordinates: deterministic,
  // per candidate; the CQR preset). Multi-objective problems use "ehvi" (expected hypervolume improvement,
  // 2 or 3 objectives; chosen automatically whenever there are >= 2 objectives, whatever `kind` says) — see
  // AcquisitionProblem::reference_point.
  //
  // Scales: logei, pi, qlogei and ehvi are logarithms (log EI, log PI, log qEI, log EHVI); ucb, thompson and
  // random_quantile are in the units of y. With no observation at all (n = 0) logei, pi and qlogei have no
  // incumbent and act as ucb.
  std::string kind = "logei";
  double ucb_beta = 4.0;    // exploration weight of UCB
  size_t mc_samples = 128;  // base samples of qlogei / ehvi (fixed quasi-random normals: smooth, deterministic)
  std::vector<double> quantile_levels = {0.17, 0.33, 0.5, 0.67, 0.83};  // random_quantile's levels, in (0, 1)
  // Pending points (RUNNING trials and earlier points of the same batch) are handled by fantasies: each
  // objective/constraint surrogate that supports condition_on() is conditioned on its posterior mean at the
  // pending points (kriging believer; the believed values also join the incumbent / the Pareto front when
  // their believed constraint values are feasible). When an objective surrogate cannot be conditioned the
  // pending points get a local penalty instead (González et al. 2016: + sum_j log Phi((L·|x - p_j| -
  // (mu_j - best)+)/sd_j), L the largest posterior-mean slope found on quasi-random points, plus
  // log(1 - exp(-|x - p_j|²/(2·rho²))), rho = 0.01·sqrt(d), so a pending point itself scores -inf;
  // multiplied by the std of the observed y for the kinds in y units); constraint surrogates that cannot be
  // conditioned are used as they are. "qlogei" treats pending points jointly instead (joint draws from
  // Surrogate::sample with a reseeded rng when the surrogate has_joint_samples() and there are pending points, else
  // independent draws from fixed quasi-random normals).
};

// What an acquisition function is built from. Pointers are borrowed and must outlive the acquisition.
struct AcquisitionProblem {
  std::vector<Dimension> dims;                // the unit cube's coordinates (size d)
  std::vector<const Surrogate*> objectives;   // one per objective (>= 1), each fitted, minimized
  std::vector<const Surrogate*> constraints;  // one per constraint (may be empty); feasible when <= 0
  Matrix observed_x;                          // n × d points that have been evaluated (completed trials)
  Matrix observed_y;                          // n × objectives.size() their values (minimized)
  Matrix observed_c;                          // n × constraints.size() their constraint values (or 0 cols)
  Matrix pending;                             // p × d points under evaluation (may be 0 rows)
  std::vector<double> reference_point;        // multi-objective: HV reference (minimized); empty → derived
                                              // from the observed feasible front (nadir + 10% of its
                                              // range; where the range is 0, 10% of the range of all
                                              // observed values, else 1)
};

class Acquisition {
 public:
  virtual ~Acquisition() = default;
  // Values (to maximize; may be -inf where nothing can be gained) at each row of X, written to out (size m).
  virtual void evaluate(const Matrix& X, std::vector<double>& out) const = 0;
  // Value and gradient w.r.t. x (size d) at one point. Returns false (and leaves grad untouched) when this
  // acquisition has no gradient (e.g. a surrogate without gradients, thompson, ehvi).
  virtual bool evaluate_with_gradient(const double* x, double& value, double* grad) const { return false; }
  virtual bool has_gradient() const { return false; }
  // False when values are only comparable within one evaluate() call (thompson: one joint draw per call) or
  // are not meant to be climbed (random_quantile): optimize_acquisition then scores its candidates in one
  // call and skips the local search.
  virtual bool supports_local_search() const { return true; }
};

// Builds the acquisition for `problem`: the best feasible observed value is the incumbent for EI/PI (when no
// observation is feasible, the acquisition is the log probability of feasibility alone); with constraints
// the objective acquisition is multiplied by the probability of feasibility (added in log space), each
// constraint modelled by its own surrogate. Observed rows with a non-finite y are ignored. EHVI without any
// feasible observed point (and neither constraints nor a reference point) scores sum_k log sd_k (pure
// exploration); where the Monte-Carlo EHVI is 0 it falls back to max_k logEI_k(min of the front in objective
// k) - 1000, so ranking stays informative far from the front. Evaluated values are never NaN (a surrogate's
// NaN becomes -inf). Throws ValueError for an unknown kind, more than 3 objectives, or inconsistent sizes.
// "ehvi" with one objective is "logei". `rng` draws whatever the kind needs at construction (thompson and
// random_quantile seeds, MC base samples).
std::unique_ptr<Acquisition> make_acquisition(const AcquisitionOptions& options, const AcquisitionProblem& problem,
                                              std::mt19937_64& rng);

// ---- Optimizer over the unit cube ----------------------------------------------------------------------

struct AcquisitionOptimizerOptions {
  size_t n_candidates = 2048;    // scored candidates: the seeds, 30% Gaussian perturbations of the seeds
                                 // (exploitation; sd 0.01–0.3, categorical choices redrawn), 10% uniform,
                                 // the rest scrambled Sobol points (bbo/qmc.h)
  size_t n_local_starts = 5;     // best candidates refined by local search, at least 0.05·sqrt(d) apart
                                 // while there are enough such (distinct basins), else merely distinct
  size_t max_local_evals = 100;  // per start: L-BFGS (NLopt) on continuous coordinates when gradients exist,
                                 // a derivative-free NLopt method otherwise; then a coordinate search over
                                 // neighbouring grid levels / other choices of discrete coordinates
  bool local_search = true;      // false: best scored candidate only (e.g. CQR's random-candidate scoring)
  // Half-width of the box around each start that the continuous local search stays in (1 = the whole cube).
  // A GP fitted to few points in many dimensions has its largest variance at the faces and corners of the
  // cube, far from every observation; an unbounded gradient ascent from a good candidate then runs off to a
  // corner (measured: 10-d sphere, most proposals at corners). The candidates already cover the cube, so
  // the local search only has to polish.
  double local_radius = 0.1;
  // An optional box [box_lower, box_upper] (size d each, inside [0,1]) that the candidates and the continuous
  // local search stay in, on every non-categorical coordinate (a trust region; discrete moves of grid
  // coordinates may leave it); seeds are kept as given. Empty = the whole cube.
  std::vector<double> box_lower, box_upper;
  bool sobol_candidates = true;  // false: uniform random candidates only
};

struct AcquisitionOptimum {
  std::vector<double> x;  // size d; discrete coordinates at their bin centres
  double value = 0.0;
};

// Maximizes `acq` over [0,1]^d with the coordinates' kinds respected. `seeds` (rows of d) are added to the
// candidates (e.g. the few best observed points: the perturbations cycle over all of them). Deterministic
// given rng's state. Never returns a NaN coordinate: when every value is -inf or NaN the best-ranked uniform
// candidate is returned. An acquisition whose supports_local_search() is false is scored in one evaluate()
// call and its best candidate returned. Throws ValueError when seeds.cols != d or a discrete dimension has
// 0 levels.
AcquisitionOptimum optimize_acquisition(const Acquisition& acq, const std::vector<Dimension>& dims,
                                        const AcquisitionOptimizerOptions& options, std::mt19937_64& rng,
                                        const Matrix& seeds = Matrix());

// Snaps discrete coordinates of x to their bin centres (grid) / choice centres (categorical), clamps the
// rest into [0, 1].
void snap_to_dimensions(const std::vector<Dimension>& dims, double* x);

// Hypervolume dominated by `points` (rows, minimized) up to `reference` (2 or 3 objectives; exact).
double hypervolume(const Matrix& points, const std::vector<double>& reference);

}  // namespace bbo

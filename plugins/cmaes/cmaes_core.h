// cmaes_core.h — the CMA-ES engine of the `cmaes` strategy, usable (and unit-tested) without a study.
//
// CmaEs is a (mu/mu_w, lambda)-CMA-ES on the unit cube [0,1]^d with Hansen's standard parameter settings
// ("The CMA Evolution Strategy: A Tutorial", 2016): weighted recombination with active (negative) weights,
// rank-one update through the evolution path p_c, rank-mu update, and cumulative step-size adaptation (CSA).
// Options:
//  - separable: sep-CMA-ES (Ros & Hansen 2008): C is diagonal and the learning rates c1, c_mu are multiplied
//    by (d + 2) / 3; O(d) per sample, meant for high dimensions;
//  - discrete dimensions (ints, stepped floats, categoricals): CMA-ES with margin (Hamano et al., GECCO 2022):
//    after every update the marginal standard deviation of each discrete coordinate is scaled up (a diagonal
//    factor A_j >= 1) so that the probability of sampling outside the bin of the mean stays >= `margin`;
//  - IPOP restarts (Auger & Hansen 2005): on Hansen's termination criteria (TolFun, TolX, NoEffectAxis,
//    NoEffectCoord, ConditionCov, TolUpSigma) the search restarts from a uniform random mean with sigma0 and
//    the population size multiplied by inc_popsize.
// Bounds, `resample = false` (a periodic transform): the search runs in R^d on g(x) = f(mirror(x)), where mirror reflects each
// coordinate into [0,1] at both faces (a triangle wave of period 2). g is continuous and equal to f inside
// the cube, so the distribution is never biased by a repair (a Lamarckian repair of samples near a face
// makes the evolution paths lie and sigma diverge when the optimum sits on the boundary). ask() returns the
// raw samples; callers evaluate at mirror_into_cube(x) and give the raw samples back to tell().
//
// The whole state round-trips through JSON (doubles exactly), and ask() is a pure function of the state and
// the generator, so a state restored in another process proposes the same generation. Not thread-safe.
#pragma once

#include <Eigen/Dense>

#include <cstdint>
#include <functional>
#include <random>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace bbo::cmaes {

using json = nlohmann::json;

struct CmaOptions {
  double sigma0 = 1.0 / 6;   // initial step size in the unit cube (> 0); Optuna's range / 6
  int popsize = 0;           // lambda; 0: 4 + floor(3 ln d)
  bool ipop = true;          // restart with a larger population on convergence/stagnation
  double inc_popsize = 2.0;  // lambda multiplier per IPOP restart (>= 1)
  bool separable = false;    // diagonal covariance (sep-CMA-ES)
  double margin = -1.0;      // minimal probability of leaving a discrete bin; < 0: 1 / (d * lambda)
  double tol_fun = 1e-12;    // TolFun: range of recent best values and of the current generation
  double tol_x = 1e-12;      // TolX, relative to sigma0
  // Orthogonal sampling (Wang, Emmerich & Bäck 2014): the z of each block of min(d, lambda) samples are
  // orthogonal directions of Haar-random orientation with independent chi_d lengths, so each sample is still
  // N(0, I) (the update equations and CSA are unchanged) while the generation covers the directions evenly.
  bool orthogonal = true;
  // Bounds: true: a sample outside the cube is redrawn (a fresh N(0, C) draw, up to 10 d times), as the
  // `cmaes` Python library (Optuna) does; when every draw falls outside, the last one is kept and evaluated
  // at its mirror (the periodic transform below), where the library clips. Resampling converges ~5x closer
  // on branin in 200 evaluations than pure mirroring (two of its three optima lie near a face, where the
  // mirrored copy of the basin splits each generation); the mirror fallback, unlike clipping, keeps sigma
  // from diverging when the optimum is a corner. false: the periodic transform only.
  bool resample = true;
};

// For a discrete dimension `dim` and a unit coordinate u: the unit interval [lo, hi] of the bin that contains
// u (the values that decode to the same grid point or choice). Used by the margin correction.
using BinFunction = std::function<std::pair<double, double>(size_t dim, double u)>;

class CmaEs {
 public:
  // A fresh search in dimension mean.size() (>= 1) centred at `mean` (coordinates in [0,1]). `discrete[j]`
  // marks dimensions that get a margin (empty: none). Throws std::invalid_argument on bad options.
  CmaEs(const CmaOptions& options, std::vector<double> mean, std::vector<bool> discrete = {});
  // Restores a state written by to_json(); throws std::invalid_argument / nlohmann errors on malformed input.
  static CmaEs from_json(const json& j);
  json to_json() const;

  // The lambda raw samples of the current generation (points of R^d; evaluate at mirror_into_cube(x)).
  // Deterministic in (state, rng).
  std::vector<std::vector<double>> ask(std::mt19937_64& rng) const;
  // Updates the distribution with the evaluated generation (x: the raw samples as returned by ask, f to
  // minimise at their mirrored points; +inf and NaN count as worst). `bins` is needed only when some dimension is discrete. May restart (IPOP), which
  // draws a new mean from `rng`.
  void tell(const std::vector<std::vector<double>>& x, const std::vector<double>& f, std::mt19937_64& rng,
            const BinFunction& bins = {});

  // Replaces the current step size (> 0), e.g. for a warm start; sigma0 still applies to restarts.
  void set_sigma(double sigma);

  int dim() const { return dim_; }
  int popsize() const { return lambda_; }
  double sigma() const { return sigma_; }
  const Eigen::VectorXd& mean() const { return mean_; }  // raw (mirror it for the point of the cube)
  const Eigen::MatrixXd& cov() const { return cov_; }  // diagonal when separable
  const Eigen::VectorXd& margin_scale() const { return a_; }  // A_j (1 for continuous dimensions)
  int64_t generation() const { return generation_; }        // generations since the last (re)start
  int64_t total_generations() const { return total_generations_; }
  int restarts() const { return restarts_; }
  // The reason of the last restart ("" when none happened): tol_fun, tol_x, no_effect_axis, ...
  const std::string& last_stop() const { return last_stop_; }
  // Whether Hansen's termination criteria hold for the current state (what triggers an IPOP restart).
  std::string stop_reason() const;

 private:
  CmaEs() = default;
  void set_strategy_parameters();  // weights and learning rates from (dim_, lambda_, separable_)
  void restart(std::mt19937_64& rng);
  void apply_margin(const BinFunction& bins);
  // B * diag(D) = C^(1/2) (eigenvectors and square roots of eigenvalues).
  void decompose(Eigen::MatrixXd& b, Eigen::VectorXd& d) const;

  CmaOptions options_;
  int dim_ = 0;
  std::vector<bool> discrete_;
  // State.
  Eigen::VectorXd mean_, pc_, ps_, a_;
  Eigen::MatrixXd cov_;
  double sigma_ = 0.2;
  int lambda_ = 0;
  int64_t generation_ = 0, total_generations_ = 0;
  int restarts_ = 0;
  std::vector<double> best_history_;  // best value per generation, the last 10 + ceil(30 d / lambda)
  double last_range_ = 0.0;           // range of the last generation's finite values
  std::string last_stop_;
  // Derived from (dim_, lambda_, separable_).
  int mu_ = 0;
  Eigen::VectorXd weights_;  // lambda weights, positive ones sum to 1, active (negative) ones after
  double mueff_ = 0, cc_ = 0, cs_ = 0, c1_ = 0, cmu_ = 0, ds_ = 0, chin_ = 0;
};

// Reflection of each coordinate into [0,1] (identity inside; period 2).
double mirror_into_cube(double x);
std::vector<double> mirror_into_cube(std::vector<double> x);

// Hansen's default population size 4 + floor(3 ln d).
int default_popsize(int dim);

}  // namespace bbo::cmaes

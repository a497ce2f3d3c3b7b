// parzen_estimator.h — the Parzen estimator of the `tpe` strategy (Optuna 3.1's _ParzenEstimator) and the
// truncated-normal numerics it needs.
//
// An estimator is a mixture of one kernel per observation plus, optionally, a prior kernel. Each kernel is a
// product over the parameters of its space: a normal truncated to the parameter's domain for floats and ints
// (in log space for log distributions; a stepped float or a linear int gets the kernel's mass over the
// [x - step/2, x + step/2] bin of each grid point), and a categorical distribution smoothed towards uniform
// (the prior) for categoricals. Bandwidths: with `multivariate`, Scott's rule 0.2 n^(-1/(d+4)) × range
// (BOHB); otherwise, per parameter, the larger distance to the sorted neighbours (endpoints optional). The
// magic clip bounds every bandwidth below by range / min(100, 1 + kernels).
//
// Values are bbo internal values (float/int value, categorical index), one column per parameter of the
// space. Everything here is pure and deterministic given the generator.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "bbo/space.h"

namespace bbo::tpe {

// log Φ(a) for the standard normal CDF Φ, accurate in both tails (asymptotic series below -20).
double log_ndtr(double a);
// log(Φ(b) − Φ(a)) for a <= b, computed in the tail where it is accurate (-inf when a == b).
double log_gauss_mass(double a, double b);
// The q-quantile of the standard normal truncated to [a, b] (a < b), q in [0, 1].
double truncnorm_ppf(double q, double a, double b);

// Optuna's default_weights: n ones, except that for n >= 25 the oldest n - 25 observations get a linear ramp
// from 1/n to 1 (weights are in chronological order).
std::vector<double> default_weights(size_t n);
// Optuna's default_gamma: min(ceil(0.1 n), 25); hyperopt_gamma: min(ceil(0.25 sqrt(n)), 25).
int64_t default_gamma(int64_t n);
int64_t hyperopt_gamma(int64_t n);

struct ParzenOptions {
  bool consider_prior = true;
  double prior_weight = 1.0;
  bool consider_magic_clip = true;
  bool consider_endpoints = false;
  bool multivariate = true;
  bool uniform_weights = false;  // all observation weights 1 instead of default_weights
  // Optuna 3.1's truncnorm.logpdf leaves out the 1/σ of each continuous kernel (a kernel's height then does
  // not grow as it narrows, which keeps the prior and the wide kernels in play); true reproduces that (then
  // log_pdf is not a normalized density), false gives the normalized density.
  bool optuna31_kernels = false;
};

class ParzenEstimator {
 public:
  // `columns[p][i]`: internal value of parameter p (distribution dists[p]) in observation i; every column has
  // the same length n (may be 0). `weights`, if non-empty (size n, >= 0, not all 0), replaces the default
  // observation weights (MOTPE's hypervolume weights). Throws ValueError on inconsistent sizes.
  ParzenEstimator(const std::vector<std::vector<double>>& columns, const std::vector<Distribution>& dists,
                  const ParzenOptions& options, const std::vector<double>& weights = {});

  // `size` draws from the mixture, as internal values (rounded to the grid, clipped to the domain):
  // result[p][s].
  std::vector<std::vector<double>> sample(std::mt19937_64& rng, size_t size) const;
  // log density of each point (points[p][s], internal values) with respect to the transformed space: the
  // Lebesgue measure in value (floats) or log value (log floats and log ints, as Optuna), the counting
  // measure for stepped floats, ints and categoricals. With optuna31_kernels, continuous kernels lack 1/σ.
  std::vector<double> log_pdf(const std::vector<std::vector<double>>& points) const;

  // Inspection for tests: normalized component weights, and per numeric parameter the kernel centres and
  // bandwidths in the transformed space (prior last when present).
  const std::vector<double>& weights() const { return weights_; }
  const std::vector<double>& mus(size_t p) const { return dims_[p].mus; }
  const std::vector<double>& sigmas(size_t p) const { return dims_[p].sigmas; }
  // The categorical kernel probabilities (components × choices, row-major) of parameter p.
  const std::vector<double>& categorical_weights(size_t p) const { return dims_[p].cat; }

 private:
  struct Dim {
    bool categorical = false;
    bool log = false;
    bool is_int = false;
    double dlow = 0, dhigh = 0;  // the distribution's own bounds (for rounding and clipping)
    double low = 0, high = 0;    // kernel domain in the transformed space
    double q = 0;                // grid step (0: continuous)
    std::vector<double> mus, sigmas, log_norm;  // log_norm: log(σ √(2π)) + log mass of [low, high]
    std::vector<double> log_accept;             // log mass of [low, high] per kernel
    int k = 0;                                  // categorical: choices
    std::vector<double> cat, log_cat;           // categorical: components × k
  };
  double to_transformed(const Dim& d, double v) const;
  double from_transformed(const Dim& d, double x) const;

  std::vector<Dim> dims_;
  std::vector<double> weights_;
  std::vector<double> log_weights_;
};

}  // namespace bbo::tpe

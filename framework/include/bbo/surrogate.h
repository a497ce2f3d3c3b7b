// bbo/surrogate.h — the Surrogate plugin contract (models used by the `bo` strategy and its presets).
//
// A surrogate is fitted to observations of ONE quantity to minimize (an objective with its sign already
// flipped for maximization, or a constraint value), at points of the unit cube [0,1]^d (SearchSpace::encode),
// and then predicts that quantity at new points. Predictions are in the units of the y given to fit (a model
// that standardizes internally undoes it). Several quantities (objectives, constraints) use one surrogate
// object each.
//
// Contract for implementations:
//  - fit() accepts any n >= 0 (n = 0 or 1 must not fail: predict then returns the prior), duplicate rows,
//    constant y; y values are finite (the caller drops NaN/inf). Sizes that do not match → ValueError.
//  - All randomness of fit() comes from FitInput::seed, so the same input gives the same model (the `bo`
//    strategy relies on this to propose the same point in every process).
//  - predict() is const and thread-compatible (several threads may predict on one fitted model).
//  - Optional capabilities (gradients, joint samples, conditioning on fantasies, quantiles) have defaults
//    that either derive them from predict() or say they are absent; callers check the has_* queries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

namespace bbo {

// A dense row-major matrix of doubles.
struct Matrix {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<double> data;
  Matrix() = default;
  Matrix(size_t r, size_t c, double fill = 0.0) : rows(r), cols(c), data(r * c, fill) {}
  double& operator()(size_t r, size_t c) { return data[r * cols + c]; }
  double operator()(size_t r, size_t c) const { return data[r * cols + c]; }
  const double* row(size_t r) const { return data.data() + r * cols; }
  double* row(size_t r) { return data.data() + r * cols; }
};

// How one coordinate of the unit cube encodes its parameter (see SearchSpace::encode): continuous (a float
// without step, possibly log), a grid of `levels` equal-width bins (int or stepped float; bin i is centred at
// (i + 0.5)/levels), or a categorical with `levels` unordered choices (choice i at (i + 0.5)/levels; only
// equality between encoded values is meaningful).
enum class DimensionKind { kContinuous, kGrid, kCategorical };
struct Dimension {
  DimensionKind kind = DimensionKind::kContinuous;
  size_t levels = 0;  // number of grid points / choices; 0 for continuous
};

struct FitInput {
  std::vector<Dimension> dims;   // size d (the columns of X); empty means all continuous
  Matrix X;                      // n × d, entries in [0, 1]
  std::vector<double> y;         // n finite values (lower is better)
  std::vector<double> fidelity;  // empty, or n resource levels (e.g. epochs) for multi-fidelity models
  nlohmann::json warm_start;     // null, or a state() of an earlier fit of the same model kind (a hint)
  uint64_t seed = 0;             // seeds every random choice of the fit (restarts, minibatches, splits)
};

// Checks the shapes of `in` (X is rows × cols, y has one value per row, dims one entry per column, fidelity
// empty or one per row) and that X and y are finite; throws ValueError prefixed with `model` ("gp: y[3] is not
// finite"). Every surrogate's fit starts with it.
void validate_fit_input(const FitInput& in, const std::string& model);
// The same for condition_on's fantasies: X rows × cols, one finite y per row, and cols == d when d > 0 (the
// fitted model's dimension). Messages read "<model>: condition_on: ...".
void validate_condition_input(const Matrix& X, const std::vector<double>& y, size_t d, const std::string& model);
// The same for predict()'s queries: X rows × cols, and cols == d when d > 0 (the fitted model's dimension).
// Messages read "<model>: query X has ..." and "<model>: the model was fitted with d = 3 but X has 2 columns".
void validate_query_input(const Matrix& X, size_t d, const std::string& model);

struct Prediction {
  std::vector<double> mean;
  std::vector<double> variance;  // predictive variance of the latent function (without observation noise)
};

// Value and gradient (w.r.t. the d unit-cube coordinates) of the posterior mean and variance at one point.
struct PointPrediction {
  double mean = 0.0;
  double variance = 0.0;
  std::vector<double> dmean;      // size d
  std::vector<double> dvariance;  // size d
};

class Surrogate {
 public:
  virtual ~Surrogate() = default;

  // Fits the model (replacing any earlier fit). Throws ValueError when sizes do not match.
  virtual void fit(const FitInput& input) = 0;

  // Mean and latent variance at each row of X (m × d); variances >= 0. Before any fit() the model behaves
  // as fitted to no data (its prior). X.cols must equal d of the last fit → ValueError otherwise.
  virtual Prediction predict(const Matrix& X) const = 0;

  // Observation-noise variance in y units (0 for a noiseless model); used for fantasies and MC acquisitions.
  virtual double noise_variance() const { return 0.0; }

  // Gradients of mean and variance w.r.t. x. Default: not available (has_gradient() false, the call throws
  // Error). Acquisition optimizers fall back to derivative-free local search when absent.
  virtual bool has_gradient() const { return false; }
  virtual PointPrediction predict_with_gradient(const double* x) const;

  // k joint posterior draws of the latent function at the rows of X: a k × m matrix. Default: independent
  // normal draws from predict() (no correlation between rows); models with a joint posterior override it.
  virtual Matrix sample(const Matrix& X, size_t k, std::mt19937_64& rng) const;
  virtual bool has_joint_samples() const { return false; }

  // A copy of this fitted model that also observed y at the rows of X, keeping the hyper-parameters (no
  // refit): used for fantasies of pending points. Default: nullptr (not supported). The returned object is
  // made by the same plugin library; keep this model alive while using it.
  virtual std::shared_ptr<Surrogate> condition_on(const Matrix& X, const std::vector<double>& y) const {
    return nullptr;
  }

  // Predictive quantiles of y: an m × levels.size() matrix, levels in (0, 1). Default: Gaussian quantiles of
  // predict() with noise_variance() added; quantile models (cqr) override it.
  virtual Matrix quantiles(const Matrix& X, const std::vector<double>& levels) const;

  // What the next fit may start from (hyper-parameters), as JSON; null when the model has nothing to keep.
  // Must round-trip through FitInput::warm_start. The `bo` strategy stores it in the study's plugin state.
  virtual nlohmann::json state() const { return nullptr; }
};

// Standard normal pdf, cdf and inverse cdf (shared by surrogates and acquisitions).
double normal_pdf(double z);
double normal_cdf(double z);
double normal_quantile(double p);  // p in (0, 1)

}  // namespace bbo

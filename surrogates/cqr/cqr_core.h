// surrogates/cqr/cqr_core.h — the engine of the `cqr` surrogate: quantile gradient-boosted regression trees
// and split-conformal calibration of their quantiles (Romano et al. 2019; Salinas et al., ICML 2023).
//
// QuantileGbrt fits one quantile level τ with the pinball loss ρ_τ(r) = max(τ r, (τ − 1) r), r = y − F(x),
// the way scikit-learn's GradientBoostingRegressor(loss="quantile") does: F starts at the τ-quantile of y;
// each round fits a depth-limited least-squares tree to the negative gradient of the pinball loss (τ where
// y > F, τ − 1 elsewhere) on a (seeded) subsample, then re-estimates every leaf as the τ-quantile of the
// residuals y − F of the in-bag samples in it (the exact minimizer of the pinball loss in that leaf), and
// adds learning_rate × that value. Because each leaf step moves a fraction of the way to the leaf's pinball
// minimizer of a convex loss, the in-bag training loss never increases from round to round.
//
// Splits: continuous and grid coordinates split on a threshold between two distinct observed values
// (exhaustive over pre-sorted columns). Categorical coordinates (Dimension::kCategorical, choice i encoded at
// (i + 0.5)/levels) split into two sets of choices: the choices present in the node are ordered by their mean
// gradient and the best prefix is taken, which is the optimal binary partition for squared error (Fisher
// 1958; Breiman et al. 1984) — the encoded order of the choices is never used.
//
// CqrModel fits one QuantileGbrt per level. With more than min_samples_to_conformalize rows it holds out a
// random calibration_fraction of them (⌈fraction·n⌉ rows, seeded), fits on the rest and calibrates on the
// held-out rows (the models are NOT refitted on all data, as in the paper and Syne Tune): for each symmetric
// pair of levels (τ, 1 − τ) the score is s = max(q_τ(x) − y, y − q_{1−τ}(x)) and the margin is the
// k-th smallest score with k = ⌈(1 − α)(n_cal + 1)⌉, α = 2τ (the split-conformal finite-sample quantile,
// i.e. the empirical (1 − α)(1 + 1/n_cal) quantile; Syne Tune uses (1 − α)/(1 + 1/n_cal), which
// under-covers). When k > n_cal the exact quantile is +∞; the largest score is used instead (the guarantee
// does not hold there: too few calibration rows for that level). A level without its mirror level gets the
// one-sided version (scores y − q_τ for τ > 1/2, q_τ − y for τ < 1/2, k = ⌈τ'(n_cal + 1)⌉ with τ' = max(τ,
// 1 − τ)); the median (τ = 1/2) is never moved. Margins may be negative (intervals that were too wide shrink).
// After the margins are applied the quantiles of each row are sorted, so they are monotone in the level.
//
// All randomness comes from the seed given to fit(). Objects are immutable after fit(); the const methods
// may be called from several threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "bbo/surrogate.h"

namespace bbo::cqr {

struct GbrtParams {
  int n_estimators = 100;         // boosting rounds (trees)
  double learning_rate = 0.1;     // shrinkage of each tree's leaf values
  int max_depth = 3;              // levels of splits per tree
  int min_samples_leaf = 5;       // in-bag samples a leaf must hold
  double subsample = 1.0;         // fraction of rows drawn (without replacement) for each tree; 1 = all
};

// The rows a model is trained on, with each column prepared once (sort order, category index) so that
// several quantile models share the work.
class Dataset {
 public:
  // X: n × d in [0, 1]; dims: size d, or empty for all continuous. Throws ValueError when sizes differ.
  Dataset(const Matrix& X, const std::vector<Dimension>& dims, const std::vector<double>& y);
  size_t rows() const { return y_.size(); }
  size_t cols() const { return kinds_.size(); }
  const std::vector<double>& y() const { return y_; }

 private:
  friend class QuantileGbrt;
  std::vector<double> x_;                    // column-major n × d copy
  std::vector<double> y_;
  std::vector<int> levels_;                  // per column: number of choices (categorical) or 0
  std::vector<bool> kinds_;                  // per column: true when categorical
  std::vector<std::vector<uint32_t>> order_;  // per continuous column: row indices sorted by value
  std::vector<std::vector<int>> cat_;         // per categorical column: choice index of each row
  std::vector<double> rows_;                 // row-major n × d copy (tree traversal)
};

// The choice index of an encoded categorical value (choice i at (i + 0.5)/levels).
int category_index(double encoded, int levels);

class QuantileGbrt {
 public:
  // Fits level tau in (0, 1) to the data. Draws subsamples from rng only when params.subsample < 1.
  // Records the mean training pinball loss over all rows before and after every round (round_losses()).
  void fit(const Dataset& data, double tau, const GbrtParams& params, std::mt19937_64& rng);

  // The prediction at one point (d coordinates) using the initial value and the first n_trees trees.
  double predict(const double* x, size_t n_trees = std::numeric_limits<size_t>::max()) const;
  // Predictions at every row of X (all trees), written to out[i * stride] (tree-major loop: fast for many rows).
  void predict_rows(const Matrix& X, double* out, size_t stride) const;
  size_t num_trees() const { return roots_.size(); }
  double tau() const { return tau_; }
  // Mean pinball loss over all training rows before round 1 (index 0) and after each round r (index r);
  // non-increasing when subsample = 1.
  const std::vector<double>& round_losses() const { return round_losses_; }

 private:
  struct Node {
    int feature = -1;      // -1: leaf
    double threshold = 0;  // continuous: x <= threshold goes left
    uint32_t left = 0;        // the right child is left + 1
    bool categorical = false;
    uint32_t cat_offset = 0;  // categorical: bit c of the words at cat_offset set → choice c goes left
    double value = 0;        // leaf: learning_rate × leaf quantile
  };
  uint32_t leaf_of(uint32_t root, const double* x) const;

  double tau_ = 0.5;
  double init_ = 0.0;
  std::vector<Node> nodes_;
  std::vector<uint32_t> roots_;
  std::vector<uint64_t> cat_bits_;
  std::vector<int> levels_;  // per feature: choices of a categorical feature, 0 otherwise
  std::vector<double> round_losses_;
};

// The mean pinball loss of predictions q against y at level tau.
double pinball_loss(const std::vector<double>& y, const std::vector<double>& q, double tau);

// The split-conformal margin: the k-th smallest score, k = ⌈coverage·(n + 1)⌉ (clamped to [1, n]); 0 for
// no scores. coverage in (0, 1).
double conformal_margin(std::vector<double> scores, double coverage);

struct CqrParams {
  std::vector<double> levels = {0.17, 0.33, 0.5, 0.67, 0.83};  // distinct, in (0, 1)
  GbrtParams gbrt;
  size_t min_samples_to_conformalize = 32;  // calibrate only when n > this
  double calibration_fraction = 0.1;        // share of rows held out for calibration
  bool conformalize = true;
};

class CqrModel {
 public:
  // Throws ValueError for an empty or invalid level list.
  explicit CqrModel(CqrParams params);
  // Fits every level (n >= 1 rows) and calibrates when n > min_samples_to_conformalize.
  void fit(const Matrix& X, const std::vector<Dimension>& dims, const std::vector<double>& y, uint64_t seed);

  // Calibrated quantiles at the fitted levels (sorted ascending), m × levels().size(), each row sorted.
  Matrix predict_levels(const Matrix& X) const;
  // Same, before calibration (raw model outputs, not sorted).
  Matrix predict_uncalibrated(const Matrix& X) const;

  const std::vector<double>& levels() const { return levels_; }     // ascending
  const std::vector<double>& margins() const { return margins_; }   // per level: amount added (sign included)
  size_t calibration_rows() const { return n_cal_; }
  // The rows of the last fit's X held out for calibration (empty without calibration).
  const std::vector<size_t>& calibration_indices() const { return cal_index_; }
  const QuantileGbrt& model(size_t level_index) const { return models_[level_index]; }

 private:
  CqrParams params_;
  std::vector<double> levels_;
  std::vector<QuantileGbrt> models_;
  std::vector<double> margins_;
  size_t n_cal_ = 0;
  std::vector<size_t> cal_index_;
};

}  // namespace bbo::cqr

namespace bbo::cqr {

// The `cqr` surrogate: a CqrModel behind the Surrogate contract.
//  - fit(): n = 0 leaves the prior (mean 0, variance 1, Gaussian quantiles). n >= 1 fits the model
//    (with n = 1 or constant y every quantile is that value and the variance is 0). When FitInput::fidelity
//    is given and use_fidelity is set, fidelity / max(fidelity) is appended as a feature column and
//    predictions are made at the largest fidelity seen (column value 1); trees only compare values, so any
//    monotone rescaling of the fidelity gives the same model. FitInput::warm_start is accepted and ignored.
//  - quantiles(X, p): the calibrated quantiles at the fitted levels τ_k, interpolated piecewise linearly in
//    z = Φ⁻¹(p) between them; beyond the outermost levels extrapolated along the line through the outermost
//    two (q(τ_1), q(τ_L)) in z, i.e. a normal tail with σ = (q_L − q_1)/(z_L − z_1). Monotone in p.
//  - predict(): mean = quantiles(X, 0.5) (the median); variance = σ² with σ as above (the spread of the
//    outermost fitted levels read as a normal distribution). noise_variance() is 0: the quantiles are of y.
//  - state(): {"levels", "margins", "calibration_rows"} after a fit with n >= 1, null otherwise.
class CqrSurrogate : public Surrogate {
 public:
  CqrSurrogate(CqrParams params, bool use_fidelity);
  void fit(const FitInput& input) override;
  Prediction predict(const Matrix& X) const override;
  Matrix quantiles(const Matrix& X, const std::vector<double>& levels) const override;
  nlohmann::json state() const override;
  const CqrModel& model() const { return model_; }

 private:
  Matrix augment(const Matrix& X) const;  // checks the column count and appends the fidelity column
  double interpolate(const double* q, double z) const;

  CqrModel model_;
  bool use_fidelity_;
  bool fitted_ = false;      // fit() with n >= 1 happened
  bool any_fit_ = false;     // some fit() happened (fixes d)
  bool has_fidelity_ = false;
  size_t d_ = 0;
  std::vector<double> z_;    // Φ⁻¹ of the fitted levels
};

}  // namespace bbo::cqr

// Tests of the `cqr` surrogate: the quantile GBRT engine (pinball loss per round, exact leaf quantiles,
// categorical partitions), the conformal margin (hand-computed order statistics), coverage of calibrated
// intervals on held-out data, monotone quantiles, determinism, degenerate input, and the plugin through the
// surrogate conformance suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "surrogate_conformance.h"
#include "surrogates/cqr/cqr_core.h"

INSTANTIATE_TEST_SUITE_P(
    Cqr, SurrogateConformance,
    ::testing::Values(bbo::testing::SurrogateCase{"cqr", {}},
                      // Calibration already at n > 8 (the suite's inputs have 10–40 rows), subsampled trees,
                      // levels whose outer pair is not the default one.
                      bbo::testing::SurrogateCase{"conformal_quantile_regression",
                                                  {{"min_samples_to_conformalize", 8},
                                                   {"subsample", 0.7},
                                                   {"levels", bbo::json::array({0.1, 0.25, 0.5, 0.75, 0.9})}}}),
    bbo::testing::SurrogateCaseName);

namespace bbo::cqr {
namespace {

// y = sin(6 x0) + x1 + (0.1 + x0) ε, ε ~ N(0, 1): the noise grows fivefold across x0 (heteroscedastic).
void heteroscedastic(size_t n, size_t d, std::mt19937_64& rng, Matrix& X, std::vector<double>& y) {
  std::uniform_real_distribution<double> u;
  std::normal_distribution<double> normal;
  X = Matrix(n, d);
  y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) X(i, j) = u(rng);
    y[i] = std::sin(6 * X(i, 0)) + X(i, 1 % d) + (0.1 + X(i, 0)) * normal(rng);
  }
}

// Share of test rows with q(i, lo) <= y <= q(i, hi).
double coverage(const Matrix& q, size_t lo, size_t hi, const std::vector<double>& y) {
  size_t in = 0;
  for (size_t i = 0; i < y.size(); ++i) in += (y[i] >= q(i, lo) && y[i] <= q(i, hi)) ? 1 : 0;
  return static_cast<double>(in) / static_cast<double>(y.size());
}

struct Coverage {
  double calibrated66 = 0, uncalibrated66 = 0, calibrated34 = 0;
};

// Mean coverage of the (0.17, 0.83) and (0.33, 0.67) intervals on 2,000 fresh test points over `seeds` fits.
Coverage mean_coverage(const CqrParams& p, size_t n, int seeds) {
  Coverage c;
  for (int s = 0; s < seeds; ++s) {
    std::mt19937_64 rng(1000 + s);
    Matrix X, Xt;
    std::vector<double> y, yt;
    heteroscedastic(n, 3, rng, X, y);
    heteroscedastic(2000, 3, rng, Xt, yt);
    CqrModel m(p);
    m.fit(X, {}, y, static_cast<uint64_t>(s));
    Matrix qc = m.predict_levels(Xt), qu = m.predict_uncalibrated(Xt);
    c.calibrated66 += coverage(qc, 0, 4, yt) / seeds;
    c.calibrated34 += coverage(qc, 1, 3, yt) / seeds;
    c.uncalibrated66 += coverage(qu, 0, 4, yt) / seeds;
  }
  return c;
}

TEST(CqrConformalMargin, IsTheCeilOfCoverageTimesNPlusOneOrderStatistic) {
  // Sorted: -0.2 -0.1 0.1 0.2 0.4 0.5 0.7 0.9 1.3 (n = 9).
  const std::vector<double> s = {0.5, -0.2, 1.3, 0.1, 0.9, 0.4, -0.1, 0.7, 0.2};
  // 0.66 · 10 = 6.6 → 7th smallest. (Syne Tune's np.quantile(s, 0.66 / (1 + 1/9)) would give 0.4752.)
  EXPECT_DOUBLE_EQ(conformal_margin(s, 0.66), 0.7);
  // 0.34 · 10 = 3.4 → 4th smallest.
  EXPECT_DOUBLE_EQ(conformal_margin(s, 0.34), 0.2);
  // 0.5 · 10 = 5 exactly → 5th smallest (no round-up from floating-point noise).
  EXPECT_DOUBLE_EQ(conformal_margin(s, 0.5), 0.4);
  // 0.95 · 10 = 9.5 → 10 > n: the exact quantile is +inf; the largest score is used.
  EXPECT_DOUBLE_EQ(conformal_margin(s, 0.95), 1.3);
  EXPECT_DOUBLE_EQ(conformal_margin({}, 0.9), 0.0);
  EXPECT_DOUBLE_EQ(conformal_margin({-3.0}, 0.1), -3.0);
}

TEST(CqrModel, MarginsAreRecomputedFromTheHeldOutRows) {
  std::mt19937_64 rng(3);
  Matrix X;
  std::vector<double> y;
  heteroscedastic(95, 2, rng, X, y);
  CqrParams p;
  CqrModel m(p);
  m.fit(X, {}, y, 42);
  ASSERT_EQ(m.calibration_rows(), 10u);  // ⌈0.1 · 95⌉
  ASSERT_EQ(m.calibration_indices().size(), 10u);
  Matrix Xc(10, 2);
  std::vector<double> yc(10);
  for (size_t r = 0; r < 10; ++r) {
    size_t i = m.calibration_indices()[r];
    Xc(r, 0) = X(i, 0);
    Xc(r, 1) = X(i, 1);
    yc[r] = y[i];
  }
  Matrix q = m.predict_uncalibrated(Xc);
  for (auto [lo, hi, k] : {std::tuple<size_t, size_t, size_t>{0, 4, 8}, {1, 3, 4}}) {
    // Pair (0.17, 0.83): ⌈0.66 · 11⌉ = 8th smallest score; pair (0.33, 0.67): ⌈0.34 · 11⌉ = 4th.
    std::vector<double> scores;
    for (size_t r = 0; r < 10; ++r) scores.push_back(std::max(q(r, lo) - yc[r], yc[r] - q(r, hi)));
    std::sort(scores.begin(), scores.end());
    EXPECT_DOUBLE_EQ(m.margins()[hi], scores[k - 1]) << "pair " << lo << "," << hi;
    EXPECT_DOUBLE_EQ(m.margins()[lo], -scores[k - 1]) << "pair " << lo << "," << hi;
  }
  EXPECT_EQ(m.margins()[2], 0.0) << "the median is never moved";
  // The held-out rows are not among the training rows: with n ≤ 32 nothing is held out.
  CqrModel small(p);
  Matrix Xs(32, 2);
  std::copy(X.data.begin(), X.data.begin() + 64, Xs.data.begin());
  small.fit(Xs, {}, std::vector<double>(y.begin(), y.begin() + 32), 1);
  EXPECT_EQ(small.calibration_rows(), 0u);
  for (double v : small.margins()) EXPECT_EQ(v, 0.0);
}

TEST(CqrModel, UnpairedLevelsGetOneSidedMargins) {
  std::mt19937_64 rng(4);
  Matrix X;
  std::vector<double> y;
  heteroscedastic(200, 2, rng, X, y);
  CqrParams p;
  p.levels = {0.5, 0.9};
  CqrModel m(p);
  m.fit(X, {}, y, 5);
  ASSERT_EQ(m.calibration_rows(), 20u);
  std::vector<double> scores;
  Matrix Xc(20, 2);
  for (size_t r = 0; r < 20; ++r) {
    size_t i = m.calibration_indices()[r];
    Xc(r, 0) = X(i, 0);
    Xc(r, 1) = X(i, 1);
  }
  Matrix q = m.predict_uncalibrated(Xc);
  for (size_t r = 0; r < 20; ++r) scores.push_back(y[m.calibration_indices()[r]] - q(r, 1));
  std::sort(scores.begin(), scores.end());
  EXPECT_DOUBLE_EQ(m.margins()[1], scores[18]);  // ⌈0.9 · 21⌉ = 19th smallest
  EXPECT_EQ(m.margins()[0], 0.0);
}

TEST(QuantileGbrt, PinballLossDecreasesWithBoostingRounds) {
  std::mt19937_64 rng(5);
  Matrix X, Xt;
  std::vector<double> y, yt;
  heteroscedastic(400, 3, rng, X, y);
  heteroscedastic(2000, 3, rng, Xt, yt);
  Dataset data(X, {}, y);
  for (double tau : {0.17, 0.5, 0.83}) {
    QuantileGbrt m;
    std::mt19937_64 r(1);
    m.fit(data, tau, GbrtParams{}, r);
    const auto& loss = m.round_losses();
    ASSERT_EQ(loss.size(), 101u);
    // Each leaf moves part of the way to its pinball minimizer, so the training loss never increases.
    for (size_t k = 1; k < loss.size(); ++k) EXPECT_LE(loss[k], loss[k - 1] + 1e-12) << "tau " << tau << " round " << k;
    EXPECT_LT(loss.back(), 0.7 * loss.front()) << "tau " << tau;
    // On held-out data too (from the constant τ-quantile to the full model, and 10 → 100 rounds).
    std::vector<double> p0(yt.size()), p10(yt.size()), p100(yt.size());
    for (size_t i = 0; i < yt.size(); ++i) {
      p0[i] = m.predict(Xt.row(i), 0);
      p10[i] = m.predict(Xt.row(i), 10);
      p100[i] = m.predict(Xt.row(i));
    }
    EXPECT_LT(pinball_loss(yt, p10, tau), pinball_loss(yt, p0, tau)) << "tau " << tau;
    EXPECT_LT(pinball_loss(yt, p100, tau), 0.8 * pinball_loss(yt, p0, tau)) << "tau " << tau;
  }
}

TEST(QuantileGbrt, InitialValueAndSingleStumpAreExactQuantiles) {
  // 10 rows: x < 0.5 has y = 1..5, x > 0.5 has y = 11..15 (x = 0.05, 0.15, ..., 0.95).
  Matrix X(10, 1);
  std::vector<double> y(10);
  for (size_t i = 0; i < 10; ++i) {
    X(i, 0) = (static_cast<double>(i) + 0.5) / 10;
    y[i] = i < 5 ? static_cast<double>(i + 1) : static_cast<double>(i + 6);
  }
  Dataset data(X, {}, y);
  GbrtParams p;
  p.n_estimators = 1;
  p.max_depth = 1;
  p.learning_rate = 1.0;
  p.min_samples_leaf = 1;
  QuantileGbrt m;
  std::mt19937_64 r(1);
  m.fit(data, 0.5, p, r);
  // Initial value: the ⌈0.5 · 10⌉ = 5th smallest y = 5. The negative gradients are −0.5 for y <= 5 (x < 0.5)
  // and +0.5 above, so the stump splits at x = 0.5; each leaf holds the median (⌈0.5 · 5⌉ = 3rd smallest) of
  // its residuals y − 5: −2 and 8, so the predictions are 3 and 13, the group medians.
  double lo[1] = {0.2}, hi[1] = {0.8};
  EXPECT_DOUBLE_EQ(m.predict(lo, 0), 5.0);
  EXPECT_DOUBLE_EQ(m.predict(lo), 3.0);
  EXPECT_DOUBLE_EQ(m.predict(hi), 13.0);
  // τ = 0.2: F0 = 2nd smallest = 2; gradients −0.8 for y <= 2 (rows 0, 1), +0.2 above: the best
  // least-squares split isolates those two rows (x < 0.2); their 0.2-quantile residual is −1 (→ 1), the other
  // eight rows' is the 2nd smallest of 1, 2, 3, 9, …, 13 = 2 (→ 4).
  QuantileGbrt m2;
  m2.fit(data, 0.2, p, r);
  double x1[1] = {0.1}, x2[1] = {0.3};
  EXPECT_DOUBLE_EQ(m2.predict(x1, 0), 2.0);
  EXPECT_DOUBLE_EQ(m2.predict(x1), 1.0);
  EXPECT_DOUBLE_EQ(m2.predict(x2), 4.0);
  EXPECT_DOUBLE_EQ(m2.predict(hi), 4.0);
}

TEST(QuantileGbrt, CategoricalSplitsGroupChoicesRegardlessOfEncodedOrder) {
  // Four choices; choices 0 and 2 have y = 0, choices 1 and 3 have y = 10: no threshold on the encoded
  // value separates them, one split by sets of choices does.
  const size_t n = 40;
  Matrix X(n, 1);
  std::vector<double> y(n);
  for (size_t i = 0; i < n; ++i) {
    size_t c = i % 4;
    X(i, 0) = (static_cast<double>(c) + 0.5) / 4;
    y[i] = (c % 2 == 0) ? 0.0 : 10.0;
  }
  GbrtParams p;
  p.n_estimators = 1;
  p.max_depth = 1;
  p.learning_rate = 1.0;
  p.min_samples_leaf = 1;
  std::mt19937_64 r(1);
  QuantileGbrt cat, cont;
  cat.fit(Dataset(X, {{DimensionKind::kCategorical, 4}}, y), 0.5, p, r);
  cont.fit(Dataset(X, {}, y), 0.5, p, r);
  double max_err_cat = 0, max_err_cont = 0;
  for (size_t c = 0; c < 4; ++c) {
    double x[1] = {(static_cast<double>(c) + 0.5) / 4};
    double want = (c % 2 == 0) ? 0.0 : 10.0;
    max_err_cat = std::max(max_err_cat, std::fabs(cat.predict(x) - want));
    max_err_cont = std::max(max_err_cont, std::fabs(cont.predict(x) - want));
  }
  EXPECT_EQ(max_err_cat, 0.0);
  EXPECT_GE(max_err_cont, 10.0) << "a threshold split cannot separate {0, 2} from {1, 3}";
}

TEST(CqrCoverage, CalibratedIntervalsHoldNominalCoverageOnHeldOutData) {
  // n = 1,000 → 100 calibration rows. Split-conformal coverage lies in [1 − α, 1 − α + 1/(n_cal + 1)] in
  // expectation; per seed its sd is about sqrt(0.66 · 0.34 / 100) ≈ 0.047, so over 6 seeds ≈ 0.02.
  // Tolerance: ±0.06 (3 sd).
  Coverage c = mean_coverage(CqrParams{}, 1000, 6);
  RecordProperty("calibrated66", std::to_string(c.calibrated66));
  RecordProperty("calibrated34", std::to_string(c.calibrated34));
  RecordProperty("uncalibrated66", std::to_string(c.uncalibrated66));
  EXPECT_NEAR(c.calibrated66, 0.66, 0.06);
  EXPECT_NEAR(c.calibrated34, 0.34, 0.06);
}

TEST(CqrCoverage, CalibrationRepairsAnOverfittedModel) {
  // Deep trees, leaves of one row and 300 rounds drive every quantile toward the training y: the raw
  // intervals are far too narrow (about 0.49 instead of 0.66 here); calibration restores the coverage.
  CqrParams p;
  p.gbrt.min_samples_leaf = 1;
  p.gbrt.max_depth = 5;
  p.gbrt.n_estimators = 300;
  Coverage c = mean_coverage(p, 500, 4);
  RecordProperty("calibrated66", std::to_string(c.calibrated66));
  RecordProperty("uncalibrated66", std::to_string(c.uncalibrated66));
  EXPECT_LT(c.uncalibrated66, 0.58);
  EXPECT_NEAR(c.calibrated66, 0.66, 0.06);
  EXPECT_GT(c.calibrated66 - c.uncalibrated66, 0.08);
}

CqrSurrogate make_surrogate(CqrParams p = {}) { return CqrSurrogate(std::move(p), true); }

TEST(CqrSurrogate, QuantilesAreMonotoneAndMatchTheFittedLevels) {
  std::mt19937_64 rng(6);
  FitInput in;
  heteroscedastic(300, 3, rng, in.X, in.y);
  in.seed = 7;
  CqrParams p;
  p.gbrt.min_samples_leaf = 1;  // rough quantile models, which cross before sorting
  p.gbrt.max_depth = 4;
  CqrSurrogate s = make_surrogate(p);
  s.fit(in);
  Matrix Xq;
  std::vector<double> unused;
  heteroscedastic(500, 3, rng, Xq, unused);
  std::vector<double> levels;
  for (int k = 1; k < 100; ++k) levels.push_back(k / 100.0);
  Matrix q = s.quantiles(Xq, levels);
  for (size_t i = 0; i < q.rows; ++i)
    for (size_t j = 1; j < q.cols; ++j) ASSERT_LE(q(i, j - 1), q(i, j)) << "row " << i << " level " << levels[j];
  // At the fitted levels the interpolation returns the calibrated model values (up to Φ⁻¹ round-off).
  Matrix fitted = s.quantiles(Xq, s.model().levels());
  Matrix direct = s.model().predict_levels(Xq);
  for (size_t k = 0; k < fitted.data.size(); ++k) EXPECT_NEAR(fitted.data[k], direct.data[k], 1e-9);
  // predict(): the median and the normal spread of the outer pair.
  Prediction pr = s.predict(Xq);
  const double z = normal_quantile(0.83) - normal_quantile(0.17);
  for (size_t i = 0; i < Xq.rows; ++i) {
    EXPECT_NEAR(pr.mean[i], direct(i, 2), 1e-9);
    double sd = (direct(i, 4) - direct(i, 0)) / z;
    EXPECT_NEAR(pr.variance[i], sd * sd, 1e-9 * (1 + sd * sd));
  }
  EXPECT_THROW(s.quantiles(Xq, {0.0}), ValueError);
  EXPECT_THROW(s.quantiles(Xq, {1.0}), ValueError);
}

TEST(CqrSurrogate, SameSeedSameModelOtherSeedOtherSplit) {
  std::mt19937_64 rng(8);
  FitInput in;
  heteroscedastic(200, 4, rng, in.X, in.y);
  in.seed = 11;
  CqrParams p;
  p.gbrt.subsample = 0.7;
  CqrSurrogate a = make_surrogate(p), b = make_surrogate(p), c = make_surrogate(p);
  a.fit(in);
  b.fit(in);
  FitInput other = in;
  other.seed = 12;
  c.fit(other);
  Matrix Xq;
  std::vector<double> unused;
  heteroscedastic(100, 4, rng, Xq, unused);
  const std::vector<double> levels = {0.1, 0.5, 0.9};
  EXPECT_EQ(a.quantiles(Xq, levels).data, b.quantiles(Xq, levels).data);
  EXPECT_EQ(a.state().dump(), b.state().dump());
  EXPECT_NE(a.quantiles(Xq, levels).data, c.quantiles(Xq, levels).data);
  EXPECT_NE(a.model().calibration_indices(), c.model().calibration_indices());
}

void expect_finite_everywhere(const CqrSurrogate& s, size_t d, const std::string& what) {
  Matrix Xq(20, d);
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u;
  for (double& v : Xq.data) v = u(rng);
  Prediction p = s.predict(Xq);
  Matrix q = s.quantiles(Xq, {0.01, 0.17, 0.5, 0.83, 0.99});
  for (size_t i = 0; i < Xq.rows; ++i) {
    EXPECT_TRUE(std::isfinite(p.mean[i]) && std::isfinite(p.variance[i]) && p.variance[i] >= 0) << what;
    for (size_t j = 0; j < q.cols; ++j) EXPECT_TRUE(std::isfinite(q(i, j))) << what;
  }
}

TEST(CqrSurrogate, DegenerateInputGivesFiniteOutput) {
  CqrSurrogate s = make_surrogate();
  FitInput in;
  in.X = Matrix(0, 3);
  s.fit(in);
  expect_finite_everywhere(s, 3, "n=0");
  Prediction prior = s.predict(Matrix(2, 3, 0.5));
  EXPECT_EQ(prior.mean[0], 0.0);
  EXPECT_EQ(prior.variance[0], 1.0);
  EXPECT_TRUE(s.state().is_null());

  in.X = Matrix(1, 3, 0.4);
  in.y = {2.5};
  s.fit(in);
  expect_finite_everywhere(s, 3, "n=1");
  EXPECT_EQ(s.predict(Matrix(1, 3, 0.9)).mean[0], 2.5);

  // Constant y and duplicate rows, with enough rows to calibrate (n = 40 > 32).
  in.X = Matrix(40, 2, 0.3);
  in.y.assign(40, -1.0);
  s.fit(in);
  expect_finite_everywhere(s, 2, "constant y, all rows equal");
  EXPECT_EQ(s.predict(Matrix(1, 2, 0.7)).mean[0], -1.0);
  EXPECT_EQ(s.predict(Matrix(1, 2, 0.7)).variance[0], 0.0);

  // Only categoricals; d = 1; d = 60; 33 rows (4 calibration rows: the 0.66 margin is the largest score).
  std::mt19937_64 rng(10);
  std::uniform_real_distribution<double> u;
  for (auto [n, d, cat] : {std::tuple<size_t, size_t, bool>{30, 2, true}, {50, 1, false}, {60, 60, false}, {33, 3, false}}) {
    FitInput f;
    f.X = Matrix(n, d);
    for (double& v : f.X.data) v = u(rng);
    if (cat) f.dims.assign(d, Dimension{DimensionKind::kCategorical, 3});
    for (size_t i = 0; i < n; ++i) f.y.push_back(std::sin(5 * f.X(i, 0)) + u(rng));
    s.fit(f);
    expect_finite_everywhere(s, d, "n=" + std::to_string(n) + " d=" + std::to_string(d));
  }
}

TEST(CqrSurrogate, FidelityIsAFeaturePredictedAtTheLargestFidelity) {
  // y = x + 1 / fidelity: at the largest fidelity (9) the target is x + 1/9; a model without the fidelity
  // column predicts a mixture of all fidelities.
  const size_t n = 300;
  FitInput in;
  in.X = Matrix(n, 1);
  std::mt19937_64 rng(13);
  std::uniform_real_distribution<double> u;
  for (size_t i = 0; i < n; ++i) {
    in.X(i, 0) = u(rng);
    double f = std::vector<double>{1, 3, 9}[i % 3];
    in.fidelity.push_back(f);
    in.y.push_back(in.X(i, 0) + 1 / f);
  }
  CqrSurrogate with = make_surrogate();
  CqrSurrogate without(CqrParams{}, false);
  with.fit(in);
  without.fit(in);
  double err_with = 0, err_without = 0;
  for (int k = 0; k < 20; ++k) {
    Matrix x(1, 1, 0.05 + 0.045 * k);
    err_with += std::fabs(with.predict(x).mean[0] - (x(0, 0) + 1.0 / 9)) / 20;
    err_without += std::fabs(without.predict(x).mean[0] - (x(0, 0) + 1.0 / 9)) / 20;
  }
  EXPECT_LT(err_with, 0.08);
  EXPECT_GT(err_without, 0.15);
  FitInput bad = in;
  bad.fidelity[0] = -1;
  EXPECT_THROW(with.fit(bad), ValueError);
}

TEST(CqrPlugin, IgnoresFidelityUnlessAsked) {
  // The default follows ASHA-CQR (no fidelity input): the same model with or without FitInput::fidelity.
  std::mt19937_64 rng(15);
  FitInput in;
  heteroscedastic(80, 2, rng, in.X, in.y);
  FitInput with = in;
  for (size_t i = 0; i < 80; ++i) with.fidelity.push_back(static_cast<double>(1 + i % 4));
  auto a = PluginRegistry::global().make_surrogate("cqr");
  auto b = PluginRegistry::global().make_surrogate("cqr");
  auto c = PluginRegistry::global().make_surrogate("cqr", {{"use_fidelity", true}});
  a->fit(in);
  b->fit(with);
  c->fit(with);
  Matrix Xq(30, 2);
  std::uniform_real_distribution<double> u;
  for (double& v : Xq.data) v = u(rng);
  EXPECT_EQ(a->predict(Xq).mean, b->predict(Xq).mean);
  EXPECT_NE(a->predict(Xq).mean, c->predict(Xq).mean);
}

TEST(CqrPlugin, RejectsBadParameters) {
  auto& reg = PluginRegistry::global();
  EXPECT_NO_THROW(reg.make_surrogate("cqr", {{"levels", json::array({0.5})}}));
  EXPECT_THROW(reg.make_surrogate("cqr", {{"levels", json::array({0.5, 1.5})}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("cqr", {{"levels", json::array({0.3, 0.3})}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("cqr", {{"levels", json::array()}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("cqr", {{"learning_rate", 0.0}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("cqr", {{"subsample", 1.5}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("cqr", {{"min_samples_leaf", 0}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("cqr", {{"calibration_fraction", 1.0}}), ConfigError);
}

TEST(CqrPlugin, QuantilesThroughTheRegistryAreCalibrated) {
  auto s = PluginRegistry::global().make_surrogate("cqr");
  std::mt19937_64 rng(14);
  FitInput in;
  heteroscedastic(600, 3, rng, in.X, in.y);
  in.seed = 3;
  s->fit(in);
  Matrix Xt;
  std::vector<double> yt;
  heteroscedastic(3000, 3, rng, Xt, yt);
  Matrix q = s->quantiles(Xt, {0.17, 0.83});
  // 60 calibration rows: per-fit coverage sd ≈ 0.06; a single fit, so ±0.15 (2.5 sd).
  EXPECT_NEAR(coverage(q, 0, 1, yt), 0.66, 0.15);
  EXPECT_TRUE(s->state().contains("margins"));
  EXPECT_EQ(s->state()["calibration_rows"], 60);
}

}  // namespace
}  // namespace bbo::cqr

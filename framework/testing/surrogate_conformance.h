// surrogate_conformance.h — the contract every Surrogate plugin passes (header-only, GoogleTest).
//
// Usage, in exactly one test source of an executable linked with bbo::framework and GoogleTest:
//
//   #include "surrogate_conformance.h"   // installed as <bbo/testing/surrogate_conformance.h>
//   INSTANTIATE_TEST_SUITE_P(Mine, SurrogateConformance,
//       ::testing::Values(bbo::testing::SurrogateCase{"mine", {{"k", 3}}}),
//       bbo::testing::SurrogateCaseName);
//
// Every test makes fresh models through PluginRegistry::global().make_surrogate(name, params) (set
// BBO_PLUGIN_PATH for an out-of-tree plugin). What is checked (bbo/surrogate.h states the contract):
//  - fit/predict sizes; finite means, finite non-negative variances, on continuous, grid and categorical
//    coordinates;
//  - degenerate data: n = 0, n = 1, duplicate rows, constant y, only categorical coordinates, d = 1, d = 60 —
//    no exception, finite predictions;
//  - ValueError for mismatched sizes (X rows vs y, dims vs X columns, fidelity, predict columns);
//  - determinism: two fresh models fitted to the same input with the same seed predict identically; predict
//    from two threads at once gives the same values as from one;
//  - interpolation sanity: on a smooth noiseless 1-d function, the prediction at most training points is
//    closer to the observed y than the mean of y (the prior mean of a standardizing model);
//  - quantiles are finite and non-decreasing in the level;
//  - sample() has the k × m shape, finite values, and its empirical mean agrees with predict();
//  - predict_with_gradient() agrees with predict() and with central finite differences of it (only when
//    has_gradient());
//  - condition_on() (only when it returns non-null): the new model's mean at the new point moves toward the
//    given y, and the original model is unchanged;
//  - state(): survives a JSON text round trip, and a fresh model fitted to the same input with it as
//    warm_start predicts the same (within SurrogateCase::state_tolerance of the y scale).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "bbo/surrogate.h"

namespace bbo::testing {

struct SurrogateCase {
  std::string name;              // plugin name or alias
  json params = json::object();  // surrogate parameters
  // A model refitted with warm_start = state() of an earlier fit of the same data may land on a slightly
  // different optimum of its hyper-parameters: predictions must agree within this fraction of sd(y).
  double state_tolerance = 1e-3;
  // Fraction of training points (with y away from the mean) whose prediction must be closer to y than the
  // mean of y is, on a smooth noiseless 1-d function.
  double interpolation_fraction = 0.8;
};

// How gtest prints a case in failure messages.
inline void PrintTo(const SurrogateCase& c, std::ostream* os) { *os << c.name << " " << c.params.dump(); }

// gtest parameter name: the plugin name with the case index.
inline std::string SurrogateCaseName(const ::testing::TestParamInfo<SurrogateCase>& info) {
  std::string s = info.param.name + "_" + std::to_string(info.index);
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

namespace surrogate_conformance {

// A smooth test function on the unit cube (values of order 1).
inline double smooth(const double* x, size_t d) {
  double v = 0.0;
  for (size_t j = 0; j < d; ++j) v += std::sin(3.0 * x[j] + 0.5 * static_cast<double>(j)) + (x[j] - 0.3) * (x[j] - 0.3);
  return v;
}

// n uniform points in [0,1]^d (grid and categorical coordinates snapped to their bin centres) with y = smooth.
inline FitInput random_input(size_t n, size_t d, uint64_t seed, std::vector<Dimension> dims = {}) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  FitInput in;
  in.dims = dims;
  in.X = Matrix(n, d);
  in.y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) {
      double x = u(rng);
      if (!dims.empty() && dims[j].kind != DimensionKind::kContinuous && dims[j].levels > 0) {
        double l = static_cast<double>(dims[j].levels);
        x = (std::min(std::floor(x * l), l - 1.0) + 0.5) / l;
      }
      in.X(i, j) = x;
    }
    in.y[i] = smooth(in.X.row(i), d);
  }
  in.seed = seed;
  return in;
}

inline Matrix random_points(size_t m, size_t d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Matrix X(m, d);
  for (double& v : X.data) v = u(rng);
  return X;
}

inline void expect_finite(const Prediction& p, size_t m, const std::string& what) {
  ASSERT_EQ(p.mean.size(), m) << what;
  ASSERT_EQ(p.variance.size(), m) << what;
  for (size_t i = 0; i < m; ++i) {
    EXPECT_TRUE(std::isfinite(p.mean[i])) << what << ": mean[" << i << "] = " << p.mean[i];
    EXPECT_TRUE(std::isfinite(p.variance[i])) << what << ": variance[" << i << "] = " << p.variance[i];
    EXPECT_GE(p.variance[i], 0.0) << what << ": variance[" << i << "]";
  }
}

inline double sd_of(const std::vector<double>& y) {
  if (y.empty()) return 1.0;
  double m = 0.0;
  for (double v : y) m += v;
  m /= static_cast<double>(y.size());
  double s = 0.0;
  for (double v : y) s += (v - m) * (v - m);
  s = std::sqrt(s / static_cast<double>(y.size()));
  return s > 0.0 ? s : 1.0;
}

}  // namespace surrogate_conformance

class SurrogateConformance : public ::testing::TestWithParam<SurrogateCase> {
 protected:
  std::shared_ptr<Surrogate> make() const {
    return PluginRegistry::global().make_surrogate(GetParam().name, GetParam().params);
  }
  // Fits a fresh model and checks that predictions at random points are finite.
  std::shared_ptr<Surrogate> fit_and_check(const FitInput& in, const std::string& what) const {
    auto s = make();
    EXPECT_NO_THROW(s->fit(in)) << what;
    const size_t d = in.X.cols;
    Matrix Xq = surrogate_conformance::random_points(9, d, 99);
    if (!in.dims.empty())
      for (size_t i = 0; i < Xq.rows; ++i)
        for (size_t j = 0; j < d; ++j)
          if (in.dims[j].kind != DimensionKind::kContinuous && in.dims[j].levels > 0) {
            double l = static_cast<double>(in.dims[j].levels);
            Xq(i, j) = (std::min(std::floor(Xq(i, j) * l), l - 1.0) + 0.5) / l;
          }
    Prediction p;
    EXPECT_NO_THROW(p = s->predict(Xq)) << what;
    surrogate_conformance::expect_finite(p, Xq.rows, what);
    // At the training points too (duplicates, constant y).
    if (in.X.rows > 0) {
      EXPECT_NO_THROW(p = s->predict(in.X)) << what;
      surrogate_conformance::expect_finite(p, in.X.rows, what + " (at the training points)");
    }
    return s;
  }
};

TEST_P(SurrogateConformance, FitAndPredictGiveSizedFiniteNonNegativeOutput) {
  FitInput in = surrogate_conformance::random_input(30, 3, 1);
  auto s = fit_and_check(in, "n=30 d=3");
  Prediction p = s->predict(Matrix(0, 3));
  EXPECT_TRUE(p.mean.empty());
  EXPECT_TRUE(p.variance.empty());
  EXPECT_GE(s->noise_variance(), 0.0);
  EXPECT_TRUE(std::isfinite(s->noise_variance()));
}

TEST_P(SurrogateConformance, MixedDimensionKindsGiveFiniteOutput) {
  std::vector<Dimension> dims = {{DimensionKind::kContinuous, 0},
                                 {DimensionKind::kGrid, 5},
                                 {DimensionKind::kCategorical, 3},
                                 {DimensionKind::kCategorical, 2}};
  fit_and_check(surrogate_conformance::random_input(25, 4, 2, dims), "mixed kinds");
}

TEST_P(SurrogateConformance, OnlyCategoricalDimensions) {
  std::vector<Dimension> dims = {{DimensionKind::kCategorical, 4}, {DimensionKind::kCategorical, 3}};
  fit_and_check(surrogate_conformance::random_input(20, 2, 3, dims), "only categoricals");
}

TEST_P(SurrogateConformance, NoObservationsGivesFinitePrior) {
  FitInput in;
  in.X = Matrix(0, 2);
  auto s = fit_and_check(in, "n=0");
  Prediction p = s->predict(surrogate_conformance::random_points(4, 2, 5));
  for (double v : p.variance) EXPECT_GT(v, 0.0) << "the prior has no variance";
}

TEST_P(SurrogateConformance, OneObservation) {
  fit_and_check(surrogate_conformance::random_input(1, 2, 6), "n=1");
}

TEST_P(SurrogateConformance, DuplicateRowsAndConstantY) {
  FitInput in = surrogate_conformance::random_input(12, 2, 7);
  for (size_t i = 6; i < 12; ++i) {  // the second half repeats the first, with other y values
    in.X(i, 0) = in.X(i - 6, 0);
    in.X(i, 1) = in.X(i - 6, 1);
    in.y[i] = in.y[i - 6] + 0.1;
  }
  fit_and_check(in, "duplicate rows, different y");
  for (size_t i = 6; i < 12; ++i) in.y[i] = in.y[i - 6];
  fit_and_check(in, "duplicate rows, same y");
  std::fill(in.y.begin(), in.y.end(), 3.25);
  auto s = fit_and_check(in, "constant y");
  Prediction p = s->predict(in.X);
  for (double m : p.mean) EXPECT_NEAR(m, 3.25, 1e-6) << "constant y = 3.25";
  FitInput all_same = surrogate_conformance::random_input(10, 2, 8);
  for (size_t i = 0; i < all_same.X.rows; ++i) {
    all_same.X(i, 0) = 0.5;
    all_same.X(i, 1) = 0.5;
  }
  fit_and_check(all_same, "all rows the same point");
}

TEST_P(SurrogateConformance, OneAndSixtyDimensions) {
  fit_and_check(surrogate_conformance::random_input(15, 1, 9), "d=1");
  fit_and_check(surrogate_conformance::random_input(40, 60, 10), "d=60");
}

TEST_P(SurrogateConformance, MismatchedSizesAreValueErrors) {
  FitInput in = surrogate_conformance::random_input(10, 3, 11);
  {
    FitInput bad = in;
    bad.y.pop_back();
    EXPECT_THROW(make()->fit(bad), ValueError) << "X has 10 rows, y 9 values";
  }
  {
    FitInput bad = in;
    bad.dims = {Dimension{}, Dimension{}};
    EXPECT_THROW(make()->fit(bad), ValueError) << "X has 3 columns, dims 2";
  }
  {
    FitInput bad = in;
    bad.fidelity = {1.0, 2.0};
    EXPECT_THROW(make()->fit(bad), ValueError) << "10 rows, 2 fidelities";
  }
  {
    FitInput bad = in;
    bad.X.data.pop_back();
    EXPECT_THROW(make()->fit(bad), ValueError) << "X data shorter than rows × cols";
  }
  auto s = make();
  s->fit(in);
  EXPECT_THROW(s->predict(Matrix(2, 4)), ValueError) << "fitted with d=3, predicted with 4 columns";
}

TEST_P(SurrogateConformance, SameSeedGivesIdenticalPredictions) {
  FitInput in = surrogate_conformance::random_input(25, 3, 12);
  in.y[3] += 0.05;  // a little roughness so that a noise level is worth learning
  auto a = make();
  auto b = make();
  a->fit(in);
  b->fit(in);
  Matrix Xq = surrogate_conformance::random_points(20, 3, 13);
  Prediction pa = a->predict(Xq), pb = b->predict(Xq);
  for (size_t i = 0; i < Xq.rows; ++i) {
    EXPECT_EQ(pa.mean[i], pb.mean[i]) << "row " << i;
    EXPECT_EQ(pa.variance[i], pb.variance[i]) << "row " << i;
  }
  EXPECT_EQ(a->state().dump(), b->state().dump());
}

TEST_P(SurrogateConformance, ConcurrentPredictMatchesSerialPredict) {
  FitInput in = surrogate_conformance::random_input(30, 2, 14);
  auto s = make();
  s->fit(in);
  Matrix Xq = surrogate_conformance::random_points(50, 2, 15);
  Prediction serial = s->predict(Xq);
  std::vector<Prediction> par(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < par.size(); ++t) threads.emplace_back([&, t] { par[t] = s->predict(Xq); });
  for (auto& t : threads) t.join();
  for (const Prediction& p : par) {
    EXPECT_EQ(p.mean, serial.mean);
    EXPECT_EQ(p.variance, serial.variance);
  }
}

TEST_P(SurrogateConformance, PredictionsAtTrainingPointsMoveTowardTheirValues) {
  const size_t n = 30;
  FitInput in;
  in.X = Matrix(n, 1);
  in.y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    in.X(i, 0) = (static_cast<double>(i) + 0.5) / static_cast<double>(n);
    in.y[i] = std::sin(6.0 * in.X(i, 0));
  }
  in.seed = 16;
  auto s = make();
  s->fit(in);
  Prediction p = s->predict(in.X);
  double ybar = 0.0;
  for (double v : in.y) ybar += v;
  ybar /= static_cast<double>(n);
  const double sd = surrogate_conformance::sd_of(in.y);
  size_t considered = 0, closer = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::fabs(in.y[i] - ybar) < 0.3 * sd) continue;
    ++considered;
    if (std::fabs(p.mean[i] - in.y[i]) < std::fabs(ybar - in.y[i])) ++closer;
  }
  ASSERT_GT(considered, 0u);
  EXPECT_GE(static_cast<double>(closer), GetParam().interpolation_fraction * static_cast<double>(considered))
      << closer << " of " << considered << " training predictions are closer to y than the mean of y";
}

TEST_P(SurrogateConformance, QuantilesAreFiniteAndMonotoneInLevel) {
  FitInput in = surrogate_conformance::random_input(30, 2, 17);
  auto s = make();
  s->fit(in);
  const std::vector<double> levels = {0.05, 0.25, 0.5, 0.75, 0.95};
  Matrix Xq = surrogate_conformance::random_points(15, 2, 18);
  Matrix q = s->quantiles(Xq, levels);
  ASSERT_EQ(q.rows, Xq.rows);
  ASSERT_EQ(q.cols, levels.size());
  for (size_t i = 0; i < q.rows; ++i)
    for (size_t j = 0; j < q.cols; ++j) {
      EXPECT_TRUE(std::isfinite(q(i, j))) << "row " << i << " level " << levels[j];
      if (j > 0) {
        EXPECT_LE(q(i, j - 1), q(i, j)) << "row " << i << " levels " << levels[j - 1] << ", " << levels[j];
      }
    }
}

TEST_P(SurrogateConformance, SamplesHaveTheShapeAndMeanOfThePosterior) {
  FitInput in = surrogate_conformance::random_input(20, 2, 19);
  auto s = make();
  s->fit(in);
  Matrix Xq = surrogate_conformance::random_points(5, 2, 20);
  Prediction p = s->predict(Xq);
  std::mt19937_64 rng(21);
  const size_t k = 4000;
  Matrix draws = s->sample(Xq, k, rng);
  ASSERT_EQ(draws.rows, k);
  ASSERT_EQ(draws.cols, Xq.rows);
  for (double v : draws.data) ASSERT_TRUE(std::isfinite(v));
  for (size_t i = 0; i < Xq.rows; ++i) {
    double m = 0.0;
    for (size_t r = 0; r < k; ++r) m += draws(r, i);
    m /= static_cast<double>(k);
    // 6 standard errors of the sample mean (plus a floor for a near-zero variance).
    double tol = 6.0 * std::sqrt(p.variance[i] / static_cast<double>(k)) + 1e-9 * (1.0 + std::fabs(p.mean[i]));
    EXPECT_NEAR(m, p.mean[i], tol) << "column " << i;
  }
  std::mt19937_64 r1(5), r2(5);
  EXPECT_EQ(s->sample(Xq, 3, r1).data, s->sample(Xq, 3, r2).data) << "same rng state, different draws";
}

TEST_P(SurrogateConformance, GradientsMatchFiniteDifferences) {
  FitInput in = surrogate_conformance::random_input(25, 3, 22);
  auto s = make();
  s->fit(in);
  if (!s->has_gradient()) GTEST_SKIP() << GetParam().name << " has no gradients";
  Matrix Xq = surrogate_conformance::random_points(5, 3, 23);
  for (size_t i = 0; i < Xq.rows; ++i)
    for (size_t j = 0; j < 3; ++j) Xq(i, j) = 0.1 + 0.8 * Xq(i, j);  // keep x ± h inside the cube
  const double h = 1e-5;
  Prediction at = s->predict(Xq);
  for (size_t i = 0; i < Xq.rows; ++i) {
    PointPrediction g = s->predict_with_gradient(Xq.row(i));
    ASSERT_EQ(g.dmean.size(), 3u);
    ASSERT_EQ(g.dvariance.size(), 3u);
    EXPECT_NEAR(g.mean, at.mean[i], 1e-9 * (1.0 + std::fabs(at.mean[i])));
    EXPECT_NEAR(g.variance, at.variance[i], 1e-9 * (1.0 + at.variance[i]));
    for (size_t j = 0; j < 3; ++j) {
      Matrix pm(2, 3);
      for (size_t c = 0; c < 3; ++c) pm(0, c) = pm(1, c) = Xq(i, c);
      pm(0, j) += h;
      pm(1, j) -= h;
      Prediction p = s->predict(pm);
      double fd_mean = (p.mean[0] - p.mean[1]) / (2 * h);
      double fd_var = (p.variance[0] - p.variance[1]) / (2 * h);
      EXPECT_NEAR(g.dmean[j], fd_mean, 1e-4 * (1.0 + std::fabs(fd_mean))) << "point " << i << " coord " << j;
      EXPECT_NEAR(g.dvariance[j], fd_var, 1e-4 * (1.0 + std::fabs(fd_var))) << "point " << i << " coord " << j;
    }
  }
}

TEST_P(SurrogateConformance, ConditionOnMovesTheMeanTowardTheFantasy) {
  FitInput in = surrogate_conformance::random_input(20, 2, 24);
  auto s = make();
  s->fit(in);
  Matrix x_new(1, 2);
  x_new(0, 0) = 0.37;
  x_new(0, 1) = 0.81;
  Prediction before = s->predict(x_new);
  const double y_new = before.mean[0] - 3.0 * std::sqrt(before.variance[0] + s->noise_variance()) - 0.5;
  auto c = s->condition_on(x_new, {y_new});
  if (!c) GTEST_SKIP() << GetParam().name << " does not support condition_on";
  Prediction after = c->predict(x_new);
  surrogate_conformance::expect_finite(after, 1, "conditioned model");
  EXPECT_LT(std::fabs(after.mean[0] - y_new), std::fabs(before.mean[0] - y_new));
  EXPECT_LE(after.variance[0], before.variance[0] + 1e-12);
  Prediction again = s->predict(x_new);
  EXPECT_EQ(again.mean[0], before.mean[0]) << "condition_on changed the original model";
  EXPECT_THROW(s->condition_on(x_new, {1.0, 2.0}), ValueError) << "1 row, 2 values";
}

TEST_P(SurrogateConformance, StateRoundTripsThroughWarmStart) {
  FitInput in = surrogate_conformance::random_input(30, 3, 25);
  auto a = make();
  a->fit(in);
  json st = a->state();
  json reread = json::parse(st.dump());
  EXPECT_EQ(reread, st) << "state() does not survive a JSON text round trip";
  FitInput warm = in;
  warm.warm_start = reread;
  auto b = make();
  ASSERT_NO_THROW(b->fit(warm));
  Matrix Xq = surrogate_conformance::random_points(20, 3, 26);
  Prediction pa = a->predict(Xq), pb = b->predict(Xq);
  const double tol = GetParam().state_tolerance * surrogate_conformance::sd_of(in.y);
  for (size_t i = 0; i < Xq.rows; ++i) {
    EXPECT_NEAR(pa.mean[i], pb.mean[i], tol) << "row " << i;
    EXPECT_NEAR(std::sqrt(pa.variance[i]), std::sqrt(pb.variance[i]), tol) << "row " << i;
  }
}

}  // namespace bbo::testing

using bbo::testing::SurrogateConformance;

// Tests of the `pfn` surrogate: the C++ forward pass against the trainer's float64 fixtures, the closed-form
// bar-distribution maths against numerical integration, the fallbacks beyond d = 8 / n = 60, determinism, and
// the plugin through the surrogate conformance suite.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "surrogate_conformance.h"
#include "surrogates/pfn/pfn_core.h"

INSTANTIATE_TEST_SUITE_P(Pfn, SurrogateConformance,
                         ::testing::Values(bbo::testing::SurrogateCase{"pfn", {}},
                                           bbo::testing::SurrogateCase{"prior_fitted_network", {{"gradient", true}}}),
                         bbo::testing::SurrogateCaseName);

namespace bbo::pfn {
namespace {

const std::string kWeightsDir = BBO_PFN_SOURCE_DIR "/weights";

TEST(PfnWeights, BuiltInWeightsAreTheCommittedFile) {
  auto file = PfnWeights::load(kWeightsDir + "/pfn_weights.bin");
  auto built = PfnWeights::builtin();
  ASSERT_EQ(file->buckets, built->buckets);
  EXPECT_EQ(file->borders, built->borders);
  EXPECT_TRUE(file->dec2_w.isApprox(built->dec2_w, 0.0)) << "rebuild: the embedded weights are stale";
  EXPECT_EQ(built->max_dims, 8u);
  EXPECT_EQ(built->max_context, 60u);
}

TEST(PfnWeights, CorruptFilesAreValueErrors) {
  std::vector<unsigned char> junk(100, 7);
  EXPECT_THROW(PfnWeights::parse(junk.data(), junk.size(), "junk"), ValueError);
  std::ifstream f(kWeightsDir + "/pfn_weights.bin", std::ios::binary);
  std::vector<unsigned char> buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_GT(buf.size(), 1000u);
  EXPECT_THROW(PfnWeights::parse(buf.data(), buf.size() - 4, "short"), ValueError);
  EXPECT_THROW(PfnWeights::load("/nonexistent/pfn.bin"), ValueError);
}

// The trainer's forward pass (torch, float64 copy of the float32 weights) on its fixture inputs.
TEST(PfnNetwork, ForwardPassMatchesTheTrainerFixtures) {
  std::ifstream f(kWeightsDir + "/pfn_fixture.json");
  ASSERT_TRUE(f) << "missing fixture";
  const nlohmann::json fx = nlohmann::json::parse(f);
  PfnNetwork net(PfnWeights::load(kWeightsDir + "/pfn_weights.bin"));
  ASSERT_EQ(fx["cases"].size(), 3u);
  for (const auto& c : fx["cases"]) {
    const size_t d = c["d"], n = c["n"];
    const auto& xs = c["x"];
    Matrix X(xs.size(), d);
    for (size_t i = 0; i < xs.size(); ++i)
      for (size_t j = 0; j < d; ++j) X(i, j) = xs[i][j];
    std::vector<size_t> cols(d);
    for (size_t j = 0; j < d; ++j) cols[j] = j;
    const RowMatrix feats = net.features(X, cols);
    net.set_context(feats.topRows(static_cast<Eigen::Index>(n)), c["ys"].get<std::vector<double>>());
    const RowMatrix lg = net.logits(feats.bottomRows(static_cast<Eigen::Index>(xs.size() - n)));
    const auto& ref = c["logits"];
    ASSERT_EQ(static_cast<size_t>(lg.rows()), ref.size());
    double worst = 0;
    for (size_t i = 0; i < ref.size(); ++i) {
      ASSERT_EQ(static_cast<size_t>(lg.cols()), ref[i].size());
      for (size_t k = 0; k < ref[i].size(); ++k)
        worst = std::max(worst, std::fabs(lg(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(k)) -
                                          ref[i][k].get<double>()));
    }
    EXPECT_LT(worst, 1e-4) << "case n=" << n << " d=" << d;
  }
}

// ---- bar distribution vs numerical integration ----------------------------------------------------------

struct BarCase {
  BarDistribution bar;
  std::vector<double> p;
};

BarCase random_bar(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.05, 1.0);
  std::vector<double> b{-3.0};
  for (int k = 0; k < 12; ++k) b.push_back(b.back() + u(rng));
  std::vector<double> p(12);
  double s = 0;
  for (double& v : p) s += (v = u(rng));
  for (double& v : p) v /= s;
  return {BarDistribution(b), p};
}

// ∫ g(y) pdf(y) dy by the midpoint rule, bucket by bucket (the density jumps at the borders), the tails out
// to 40 scales.
template <class G>
double integrate(const BarCase& c, G g) {
  const auto& b = c.bar.borders();
  std::vector<double> edges{b[1] - 40 * c.bar.left_scale()};
  for (size_t k = 1; k + 1 < b.size(); ++k) edges.push_back(b[k]);
  edges.push_back(b[b.size() - 2] + 40 * c.bar.right_scale());
  const int steps = 40000;
  double s = 0;
  for (size_t e = 0; e + 1 < edges.size(); ++e) {
    const double h = (edges[e + 1] - edges[e]) / steps;
    for (int i = 0; i < steps; ++i) {
      const double y = edges[e] + (i + 0.5) * h;
      s += g(y) * c.bar.pdf(c.p.data(), y) * h;
    }
  }
  return s;
}

TEST(BarDistribution, MomentsMatchNumericalIntegration) {
  for (uint64_t seed : {1, 2, 3}) {
    const BarCase c = random_bar(seed);
    EXPECT_NEAR(integrate(c, [](double) { return 1.0; }), 1.0, 1e-6);
    const double m = integrate(c, [](double y) { return y; });
    EXPECT_NEAR(c.bar.mean(c.p.data()), m, 1e-5);
    EXPECT_NEAR(c.bar.variance(c.p.data()), integrate(c, [&](double y) { return (y - m) * (y - m); }), 1e-4);
  }
}

TEST(BarDistribution, ExpectedImprovementAndPiMatchNumericalIntegration) {
  for (uint64_t seed : {4, 5}) {
    const BarCase c = random_bar(seed);
    const auto& b = c.bar.borders();
    // incumbents in the left tail, inside buckets, on a border, in the right tail
    for (double best : {b[1] - 2.5, b[1] - 0.1, b[1], 0.5 * (b[3] + b[4]), b[7], b[11] + 0.3, b[11] + 4.0}) {
      const double ei = integrate(c, [&](double y) { return std::max(best - y, 0.0); });
      const double pi = integrate(c, [&](double y) { return y < best ? 1.0 : 0.0; });
      EXPECT_NEAR(c.bar.expected_improvement(c.p.data(), best), ei, 1e-5) << "best " << best;
      EXPECT_NEAR(c.bar.probability_of_improvement(c.p.data(), best), pi, 1e-4) << "best " << best;
    }
  }
}

TEST(BarDistribution, QuantileInvertsTheCdf) {
  const BarCase c = random_bar(6);
  double prev = -1e300;
  for (double l : {1e-6, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 1 - 1e-6}) {
    const double q = c.bar.quantile(c.p.data(), l);
    EXPECT_NEAR(c.bar.cdf(c.p.data(), q), l, 1e-9) << "level " << l;
    EXPECT_GT(q, prev);
    prev = q;
  }
}

TEST(BarDistribution, InvalidBordersAreValueErrors) {
  EXPECT_THROW(BarDistribution({0.0, 1.0, 2.0}), ValueError);
  EXPECT_THROW(BarDistribution({0.0, 1.0, 1.0, 2.0}), ValueError);
}

// ---- the surrogate -----------------------------------------------------------------------------------------

FitInput make_data(size_t n, size_t d, uint64_t seed, const std::vector<size_t>& relevant) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  FitInput in;
  in.X = Matrix(n, d);
  in.y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) in.X(i, j) = u(rng);
    double v = 0;
    for (size_t j : relevant) v += 3.0 * in.X(i, j);
    in.y[i] = v;
  }
  in.seed = seed;
  return in;
}

TEST(PfnSurrogate, PredictionsFitTheDataAndEiMatchesItsBar) {
  PfnSurrogate s({});
  FitInput in = make_data(30, 2, 11, {0, 1});
  s.fit(in);
  const Prediction p = s.predict(in.X);
  double err = 0, spread = 0;
  for (size_t i = 0; i < in.X.rows; ++i) err += std::fabs(p.mean[i] - in.y[i]), spread += std::fabs(in.y[i] - 3.0);
  EXPECT_LT(err, 0.3 * spread) << "a linear function of 2 inputs from 30 points";
  // EI in y units equals the bar distribution's, rescaled; PI likewise; quantiles are the bar's.
  const double best = *std::min_element(in.y.begin(), in.y.end());
  const std::vector<double> ei = s.expected_improvement(in.X, best);
  const std::vector<double> pi = s.probability_of_improvement(in.X, best);
  const Matrix q = s.quantiles(in.X, {0.1, 0.5, 0.9});
  for (size_t i = 0; i < in.X.rows; ++i) {
    EXPECT_GE(ei[i], 0.0);
    EXPECT_GE(pi[i], 0.0);
    EXPECT_LE(pi[i], 1.0);
    EXPECT_LE(q(i, 0), q(i, 1));
    EXPECT_LE(q(i, 1), q(i, 2));
  }
}

TEST(PfnSurrogate, MoreThanEightDimensionsKeepsTheRelevantOnes) {
  PfnSurrogate s({});
  FitInput in = make_data(40, 12, 3, {2, 9});
  s.fit(in);
  const auto& cols = s.used_columns();
  ASSERT_EQ(cols.size(), 8u);
  EXPECT_TRUE(std::find(cols.begin(), cols.end(), 2u) != cols.end());
  EXPECT_TRUE(std::find(cols.begin(), cols.end(), 9u) != cols.end());
  EXPECT_NO_THROW(s.predict(in.X));
}

TEST(PfnSurrogate, MoreThanSixtyObservationsKeepTheBestThirtyAndSeededOthers) {
  FitInput in = make_data(150, 3, 5, {0});
  PfnSurrogate a({}), b({}), c({});
  a.fit(in);
  b.fit(in);
  ASSERT_EQ(a.context_rows().size(), 60u);
  EXPECT_EQ(a.context_rows(), b.context_rows());
  std::vector<size_t> order(in.y.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return in.y[x] < in.y[y]; });
  for (size_t i = 0; i < 30; ++i)
    EXPECT_TRUE(std::binary_search(a.context_rows().begin(), a.context_rows().end(), order[i])) << "rank " << i;
  in.seed = 99;
  c.fit(in);
  EXPECT_NE(a.context_rows(), c.context_rows()) << "the other 30 rows come from the seed";
}

TEST(PfnSurrogate, DeterministicAcrossInstances) {
  FitInput in = make_data(20, 4, 8, {0, 3});
  PfnSurrogate a({}), b({});
  a.fit(in);
  b.fit(in);
  const Prediction pa = a.predict(in.X), pb = b.predict(in.X);
  EXPECT_EQ(pa.mean, pb.mean);
  EXPECT_EQ(pa.variance, pb.variance);
}

TEST(PfnSurrogate, RobustMomentsAreTheMedianAndTheCentralQuantileRange) {
  FitInput in = make_data(12, 2, 4, {0});
  PfnOptions o;
  o.robust_moments = true;
  PfnSurrogate r(o), e({});
  r.fit(in);
  e.fit(in);
  const Prediction p = r.predict(in.X);
  const Matrix q = e.quantiles(in.X, {0.15865525393145707, 0.5, 0.8413447460685429});
  for (size_t i = 0; i < in.X.rows; ++i) {
    EXPECT_NEAR(p.mean[i], q(i, 1), 1e-9);
    EXPECT_NEAR(std::sqrt(p.variance[i]), 0.5 * (q(i, 2) - q(i, 0)), 1e-9);
  }
}

TEST(PfnSurrogate, DuplicateRowsAreMergedWithTheirMeanY) {
  FitInput in = make_data(10, 2, 9, {0, 1});
  FitInput dup = in;
  // rows 0 and 3 observed twice more, with values around their own
  for (size_t r : {0, 3, 0, 3}) {
    dup.X.data.insert(dup.X.data.end(), in.X.row(r), in.X.row(r) + 2);
    dup.X.rows++;
    dup.y.push_back(in.y[r] + (r == 0 ? 0.2 : -0.4));
  }
  dup.y[0] -= 0.4;  // row 0: y0 - 0.4, y0 + 0.2, y0 + 0.2 → mean y0; row 3: y3, y3 - 0.4, y3 - 0.4
  FitInput merged = in;
  merged.y[3] -= 0.8 / 3.0;
  PfnSurrogate a({}), b({});
  a.fit(dup);
  b.fit(merged);
  EXPECT_EQ(a.context_rows().size(), 10u);
  const Prediction pa = a.predict(in.X), pb = b.predict(in.X);
  for (size_t i = 0; i < in.X.rows; ++i) {
    EXPECT_NEAR(pa.mean[i], pb.mean[i], 1e-9);
    EXPECT_NEAR(pa.variance[i], pb.variance[i], 1e-9);
  }
}

TEST(PfnSurrogate, BatchedAndSingleQueriesAgree) {
  FitInput in = make_data(15, 3, 2, {1});
  PfnSurrogate s({});
  s.fit(in);
  const Prediction all = s.predict(in.X);
  for (size_t i = 0; i < 3; ++i) {
    Matrix one(1, 3);
    std::copy(in.X.row(i), in.X.row(i) + 3, one.row(0));
    const Prediction p = s.predict(one);
    EXPECT_NEAR(p.mean[0], all.mean[i], 1e-12);
    EXPECT_NEAR(p.variance[0], all.variance[i], 1e-12);
  }
}

}  // namespace
}  // namespace bbo::pfn

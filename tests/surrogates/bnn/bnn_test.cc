// Tests of the `bnn` surrogate: the model (bbo::bnn::BnnModel) on toy problems with known answers (a sine,
// heteroscedastic noise, Bayesian linear regression in closed form), gradients against finite differences,
// the ensemble Kalman conditioning against its Gaussian formulas, warm starts, and the plugin through the
// surrogate conformance suite (both variants).
#include <gtest/gtest.h>

#include <Eigen/Dense>

#include <chrono>
#include <cmath>
#include <numbers>
#include <random>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "surrogate_conformance.h"
#include "surrogates/bnn/bnn_core.h"

// The ensemble and the sghmc chain with shorter training (test time; the model tests below use the defaults),
// a small ReLU ensemble. The sghmc chain's samples interpolate a little less closely than the
// ensemble's (they are spread over the posterior), hence the lower interpolation fraction.
INSTANTIATE_TEST_SUITE_P(Bnn, SurrogateConformance,
                         ::testing::Values(bbo::testing::SurrogateCase{"bnn", {{"min_steps", 300}}},
                                           bbo::testing::SurrogateCase{"bnn",
                                                                       {{"variant", "sghmc"},
                                                                        {"pretrain_steps", 300},
                                                                        {"burn_in", 400},
                                                                        {"n_samples", 10},
                                                                        {"thinning", 30}},
                                                                       1e-3,
                                                                       0.7},
                                           bbo::testing::SurrogateCase{"bnn",
                                                                       {{"activation", "relu"},
                                                                        {"hidden", {32}},
                                                                        {"n_members", 3},
                                                                        {"min_steps", 300}}}),
                         bbo::testing::SurrogateCaseName);

namespace bbo::bnn {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;

FitInput sine_input(size_t n, double lo, double hi, double noise_sd, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::normal_distribution<double> normal;
  FitInput in;
  in.X = Matrix(n, 1);
  in.y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    in.X(i, 0) = u(rng);
    in.y[i] = std::sin(2 * std::numbers::pi * in.X(i, 0)) + noise_sd * normal(rng);
  }
  in.seed = seed;
  return in;
}

Matrix grid(size_t m, double lo, double hi) {
  Matrix X(m, 1);
  for (size_t i = 0; i < m; ++i) X(i, 0) = lo + (hi - lo) * (static_cast<double>(i) + 0.5) / static_cast<double>(m);
  return X;
}

TEST(BnnModel, EnsembleLearnsASine) {
  FitInput in = sine_input(40, 0.0, 1.0, 0.0, 1);
  BnnModel model;
  model.fit(in);
  Matrix Q = grid(100, 0.02, 0.98);
  Prediction p = model.predict(Q);
  double se = 0.0;
  for (size_t i = 0; i < Q.rows; ++i) se += std::pow(p.mean[i] - std::sin(2 * std::numbers::pi * Q(i, 0)), 2);
  const double rmse = std::sqrt(se / static_cast<double>(Q.rows));
  // sd of the sine is 0.71; a constant predictor has RMSE 0.71, a fitted 2 × 50 net ~0.02.
  EXPECT_LT(rmse, 0.08);
}

TEST(BnnModel, EnsembleVarianceGrowsAwayFromTheData) {
  FitInput in = sine_input(30, 0.0, 0.5, 0.0, 2);
  for (const char* variant : {"ensemble", "sghmc"}) {
    BnnOptions o;
    o.variant = variant;
    BnnModel model(o);
    model.fit(in);
    Prediction at = model.predict(grid(10, 0.05, 0.45));
    Prediction far = model.predict(grid(5, 0.9, 1.0));
    double v_at = 0.0, v_far = 0.0;
    for (double v : at.variance) v_at += v / 10.0;
    for (double v : far.variance) v_far += v / 5.0;
    EXPECT_GT(v_far, 5.0 * v_at) << variant << ": mean variance at the data " << v_at << ", far from it " << v_far;
  }
}

TEST(BnnModel, VarianceHeadsRecoverHeteroscedasticNoise) {
  // Noise sd 0.05 on [0, 0.5), 0.3 on [0.5, 1].
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> normal;
  FitInput in;
  const size_t n = 400;
  in.X = Matrix(n, 1);
  in.y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    double x = u(rng);
    in.X(i, 0) = x;
    in.y[i] = std::sin(2 * std::numbers::pi * x) + (x < 0.5 ? 0.05 : 0.3) * normal(rng);
  }
  in.seed = 3;
  BnnOptions o;
  o.heteroscedastic = true;
  o.n_members = 3;  // test time: the noise is each member's own estimate
  BnnModel model(o);
  model.fit(in);
  // The predictive variance (noise + the small epistemic part) against the true noise.
  Prediction lo = model.predictive(grid(10, 0.1, 0.4)), hi = model.predictive(grid(10, 0.6, 0.9));
  double sd_lo = 0.0, sd_hi = 0.0;
  for (size_t i = 0; i < 10; ++i) {
    sd_lo += std::sqrt(lo.variance[i]) / 10.0;
    sd_hi += std::sqrt(hi.variance[i]) / 10.0;
  }
  EXPECT_GT(sd_lo, 0.025);
  EXPECT_LT(sd_lo, 0.1);
  EXPECT_GT(sd_hi, 0.2);
  EXPECT_LT(sd_hi, 0.45);
}

// Central differences of predict() against predict_with_gradient() on mixed coordinates, plain and
// conditioned on two fantasies.
void check_gradients(const BnnModel& model, const std::vector<Dimension>& dims, const Matrix& Q) {
  const size_t d = dims.size();
  const double h = 1e-6;
  for (size_t i = 0; i < Q.rows; ++i) {
    PointPrediction g = model.predict_with_gradient(Q.row(i));
    Matrix one(1, d);
    for (size_t j = 0; j < d; ++j) one(0, j) = Q(i, j);
    Prediction at = model.predict(one);
    EXPECT_NEAR(g.mean, at.mean[0], 1e-10 * (1 + std::fabs(at.mean[0])));
    EXPECT_NEAR(g.variance, at.variance[0], 1e-10 * (1 + at.variance[0]));
    for (size_t j = 0; j < d; ++j) {
      if (dims[j].kind == DimensionKind::kCategorical) {
        EXPECT_EQ(g.dmean[j], 0.0);
        continue;
      }
      Matrix pm(2, d);
      for (size_t c = 0; c < d; ++c) pm(0, c) = pm(1, c) = Q(i, c);
      pm(0, j) += h;
      pm(1, j) -= h;
      Prediction p = model.predict(pm);
      const double fm = (p.mean[0] - p.mean[1]) / (2 * h), fv = (p.variance[0] - p.variance[1]) / (2 * h);
      EXPECT_NEAR(g.dmean[j], fm, 1e-5 * (1 + std::fabs(fm))) << "point " << i << " coordinate " << j;
      EXPECT_NEAR(g.dvariance[j], fv, 1e-5 * (1 + std::fabs(fv))) << "point " << i << " coordinate " << j;
    }
  }
}

TEST(BnnModel, GradientsMatchFiniteDifferences) {
  std::vector<Dimension> dims = {{DimensionKind::kContinuous, 0}, {DimensionKind::kCategorical, 3},
                                 {DimensionKind::kGrid, 5}, {DimensionKind::kContinuous, 0}};
  FitInput in = testing::surrogate_conformance::random_input(40, 4, 4, dims);
  Matrix Q = testing::surrogate_conformance::random_points(4, 4, 5);
  for (size_t i = 0; i < Q.rows; ++i) Q(i, 1) = (std::floor(Q(i, 1) * 3) + 0.5) / 3;
  for (const char* variant : {"ensemble", "sghmc"}) {
    BnnOptions o;
    o.variant = variant;
    o.min_steps = 200;
    o.burn_in = 200;
    BnnModel model(o);
    model.fit(in);
    SCOPED_TRACE(variant);
    check_gradients(model, dims, Q);
    Matrix P = testing::surrogate_conformance::random_points(2, 4, 6);
    auto c = model.condition_on(P, {0.3, -1.0});
    ASSERT_TRUE(c);
    check_gradients(*c, dims, Q);
  }
}

TEST(BnnModel, SameSeedSameModelOtherSeedOtherMembers) {
  FitInput in = sine_input(20, 0.0, 1.0, 0.1, 7);
  for (const char* variant : {"ensemble", "sghmc"}) {
    BnnOptions o;
    o.variant = variant;
    o.min_steps = 200;
    o.pretrain_steps = 200;
    o.burn_in = 200;
    BnnModel a(o), b(o), c(o);
    a.fit(in);
    b.fit(in);
    FitInput other = in;
    other.seed = 8;
    c.fit(other);
    ASSERT_EQ(a.nets().size(), b.nets().size());
    for (size_t m = 0; m < a.nets().size(); ++m) EXPECT_EQ(a.nets()[m].theta, b.nets()[m].theta) << variant;
    EXPECT_NE(a.nets()[0].theta, c.nets()[0].theta) << variant;
    EXPECT_EQ(a.state().dump(), b.state().dump());
    std::mt19937_64 r1(1), r2(1);
    EXPECT_EQ(a.sample(grid(5, 0, 1), 7, r1).data, b.sample(grid(5, 0, 1), 7, r2).data);
  }
}

// y = 1 + 2 u_1 − u_2 + noise (u = 2x − 1), a network without hidden layers and with the true noise fixed:
// the posterior over (w, b) is Gaussian in closed form (prior N(0, prior_scale²/fan_in) on w, N(0,
// prior_scale²) on b, in the model's standardized units), and the SGHMC samples must reproduce its mean and
// variance at query points.
TEST(BnnModel, SghmcReproducesTheBayesianLinearRegressionPosterior) {
  const size_t n = 30, d = 2;
  const double noise_sd = 0.5, prior_scale = 1.0;
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> normal;
  FitInput in;
  in.X = Matrix(n, d);
  in.y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) in.X(i, j) = u(rng);
    in.y[i] = 1.0 + 2.0 * (2 * in.X(i, 0) - 1) - (2 * in.X(i, 1) - 1) + noise_sd * normal(rng);
  }
  in.seed = 12;
  double ym = 0, ys = 0;
  for (double v : in.y) ym += v / n;
  for (double v : in.y) ys += (v - ym) * (v - ym) / n;
  ys = std::sqrt(ys);
  const double sigma2 = noise_sd * noise_sd / (ys * ys);  // standardized noise variance

  BnnOptions o;
  o.variant = "sghmc";
  o.hidden = {};
  o.fixed_noise = sigma2;
  o.prior_scale = prior_scale;
  o.n_samples = 400;
  o.thinning = 20;
  o.burn_in = 500;
  o.batch_size = static_cast<int>(n);  // full batch: no minibatch noise, so the chain targets the posterior
  BnnModel model(o);
  model.fit(in);

  // Closed form: features (u_1, u_2, 1), prior precision diag(fan_in/s², fan_in/s², 1/s²).
  MatrixXd Phi(n, d + 1);
  VectorXd z(n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) Phi(i, j) = 2 * in.X(i, j) - 1;
    Phi(i, d) = 1.0;
    z[i] = (in.y[i] - ym) / ys;
  }
  VectorXd prior_prec(d + 1);
  prior_prec << d / (prior_scale * prior_scale), d / (prior_scale * prior_scale), 1 / (prior_scale * prior_scale);
  MatrixXd A = Phi.transpose() * Phi / sigma2;
  A.diagonal() += prior_prec;
  MatrixXd Sigma = A.inverse();
  VectorXd w = Sigma * Phi.transpose() * z / sigma2;

  Matrix Q = testing::surrogate_conformance::random_points(6, d, 13);
  Prediction p = model.predict(Q);
  for (size_t i = 0; i < Q.rows; ++i) {
    VectorXd phi(d + 1);
    phi << 2 * Q(i, 0) - 1, 2 * Q(i, 1) - 1, 1.0;
    const double ref_mean = ym + ys * phi.dot(w);
    const double ref_var = ys * ys * phi.dot(Sigma * phi);  // latent (epistemic) variance
    const double epi = p.variance[i];  // predict(): the latent variance, the fixed noise is not in it
    // 400 samples of a well-mixed chain: the mean within a quarter of the posterior sd, the variance within
    // 40 %. (A chain that ignored the prior, or sampled at the wrong temperature, misses both.)
    EXPECT_NEAR(p.mean[i], ref_mean, 0.25 * std::sqrt(ref_var)) << "query " << i;
    EXPECT_NEAR(epi / ref_var, 1.0, 0.4) << "query " << i;
  }
}

TEST(BnnModel, ConditionOnIsTheGaussianUpdateOfTheMembers) {
  FitInput in = sine_input(25, 0.0, 1.0, 0.05, 14);
  BnnModel model;
  model.fit(in);
  Matrix P = grid(2, 0.3, 0.9);
  const std::vector<double> yp = {0.5, -2.0};
  auto c = model.condition_on(P, yp);
  Matrix Q = grid(7, 0.0, 1.0);
  // Reference: members' means at Q and P as a joint Gaussian (population covariance), noise avg σ² at P.
  MatrixXd muQ, varQ, muP, varP;
  model.net_outputs(Q, muQ, varQ);
  model.net_outputs(P, muP, varP);
  const double M = static_cast<double>(muQ.rows());
  MatrixXd DQ = muQ.rowwise() - muQ.colwise().mean(), DP = muP.rowwise() - muP.colwise().mean();
  MatrixXd CQP = DQ.transpose() * DP / M, CPP = DP.transpose() * DP / M, CQQ = DQ.transpose() * DQ / M;
  CPP.diagonal() += varP.colwise().mean().transpose();
  VectorXd zp(2);
  for (int j = 0; j < 2; ++j) zp[j] = (yp[j] - model.y_mean()) / model.y_std() - muP.col(j).mean();
  VectorXd mean = muQ.colwise().mean().transpose() + CQP * CPP.ldlt().solve(zp);
  MatrixXd cov = CQQ - CQP * CPP.ldlt().solve(CQP.transpose());
  Prediction p = c->predict(Q);
  const double s = model.y_std();
  for (size_t i = 0; i < Q.rows; ++i) {
    EXPECT_NEAR(p.mean[i], model.y_mean() + s * mean[i], 1e-7);
    EXPECT_NEAR(p.variance[i], s * s * cov(i, i), 1e-7);
  }
  // Conditioning twice equals conditioning once on both points.
  Matrix P1(1, 1), P2(1, 1);
  P1(0, 0) = P(0, 0);
  P2(0, 0) = P(1, 0);
  auto c1 = model.condition_on(P1, {yp[0]});
  auto c12 = c1->condition_on(P2, {yp[1]});
  Prediction p12 = c12->predict(Q);
  for (size_t i = 0; i < Q.rows; ++i) EXPECT_NEAR(p12.mean[i], p.mean[i], 1e-7);
  // Matheron draws of the latent function from the conditioned model have its mean and variance.
  std::mt19937_64 rng(15);
  const size_t k = 20000;
  Matrix draws = c->sample(Q, k, rng);
  for (size_t i = 0; i < Q.rows; ++i) {
    double m1 = 0, m2 = 0;
    for (size_t r = 0; r < k; ++r) m1 += draws(r, i) / k;
    for (size_t r = 0; r < k; ++r) m2 += std::pow(draws(r, i) - m1, 2) / k;
    EXPECT_NEAR(m1, p.mean[i], 6 * std::sqrt(p.variance[i] / k) + 1e-12) << "query " << i;
    EXPECT_NEAR(m2 / p.variance[i], 1.0, 0.1) << "query " << i;
  }
}

TEST(BnnModel, WarmStartRestoresTheSameDataAndShortensRefits) {
  for (const char* variant : {"ensemble", "sghmc"}) {
    BnnOptions o;
    o.variant = variant;
    FitInput in = sine_input(30, 0.0, 1.0, 0.05, 16);
    BnnModel cold(o);
    cold.fit(in);
    FitInput same = in;
    same.warm_start = json::parse(cold.state().dump());
    BnnModel restored(o);
    restored.fit(same);
    EXPECT_TRUE(restored.restored()) << variant;
    EXPECT_EQ(restored.train_steps(), 0) << variant;
    Prediction a = cold.predict(grid(9, 0, 1)), b = restored.predict(grid(9, 0, 1));
    EXPECT_EQ(a.mean, b.mean) << variant;
    EXPECT_EQ(a.variance, b.variance) << variant;

    FitInput more = sine_input(34, 0.0, 1.0, 0.05, 16);  // the same 30 points and 4 more
    more.warm_start = same.warm_start;
    BnnModel warm(o);
    warm.fit(more);
    EXPECT_FALSE(warm.restored());
    // The ensemble trains warm_fraction of the steps; the chain shortens only its burn-in (no pretraining).
    EXPECT_LT(warm.train_steps(), (std::string(variant) == "ensemble" ? 0.5 : 0.6) * cold.train_steps()) << variant;
    Matrix Q = grid(50, 0.02, 0.98);
    Prediction pw = warm.predict(Q);
    double se = 0.0;
    for (size_t i = 0; i < Q.rows; ++i) se += std::pow(pw.mean[i] - std::sin(2 * std::numbers::pi * Q(i, 0)), 2);
    EXPECT_LT(std::sqrt(se / Q.rows), 0.12) << variant << ": the warm refit lost the fit";
    // A state of another shape is ignored (a cold fit).
    FitInput other = more;
    BnnOptions small = o;
    small.hidden = {8};
    BnnModel s(small);
    s.fit(other);
    EXPECT_EQ(s.train_steps(), cold.train_steps()) << variant;
  }
}

TEST(BnnModel, QuantilesAndNoiseVarianceAreThoseOfTheMixture) {
  FitInput in = sine_input(40, 0.0, 1.0, 0.2, 17);
  BnnModel model;
  model.fit(in);
  Matrix Q = grid(5, 0.1, 0.9);
  Prediction latent = model.predict(Q), pred = model.predictive(Q);
  Matrix q = model.quantiles(Q, {0.1, 0.5, 0.9});
  MatrixXd mu, var;
  model.net_outputs(Q, mu, var);
  const double s2 = model.y_std() * model.y_std();
  for (size_t i = 0; i < Q.rows; ++i) {
    const Eigen::Index k = static_cast<Eigen::Index>(i);
    EXPECT_NEAR(pred.variance[i], latent.variance[i] + s2 * var.col(k).mean(), 1e-12);
    EXPECT_NEAR(q(i, 1), pred.mean[i], 1e-12);
    EXPECT_NEAR(q(i, 2) - q(i, 0), 2 * 1.2815515655446004 * std::sqrt(pred.variance[i]), 1e-9);
  }
  // Homoscedastic members: the noise is one level per member, about the true 0.2² here.
  EXPECT_GT(model.noise_variance(), 0.5 * 0.04);
  EXPECT_LT(model.noise_variance(), 2.0 * 0.04);
}

TEST(BnnModel, NinetyPercentIntervalsCoverNinetyPercentOfNewObservations) {
  // A 1-d toy with noise sd 0.2: the 5 %–95 % quantiles of both variants, on 400 fresh noisy draws.
  FitInput in = sine_input(120, 0.0, 1.0, 0.2, 18);
  FitInput test = sine_input(400, 0.0, 1.0, 0.2, 19);
  for (const char* variant : {"ensemble", "sghmc"}) {
    BnnOptions o;
    o.variant = variant;
    BnnModel model(o);
    model.fit(in);
    Matrix q = model.quantiles(test.X, {0.05, 0.95});
    size_t inside = 0;
    for (size_t i = 0; i < test.X.rows; ++i) inside += test.y[i] >= q(i, 0) && test.y[i] <= q(i, 1);
    const double coverage = static_cast<double>(inside) / static_cast<double>(test.X.rows);
    // Binomial sd at 400 draws is 1.5 %; the tolerance also allows the model's own error in the noise level.
    EXPECT_GT(coverage, 0.83) << variant;
    EXPECT_LT(coverage, 0.97) << variant;
  }
}

TEST(BnnModel, FloatsRoundTripThroughBase64) {
  VectorXd v(7);
  v << 0.0, -1.5, 3.25e-7f, 1e30f, -2.0f / 3.0f, 42.0, 0.1f;  // float values: the format is float32
  for (Eigen::Index len = 0; len <= v.size(); ++len) {
    VectorXd head = v.head(len);
    EXPECT_EQ(decode_floats(encode_floats(head)), head) << "length " << len;
  }
  EXPECT_THROW(decode_floats("abc"), ValueError);
  EXPECT_THROW(decode_floats("a*cd"), ValueError);
}

TEST(BnnModel, TrivialDataGiveThePrior) {
  BnnModel model;
  FitInput in;
  in.X = Matrix(1, 2, 0.5);
  in.y = {4.0};
  model.fit(in);
  Prediction p = model.predict(Matrix(3, 2, 0.1));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(p.mean[i], 4.0);
    EXPECT_EQ(p.variance[i], 1.0);
  }
  EXPECT_EQ(model.condition_on(Matrix(1, 2, 0.2), {1.0}), nullptr);
}

TEST(BnnPlugin, ParametersAreValidated) {
  auto& reg = PluginRegistry::global();
  EXPECT_THROW(reg.make_surrogate("bnn", {{"variant", "hmc2"}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("bnn", {{"activation", "sigmoid"}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("bnn", {{"hidden", {0}}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("bnn", {{"hidden", "wide"}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("bnn", {{"n_members", 0}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("bnn", {{"min_steps", 10}, {"max_steps", 5}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("bnn", {{"step_size", 0.0}}), ConfigError);
  EXPECT_NO_THROW(reg.make_surrogate("bnn", {{"variant", "sghmc"}, {"hidden", json::array()}}));
}

}  // namespace
}  // namespace bbo::bnn

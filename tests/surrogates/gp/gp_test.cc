// Tests of the `gp` surrogate: the model (bbo::gp::GpModel, MapObjective) against independent closed forms and
// finite differences, and the plugin through the surrogate conformance suite.
#include <gtest/gtest.h>

#include <Eigen/Dense>

#include <cmath>
#include <numbers>
#include <random>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "surrogate_conformance.h"
#include "surrogates/gp/gp_core.h"

INSTANTIATE_TEST_SUITE_P(Gp, SurrogateConformance,
                         ::testing::Values(bbo::testing::SurrogateCase{"gp"},
                                           bbo::testing::SurrogateCase{"gp", {{"deterministic", true}}},
                                           bbo::testing::SurrogateCase{"gp", {{"warping", true}, {"n_restarts", 2}}},
                                           bbo::testing::SurrogateCase{"gp", {{"kernel", "nngp"}}},
                                           bbo::testing::SurrogateCase{"gp", {{"kernel", "nngp"}, {"nngp_depth", 1}}}),
                         bbo::testing::SurrogateCaseName);

namespace bbo::gp {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;

Matrix random_matrix(size_t n, size_t d, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Matrix X(n, d);
  for (double& v : X.data) v = u(rng);
  return X;
}

// Snaps column j of X to the centres of `levels` bins.
void snap(Matrix& X, size_t j, size_t levels) {
  for (size_t i = 0; i < X.rows; ++i) {
    double l = static_cast<double>(levels);
    X(i, j) = (std::min(std::floor(X(i, j) * l), l - 1.0) + 0.5) / l;
  }
}

// ---- An independent reference: the kernel written out from its definition ---------------------------------

double ref_warp(double x, double a, double b) {
  x = std::clamp(x, 1e-6, 1 - 1e-6);
  return 1.0 - std::pow(1.0 - std::pow(x, a), b);
}

double ref_kernel(const std::vector<Dimension>& dims, const Hyper& h, const double* x, const double* y) {
  double r2 = 0.0;
  for (size_t j = 0; j < dims.size(); ++j) {
    double l2 = h.lengthscale[j] * h.lengthscale[j];
    if (dims[j].kind == DimensionKind::kCategorical) {
      r2 += (x[j] != y[j]) / l2;
    } else {
      double a = x[j], b = y[j];
      if (!h.warp_a.empty() && dims[j].kind == DimensionKind::kContinuous) {
        a = ref_warp(a, h.warp_a[j], h.warp_b[j]);
        b = ref_warp(b, h.warp_a[j], h.warp_b[j]);
      }
      r2 += (a - b) * (a - b) / l2;
    }
  }
  double r = std::sqrt(r2);
  return h.signal * (1.0 + std::sqrt(5.0) * r + 5.0 / 3.0 * r2) * std::exp(-std::sqrt(5.0) * r);
}

struct RefPosterior {
  VectorXd mean;
  MatrixXd cov;
  double log_marginal;  // log N(z; 0, K + σ² I) of the standardized data
};

RefPosterior reference(const std::vector<Dimension>& dims, const Hyper& h, const Matrix& X,
                       const std::vector<double>& y, double y_mean, double y_std, const Matrix& Q) {
  const size_t n = X.rows, m = Q.rows;
  MatrixXd K(n, n), Kq(n, m), Kqq(m, m);
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < n; ++k) K(i, k) = ref_kernel(dims, h, X.row(i), X.row(k)) + (i == k ? h.noise : 0.0);
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < m; ++k) Kq(i, k) = ref_kernel(dims, h, X.row(i), Q.row(k));
  for (size_t i = 0; i < m; ++i)
    for (size_t k = 0; k < m; ++k) Kqq(i, k) = ref_kernel(dims, h, Q.row(i), Q.row(k));
  VectorXd z(n);
  for (size_t i = 0; i < n; ++i) z[i] = (y[i] - y_mean) / y_std;
  Eigen::FullPivLU<MatrixXd> lu(K);
  RefPosterior r;
  if (m > 0) {  // (Eigen's solve with a 0-column right-hand side binds a null reference)
    r.mean = (Kq.transpose() * lu.solve(z)).array() * y_std + y_mean;
    r.cov = (Kqq - Kq.transpose() * lu.solve(Kq)) * (y_std * y_std);
  }
  r.log_marginal = -0.5 * z.dot(lu.solve(z)) - 0.5 * std::log(K.determinant()) -
                   0.5 * static_cast<double>(n) * std::log(2 * std::numbers::pi);
  return r;
}

std::vector<Dimension> mixed_dims() {
  return {{DimensionKind::kContinuous, 0}, {DimensionKind::kGrid, 4}, {DimensionKind::kCategorical, 3}};
}

Hyper mixed_hyper(bool warping) {
  Hyper h;
  h.lengthscale = {0.3, 0.7, 0.9};
  h.signal = 1.3;
  h.noise = 0.02;
  if (warping) {
    h.warp_a = {1.7, 1.0, 1.0};
    h.warp_b = {0.6, 1.0, 1.0};
  }
  return h;
}

FitInput mixed_input(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  FitInput in;
  in.dims = mixed_dims();
  in.X = random_matrix(n, 3, rng);
  snap(in.X, 1, 4);
  snap(in.X, 2, 3);
  in.y.resize(n);
  for (size_t i = 0; i < n; ++i)
    in.y[i] = 5.0 + 2.0 * std::sin(5.0 * in.X(i, 0)) + in.X(i, 1) + (in.X(i, 2) < 0.4 ? 1.0 : 0.0);
  in.seed = seed;
  return in;
}

double rel_err(double a, double b) { return std::fabs(a - b) / std::max(1.0, std::max(std::fabs(a), std::fabs(b))); }

// ---- Posterior in closed form --------------------------------------------------------------------------

TEST(GpModel, PosteriorEqualsClosedFormWithFixedHyperParameters) {
  for (bool warping : {false, true}) {
    GpOptions o;
    o.warping = warping;
    GpModel model(o);
    FitInput in = mixed_input(7, 1);
    Hyper h = mixed_hyper(warping);
    model.fit_fixed(in.dims, in.X, in.y, h, 5.5, 1.7);
    std::mt19937_64 rng(2);
    Matrix Q = random_matrix(4, 3, rng);
    snap(Q, 1, 4);
    snap(Q, 2, 3);
    Q(3, 2) = in.X(0, 2);
    RefPosterior ref = reference(in.dims, h, in.X, in.y, 5.5, 1.7, Q);
    Prediction p = model.predict(Q);
    MatrixXd cov = model.posterior_covariance(Q);
    for (size_t i = 0; i < Q.rows; ++i) {
      EXPECT_LT(rel_err(p.mean[i], ref.mean[i]), 1e-8) << "warping " << warping << " point " << i;
      EXPECT_LT(rel_err(p.variance[i], ref.cov(i, i)), 1e-8) << "warping " << warping << " point " << i;
      for (size_t k = 0; k < Q.rows; ++k) EXPECT_LT(rel_err(cov(i, k), ref.cov(i, k)), 1e-8);
    }
    EXPECT_NEAR(model.noise_variance(), 0.02 * 1.7 * 1.7, 1e-15);
  }
}

TEST(GpModel, LargeQueryBatchesEqualSingleQueries) {
  GpModel model;
  FitInput in = mixed_input(30, 27);
  model.fit_fixed(in.dims, in.X, in.y, mixed_hyper(false), 5.0, 2.0);
  std::mt19937_64 rng(28);
  Matrix Q = random_matrix(2500, 3, rng);  // predict works in blocks of 1024 queries
  Prediction all = model.predict(Q);
  for (size_t i : {0u, 1023u, 1024u, 2047u, 2048u, 2499u}) {
    Matrix one(1, 3);
    for (size_t j = 0; j < 3; ++j) one(0, j) = Q(i, j);
    Prediction p = model.predict(one);
    EXPECT_LT(rel_err(all.mean[i], p.mean[0]), 1e-12) << "row " << i;
    EXPECT_LT(rel_err(all.variance[i], p.variance[0]), 1e-12) << "row " << i;
  }
}

TEST(GpModel, PredictionWithoutDataIsThePrior) {
  GpModel model;
  FitInput in;
  in.X = Matrix(0, 2);
  model.fit(in);
  Matrix Q(3, 2, 0.3);
  Prediction p = model.predict(Q);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(p.mean[i], 0.0);
    EXPECT_NEAR(p.variance[i], model.hyper().signal, 1e-15);
  }
}

// ---- Log posterior and its gradient -----------------------------------------------------------------------

TEST(MapObjective, ValueIsTheLogMarginalLikelihoodPlusTheLogPriors) {
  GpOptions o;
  FitInput in = mixed_input(9, 3);
  Eigen::MatrixXd X(9, 3);
  for (size_t i = 0; i < 9; ++i)
    for (size_t j = 0; j < 3; ++j) X(i, j) = in.X(i, j);
  Eigen::VectorXd z(9);
  for (size_t i = 0; i < 9; ++i) z[i] = (in.y[i] - 5.0) / 2.0;
  MapObjective obj(in.dims, X, z, o);
  Hyper h = mixed_hyper(false);
  std::vector<double> theta = obj.pack(h);
  RefPosterior ref = reference(in.dims, h, in.X, in.y, 5.0, 2.0, Matrix(0, 3));
  const double mu = std::sqrt(2.0) + 0.5 * std::log(3.0);
  double prior = 0.0;
  for (double l : h.lengthscale) prior += -0.5 * std::pow(std::log(l) - mu, 2) / 3.0;
  prior += -0.5 * std::pow(std::log(h.signal), 2);
  prior += 0.1 * std::log(h.noise) - 10.0 * h.noise;
  EXPECT_NEAR(obj.value(theta.data(), nullptr), ref.log_marginal + prior, 1e-9);
}

void check_gradient(const GpOptions& o, const FitInput& in, uint64_t seed, double max_lengthscale = 2.0) {
  const size_t n = in.X.rows, d = in.X.cols;
  Eigen::MatrixXd X(n, d);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < d; ++j) X(i, j) = in.X(i, j);
  Eigen::VectorXd z(n);
  for (size_t i = 0; i < n; ++i) z[i] = (in.y[i] - 5.0) / 1.5;
  std::vector<Dimension> dims = in.dims.empty() ? std::vector<Dimension>(d) : in.dims;
  MapObjective obj(dims, X, z, o);
  std::mt19937_64 rng(seed);
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<double> theta = obj.prior_start(&rng);
    for (size_t j = 0; j < d; ++j) theta[j] = std::min(theta[j], std::log(max_lengthscale));  // informative
    std::vector<double> grad(obj.size());
    obj.value(theta.data(), grad.data());
    for (size_t k = 0; k < obj.size(); ++k) {
      const double h = 1e-5;
      std::vector<double> tp = theta, tm = theta;
      tp[k] += h;
      tm[k] -= h;
      double fd = (obj.value(tp.data(), nullptr) - obj.value(tm.data(), nullptr)) / (2 * h);
      EXPECT_NEAR(grad[k], fd, 1e-5 * (1.0 + std::fabs(fd))) << "parameter " << k << ", trial " << trial;
    }
  }
}

TEST(MapObjective, GradientMatchesFiniteDifferences) {
  FitInput in = mixed_input(15, 4);
  GpOptions o;
  check_gradient(o, in, 5);
  o.deterministic = true;
  check_gradient(o, in, 6);
}

TEST(MapObjective, GradientWithWarpingMatchesFiniteDifferences) {
  FitInput in = mixed_input(15, 7);
  in.dims[1] = {DimensionKind::kContinuous, 0};  // two warped coordinates
  GpOptions o;
  o.warping = true;
  check_gradient(o, in, 8);
}

// ---- Gradients of the posterior w.r.t. x ---------------------------------------------------------------------

TEST(GpModel, PredictWithGradientMatchesFiniteDifferences) {
  for (bool warping : {false, true}) {
    GpOptions o;
    o.warping = warping;
    GpModel model(o);
    FitInput in = mixed_input(12, 9);
    model.fit_fixed(in.dims, in.X, in.y, mixed_hyper(warping), 5.0, 2.0);
    std::mt19937_64 rng(10);
    Matrix Q = random_matrix(6, 3, rng);
    snap(Q, 2, 3);
    for (size_t i = 0; i < Q.rows; ++i) {
      Q(i, 0) = 0.05 + 0.9 * Q(i, 0);
      PointPrediction g = model.predict_with_gradient(Q.row(i));
      Prediction at = model.predict(Matrix(1, 3));
      EXPECT_EQ(g.dmean[2], 0.0) << "categorical coordinate";
      EXPECT_EQ(g.dvariance[2], 0.0) << "categorical coordinate";
      for (size_t j = 0; j < 2; ++j) {
        const double h = 1e-6;
        Matrix pm(2, 3);
        for (size_t c = 0; c < 3; ++c) pm(0, c) = pm(1, c) = Q(i, c);
        pm(0, j) += h;
        pm(1, j) -= h;
        Prediction p = model.predict(pm);
        double fd_mean = (p.mean[0] - p.mean[1]) / (2 * h), fd_var = (p.variance[0] - p.variance[1]) / (2 * h);
        EXPECT_NEAR(g.dmean[j], fd_mean, 1e-6 * (1.0 + std::fabs(fd_mean))) << "warping " << warping << " coord " << j;
        EXPECT_NEAR(g.dvariance[j], fd_var, 1e-6 * (1.0 + std::fabs(fd_var))) << "warping " << warping << " coord " << j;
      }
      (void)at;
    }
  }
}

// ---- Joint samples -----------------------------------------------------------------------------------------

TEST(GpModel, JointSamplesHaveThePosteriorCovariance) {
  GpModel model;
  FitInput in = mixed_input(10, 11);
  model.fit_fixed(in.dims, in.X, in.y, mixed_hyper(false), 5.0, 2.0);
  Matrix Q(3, 3);
  const double pts[3][3] = {{0.20, 0.375, 0.5}, {0.25, 0.375, 0.5}, {0.6, 0.875, 0.1666}};  // two close: correlated
  for (size_t i = 0; i < 3; ++i)
    for (size_t j = 0; j < 3; ++j) Q(i, j) = pts[i][j];
  Eigen::VectorXd mean;
  MatrixXd cov = model.posterior_covariance(Q, &mean);
  ASSERT_GT(cov(0, 1) / std::sqrt(cov(0, 0) * cov(1, 1)), 0.5) << "the test wants correlated points";
  std::mt19937_64 rng(12);
  const size_t k = 20000;
  Matrix s = model.sample(Q, k, rng);
  Eigen::VectorXd m = Eigen::VectorXd::Zero(3);
  for (size_t r = 0; r < k; ++r)
    for (size_t i = 0; i < 3; ++i) m[i] += s(r, i) / k;
  MatrixXd c = MatrixXd::Zero(3, 3);
  for (size_t r = 0; r < k; ++r)
    for (size_t i = 0; i < 3; ++i)
      for (size_t j = 0; j < 3; ++j) c(i, j) += (s(r, i) - m[i]) * (s(r, j) - m[j]) / (k - 1);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(m[i], mean[i], 5.0 * std::sqrt(cov(i, i) / k)) << "mean " << i;
    for (size_t j = 0; j < 3; ++j) {
      // Standard error of a sample covariance of normals: sqrt((Σii Σjj + Σij²) / k); 5 of them.
      double se = std::sqrt((cov(i, i) * cov(j, j) + cov(i, j) * cov(i, j)) / k);
      EXPECT_NEAR(c(i, j), cov(i, j), 5.0 * se) << "covariance (" << i << ", " << j << ")";
    }
  }
}

// ---- Fantasies ---------------------------------------------------------------------------------------------

TEST(GpModel, ConditionOnEqualsRefitWithFixedHyperParameters) {
  for (bool warping : {false, true}) {
    GpOptions o;
    o.warping = warping;
    GpModel model(o);
    FitInput in = mixed_input(20, 13);
    model.fit(in);
    std::mt19937_64 rng(14);
    Matrix Xn = random_matrix(3, 3, rng);
    snap(Xn, 1, 4);
    snap(Xn, 2, 3);
    std::vector<double> yn = {4.0, 6.5, 5.2};
    auto c = model.condition_on(Xn, yn);
    FitInput all = in;
    all.X = Matrix(23, 3);
    for (size_t i = 0; i < 23; ++i)
      for (size_t j = 0; j < 3; ++j) all.X(i, j) = i < 20 ? in.X(i, j) : Xn(i - 20, j);
    all.y.insert(all.y.end(), yn.begin(), yn.end());
    GpModel refit(o);
    refit.fit_fixed(all.dims, all.X, all.y, model.hyper(), model.y_mean(), model.y_std());
    Matrix Q = random_matrix(8, 3, rng);
    Prediction a = c->predict(Q), b = refit.predict(Q);
    for (size_t i = 0; i < Q.rows; ++i) {
      EXPECT_LT(rel_err(a.mean[i], b.mean[i]), 1e-8) << "point " << i;
      EXPECT_LT(rel_err(a.variance[i], b.variance[i]), 1e-8) << "point " << i;
    }
    EXPECT_EQ(c->hyper().lengthscale, model.hyper().lengthscale);
    EXPECT_EQ(c->n(), 23u);
  }
}

// ---- MAP fit ---------------------------------------------------------------------------------------------

TEST(GpModel, MapRecoversTheLengthscaleOfASampledFunction) {
  // y = a draw from the GP with ℓ = 0.15, s² = 1 at 60 points of [0,1], plus noise of sd 0.01.
  const size_t n = 60;
  const double true_ls = 0.15;
  std::mt19937_64 rng(15);
  Matrix X = random_matrix(n, 1, rng);
  std::vector<Dimension> dims(1);
  Hyper h;
  h.lengthscale = {true_ls};
  MatrixXd K(n, n);
  for (size_t i = 0; i < n; ++i)
    for (size_t k = 0; k < n; ++k) K(i, k) = ref_kernel(dims, h, X.row(i), X.row(k)) + (i == k ? 1e-8 : 0.0);
  MatrixXd L = K.llt().matrixL();
  std::normal_distribution<double> normal;
  VectorXd e(n);
  for (size_t i = 0; i < n; ++i) e[i] = normal(rng);
  VectorXd f = L * e;
  FitInput in;
  in.X = X;
  for (size_t i = 0; i < n; ++i) in.y.push_back(3.0 * f[i] + 0.01 * normal(rng));
  in.seed = 16;
  GpModel model;
  model.fit(in);
  EXPECT_GT(model.hyper().lengthscale[0], true_ls / 2) << "fitted " << model.hyper().lengthscale[0];
  EXPECT_LT(model.hyper().lengthscale[0], true_ls * 2) << "fitted " << model.hyper().lengthscale[0];
  EXPECT_LT(model.noise_variance(), 0.05 * 9.0) << "noise should be small against the signal";
  EXPECT_TRUE(std::isfinite(model.log_posterior()));
}

TEST(GpModel, SameSeedGivesTheSameFitAndOtherSeedsStillConverge) {
  FitInput in = mixed_input(25, 17);
  GpModel a, b, c;
  a.fit(in);
  b.fit(in);
  EXPECT_EQ(a.state().dump(), b.state().dump());
  in.seed = 999;
  c.fit(in);
  // A different seed draws other restarts; the best optimum is (nearly) the same.
  EXPECT_NEAR(c.log_posterior(), a.log_posterior(), 0.05 * std::fabs(a.log_posterior()) + 0.5);
}

TEST(GpModel, StateRoundTripsThroughWarmStart) {
  for (bool warping : {false, true}) {
    GpOptions o;
    o.warping = warping;
    FitInput in = mixed_input(30, 18);
    GpModel a(o);
    a.fit(in);
    json st = json::parse(a.state().dump());
    EXPECT_EQ(st, a.state());
    FitInput warm = in;
    warm.warm_start = st;
    GpModel b(o);
    b.fit(warm);
    EXPECT_LE(b.fit_evaluations(), o.max_fit_evals) << "a warm fit uses one start";
    EXPECT_GE(b.log_posterior(), a.log_posterior() - 1e-6);
    for (size_t j = 0; j < 3; ++j)
      EXPECT_NEAR(std::log(b.hyper().lengthscale[j]), std::log(a.hyper().lengthscale[j]), 1e-2) << "coord " << j;
    // A warm start from another model (other d) or garbage is ignored: the fit is the cold one.
    GpModel c(o), cold(o);
    warm.warm_start = json{{"model", "gp"}, {"d", 5}, {"lengthscale", {1, 2}}};
    c.fit(warm);
    cold.fit(in);
    EXPECT_EQ(c.state(), cold.state());
    warm.warm_start = "not a state";
    EXPECT_NO_THROW(c.fit(warm));
  }
}

TEST(GpModel, ColdFitOnASubsetReachesTheFullFitsOptimum) {
  std::mt19937_64 rng(22);
  FitInput in;
  in.X = random_matrix(90, 3, rng);
  for (size_t i = 0; i < 90; ++i)
    in.y.push_back(std::sin(4.0 * in.X(i, 0)) + 0.5 * in.X(i, 1) * in.X(i, 1) + 0.1 * std::cos(9.0 * in.X(i, 2)));
  in.seed = 23;
  GpOptions full_options, subset_options;
  subset_options.subset_size = 30;
  GpModel full(full_options), subset(subset_options);
  full.fit(in);
  subset.fit(in);
  EXPECT_GE(subset.log_posterior(), full.log_posterior() - 1.0)
      << "subset " << subset.log_posterior() << " vs full " << full.log_posterior();
  EXPECT_NEAR(std::log(subset.hyper().lengthscale[0]), std::log(full.hyper().lengthscale[0]), 0.3);
}

TEST(GpModel, WarpedFitIsNeverWorseThanTheUnwarpedOne) {
  // The warped search also starts from the unwarped optimum with the identity warp, whose prior terms are 0,
  // so its log posterior is at least the unwarped one (on the subset path too).
  for (size_t subset : {300u, 40u}) {
    FitInput in = mixed_input(80, 25);
    GpOptions plain_options, warp_options;
    warp_options.warping = true;
    plain_options.subset_size = warp_options.subset_size = static_cast<int>(subset);
    GpModel plain(plain_options), warped(warp_options);
    plain.fit(in);
    warped.fit(in);
    EXPECT_GE(warped.log_posterior(), plain.log_posterior() - 1e-9) << "subset " << subset;
  }
}

TEST(GpModel, WarmFitEvaluationsFollowTheBudget) {
  FitInput in = mixed_input(40, 24);
  GpOptions o;
  o.warm_budget = 10.0 * 40 * 40 * 40;  // 10 evaluations of n = 40
  GpModel a(o);
  a.fit(in);
  in.warm_start = a.state();
  GpModel b(o);
  b.fit(in);
  EXPECT_LE(b.fit_evaluations(), 10);
  EXPECT_GE(b.fit_evaluations(), 1);
}

// ---- The plugin ------------------------------------------------------------------------------------------

TEST(GpPlugin, ParametersAreValidatedAndReachTheModel) {
  auto& registry = PluginRegistry::global();
  EXPECT_THROW(registry.make_surrogate("gp", {{"n_restarts", 0}}), ConfigError);
  EXPECT_THROW(registry.make_surrogate("gp", {{"fit_tolerance", 0.0}}), ConfigError);
  EXPECT_THROW(registry.make_surrogate("gp", {{"no_such_parameter", 1}}), ConfigError);
  FitInput in = mixed_input(20, 26);
  auto det = registry.make_surrogate("gp", {{"deterministic", true}});
  det->fit(in);
  double var = 0.0, mean = 0.0;
  for (double v : in.y) mean += v / 20;
  for (double v : in.y) var += (v - mean) * (v - mean) / 20;
  EXPECT_NEAR(det->noise_variance(), 1e-6 * var, 1e-12 * var);
  EXPECT_TRUE(det->has_gradient());
  EXPECT_TRUE(det->has_joint_samples());
  auto warped = registry.make_surrogate("gp", {{"warping", true}});
  warped->fit(in);
  EXPECT_TRUE(warped->state().contains("warp_a"));
  EXPECT_FALSE(det->state().contains("warp_a"));
}

// ---- Bad input -------------------------------------------------------------------------------------------

TEST(GpModel, NonFiniteInputsAreValueErrors) {
  FitInput in = mixed_input(5, 19);
  GpModel m;
  in.y[2] = NAN;
  EXPECT_THROW(m.fit(in), ValueError);
  in = mixed_input(5, 19);
  in.X(1, 0) = INFINITY;
  EXPECT_THROW(m.fit(in), ValueError);
  EXPECT_THROW(m.condition_on(Matrix(1, 3), {NAN}), ValueError);
}

TEST(GpModel, DuplicatePointsWithoutNoiseNeedJitterAndStayFinite) {
  FitInput in = mixed_input(8, 20);
  for (size_t i = 4; i < 8; ++i)
    for (size_t j = 0; j < 3; ++j) in.X(i, j) = in.X(i - 4, j);
  Hyper h = mixed_hyper(false);
  h.noise = 0.0;  // K is exactly singular: the jitter escalation must step in
  GpModel m;
  ASSERT_NO_THROW(m.fit_fixed(in.dims, in.X, in.y, h, 5.0, 1.0));
  Prediction p = m.predict(in.X);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_TRUE(std::isfinite(p.mean[i]));
    EXPECT_TRUE(std::isfinite(p.variance[i]));
  }
  GpOptions o;
  o.deterministic = true;
  GpModel det(o);
  ASSERT_NO_THROW(det.fit(in));
  EXPECT_NEAR(det.noise_variance(), 1e-6 * det.y_std() * det.y_std(), 1e-18);
}

TEST(GpModel, DegenerateShapesGiveFinitePredictions) {
  std::mt19937_64 rng(21);
  struct Case {
    size_t n, d;
    bool categorical;
  };
  for (Case c : {Case{0, 3, false}, Case{1, 3, false}, Case{2, 1, false}, Case{20, 1, false}, Case{20, 2, true},
                 Case{50, 60, false}}) {
    FitInput in;
    in.X = random_matrix(c.n, c.d, rng);
    if (c.categorical) {
      in.dims.assign(c.d, Dimension{DimensionKind::kCategorical, 3});
      for (size_t j = 0; j < c.d; ++j) snap(in.X, j, 3);
    }
    for (size_t i = 0; i < c.n; ++i) in.y.push_back(std::cos(7.0 * in.X(i, 0)) + (c.n == 20 && i % 2 ? 1.0 : 0.0));
    for (bool warping : {false, true}) {
      GpOptions o;
      o.warping = warping;
      GpModel m(o);
      ASSERT_NO_THROW(m.fit(in)) << "n=" << c.n << " d=" << c.d;
      Matrix Q = random_matrix(5, c.d, rng);
      if (c.categorical)
        for (size_t j = 0; j < c.d; ++j) snap(Q, j, 3);
      Prediction p = m.predict(Q);
      Matrix s = m.sample(Q, 3, rng);
      for (size_t i = 0; i < 5; ++i) {
        EXPECT_TRUE(std::isfinite(p.mean[i]) && std::isfinite(p.variance[i]) && p.variance[i] >= 0)
            << "n=" << c.n << " d=" << c.d << " warping " << warping;
        PointPrediction g = m.predict_with_gradient(Q.row(i));
        for (size_t j = 0; j < c.d; ++j) EXPECT_TRUE(std::isfinite(g.dmean[j]) && std::isfinite(g.dvariance[j]));
      }
      for (double v : s.data) EXPECT_TRUE(std::isfinite(v));
    }
  }
}

// ---- The nngp kernel ---------------------------------------------------------------------------------------

// Cho & Saul (2009), the arc-cosine kernel of order 1: k(x, y) = (1/π) |x| |y| (sin θ + (π − θ) cos θ).
double cho_saul_order1(const Eigen::VectorXd& x, const Eigen::VectorXd& y) {
  const double nx = x.norm(), ny = y.norm();
  const double theta = std::acos(std::clamp(x.dot(y) / (nx * ny), -1.0, 1.0));
  return nx * ny * (std::sin(theta) + (std::numbers::pi - theta) * std::cos(theta)) / std::numbers::pi;
}

TEST(NngpKernel, DepthOneWithoutBiasIsTheArcCosineKernelOfOrderOne) {
  std::vector<Dimension> dims(3);
  Hyper h;
  h.lengthscale = {1.0, 0.5, 2.0};
  h.signal = 1.0;
  h.bias = 0.0;
  std::mt19937_64 rng(31);
  Matrix A = random_matrix(6, 3, rng);
  Eigen::MatrixXd E(6, 3);
  for (size_t i = 0; i < 6; ++i)
    for (size_t j = 0; j < 3; ++j) E(i, j) = A(i, j);
  Eigen::MatrixXd K = nngp_kernel(dims, h, 1, E, E);
  Eigen::VectorXd diag = nngp_diagonal(dims, h, 1, E);
  for (int i = 0; i < 6; ++i) {
    Eigen::VectorXd xi = (E.row(i).array() - 0.5).matrix().transpose().cwiseQuotient(Eigen::Vector3d(1.0, 0.5, 2.0));
    EXPECT_NEAR(diag[i], xi.squaredNorm(), 1e-12);  // k(x, x) = |x|² (θ = 0)
    for (int k = 0; k < 6; ++k) {
      Eigen::VectorXd xk = (E.row(k).array() - 0.5).matrix().transpose().cwiseQuotient(Eigen::Vector3d(1.0, 0.5, 2.0));
      EXPECT_NEAR(K(i, k), cho_saul_order1(xi, xk), 1e-12) << i << ", " << k;
    }
  }
}

// The kernel of depth 2 is the covariance of the output of a ReLU network with two wide hidden layers:
// h¹ = W¹u + b¹ (W¹_kj ~ N(0, 1/ℓ_j²), b ~ N(0, σ_b²)), h² = W² relu(h¹) + b² (W² ~ N(0, 2/N)), and
// K² = σ_b² + (2/N) Σ_k relu(h²_k(x)) relu(h²_k(x')). A Monte-Carlo estimate with N = 3000 units per layer
// agrees within a few per cent of the diagonal (the estimate's relative sd is about √(2/N) ≈ 2.6 %).
TEST(NngpKernel, DepthTwoMatchesAMonteCarloReLUNetwork) {
  std::vector<Dimension> dims = {{DimensionKind::kContinuous, 0}, {DimensionKind::kContinuous, 0},
                                 {DimensionKind::kCategorical, 3}};
  Hyper h;
  h.lengthscale = {0.4, 0.8, 1.5};
  h.signal = 1.0;
  h.bias = 0.3;
  Eigen::MatrixXd E(5, 3);
  E << 0.1, 0.9, 1.0 / 6, 0.5, 0.5, 0.5, 0.8, 0.2, 5.0 / 6, 0.3, 0.35, 1.0 / 6, 0.95, 0.05, 0.5;
  Eigen::MatrixXd K = nngp_kernel(dims, h, 2, E, E);
  const int N = 3000;
  std::mt19937_64 rng(32);
  std::normal_distribution<double> normal;
  // Inputs of the first layer: centred continuous coordinates, one-hot categorical (3 columns).
  Eigen::MatrixXd U(6, 5);
  for (int i = 0; i < 5; ++i) {
    U(0, i) = E(i, 0) - 0.5;
    U(1, i) = E(i, 1) - 0.5;
    for (int c = 0; c < 3; ++c) U(2 + c, i) = std::floor(E(i, 2) * 3) == c ? 1.0 : 0.0;
  }
  const double input_sd[6] = {1 / 0.4, 1 / 0.8, 1 / 1.5, 1 / 1.5, 1 / 1.5, 0};
  Eigen::MatrixXd W1(N, 6), W2(N, N);
  for (int k = 0; k < N; ++k)
    for (int j = 0; j < 6; ++j) W1(k, j) = input_sd[j] * normal(rng);
  for (int k = 0; k < N; ++k)
    for (int j = 0; j < N; ++j) W2(k, j) = std::sqrt(2.0 / N) * normal(rng);
  Eigen::VectorXd b1(N), b2(N);
  for (int k = 0; k < N; ++k) b1[k] = std::sqrt(h.bias) * normal(rng);
  for (int k = 0; k < N; ++k) b2[k] = std::sqrt(h.bias) * normal(rng);
  Eigen::MatrixXd H1 = ((W1 * U).colwise() + b1).cwiseMax(0.0);
  Eigen::MatrixXd H2 = ((W2 * H1).colwise() + b2).cwiseMax(0.0);
  Eigen::MatrixXd mc = (2.0 / N) * H2.transpose() * H2;
  mc.array() += h.bias;
  for (int i = 0; i < 5; ++i)
    for (int k = 0; k < 5; ++k)
      EXPECT_NEAR(K(i, k), mc(i, k), 0.06 * std::sqrt(K(i, i) * K(k, k))) << i << ", " << k;
}

TEST(MapObjective, NngpGradientMatchesFiniteDifferences) {
  FitInput in = mixed_input(15, 33);
  GpOptions o;
  o.nngp = true;
  // Input weight variances 1/ℓ² >= 11 (ℓ <= 0.3): with larger ℓ the kernel is nearly constant on the cube,
  // K needs jitter and finite differences step across jitter levels.
  check_gradient(o, in, 34, 0.3);
  o.nngp_depth = 3;
  o.deterministic = true;
  check_gradient(o, in, 35, 0.3);
  in.dims[1] = {DimensionKind::kContinuous, 0};
  o = GpOptions{};
  o.nngp = true;
  o.warping = true;
  check_gradient(o, in, 36, 0.3);
}

TEST(GpModel, NngpPosteriorIsTheClosedFormAndItsGradientMatchesFiniteDifferences) {
  GpOptions o;
  o.nngp = true;
  GpModel model(o);
  FitInput in = mixed_input(12, 37);
  Hyper h = mixed_hyper(false);
  h.bias = 0.4;
  model.fit_fixed(in.dims, in.X, in.y, h, 5.0, 2.0);
  std::mt19937_64 rng(38);
  Matrix Q = random_matrix(5, 3, rng);
  snap(Q, 1, 4);
  snap(Q, 2, 3);
  // Closed form from the kernel matrices.
  auto eig = [](const Matrix& M) {
    Eigen::MatrixXd E(M.rows, M.cols);
    for (size_t i = 0; i < M.rows; ++i)
      for (size_t j = 0; j < M.cols; ++j) E(i, j) = M(i, j);
    return E;
  };
  Eigen::MatrixXd X = eig(in.X), Xq = eig(Q);
  Eigen::MatrixXd K = nngp_kernel(in.dims, h, 2, X, X), Kq = nngp_kernel(in.dims, h, 2, X, Xq);
  Eigen::MatrixXd Kqq = nngp_kernel(in.dims, h, 2, Xq, Xq);
  K.diagonal().array() += h.noise;
  Eigen::VectorXd z(12);
  for (int i = 0; i < 12; ++i) z[i] = (in.y[static_cast<size_t>(i)] - 5.0) / 2.0;
  Eigen::VectorXd mean = Kq.transpose() * K.ldlt().solve(z);
  Eigen::MatrixXd cov = Kqq - Kq.transpose() * K.ldlt().solve(Kq);
  Prediction p = model.predict(Q);
  for (size_t i = 0; i < Q.rows; ++i) {
    EXPECT_NEAR(p.mean[i], 5.0 + 2.0 * mean[static_cast<Eigen::Index>(i)], 1e-8);
    EXPECT_NEAR(p.variance[i], 4.0 * cov(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(i)), 1e-8);
  }
  for (size_t i = 0; i < Q.rows; ++i) {
    Q(i, 0) = 0.05 + 0.9 * Q(i, 0);
    PointPrediction g = model.predict_with_gradient(Q.row(i));
    EXPECT_EQ(g.dmean[2], 0.0) << "categorical coordinate";
    for (size_t j = 0; j < 2; ++j) {
      const double step = 1e-6;
      Matrix pm(2, 3);
      for (size_t c = 0; c < 3; ++c) pm(0, c) = pm(1, c) = Q(i, c);
      pm(0, j) += step;
      pm(1, j) -= step;
      Prediction pp = model.predict(pm);
      double fd_mean = (pp.mean[0] - pp.mean[1]) / (2 * step), fd_var = (pp.variance[0] - pp.variance[1]) / (2 * step);
      EXPECT_NEAR(g.dmean[j], fd_mean, 1e-6 * (1.0 + std::fabs(fd_mean))) << "coord " << j;
      EXPECT_NEAR(g.dvariance[j], fd_var, 1e-6 * (1.0 + std::fabs(fd_var))) << "coord " << j;
    }
  }
}

TEST(GpModel, NngpStateRoundTripsAndIsNotUsedByMatern) {
  GpOptions o;
  o.nngp = true;
  GpModel a(o);
  FitInput in = mixed_input(20, 39);
  a.fit(in);
  json st = a.state();
  EXPECT_EQ(st.value("kernel", ""), "nngp");
  EXPECT_GT(st.value("bias", 0.0), 0.0);
  FitInput warm = in;
  warm.warm_start = json::parse(st.dump());
  GpModel b(o);
  b.fit(warm);
  EXPECT_NEAR(b.hyper().bias, a.hyper().bias, 1e-3 * a.hyper().bias + 1e-6);
  GpModel matern;
  matern.fit(warm);  // an nngp state is no warm start for Matérn: a cold fit, same as without it
  GpModel matern_cold;
  matern_cold.fit(in);
  EXPECT_EQ(matern.state().dump(), matern_cold.state().dump());
}

TEST(GpPlugin, KernelParametersAreValidatedAndReachTheModel) {
  auto& reg = PluginRegistry::global();
  EXPECT_THROW(reg.make_surrogate("gp", {{"kernel", "rbf"}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("gp", {{"kernel", "nngp"}, {"nngp_depth", 0}}), ConfigError);
  auto s = reg.make_surrogate("gp", {{"kernel", "nngp"}, {"nngp_depth", 3}});
  s->fit(mixed_input(10, 40));
  EXPECT_EQ(s->state().value("kernel", ""), "nngp");
  EXPECT_EQ(s->state().value("depth", 0), 3);
}

TEST(GpModel, NngpFitsANonStationaryFunctionBetterThanTheMean) {
  // |x − 0.3| · 4 + a kink: a ReLU-network prior has the right shape.
  GpOptions o;
  o.nngp = true;
  GpModel model(o);
  FitInput in;
  in.X = Matrix(20, 1);
  in.y.resize(20);
  for (size_t i = 0; i < 20; ++i) {
    in.X(i, 0) = (static_cast<double>(i) + 0.5) / 20.0;
    in.y[i] = 4.0 * std::fabs(in.X(i, 0) - 0.3);
  }
  model.fit(in);
  Matrix Q(50, 1);
  for (size_t i = 0; i < 50; ++i) Q(i, 0) = (static_cast<double>(i) + 0.5) / 50.0;
  Prediction p = model.predict(Q);
  double se = 0.0;
  for (size_t i = 0; i < 50; ++i) se += std::pow(p.mean[i] - 4.0 * std::fabs(Q(i, 0) - 0.3), 2) / 50.0;
  EXPECT_LT(std::sqrt(se), 0.05);  // sd of the function: ~0.8
}

}  // namespace
}  // namespace bbo::gp

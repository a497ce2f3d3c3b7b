// Tests of the lockstep batched L-BFGS (surrogates/gp/batch_lbfgs.h): known minima (quadratic, Rosenbrock),
// active bounds, one objective call per round, independence of the starts, determinism, non-finite values,
// and on the GP's MapObjective against the NLopt fit of GpModel.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "bbo/error.h"
#include "surrogates/gp/batch_lbfgs.h"
#include "surrogates/gp/gp_core.h"

namespace bbo::gp {
namespace {

// f(x) = Σ a_i (x_i − c_i)², a_i = 1 + i (an ill-scaled bowl).
BatchObjective quadratic(const std::vector<double>& c, int* calls = nullptr, std::vector<size_t>* sizes = nullptr) {
  return [c, calls, sizes](const double* X, size_t B, double* f, double* g) {
    const size_t P = c.size();
    if (calls) ++*calls;
    if (sizes) sizes->push_back(B);
    for (size_t b = 0; b < B; ++b) {
      f[b] = 0.0;
      for (size_t i = 0; i < P; ++i) {
        const double a = 1.0 + static_cast<double>(i), r = X[b * P + i] - c[i];
        f[b] += a * r * r;
        g[b * P + i] = 2.0 * a * r;
      }
    }
  };
}

// Rosenbrock in P dimensions, minimum 0 at (1, …, 1).
void rosenbrock(const double* X, size_t B, double* f, double* g, size_t P) {
  for (size_t b = 0; b < B; ++b) {
    const double* x = X + b * P;
    double* gb = g + b * P;
    f[b] = 0.0;
    for (size_t i = 0; i < P; ++i) gb[i] = 0.0;
    for (size_t i = 0; i + 1 < P; ++i) {
      const double u = x[i + 1] - x[i] * x[i], v = 1.0 - x[i];
      f[b] += 100.0 * u * u + v * v;
      gb[i] += -400.0 * u * x[i] - 2.0 * v;
      gb[i + 1] += 200.0 * u;
    }
  }
}

BatchLbfgsOptions tight(int evals) {
  BatchLbfgsOptions o;
  o.max_evals = evals;
  o.ftol_abs = 1e-15;
  o.xtol_rel = 1e-12;
  return o;
}

TEST(BatchLbfgs, QuadraticReachesTheKnownMinimumFromEveryStart) {
  const std::vector<double> c = {0.3, -1.2, 2.0, 0.7};
  const std::vector<double> lo(4, -10.0), hi(4, 10.0);
  const std::vector<std::vector<double>> starts = {{0, 0, 0, 0}, {5, 5, -5, 5}, {-9, 9, -9, 9}};
  auto res = batch_lbfgs_minimize(quadratic(c), starts, lo, hi, tight(200));
  ASSERT_EQ(res.size(), 3u);
  for (const auto& r : res) {
    ASSERT_EQ(r.x.size(), 4u);
    for (size_t i = 0; i < 4; ++i) EXPECT_NEAR(r.x[i], c[i], 1e-6);
    EXPECT_LT(r.f, 1e-11);
    EXPECT_LE(r.evals, 200);
  }
}

TEST(BatchLbfgs, RosenbrockReachesItsMinimum) {
  for (size_t P : {2u, 5u}) {
    const std::vector<double> lo(P, -5.0), hi(P, 5.0);
    std::vector<std::vector<double>> starts = {std::vector<double>(P, -1.2), std::vector<double>(P, 0.0)};
    starts[0][P - 1] = 1.0;
    auto f = [P](const double* X, size_t B, double* v, double* g) { rosenbrock(X, B, v, g, P); };
    auto res = batch_lbfgs_minimize(f, starts, lo, hi, tight(2000));
    for (const auto& r : res) {
      EXPECT_LT(r.f, 1e-10) << "P = " << P;
      for (double x : r.x) EXPECT_NEAR(x, 1.0, 1e-4) << "P = " << P;
    }
  }
}

TEST(BatchLbfgs, ActiveBoundsGiveTheClampedMinimum) {
  // The unconstrained minimum (2, −3, 0.5) lies outside [−1, 1]³ in two coordinates: the box minimum of a
  // separable bowl is its clamp.
  const std::vector<double> c = {2.0, -3.0, 0.5};
  const std::vector<double> lo(3, -1.0), hi(3, 1.0);
  auto res = batch_lbfgs_minimize(quadratic(c), {{0, 0, 0}, {-1, 1, -1}, {7, 7, 7}}, lo, hi, tight(200));
  for (const auto& r : res) {
    EXPECT_EQ(r.x[0], 1.0);
    EXPECT_EQ(r.x[1], -1.0);
    EXPECT_NEAR(r.x[2], 0.5, 1e-7);
  }
}

TEST(BatchLbfgs, EachRoundIsOneCallAndStartsAreIndependentOfTheBatch) {
  const std::vector<double> c = {0.3, -1.2, 2.0};
  const std::vector<double> lo(3, -10.0), hi(3, 10.0);
  const std::vector<std::vector<double>> starts = {{0, 0, 0}, {5, 5, -5}, {-9, 9, -9}, {0.3, -1.2, 1.0}};
  int calls = 0;
  std::vector<size_t> sizes;
  auto all = batch_lbfgs_minimize(quadratic(c, &calls, &sizes), starts, lo, hi, tight(100));
  ASSERT_FALSE(sizes.empty());
  EXPECT_EQ(sizes.front(), starts.size());  // round 0: every start point in one call
  int max_evals = 0, total = 0;
  for (const auto& r : all) {
    max_evals = std::max(max_evals, r.evals);
    total += r.evals;
  }
  EXPECT_EQ(calls, max_evals);  // one call per round; the longest start needs every round
  size_t batched = 0;
  for (size_t s : sizes) batched += s;
  EXPECT_EQ(static_cast<int>(batched), total);
  // Each start, run alone, gives bit-for-bit the same result as in the batch.
  for (size_t s = 0; s < starts.size(); ++s) {
    auto alone = batch_lbfgs_minimize(quadratic(c), {starts[s]}, lo, hi, tight(100));
    EXPECT_EQ(alone[0].x, all[s].x);
    EXPECT_EQ(alone[0].f, all[s].f);
    EXPECT_EQ(alone[0].evals, all[s].evals);
  }
}

TEST(BatchLbfgs, DeterministicAndWithinTheEvaluationBudget) {
  const size_t P = 4;
  auto f = [P](const double* X, size_t B, double* v, double* g) { rosenbrock(X, B, v, g, P); };
  const std::vector<double> lo(P, -5.0), hi(P, 5.0);
  const std::vector<std::vector<double>> starts = {{-1.2, 1, -1.2, 1}, {3, -3, 3, -3}};
  BatchLbfgsOptions o = tight(25);
  auto a = batch_lbfgs_minimize(f, starts, lo, hi, o);
  auto b = batch_lbfgs_minimize(f, starts, lo, hi, o);
  for (size_t s = 0; s < starts.size(); ++s) {
    EXPECT_EQ(a[s].x, b[s].x);
    EXPECT_EQ(a[s].f, b[s].f);
    EXPECT_LE(a[s].evals, 25);
    EXPECT_GE(a[s].evals, 2);
  }
}

TEST(BatchLbfgs, NonFiniteValuesMakeTheLineSearchBackOff) {
  // f = (x + 1)² where x ≥ −0.5, NaN below: the best point is on the finite side, near −0.5.
  auto f = [](const double* X, size_t B, double* v, double* g) {
    for (size_t b = 0; b < B; ++b) {
      v[b] = X[b] >= -0.5 ? (X[b] + 1) * (X[b] + 1) : std::numeric_limits<double>::quiet_NaN();
      g[b] = 2 * (X[b] + 1);
    }
  };
  auto res = batch_lbfgs_minimize(f, {{3.0}}, {-10.0}, {10.0}, tight(60));
  ASSERT_EQ(res[0].x.size(), 1u);
  EXPECT_GE(res[0].x[0], -0.5);
  EXPECT_LT(res[0].x[0], -0.45);
  EXPECT_TRUE(std::isfinite(res[0].f));
}

TEST(BatchLbfgs, BadArgumentsAreValueErrors) {
  auto f = quadratic({0.0, 0.0});
  EXPECT_THROW(batch_lbfgs_minimize(f, {{0.0}}, {-1, -1}, {1, 1}), ValueError);
  EXPECT_THROW(batch_lbfgs_minimize(f, {{0.0, 0.0}}, {-1, -1}, {1}), ValueError);
  EXPECT_THROW(batch_lbfgs_minimize(f, {{0.0, 0.0}}, {-1, 2}, {1, 1}), ValueError);
  BatchLbfgsOptions o;
  o.max_evals = 0;
  EXPECT_THROW(batch_lbfgs_minimize(f, {{0.0, 0.0}}, {-1, -1}, {1, 1}, o), ValueError);
  EXPECT_TRUE(batch_lbfgs_minimize(f, {}, {-1, -1}, {1, 1}).empty());
}

// On the GP's log posterior (MapObjective, CPU), the batched search from the prior median and prior draws
// reaches the log posterior of GpModel's NLopt fit: that is how the GPU path fits (with the likelihood from
// the device), so this checks its optimizer and its stopping rule.
TEST(BatchLbfgs, GpMapObjectiveReachesTheNloptFit) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const size_t n = 80;
  FitInput in;
  in.dims = {{DimensionKind::kContinuous, 0}, {DimensionKind::kContinuous, 0}, {DimensionKind::kCategorical, 3}};
  in.X = Matrix(n, 3);
  in.y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    in.X(i, 0) = u(rng);
    in.X(i, 1) = u(rng);
    in.X(i, 2) = (std::floor(3 * u(rng)) + 0.5) / 3;
    in.y[i] = std::sin(6 * in.X(i, 0)) + 0.3 * in.X(i, 1) + (in.X(i, 2) < 0.4 ? 0.5 : 0.0) + 0.05 * u(rng);
  }
  in.seed = 3;
  GpOptions o;
  GpModel model(o);
  model.fit(in);
  Eigen::MatrixXd X(n, 3);
  Eigen::VectorXd z(n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < 3; ++j) X(i, j) = in.X(i, j);
    z[i] = (in.y[i] - model.y_mean()) / model.y_std();
  }
  MapObjective obj(in.dims, X, z, o);
  std::vector<double> lo, hi;
  obj.bounds(lo, hi);
  std::mt19937_64 draws(11);
  std::vector<std::vector<double>> starts = {obj.prior_start(nullptr)};
  for (int k = 0; k < 3; ++k) starts.push_back(obj.prior_start(&draws));
  const size_t P = obj.size();
  auto f = [&](const double* T, size_t B, double* v, double* g) {
    for (size_t b = 0; b < B; ++b) {
      v[b] = -obj.value(T + b * P, g + b * P);
      for (size_t i = 0; i < P; ++i) g[b * P + i] = -g[b * P + i];
    }
  };
  BatchLbfgsOptions bo;
  bo.max_evals = o.max_fit_evals;
  bo.ftol_abs = o.fit_tolerance;
  auto res = batch_lbfgs_minimize(f, starts, lo, hi, bo);
  double best = -std::numeric_limits<double>::infinity();
  for (const auto& r : res) best = std::max(best, -r.f);
  // Both stop when a step gains < fit_tolerance (1e-3); they agree to ~4e-6 here.
  EXPECT_NEAR(best, model.log_posterior(), 1e-3);
}

}  // namespace
}  // namespace bbo::gp

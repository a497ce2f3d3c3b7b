// Tests of the `cmaes` strategy: the CMA-ES engine alone (convergence rates against Hansen's reference
// figures, bounds, margin, IPOP, separable variant, state round trip) and the plugin through Study.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <random>

#include "bbo/plugin.h"
#include "bbo/study.h"
#include "plugins/cmaes/cmaes_core.h"
#include "strategy_conformance.h"

INSTANTIATE_TEST_SUITE_P(Cmaes, StrategyConformance,
                         // popsize 8: the suite asks batches of 4, and a population strategy can only hand
                         // out the points left in the current generation (then it re-issues pending ones).
                         ::testing::Values(bbo::testing::StrategyCase{"cmaes", {{"popsize", 8}}},
                                           bbo::testing::StrategyCase{"cmaes", {{"separable", true}, {"popsize", 8}}},
                                           bbo::testing::StrategyCase{"cma", {{"popsize", 4}, {"restart", "none"}}}),
                         bbo::testing::StrategyCaseName);

namespace bbo::cmaes {
namespace {

using Fn = std::function<double(const std::vector<double>&)>;

struct RunResult {
  double best = HUGE_VAL;
  int64_t evals = 0;     // evaluations until best < target (or the budget)
  bool reached = false;
};

// Runs the engine on f until f < target or `budget` evaluations.
RunResult run(CmaEs& es, const Fn& f, double target, int64_t budget, uint64_t seed, const BinFunction& bins = {}) {
  std::mt19937_64 rng(seed);
  RunResult r;
  while (r.evals < budget) {
    auto xs = es.ask(rng);
    std::vector<double> ys;
    for (const auto& x : xs) {
      ys.push_back(f(mirror_into_cube(x)));
      ++r.evals;
      r.best = std::min(r.best, ys.back());
      if (r.best < target) {
        r.reached = true;
        return r;
      }
    }
    es.tell(xs, ys, rng, bins);
  }
  return r;
}

double sphere(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += (v - 0.4) * (v - 0.4);
  return s;
}

// Ellipsoid with condition 1e6 in a fixed random rotation, optimum at 0.45 in every coordinate.
Fn rotated_ellipsoid(int d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> n;
  Eigen::MatrixXd m(d, d);
  for (int i = 0; i < d; ++i)
    for (int j = 0; j < d; ++j) m(i, j) = n(rng);
  Eigen::HouseholderQR<Eigen::MatrixXd> qr(m);
  Eigen::MatrixXd q = qr.householderQ();
  return [q, d](const std::vector<double>& x) {
    Eigen::VectorXd v(d);
    for (int i = 0; i < d; ++i) v[i] = x[i] - 0.45;
    Eigen::VectorXd z = q * v;
    double s = 0;
    for (int i = 0; i < d; ++i) s += std::pow(1e6, d > 1 ? i / (d - 1.0) : 0.0) * z[i] * z[i];
    return s;
  };
}

CmaOptions no_restart() {
  CmaOptions o;
  o.ipop = false;
  return o;
}

TEST(CmaEsCore, DefaultStrategyParametersAreHansens) {
  EXPECT_EQ(default_popsize(2), 6);
  EXPECT_EQ(default_popsize(10), 10);
  EXPECT_EQ(default_popsize(100), 17);
  CmaEs es(no_restart(), std::vector<double>(10, 0.5));
  EXPECT_EQ(es.popsize(), 10);
  EXPECT_EQ(es.sigma(), 1.0 / 6);
}

// Reference: Hansen's `cmaes` Python library 0.9.1 (the engine of Optuna's CmaEsSampler), same start (mean 0.7,
// sigma 0.2, optimum 0.4, default lambda = 10), needs 1,460-1,570 evaluations to f < 1e-10 (seeds 0-4);
// this engine 1,230-1,440 with orthogonal sampling. The bound allows 1.5x the reference.
TEST(CmaEsCore, SphereInTenDimensionsConvergesAtTheReferenceRate) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    CmaOptions o = no_restart();
    o.sigma0 = 0.2;
    CmaEs es(o, std::vector<double>(10, 0.7));
    RunResult r = run(es, sphere, 1e-10, 10000, seed);
    ASSERT_TRUE(r.reached) << "seed " << seed << " best " << r.best;
    EXPECT_LT(r.evals, 2200) << "seed " << seed;
    EXPECT_GT(r.evals, 800) << "seed " << seed << ": faster than any (mu/mu_w, lambda)-ES can be";
  }
}

// Learning a full covariance with condition 1e6 costs of the order of 10 d^2 evaluations beyond the sphere:
// the `cmaes` library takes 2,870-3,120 evaluations to 1e-10 on this 8-D rotated ellipsoid (sigma 1/6, mean
// 0.6, seeds 0-4), this engine 2,430-2,900. The bound allows 1.5x the reference.
TEST(CmaEsCore, RotatedEllipsoidConvergesOnceTheCovarianceIsLearned) {
  const int d = 8;
  Fn f = rotated_ellipsoid(d, 42);
  for (uint64_t seed : {1u, 2u}) {
    CmaEs es(no_restart(), std::vector<double>(d, 0.6));
    RunResult r = run(es, f, 1e-10, 20000, seed);  // sigma0 = 1/6 (default)
    ASSERT_TRUE(r.reached) << "seed " << seed << " best " << r.best;
    EXPECT_LT(r.evals, 4500) << "seed " << seed;
    // The learned C is ill-conditioned like the Hessian (condition ~ 1e6).
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(es.cov());
    EXPECT_GT(eig.eigenvalues().maxCoeff() / eig.eigenvalues().minCoeff(), 1e4);
  }
}

TEST(CmaEsCore, SeparableVariantConvergesOnAnAxisParallelEllipsoidInHighDimension) {
  const int d = 40;
  Fn f = [](const std::vector<double>& x) {
    double s = 0;
    for (size_t i = 0; i < x.size(); ++i) s += std::pow(1e3, i / (x.size() - 1.0)) * std::pow(x[i] - 0.3, 2);
    return s;
  };
  CmaOptions o = no_restart();
  o.separable = true;
  CmaEs sep(o, std::vector<double>(d, 0.5));
  RunResult rs = run(sep, f, 1e-8, 30000, 7);
  EXPECT_TRUE(rs.reached) << rs.best;
  CmaEs full(no_restart(), std::vector<double>(d, 0.5));
  RunResult rf = run(full, f, 1e-8, rs.evals, 7);
  // On a separable problem the diagonal model learns (d + 2) / 3 times faster: the full model is not there
  // yet with the same budget.
  EXPECT_GT(rf.best, 1e-8);
  // The separable covariance stays diagonal.
  EXPECT_EQ((sep.cov() - Eigen::MatrixXd(sep.cov().diagonal().asDiagonal())).norm(), 0.0);
}

TEST(CmaEsCore, SamplesStayInsideAndConvergeToAnOptimumOnTheBoundary) {
  // Optimum at x = 0 (the unconstrained one at -0.3 is outside the cube).
  Fn f = [](const std::vector<double>& x) {
    double s = 0;
    for (double v : x) s += (v + 0.3) * (v + 0.3);
    return s;
  };
  for (bool resample : {true, false}) {
  CmaOptions o = no_restart();
  o.resample = resample;
  CmaEs es(o, std::vector<double>(5, 0.5));
  std::mt19937_64 rng(3);
  for (int g = 0; g < 150; ++g) {
    auto xs = es.ask(rng);
    std::vector<double> ys;
    for (const auto& raw : xs) {
      const std::vector<double> x = mirror_into_cube(raw);
      for (double v : x) {
        ASSERT_GE(v, 0.0);
        ASSERT_LE(v, 1.0);
      }
      ys.push_back(f(x));
    }
    es.tell(xs, ys, rng);
  }
  // Converging, not diverging (clipping repairs make sigma explode here, as they do in the `cmaes` library).
  for (int j = 0; j < 5; ++j) EXPECT_LT(mirror_into_cube(es.mean()[j]), 1e-3) << j << " resample " << resample;
  EXPECT_LT(es.sigma(), 1e-2) << "resample " << resample;
  }
}

TEST(CmaEsCore, MirrorReflectsAtBothFaces) {
  EXPECT_EQ(mirror_into_cube(0.3), 0.3);
  EXPECT_DOUBLE_EQ(mirror_into_cube(-0.25), 0.25);
  EXPECT_DOUBLE_EQ(mirror_into_cube(1.25), 0.75);
  EXPECT_DOUBLE_EQ(mirror_into_cube(2.25), 0.25);
  EXPECT_DOUBLE_EQ(mirror_into_cube(-1.75), 0.25);
  EXPECT_EQ(mirror_into_cube(1.0), 1.0);
}

TEST(CmaEsCore, StateRoundTripsThroughJsonExactly) {
  Fn f = rotated_ellipsoid(4, 1);
  for (bool separable : {false, true}) {
    CmaOptions o;
    o.separable = separable;
    CmaEs es(o, {0.1, 0.9, 0.5, 0.3}, {false, true, false, true});
    BinFunction bins = [](size_t, double u) {
      const double k = std::min(std::floor(u * 4), 3.0);
      return std::pair{k / 4, (k + 1) / 4};
    };
    run(es, f, -1, 40, 5, bins);
    CmaEs copy = CmaEs::from_json(json::parse(es.to_json().dump()));
    EXPECT_EQ(copy.to_json(), es.to_json());
    std::mt19937_64 a(9), b(9);
    EXPECT_EQ(es.ask(a), copy.ask(b));
  }
}

TEST(CmaEsCore, SameSeedSameSearchDifferentSeedDifferentSearch) {
  auto trace = [](uint64_t seed) {
    CmaEs es(CmaOptions{}, std::vector<double>(3, 0.5));
    run(es, sphere, -1, 60, seed);
    return es.to_json();
  };
  EXPECT_EQ(trace(4), trace(4));
  EXPECT_NE(trace(4), trace(5));
}

// Integer coordinates (5 bins each) far from the start: without a floor on their step size, plateaus of the
// rounded objective let sigma shrink and the search freezes on a wrong grid point; the margin keeps the
// probability of leaving the current bin >= 1/(d lambda), so the exact optimum is found.
TEST(CmaEsCore, MarginKeepsIntegerDimensionsMoving) {
  const int d = 6;
  std::vector<bool> discrete = {false, false, false, true, true, true};
  auto decode = [](double u) { return std::min(std::floor(u * 5), 4.0); };
  Fn f = [&](const std::vector<double>& x) {
    double s = 0;
    for (int j = 0; j < 3; ++j) s += (x[j] - 0.6) * (x[j] - 0.6);
    for (int j = 3; j < d; ++j) s += std::pow(decode(x[j]) - 4, 2);  // optimum: bin 4 (u >= 0.8)
    return s;
  };
  BinFunction bins = [&](size_t, double u) {
    const double k = decode(u);
    return std::pair{k / 5, (k + 1) / 5};
  };
  for (uint64_t seed : {1u, 2u, 3u}) {
    CmaEs es(no_restart(), {0.5, 0.5, 0.5, 0.05, 0.05, 0.05}, discrete);
    RunResult r = run(es, f, 1e-8, 6000, seed, bins);
    EXPECT_TRUE(r.reached) << "seed " << seed << " best " << r.best;
    // Once the continuous part has converged, the integer coordinates still have their margin.
    run(es, f, -1, 3000, seed + 10, bins);
    const double alpha = 1.0 / (d * es.popsize());
    for (int j = 3; j < d; ++j) {
      const double sd = es.sigma() * es.margin_scale()[j] * std::sqrt(es.cov()(j, j));
      const double dist = mirror_into_cube(es.mean()[j]) - 0.8;  // the only interior boundary of bin 4
      const double p_leave = 0.5 * std::erfc(dist / (sd * std::numbers::sqrt2));
      EXPECT_GE(p_leave, alpha * 0.999) << "dim " << j;
      EXPECT_GE(mirror_into_cube(es.mean()[j]), 0.8) << "dim " << j;
    }
  }
}

double rastrigin(const std::vector<double>& x) {
  double s = 10.0 * x.size();
  for (double v : x) {
    const double z = 10.24 * (v - 0.5) - 1.0;  // [-5.12, 5.12], optimum at 1.0 (unit 0.5977)
    s += z * z - 10 * std::cos(2 * std::numbers::pi * z);
  }
  return s;
}

TEST(CmaEsCore, IpopRestartsWithLargerPopulationsOnAMultimodalFunction) {
  CmaOptions o;
  o.tol_fun = 1e-9;
  CmaEs es(o, std::vector<double>(4, 0.5));
  const int lambda0 = es.popsize();
  RunResult r = run(es, rastrigin, 1e-4, 25000, 11);
  EXPECT_GE(es.restarts(), 1);
  EXPECT_FALSE(es.last_stop().empty());
  EXPECT_GE(es.popsize(), lambda0 * 2);
  // A restart draws a fresh mean and resets sigma; the IPOP run finds the global optimum of 4-D Rastrigin
  // (a single default run does so rarely).
  EXPECT_TRUE(r.reached) << r.best << " after " << es.restarts() << " restarts";  // local minima have f >= 1

  CmaOptions none = o;
  none.ipop = false;
  CmaEs plain(none, std::vector<double>(4, 0.5));
  run(plain, rastrigin, 1e-9, 5000, 11);
  EXPECT_EQ(plain.restarts(), 0);
  EXPECT_EQ(plain.popsize(), lambda0);
}

TEST(CmaEsCore, RejectsBadOptions) {
  CmaOptions o;
  o.sigma0 = 0;
  EXPECT_THROW(CmaEs(o, {0.5}), std::invalid_argument);
  o = CmaOptions{};
  o.popsize = 1;
  EXPECT_THROW(CmaEs(o, {0.5}), std::invalid_argument);
  EXPECT_THROW(CmaEs(CmaOptions{}, {}), std::invalid_argument);
  EXPECT_THROW(CmaEs(CmaOptions{}, {0.5, 0.5}, {true}), std::invalid_argument);
  CmaEs es(CmaOptions{}, {0.5, 0.5});
  std::mt19937_64 rng(1);
  EXPECT_THROW(es.tell({{0.5, 0.5}}, {1.0}, rng), std::invalid_argument);
}

// --- Through Study -----------------------------------------------------------------------------------------

StudyOptions study_options(const std::string& name, json params = json::object(), uint64_t seed = 1) {
  StudyOptions o;
  o.name = name;
  o.strategy = "cmaes";
  o.strategy_params = std::move(params);
  o.seed = seed;
  return o;
}

// 5-D sphere on [-5, 5] with optimum (1, ..., 1).
double run_sphere_study(Study& study, int n, std::vector<std::vector<double>>* points = nullptr) {
  double best = HUGE_VAL;
  for (int k = 0; k < n; ++k) {
    Trial t = study.ask();
    double s = 0;
    std::vector<double> x;
    for (int j = 0; j < 5; ++j) {
      x.push_back(t.suggest_float("x" + std::to_string(j), -5, 5));
      s += (x.back() - 1) * (x.back() - 1);
    }
    if (points) points->push_back(x);
    study.tell(t, s);
    best = std::min(best, s);
  }
  return best;
}

TEST(CmaesStrategy, MinimisesASphereThroughAskAndTell) {
  Study study = Study::create(study_options("sphere"));
  const double best = run_sphere_study(study, 400);
  // Random search gets ~1 here; CMA-ES is many orders of magnitude closer.
  EXPECT_LT(best, 1e-4);
}

TEST(CmaesStrategy, SameSeedSameTrials) {
  Study a = Study::create(study_options("a", json::object(), 9));
  Study b = Study::create(study_options("b", json::object(), 9));
  std::vector<std::vector<double>> pa, pb;
  run_sphere_study(a, 60, &pa);
  run_sphere_study(b, 60, &pb);
  EXPECT_EQ(pa, pb);
}

TEST(CmaesStrategy, MaximisationIsMinimisationOfTheNegative) {
  StudyOptions o = study_options("max");
  o.directions = {Direction::kMaximize};
  Study study = Study::create(o);
  double best = -HUGE_VAL;
  for (int k = 0; k < 300; ++k) {
    Trial t = study.ask();
    const double x = t.suggest_float("x", -3, 3), y = t.suggest_float("y", -3, 3);
    const double v = -(x - 2) * (x - 2) - (y + 1) * (y + 1);
    study.tell(t, v);
    best = std::max(best, v);
  }
  EXPECT_GT(best, -1e-5);
}

TEST(CmaesStrategy, IntegerAndCategoricalParametersReachTheOptimum) {
  Study study = Study::create(study_options("mixed", json::object(), 3));
  double best = HUGE_VAL;
  std::map<std::string, double> best_params;
  for (int k = 0; k < 400; ++k) {
    Trial t = study.ask();
    const double x = t.suggest_float("x", -2, 2);
    const int64_t n = t.suggest_int("n", 0, 30);
    const std::string c = t.suggest_categorical("c", std::vector<std::string>{"a", "b", "c", "d"});
    const double v = (x - 0.5) * (x - 0.5) + std::pow(static_cast<double>(n) - 23, 2) + (c == "c" ? 0.0 : 1.0);
    EXPECT_GE(n, 0);
    EXPECT_LE(n, 30);
    study.tell(t, v);
    if (v < best) {
      best = v;
      best_params = t.frozen().params;
    }
  }
  EXPECT_LT(best, 1e-3);
  EXPECT_EQ(best_params["n"], 23);
  EXPECT_EQ(best_params["c"], 2);
}

TEST(CmaesStrategy, WarmStartsFromTheBestCompletedTrials) {
  Study study = Study::create(study_options("warm"));
  // 30 completed trials spread over the box; the best is at (3, 3), far from the centre.
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> u(-5, 5);
  for (int k = 0; k < 30; ++k) {
    FrozenTrial t;
    t.state = TrialState::kComplete;
    const double x = k == 7 ? 3.0 : u(rng), y = k == 7 ? 3.0 : u(rng);
    t.distributions = {{"x", FloatDistribution{-5, 5, false, std::nullopt}},
                       {"y", FloatDistribution{-5, 5, false, std::nullopt}}};
    t.params = {{"x", x}, {"y", y}};
    t.values = {k == 7 ? -1.0 : 10.0 + x * x};
    study.add_trial(t);
  }
  double mx = 0, my = 0;
  const int lambda = default_popsize(2);
  for (int k = 0; k < lambda; ++k) {
    Trial t = study.ask();
    mx += t.suggest_float("x", -5, 5) / lambda;
    my += t.suggest_float("y", -5, 5) / lambda;
    study.tell(t, 0.0);
  }
  // The first generation is centred at the best trial (sigma <= 0.2 x 10 per coordinate; the mean of 6
  // draws is within ~3 standard errors).
  EXPECT_NEAR(mx, 3.0, 2.5);
  EXPECT_NEAR(my, 3.0, 2.5);

  // warm_start = false starts at the centre.
  Study cold = Study::create(study_options("cold", {{"warm_start", false}}));
  for (int k = 0; k < 30; ++k) {
    FrozenTrial t;
    t.state = TrialState::kComplete;
    t.distributions = {{"x", FloatDistribution{-5, 5, false, std::nullopt}}};
    t.params = {{"x", 3.0 + 0.01 * k}};
    t.values = {static_cast<double>(k)};
    cold.add_trial(t);
  }
  double cx = 0;
  for (int k = 0; k < 4; ++k) {
    Trial t = cold.ask();
    cx += t.suggest_float("x", -5, 5) / 4;
    cold.tell(t, 0.0);
  }
  EXPECT_NEAR(cx, 0.0, 2.5);
}

TEST(CmaesStrategy, RejectsBadParameters) {
  PluginRegistry reg({BBO_TEST_PLUGIN_DIR});
  EXPECT_THROW(reg.make_strategy("cmaes", {{"sigma0", 0.0}}), ConfigError);
  EXPECT_THROW(reg.make_strategy("cmaes", {{"popsize", 1}}), ConfigError);
  EXPECT_THROW(reg.make_strategy("cmaes", {{"restart", "bipop"}}), ConfigError);
  EXPECT_THROW(reg.make_strategy("cmaes", {{"inc_popsize", 0.5}}), ConfigError);
  EXPECT_THROW(reg.make_strategy("cmaes", {{"margin", 0.7}}), ConfigError);
  EXPECT_THROW(reg.make_strategy("cmaes", {{"separable", "yes"}}), ConfigError);
  EXPECT_NO_THROW(reg.make_strategy("cmaes", {{"popsize", 12}, {"separable", true}, {"margin", 0.01}}));
}

}  // namespace
}  // namespace bbo::cmaes

// Tests of the `cbo` strategy: the consensus point, the Euler–Maruyama step, the alpha schedules and restarts
// of the engine on the unit cube, then the plugin through Study.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

#include "bbo/error.h"
#include "bbo/study.h"
#include "plugins/cbo/cbo_core.h"
#include "strategy_conformance.h"

INSTANTIATE_TEST_SUITE_P(Cbo, StrategyConformance,
                         ::testing::Values(bbo::testing::StrategyCase{"cbo", {{"particles", 6}}},
                                           bbo::testing::StrategyCase{"cbo", bbo::json::object()},
                                           bbo::testing::StrategyCase{
                                               "consensus_based_optimization",
                                               {{"particles", 4}, {"noise", "isotropic"}, {"alpha_schedule", "multiply"}}}),
                         bbo::testing::StrategyCaseName);

namespace bbo {
namespace {

// Parameter names of the small studies (built once: gcc 12 warns falsely on "x" + std::to_string(j)).
const std::string kNames[3] = {"x0", "x1", "x2"};

using cbo::Cbo;
using cbo::CboOptions;
using cbo::consensus_point;

double reflect(double u) {
  u = std::fmod(std::fabs(u), 2.0);
  return u > 1.0 ? 2.0 - u : u;
}

double sphere_at(const std::vector<double>& x, double c) {
  double s = 0;
  for (double u : x) s += (u - c) * (u - c);
  return s;
}

std::vector<double> evaluate(const Cbo& c, double (*f)(const std::vector<double>&)) {
  std::vector<double> y;
  for (const auto& x : c.positions()) y.push_back(f(x));
  return y;
}

TEST(CboConsensus, MatchesTheDirectFormula) {
  const std::vector<std::vector<double>> x = {{0.1, 0.9}, {0.4, 0.2}, {0.8, 0.5}};
  const std::vector<double> f = {1.0, 0.5, 2.0};
  const double alpha = 1.7;
  double sw = 0, sw2 = 0, v0 = 0, v1 = 0;
  for (size_t i = 0; i < 3; ++i) {
    const double w = std::exp(-alpha * f[i]);
    sw += w;
    sw2 += w * w;
    v0 += w * x[i][0];
    v1 += w * x[i][1];
  }
  double ess = 0;
  auto v = consensus_point(x, f, alpha, &ess);
  EXPECT_NEAR(v[0], v0 / sw, 1e-15);
  EXPECT_NEAR(v[1], v1 / sw, 1e-15);
  EXPECT_NEAR(ess, sw * sw / sw2, 1e-12);
}

TEST(CboConsensus, IsStableWhereTheDirectFormulaUnderflows) {
  // exp(-1e5 * 1000) is 0 for every particle: the direct quotient is 0/0. The shifted weights single out the
  // best particle.
  const std::vector<std::vector<double>> x = {{0.2}, {0.6}, {0.9}};
  const std::vector<double> f = {1000.0, 1000.5, 1001.0};
  EXPECT_TRUE(std::isnan(std::exp(-1e5 * 1000.0) * 0.2 / (3 * std::exp(-1e5 * 1000.0))));
  double ess = 0;
  auto v = consensus_point(x, f, 1e5, &ess);
  EXPECT_EQ(v[0], 0.2);
  EXPECT_EQ(ess, 1.0);
}

TEST(CboConsensus, FailedValuesGetNoWeight) {
  const std::vector<std::vector<double>> x = {{0.2}, {0.6}, {0.9}};
  double ess = 0;
  auto v = consensus_point(x, {1.0, HUGE_VAL, 1.0}, 3.0, &ess);
  EXPECT_DOUBLE_EQ(v[0], 0.55);
  EXPECT_DOUBLE_EQ(ess, 2.0);
  // All failed: the plain mean.
  v = consensus_point(x, {HUGE_VAL, HUGE_VAL, HUGE_VAL}, 3.0, &ess);
  EXPECT_NEAR(v[0], (0.2 + 0.6 + 0.9) / 3, 1e-15);
  EXPECT_DOUBLE_EQ(ess, 3.0);
}

TEST(CboEngine, InitialSwarmIsALatinHypercube) {
  CboOptions o;
  o.particles = 10;
  std::mt19937_64 rng(3);
  Cbo c(o, 3, rng);
  for (int j = 0; j < 3; ++j) {
    std::set<int> strata;
    for (const auto& x : c.positions()) strata.insert(static_cast<int>(std::floor(x[static_cast<size_t>(j)] * 10)));
    EXPECT_EQ(strata.size(), 10u);
  }
}

// One step by hand: the same generator (and normal distribution object, which caches pairs) drawn in the
// engine's order, particle by particle, coordinate by coordinate.
void expect_euler_maruyama_step(const std::string& noise) {
  CboOptions o;
  o.particles = 5;
  o.sigma = 0.8;
  o.dt = 0.05;
  o.lambda = 1.3;
  o.noise = noise;
  o.alpha_schedule = "constant";
  o.alpha0 = 2.0;
  std::mt19937_64 rng(7);
  Cbo c(o, 3, rng);
  const auto x = c.positions();
  std::vector<double> f;
  for (const auto& p : x) f.push_back(sphere_at(p, 0.3));
  const auto v = consensus_point(x, f, 2.0);
  std::mt19937_64 mirror = rng;
  std::normal_distribution<double> normal(0.0, 1.0);
  c.tell(f, rng);
  EXPECT_EQ(c.consensus(), v);
  for (size_t i = 0; i < x.size(); ++i) {
    double norm = 0;
    for (size_t j = 0; j < 3; ++j) norm += (x[i][j] - v[j]) * (x[i][j] - v[j]);
    norm = std::sqrt(norm);
    for (size_t j = 0; j < 3; ++j) {
      const double diff = x[i][j] - v[j];
      const double scale = noise == "anisotropic" ? diff : norm;
      const double expected = reflect(x[i][j] - 1.3 * 0.05 * diff + 0.8 * std::sqrt(0.05) * scale * normal(mirror));
      EXPECT_NEAR(c.positions()[i][j], expected, 1e-15) << noise << " particle " << i << " coordinate " << j;
    }
  }
}

TEST(CboEngine, StepIsTheAnisotropicEulerMaruyamaUpdate) { expect_euler_maruyama_step("anisotropic"); }
TEST(CboEngine, StepIsTheIsotropicEulerMaruyamaUpdate) { expect_euler_maruyama_step("isotropic"); }

TEST(CboEngine, WithoutNoiseParticlesContractToTheConsensus) {
  CboOptions o;
  o.particles = 6;
  o.sigma = 0.0;
  o.dt = 0.25;
  std::mt19937_64 rng(1);
  Cbo c(o, 2, rng);
  const auto x = c.positions();
  auto f = [](const std::vector<double>& p) { return sphere_at(p, 0.5); };
  std::vector<double> y;
  for (const auto& p : x) y.push_back(f(p));
  c.tell(y, rng);
  for (size_t i = 0; i < x.size(); ++i)
    for (size_t j = 0; j < 2; ++j)
      EXPECT_NEAR(c.positions()[i][j], x[i][j] - 0.25 * (x[i][j] - c.consensus()[j]), 1e-15);
}

TEST(CboEngine, HugeNoiseIsReflectedIntoTheCube) {
  CboOptions o;
  o.particles = 20;
  o.sigma = 1e3;
  o.dt = 1.0;
  std::mt19937_64 rng(2);
  Cbo c(o, 4, rng);
  for (int g = 0; g < 20; ++g) {
    c.tell(evaluate(c, [](const std::vector<double>& p) { return sphere_at(p, 0.1); }), rng);
    for (const auto& p : c.positions())
      for (double u : p) {
        EXPECT_GE(u, 0.0);
        EXPECT_LE(u, 1.0);
      }
  }
}

TEST(CboEngine, AlphaSchedules) {
  auto run = [](const std::string& schedule, double scale, int steps) {
    CboOptions o;
    o.particles = 20;
    o.alpha0 = 10.0;
    o.alpha_factor = 1.1;
    o.alpha_max = 1e8;
    o.alpha_schedule = schedule;
    o.ess_threshold = 0.25;
    std::mt19937_64 rng(4);
    Cbo c(o, 2, rng);
    for (int k = 0; k < steps; ++k) {
      std::vector<double> y;
      for (const auto& p : c.positions()) y.push_back(scale * sphere_at(p, 0.5));
      c.tell(y, rng);
    }
    return c;
  };
  EXPECT_EQ(run("constant", 1.0, 5).alpha(), 10.0);
  EXPECT_NEAR(run("multiply", 1.0, 5).alpha(), 10.0 * std::pow(1.1, 5), 1e-9);
  EXPECT_EQ(run("multiply", 1.0, 300).alpha(), 1e8);  // capped
  // Values on a scale of 1e-4: at alpha 10 the weights are flat (ESS ~ N). "ess" raises alpha by bisection
  // until the ESS is ess_threshold N = 5, then multiplies as usual.
  Cbo flat = run("ess", 1e-4, 1);
  EXPECT_NEAR(flat.last_ess(), 0.25 * 20, 1e-6);
  EXPECT_GT(flat.alpha(), 10.0 * 1.1 * 10);
  // On the unit scale the ESS is already small: "ess" is "multiply".
  EXPECT_EQ(run("ess", 1e3, 5).alpha(), run("multiply", 1e3, 5).alpha());
}

TEST(CboEngine, RestartsWhenTheSwarmCollapses) {
  CboOptions o;
  o.particles = 8;
  o.sigma = 0.0;
  o.dt = 1.0;  // x <- v: the swarm collapses onto the consensus point in one step
  o.lambda = 1.0;
  o.alpha_schedule = "multiply";
  std::mt19937_64 rng(6);
  Cbo c(o, 3, rng);
  EXPECT_GT(c.spread(), 0.1);
  c.tell(evaluate(c, [](const std::vector<double>& p) { return sphere_at(p, 0.5); }), rng);
  EXPECT_EQ(c.restarts(), 1);
  EXPECT_EQ(c.alpha(), o.alpha0);
  EXPECT_GT(c.spread(), 0.1);  // a fresh Latin hypercube
  CboOptions never = o;
  never.restart_tol = 0.0;
  std::mt19937_64 rng2(6);
  Cbo d(never, 3, rng2);
  d.tell(evaluate(d, [](const std::vector<double>& p) { return sphere_at(p, 0.5); }), rng2);
  EXPECT_EQ(d.restarts(), 0);
  EXPECT_LT(d.spread(), 1e-15);
}

double rastrigin_unit(const std::vector<double>& u) {
  // [-5.12, 5.12]^d with the minimiser at 1.5 in every coordinate.
  double s = 10.0 * static_cast<double>(u.size());
  for (double v : u) {
    const double z = -5.12 + 10.24 * v - 1.5;
    s += z * z - 10.0 * std::cos(2 * std::numbers::pi * z);
  }
  return s;
}

TEST(CboEngine, AnisotropicCboFindsTheGlobalMinimumOfAShiftedRastrigin) {
  // d = 10, N = 50, 1000 steps with the plugin's defaults; success ||x - x*||_inf <= 0.25.
  for (uint64_t seed : {1, 2, 3}) {
    std::mt19937_64 rng(seed);
    CboOptions o;
    Cbo c(o, 10, rng);
    for (int k = 0; k < 1000; ++k) c.tell(evaluate(c, rastrigin_unit), rng);
    for (double u : c.best_x()) EXPECT_NEAR(-5.12 + 10.24 * u, 1.5, 0.25) << "seed " << seed;
    for (double u : c.consensus()) EXPECT_NEAR(-5.12 + 10.24 * u, 1.5, 0.25) << "seed " << seed;
  }
}

TEST(CboEngine, StateRoundTripsThroughJson) {
  CboOptions o;
  o.particles = 7;
  std::mt19937_64 rng(5);
  Cbo c(o, 3, rng);
  for (int k = 0; k < 4; ++k) {
    auto y = evaluate(c, [](const std::vector<double>& p) { return sphere_at(p, 0.2); });
    y[3] = HUGE_VAL;
    c.tell(y, rng);
  }
  Cbo copy = Cbo::from_json(json::parse(c.to_json().dump()));
  EXPECT_EQ(copy.to_json(), c.to_json());
  std::mt19937_64 ra(9), rb(9);
  auto y = evaluate(c, [](const std::vector<double>& p) { return sphere_at(p, 0.2); });
  c.tell(y, ra);
  copy.tell(y, rb);
  EXPECT_EQ(copy.positions(), c.positions());
  EXPECT_EQ(copy.to_json(), c.to_json());
}

TEST(CboEngine, SameSeedGivesTheSameRun) {
  auto trajectory = [](uint64_t seed) {
    std::mt19937_64 rng(seed);
    Cbo c(CboOptions{}, 3, rng);
    std::vector<std::vector<double>> xs;
    for (int k = 0; k < 10; ++k) {
      xs.insert(xs.end(), c.positions().begin(), c.positions().end());
      c.tell(evaluate(c, [](const std::vector<double>& p) { return sphere_at(p, 0.4); }), rng);
    }
    return xs;
  };
  EXPECT_EQ(trajectory(3), trajectory(3));
  EXPECT_NE(trajectory(3), trajectory(4));
}

TEST(CboEngine, RejectsBadOptionsAndMismatchedTells) {
  std::mt19937_64 rng(1);
  auto make = [&](auto edit) {
    CboOptions o;
    edit(o);
    return Cbo(o, 2, rng);
  };
  EXPECT_THROW(make([](CboOptions& o) { o.particles = 1; }), std::invalid_argument);
  EXPECT_THROW(make([](CboOptions& o) { o.lambda = 0; }), std::invalid_argument);
  EXPECT_THROW(make([](CboOptions& o) { o.sigma = -1; }), std::invalid_argument);
  EXPECT_THROW(make([](CboOptions& o) { o.dt = 0; }), std::invalid_argument);
  EXPECT_THROW(make([](CboOptions& o) { o.noise = "gaussian"; }), std::invalid_argument);
  EXPECT_THROW(make([](CboOptions& o) { o.alpha_schedule = "cosine"; }), std::invalid_argument);
  EXPECT_THROW(make([](CboOptions& o) { o.alpha_max = 1.0; }), std::invalid_argument);
  EXPECT_THROW(make([](CboOptions& o) { o.ess_threshold = 0.0; }), std::invalid_argument);
  Cbo c(CboOptions{}, 2, rng);
  EXPECT_THROW(c.tell({1.0, 2.0}, rng), std::invalid_argument);
  EXPECT_THROW(Cbo::from_json(json{{"dim", 2}}), std::exception);
}

// --- Through Study -----------------------------------------------------------------------------------------

StudyOptions study_options(const std::string& name, json params = json::object(), uint64_t seed = 1) {
  StudyOptions o;
  o.name = name;
  o.strategy = "cbo";
  o.strategy_params = std::move(params);
  o.seed = seed;
  return o;
}

TEST(CboStrategy, MinimisesAShiftedRastriginThroughAskAndTell) {
  // d = 3 on [-5.12, 5.12], minimiser (1.2, -0.7, 2.3); 20 particles x 100 generations.
  Study study = Study::create(study_options("rastrigin", {{"particles", 20}}));
  const double shift[3] = {1.2, -0.7, 2.3};
  for (int k = 0; k < 2000; ++k) {
    Trial t = study.ask();
    double s = 30.0;
    for (int j = 0; j < 3; ++j) {
      const double z = t.suggest_float(kNames[j], -5.12, 5.12) - shift[j];
      s += z * z - 10.0 * std::cos(2 * std::numbers::pi * z);
    }
    study.tell(t, s);
  }
  FrozenTrial best = study.best_trial();
  for (int j = 0; j < 3; ++j) EXPECT_NEAR(best.params.at(kNames[j]), shift[j], 0.25);
  EXPECT_LT(best.values[0], 1e-3);
}

TEST(CboStrategy, IntegerAndCategoricalParametersReachTheOptimum) {
  Study study = Study::create(study_options("mixed", {{"particles", 20}}, 3));
  for (int k = 0; k < 1000; ++k) {
    Trial t = study.ask();
    const double x = t.suggest_float("x", -2, 2);
    const int64_t n = t.suggest_int("n", 0, 30);
    const std::string c = t.suggest_categorical("c", std::vector<std::string>{"a", "b", "c", "d"});
    study.tell(t, (x - 0.5) * (x - 0.5) + std::pow(static_cast<double>(n) - 23, 2) + (c == "c" ? 0.0 : 1.0));
  }
  FrozenTrial best = study.best_trial();
  EXPECT_EQ(best.params.at("n"), 23.0);
  EXPECT_EQ(best.params.at("c"), 2.0);  // index of "c"
  EXPECT_NEAR(best.params.at("x"), 0.5, 0.05);
}

TEST(CboStrategy, OneGenerationIsOneBatchOfParticles) {
  StudyOptions o = study_options("batch", {{"particles", 8}});
  SearchSpace space;
  space.add("a", FloatDistribution{0.0, 1.0, false, std::nullopt});
  space.add("b", FloatDistribution{0.0, 1.0, false, std::nullopt});
  o.search_space = space;
  Study study = Study::create(o);
  std::vector<Trial> batch = study.ask(8);
  for (const char* name : {"a", "b"}) {
    std::set<int> strata;
    for (Trial& t : batch) strata.insert(static_cast<int>(std::floor(t.frozen().params.at(name) * 8)));
    EXPECT_EQ(strata.size(), 8u) << name;
  }
  for (Trial& t : batch) study.tell(t, std::abs(t.frozen().params.at("a") - 0.25));
  // The next batch is the moved swarm: eight positions, all new except possibly the best particle's (once
  // alpha has made the consensus point that particle, its drift and anisotropic noise are zero).
  std::vector<Trial> next = study.ask(8);
  std::set<std::vector<double>> points;
  for (Trial& t : next) points.insert({t.frozen().params.at("a"), t.frozen().params.at("b")});
  EXPECT_EQ(points.size(), 8u);
  for (Trial& t : batch) points.insert({t.frozen().params.at("a"), t.frozen().params.at("b")});
  EXPECT_GE(points.size(), 15u);
}

TEST(CboStrategy, BadParametersAreConfigErrors) {
  EXPECT_THROW(Study::create(study_options("bad1", {{"noise", "gaussian"}})), ConfigError);
  EXPECT_THROW(Study::create(study_options("bad2", {{"particles", 1}})), ConfigError);
  EXPECT_THROW(Study::create(study_options("bad3", {{"sigma", "big"}})), ConfigError);
}

}  // namespace
}  // namespace bbo

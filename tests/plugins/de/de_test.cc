// Tests of the `de` strategy: the engine on the unit cube (SHADE and DE/rand/1/bin), then through Study.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <set>

#include "bbo/error.h"
#include "bbo/study.h"
#include "plugins/de/de_core.h"
#include "strategy_conformance.h"

INSTANTIATE_TEST_SUITE_P(De, StrategyConformance,
                         ::testing::Values(bbo::testing::StrategyCase{"de", {{"popsize", 6}}},
                                           bbo::testing::StrategyCase{"de", bbo::json::object()},
                                           bbo::testing::StrategyCase{
                                               "differential_evolution",
                                               {{"popsize", 4}, {"variant", "rand1bin"}, {"bounds", "reflect"}}}),
                         bbo::testing::StrategyCaseName);

namespace bbo {
namespace {

// Parameter names of the small studies (built once: gcc 12 warns falsely on "x" + std::to_string(j)).
const std::string kNames[3] = {"x0", "x1", "x2"};

using de::DeOptions;
using de::DifferentialEvolution;

using Objective = std::function<double(const std::vector<double>&)>;

// Runs `generations` generations (the initial population counts as one); returns the engine.
DifferentialEvolution run(const DeOptions& o, int dim, const Objective& f, int generations, uint64_t seed,
                          std::vector<std::vector<double>>* asked = nullptr) {
  std::mt19937_64 rng(seed);
  DifferentialEvolution de(o, dim, rng);
  for (int g = 0; g < generations; ++g) {
    auto xs = de.ask(rng);
    std::vector<double> ys;
    for (const auto& x : xs) {
      for (double u : x) {
        EXPECT_GE(u, 0.0);
        EXPECT_LE(u, 1.0);
      }
      ys.push_back(f(x));
      if (asked) asked->push_back(x);
    }
    de.tell(ys, rng);
  }
  return de;
}

double sphere_at(const std::vector<double>& x, double c) {
  double s = 0;
  for (double u : x) s += (u - c) * (u - c);
  return s;
}

// Rastrigin on [-5.12, 5.12]^d (unit cube mapped affinely) with its minimiser moved to `shift`.
double rastrigin_unit(const std::vector<double>& u, const std::vector<double>& shift) {
  double s = 10.0 * static_cast<double>(u.size());
  for (size_t j = 0; j < u.size(); ++j) {
    const double z = -5.12 + 10.24 * u[j] - shift[j];
    s += z * z - 10.0 * std::cos(2 * std::numbers::pi * z);
  }
  return s;
}

TEST(DeEngine, DefaultPopulationSizeDependsOnDimension) {
  EXPECT_EQ(de::default_popsize(1), 10);
  EXPECT_EQ(de::default_popsize(4), 20);
  EXPECT_EQ(de::default_popsize(30), 50);
  std::mt19937_64 rng(1);
  EXPECT_EQ(DifferentialEvolution(DeOptions{}, 3, rng).popsize(), 15);
}

TEST(DeEngine, FirstGenerationIsALatinHypercube) {
  DeOptions o;
  o.popsize = 12;
  std::mt19937_64 rng(5);
  DifferentialEvolution de(o, 4, rng);
  auto xs = de.ask(rng);
  ASSERT_EQ(xs.size(), 12u);
  for (int j = 0; j < 4; ++j) {
    std::set<int> strata;
    for (const auto& x : xs) strata.insert(static_cast<int>(std::floor(x[static_cast<size_t>(j)] * 12)));
    EXPECT_EQ(strata.size(), 12u) << "dimension " << j;
  }
}

TEST(DeEngine, ShadeMinimisesAShiftedSphere) {
  DifferentialEvolution de = run(DeOptions{}, 5, [](const auto& x) { return sphere_at(x, 0.3); }, 120, 7);
  EXPECT_LT(de.best_f(), 1e-10);
  for (double u : de.best_x()) EXPECT_NEAR(u, 0.3, 1e-5);
}

TEST(DeEngine, Rand1BinMinimisesAShiftedSphere) {
  DeOptions o;
  o.variant = "rand1bin";
  DifferentialEvolution de = run(o, 5, [](const auto& x) { return sphere_at(x, 0.7); }, 200, 7);
  EXPECT_LT(de.best_f(), 1e-8);
}

TEST(DeEngine, ShadeFindsTheGlobalMinimumOfAShiftedRastrigin) {
  // d = 4, 60 x 150 = 9,000 evaluations; success as in the CBO literature: ||x - x*||_inf <= 0.25.
  const std::vector<double> shift = {1.3, -2.1, 0.4, 2.7};
  for (uint64_t seed : {1, 2, 3}) {
    DeOptions o;
    o.popsize = 60;
    DifferentialEvolution de = run(o, 4, [&](const auto& x) { return rastrigin_unit(x, shift); }, 150, seed);
    for (size_t j = 0; j < 4; ++j) EXPECT_NEAR(-5.12 + 10.24 * de.best_x()[j], shift[j], 0.25) << "seed " << seed;
    EXPECT_LT(de.best_f(), 1e-6) << "seed " << seed;
  }
}

TEST(DeEngine, OptimumOnTheBoundaryIsReachedWithEitherRepair) {
  for (const char* bounds : {"midpoint", "reflect"}) {
    DeOptions o;
    o.bounds = bounds;
    // Minimum at the corner (0, 1, 0): mutants leave the cube all the time.
    auto f = [](const std::vector<double>& x) { return x[0] + (1 - x[1]) + x[2]; };
    DifferentialEvolution de = run(o, 3, f, 150, 11);
    EXPECT_LT(de.best_f(), 1e-6) << bounds;
  }
}

TEST(DeEngine, SelectionKeepsTheBetterOfParentAndTrial) {
  DeOptions o;
  o.popsize = 8;
  std::mt19937_64 rng(3);
  DifferentialEvolution de(o, 2, rng);
  auto f = [](const std::vector<double>& x) { return sphere_at(x, 0.5); };
  auto init = de.ask(rng);
  std::vector<double> y0;
  for (const auto& x : init) y0.push_back(f(x));
  de.tell(y0, rng);
  const auto parents = de.population();
  const auto parent_f = de.fitness();
  auto trials = de.ask(rng);
  ASSERT_EQ(trials.size(), 8u);
  std::vector<double> y1;
  for (const auto& x : trials) y1.push_back(f(x));
  de.tell(y1, rng);
  int replaced = 0;
  for (size_t i = 0; i < 8; ++i) {
    if (y1[i] <= parent_f[i]) {
      EXPECT_EQ(de.population()[i], trials[i]);
      EXPECT_EQ(de.fitness()[i], y1[i]);
      replaced += y1[i] < parent_f[i];
    } else {
      EXPECT_EQ(de.population()[i], parents[i]);
      EXPECT_EQ(de.fitness()[i], parent_f[i]);
    }
  }
  // Every strictly replaced parent went to the archive.
  EXPECT_EQ(de.archive_size(), static_cast<size_t>(replaced));
}

TEST(DeEngine, ShadeMemoryMovesToSuccessfulParameters) {
  DifferentialEvolution de = run(DeOptions{}, 4, [](const auto& x) { return sphere_at(x, 0.2); }, 40, 13);
  bool changed = false;
  for (size_t k = 0; k < de.memory_f().size(); ++k) {
    EXPECT_GT(de.memory_f()[k], 0.0);
    EXPECT_LE(de.memory_f()[k], 1.0);
    EXPECT_GE(de.memory_cr()[k], 0.0);
    EXPECT_LE(de.memory_cr()[k], 1.0);
    changed = changed || de.memory_f()[k] != 0.5 || de.memory_cr()[k] != 0.5;
  }
  EXPECT_TRUE(changed);
  EXPECT_LE(de.archive_size(), static_cast<size_t>(de.popsize()));
}

TEST(DeEngine, FailedTrialsNeverReplaceFiniteParents) {
  DeOptions o;
  o.popsize = 6;
  std::mt19937_64 rng(2);
  DifferentialEvolution de(o, 2, rng);
  de.ask(rng);
  de.tell(std::vector<double>(6, 1.0), rng);
  de.ask(rng);
  const auto before = de.population();
  std::vector<double> failed = {HUGE_VAL, std::nan(""), HUGE_VAL, std::nan(""), HUGE_VAL, HUGE_VAL};
  de.tell(failed, rng);
  EXPECT_EQ(de.population(), before);
  for (double v : de.fitness()) EXPECT_EQ(v, 1.0);
}

TEST(DeEngine, StateRoundTripsThroughJson) {
  DeOptions o;
  o.popsize = 7;
  std::mt19937_64 rng(4);
  DifferentialEvolution de(o, 3, rng);
  for (int g = 0; g < 5; ++g) {
    auto xs = de.ask(rng);
    std::vector<double> ys;
    for (size_t i = 0; i < xs.size(); ++i) ys.push_back(i == 2 ? HUGE_VAL : sphere_at(xs[i], 0.4));
    de.tell(ys, rng);
  }
  // A restored engine (through text, as storage keeps it) proposes the same generation and tells the same way.
  DifferentialEvolution copy = DifferentialEvolution::from_json(json::parse(de.to_json().dump()));
  EXPECT_EQ(copy.to_json(), de.to_json());
  std::mt19937_64 ra(99), rb(99);
  auto xa = de.ask(ra);
  auto xb = copy.ask(rb);
  EXPECT_EQ(xa, xb);
  DifferentialEvolution pending = DifferentialEvolution::from_json(json::parse(de.to_json().dump()));
  std::vector<double> ys;
  for (const auto& x : xa) ys.push_back(sphere_at(x, 0.4));
  de.tell(ys, ra);
  pending.tell(ys, rb);
  EXPECT_EQ(pending.to_json(), de.to_json());
}

TEST(DeEngine, SameSeedGivesTheSameRun) {
  std::vector<std::vector<double>> a, b, c;
  auto f = [](const std::vector<double>& x) { return sphere_at(x, 0.6); };
  run(DeOptions{}, 3, f, 10, 21, &a);
  run(DeOptions{}, 3, f, 10, 21, &b);
  run(DeOptions{}, 3, f, 10, 22, &c);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(DeEngine, WarmStartPointsJoinThePopulationEvaluated) {
  // Six warm points, one failed. With N = 6 the five finite ones join (best first) and one member is still
  // to evaluate; with N = 4 the four best fill the population and the first ask already mutates.
  std::vector<std::vector<double>> wx = {{0.1, 0.1}, {0.2, 0.2}, {0.3, 0.3}, {0.4, 0.4}, {0.5, 0.5}, {0.6, 0.6}};
  std::vector<double> wf = {5.0, HUGE_VAL, 1.0, 4.0, 2.0, 3.0};
  DeOptions o;
  o.popsize = 6;
  std::mt19937_64 rng(8);
  DifferentialEvolution de(o, 2, rng, wx, wf);
  ASSERT_EQ(de.popsize(), 6);
  EXPECT_EQ(de.population()[0], (std::vector<double>{0.3, 0.3}));
  EXPECT_EQ(de.fitness()[1], 2.0);
  EXPECT_EQ(de.fitness()[4], 5.0);
  EXPECT_TRUE(std::isnan(de.fitness()[5]));
  EXPECT_EQ(de.best_f(), 1.0);
  EXPECT_EQ(de.ask(rng).size(), 1u);

  o.popsize = 4;
  DifferentialEvolution full(o, 2, rng, wx, wf);
  EXPECT_EQ(full.fitness(), (std::vector<double>{1.0, 2.0, 3.0, 4.0}));
  auto trials = full.ask(rng);
  EXPECT_EQ(trials.size(), 4u);
  for (const auto& t : trials) EXPECT_EQ(std::count(full.population().begin(), full.population().end(), t), 0);
}

TEST(DeEngine, DiscreteTrialsAvoidTheirParentsPoint) {
  // Three bins per coordinate: most mutants would land on the parent's bin once the population converges.
  auto canonical = [](const std::vector<double>& u) {
    std::vector<double> c;
    for (double v : u) c.push_back((std::min(std::floor(v * 3), 2.0) + 0.5) / 3);
    return c;
  };
  DeOptions o;
  o.popsize = 6;
  std::mt19937_64 rng(17);
  DifferentialEvolution de(o, 2, rng);
  for (int g = 0; g < 20; ++g) {
    auto xs = de.ask(rng, canonical, {true, true});
    std::vector<double> ys;
    for (size_t i = 0; i < xs.size(); ++i) {
      if (g > 0) {
        EXPECT_NE(canonical(xs[i]), canonical(de.population()[i])) << "generation " << g;
      }
      ys.push_back(sphere_at(canonical(xs[i]), 0.5));
    }
    de.tell(ys, rng);
  }
  EXPECT_NEAR(de.best_f(), 0.0, 1e-15);  // the centre bin in both coordinates
}

TEST(DeEngine, RejectsBadOptionsAndMismatchedTells) {
  std::mt19937_64 rng(1);
  auto make = [&](auto edit) {
    DeOptions o;
    edit(o);
    return DifferentialEvolution(o, 2, rng);
  };
  EXPECT_THROW(make([](DeOptions& o) { o.popsize = 3; }), std::invalid_argument);
  EXPECT_THROW(make([](DeOptions& o) { o.variant = "best2"; }), std::invalid_argument);
  EXPECT_THROW(make([](DeOptions& o) { o.f = 0; }), std::invalid_argument);
  EXPECT_THROW(make([](DeOptions& o) { o.cr = 1.5; }), std::invalid_argument);
  EXPECT_THROW(make([](DeOptions& o) { o.memory_size = 0; }), std::invalid_argument);
  EXPECT_THROW(make([](DeOptions& o) { o.p_max = 0; }), std::invalid_argument);
  EXPECT_THROW(make([](DeOptions& o) { o.bounds = "clip"; }), std::invalid_argument);
  DifferentialEvolution de(DeOptions{}, 2, rng);
  EXPECT_THROW(de.tell({1.0}, rng), std::invalid_argument);  // nothing asked yet
  de.ask(rng);
  EXPECT_THROW(de.tell({1.0, 2.0}, rng), std::invalid_argument);
  EXPECT_THROW(DifferentialEvolution::from_json(json{{"dim", 2}}), std::exception);
}

// --- Through Study -----------------------------------------------------------------------------------------

StudyOptions study_options(const std::string& name, json params = json::object(), uint64_t seed = 1) {
  StudyOptions o;
  o.name = name;
  o.strategy = "de";
  o.strategy_params = std::move(params);
  o.seed = seed;
  return o;
}

TEST(DeStrategy, MinimisesASphereThroughAskAndTell) {
  Study study = Study::create(study_options("sphere"));
  double best = HUGE_VAL;
  for (int k = 0; k < 900; ++k) {
    Trial t = study.ask();
    double s = 0;
    for (int j = 0; j < 3; ++j) {
      const double x = t.suggest_float(kNames[j], -5, 5);
      s += (x - 1) * (x - 1);
    }
    study.tell(t, s);
    best = std::min(best, s);
  }
  // Random search reaches ~0.1 here.
  EXPECT_LT(best, 1e-6);
  EXPECT_NEAR(study.best_trial().values[0], best, 0.0);
}

TEST(DeStrategy, IntegerAndCategoricalParametersReachTheOptimum) {
  Study study = Study::create(study_options("mixed", json::object(), 3));
  FrozenTrial best;
  double best_v = HUGE_VAL;
  for (int k = 0; k < 400; ++k) {
    Trial t = study.ask();
    const double x = t.suggest_float("x", -2, 2);
    const int64_t n = t.suggest_int("n", 0, 30);
    const std::string c = t.suggest_categorical("c", std::vector<std::string>{"a", "b", "c", "d"});
    const double v = (x - 0.5) * (x - 0.5) + std::pow(static_cast<double>(n) - 23, 2) + (c == "c" ? 0.0 : 1.0);
    study.tell(t, v);
    if (v < best_v) {
      best_v = v;
      best = t.frozen();
    }
  }
  EXPECT_EQ(best.params.at("n"), 23.0);
  EXPECT_EQ(best.params.at("c"), 2.0);  // index of "c"
  EXPECT_NEAR(best.params.at("x"), 0.5, 0.05);
}

TEST(DeStrategy, OneGenerationIsOneBatchOfPopsizeTrials) {
  StudyOptions o = study_options("batch", {{"popsize", 8}});
  SearchSpace space;
  space.add("a", FloatDistribution{0.0, 1.0, false, std::nullopt});
  space.add("b", FloatDistribution{0.0, 1.0, false, std::nullopt});
  o.search_space = space;
  Study study = Study::create(o);
  // The first batch is the initial population: a Latin hypercube, one point per eighth in each coordinate.
  std::vector<Trial> batch = study.ask(8);
  for (const char* name : {"a", "b"}) {
    std::set<int> strata;
    for (Trial& t : batch) strata.insert(static_cast<int>(std::floor(t.frozen().params.at(name) * 8)));
    EXPECT_EQ(strata.size(), 8u) << name;
  }
  for (Trial& t : batch) study.tell(t, std::abs(t.frozen().params.at("a") - 0.25));
  // The second batch holds the trial vectors of the next generation: eight new points.
  std::vector<Trial> next = study.ask(8);
  std::set<std::vector<double>> points;
  for (Trial& t : next) points.insert({t.frozen().params.at("a"), t.frozen().params.at("b")});
  EXPECT_EQ(points.size(), 8u);
  for (Trial& t : batch) points.insert({t.frozen().params.at("a"), t.frozen().params.at("b")});
  EXPECT_EQ(points.size(), 16u);
}

TEST(DeStrategy, KeepsOptimisingWhenTrialsFail) {
  Study study = Study::create(study_options("fail", {{"popsize", 10}}, 5));
  double best = HUGE_VAL;
  for (int k = 0; k < 500; ++k) {
    Trial t = study.ask();
    const double x = t.suggest_float("x", -3, 3), y = t.suggest_float("y", -3, 3);
    if (k % 4 == 1) {
      study.tell(t, TrialState::kFail);
      continue;
    }
    const double v = (x + 1) * (x + 1) + (y - 2) * (y - 2);
    study.tell(t, v);
    best = std::min(best, v);
  }
  EXPECT_LT(best, 1e-6);
}

TEST(DeStrategy, BadParametersAreConfigErrors) {
  EXPECT_THROW(Study::create(study_options("bad1", {{"variant", "jade"}})), ConfigError);
  EXPECT_THROW(Study::create(study_options("bad2", {{"popsize", 2}})), ConfigError);
  EXPECT_THROW(Study::create(study_options("bad3", {{"typo", 1}})), ConfigError);
}

}  // namespace
}  // namespace bbo

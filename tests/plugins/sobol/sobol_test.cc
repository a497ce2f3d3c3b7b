// Tests of the `sobol` strategy: the known sequence, net stratification under scrambling, seeds, decoding.
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "bbo/plugin.h"
#include "bbo/storage.h"
#include "bbo/strategy.h"
#include "bbo/study.h"
#include "bbo/study_view.h"
#include "strategy_conformance.h"

INSTANTIATE_TEST_SUITE_P(Sobol, StrategyConformance,
                         ::testing::Values(bbo::testing::StrategyCase{"sobol", bbo::json::object()},
                                           bbo::testing::StrategyCase{"qmc", {{"scramble", false}, {"skip", 1}}}),
                         bbo::testing::StrategyCaseName);

namespace bbo {
namespace {

// A memory-storage study with a declared space, and a strategy to call directly.
struct Fixture {
  std::unique_ptr<Storage> storage = open_storage("memory:");
  std::unique_ptr<StudyView> view;
  std::shared_ptr<Strategy> strategy;
  PluginRegistry registry{{BBO_TEST_PLUGIN_DIR}};

  Fixture(const SearchSpace& space, uint64_t seed, json params) {
    int64_t id = storage->create_study("s" + std::to_string(seed), {Direction::kMinimize}, {{"seed", seed}});
    view = std::make_unique<StudyView>(*storage, storage->get_study(id), space);
    strategy = registry.make_strategy("sobol", params);
  }

  // The relative proposal for trial `number`, as unit-cube coordinates of the space.
  std::map<std::string, double> propose(int64_t number) {
    FrozenTrial t;
    t.number = number;
    std::mt19937_64 rng(number);
    SampleContext ctx{*view, t, rng};
    SearchSpace space = strategy->relative_space(*view);
    return strategy->sample_relative(ctx, space);
  }
};

SearchSpace unit_space(int d) {
  SearchSpace s;
  for (int k = 0; k < d; ++k) s.add("x" + std::to_string(k), FloatDistribution{0.0, 1.0, false, std::nullopt});
  return s;
}

TEST(SobolStrategy, UnscrambledPointsAreTheSobolSequence) {
  Fixture f(unit_space(3), 1, {{"scramble", false}});
  // scipy.stats.qmc.Sobol(d=3, scramble=False).random(8)
  const double expected[8][3] = {{0, 0, 0},           {0.5, 0.5, 0.5},     {0.75, 0.25, 0.25},
                                 {0.25, 0.75, 0.75},  {0.375, 0.375, 0.625}, {0.875, 0.875, 0.125},
                                 {0.625, 0.125, 0.875}, {0.125, 0.625, 0.375}};
  for (int n = 0; n < 8; ++n) {
    auto p = f.propose(n);
    ASSERT_EQ(p.size(), 3u);
    for (int k = 0; k < 3; ++k) EXPECT_DOUBLE_EQ(p.at("x" + std::to_string(k)), expected[n][k]) << n << "," << k;
  }
}

TEST(SobolStrategy, SkipShiftsTheIndex) {
  Fixture plain(unit_space(2), 1, {{"scramble", false}});
  Fixture skipped(unit_space(2), 1, {{"scramble", false}, {"skip", 5}});
  for (int n = 0; n < 4; ++n) EXPECT_EQ(skipped.propose(n), plain.propose(n + 5));
}

// Every elementary interval [i/2^a, (i+1)/2^a) x [j/2^b, (j+1)/2^b) with a + b = m holds exactly one of the
// first 2^m points.
void expect_net(Fixture& f, const std::string& x, const std::string& y, int m) {
  const int n = 1 << m;
  std::vector<std::pair<double, double>> pts;
  for (int k = 0; k < n; ++k) {
    auto p = f.propose(k);
    pts.emplace_back(p.at(x), p.at(y));
  }
  for (int a = 0; a <= m; ++a) {
    int b = m - a;
    std::set<std::pair<int64_t, int64_t>> cells;
    for (auto [u, v] : pts) {
      ASSERT_GE(u, 0.0);
      ASSERT_LT(u, 1.0);
      cells.insert({static_cast<int64_t>(std::floor(u * (1 << a))), static_cast<int64_t>(std::floor(v * (1 << b)))});
    }
    EXPECT_EQ(cells.size(), static_cast<size_t>(n)) << "a=" << a << " b=" << b << " dims " << x << "," << y;
  }
}

TEST(SobolStrategy, ScrambledPointsKeepTwoDimensionalStratification) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    Fixture f(unit_space(2), seed, json::object());
    expect_net(f, "x0", "x1", 8);
  }
}

TEST(SobolStrategy, UnscrambledPointsAreANet) {
  Fixture f(unit_space(2), 1, {{"scramble", false}});
  expect_net(f, "x0", "x1", 8);
}

TEST(SobolStrategy, ScrambledPointsAreNotTheRawSequence) {
  Fixture f(unit_space(2), 7, json::object());
  auto p0 = f.propose(0);
  EXPECT_NE(p0.at("x0"), 0.0);
  EXPECT_NE(p0.at("x1"), 0.0);
  // Each coordinate is uniform over points: the mean over 1024 points is 0.5 within net accuracy.
  double mean = 0.0;
  for (int k = 0; k < 1024; ++k) mean += f.propose(k).at("x1") / 1024;
  EXPECT_NEAR(mean, 0.5, 1e-3);
}

TEST(SobolStrategy, DifferentSeedsGiveDifferentPoints) {
  Fixture a(unit_space(4), 10, json::object());
  Fixture b(unit_space(4), 11, json::object());
  Fixture a2(unit_space(4), 10, json::object());
  for (int n = 0; n < 4; ++n) {
    EXPECT_NE(a.propose(n), b.propose(n)) << n;
    EXPECT_EQ(a.propose(n), a2.propose(n)) << n;
  }
}

TEST(SobolStrategy, HighDimensionalPointsAreInside) {
  Fixture f(unit_space(100), 3, json::object());
  for (int n = 0; n < 16; ++n) {
    auto p = f.propose(n);
    ASSERT_EQ(p.size(), 100u);
    for (const auto& [name, v] : p) {
      EXPECT_GE(v, 0.0);
      EXPECT_LT(v, 1.0);
    }
  }
  // Dimension 100's unscrambled coordinates follow the Sobol construction: 0 then 0.5 at index 1.
  Fixture raw(unit_space(100), 3, {{"scramble", false}});
  EXPECT_EQ(raw.propose(1).at("x99"), 0.5);
}

TEST(SobolStrategy, CategoricalAndIntDimensionsDecode) {
  SearchSpace s;
  s.add("a_int", IntDistribution{1, 4, false, 1});
  s.add("b_cat", CategoricalDistribution{{ParamValue{std::string("x")}, ParamValue{std::string("y")}}});
  s.add("c_step", FloatDistribution{0.0, 1.0, false, 0.5});
  Fixture f(s, 1, {{"scramble", false}});
  // Unit points (0,0,0), (.5,.5,.5), (.75,.25,.25), (.25,.75,.75): int [1,4] has 4 bins, the categorical 2,
  // the stepped float 3 grid points {0, .5, 1}.
  const double ints[4] = {1, 3, 4, 2};
  const double cats[4] = {0, 1, 0, 1};
  const double steps[4] = {0.0, 0.5, 0.0, 1.0};
  for (int n = 0; n < 4; ++n) {
    auto p = f.propose(n);
    EXPECT_EQ(p.at("a_int"), ints[n]) << n;
    EXPECT_EQ(p.at("b_cat"), cats[n]) << n;
    EXPECT_EQ(p.at("c_step"), steps[n]) << n;
  }
  // Scrambled, every int and choice still comes out, each a quarter / half of the time over 64 points.
  Fixture g(s, 5, json::object());
  std::map<double, int> int_counts, cat_counts;
  for (int n = 0; n < 64; ++n) {
    auto p = g.propose(n);
    ++int_counts[p.at("a_int")];
    ++cat_counts[p.at("b_cat")];
  }
  EXPECT_EQ(int_counts, (std::map<double, int>{{1, 16}, {2, 16}, {3, 16}, {4, 16}}));
  EXPECT_EQ(cat_counts, (std::map<double, int>{{0, 32}, {1, 32}}));
}

TEST(SobolStrategy, RelativeSpaceIsTheIntersectionOfCompletedTrials) {
  StudyOptions o;
  o.name = "intersection";
  o.strategy = "sobol";
  o.strategy_params = {{"scramble", false}};
  o.seed = 3;
  Study study = Study::create(o);
  // Trial 0 has no relative space (nothing complete): independent draws. From trial 1 on, x and y are Sobol
  // points of index = trial number; z appears only on some trials and stays independent.
  for (int n = 0; n < 4; ++n) {
    Trial t = study.ask();
    double x = t.suggest_float("x", 0.0, 1.0);
    double y = t.suggest_float("y", 0.0, 1.0);
    if (n % 2 == 0) t.suggest_float("z", 0.0, 1.0);
    if (n == 1) {
      EXPECT_EQ(x, 0.5);
      EXPECT_EQ(y, 0.5);
    }
    if (n == 2) {
      EXPECT_EQ(x, 0.75);
      EXPECT_EQ(y, 0.25);
    }
    if (n == 3) {
      EXPECT_EQ(x, 0.25);
      EXPECT_EQ(y, 0.75);
    }
    study.tell(t, x + y);
  }
}

TEST(SobolStrategy, RejectsBadParameters) {
  PluginRegistry reg({BBO_TEST_PLUGIN_DIR});
  EXPECT_THROW(reg.make_strategy("sobol", {{"skip", -1}}), ConfigError);
  EXPECT_THROW(reg.make_strategy("sobol", {{"scramble", "yes"}}), ConfigError);
  EXPECT_THROW(reg.make_strategy("sobol", {{"skip", 1.5}}), ConfigError);
  EXPECT_NO_THROW(reg.make_strategy("sobol", {{"skip", 2.0}}));
  try {
    reg.make_strategy("sobol", {{"foo", 1}});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "plugin 'sobol': unknown parameter 'foo' (known: scramble, skip)");
  }
}

}  // namespace
}  // namespace bbo

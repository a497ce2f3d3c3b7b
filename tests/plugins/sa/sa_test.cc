// Tests of the `sa` strategy: the neighbourhood proposal, the annealer core (Metropolis rule, initial
// temperature, schedules, restarts, state round trip) without a study, optimisation of easy functions through
// a study, determinism, parameter checks, and the strategy conformance suite.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>

#include "bbo/plugin.h"
#include "bbo/study.h"
#include "plugins/sa/annealer.h"
#include "plugins/sa/proposal.h"
#include "strategy_conformance.h"

// Default batch = 1 re-issues the single pending point to the other members of an ask(4), so the batch
// conformance check needs batch >= 2 (a study with several workers sets batch = workers); and it checks that
// the continuous parameter "f" differs within the batch, which single-coordinate moves (move_coords = 1 of the
// suite's 7 parameters) often leave unchanged, so the cases move every coordinate.
INSTANTIATE_TEST_SUITE_P(
    Sa, StrategyConformance,
    ::testing::Values(bbo::testing::StrategyCase{"sa", {{"batch", 4}, {"move_coords", 7}}},
                      bbo::testing::StrategyCase{"simulated_annealing",
                                                 {{"batch", 4},
                                                  {"schedule", "adaptive"},
                                                  {"restart_after", 3},
                                                  {"restart_from", "random"},
                                                  {"move_coords", 7}}},
                      bbo::testing::StrategyCase{
                          "sa", {{"batch", 4}, {"init_points", 2}, {"restart_after", 2}, {"move_coords", 10}}}),
    bbo::testing::StrategyCaseName);

namespace bbo::sa {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

SearchSpace unit_space(int d) {
  SearchSpace s;
  for (int k = 0; k < d; ++k) s.add("x" + std::to_string(k), FloatDistribution{0.0, 1.0, false, std::nullopt});
  return s;
}

SearchSpace mixed_space() {
  SearchSpace s;
  s.add("f", FloatDistribution{-3.0, 2.0, false, std::nullopt});
  s.add("flog", FloatDistribution{1e-4, 1.0, true, std::nullopt});
  s.add("fstep", FloatDistribution{0.0, 1.0, false, 0.25});
  s.add("i", IntDistribution{-2, 5, false, 1});
  s.add("ilog", IntDistribution{1, 64, true, 1});
  s.add("istep", IntDistribution{0, 10, false, 5});
  s.add("c", CategoricalDistribution{{ParamValue{std::string("a")}, ParamValue{std::string("b")},
                                      ParamValue{std::string("c")}}});
  s.add("single", IntDistribution{3, 3, false, 1});
  return s;
}

// A proposal that always returns a fixed candidate: stands in for a learned proposal and isolates the
// annealer's Metropolis rule from the neighbourhood moves. Counts what observe() was shown.
class FixedProposal final : public Proposal {
 public:
  explicit FixedProposal(std::vector<double> candidate) : candidate_(std::move(candidate)) {}
  std::string name() const override { return "fixed"; }
  std::vector<double> propose(const SearchSpace&, const ProposalInput&, std::mt19937_64&) const override {
    return candidate_;
  }
  void observe(const SearchSpace&, const ProposalFeedback& f) override {
    ++observed_;
    accepted_ += f.accepted ? 1 : 0;
  }
  void reset() override { ++resets_; }
  json to_json() const override { return {{"observed", observed_}, {"accepted", accepted_}, {"resets", resets_}}; }
  void load_json(const json& s) override {
    observed_ = s.at("observed").get<int>();
    accepted_ = s.at("accepted").get<int>();
    resets_ = s.at("resets").get<int>();
  }
  int observed_ = 0, accepted_ = 0, resets_ = 0;

 private:
  std::vector<double> candidate_;
};

// ----------------------------------------------------------------------------------------------------------
// Neighbourhood proposal

TEST(NeighbourhoodProposal, ReflectUnitMirrorsAtBothFaces) {
  EXPECT_DOUBLE_EQ(reflect_unit(0.3), 0.3);
  EXPECT_DOUBLE_EQ(reflect_unit(1.25), 0.75);
  EXPECT_DOUBLE_EQ(reflect_unit(-0.25), 0.25);
  EXPECT_DOUBLE_EQ(reflect_unit(2.25), 0.25);
  EXPECT_DOUBLE_EQ(reflect_unit(-1.5), 0.5);
  EXPECT_DOUBLE_EQ(reflect_unit(kInf), 0.5);
}

TEST(NeighbourhoodProposal, CandidatesLieInsideAndChangeOneOrAFewCoordinates) {
  const SearchSpace space = mixed_space();
  NeighbourhoodProposal p({.step = 0.3, .move_coords = 1.0});
  std::mt19937_64 rng(5);
  std::vector<double> current(space.size());
  for (size_t k = 0; k < space.size(); ++k) current[k] = snap_unit(space.distributions()[k], 0.37);
  std::map<size_t, int> changed_count;
  std::vector<int> moved_per_dim(space.size(), 0);
  for (int n = 0; n < 2000; ++n) {
    auto c = p.propose(space, {current, 1.0, 1.0, 1.0, 0}, rng);
    ASSERT_EQ(c.size(), space.size());
    size_t changed = 0;
    auto before = space.decode(current), after = space.decode(c);
    for (size_t k = 0; k < space.size(); ++k) {
      ASSERT_GE(c[k], 0.0);
      ASSERT_LE(c[k], 1.0);
      EXPECT_TRUE(contains(space.distributions()[k], after.at(space.names()[k])));
      if (after.at(space.names()[k]) != before.at(space.names()[k])) {
        ++changed;
        ++moved_per_dim[k];
      }
    }
    ++changed_count[changed];
  }
  // Never zero coordinates (every chosen discrete coordinate really changes; a continuous one changes almost
  // surely); expected number ~ 1 + P(none) ~ 1.4 out of 7 movable; more than 4 at once is very rare.
  EXPECT_EQ(changed_count[0], 0);
  EXPECT_GT(changed_count[1], 1000);
  int many = 0;
  for (auto [k, n] : changed_count) many += k > 4 ? n : 0;
  EXPECT_LT(many, 20);
  EXPECT_EQ(moved_per_dim.back(), 0) << "the single-valued parameter moved";
  for (size_t k = 0; k + 1 < space.size(); ++k) EXPECT_GT(moved_per_dim[k], 200) << space.names()[k];
}

TEST(NeighbourhoodProposal, IntegerMovesAreNonZeroGridStepsGrowingWithTheStep) {
  SearchSpace space;
  space.add("n", IntDistribution{0, 100, false, 1});
  std::vector<double> current{to_unit(space.distributions()[0], 50.0)};
  for (double step : {1e-4, 0.05}) {
    NeighbourhoodProposal p({.step = step});
    std::mt19937_64 rng(11);
    double mean_abs = 0.0;
    std::set<double> seen;
    for (int n = 0; n < 1000; ++n) {
      double v = from_unit(space.distributions()[0], p.propose(space, {current, 0.0, 1.0, 1.0, 0}, rng)[0]);
      ASSERT_NE(v, 50.0);
      seen.insert(v);
      mean_abs += std::fabs(v - 50.0) / 1000;
    }
    if (step == 1e-4) {
      // A tiny step always lands in the current bin: exactly one grid point up or down, both directions.
      EXPECT_EQ(seen, (std::set<double>{49.0, 51.0}));
    } else {
      // Step 0.05 of 101 bins: |k| ~ |N(0, 5.05^2)| on the grid, mean ~ 5.05 * sqrt(2/pi) = 4.03.
      EXPECT_NEAR(mean_abs, 4.03, 0.5);
      EXPECT_GT(seen.size(), 10u);
    }
  }
  // At a bound the forced step goes inwards.
  NeighbourhoodProposal p({.step = 1e-4});
  std::mt19937_64 rng(3);
  std::vector<double> at_top{to_unit(space.distributions()[0], 100.0)};
  for (int n = 0; n < 50; ++n)
    EXPECT_EQ(from_unit(space.distributions()[0], p.propose(space, {at_top, 0.0, 1.0, 1.0, 0}, rng)[0]), 99.0);
}

TEST(NeighbourhoodProposal, CategoricalMovesPickAUniformlyDifferentChoice) {
  SearchSpace space;
  space.add("c", CategoricalDistribution{{ParamValue{std::string("a")}, ParamValue{std::string("b")},
                                          ParamValue{std::string("c")}, ParamValue{std::string("d")}}});
  NeighbourhoodProposal p;
  std::mt19937_64 rng(2);
  std::vector<double> current{to_unit(space.distributions()[0], 1.0)};
  std::map<double, int> counts;
  const int n = 6000;
  for (int k = 0; k < n; ++k) {
    auto c = p.propose(space, {current, 0.0, 1.0, 1.0, 0}, rng);
    EXPECT_DOUBLE_EQ(c[0], snap_unit(space.distributions()[0], c[0]));  // the choice's own coordinate
    ++counts[from_unit(space.distributions()[0], c[0])];
  }
  EXPECT_EQ(counts.count(1.0), 0u);
  ASSERT_EQ(counts.size(), 3u);
  // Each of the 3 others with probability 1/3: binomial sd = sqrt(n/3 * 2/3) ~ 36.5; 5 sd.
  for (auto [choice, c] : counts) EXPECT_NEAR(c, n / 3.0, 183) << choice;
}

TEST(NeighbourhoodProposal, StepFollowsTheOneFifthSuccessRule) {
  const SearchSpace space = unit_space(1);
  NeighbourhoodProposal p({.step = 0.1});
  std::vector<double> a{0.5}, b{0.6};
  // Success: *exp(0.8 / (3 * 0.8)) = exp(1/3); failure: *exp(-0.2 / 2.4) = exp(-1/12).
  p.observe(space, {a, 1.0, b, 0.5, true, 1.0});
  EXPECT_NEAR(p.step(), 0.1 * std::exp(1.0 / 3.0), 1e-15);
  p.observe(space, {a, 1.0, b, 2.0, false, 1.0});
  EXPECT_NEAR(p.step(), 0.1 * std::exp(1.0 / 3.0 - 1.0 / 12.0), 1e-15);
  // Four failures per success leave the step unchanged: the equilibrium is a 1/5 success rate.
  const double before = p.step();
  p.observe(space, {a, 1.0, b, 0.0, true, 1.0});
  for (int k = 0; k < 4; ++k) p.observe(space, {a, 1.0, b, 3.0, false, 1.0});
  EXPECT_NEAR(p.step(), before, 1e-15);
  // Bounded, reset, round trip.
  for (int k = 0; k < 100; ++k) p.observe(space, {a, 1.0, b, 0.0, true, 1.0});
  EXPECT_EQ(p.step(), 1.0);
  NeighbourhoodProposal q({.step = 0.1});
  q.load_json(p.to_json());
  EXPECT_EQ(q.step(), 1.0);
  q.reset();
  EXPECT_EQ(q.step(), 0.1);
  EXPECT_THROW(q.load_json(json{{"step", -1.0}}), std::invalid_argument);
  EXPECT_THROW(NeighbourhoodProposal({.step = 0.0}), std::invalid_argument);
  EXPECT_THROW(NeighbourhoodProposal({.step = 0.1, .move_coords = 0.5}), std::invalid_argument);
}

// ----------------------------------------------------------------------------------------------------------
// Annealer core

TEST(Annealer, MeanAbsoluteDifferenceMatchesThePairwiseDefinition) {
  std::mt19937_64 rng(1);
  std::normal_distribution<double> normal(0.0, 3.0);
  std::vector<double> v;
  for (int k = 0; k < 57; ++k) v.push_back(normal(rng));
  v.push_back(kInf);  // ignored
  double brute = 0.0;
  int pairs = 0;
  for (size_t i = 0; i < 57; ++i)
    for (size_t j = i + 1; j < 57; ++j, ++pairs) brute += std::fabs(v[i] - v[j]);
  EXPECT_NEAR(*Annealer::mean_abs_difference(v), brute / pairs, 1e-12 * brute / pairs);
  EXPECT_FALSE(Annealer::mean_abs_difference({1.0, kInf}).has_value());
}

TEST(Annealer, InitialTemperatureAcceptsATypicalUphillMoveWithTheGivenProbability) {
  Annealer a(unit_space(2), {.init_points = 3}, std::make_unique<NeighbourhoodProposal>());
  a.start({}, {});
  std::mt19937_64 rng(1);
  auto init = a.ask(rng);
  ASSERT_EQ(init.size(), 3u);
  EXPECT_EQ(a.temperature(), 0.0);
  a.tell(init, {1.0, 2.0, 4.0}, rng);
  // mean |Δ| over the pairs = (1 + 3 + 2) / 3 = 2; exp(-2 / T0) = 0.8.
  EXPECT_NEAR(std::exp(-2.0 / a.initial_temperature()), 0.8, 1e-12);
  EXPECT_EQ(a.temperature(), a.initial_temperature());
  EXPECT_EQ(a.current(), init[0]);
  EXPECT_EQ(a.current_value(), 1.0);
  EXPECT_EQ(a.phase(), Annealer::Phase::kMove);
}

TEST(Annealer, FlatInitialValuesDeferTheTemperatureToTheFirstUphillMove) {
  Annealer a(unit_space(1), {.init_points = 2, .initial_acceptance = 0.5},
             std::make_unique<FixedProposal>(std::vector<double>{0.9}));
  a.start({}, {});
  std::mt19937_64 rng(1);
  a.tell(a.ask(rng), {3.0, 3.0}, rng);
  EXPECT_EQ(a.temperature(), 0.0);
  a.tell(a.ask(rng), {3.0}, rng);  // level move: accepted, T still unknown
  EXPECT_EQ(a.temperature(), 0.0);
  a.tell(a.ask(rng), {3.5}, rng);  // first uphill delta 0.5: exp(-0.5 / T0) = 0.5
  EXPECT_NEAR(a.initial_temperature(), 0.5 / std::log(2.0), 1e-15);
}

// Metropolis on a fixed uphill delta: the acceptance frequency is exp(-delta / T).
TEST(Annealer, UphillMovesAreAcceptedWithTheMetropolisProbability) {
  const SearchSpace space = unit_space(1);
  Annealer a(space, {.init_points = 1, .cooling = 1.0, .t0 = 2.0, .restart_after = 0},
             std::make_unique<FixedProposal>(std::vector<double>{0.8}));
  a.start({{0.2}}, {5.0});
  std::mt19937_64 rng(1);
  a.tell(a.ask(rng), {5.0}, rng);  // initial generation; current stays at the warm point 0.2
  ASSERT_EQ(a.current(), std::vector<double>{0.2});
  const json state = a.to_json();
  const int n = 4000;
  int accepted = 0;
  for (int k = 0; k < n; ++k) {
    Annealer b(space, a.options(), std::make_unique<FixedProposal>(std::vector<double>{0.8}));
    b.load_json(state);
    std::mt19937_64 r(1000 + k);
    b.tell(b.ask(r), {7.0}, r);  // delta = 2 at T = 2
    accepted += b.current() == std::vector<double>{0.8} ? 1 : 0;
  }
  // p = exp(-1) = 0.3679; binomial sd = sqrt(p (1 - p) / n) = 0.0076; 4 sd.
  EXPECT_NEAR(static_cast<double>(accepted) / n, std::exp(-1.0), 0.031);
  // Downhill and level moves are always accepted; a failed candidate never.
  for (double y : {4.0, 5.0, kInf}) {
    Annealer b(space, a.options(), std::make_unique<FixedProposal>(std::vector<double>{0.8}));
    b.load_json(state);
    std::mt19937_64 r(7);
    b.tell(b.ask(r), {y}, r);
    EXPECT_EQ(b.current() == std::vector<double>{0.8}, y != kInf) << y;
  }
}

TEST(Annealer, BestCandidateOfTheBatchGoesThroughMetropolis) {
  Annealer a(unit_space(2), {.batch = 3, .init_points = 1, .t0 = 1e-9}, std::make_unique<NeighbourhoodProposal>());
  a.start({{0.5, 0.5}}, {1.0});
  std::mt19937_64 rng(4);
  a.tell(a.ask(rng), {2.0, 2.0, 2.0}, rng);  // initial generation of max(batch, init_points) = 3
  auto gen = a.ask(rng);
  ASSERT_EQ(gen.size(), 3u);
  a.tell(gen, {0.9, 0.3, 0.7}, rng);
  EXPECT_EQ(a.current(), gen[1]);
  EXPECT_EQ(a.best(), gen[1]);
  EXPECT_EQ(a.best_value(), 0.3);
}

TEST(Annealer, ExponentialScheduleCoolsGeometrically) {
  Annealer a(unit_space(1), {.init_points = 1, .cooling = 0.9, .t0 = 3.0, .restart_after = 0},
             std::make_unique<NeighbourhoodProposal>());
  a.start({}, {});
  std::mt19937_64 rng(1);
  a.tell(a.ask(rng), {1.0}, rng);
  EXPECT_EQ(a.temperature(), 3.0);
  for (int k = 1; k <= 25; ++k) {
    a.tell(a.ask(rng), {1.0 + k}, rng);
    EXPECT_NEAR(a.temperature(), 3.0 * std::pow(0.9, k), 1e-12 * 3.0) << k;
  }
}

TEST(Annealer, AdaptiveScheduleSettlesAtTheTargetAcceptanceOfUphillMoves) {
  // A candidate that is always 1 worse: the Robbins–Monro step on log T converges to exp(-1 / T) = target
  // (cooling = 1 holds the target constant).
  const SearchSpace space = unit_space(1);
  for (double target : {0.3, 0.44}) {
    Annealer a(space,
               {.init_points = 1, .schedule = Schedule::kAdaptive, .cooling = 1.0, .target_acceptance = target,
                .t0 = 50.0,
                .restart_after = 0},
               std::make_unique<FixedProposal>(std::vector<double>{0.8}));
    a.start({{0.2}}, {0.0});
    std::mt19937_64 rng(1);
    a.tell(a.ask(rng), {1.0}, rng);
    for (int k = 0; k < 300; ++k) {
      // Keep the chain at value 0 so every decision is the same uphill delta of 1.
      json s = a.to_json();
      s["current"] = std::vector<double>{0.2};
      s["current_value"] = 0.0;
      a.load_json(s);
      a.tell(a.ask(rng), {1.0}, rng);
    }
    EXPECT_NEAR(a.temperature(), -1.0 / std::log(target), 1e-9) << target;
  }
}

TEST(Annealer, AdaptiveScheduleFollowsTheAnnealedTarget) {
  // With cooling < 1 the target decays as 0.3 * 0.95^k; on a constant uphill delta of 1 the temperature
  // tracks -1 / ln(target_k) (within the lag of the Robbins–Monro step) and so goes down.
  const SearchSpace space = unit_space(1);
  Annealer a(space, {.init_points = 1, .schedule = Schedule::kAdaptive, .cooling = 0.95, .t0 = 1.0,
                     .restart_after = 0},
             std::make_unique<FixedProposal>(std::vector<double>{0.8}));
  a.start({{0.2}}, {0.0});
  std::mt19937_64 rng(1);
  a.tell(a.ask(rng), {1.0}, rng);
  double previous = a.temperature();
  for (int k = 0; k < 60; ++k) {
    json s = a.to_json();
    s["current"] = std::vector<double>{0.2};
    s["current_value"] = 0.0;
    a.load_json(s);
    a.tell(a.ask(rng), {1.0}, rng);
    if (k >= 20) {
      EXPECT_LT(a.temperature(), previous) << k;
    }
    previous = a.temperature();
  }
  const double target = 0.3 * std::pow(0.95, 60);
  const double p = std::exp(-1.0 / a.temperature());
  EXPECT_GT(p, target / 3) << "target " << target;
  EXPECT_LT(p, target * 3) << "target " << target;
}

TEST(Annealer, RestartsFromTheBestAfterStalledGenerations) {
  const SearchSpace space = unit_space(1);
  auto proposal = std::make_unique<FixedProposal>(std::vector<double>{0.8});
  FixedProposal* fixed = proposal.get();
  Annealer a(space, {.init_points = 1, .cooling = 0.5, .t0 = 100.0, .restart_after = 4}, std::move(proposal));
  a.start({{0.2}}, {1.0});
  std::mt19937_64 rng(1);
  a.tell(a.ask(rng), {2.0}, rng);  // initial point worse than the warm start
  const int resets_at_start = fixed->resets_;
  for (int k = 0; k < 3; ++k) a.tell(a.ask(rng), {1.5}, rng);  // uphill at high T: mostly accepted, no improvement
  EXPECT_EQ(a.restarts(), 0);
  EXPECT_EQ(a.stall(), 3);
  EXPECT_NEAR(a.temperature(), 100.0 * 0.125, 1e-12);
  a.tell(a.ask(rng), {1.5}, rng);
  EXPECT_EQ(a.restarts(), 1);
  EXPECT_EQ(a.stall(), 0);
  EXPECT_NEAR(a.temperature(), 100.0 * 0.0625, 1e-12);  // no re-heating
  EXPECT_EQ(a.current(), std::vector<double>{0.2});
  EXPECT_EQ(a.current_value(), 1.0);
  EXPECT_EQ(fixed->resets_, resets_at_start + 1);
  // An improvement resets the stall counter.
  a.tell(a.ask(rng), {0.5}, rng);
  EXPECT_EQ(a.stall(), 0);
  EXPECT_EQ(a.best_value(), 0.5);
}

TEST(Annealer, RandomRestartDrawsNewPointsAndStartsFromTheBestOfThem) {
  Annealer a(unit_space(2),
             {.batch = 2, .init_points = 3, .t0 = 1.0, .restart_after = 2, .restart_from = RestartFrom::kRandom},
             std::make_unique<NeighbourhoodProposal>());
  a.start({}, {});
  std::mt19937_64 rng(9);
  EXPECT_EQ(a.ask(rng).size(), 4u);  // init_points 3 rounded up to a multiple of the batch
  a.tell(a.ask(rng), {0.0, 1.0, 2.0, 2.5}, rng);
  a.tell(a.ask(rng), {3.0, 4.0}, rng);
  a.tell(a.ask(rng), {3.0, 4.0}, rng);
  EXPECT_EQ(a.restarts(), 1);
  EXPECT_EQ(a.phase(), Annealer::Phase::kInit);
  auto fresh = a.ask(rng);
  ASSERT_EQ(fresh.size(), 2u);
  a.tell(fresh, {6.0, 5.0}, rng);
  EXPECT_EQ(a.current(), fresh[1]);  // the chain moves to the new region even though it is worse
  EXPECT_EQ(a.current_value(), 5.0);
  EXPECT_EQ(a.best_value(), 0.0);  // the best is kept
}

TEST(Annealer, WarmStartSkipsTheInitialGeneration) {
  Annealer a(unit_space(2), {}, std::make_unique<NeighbourhoodProposal>());
  a.start({{0.1, 0.1}, {0.9, 0.2}, {0.4, 0.4}}, {3.0, 1.0, kInf});
  EXPECT_EQ(a.phase(), Annealer::Phase::kMove);
  EXPECT_EQ(a.current(), (std::vector<double>{0.9, 0.2}));
  EXPECT_NEAR(std::exp(-2.0 / a.initial_temperature()), 0.8, 1e-12);
  std::mt19937_64 rng(1);
  EXPECT_EQ(a.ask(rng).size(), 1u);
}

TEST(Annealer, StateRoundTripsAndProposesTheSameGeneration) {
  const SearchSpace space = mixed_space();
  AnnealerOptions o{.batch = 3, .schedule = Schedule::kAdaptive, .restart_after = 5};
  Annealer a(space, o, std::make_unique<NeighbourhoodProposal>());
  a.start({}, {});
  std::mt19937_64 rng(21);
  for (int g = 0; g < 12; ++g) {
    auto x = a.ask(rng);
    std::vector<double> y;
    for (size_t i = 0; i < x.size(); ++i) y.push_back(i == 1 && g == 3 ? kInf : std::sin(7.0 * x[i][0] + g));
    a.tell(x, y, rng);
  }
  const json state = a.to_json();
  Annealer b(space, o, std::make_unique<NeighbourhoodProposal>());
  b.load_json(json::parse(state.dump()));  // through text, as storage keeps it
  EXPECT_EQ(b.to_json(), state);
  std::mt19937_64 r1(5), r2(5);
  auto xa = a.ask(r1), xb = b.ask(r2);
  EXPECT_EQ(xa, xb);
  a.tell(xa, {0.1, 0.2, 0.3}, r1);
  b.tell(xb, {0.1, 0.2, 0.3}, r2);
  EXPECT_EQ(a.to_json(), b.to_json());
  // A state of another proposal, or a malformed one, is refused.
  Annealer c(space, o, std::make_unique<FixedProposal>(std::vector<double>(space.size(), 0.5)));
  EXPECT_THROW(c.load_json(state), std::invalid_argument);
  EXPECT_THROW(b.load_json(json{{"phase", "move"}}), std::invalid_argument);
}

TEST(Annealer, FailedValuesAreStoredAsNullAndNeverWinOverFiniteOnes) {
  Annealer a(unit_space(1), {.init_points = 2}, std::make_unique<NeighbourhoodProposal>());
  a.start({}, {});
  std::mt19937_64 rng(1);
  a.tell(a.ask(rng), {kInf, std::nan("")}, rng);
  EXPECT_EQ(a.current_value(), kInf);
  json s = a.to_json();
  EXPECT_TRUE(s["current_value"].is_null());
  a.tell(a.ask(rng), {2.0}, rng);  // any finite value replaces a failed state
  EXPECT_EQ(a.current_value(), 2.0);
  EXPECT_EQ(a.best_value(), 2.0);
}

// Drives the annealer by hand on f(u) = sum (u_k - 0.3)^2.
double run_sphere(AnnealerOptions o, int evals, uint64_t seed) {
  const int d = 4;
  Annealer a(unit_space(d), o, std::make_unique<NeighbourhoodProposal>());
  a.start({}, {});
  std::mt19937_64 rng(seed);
  int used = 0;
  while (used < evals) {
    auto x = a.ask(rng);
    std::vector<double> y;
    for (const auto& p : x) {
      double v = 0.0;
      for (double u : p) v += (u - 0.3) * (u - 0.3);
      y.push_back(v);
    }
    used += static_cast<int>(x.size());
    a.tell(x, y, rng);
  }
  return a.best_value();
}

TEST(Annealer, FindsTheMinimumOfASphereWithEitherSchedule) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    EXPECT_LT(run_sphere({}, 1500, seed), 1e-6) << "exponential, seed " << seed;
    EXPECT_LT(run_sphere({.schedule = Schedule::kAdaptive}, 1500, seed), 1e-6) << "adaptive, seed " << seed;
    EXPECT_LT(run_sphere({.batch = 4, .restart_from = RestartFrom::kRandom}, 3000, seed), 1e-6)
        << "batch 4, seed " << seed;
  }
}

// ----------------------------------------------------------------------------------------------------------
// Through a study

StudyOptions study_options(const std::string& name, json params, uint64_t seed) {
  StudyOptions o;
  o.name = name;
  o.storage = "memory:";
  o.strategy = "sa";
  o.strategy_params = std::move(params);
  o.seed = seed;
  return o;
}

// A mixed problem with a unique optimum: x = 0.7, n = 6, kind = "b".
double mixed_objective(double x, int64_t n, const std::string& kind) {
  return (x - 0.7) * (x - 0.7) + 0.1 * static_cast<double>((n - 6) * (n - 6)) + (kind == "b" ? 0.0 : 1.0);
}

struct MixedResult {
  double best;
  std::vector<std::tuple<double, int64_t, std::string>> history;
};

MixedResult run_mixed(json params, uint64_t seed, int trials) {
  Study study = Study::create(study_options("mixed", std::move(params), seed));
  MixedResult r{kInf, {}};
  for (int k = 0; k < trials; ++k) {
    Trial t = study.ask();
    double x = t.suggest_float("x", -5.0, 5.0);
    int64_t n = t.suggest_int("n", 0, 20);
    std::string kind = t.suggest_categorical("kind", std::vector<std::string>{"a", "b", "c", "d"});
    double v = mixed_objective(x, n, kind);
    r.best = std::min(r.best, v);
    r.history.emplace_back(x, n, kind);
    study.tell(t, v);
  }
  return r;
}

TEST(SaStrategy, FindsTheOptimumOfAMixedProblem) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    // < 1e-3 needs n = 6 and kind = "b" exactly (else >= 0.1) and |x - 0.7| < 0.032 (0.3% of the range).
    EXPECT_LT(run_mixed(json::object(), seed, 400).best, 1e-3) << "seed " << seed;
    EXPECT_LT(run_mixed({{"schedule", "adaptive"}}, seed, 400).best, 1e-3) << "adaptive, seed " << seed;
  }
}

TEST(SaStrategy, MaximisationIsNegated) {
  StudyOptions o = study_options("max", json::object(), 4);
  o.directions = {Direction::kMaximize};
  Study study = Study::create(o);
  double best = -kInf;
  for (int k = 0; k < 300; ++k) {
    Trial t = study.ask();
    double x = t.suggest_float("x", -2.0, 2.0);
    double y = t.suggest_float("y", -2.0, 2.0);
    double v = -(x - 1.0) * (x - 1.0) - (y + 0.5) * (y + 0.5);
    best = std::max(best, v);
    study.tell(t, v);
  }
  EXPECT_GT(best, -1e-4);
}

TEST(SaStrategy, SameSeedGivesTheSameTrajectory) {
  auto a = run_mixed({{"batch", 2}}, 17, 60);
  auto b = run_mixed({{"batch", 2}}, 17, 60);
  auto c = run_mixed({{"batch", 2}}, 18, 60);
  EXPECT_EQ(a.history, b.history);
  EXPECT_NE(a.history, c.history);
}

TEST(SaStrategy, RejectsBadParameters) {
  PluginRegistry reg({BBO_TEST_PLUGIN_DIR});
  EXPECT_NO_THROW(reg.make_strategy("sa", json::object()));
  EXPECT_NO_THROW(reg.make_strategy("simulated_annealing", {{"t0", 2.5}, {"schedule", "adaptive"}}));
  for (const json& bad : {json{{"batch", 0}}, json{{"cooling", 1.5}}, json{{"cooling", 0.0}},
                          json{{"schedule", "linear"}}, json{{"restart_from", "middle"}}, json{{"t0", -1.0}},
                          json{{"target_acceptance", 1.0}}, json{{"initial_acceptance", 0.0}},
                          json{{"restart_after", -1}}, json{{"step", 0.0}}, json{{"step", 1.5}},
                          json{{"move_coords", 0.5}}, json{{"init_points", 0}}, json{{"batch", "4"}}}) {
    EXPECT_THROW(reg.make_strategy("sa", bad), ConfigError) << bad.dump();
  }
  try {
    reg.make_strategy("sa", {{"cooling", 2.0}});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("plugin 'sa': parameter 'cooling' must be in (0, 1]", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace bbo::sa

// Tests of the Strategy defaults, intersection_space and sample_uniform.
#include "bbo/strategy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "bbo/storage.h"
#include "bbo/study_view.h"

namespace bbo {
namespace {

class OnlyIndependent final : public Strategy {
 public:
  double sample_independent(const SampleContext&, const std::string&, const Distribution& d) override {
    return from_unit(d, 0.5);
  }
};

struct MemoryStudy {
  std::unique_ptr<Storage> storage = open_storage("memory:");
  int64_t id = storage->create_study("s", {Direction::kMinimize}, {{"seed", 11}});

  void add(TrialState state, const std::map<std::string, std::pair<double, Distribution>>& params) {
    FrozenTrial t;
    t.state = state;
    if (state == TrialState::kComplete) t.values = {1.0};
    for (const auto& [name, vd] : params) {
      t.params[name] = vd.first;
      t.distributions[name] = vd.second;
    }
    storage->create_trial(id, &t);
  }
  StudyView view(SearchSpace declared = {}) { return StudyView(*storage, storage->get_study(id), declared); }
};

TEST(Strategy, DefaultsProposeNothingJointly) {
  MemoryStudy s;
  StudyView view = s.view();
  OnlyIndependent strategy;
  EXPECT_TRUE(strategy.relative_space(view).empty());
  FrozenTrial t;
  std::mt19937_64 rng(1);
  SampleContext ctx{view, t, rng};
  SearchSpace space;
  space.add("x", FloatDistribution{0, 1, false, std::nullopt});
  EXPECT_TRUE(strategy.sample_relative(ctx, space).empty());
  strategy.on_trial_finished(view, t);  // a no-op that must not throw
}

TEST(IntersectionSpace, EmptyWithoutCompleteTrials) {
  MemoryStudy s;
  s.add(TrialState::kPruned, {{"x", {0.5, FloatDistribution{0, 1, false, std::nullopt}}}});
  s.add(TrialState::kFail, {{"x", {0.5, FloatDistribution{0, 1, false, std::nullopt}}}});
  EXPECT_TRUE(intersection_space(s.view()).empty());
}

TEST(IntersectionSpace, KeepsParametersEveryCompleteTrialSharesWithTheSameDistribution) {
  MemoryStudy s;
  s.add(TrialState::kComplete, {{"y", {1, IntDistribution{0, 3, false, 1}}},
                                {"x", {0.5, FloatDistribution{0, 1, false, std::nullopt}}},
                                {"z", {0.5, FloatDistribution{0, 1, false, std::nullopt}}},
                                {"w", {0.5, FloatDistribution{0, 1, false, std::nullopt}}}});
  s.add(TrialState::kComplete,
        {{"x", {0.1, FloatDistribution{0, 1, false, std::nullopt}}},
         {"y", {2, IntDistribution{0, 3, false, 1}}},
         {"w", {0.5, FloatDistribution{0, 2, false, std::nullopt}}}});  // w changed its distribution
  s.add(TrialState::kPruned,
        {{"x", {0.1, FloatDistribution{0, 1, false, std::nullopt}}}});  // pruned trials do not narrow it
  SearchSpace space = intersection_space(s.view());
  EXPECT_EQ(space.names(), (std::vector<std::string>{"x", "y"}));  // sorted by name
  EXPECT_EQ(space.at("x"), Distribution(FloatDistribution{0, 1, false, std::nullopt}));
  EXPECT_EQ(space.at("y"), Distribution(IntDistribution{0, 3, false, 1}));
}

TEST(IntersectionSpace, DeclaredSpaceWins) {
  MemoryStudy s;
  s.add(TrialState::kComplete, {{"x", {0.5, FloatDistribution{0, 1, false, std::nullopt}}}});
  SearchSpace declared;
  declared.add("b", IntDistribution{0, 9, false, 1});
  declared.add("a", FloatDistribution{-1, 1, false, std::nullopt});
  SearchSpace space = intersection_space(s.view(declared));
  EXPECT_EQ(space, declared);
}

TEST(SampleUniform, StaysInsideEveryKindOfDistribution) {
  std::vector<Distribution> dists = {
      FloatDistribution{-2, 3, false, std::nullopt},
      FloatDistribution{1e-5, 10, true, std::nullopt},
      FloatDistribution{0, 1, false, 0.1},
      FloatDistribution{4, 4, false, std::nullopt},
      IntDistribution{-3, 3, false, 1},
      IntDistribution{1, 1000, true, 1},
      IntDistribution{0, 20, false, 4},
      CategoricalDistribution{{ParamValue{std::string("a")}, ParamValue{1.5}, ParamValue{}}}};
  std::mt19937_64 rng(7);
  for (const auto& d : dists)
    for (int k = 0; k < 500; ++k) {
      double v = sample_uniform(d, rng);
      ASSERT_TRUE(contains(d, v)) << distribution_to_json(d).dump() << " got " << v;
    }
}

TEST(SampleUniform, GivesEveryGridPointAndChoiceEqualProbability) {
  std::mt19937_64 rng(99);
  const int n = 30000;
  std::map<double, int> ints, steps, cats;
  IntDistribution i{0, 8, false, 2};           // 0, 2, 4, 6, 8
  FloatDistribution f{0.0, 1.0, false, 0.25};  // 0, .25, .5, .75, 1
  CategoricalDistribution c{{ParamValue{int64_t{1}}, ParamValue{int64_t{2}}, ParamValue{int64_t{3}}}};
  for (int k = 0; k < n; ++k) {
    ++ints[sample_uniform(i, rng)];
    ++steps[sample_uniform(f, rng)];
    ++cats[sample_uniform(c, rng)];
  }
  // Expected count n/5 = 6000 (sd ~ 70) and n/3 = 10000 (sd ~ 82): 6 sd bounds.
  ASSERT_EQ(ints.size(), 5u);
  ASSERT_EQ(steps.size(), 5u);
  ASSERT_EQ(cats.size(), 3u);
  for (const auto& [v, cnt] : ints) EXPECT_NEAR(cnt, n / 5, 420) << v;
  for (const auto& [v, cnt] : steps) EXPECT_NEAR(cnt, n / 5, 420) << v;
  for (const auto& [v, cnt] : cats) EXPECT_NEAR(cnt, n / 3, 500) << v;
}

TEST(SampleUniform, LogDistributionsAreUniformInLogSpace) {
  std::mt19937_64 rng(5);
  const int n = 20000;
  double mean_log = 0.0;
  int low_decade = 0;
  for (int k = 0; k < n; ++k) {
    double v = sample_uniform(FloatDistribution{1e-6, 1.0, true, std::nullopt}, rng);
    mean_log += std::log10(v) / n;
    low_decade += v < 1e-5;
  }
  EXPECT_NEAR(mean_log, -3.0, 0.05);                                // sd of the mean ~ 0.012
  EXPECT_NEAR(static_cast<double>(low_decade) / n, 1.0 / 6, 0.02);  // one decade of six
}

TEST(SampleUniform, SameGeneratorStateGivesSameValue) {
  std::mt19937_64 a(123), b(123);
  for (int k = 0; k < 10; ++k)
    EXPECT_EQ(sample_uniform(FloatDistribution{0, 1, false, std::nullopt}, a),
              sample_uniform(FloatDistribution{0, 1, false, std::nullopt}, b));
}

}  // namespace
}  // namespace bbo

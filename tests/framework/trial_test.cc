#include "bbo/trial.h"

#include <limits>
#include <set>

#include <gtest/gtest.h>

#include "bbo/error.h"

namespace bbo {
namespace {

TEST(TrialState, StringsRoundTrip) {
  for (auto s : {TrialState::kRunning, TrialState::kWaiting, TrialState::kComplete, TrialState::kPruned,
                 TrialState::kFail})
    EXPECT_EQ(trial_state_from_string(to_string(s)), s);
  EXPECT_EQ(trial_state_from_string("pruned"), TrialState::kPruned);
  EXPECT_THROW(trial_state_from_string("done"), ValueError);
  EXPECT_EQ(direction_from_string("MAXIMIZE"), Direction::kMaximize);
  EXPECT_THROW(direction_from_string("up"), ValueError);
}

TEST(FrozenTrial, FeasibilityCurvesAndJson) {
  FrozenTrial t;
  t.number = 3;
  t.state = TrialState::kComplete;
  t.params = {{"act", 1.0}, {"x", 0.5}};
  t.distributions = {{"act", CategoricalDistribution{{std::string("relu"), std::string("tanh")}}},
                     {"x", FloatDistribution{0, 1}}};
  t.values = {std::numeric_limits<double>::infinity()};
  t.intermediate_values = {{{0, 0}, 1.0}, {{5, 0}, 0.5}, {{2, 1}, 9.0}};
  EXPECT_TRUE(t.feasible());
  t.constraints = {-1.0, std::numeric_limits<double>::quiet_NaN()};
  EXPECT_FALSE(t.feasible());
  EXPECT_EQ(t.curve(0).size(), 2u);
  EXPECT_EQ(t.last_step()->first, 5);
  json j = to_json(t);
  EXPECT_EQ(j["state"], "COMPLETE");
  EXPECT_EQ(j["params"]["act"], "tanh");
  EXPECT_EQ(j["values"][0], "inf");
  EXPECT_THROW(t.param("nope"), NotFoundError);
}

TEST(TrialSeed, DependsOnSeedNumberAndSalt) {
  std::set<uint64_t> seen;
  for (uint64_t s = 0; s < 10; ++s)
    for (int64_t n = 0; n < 100; ++n) seen.insert(trial_seed(s, n));
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_EQ(trial_seed(1, 2), trial_seed(1, 2));
  EXPECT_NE(trial_seed(1, 2, 0), trial_seed(1, 2, hash_string("x")));
  EXPECT_NE(hash_string("x"), hash_string("y"));
}

}  // namespace
}  // namespace bbo

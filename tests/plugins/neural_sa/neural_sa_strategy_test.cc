// Tests of the `neural_sa` strategy plugin: the conformance suite, optimisation through a study (mixed space),
// determinism, the proposal's state in storage, and parameter checks.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <tuple>

#include "bbo/plugin.h"
#include "bbo/study.h"
#include "strategy_conformance.h"

// batch >= 2 so that an ask(4) gets distinct candidates; moves = 7 moves every parameter of the suite's space,
// so the continuous "f" differs within a batch (as the sa plugin's cases do with move_coords).
INSTANTIATE_TEST_SUITE_P(
    NeuralSa, StrategyConformance,
    ::testing::Values(bbo::testing::StrategyCase{"neural_sa", {{"batch", 4}, {"moves", 7}}},
                      bbo::testing::StrategyCase{"neural_simulated_annealing",
                                                 {{"batch", 4},
                                                  {"schedule", "adaptive"},
                                                  {"restart_after", 3},
                                                  {"restart_from", "random"},
                                                  {"moves", 7}}}),
    bbo::testing::StrategyCaseName);

namespace bbo {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

StudyOptions study_options(const std::string& name, json params, uint64_t seed) {
  StudyOptions o;
  o.name = name;
  o.storage = "memory:";
  o.strategy = "neural_sa";
  o.strategy_params = std::move(params);
  o.seed = seed;
  return o;
}

struct MixedResult {
  double best;
  std::vector<std::tuple<double, int64_t, std::string>> history;
};

// Unique optimum x = 0.7, n = 6, kind = "b" (value 0).
MixedResult run_mixed(json params, uint64_t seed, int trials) {
  Study study = Study::create(study_options("mixed", std::move(params), seed));
  MixedResult r{kInf, {}};
  for (int k = 0; k < trials; ++k) {
    Trial t = study.ask();
    const double x = t.suggest_float("x", -5.0, 5.0);
    const int64_t n = t.suggest_int("n", 0, 20);
    const std::string kind = t.suggest_categorical("kind", std::vector<std::string>{"a", "b", "c", "d"});
    const double v = (x - 0.7) * (x - 0.7) + 0.1 * static_cast<double>((n - 6) * (n - 6)) + (kind == "b" ? 0.0 : 1.0);
    r.best = std::min(r.best, v);
    r.history.emplace_back(x, n, kind);
    study.tell(t, v);
  }
  return r;
}

TEST(NeuralSaStrategy, FindsTheOptimumOfAMixedProblem) {
  for (uint64_t seed : {1u, 2u, 3u}) {
    // < 1e-3 needs n = 6 and kind = "b" exactly (else >= 0.1) and |x - 0.7| < 0.032.
    EXPECT_LT(run_mixed(json::object(), seed, 400).best, 1e-3) << "seed " << seed;
  }
}

TEST(NeuralSaStrategy, SameSeedGivesTheSameTrajectory) {
  auto a = run_mixed({{"batch", 2}}, 17, 60);
  auto b = run_mixed({{"batch", 2}}, 17, 60);
  auto c = run_mixed({{"batch", 2}}, 18, 60);
  EXPECT_EQ(a.history, b.history);
  EXPECT_NE(a.history, c.history);
}

TEST(NeuralSaStrategy, RejectsBadParameters) {
  PluginRegistry reg({BBO_TEST_PLUGIN_DIR});
  EXPECT_NO_THROW(reg.make_strategy("neural_sa", json::object()));
  for (const json& bad : {json{{"moves", 0}}, json{{"batch", 0}}, json{{"cooling", 1.5}},
                          json{{"policy", "/nonexistent/policy.txt"}}}) {
    EXPECT_THROW(reg.make_strategy("neural_sa", bad), ConfigError) << bad.dump();
  }
  // A policy of another problem is refused.
  const std::string knapsack = std::string(BBO_TEST_SOURCE_DIR) + "/plugins/neural_sa/weights/knapsack.txt";
  EXPECT_THROW(reg.make_strategy("neural_sa", {{"policy", knapsack}}), ConfigError);
  const std::string space = std::string(BBO_TEST_SOURCE_DIR) + "/plugins/neural_sa/weights/space.txt";
  EXPECT_NO_THROW(reg.make_strategy("neural_sa", {{"policy", space}}));
}

}  // namespace
}  // namespace bbo

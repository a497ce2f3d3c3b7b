// Tests of the `random` strategy: the conformance suite plus its own guarantees.
#include <gtest/gtest.h>

#include <cmath>

#include "bbo/plugin.h"
#include "bbo/study.h"
#include "strategy_conformance.h"

INSTANTIATE_TEST_SUITE_P(Random, StrategyConformance,
                         ::testing::Values(bbo::testing::StrategyCase{"random", bbo::json::object()},
                                           bbo::testing::StrategyCase{"rand", {{"seed_offset", 3}}}),
                         bbo::testing::StrategyCaseName);

namespace bbo {
namespace {

StudyOptions random_options(const std::string& name, uint64_t seed, json params = json::object()) {
  StudyOptions o;
  o.name = name;
  o.strategy = "random";
  o.strategy_params = std::move(params);
  o.seed = seed;
  return o;
}

TEST(RandomStrategy, ValueDoesNotDependOnSuggestOrder) {
  Study a = Study::create(random_options("order_a", 99));
  Study b = Study::create(random_options("order_b", 99));
  for (int k = 0; k < 5; ++k) {
    Trial ta = a.ask();
    Trial tb = b.ask();
    double xa = ta.suggest_float("x", 0, 1);
    int64_t na = ta.suggest_int("n", 0, 1000);
    int64_t nb = tb.suggest_int("n", 0, 1000);
    double xb = tb.suggest_float("x", 0, 1);
    EXPECT_EQ(xa, xb);
    EXPECT_EQ(na, nb);
    a.tell(ta, xa);
    b.tell(tb, xb);
  }
}

TEST(RandomStrategy, SeedOffsetChangesTheStream) {
  Study a = Study::create(random_options("offset_a", 5));
  Study b = Study::create(random_options("offset_b", 5, {{"seed_offset", 1}}));
  Trial ta = a.ask();
  Trial tb = b.ask();
  EXPECT_NE(ta.suggest_float("x", 0, 1), tb.suggest_float("x", 0, 1));
}

TEST(RandomStrategy, LogParametersAreLogUniform) {
  Study s = Study::create(random_options("log", 1234));
  const int n = 2000;
  int below = 0;  // values below the geometric midpoint 1e-2 of [1e-4, 1]
  double mean_log = 0.0;
  for (int k = 0; k < n; ++k) {
    Trial t = s.ask();
    double x = t.suggest_float("lr", 1e-4, 1.0, true);
    below += x < 1e-2;
    mean_log += std::log10(x) / n;
    s.tell(t, x);
  }
  // Log-uniform: half the mass below the geometric midpoint, mean log10 = -2 (sd of the mean ~ 0.026).
  EXPECT_NEAR(static_cast<double>(below) / n, 0.5, 0.05);
  EXPECT_NEAR(mean_log, -2.0, 0.1);
}

TEST(RandomStrategy, RejectsUnknownParameters) {
  PluginRegistry reg({BBO_TEST_PLUGIN_DIR});
  try {
    reg.make_strategy("random", {{"foo", 1}});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown parameter 'foo'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace bbo

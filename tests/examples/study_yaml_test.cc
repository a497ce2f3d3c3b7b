// examples/study.yaml is a valid study file with the DESIGN §1 schema.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "bbo/config.h"

namespace bbo {
namespace {

TEST(ExampleStudyYaml, ParsesToTheDocumentedOptions) {
  const std::string path = std::string(BBO_TEST_SOURCE_DIR) + "/examples/study.yaml";
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  const StudyConfig cfg = load_study_config(path);
  const StudyOptions& o = cfg.options;
  EXPECT_EQ(o.name, "mlp-tuning");
  ASSERT_EQ(o.directions.size(), 1u);
  EXPECT_EQ(o.directions[0], Direction::kMinimize);
  ASSERT_TRUE(o.seed.has_value());
  EXPECT_EQ(*o.seed, 42u);
  EXPECT_EQ(o.strategy, "gp");
  EXPECT_EQ(o.strategy_params, (json{{"n_startup_trials", 5}}));
  EXPECT_EQ(o.pruner, "median");

  const SearchSpace& s = o.search_space;
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s.names(), (std::vector<std::string>{"lr", "dropout", "layers", "act"}));
  const auto& lr = std::get<FloatDistribution>(s.at("lr"));
  EXPECT_TRUE(lr.log);
  EXPECT_DOUBLE_EQ(lr.low, 1e-5);
  EXPECT_DOUBLE_EQ(lr.high, 1e-1);
  const auto& dropout = std::get<FloatDistribution>(s.at("dropout"));
  ASSERT_TRUE(dropout.step.has_value());
  EXPECT_DOUBLE_EQ(*dropout.step, 0.05);
  EXPECT_DOUBLE_EQ(dropout.high, 0.5);
  const auto& layers = std::get<IntDistribution>(s.at("layers"));
  EXPECT_EQ(layers.low, 1);
  EXPECT_EQ(layers.high, 8);
  const auto& act = std::get<CategoricalDistribution>(s.at("act"));
  EXPECT_EQ(act.choices.size(), 3u);
  EXPECT_EQ(std::get<std::string>(act.choices[2]), "gelu");

  ASSERT_TRUE(cfg.run.contains("command"));
  EXPECT_EQ(cfg.run["workers"], 2);
}

TEST(ExampleStudyYaml, CreatesAStudyThatAsksTheWholeSpace) {
  StudyConfig cfg = load_study_config(std::string(BBO_TEST_SOURCE_DIR) + "/examples/study.yaml");
  cfg.options.storage = "memory:";
  Study study = Study::create(cfg.options);
  Trial t = study.ask();
  const auto params = t.params();
  EXPECT_EQ(params.size(), 4u);
  const double dropout = std::get<double>(params.at("dropout"));
  EXPECT_GE(dropout, 0.0);
  EXPECT_LE(dropout, 0.5);
  EXPECT_EQ(study.tell(t, 1.0), TrialState::kComplete);
}

}  // namespace
}  // namespace bbo

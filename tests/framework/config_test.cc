#include "bbo/config.h"

#include <gtest/gtest.h>

#include "bbo/error.h"

namespace bbo {
namespace {

TEST(StudyConfig, ParsesTheDesignExample) {
  StudyConfig c = parse_study_config(R"(
name: mlp-tuning
directions: [minimize]
seed: 42
search_space:
  lr:      {type: float, low: 1.0e-5, high: 1.0e-1, log: true}
  dropout: {type: float, low: 0.0, high: 0.5, step: 0.05}
  layers:  {type: int, low: 1, high: 8}
  act:     {type: categorical, choices: [relu, tanh, gelu]}
strategy: {name: sobol, params: {scramble: true}}
pruner:   {name: median, params: {n_startup_trials: 3}}
run:
  command: [python3, train.py, --lr, "{lr}"]
  workers: 2
)");
  EXPECT_EQ(c.options.name, "mlp-tuning");
  EXPECT_EQ(c.options.directions, std::vector<Direction>{Direction::kMinimize});
  EXPECT_EQ(*c.options.seed, 42u);
  EXPECT_EQ(c.options.search_space.names(), (std::vector<std::string>{"lr", "dropout", "layers", "act"}));
  EXPECT_EQ(c.options.search_space.at("lr"), Distribution(FloatDistribution{1e-5, 1e-1, true}));
  EXPECT_EQ(c.options.search_space.at("act"),
            Distribution(CategoricalDistribution{{std::string("relu"), std::string("tanh"), std::string("gelu")}}));
  EXPECT_EQ(c.options.strategy, "sobol");
  EXPECT_EQ(c.options.strategy_params["scramble"], true);
  EXPECT_EQ(c.options.pruner_params["n_startup_trials"], 3);
  EXPECT_EQ(c.run["workers"], 2);
  EXPECT_EQ(c.run["command"][3], "{lr}");
}

TEST(StudyConfig, ShortFormsAndQuotedScalars) {
  StudyConfig c = parse_study_config("name: s\ndirection: maximize\nstrategy: random\n"
                                     "search_space:\n  k: {type: categorical, choices: ['1', 2, true, null]}\n");
  EXPECT_EQ(c.options.directions, std::vector<Direction>{Direction::kMaximize});
  EXPECT_EQ(c.options.strategy, "random");
  auto cat = std::get<CategoricalDistribution>(c.options.search_space.at("k"));
  EXPECT_EQ(cat.choices[0], ParamValue(std::string("1")));
  EXPECT_EQ(cat.choices[1], ParamValue(int64_t{2}));
  EXPECT_EQ(cat.choices[2], ParamValue(true));
  EXPECT_EQ(cat.choices[3], ParamValue(std::monostate{}));
}

void expect_config_error(const std::string& yaml, const std::string& fragment) {
  try {
    parse_study_config(yaml, "study.yaml");
    FAIL() << "expected ConfigError containing '" << fragment << "'";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(StudyConfig, ErrorsNameTheKeyAndLine) {
  expect_config_error("name: s\nsearch_space:\n  lr: {type: float, low: 1, high: 0}\n", "study.yaml:3: search_space.lr");
  expect_config_error("name: s\nsearch_space:\n  lr: {type: float, low: 1, high: 0}\n", "low > high");
  expect_config_error("name: s\nbogus: 1\n", "study.yaml:2: unknown key 'bogus'");
  expect_config_error("name: s\ndirections: [sideways]\n", "study.yaml:2: directions");
  expect_config_error("name: [unclosed\n", "malformed YAML");
  expect_config_error("directions: [minimize]\n", "missing 'name'");
  expect_config_error("name: s\nstrategy: {nam: gp}\n", "strategy: unknown key 'nam'");
  expect_config_error("name: s\nseed: -3\n", "seed");
  expect_config_error("name: s\nname: t\n", "duplicate key");
  expect_config_error("- a\n- b\n", "must be a mapping");
  EXPECT_THROW(load_study_config("/nonexistent/study.yaml"), ConfigError);
}

TEST(StudyConfig, HeartbeatGraceAndRetryKeys) {
  StudyConfig c = parse_study_config("name: s\nheartbeat_grace_seconds: 30\nretry_failed_trials: true\n");
  EXPECT_EQ(c.options.heartbeat_grace_seconds, 30.0);
  EXPECT_TRUE(c.options.retry_failed_trials);
  EXPECT_FALSE(parse_study_config("name: s\n").options.retry_failed_trials);
  expect_config_error("name: s\nretry_failed_trials: 3\n", "study.yaml:2: retry_failed_trials");
  expect_config_error("name: s\nheartbeat_grace_seconds: -1\n", "heartbeat_grace_seconds");
}

// Regressions from tests/fuzz (fuzz_study_config): text that is not UTF-8 used to be accepted and then made
// nlohmann::json::dump throw a type_error (not a bbo::Error) wherever the study's JSON was written; NUL bytes
// made yaml-cpp decode the text as UTF-32.
TEST(StudyConfig, TextMustBeUtf8WithoutNul) {
  expect_config_error("name: s\nuser_attrs: {k: \"a\xdf\"}\n", "study.yaml:2: invalid UTF-8 byte 0xDF");
  expect_config_error("name: s\nrun: {cmd: \xed\xa0\x80}\n", "invalid UTF-8 byte 0xED");  // a surrogate
  expect_config_error("name: s\nuser_attrs: {k: \xc0\xaf}\n", "invalid UTF-8");          // overlong '/'
  expect_config_error(std::string("\x16\0\0\0N3b\x02o5ErrorE=", 17), "study.yaml:1: NUL byte");
  // Valid UTF-8 text whose quoted escape decodes to a non-UTF-8 byte: yaml-cpp turns "\N" (NEL) into 0x85.
  expect_config_error("name: s\nuser_attrs: {k: \"x\\N\"}\n", "study.yaml:2: a quoted string decodes to invalid UTF-8 byte 0x85");
  expect_config_error("name: s\n\xff\xfe", "study.yaml:2");
  EXPECT_THROW(yaml_to_json("k: \"\xa6\"\n"), ConfigError);
  // Valid UTF-8 of every length still parses, and dumps.
  const StudyConfig c = parse_study_config("name: \xc3\xa9tude \xe2\x82\xac \xf0\x9f\x98\x80\n", "study.yaml");
  EXPECT_EQ(c.options.name, "\xc3\xa9tude \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_NO_THROW(yaml_to_json("k: \xc3\xa9\n").dump());
}

// Regression from tests/fuzz (fuzz_study_config): a categorical choice .inf was accepted, stored as the string
// "inf" and read back as that string, so the stored search space differed from the file's.
TEST(StudyConfig, InfiniteCategoricalChoiceIsRejected) {
  expect_config_error("name: s\nsearch_space:\n  c: {type: categorical, choices: [relu, .Inf, 1]}\n",
                      "study.yaml:3: search_space.c");
  const StudyConfig c =
      parse_study_config("name: s\nsearch_space:\n  c: {type: categorical, choices: [relu, \"inf\", 1]}\n");
  EXPECT_EQ(SearchSpace::from_json(c.options.search_space.to_ordered_json()), c.options.search_space);
}

}  // namespace
}  // namespace bbo

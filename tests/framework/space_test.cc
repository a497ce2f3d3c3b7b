#include "bbo/space.h"

#include <cmath>
#include <limits>
#include <random>

#include <gtest/gtest.h>

#include "bbo/error.h"

namespace bbo {
namespace {

TEST(Distribution, RejectsInvalidBoundsNamingTheParameter) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto expect_error = [](const Distribution& d, const std::string& fragment) {
    try {
      validated(d, "lr");
      FAIL() << "expected ValueError for " << fragment;
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find("'lr'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error(FloatDistribution{2, 1}, "low > high");
  expect_error(FloatDistribution{0, 1, true}, "log scale needs low > 0");
  expect_error(FloatDistribution{1, 2, true, 0.1}, "log and step");
  expect_error(FloatDistribution{nan, 1}, "finite");
  expect_error(FloatDistribution{0, 1, false, -0.5}, "step must be > 0");
  expect_error(IntDistribution{3, 1}, "low > high");
  expect_error(IntDistribution{0, 10, true}, "log scale needs low >= 1");
  expect_error(IntDistribution{1, 10, true, 2}, "log and step");
  expect_error(CategoricalDistribution{}, "must not be empty");
  expect_error(CategoricalDistribution{{std::string("a"), std::string("a")}}, "duplicate");
}

TEST(Distribution, StepSnapsHighToTheGrid) {
  auto f = std::get<FloatDistribution>(validated(FloatDistribution{0.0, 1.0, false, 0.3}, "x"));
  EXPECT_NEAR(f.high, 0.9, 1e-12);
  auto i = std::get<IntDistribution>(validated(IntDistribution{1, 10, false, 4}, "n"));
  EXPECT_EQ(i.high, 9);
}

TEST(Distribution, UnitRoundTripKeepsEveryGridPoint) {
  std::vector<Distribution> ds = {FloatDistribution{-2, 3},          FloatDistribution{1e-5, 1e-1, true},
                                  FloatDistribution{0, 0.5, false, 0.05}, IntDistribution{-3, 7},
                                  IntDistribution{1, 1024, true},    IntDistribution{0, 20, false, 5},
                                  CategoricalDistribution{{std::string("a"), int64_t{2}, 3.5, true}}};
  for (const auto& raw : ds) {
    Distribution d = validated(raw, "p");
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<double> u01(0, 1);
    for (int k = 0; k < 200; ++k) {
      double v = from_unit(d, u01(rng));
      ASSERT_TRUE(contains(d, v)) << distribution_to_json(d).dump() << " v=" << v;
      double u = to_unit(d, v);
      EXPECT_GE(u, 0.0);
      EXPECT_LE(u, 1.0);
      EXPECT_NEAR(from_unit(d, u), v, 1e-9 * std::max(1.0, std::fabs(v)));
    }
    EXPECT_TRUE(contains(d, from_unit(d, 0.0)));
    EXPECT_TRUE(contains(d, from_unit(d, 1.0)));
  }
}

TEST(Distribution, IntegerBinsAreEquallyLikely) {
  // Decoding a uniform u must give each of the 5 integers probability 1/5 (equal-width bins).
  Distribution d = IntDistribution{0, 4};
  std::vector<int> counts(5, 0);
  const int n = 100000;
  for (int k = 0; k < n; ++k) counts[static_cast<size_t>(from_unit(d, (k + 0.5) / n))]++;
  for (int c : counts) EXPECT_EQ(c, n / 5);
}

TEST(Distribution, LogScaleIsUniformInLogSpace) {
  Distribution d = FloatDistribution{1e-4, 1.0, true};
  EXPECT_NEAR(from_unit(d, 0.5), 1e-2, 1e-12);
  EXPECT_NEAR(to_unit(d, 1e-3), 0.25, 1e-12);
}

TEST(Distribution, ExternalAndInternalForms) {
  Distribution c = CategoricalDistribution{{std::monostate{}, false, int64_t{1}, 2.5, std::string("x")}};
  EXPECT_EQ(to_internal(c, ParamValue{std::string("x")}), 4.0);
  EXPECT_EQ(to_internal(c, ParamValue{1.0}), 2.0);  // 1.0 names the choice 1
  EXPECT_EQ(to_external(c, 3.0), ParamValue{2.5});
  EXPECT_THROW(to_internal(c, ParamValue{std::string("y")}), ValueError);
  Distribution i = IntDistribution{0, 10, false, 2};
  EXPECT_EQ(to_internal(i, ParamValue{int64_t{4}}), 4.0);
  EXPECT_THROW(to_internal(i, ParamValue{int64_t{5}}), ValueError);
  EXPECT_EQ(to_external(i, 6.0), ParamValue{int64_t{6}});
}

TEST(DistributionJson, OptunaFormRoundTrips) {
  std::vector<Distribution> ds = {FloatDistribution{0, 1, false, 0.25}, FloatDistribution{1e-3, 1, true},
                                  IntDistribution{1, 9, false, 2}, CategoricalDistribution{{std::string("a"), 1.5}}};
  for (const auto& d : ds) {
    json j = distribution_to_json(d);
    EXPECT_TRUE(j.contains("name"));
    EXPECT_EQ(distribution_from_json(j, "p"), validated(d, "p")) << j.dump();
  }
  json optuna = json::parse(R"({"name": "FloatDistribution", "attributes": {"low": 0, "high": 1, "log": false, "step": null}})");
  EXPECT_EQ(distribution_from_json(optuna, "x"), Distribution(FloatDistribution{0, 1}));
}

TEST(DistributionJson, ShortFormAndErrorsNameTheParameter) {
  EXPECT_EQ(distribution_from_json(json::parse(R"({"type": "int", "low": 1, "high": 8})"), "n"),
            Distribution(IntDistribution{1, 8}));
  for (const char* bad : {R"({"type": "float", "low": 1})", R"({"type": "banana"})", R"([1, 2])",
                          R"({"type": "int", "low": 1.5, "high": 3})", R"({"type": "float", "low": 0, "high": 1, "lg": true})",
                          R"({"name": "NormalDistribution", "attributes": {}})"}) {
    try {
      distribution_from_json(json::parse(bad), "width");
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'width'"), std::string::npos) << e.what();
    }
  }
}

TEST(SearchSpace, EncodeDecodeAndOrder) {
  SearchSpace s;
  s.add("b", FloatDistribution{0, 10});
  s.add("a", CategoricalDistribution{{std::string("x"), std::string("y")}});
  EXPECT_EQ(s.names(), (std::vector<std::string>{"b", "a"}));
  auto u = s.encode({{"a", 1.0}, {"b", 2.5}});
  EXPECT_DOUBLE_EQ(u[0], 0.25);
  EXPECT_DOUBLE_EQ(u[1], 0.75);
  auto back = s.decode(u);
  EXPECT_DOUBLE_EQ(back["b"], 2.5);
  EXPECT_DOUBLE_EQ(back["a"], 1.0);
  EXPECT_THROW(s.encode({{"b", 1.0}}), NotFoundError);
  EXPECT_THROW(s.decode({0.5}), ValueError);
  EXPECT_EQ(SearchSpace::from_json(s.to_json()).to_json(), s.to_json());
}

TEST(ParamValueJson, NonFiniteDoublesSurviveAsStrings) {
  EXPECT_EQ(param_value_to_json(std::numeric_limits<double>::infinity()), json("inf"));
  EXPECT_EQ(param_value_from_json(json(3)), ParamValue(int64_t{3}));
  EXPECT_THROW(param_value_from_json(json::array()), ValueError);
}

// Regressions from tests/fuzz (fuzz_search_space, fuzz_params).
TEST(Distribution, RangesAndGridsMustBeRepresentable) {
  // high - low = inf: from_unit(0) was NaN, a value the distribution does not contain.
  EXPECT_THROW(validated(FloatDistribution{-1e308, 1e308, false, {}}, "x"), ValueError);
  EXPECT_THROW(distribution_from_json(json::parse(R"({"type": "float", "low": -1e308, "high": 1e308})"), "x"),
               ValueError);
  // 1e310 grid points: float_steps' cast to int64 was undefined behaviour.
  EXPECT_THROW(validated(FloatDistribution{0, 1e300, false, 1e-300}, "x"), ValueError);
  EXPECT_THROW(validated(FloatDistribution{0, 1e10, false, 1e-9}, "x"), ValueError);
  // Wide but representable ranges still work, and decode inside.
  const Distribution wide = validated(FloatDistribution{-1e307, 1e307, false, {}}, "x");
  for (double u : {0.0, 0.5, 1.0}) EXPECT_TRUE(contains(wide, from_unit(wide, u))) << u;
  EXPECT_NO_THROW(validated(FloatDistribution{0, 1e6, false, 1e-6}, "x"));
}

TEST(Distribution, CategoricalChoicesMustSurviveJsonAndBeDistinct) {
  // 1 and 1.0 are one choice for to_internal, so index 1 came back as 0.
  EXPECT_THROW(validated(CategoricalDistribution{{int64_t{1}, 1.0, std::string("x")}}, "c"), ValueError);
  EXPECT_THROW(distribution_from_json(json::parse(R"({"name": "CategoricalDistribution",
      "attributes": {"choices": [1, 1.0, "x", false]}})"), "c"), ValueError);
  // inf was stored as the string "inf" and read back as that string: another distribution.
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_THROW(validated(CategoricalDistribution{{1.5, inf}}, "c"), ValueError);
  EXPECT_THROW(validated(CategoricalDistribution{{-inf}}, "c"), ValueError);
  // Distinct numbers of either type, and the string "inf", stay valid; 1.0 still names the choice 1.
  const Distribution ok = validated(CategoricalDistribution{{int64_t{1}, 2.5, std::string("inf"), true}}, "c");
  EXPECT_EQ(to_internal(ok, 1.0), 0.0);
  EXPECT_EQ(to_internal(ok, std::string("inf")), 2.0);
  EXPECT_EQ(distribution_from_json(distribution_to_json(ok), "c"), ok);
}

TEST(ParamValueJson, UnsignedAboveInt64MaxIsNotWrapped) {
  // 14991814994236290076 came back as -3454929079473261540.
  const ParamValue v = param_value_from_json(json::parse("14991814994236290076"));
  ASSERT_TRUE(std::holds_alternative<double>(v));
  EXPECT_EQ(std::get<double>(v), 14991814994236290076.0);
  EXPECT_EQ(std::get<int64_t>(param_value_from_json(json::parse("9223372036854775807"))), INT64_MAX);
  EXPECT_EQ(std::get<int64_t>(param_value_from_json(json::parse("-9223372036854775808"))), INT64_MIN);
}

}  // namespace
}  // namespace bbo

// Tests of bbo/importance.h: fANOVA importances against functions whose variance decomposition is known in
// closed form (the importances are the main-effect variance shares under the uniform measure on the unit
// cube), exactness on a grid the forest fits perfectly, categorical parameters, the choice of trials and
// parameters, determinism and errors.
#include "bbo/importance.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bbo/error.h"

namespace bbo {
namespace {

using Params = std::map<std::string, double>;  // internal values
using Space = std::vector<std::pair<std::string, Distribution>>;

FrozenTrial make_trial(int64_t number, const Space& space, const Params& internal, double value) {
  FrozenTrial t;
  t.id = number;
  t.number = number;
  t.state = TrialState::kComplete;
  for (const auto& [name, d] : space) {
    t.params[name] = internal.at(name);
    t.distributions[name] = d;
  }
  t.values = {value};
  return t;
}

// n trials uniform in the unit cube of `space` (what random search gives), valued by f(internal values).
std::vector<FrozenTrial> sample(size_t n, const Space& space, const std::function<double(const Params&)>& f,
                                uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<FrozenTrial> out;
  for (size_t i = 0; i < n; ++i) {
    Params p;
    for (const auto& [name, d] : space) p[name] = from_unit(d, u(rng));
    out.push_back(make_trial(static_cast<int64_t>(i), space, p, f(p)));
  }
  return out;
}

std::map<std::string, ParamImportance> by_name(const std::vector<ParamImportance>& v) {
  std::map<std::string, ParamImportance> m;
  for (const auto& p : v) m[p.name] = p;
  return m;
}

double sum_importance(const std::vector<ParamImportance>& v) {
  double s = 0;
  for (const auto& p : v) s += p.importance;
  return s;
}

// Options with a few fields set (designated initializers would warn under -Wmissing-field-initializers).
ImportanceOptions opts(const std::function<void(ImportanceOptions&)>& set) {
  ImportanceOptions o;
  set(o);
  return o;
}

const Distribution kUnit = FloatDistribution{0.0, 1.0, false, std::nullopt};

// f = 10x + y, z unused: main-effect variances 100/12 and 1/12, shares 100/101 and 1/101.
TEST(ParamImportances, TenXPlusYMatchesAnalyticShares) {
  Space space = {{"x", kUnit}, {"y", kUnit}, {"z", kUnit}};
  auto trials = sample(1000, space, [](const Params& p) { return 10 * p.at("x") + p.at("y"); });
  auto r = param_importances(trials);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].name, "x");
  EXPECT_EQ(r[1].name, "y");
  EXPECT_EQ(r[2].name, "z");
  EXPECT_NEAR(sum_importance(r), 1.0, 1e-12);
  auto m = by_name(r);
  // The forest approximates a linear function by steps; measured error at n = 1000 is ~0.002.
  EXPECT_NEAR(m["x"].importance, 100.0 / 101, 0.01);
  EXPECT_NEAR(m["y"].importance, 1.0 / 101, 0.005);
  EXPECT_LT(m["z"].importance, 0.003);
  EXPECT_GT(m["x"].std_dev, 0.0);
  EXPECT_LT(m["x"].std_dev, 0.05);
}

// Additive f = 2 ln(a) + b^2 + n with a log-uniform on [1, e] (unit coordinate ln a: variance 4/12), b uniform
// on [-1, 1] (Var b^2 = 1/5 - 1/9 = 4/45; no linear trend, so a correlation measure would miss it) and n an
// integer uniform on {1, 2, 3, 4} (variance 15/12). Shares are these variances over their sum.
TEST(ParamImportances, AdditiveFunctionMatchesClosedFormShares) {
  Space space = {{"a", FloatDistribution{1.0, std::exp(1.0), true, std::nullopt}},
                 {"b", FloatDistribution{-1.0, 1.0, false, std::nullopt}},
                 {"n", IntDistribution{1, 4}}};
  auto trials = sample(2000, space, [](const Params& p) {
    return 2 * std::log(p.at("a")) + p.at("b") * p.at("b") + p.at("n");
  });
  auto m = by_name(param_importances(trials, opts([](ImportanceOptions& o) { o.seed = 3; })));
  double va = 4.0 / 12, vb = 4.0 / 45, vn = 15.0 / 12, total = va + vb + vn;
  EXPECT_NEAR(m["a"].importance, va / total, 0.02);
  EXPECT_NEAR(m["b"].importance, vb / total, 0.02);
  EXPECT_NEAR(m["n"].importance, vn / total, 0.02);
}

// On a grid that every bootstrap sample covers, each tree reproduces f exactly, so fANOVA is exact:
// f = 3x + g + 2xg with x in {0, 1}, g = [y == 2], y in {0, 1, 2}. Main effects: E[f|x] = 11x/3 + 1/3
// (variance 121/36), E[f|y] = 3/2 + 2g (variance 4 · 2/9 = 8/9). The interaction is not a main effect.
TEST(ParamImportances, ExactOnAGridTheForestFitsPerfectly) {
  Space space = {{"x", IntDistribution{0, 1}}, {"y", IntDistribution{0, 2}}};
  std::vector<FrozenTrial> trials;
  for (int rep = 0; rep < 50; ++rep)
    for (int x = 0; x <= 1; ++x)
      for (int y = 0; y <= 2; ++y) {
        double g = y == 2 ? 1 : 0;
        trials.push_back(make_trial(static_cast<int64_t>(trials.size()), space, {{"x", x}, {"y", y}},
                                    3 * x + g + 2 * x * g));
      }
  auto m = by_name(param_importances(trials));
  double vx = 121.0 / 36, vy = 8.0 / 9;
  EXPECT_NEAR(m["x"].importance, vx / (vx + vy), 1e-9);
  EXPECT_NEAR(m["y"].importance, vy / (vx + vy), 1e-9);
  EXPECT_NEAR(m["x"].std_dev, 0.0, 1e-9);
}

// A categorical whose choices, in index order, are not monotone in the value (so subset splits are needed):
// c in {lo, hi, mid} -> {0, 2, 1} (variance 2/3) plus 2x (variance 1/3); a 5-choice categorical is unused.
TEST(ParamImportances, CategoricalParameterDrivesTheValue) {
  Space space = {{"c", CategoricalDistribution{{std::string("lo"), std::string("hi"), std::string("mid")}}},
                 {"x", kUnit},
                 {"noise", CategoricalDistribution{{int64_t{1}, int64_t{2}, int64_t{3}, int64_t{4}, int64_t{5}}}}};
  const double offset[] = {0, 2, 1};
  auto trials = sample(1500, space, [&](const Params& p) {
    return offset[static_cast<int>(p.at("c"))] + 2 * p.at("x");
  });
  auto r = param_importances(trials);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].name, "c");
  auto m = by_name(r);
  EXPECT_NEAR(m["c"].importance, 2.0 / 3, 0.02);
  EXPECT_NEAR(m["x"].importance, 1.0 / 3, 0.02);
  EXPECT_LT(m["noise"].importance, 0.01);
}

// One split on a categorical must be able to send any subset of its choices left: with depth 2, trees fit
// f = [c in {a, c}] + [x = 1] exactly only if the c split groups a with c (choices not adjacent in index
// order), and then the shares are exactly 1/2 and 1/2 (two indicators with p = 1/2). Splits by index order
// could only separate {a} from {b, c, d} and would leave c with a third of its main-effect variance.
TEST(ParamImportances, CategoricalSplitsBySubsetsOfChoices) {
  Space space = {{"c", CategoricalDistribution{{std::string("a"), std::string("b"), std::string("c"),
                                                std::string("d")}}},
                 {"x", IntDistribution{0, 1}}};
  std::vector<FrozenTrial> trials;
  for (int rep = 0; rep < 40; ++rep)
    for (int c = 0; c < 4; ++c)
      for (int x = 0; x <= 1; ++x)
        trials.push_back(make_trial(static_cast<int64_t>(trials.size()), space, {{"c", c}, {"x", x}},
                                    (c % 2 == 0 ? 1.0 : 0.0) + x));
  auto m = by_name(param_importances(trials, opts([](ImportanceOptions& o) { o.max_depth = 2; })));
  EXPECT_NEAR(m["c"].importance, 0.5, 1e-9);
  EXPECT_NEAR(m["x"].importance, 0.5, 1e-9);
}

// A random subset of parameters per split still finds the dominant one.
TEST(ParamImportances, RandomFeatureSubsetsAgree) {
  Space space = {{"x", kUnit}, {"y", kUnit}, {"z", kUnit}, {"w", kUnit}};
  auto trials = sample(800, space, [](const Params& p) { return 10 * p.at("x") + p.at("y"); });
  auto r = param_importances(trials, opts([](ImportanceOptions& o) {
                               o.seed = 5;
                               o.max_features = 0.5;
                             }));
  EXPECT_EQ(r[0].name, "x");
  EXPECT_NEAR(sum_importance(r), 1.0, 1e-12);
  EXPECT_NEAR(r[0].importance, 100.0 / 101, 0.03);
}

TEST(ParamImportances, DeterministicUnderTheSeedAndIndependentOfOrderAndThreads) {
  Space space = {{"x", kUnit}, {"y", kUnit}, {"c", CategoricalDistribution{{std::string("a"), std::string("b")}}}};
  auto trials = sample(400, space, [](const Params& p) {
    return std::sin(6 * p.at("x")) + p.at("y") * p.at("c");
  });
  auto a = param_importances(trials, opts([](ImportanceOptions& o) { o.seed = 11; o.n_threads = 1; }));
  auto shuffled = trials;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937_64(99));
  auto b = param_importances(shuffled, opts([](ImportanceOptions& o) { o.seed = 11; o.n_threads = 4; }));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].importance, b[i].importance);  // bitwise
    EXPECT_EQ(a[i].std_dev, b[i].std_dev);
  }
  auto c = param_importances(trials, opts([](ImportanceOptions& o) { o.seed = 12; }));
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) differs = differs || by_name(c)[a[i].name].importance != a[i].importance;
  EXPECT_TRUE(differs) << "another seed should grow other trees";
}

// Only COMPLETE trials with a finite value count; a conditional parameter is left out unless requested, and
// then only the trials that have it are used; a single-valued parameter is listed with importance 0.
TEST(ParamImportances, ChoosesTrialsAndParameters) {
  Space space = {{"x", kUnit}, {"y", kUnit}, {"k", IntDistribution{3, 3}}};
  auto trials = sample(300, space, [](const Params& p) { return 10 * p.at("x") + p.at("y"); });
  // A conditional parameter w on every other trial, which drives the value there.
  for (size_t i = 0; i < trials.size(); i += 2) {
    double w = static_cast<double>(i % 7) / 6.0;
    trials[i].params["w"] = w;
    trials[i].distributions["w"] = kUnit;
    trials[i].values[0] += 100 * w;
  }
  // Noise that must be ignored: non-COMPLETE states and a non-finite value.
  FrozenTrial running = trials[1];
  running.state = TrialState::kRunning;
  running.values.clear();
  running.params.erase("x");
  trials.push_back(running);
  FrozenTrial inf = trials[3];
  inf.values = {std::numeric_limits<double>::infinity()};
  trials.push_back(inf);

  auto all = param_importances(trials);
  ASSERT_EQ(all.size(), 3u);  // x, y, k: w is not in every trial
  EXPECT_EQ(by_name(all)["k"].importance, 0.0);
  EXPECT_NEAR(sum_importance(all), 1.0, 1e-12);

  auto with_w = param_importances(trials, opts([](ImportanceOptions& o) { o.params = {"w", "x"}; }));
  ASSERT_EQ(with_w.size(), 2u);
  EXPECT_EQ(with_w[0].name, "w");
  EXPECT_GT(with_w[0].importance, 0.8);

  auto only_y = param_importances(trials, opts([](ImportanceOptions& o) { o.params = {"y"}; }));
  ASSERT_EQ(only_y.size(), 1u);
  EXPECT_DOUBLE_EQ(only_y[0].importance, 1.0);
}

TEST(ParamImportances, ExplainsTheChosenObjective) {
  Space space = {{"x", kUnit}, {"y", kUnit}};
  auto trials = sample(500, space, [](const Params& p) { return p.at("x"); });
  for (auto& t : trials) t.values.push_back(10 * t.params.at("y"));
  EXPECT_EQ(param_importances(trials, opts([](ImportanceOptions& o) { o.objective = 0; }))[0].name, "x");
  EXPECT_EQ(param_importances(trials, opts([](ImportanceOptions& o) { o.objective = 1; }))[0].name, "y");
  EXPECT_THROW(param_importances(trials, opts([](ImportanceOptions& o) { o.objective = 2; })), ValueError);
}

TEST(ParamImportances, RejectsBadInputWithValueError) {
  Space space = {{"x", kUnit}};
  auto trials = sample(5, space, [](const Params& p) { return p.at("x"); });
  auto expect_message = [](const std::function<void()>& fn, const std::string& part) {
    try {
      fn();
      ADD_FAILURE() << "no exception; expected one mentioning '" << part << "'";
    } catch (const ValueError& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_message([] { param_importances({}); }, "at least 2");
  expect_message([&] { param_importances({trials[0]}); }, "at least 2");
  auto one_complete = trials;
  for (size_t i = 1; i < one_complete.size(); ++i) one_complete[i].state = TrialState::kFail;
  expect_message([&] { param_importances(one_complete); }, "found 1");
  auto with_params = [](std::vector<std::string> params) {
    return opts([&](ImportanceOptions& o) { o.params = params; });
  };
  expect_message([&] { param_importances(trials, with_params({"nope"})); }, "'nope'");
  expect_message([&] { param_importances(trials, with_params({"x", "x"})); }, "twice");
  auto flat = trials;
  for (auto& t : flat) t.values = {1.5};
  expect_message([&] { param_importances(flat); }, "same value");
  auto changed = trials;
  changed[2].distributions["x"] = FloatDistribution{0.0, 2.0, false, std::nullopt};
  expect_message([&] { param_importances(changed); }, "different distributions");
  auto no_params = trials;
  for (auto& t : no_params) {
    t.params.clear();
    t.distributions.clear();
  }
  expect_message([&] { param_importances(no_params); }, "no parameter");
  expect_message([&] { param_importances(trials, opts([](ImportanceOptions& o) { o.n_trees = 0; })); },
                 "n_trees");
  expect_message([&] { param_importances(trials, opts([](ImportanceOptions& o) { o.objective = -1; })); },
                 "objective");
  expect_message([&] { param_importances(trials, opts([](ImportanceOptions& o) { o.max_features = 0; })); },
                 "max_features");
}

}  // namespace
}  // namespace bbo

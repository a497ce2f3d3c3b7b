// Tests of the `auto` strategy: the choice rules (auto_choice.h) without a study, then the plugin through
// Study: when it decides, what it records, that every process adopts the first record, and the GP → CMA-ES
// hand-over by trial number.
#include <gtest/gtest.h>

#include <cmath>

#include "bbo/plugin.h"
#include "bbo/storage.h"
#include "bbo/study.h"
#include "plugins/auto/auto_choice.h"
#include "strategy_conformance.h"

INSTANTIATE_TEST_SUITE_P(
    Auto, StrategyConformance,
    ::testing::Values(bbo::testing::StrategyCase{"auto", bbo::json::object()},
                      // A hand-over inside the conformance histories: GP for 8 trials, then CMA-ES.
                      bbo::testing::StrategyCase{"auto", {{"gp_max_trials", 8}, {"probe_trials", 2}}}),
    bbo::testing::StrategyCaseName);

namespace bbo {
namespace {

using autosel::Choice;
using autosel::Situation;
using autosel::SpaceSummary;

const std::set<std::string> kAll = {"random", "sobol", "gp", "cqr", "tpe", "cmaes", "de", "cbo", "sa"};

Situation situation(int cont, int ints = 0, int cats = 0) {
  Situation s;
  s.space = SpaceSummary{cont, ints, cats, false};
  s.installed = kAll;
  return s;
}

TEST(AutoChoice, LowDimensionSmallBudgetIsGpAlone) {
  Situation s = situation(6);
  s.n_trials = 100;
  Choice c = autosel::choose(s);
  ASSERT_EQ(c.phases.size(), 1u);
  EXPECT_EQ(c.phases[0].strategy, "gp");
  EXPECT_EQ(c.phases[0].until, -1);
  EXPECT_NE(c.reason.find("6 dims"), std::string::npos) << c.reason;
  EXPECT_NE(c.reason.find("budget 100"), std::string::npos) << c.reason;
}

TEST(AutoChoice, LowDimensionLargeOrUnknownBudgetHandsOverToWarmStartedCmaes) {
  for (int64_t budget : {int64_t{0}, int64_t{5000}}) {
    Situation s = situation(4, 2);
    s.n_trials = budget;
    Choice c = autosel::choose(s);
    ASSERT_EQ(c.phases.size(), 2u);
    EXPECT_EQ(c.phases[0].strategy, "gp");
    EXPECT_EQ(c.phases[0].until, 200);
    EXPECT_EQ(c.phases[1].strategy, "cmaes");
    EXPECT_EQ(c.phases[1].params.value("warm_start", false), true);
    EXPECT_EQ(c.phase_for(199).strategy, "gp");
    EXPECT_EQ(c.phase_for(200).strategy, "cmaes");
    EXPECT_EQ(c.label(), "gp (trials 0-199), then cmaes");
  }
}

TEST(AutoChoice, ConditionalCategoricalAndPrunedStudiesGoToTpe) {
  Situation cond = situation(3, 0, 1);
  cond.space.conditional = true;
  EXPECT_EQ(autosel::choose(cond).phases[0].strategy, "tpe");
  EXPECT_NE(autosel::choose(cond).reason.find("conditional"), std::string::npos);

  Situation cats = situation(1, 0, 3);
  EXPECT_EQ(autosel::choose(cats).phases[0].strategy, "tpe");
  Situation half = situation(2, 0, 2);  // not more than half categorical: GP's Hamming kernel copes
  EXPECT_EQ(autosel::choose(half).phases[0].strategy, "gp");

  Situation pruned = situation(5);
  pruned.pruner = "hyperband";
  EXPECT_EQ(autosel::choose(pruned).phases[0].strategy, "tpe");
  EXPECT_TRUE(autosel::is_pruning("median"));
  EXPECT_FALSE(autosel::is_pruning("none"));
}

TEST(AutoChoice, HighDimensionsAreModelFree) {
  // The threshold (10 dims): on the 10-d public functions CMA-ES out-ranked GP-BO (bench/run quality-rank).
  EXPECT_EQ(autosel::choose(situation(9)).phases[0].strategy, "gp");
  EXPECT_EQ(autosel::choose(situation(10)).phases[0].strategy, "cmaes");
  Situation s = situation(30);
  s.n_trials = 2000;
  EXPECT_EQ(autosel::choose(s).phases[0].strategy, "cmaes");
  EXPECT_FALSE(autosel::choose(s).phases[0].params.contains("separable"));
  s.space.continuous = 150;
  EXPECT_EQ(autosel::choose(s).phases[0].params.value("separable", false), true);
  Situation cheap = situation(20);
  cheap.n_trials = 100000;
  EXPECT_EQ(autosel::choose(cheap).phases[0].strategy, "cbo");
  cheap.space.integer = 3;
  EXPECT_EQ(autosel::choose(cheap).phases[0].strategy, "de");
}

TEST(AutoChoice, ObjectivesAndConstraints) {
  Situation mo = situation(4);
  mo.objectives = 2;
  mo.n_trials = 150;
  EXPECT_EQ(autosel::choose(mo).phases[0].strategy, "gp");
  mo.n_trials = 0;  // unknown: GP-EHVI, then TPE
  Choice unknown = autosel::choose(mo);
  ASSERT_EQ(unknown.phases.size(), 2u);
  EXPECT_EQ(unknown.phases[1].strategy, "tpe");
  mo.n_trials = 5000;
  EXPECT_EQ(autosel::choose(mo).phases[0].strategy, "tpe");
  mo.objectives = 4;
  mo.n_trials = 50;
  EXPECT_EQ(autosel::choose(mo).phases[0].strategy, "tpe");

  Situation con = situation(3);
  con.constrained = true;
  Choice c = autosel::choose(con);
  ASSERT_EQ(c.phases.size(), 1u);  // no hand-over: CMA-ES does not model constraints
  EXPECT_EQ(c.phases[0].strategy, "gp");
}

TEST(AutoChoice, MissingPluginsAreSubstitutedAndSaidSo) {
  Situation s = situation(1, 0, 4);
  s.installed = {"random", "cmaes"};
  Choice c = autosel::choose(s);
  EXPECT_EQ(c.phases[0].strategy, "random");
  EXPECT_NE(c.reason.find("tpe not installed"), std::string::npos) << c.reason;
  Situation low = situation(3);
  low.installed = {"random", "cmaes", "tpe"};
  low.n_trials = 50;
  EXPECT_EQ(autosel::choose(low).phases[0].strategy, "tpe");
}

TEST(AutoChoice, RecordRoundTripsAndMalformedRecordsAreRejected) {
  Situation s = situation(5);
  Choice c = autosel::choose(s);
  Choice back = Choice::from_json(json::parse(c.to_json().dump()));
  ASSERT_EQ(back.phases.size(), c.phases.size());
  for (size_t i = 0; i < c.phases.size(); ++i) {
    EXPECT_EQ(back.phases[i].strategy, c.phases[i].strategy);
    EXPECT_EQ(back.phases[i].until, c.phases[i].until);
    EXPECT_EQ(back.phases[i].params, c.phases[i].params);
  }
  EXPECT_EQ(back.reason, c.reason);
  EXPECT_THROW(Choice::from_json(json::object()), std::invalid_argument);
  EXPECT_THROW(Choice::from_json({{"phases", json::array()}}), std::invalid_argument);
  EXPECT_THROW(Choice::from_json({{"phases", {{{"until", 3}}}}}), std::invalid_argument);
}

// --- Through Study -----------------------------------------------------------------------------------------

StudyOptions options(const std::string& name, json params = json::object()) {
  StudyOptions o;
  o.name = name;
  o.strategy = "auto";
  o.strategy_params = std::move(params);
  o.seed = 5;
  return o;
}

SearchSpace box(int d) {
  SearchSpace s;
  for (int k = 0; k < d; ++k) s.add("x" + std::to_string(k), FloatDistribution{-2.0, 2.0, false, std::nullopt});
  return s;
}

double sphere(const Trial& t) {
  double v = 0;
  for (const auto& [name, x] : t.params()) v += std::pow(std::get<double>(x) - 0.5, 2);
  return v;
}

TEST(AutoStrategy, DecidesAtTheFirstAskWithADeclaredSpaceAndRecordsWhy) {
  std::shared_ptr<Storage> storage = open_storage("memory:");
  StudyOptions o = options("declared", {{"n_trials", 60}});
  o.search_space = box(3);
  Study study = Study::create(o, storage);
  Trial t = study.ask();
  study.tell(t, sphere(t));
  const json choice = storage->get_study(study.id()).system_attrs.at("strategy_choice");
  EXPECT_EQ(choice.at("strategy"), "gp");
  EXPECT_NE(choice.at("reason").get<std::string>().find("3 dims (3 continuous"), std::string::npos) << choice;
  EXPECT_GT(storage->get_plugin_state(study.id(), "auto").version, 0);
}

TEST(AutoStrategy, DefineByRunWaitsForProbeTrialsThenSeesTheConditionalSpace) {
  std::shared_ptr<Storage> storage = open_storage("memory:");
  Study study = Study::create(options("dbr", {{"probe_trials", 4}}), storage);
  for (int k = 0; k < 10; ++k) {
    Trial t = study.ask();
    double v = t.suggest_float("lr", 1e-4, 1e-1, true);
    if (t.suggest_categorical("model", {"linear", "tree"}) == "tree") v += static_cast<double>(t.suggest_int("depth", 1, 8));
    else v += t.suggest_float("l2", 0.0, 1.0);
    study.tell(t, v);
    const json sys = storage->get_study(study.id()).system_attrs;
    // Undecided until 4 trials have finished; the choice is made at the next ask.
    EXPECT_EQ(sys.contains("strategy_choice"), k >= 4) << "after trial " << k;
  }
  const json choice = storage->get_study(study.id()).system_attrs.at("strategy_choice");
  EXPECT_NE(choice.at("reason").get<std::string>().find("conditional"), std::string::npos) << choice;
}

TEST(AutoStrategy, EveryProcessAdoptsTheFirstRecordedChoice) {
  std::shared_ptr<Storage> storage = open_storage("memory:");
  StudyOptions o = options("shared", {{"n_trials", 50}});
  o.search_space = box(2);
  Study first = Study::create(o, storage);
  Trial t = first.ask();
  first.tell(t, sphere(t));
  // A second worker told a different budget still follows the record (GP alone, no hand-over).
  storage->set_study_system_attr(first.id(), "strategy", {{"name", "auto"}, {"params", {{"n_trials", 100000}}}});
  Study second = Study::load("shared", storage);
  Trial u = second.ask();
  second.tell(u, sphere(u));
  Choice c = Choice::from_json(json::parse(storage->get_plugin_state(first.id(), "auto").blob));
  ASSERT_EQ(c.phases.size(), 1u);
  EXPECT_EQ(c.phases[0].strategy, "gp");
  EXPECT_EQ(storage->get_plugin_state(first.id(), "auto").version, 1);
}

TEST(AutoStrategy, HandsOverFromGpToCmaesByTrialNumberAndKeepsImproving) {
  std::shared_ptr<Storage> storage = open_storage("memory:");
  StudyOptions o = options("handover", {{"gp_max_trials", 15}});
  o.search_space = box(2);
  Study study = Study::create(o, storage);
  double best_gp = HUGE_VAL, best = HUGE_VAL;
  for (int k = 0; k < 60; ++k) {
    Trial t = study.ask();
    const double v = sphere(t);
    study.tell(t, v);
    best = std::min(best, v);
    if (k < 15) best_gp = best;
    EXPECT_EQ(storage->get_plugin_state(study.id(), "population:cmaes").version > 0, k >= 15) << "trial " << k;
  }
  EXPECT_LT(best_gp, 0.05);  // GP-BO on a 2-d sphere after 15 trials (random search: ~0.1)
  EXPECT_LE(best, best_gp);
  EXPECT_LT(best, 1e-4);     // CMA-ES warm-started near the GP's best converges
}

TEST(AutoStrategy, SameSeedSameTrials) {
  auto run = [] {
    std::shared_ptr<Storage> storage = open_storage("memory:");
    StudyOptions o = options("det", {{"gp_max_trials", 12}});
    o.search_space = box(2);
    Study study = Study::create(o, storage);
    std::vector<double> xs;
    for (int k = 0; k < 24; ++k) {
      Trial t = study.ask();
      xs.push_back(std::get<double>(t.params().at("x0")));
      study.tell(t, sphere(t));
    }
    return xs;
  };
  EXPECT_EQ(run(), run());
}

TEST(AutoStrategy, BadParametersAreRejected) {
  PluginRegistry& r = PluginRegistry::global();
  EXPECT_THROW(r.make_strategy("auto", {{"probe_trials", 0}}), ConfigError);
  EXPECT_THROW(r.make_strategy("auto", {{"n_trials", -1}}), ConfigError);
  EXPECT_THROW(r.make_strategy("auto", {{"gp_max_trial", 3}}), ConfigError);  // unknown name
}

}  // namespace
}  // namespace bbo

#include "bbo/study.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <optional>
#include <random>
#include <thread>

#include <gtest/gtest.h>

#include "bbo/error.h"

namespace bbo {
namespace {

StudyOptions opts(const std::string& name = "s", uint64_t seed = 1) {
  StudyOptions o;
  o.name = name;
  o.seed = seed;
  o.strategy = "random";
  return o;
}

std::string temp_db(const std::string& tag) {
  auto p = std::filesystem::temp_directory_path() / ("bbo_study_test_" + tag + "_" + std::to_string(::getpid()) + ".db");
  std::filesystem::remove(p);
  return "sqlite:///" + p.string();
}

TEST(Study, AskSuggestTellStoresEverything) {
  Study study = Study::create(opts());
  Trial t = study.ask();
  EXPECT_EQ(t.number(), 0);
  double x = t.suggest_float("x", -5, 5);
  int64_t n = t.suggest_int("n", 1, 8);
  std::string act = t.suggest_categorical("act", {"relu", "tanh"});  // the DESIGN §1 spelling compiles
  ParamValue mixed = t.suggest_choice("mixed", {int64_t{1}, 2.5, std::string("s"), std::monostate{}});
  EXPECT_EQ(t.params().at("mixed"), mixed);
  EXPECT_GE(x, -5);
  EXPECT_LE(x, 5);
  EXPECT_GE(n, 1);
  EXPECT_LE(n, 8);
  EXPECT_EQ(t.suggest_float("x", -5, 5), x);  // same name, same distribution: same value
  EXPECT_EQ(study.tell(t, x * x), TrialState::kComplete);
  FrozenTrial f = study.trial(0);
  EXPECT_EQ(f.state, TrialState::kComplete);
  EXPECT_EQ(f.values, std::vector<double>{x * x});
  EXPECT_EQ(std::get<std::string>(f.param("act")), act);
  EXPECT_EQ(std::get<int64_t>(f.param("n")), n);
}

TEST(Study, ConditionalParametersAreDefineByRun) {
  Study study = Study::create(opts());
  int with_depth = 0;
  for (int i = 0; i < 30; ++i) {
    Trial t = study.ask();
    std::string kind = t.suggest_categorical("kind", std::vector<std::string>{"linear", "tree"});
    if (kind == "tree") {
      t.suggest_int("depth", 1, 10);
      ++with_depth;
    }
    study.tell(t, 1.0);
  }
  int stored_depth = 0;
  for (const auto& t : study.trials()) {
    bool is_tree = std::get<std::string>(t.param("kind")) == "tree";
    EXPECT_EQ(t.params.count("depth") == 1, is_tree);
    stored_depth += is_tree;
  }
  EXPECT_EQ(stored_depth, with_depth);
  EXPECT_GT(with_depth, 0);
  EXPECT_LT(with_depth, 30);
}

TEST(Study, IncompatibleResuggestIsRejected) {
  Study study = Study::create(opts());
  Trial t = study.ask();
  t.suggest_float("x", 0, 1);
  EXPECT_THROW(t.suggest_float("x", 0, 2), ValueError);
  EXPECT_THROW(t.suggest_int("x", 0, 1), ValueError);
  EXPECT_THROW(t.suggest_float("bad", 1, 0), ValueError);
  EXPECT_EQ(study.trial(0).params.size(), 1u);
}

TEST(Study, TellingTwiceOrWithWrongCountsIsRejectedWithoutWriting) {
  Study study = Study::create(opts());
  Trial t = study.ask();
  t.suggest_float("x", 0, 1);
  EXPECT_THROW(study.tell(t, std::vector<double>{1.0, 2.0}), ValueError);
  EXPECT_EQ(study.trial(0).state, TrialState::kRunning);
  study.tell(t, 0.5);
  EXPECT_THROW(study.tell(t, 0.7), TrialStateError);
  EXPECT_THROW(t.suggest_float("y", 0, 1), TrialStateError);
  EXPECT_THROW(t.report(1, 0.1), TrialStateError);
  EXPECT_THROW(study.tell(0, TrialState::kComplete, {0.9}), TrialStateError);
  EXPECT_EQ(study.trial(0).values, std::vector<double>{0.5});
  EXPECT_THROW(study.trial(5), NotFoundError);
}

TEST(Study, NanValueBecomesFailWithReason) {
  Study study = Study::create(opts());
  Trial t = study.ask();
  EXPECT_EQ(study.tell(t, std::numeric_limits<double>::quiet_NaN()), TrialState::kFail);
  FrozenTrial f = study.trial(0);
  EXPECT_EQ(f.state, TrialState::kFail);
  EXPECT_EQ(f.system_attrs.value("fail_reason", ""), "objective value is NaN");
  EXPECT_THROW(study.best_trial(), NotFoundError);
}

TEST(Study, BatchAskSeesPendingTrials) {
  Study study = Study::create(opts());
  std::vector<Trial> batch = study.ask(4);
  ASSERT_EQ(batch.size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(batch[static_cast<size_t>(i)].number(), i);
  EXPECT_EQ(study.trials({TrialState::kRunning}).size(), 4u);
  for (auto& t : batch) study.tell(t, static_cast<double>(t.number()));
  EXPECT_EQ(study.best_trial().number, 0);
  EXPECT_THROW(study.ask(0), ValueError);
}

TEST(Study, EnqueuedParamsAreUsedByTheNextAsk) {
  Study study = Study::create(opts());
  study.enqueue({{"x", 0.25}, {"act", std::string("tanh")}});
  Trial t = study.ask();
  EXPECT_EQ(t.number(), 0);
  EXPECT_EQ(t.suggest_float("x", 0, 1), 0.25);
  EXPECT_EQ(t.suggest_categorical("act", std::vector<std::string>{"relu", "tanh"}), "tanh");
  study.tell(t, 1.0);
  study.enqueue({{"x", 7.0}});
  Trial bad = study.ask();
  EXPECT_THROW(bad.suggest_float("x", 0, 1), ValueError);  // enqueued value outside the distribution
  Trial fresh = study.ask();
  EXPECT_EQ(fresh.number(), 2);
}

TEST(Study, AddTrialWarmStartsAndIsValidated) {
  Study study = Study::create(opts());
  FrozenTrial f;
  f.state = TrialState::kComplete;
  f.params = {{"x", 0.5}};
  f.distributions = {{"x", FloatDistribution{0, 1}}};
  f.values = {3.0};
  FrozenTrial stored = study.add_trial(f);
  EXPECT_EQ(stored.number, 0);
  EXPECT_EQ(study.best_trial().values[0], 3.0);
  f.params["x"] = 2.0;
  EXPECT_THROW(study.add_trial(f), ValueError);
  f.params["x"] = 0.5;
  f.values = {1.0, 2.0};
  EXPECT_THROW(study.add_trial(f), ValueError);
  f.state = TrialState::kRunning;
  EXPECT_THROW(study.add_trial(f), ValueError);
  EXPECT_EQ(study.trials().size(), 1u);
}

TEST(Study, ConstraintsExcludeInfeasibleTrialsFromBest) {
  StudyOptions o = opts();
  o.directions = {Direction::kMaximize};
  Study study = Study::create(o);
  Trial a = study.ask();
  a.set_constraints({0.5});  // infeasible
  study.tell(a, 10.0);
  Trial b = study.ask();
  b.set_constraints({-1.0, 0.0});
  study.tell(b, 5.0);
  EXPECT_EQ(study.best_trial().number, 1);
  EXPECT_EQ(study.trial(0).constraints, std::vector<double>{0.5});
}

TEST(Study, ParetoFrontMatchesBruteForce) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<std::vector<double>> pts(200, std::vector<double>(3));
  for (auto& p : pts)
    for (auto& v : p) v = std::round(u(rng) * 10) / 10;  // ties on purpose
  std::vector<Direction> dirs = {Direction::kMinimize, Direction::kMaximize, Direction::kMinimize};
  auto front = pareto_front(pts, dirs);
  for (size_t i = 0; i < pts.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < pts.size(); ++j) {
      bool all = pts[j][0] <= pts[i][0] && pts[j][1] >= pts[i][1] && pts[j][2] <= pts[i][2];
      bool strict = pts[j][0] < pts[i][0] || pts[j][1] > pts[i][1] || pts[j][2] < pts[i][2];
      dominated = dominated || (all && strict);
    }
    EXPECT_EQ(std::find(front.begin(), front.end(), i) != front.end(), !dominated) << i;
  }
}

TEST(Study, BestTrialsIsTheParetoSet) {
  StudyOptions o = opts();
  o.directions = {Direction::kMinimize, Direction::kMinimize};
  Study study = Study::create(o);
  for (auto v : std::vector<std::vector<double>>{{1, 5}, {2, 2}, {3, 3}, {5, 1}}) {
    Trial t = study.ask();
    study.tell(t, v);
  }
  std::vector<int64_t> numbers;
  for (const auto& t : study.best_trials()) numbers.push_back(t.number);
  EXPECT_EQ(numbers, (std::vector<int64_t>{0, 1, 3}));
  EXPECT_THROW(study.best_trial(), ValueError);
}

TEST(Study, OptimizeCountsCatchesFailuresAndPrunes) {
  Study study = Study::create(opts());
  int calls = 0;
  OptimizeOptions oo;
  oo.n_trials = 9;
  oo.callbacks.push_back([&](Study&, const FrozenTrial&) { return true; });
  study.optimize(
      [&](Trial& t) -> double {
        ++calls;
        double x = t.suggest_float("x", 0, 1);
        if (t.number() % 3 == 1) throw std::runtime_error("boom");
        if (t.number() % 3 == 2) {
          t.report(0, x);
          throw TrialPruned();
        }
        return x;
      },
      oo);
  EXPECT_EQ(calls, 9);
  EXPECT_EQ(study.trials({TrialState::kComplete}).size(), 3u);
  EXPECT_EQ(study.trials({TrialState::kPruned}).size(), 3u);
  auto failed = study.trials({TrialState::kFail});
  ASSERT_EQ(failed.size(), 3u);
  EXPECT_EQ(failed[0].system_attrs.value("fail_reason", ""), "boom");
  // A pruned trial keeps its last reported value.
  EXPECT_EQ(study.trials({TrialState::kPruned})[0].values.size(), 1u);

  oo.catch_failures = false;
  EXPECT_THROW(study.optimize([](Trial&) -> double { throw std::runtime_error("stop"); }, oo), std::runtime_error);
  EXPECT_EQ(study.trials().back().state, TrialState::kFail);
}

TEST(Study, OptimizeStopsWhenACallbackSaysSo) {
  Study study = Study::create(opts());
  OptimizeOptions oo;
  oo.n_trials = 100;
  oo.heartbeat_interval_seconds = 0.01;
  oo.callbacks.push_back([](Study&, const FrozenTrial& t) { return t.number < 4; });
  study.optimize([](Trial& t) { return t.suggest_float("x", 0, 1); }, oo);
  EXPECT_EQ(study.trials().size(), 5u);
}

TEST(Study, SameSeedGivesSameTrialsWhateverTheProcessSplit) {
  std::string url = temp_db("seed");
  auto run = [](Study& s, int n) {
    std::vector<double> xs;
    for (int i = 0; i < n; ++i) {
      Trial t = s.ask();
      xs.push_back(t.suggest_float("x", 0, 1));
      s.tell(t, xs.back());
    }
    return xs;
  };
  StudyOptions a = opts("a", 42);
  Study one = Study::create(a);
  std::vector<double> expected = run(one, 6);
  a.storage = url;
  Study first = Study::create(a);
  std::vector<double> got = run(first, 3);
  Study second = Study::load("a", url);  // another "worker" rebuilt from storage
  auto rest = run(second, 3);
  got.insert(got.end(), rest.begin(), rest.end());
  EXPECT_EQ(got, expected);
  EXPECT_EQ(second.seed(), 42u);
}

TEST(Study, LoadRestoresConfigurationAndDeclaredSpace) {
  std::string url = temp_db("load");
  StudyOptions o = opts("cfg", 5);
  o.storage = url;
  o.strategy = "sobol";
  o.search_space.add("x", FloatDistribution{0, 1});
  o.search_space.add("k", IntDistribution{1, 4});
  Study::create(o);
  Study loaded = Study::load("cfg", url);
  EXPECT_EQ(loaded.search_space(), o.search_space);
  Trial t = loaded.ask();
  EXPECT_EQ(t.params().size(), 2u);
  EXPECT_THROW(Study::load("missing", url), NotFoundError);
  EXPECT_THROW(Study::create(o), DuplicateError);
  o.load_if_exists = true;
  EXPECT_EQ(Study::create(o).name(), "cfg");
}

TEST(Study, BadStrategyOrParamsWriteNothing) {
  auto storage = std::shared_ptr<Storage>(open_storage("memory:"));
  StudyOptions o = opts("bad");
  o.strategy = "no-such-strategy";
  EXPECT_THROW(Study::create(o, storage), PluginError);
  o.strategy = "sobol";
  o.strategy_params = {{"no_such_param", 1}};
  EXPECT_THROW(Study::create(o, storage), ConfigError);
  o.strategy_params = json::object();
  o.pruner = "no-such-pruner";
  EXPECT_THROW(Study::create(o, storage), PluginError);
  EXPECT_FALSE(storage->find_study("bad").has_value());
}

TEST(Study, ReportAndShouldPruneWithTheDefaultPruner) {
  Study study = Study::create(opts());
  Trial t = study.ask();
  t.report(0, 1.0);
  t.report(1, 0.5);
  t.report(1, 0.4);  // overwrite
  EXPECT_FALSE(t.should_prune());
  EXPECT_FALSE(study.should_prune(0));
  EXPECT_THROW(t.report(-1, 0.0), ValueError);
  auto curve = t.frozen().curve();
  EXPECT_EQ(curve.size(), 2u);
  EXPECT_EQ(curve[1], 0.4);
  study.tell(t, 0.4);
  EXPECT_THROW(study.should_prune(0), TrialStateError);
}

TEST(Study, UserAttrsAndTrialRng) {
  Study study = Study::create(opts());
  study.set_user_attr("owner", "me");
  EXPECT_EQ(study.user_attrs()["owner"], "me");
  Trial t = study.ask();
  t.set_user_attr("gpu", 3);
  EXPECT_EQ(t.frozen().user_attrs["gpu"], 3);
  std::mt19937_64 expected(trial_seed(study.seed(), t.number()));
  EXPECT_EQ(t.rng()(), expected());
}

// Heartbeat tests use a 0.05 s grace period and a 0.1 s sleep: a trial asked before the sleep is stale after.
constexpr double kGrace = 0.05;
void let_heartbeats_go_stale() { std::this_thread::sleep_for(std::chrono::milliseconds(100)); }

TEST(Study, StaleTrialIsFailedBeforeTheNextAsk) {
  StudyOptions o = opts();
  o.heartbeat_grace_seconds = kGrace;
  Study study = Study::create(o);
  Trial abandoned = study.ask();
  abandoned.suggest_float("x", 0, 1);
  Trial alive = study.ask();  // fresh heartbeat: not failed by this ask
  EXPECT_EQ(study.trial(0).state, TrialState::kRunning);
  let_heartbeats_go_stale();
  alive.heartbeat();
  Trial next = study.ask();
  EXPECT_EQ(next.number(), 2);  // no retry without retry_failed_trials
  EXPECT_EQ(study.trial(0).state, TrialState::kFail);
  EXPECT_TRUE(study.trial(0).system_attrs.contains("fail_reason"));
  EXPECT_EQ(study.trial(1).state, TrialState::kRunning);
  EXPECT_THROW(abandoned.heartbeat(), TrialStateError);
  EXPECT_THROW(study.tell(abandoned, 1.0), TrialStateError);
  EXPECT_EQ(study.tell(alive, 1.0), TrialState::kComplete);
}

TEST(Study, RetryReEnqueuesAStaleTrialWithItsParams) {
  StudyOptions o = opts();
  o.heartbeat_grace_seconds = kGrace;
  o.retry_failed_trials = true;
  Study study = Study::create(o);
  // An enqueued trial that dies after suggesting x but before y keeps both values in its retry.
  study.enqueue({{"y", int64_t{3}}});
  Trial abandoned = study.ask();
  const double x = abandoned.suggest_float("x", 0, 1);
  const std::string act = abandoned.suggest_categorical("act", {"relu", "tanh", "gelu"});
  let_heartbeats_go_stale();
  Trial retry = study.ask();
  EXPECT_EQ(study.trial(0).state, TrialState::kFail);
  EXPECT_EQ(retry.number(), 1);
  FrozenTrial rec = study.trial(1);
  EXPECT_EQ(rec.system_attrs["retry_of"], 0);
  EXPECT_EQ(retry.suggest_float("x", 0, 1), x);
  EXPECT_EQ(retry.suggest_categorical("act", {"relu", "tanh", "gelu"}), act);
  EXPECT_EQ(retry.suggest_int("y", 0, 5), 3);
  EXPECT_EQ(study.tell(retry, 0.5), TrialState::kComplete);
  // Nothing stale now: no more failures, no more retries.
  EXPECT_TRUE(study.fail_stale_trials(kGrace).empty());
  EXPECT_EQ(study.ask().number(), 2);
  EXPECT_EQ(study.trials().size(), 3u);
  EXPECT_THROW(study.fail_stale_trials(-1), ValueError);
}

TEST(Study, RacingWorkersRetryAStaleTrialExactlyOnce) {
  const std::string url = temp_db("retry_race");
  StudyOptions o = opts("race");
  o.storage = url;
  o.heartbeat_grace_seconds = kGrace;
  o.retry_failed_trials = true;
  Study creator = Study::create(o);
  // Two workers with their own connections to the same SQLite file, the configuration loaded from storage.
  Study a = Study::load("race", url);
  Study b = Study::load("race", url);
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    Trial abandoned = creator.ask();
    const double x = abandoned.suggest_float("x", 0, 1);
    let_heartbeats_go_stale();
    std::optional<Trial> ta, tb;
    std::thread wa([&] { ta.emplace(a.ask()); });
    std::thread wb([&] { tb.emplace(b.ask()); });
    wa.join();
    wb.join();
    std::vector<FrozenTrial> retries;
    for (const FrozenTrial& t : creator.trials())
      if (t.system_attrs.contains("retry_of") && t.system_attrs["retry_of"] == abandoned.number())
        retries.push_back(t);
    ASSERT_EQ(retries.size(), 1u) << "round " << round;
    EXPECT_EQ(creator.trial(abandoned.number()).state, TrialState::kFail);
    // One of the two workers claimed the retry and gets the abandoned trial's value.
    Trial& got = ta->number() == retries[0].number ? *ta : *tb;
    ASSERT_EQ(got.number(), retries[0].number);
    EXPECT_EQ(got.suggest_float("x", 0, 1), x);
    a.tell(*ta, 1.0);
    b.tell(*tb, 1.0);
  }
  EXPECT_EQ(creator.trials().size(), static_cast<size_t>(3 * kRounds));
  EXPECT_EQ(creator.trials({TrialState::kFail}).size(), static_cast<size_t>(kRounds));
}

}  // namespace
}  // namespace bbo

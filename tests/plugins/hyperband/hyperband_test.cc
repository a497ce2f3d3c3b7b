// Tests of the `successive_halving` (ASHA) and `hyperband` pruners on hand-built learning curves, against a
// brute-force restatement of the asynchronous rule, and across processes (two Study objects on SQLite).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <random>

#include <unistd.h>

#include "bbo/plugin.h"
#include "bbo/pruner.h"
#include "bbo/storage.h"
#include "bbo/study.h"
#include "bbo/study_view.h"

namespace bbo {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

PluginRegistry& registry() {
  static PluginRegistry reg({BBO_TEST_PLUGIN_DIR});
  return reg;
}

// A memory-storage study whose trials are stored RUNNING trials, judged after each report.
struct RungStudy {
  std::unique_ptr<Storage> storage = open_storage("memory:");
  int64_t id;
  std::unique_ptr<StudyView> view;
  std::shared_ptr<Pruner> pruner;

  RungStudy(const std::string& name, json params, std::vector<Direction> dirs = {Direction::kMinimize},
            uint64_t seed = 1) {
    id = storage->create_study("rungs", dirs, {{"seed", seed}});
    view = std::make_unique<StudyView>(*storage, storage->get_study(id));
    pruner = registry().make_pruner(name, params);
  }
  int64_t start() { return storage->create_trial(id).id; }
  // Reports (step, value) for objective `objective` and asks the pruner.
  bool report(int64_t trial, int64_t step, double value, int objective = 0) {
    storage->set_trial_intermediate_value(trial, step, objective, value);
    return ask(trial);
  }
  bool ask(int64_t trial) {
    view->invalidate();
    return pruner->should_prune(*view, storage->get_trial(trial));
  }
  void finish(int64_t trial, TrialState state, double value = 0) {
    storage->finish_trial(trial, state, state == TrialState::kComplete ? std::vector<double>(view->directions().size(), value)
                                                                       : std::vector<double>{},
                          {});
    view->invalidate();
  }
  json attrs(int64_t trial) { return storage->get_trial(trial).system_attrs; }
};

json sha(int64_t r, int64_t eta, json max_resource, int64_t e = 0) {
  return {{"min_resource", r}, {"reduction_factor", eta}, {"max_resource", max_resource},
          {"min_early_stopping_rate", e}};
}

TEST(SuccessiveHalving, RungsSitAtMinResourceTimesEtaPowersBelowMaxResource) {
  RungStudy s("successive_halving", sha(1, 3, 81));
  int64_t t = s.start();
  for (int64_t step = 1; step <= 81; ++step) EXPECT_FALSE(s.report(t, step, 100.0 - step)) << step;
  json a = s.attrs(t);
  // Rungs 1, 3, 9, 27 hold the value reported there; 81 is max_resource, not a rung.
  EXPECT_EQ(a["completed_rung_0"], 99.0);
  EXPECT_EQ(a["completed_rung_1"], 97.0);
  EXPECT_EQ(a["completed_rung_2"], 91.0);
  EXPECT_EQ(a["completed_rung_3"], 73.0);
  EXPECT_FALSE(a.contains("completed_rung_4"));

  // r = 2, η = 2, e = 1: rungs at 4, 8, 16 (32 = max_resource is not one).
  RungStudy s2("successive_halving", sha(2, 2, 32, 1));
  int64_t u = s2.start();
  std::map<int64_t, int> rungs_after;  // step -> number of rung keys after reporting it
  for (int64_t step = 1; step <= 32; ++step) {
    s2.report(u, step, 1.0);
    int n = 0;
    while (s2.attrs(u).contains("completed_rung_" + std::to_string(n))) ++n;
    rungs_after[step] = n;
  }
  EXPECT_EQ(rungs_after[3], 0);
  EXPECT_EQ(rungs_after[4], 1);
  EXPECT_EQ(rungs_after[7], 1);
  EXPECT_EQ(rungs_after[8], 2);
  EXPECT_EQ(rungs_after[16], 3);
  EXPECT_EQ(rungs_after[32], 3);
}

TEST(SuccessiveHalving, PromotesTheTopThirdOfEachRung) {
  // One rung (step 1; max_resource 3). Arrivals in this order, η = 3: each goes on iff it is within the best
  // max(1, ⌊n/3⌋) of the n values at the rung so far (itself included, ties go on).
  RungStudy s("successive_halving", sha(1, 3, 3));
  const std::vector<std::pair<double, bool>> arrivals = {
      {5.0, false},  // alone at the rung: goes on
      {4.0, false},  // n = 2, keep 1: 4 is the best
      {6.0, true},   // n = 3, keep 1: the best is 4
      {4.0, false},  // n = 4, keep 1: tied with the best
      {4.5, true},   // n = 5, keep 1
      {4.2, true},   // n = 6, keep 2: sorted {4, 4, 4.2, ...}, cut-off 4
  };
  for (const auto& [v, expected] : arrivals) EXPECT_EQ(s.report(s.start(), 1, v), expected) << v;
  // n = 7, keep 2: cut-off 4 → 3.9 goes on; n = 8, keep 2: {3.9, 4} → 4 goes on; n = 9, keep 3: cut-off 4.
  EXPECT_FALSE(s.report(s.start(), 1, 3.9));
  EXPECT_FALSE(s.report(s.start(), 1, 4.0));
  EXPECT_TRUE(s.report(s.start(), 1, 4.01));
}

TEST(SuccessiveHalving, OnlyTrialAtARungGoesOnWhateverItsValue) {
  RungStudy s("successive_halving", sha(1, 3, 81));
  int64_t a = s.start(), b = s.start();
  for (int64_t step = 1; step <= 3; ++step) EXPECT_FALSE(s.report(a, step, 0.0));
  // b reaches step 1 with 10: n = 2, keep 1 → pruned.
  EXPECT_TRUE(s.report(b, 1, 10.0));
  // c jumps straight to step 9: judged at rung 0 first (n = 3 with {0, 10}, keep 1 → pruned).
  int64_t c = s.start();
  EXPECT_TRUE(s.report(c, 9, 5.0));
  // d jumps to step 9 too, better than everyone at rungs 0 and 1, then alone at rung 2: goes on.
  int64_t d = s.start();
  EXPECT_FALSE(s.report(d, 9, -1.0));
  json at = s.attrs(d);
  EXPECT_EQ(at["completed_rung_0"], -1.0);
  EXPECT_EQ(at["completed_rung_1"], -1.0);
  EXPECT_EQ(at["completed_rung_2"], -1.0);
  // The first trial of a study goes on at every rung whatever its value.
  RungStudy t("successive_halving", sha(1, 3, 81));
  EXPECT_FALSE(t.report(t.start(), 27, 1e300));
}

TEST(SuccessiveHalving, PruneDecisionsAndRungValuesPersist) {
  RungStudy s("successive_halving", sha(1, 3, 81));
  int64_t a = s.start(), b = s.start();
  EXPECT_FALSE(s.report(a, 1, 1.0));
  EXPECT_TRUE(s.report(b, 1, 2.0));
  // Asked again (same process, or a fresh pruner object, as a fresh process would be): same answers.
  EXPECT_TRUE(s.ask(b));
  EXPECT_FALSE(s.ask(a));
  s.pruner = registry().make_pruner("successive_halving", sha(1, 3, 81));
  EXPECT_TRUE(s.ask(b));
  EXPECT_FALSE(s.ask(a));
  EXPECT_EQ(s.attrs(b)["pruned_at_rung"], 0);
  // The pruned trial's rung value still counts: with {1, 2} at the rung, 1.5 is not in the top 1 of 3.
  s.finish(b, TrialState::kPruned);
  EXPECT_TRUE(s.report(s.start(), 1, 1.5));
}

TEST(SuccessiveHalving, MaximizeKeepsTheLargestValues) {
  RungStudy s("successive_halving", sha(1, 2, 4), {Direction::kMaximize});
  EXPECT_FALSE(s.report(s.start(), 1, 1.0));
  EXPECT_TRUE(s.report(s.start(), 1, 0.5));   // n = 2, keep 1 (η = 2): 1.0 is best
  EXPECT_FALSE(s.report(s.start(), 1, 2.0));  // n = 3, keep 1
  EXPECT_FALSE(s.report(s.start(), 1, 1.0));  // n = 4, keep 2: {2, 1}
  EXPECT_TRUE(s.report(s.start(), 1, 0.9));
}

TEST(SuccessiveHalving, NaNPrunesAndInfinitiesAreStored) {
  RungStudy s("successive_halving", sha(1, 3, 81));
  int64_t a = s.start();
  EXPECT_FALSE(s.report(a, 1, -kInf));
  EXPECT_EQ(s.attrs(a)["completed_rung_0"], "-inf");
  EXPECT_TRUE(s.report(s.start(), 1, kNaN));
  EXPECT_TRUE(s.report(s.start(), 1, 0.0));  // -inf is the best at the rung
  EXPECT_FALSE(s.report(s.start(), 1, -kInf));  // tied with the best
}

TEST(SuccessiveHalving, BootstrapCountPrunesSmallRungs) {
  json p = sha(1, 3, 81);
  p["bootstrap_count"] = 2;
  RungStudy s("successive_halving", p);
  EXPECT_TRUE(s.report(s.start(), 1, 1.0));  // n = 1 <= 2
  EXPECT_TRUE(s.report(s.start(), 1, 0.0));  // n = 2 <= 2
  EXPECT_FALSE(s.report(s.start(), 1, -1.0));  // n = 3: the best
}

TEST(SuccessiveHalving, AutoMaxResourceIsResolvedOnceAndStored) {
  RungStudy s("successive_halving", sha(1, 3, "auto"));
  int64_t a = s.start();
  for (int64_t step = 1; step <= 9; ++step) s.report(a, step, 1.0);
  EXPECT_TRUE(s.attrs(a).contains("completed_rung_2"));  // no cap before any trial completes
  s.finish(a, TrialState::kComplete, 1.0);
  // Now max_resource = 9: a new trial is judged at 1 and 3, not at 9.
  int64_t b = s.start();
  for (int64_t step = 1; step <= 9; ++step) EXPECT_FALSE(s.report(b, step, 0.5));
  EXPECT_FALSE(s.attrs(b).contains("completed_rung_2"));
  PluginState st = s.storage->get_plugin_state(s.id, "successive_halving");
  EXPECT_EQ(json::parse(st.blob)["max_resource"], 9);
  // A later, longer COMPLETE trial does not move it.
  int64_t c = s.start();
  for (int64_t step = 1; step <= 20; ++step) s.report(c, step, 0.1);
  s.finish(c, TrialState::kComplete, 0.1);
  int64_t d = s.start();
  s.report(d, 9, 0.0);
  EXPECT_FALSE(s.attrs(d).contains("completed_rung_2"));
}

// The asynchronous rule restated: trials arrive at rungs in the order of their reports; at each rung a
// trial's value goes on iff it is within the best max(1, ⌊n/η⌋) of all values that reached the rung in its
// group (bracket). Returns, per (trial, step) report, whether it is pruned.
struct BruteForceSha {
  int64_t r, eta, max_resource;
  bool maximize;
  std::map<std::pair<int64_t, int64_t>, std::vector<double>> rungs;  // (group, level) -> values
  std::map<int64_t, int64_t> next_rung;                               // trial -> next rung index
  std::map<int64_t, bool> pruned;

  bool report(int64_t trial, int64_t group, int64_t e, int64_t step, double v) {
    if (pruned[trial]) return true;
    for (;;) {
      int64_t k = next_rung[trial];
      int64_t at = r;
      for (int64_t i = 0; i < e + k; ++i) at *= eta;
      if (at >= max_resource || step < at) return false;
      auto& vals = rungs[{group, e + k}];
      vals.push_back(v);
      std::vector<double> sorted = vals;
      std::sort(sorted.begin(), sorted.end());
      if (maximize) std::reverse(sorted.begin(), sorted.end());
      size_t keep = std::max<size_t>(1, sorted.size() / static_cast<size_t>(eta));
      bool ok = maximize ? v >= sorted[keep - 1] : v <= sorted[keep - 1];
      next_rung[trial] = k + 1;
      if (!ok) return pruned[trial] = true;
    }
  }
};

// Interleaved random learning curves (several trials running at once), each curve a noisy power law.
void run_random_schedule(const std::string& pruner, const json& params, bool maximize, uint64_t seed,
                         int64_t r, int64_t eta, int64_t max_resource, bool hyperband, int64_t sha_e = 0) {
  RungStudy s(pruner, params, {maximize ? Direction::kMaximize : Direction::kMinimize}, seed);
  BruteForceSha bf{r, eta, max_resource, maximize, {}, {}, {}};
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  struct Running {
    int64_t id, number, step;
    double level, slope;
  };
  std::vector<Running> running;
  int64_t started = 0;
  int pruned = 0, kept = 0;
  std::map<int64_t, int64_t> group;
  while (started < 60 || !running.empty()) {
    if (started < 60 && (running.size() < 4 || u(rng) < 0.2)) {
      FrozenTrial t = s.storage->create_trial(s.id);
      running.push_back({t.id, t.number, 0, u(rng), 0.5 + u(rng)});
      ++started;
      continue;
    }
    size_t i = static_cast<size_t>(rng() % running.size());
    Running& tr = running[i];
    tr.step += 1 + static_cast<int64_t>(rng() % 3);  // sometimes jumps over a rung
    tr.step = std::min(tr.step, max_resource);
    double v = tr.level + tr.slope / std::sqrt(static_cast<double>(tr.step)) + 0.05 * u(rng);
    if (maximize) v = -v;
    bool got = s.report(tr.id, tr.step, v);
    int64_t e = sha_e, g = 0;
    if (hyperband) {
      json a = s.attrs(tr.id);
      ASSERT_TRUE(a.contains("hyperband_bracket"));
      e = g = a["hyperband_bracket"].get<int64_t>();
      group[tr.number] = g;
    }
    bool expected = bf.report(tr.number, g, e, tr.step, v);
    ASSERT_EQ(got, expected) << "trial " << tr.number << " step " << tr.step;
    (got ? pruned : kept)++;
    if (got || tr.step == max_resource) {
      s.finish(tr.id, got ? TrialState::kPruned : TrialState::kComplete, v);
      running.erase(running.begin() + static_cast<long>(i));
    }
  }
  EXPECT_GT(pruned, 10);
  EXPECT_GT(kept, 10);
  if (hyperband) {
    std::set<int64_t> groups;
    for (auto& [n, g] : group) groups.insert(g);
    EXPECT_GE(groups.size(), 2u);
  }
}

TEST(SuccessiveHalving, AgreesWithBruteForceOnInterleavedTrials) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    bool maximize = seed % 2 == 0;
    run_random_schedule("successive_halving", sha(1, 3, 27), maximize, seed, 1, 3, 27, false);
    run_random_schedule("successive_halving", sha(2, 2, 30, 1), maximize, seed, 2, 2, 30, false, 1);
  }
}

TEST(Hyperband, AgreesWithBruteForcePerBracket) {
  for (uint64_t seed = 1; seed <= 6; ++seed) {
    json p = {{"min_resource", 1}, {"reduction_factor", 3}, {"max_resource", 27}};
    run_random_schedule("hyperband", p, seed % 2 == 0, seed, 1, 3, 27, true);
  }
}

// Bracket shares of `n` trials (numbers 0..n-1) as the pruner assigns them.
std::map<int64_t, int> bracket_counts(int64_t R, int64_t eta, int n, uint64_t seed = 7) {
  RungStudy s("hyperband", {{"min_resource", 1}, {"reduction_factor", eta}, {"max_resource", R}},
              {Direction::kMinimize}, seed);
  std::map<int64_t, int> counts;
  for (int k = 0; k < n; ++k) {
    int64_t t = s.start();
    s.report(t, 0, 1.0);  // step 0 is below every rung: records the bracket, judges nothing
    counts[s.attrs(t)["hyperband_bracket"].get<int64_t>()]++;
  }
  return counts;
}

TEST(Hyperband, R243WithEta3HasSixBracketsWeightedLikeThePaper) {
  // The floating-point count Optuna uses loses one here.
  EXPECT_LT(std::log(243.0) / std::log(3.0), 5.0);
  const int n = 4150;
  auto counts = bracket_counts(243, 3, n);
  ASSERT_EQ(counts.size(), 6u);
  EXPECT_EQ(counts.rbegin()->first, 5);
  // Weights ⌈6·3^s/(s+1)⌉ for s = 5..0: 243, 98, 41, 18, 9, 6 (total 415).
  const std::vector<double> w = {243, 98, 41, 18, 9, 6};
  for (int i = 0; i < 6; ++i) {
    double expected = n * w[static_cast<size_t>(i)] / 415.0;
    double sd = std::sqrt(expected * (1 - w[static_cast<size_t>(i)] / 415.0));
    EXPECT_NEAR(counts[i], expected, 4 * sd + 1) << "bracket " << i;
  }
}

TEST(Hyperband, BracketCountsFollowIntegerLogarithm) {
  // n_brackets = ⌊log_η(R/r)⌋ + 1 with exact powers at the edges.
  EXPECT_EQ(bracket_counts(81, 3, 600).size(), 5u);
  EXPECT_EQ(bracket_counts(80, 3, 600).size(), 4u);
  EXPECT_EQ(bracket_counts(8, 2, 400).size(), 4u);
  EXPECT_EQ(bracket_counts(2, 3, 50).size(), 1u);
}

TEST(Hyperband, BracketDecidesWhereATrialIsFirstJudgedAndTheLastBracketNeverPrunes) {
  json p = {{"min_resource", 1}, {"reduction_factor", 3}, {"max_resource", 27}};
  RungStudy s("hyperband", p);
  // A good trial first in every bracket, then bad ones, each worse than all before it: a bad one is pruned at
  // step 3^bracket (the first rung of its bracket), except in bracket 3 (first rung 27 = max_resource).
  std::map<int64_t, bool> have_good;
  std::map<int64_t, int64_t> pruned_at;
  for (int k = 0; k < 200 && pruned_at.size() < 3; ++k) {
    int64_t t = s.start();
    s.report(t, 0, 0.0);
    int64_t b = s.attrs(t)["hyperband_bracket"].get<int64_t>();
    bool good = !have_good[b];
    have_good[b] = true;
    for (int64_t step = 1; step <= 27; ++step) {
      if (s.report(t, step, good ? 0.0 : 100.0 + k)) {  // each bad trial worse than all before it
        EXPECT_FALSE(good);
        if (!pruned_at.count(b)) pruned_at[b] = step;
        s.finish(t, TrialState::kPruned);
        break;
      }
      if (step == 27) {
        if (!good) {
          EXPECT_EQ(b, 3) << "a bad trial of bracket " << b << " ran to the end";
        }
        s.finish(t, TrialState::kComplete, 0.0);
      }
    }
  }
  EXPECT_EQ(pruned_at[0], 1);
  EXPECT_EQ(pruned_at[1], 3);
  EXPECT_EQ(pruned_at[2], 9);
  EXPECT_FALSE(pruned_at.count(3));
}

TEST(Hyperband, AutoMaxResourceWaitsForTheFirstCompleteTrial) {
  RungStudy s("hyperband", {{"min_resource", 1}, {"reduction_factor", 3}});
  int64_t a = s.start();
  for (int64_t step = 1; step <= 9; ++step) EXPECT_FALSE(s.report(a, step, 1.0));
  EXPECT_FALSE(s.attrs(a).contains("hyperband_bracket"));  // nothing judged yet
  s.finish(a, TrialState::kComplete, 1.0);
  int64_t b = s.start();
  s.report(b, 0, 1.0);
  EXPECT_TRUE(s.attrs(b).contains("hyperband_bracket"));
  EXPECT_EQ(json::parse(s.storage->get_plugin_state(s.id, "hyperband").blob)["max_resource"], 9);
}

TEST(Hyperband, BracketsDependOnTheStudySeedAndTheTrialNumberOnly) {
  auto a = bracket_counts(81, 3, 300, 11), b = bracket_counts(81, 3, 300, 11), c = bracket_counts(81, 3, 300, 12);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(RungPruners, MultiObjectiveNeedsAnObjectiveIndex) {
  for (const std::string name : {"successive_halving", "hyperband"}) {
    RungStudy s(name, {{"max_resource", 9}}, {Direction::kMinimize, Direction::kMaximize});
    int64_t t = s.start();
    try {
      s.report(t, 1, 1.0);
      FAIL() << "no error";
    } catch (const ValueError& e) {
      EXPECT_EQ(std::string(e.what()), name + " pruner: multi-objective study: set parameter 'objective' to the "
                                              "index of the objective to prune on");
    }
    RungStudy bad(name, {{"max_resource", 9}, {"objective", 2}}, {Direction::kMinimize, Direction::kMaximize});
    EXPECT_THROW(bad.report(bad.start(), 1, 1.0), ValueError);
  }
  // objective = 1 judges the second objective's curve in its (maximize) direction.
  json p = sha(1, 3, 9);
  p["objective"] = 1;
  RungStudy s("successive_halving", p, {Direction::kMinimize, Direction::kMaximize});
  int64_t a = s.start(), b = s.start(), c = s.start();
  EXPECT_FALSE(s.report(a, 1, 5.0, 1));
  EXPECT_FALSE(s.report(b, 1, 6.0, 1));  // larger is better on objective 1
  s.storage->set_trial_intermediate_value(c, 1, 0, -100.0);  // objective 0 is ignored
  EXPECT_TRUE(s.report(c, 1, 4.0, 1));
}

TEST(RungPruners, RejectBadParameters) {
  auto make = [](const std::string& n, json p) { return registry().make_pruner(n, p); };
  for (const std::string n : {"successive_halving", "hyperband"}) {
    EXPECT_THROW(make(n, {{"reduction_factor", 1}}), ConfigError);
    EXPECT_THROW(make(n, {{"min_resource", 0}}), ConfigError);
    EXPECT_THROW(make(n, {{"max_resource", "big"}}), ConfigError);
    EXPECT_THROW(make(n, {{"max_resource", 0}}), ConfigError);
    EXPECT_THROW(make(n, {{"max_resource", 2.5}}), ConfigError);
    EXPECT_THROW(make(n, {{"min_resource", 10}, {"max_resource", 9}}), ConfigError);
    EXPECT_THROW(make(n, {{"bootstrap_count", -1}}), ConfigError);
  }
  EXPECT_THROW(make("successive_halving", {{"min_early_stopping_rate", -1}}), ConfigError);
  EXPECT_THROW(make("hyperband", {{"min_early_stopping_rate", 1}}), ConfigError);  // not a hyperband parameter
  EXPECT_NO_THROW(make("asha", {}));  // alias
}

// Two Study objects on one SQLite file (as two processes would be): every decision one of them takes, the
// other repeats, and the decisions equal those of a single memory-storage study fed the same reports.
std::vector<bool> drive(const std::string& url, const std::string& pruner, const json& params, bool two) {
  StudyOptions o;
  o.name = "shared";
  o.storage = url;
  o.pruner = pruner;
  o.pruner_params = params;
  o.seed = 5;
  Study a = Study::create(o);
  std::optional<Study> b;
  if (two) b.emplace(Study::load("shared", url));
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<bool> decisions;
  for (int k = 0; k < 25; ++k) {
    Study& asker = (two && k % 2 == 1) ? *b : a;
    Trial t = asker.ask();
    const double level = u(rng);
    bool pruned = false;
    for (int64_t step = 1; step <= 27 && !pruned; ++step) {
      const double v = level + 1.0 / static_cast<double>(step);
      asker.report(t.number(), step, v);
      pruned = asker.should_prune(t.number());
      if (two) {
        Study& other = (&asker == &a) ? *b : a;
        EXPECT_EQ(other.should_prune(t.number()), pruned) << "trial " << t.number() << " step " << step;
      }
      decisions.push_back(pruned);
    }
    if (pruned)
      asker.tell(t, TrialState::kPruned);
    else
      asker.tell(t, level);
  }
  return decisions;
}

TEST(RungPruners, FreshStudyObjectsOnSqliteAnswerTheSame) {
  const auto dir = std::filesystem::temp_directory_path() / ("bbo_hyperband_test_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  int file = 0;
  for (const auto& [name, params] : std::vector<std::pair<std::string, json>>{
           {"hyperband", {{"max_resource", "auto"}}}, {"successive_halving", {{"max_resource", 27}}}}) {
    const std::string url = "sqlite:///" + (dir / ("s" + std::to_string(file++) + ".db")).string();
    auto shared = drive(url, name, params, true);
    auto alone = drive("memory:", name, params, false);
    EXPECT_EQ(shared, alone) << name;
    EXPECT_NE(std::count(shared.begin(), shared.end(), true), 0) << name << " never pruned";
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bbo

// Tests of the `median` and `percentile` pruners against hand-worked cases and a brute-force restatement of
// their rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "bbo/plugin.h"
#include "bbo/pruner.h"
#include "bbo/storage.h"
#include "bbo/study_view.h"

namespace bbo {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using Curve = std::map<int64_t, double>;

FrozenTrial with_curve(TrialState state, const Curve& curve) {
  FrozenTrial t;
  t.state = state;
  if (state == TrialState::kComplete) t.values = {curve.empty() ? 0.0 : curve.rbegin()->second};
  for (const auto& [s, v] : curve) t.intermediate_values[{s, 0}] = v;
  return t;
}

// A memory-storage study holding finished trials; the trial to judge is built in memory (RUNNING).
struct PrunerStudy {
  std::unique_ptr<Storage> storage = open_storage("memory:");
  int64_t id;
  std::unique_ptr<StudyView> view;

  explicit PrunerStudy(std::vector<Direction> dirs = {Direction::kMinimize}) {
    id = storage->create_study("pruned", dirs, {{"seed", 1}});
    view = std::make_unique<StudyView>(*storage, storage->get_study(id));
  }
  void add(TrialState state, const Curve& curve) {
    FrozenTrial t = with_curve(state, curve);
    if (state == TrialState::kComplete) t.values.resize(view->directions().size(), 0.0);
    storage->create_trial(id, &t);
    view->invalidate();
  }
};

PluginRegistry& registry() {
  static PluginRegistry reg({BBO_TEST_PLUGIN_DIR});
  return reg;
}

std::shared_ptr<Pruner> median(json params = json::object()) { return registry().make_pruner("median", params); }
std::shared_ptr<Pruner> percentile(json params) { return registry().make_pruner("percentile", params); }

bool judge(PrunerStudy& s, Pruner& p, const Curve& curve) {
  return p.should_prune(*s.view, with_curve(TrialState::kRunning, curve));
}

TEST(MedianPruner, ComparesBestValueSoFarWithMedianOfCompletedTrials) {
  PrunerStudy s;
  s.add(TrialState::kComplete, {{0, 1}, {1, 1}, {2, 1}});
  s.add(TrialState::kComplete, {{0, 3}, {1, 3}, {2, 3}});
  s.add(TrialState::kComplete, {{0, 2}, {1, 2}, {2, 2}});
  auto p = median({{"n_startup_trials", 3}});
  EXPECT_TRUE(judge(s, *p, {{0, 5}, {1, 4}, {2, 2.5}}));   // best 2.5 > median 2
  EXPECT_FALSE(judge(s, *p, {{0, 5}, {1, 4}, {2, 1.5}}));  // best 1.5 < 2
  EXPECT_FALSE(judge(s, *p, {{0, 1.5}, {1, 4}, {2, 4}}));  // best so far is step 0's 1.5
  EXPECT_FALSE(judge(s, *p, {{0, 5}, {1, 4}, {2, 2}}));    // equal to the median: kept
  EXPECT_FALSE(judge(s, *p, {}));                           // nothing reported
  EXPECT_FALSE(judge(s, *p, {{7, 100}}));                   // nobody completed step 7
}

TEST(MedianPruner, MaximizeFlipsTheComparison) {
  PrunerStudy s({Direction::kMaximize});
  for (double v : {1.0, 2.0, 3.0, 4.0}) s.add(TrialState::kComplete, {{0, v}});
  auto p = median({{"n_startup_trials", 1}});
  EXPECT_TRUE(judge(s, *p, {{0, 2.4}}));  // median 2.5
  EXPECT_FALSE(judge(s, *p, {{0, 2.6}}));
}

TEST(MedianPruner, WaitsForStartupTrials) {
  PrunerStudy s;
  auto p = median();  // n_startup_trials = 5
  for (int k = 0; k < 5; ++k) {
    EXPECT_FALSE(judge(s, *p, {{0, 100}})) << k << " complete trials";
    s.add(TrialState::kComplete, {{0, 1}});
  }
  EXPECT_TRUE(judge(s, *p, {{0, 100}}));
}

TEST(MedianPruner, OnlyCompleteTrialsCount) {
  PrunerStudy s;
  s.add(TrialState::kComplete, {{0, 10}});
  for (int k = 0; k < 5; ++k) s.add(TrialState::kPruned, {{0, 0}});
  s.add(TrialState::kFail, {{0, 0}});
  auto p = median({{"n_startup_trials", 1}});
  EXPECT_FALSE(judge(s, *p, {{0, 9}}));  // the median is 10: pruned and failed trials are ignored
  EXPECT_TRUE(judge(s, *p, {{0, 11}}));
}

TEST(MedianPruner, WarmupAndIntervalSteps) {
  PrunerStudy s;
  Curve high;
  for (int64_t k = 0; k < 12; ++k) high[k] = 0.0;
  s.add(TrialState::kComplete, high);
  auto p = median({{"n_startup_trials", 1}, {"n_warmup_steps", 2}, {"interval_steps", 3}});
  auto curve_to = [](int64_t last) {
    Curve c;
    for (int64_t k = 0; k <= last; ++k) c[k] = 1.0;
    return c;
  };
  // Pruning steps when every step is reported: 2, 5, 8, 11.
  for (int64_t last = 0; last < 12; ++last) {
    bool pruning_step = last >= 2 && (last - 2) % 3 == 0;
    EXPECT_EQ(judge(s, *p, curve_to(last)), pruning_step) << "step " << last;
  }
  // A trial reporting sparsely is judged at the first step it reports in each interval.
  EXPECT_TRUE(judge(s, *p, {{0, 1}, {4, 1}}));
  EXPECT_FALSE(judge(s, *p, {{0, 1}, {3, 1}, {4, 1}}));
}

TEST(MedianPruner, NeedsMinTrialsAtTheStep) {
  PrunerStudy s;
  s.add(TrialState::kComplete, {{0, 0}, {1, 0}});
  s.add(TrialState::kComplete, {{0, 0}});
  auto p = median({{"n_startup_trials", 0}, {"n_min_trials", 2}});
  EXPECT_TRUE(judge(s, *p, {{0, 1}}));
  EXPECT_FALSE(judge(s, *p, {{0, 1}, {1, 1}}));  // only one complete trial reported step 1
}

TEST(MedianPruner, NaNLastValuePrunes) {
  PrunerStudy s;
  s.add(TrialState::kComplete, {{0, 1}, {1, 1}});
  auto p = median({{"n_startup_trials", 1}});
  EXPECT_TRUE(judge(s, *p, {{0, 0}, {1, kNaN}}));
  EXPECT_FALSE(judge(s, *p, {{0, 0}, {1, 0.5}}));
}

TEST(MedianPruner, NaNValuesOfOtherTrialsAreIgnored) {
  PrunerStudy s;
  s.add(TrialState::kComplete, {{0, kNaN}});
  s.add(TrialState::kComplete, {{0, 1}});
  auto p = median({{"n_startup_trials", 1}});
  EXPECT_TRUE(judge(s, *p, {{0, 1.5}}));  // median of {1}
  PrunerStudy all_nan;
  all_nan.add(TrialState::kComplete, {{0, kNaN}});
  EXPECT_FALSE(judge(all_nan, *p, {{0, 1.5}}));
}

TEST(MedianPruner, RefusesMultiObjectiveStudies) {
  PrunerStudy s({Direction::kMinimize, Direction::kMaximize});
  auto p = median();
  try {
    judge(s, *p, {{0, 1}});
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(), "median pruner: multi-objective studies are not supported");
  }
}

TEST(MedianPruner, RejectsBadParameters) {
  EXPECT_THROW(median({{"interval_steps", 0}}), ConfigError);
  EXPECT_THROW(median({{"n_min_trials", 0}}), ConfigError);
  EXPECT_THROW(median({{"n_warmup_steps", -1}}), ConfigError);
  EXPECT_THROW(median({{"n_startup_trials", "five"}}), ConfigError);
  EXPECT_THROW(median({{"percentile", 50}}), ConfigError);
}

// numpy's "linear" percentile restated from its definition: the value at fractional rank q/100·(n-1) of the
// sorted values, interpolated between the two neighbouring ranks.
double brute_percentile(std::vector<double> at, double q) {
  std::sort(at.begin(), at.end());
  if (at.size() == 1) return at[0];
  double rank = q / 100.0 * static_cast<double>(at.size() - 1);
  for (size_t i = 0; i + 1 < at.size(); ++i) {
    if (rank >= static_cast<double>(i) && rank <= static_cast<double>(i + 1)) {
      double w = rank - static_cast<double>(i);
      if (w == 0.0 || at[i] == at[i + 1]) return at[i];
      if (w == 1.0) return at[i + 1];
      return at[i] + w * (at[i + 1] - at[i]);
    }
  }
  return at.back();
}

// The rule restated plainly: judged at the first reported step of its interval; worse best-so-far than the
// q-th percentile (numpy.nanpercentile; 100 - q when maximizing) of COMPLETE trials at that step.
bool brute_force(const std::vector<std::pair<TrialState, Curve>>& others, const Curve& curve, bool maximize,
                 int64_t startup, int64_t warmup, int64_t interval, int64_t min_trials, double q = 50.0) {
  if (curve.empty()) return false;
  int64_t step = curve.rbegin()->first;
  int64_t n_complete = 0;
  for (const auto& [st, c] : others) n_complete += st == TrialState::kComplete;
  if (n_complete == 0 || n_complete < startup || step < warmup) return false;
  for (const auto& [t, v] : curve)
    if (t != step && t >= warmup && (t - warmup) / interval == (step - warmup) / interval) return false;
  if (std::isnan(curve.at(step))) return true;
  std::vector<double> vals;
  for (const auto& [t, v] : curve)
    if (!std::isnan(v)) vals.push_back(v);
  double best = maximize ? *std::max_element(vals.begin(), vals.end()) : *std::min_element(vals.begin(), vals.end());
  std::vector<double> at;
  int64_t reported = 0;
  for (const auto& [st, c] : others) {
    if (st != TrialState::kComplete || !c.count(step)) continue;
    ++reported;
    if (!std::isnan(c.at(step))) at.push_back(c.at(step));
  }
  if (reported < min_trials || at.empty()) return false;
  double threshold = brute_percentile(at, maximize ? 100.0 - q : q);
  return maximize ? best < threshold : best > threshold;
}

// Random studies (a few trials, short gappy curves, some NaN values, pruned trials mixed in) judged by the
// pruner and by brute_force with the same parameters. percentile_q < 0: the `median` entry.
void agree_on_random_studies(double percentile_q, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto value = [&] { return rng() % 13 == 0 ? kNaN : static_cast<double>(rng() % 10); };
  auto curve = [&] {
    Curve c;
    int64_t len = static_cast<int64_t>(rng() % 8);
    for (int64_t k = 0; k < len; ++k)
      if (rng() % 4 != 0) c[k] = value();
    return c;
  };
  int pruned = 0, kept = 0;
  for (int study = 0; study < 40; ++study) {
    bool maximize = study % 2 == 1;
    PrunerStudy s({maximize ? Direction::kMaximize : Direction::kMinimize});
    std::vector<std::pair<TrialState, Curve>> others;
    int n_others = static_cast<int>(rng() % 9);
    for (int k = 0; k < n_others; ++k) {
      TrialState st = rng() % 4 == 0 ? TrialState::kPruned : TrialState::kComplete;
      others.emplace_back(st, curve());
      s.add(st, others.back().second);
    }
    int64_t startup = static_cast<int64_t>(rng() % 4), warmup = static_cast<int64_t>(rng() % 3);
    int64_t interval = 1 + static_cast<int64_t>(rng() % 3), min_trials = 1 + static_cast<int64_t>(rng() % 2);
    json params = {{"n_startup_trials", startup}, {"n_warmup_steps", warmup}, {"interval_steps", interval},
                   {"n_min_trials", min_trials}};
    double q_used = 50.0;
    std::shared_ptr<Pruner> p;
    if (percentile_q < 0) {
      p = median(params);
    } else {
      // A fixed percentile, or (percentile_q > 100) a random one per study.
      q_used = percentile_q <= 100 ? percentile_q : static_cast<double>(rng() % 101);
      params["percentile"] = q_used;
      p = percentile(params);
    }
    for (int q = 0; q < 25; ++q) {
      Curve c = curve();
      bool expected = brute_force(others, c, maximize, startup, warmup, interval, min_trials, q_used);
      ASSERT_EQ(judge(s, *p, c), expected) << "study " << study << " query " << q;
      (expected ? pruned : kept)++;
    }
  }
  // The random cases exercise both outcomes.
  EXPECT_GT(pruned, 50);
  EXPECT_GT(kept, 50);
}

TEST(MedianPruner, AgreesWithBruteForceOnRandomStudies) { agree_on_random_studies(-1, 2024); }

TEST(PercentilePruner, AgreesWithBruteForceOnRandomStudies) {
  agree_on_random_studies(50, 2024);   // the median's cases, through `percentile`
  agree_on_random_studies(25, 7);
  agree_on_random_studies(90, 8);
  agree_on_random_studies(1000, 9);    // random percentiles 0..100
}

TEST(PercentilePruner, ThresholdsOnAHandWorkedStudy) {
  // Completed values at step 0: 1, 2, 3, 4, 5. numpy.nanpercentile: p25 = 2, p10 = 1.4, p90 = 4.6, p0 = 1.
  PrunerStudy s;
  for (double v : {3.0, 1.0, 5.0, 2.0, 4.0}) s.add(TrialState::kComplete, {{0, v}});
  auto p25 = percentile({{"percentile", 25}, {"n_startup_trials", 0}});
  EXPECT_FALSE(judge(s, *p25, {{0, 2.0}}));
  EXPECT_TRUE(judge(s, *p25, {{0, 2.0001}}));
  auto p10 = percentile({{"percentile", 10.0}, {"n_startup_trials", 0}});
  EXPECT_FALSE(judge(s, *p10, {{0, 1.399}}));
  EXPECT_TRUE(judge(s, *p10, {{0, 1.401}}));
  auto p0 = percentile({{"percentile", 0}, {"n_startup_trials", 0}});
  EXPECT_TRUE(judge(s, *p0, {{0, 1.01}}));
  auto p100 = percentile({{"percentile", 100}, {"n_startup_trials", 0}});
  EXPECT_FALSE(judge(s, *p100, {{0, 5.0}}));
  EXPECT_TRUE(judge(s, *p100, {{0, 5.01}}));
  // Maximizing, percentile 10 keeps the top 10 %: the threshold is numpy's p90 = 4.6.
  PrunerStudy m({Direction::kMaximize});
  for (double v : {3.0, 1.0, 5.0, 2.0, 4.0}) m.add(TrialState::kComplete, {{0, v}});
  EXPECT_FALSE(judge(m, *p10, {{0, 4.601}}));
  EXPECT_TRUE(judge(m, *p10, {{0, 4.599}}));
}

TEST(PercentilePruner, MedianIsPercentileFifty) {
  PrunerStudy s;
  for (double v : {1.0, 2.0, 3.0, 10.0}) s.add(TrialState::kComplete, {{0, v}, {1, v}});
  auto m = median({{"n_startup_trials", 2}});
  auto p = percentile({{"percentile", 50}, {"n_startup_trials", 2}});
  for (double v = 0; v < 12; v += 0.25) EXPECT_EQ(judge(s, *m, {{0, 9}, {1, v}}), judge(s, *p, {{0, 9}, {1, v}})) << v;
}

TEST(PercentilePruner, MultiObjectiveNeedsAnObjectiveIndex) {
  PrunerStudy s({Direction::kMinimize, Direction::kMaximize});
  try {
    judge(s, *percentile({{"percentile", 50}}), {{0, 1}});
    FAIL() << "no error";
  } catch (const ValueError& e) {
    EXPECT_STREQ(e.what(),
                 "percentile pruner: multi-objective study: set parameter 'objective' to the index of the objective to "
                 "prune on");
  }
  EXPECT_THROW(judge(s, *percentile({{"percentile", 50}, {"objective", 2}}), {{0, 1}}), ValueError);
  // objective = 1: objective 1's curve, in its direction (maximize), against objective 1 of complete trials.
  FrozenTrial done;
  done.state = TrialState::kComplete;
  done.values = {0, 0};
  for (double v : {1.0, 2.0, 3.0}) {
    done.intermediate_values = {{{0, 0}, -v}, {{0, 1}, v}};
    s.storage->create_trial(s.id, &done);
  }
  s.view->invalidate();
  auto p = percentile({{"percentile", 50}, {"objective", 1}, {"n_startup_trials", 0}});
  auto with_two = [](double obj0, double obj1) {
    FrozenTrial t;
    t.intermediate_values = {{{0, 0}, obj0}, {{0, 1}, obj1}};
    return t;
  };
  EXPECT_TRUE(p->should_prune(*s.view, with_two(-100, 1.5)));   // 1.5 < median 2 (maximize)
  EXPECT_FALSE(p->should_prune(*s.view, with_two(100, 2.5)));   // objective 0 plays no part
}

TEST(PercentilePruner, RejectsBadParameters) {
  EXPECT_THROW(percentile({}), ConfigError);  // percentile is required
  EXPECT_THROW(percentile({{"percentile", -1}}), ConfigError);
  EXPECT_THROW(percentile({{"percentile", 100.5}}), ConfigError);
  EXPECT_THROW(percentile({{"percentile", 50}, {"objective", -1}}), ConfigError);
  EXPECT_THROW(percentile({{"percentile", 50}, {"interval_steps", 0}}), ConfigError);
  try {
    percentile({});
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "plugin 'percentile': parameter 'percentile' is required (a number in [0, 100])");
  }
}

}  // namespace
}  // namespace bbo

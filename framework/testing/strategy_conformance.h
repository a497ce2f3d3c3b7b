// strategy_conformance.h — the contract every Strategy plugin passes (header-only, GoogleTest).
//
// Usage, in exactly one test source of an executable linked with bbo::framework and GoogleTest:
//
//   #include "strategy_conformance.h"   // installed as <bbo/testing/strategy_conformance.h>
//   INSTANTIATE_TEST_SUITE_P(Mine, StrategyConformance,
//       ::testing::Values(bbo::testing::StrategyCase{"mine", {{"k", 3}}}),
//       bbo::testing::StrategyCaseName);
//
// The strategy is found through PluginRegistry::global() (set BBO_PLUGIN_PATH for an out-of-tree plugin).
// What is checked:
//  - every proposal lies inside its distribution (float, log float, stepped float, int, log int, stepped
//    int, categorical), on the declared space and define-by-run;
//  - determinism: two fresh studies with the same seed and the same objective propose the same parameters;
//  - a study rebuilt from storage (Study::load of a SQLite file in a fresh Study object) proposes the same next
//    point as a Study object kept in memory through the same history;
//  - ask(n) batches: in range, distinct trial numbers, not all the same point;
//  - conditional parameters: each branch gets only its own parameters, all in range.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include "bbo/space.h"
#include "bbo/study.h"
#include "bbo/trial.h"

namespace bbo::testing {

struct StrategyCase {
  std::string name;                  // plugin name or alias
  json params = json::object();      // strategy parameters
  int n_trials = 24;                 // trials per history (keep small for model-based strategies)
};

// gtest parameter name: the plugin name (with the case index appended by the caller's list order).
inline std::string StrategyCaseName(const ::testing::TestParamInfo<StrategyCase>& info) {
  std::string s = info.param.name + "_" + std::to_string(info.index);
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return s;
}

namespace conformance {

// A deterministic objective over whatever the trial suggested, so histories are reproducible.
inline double objective(const FrozenTrial& t) {
  double v = 0.0;
  for (const auto& [name, x] : t.params) {
    double h = static_cast<double>(hash_string(name) % 97) / 97.0;
    v += (x - h) * (x - h);
  }
  return v;
}

// The mixed space used throughout: one parameter of every kind of distribution.
inline SearchSpace mixed_space() {
  SearchSpace s;
  s.add("f", FloatDistribution{-3.0, 2.0, false, std::nullopt});
  s.add("flog", FloatDistribution{1e-4, 1.0, true, std::nullopt});
  s.add("fstep", FloatDistribution{0.0, 1.0, false, 0.25});
  s.add("i", IntDistribution{-2, 5, false, 1});
  s.add("ilog", IntDistribution{1, 64, true, 1});
  s.add("istep", IntDistribution{0, 10, false, 5});
  s.add("c", CategoricalDistribution{{ParamValue{std::string("a")}, ParamValue{int64_t{2}}, ParamValue{3.5},
                                      ParamValue{true}, ParamValue{}}});
  return s;
}

// Suggests the mixed space define-by-run (in a fixed order) and returns the trial's frozen record.
inline FrozenTrial suggest_mixed(Trial& t) {
  const SearchSpace s = mixed_space();
  for (size_t k = 0; k < s.size(); ++k) t.suggest(s.names()[k], s.distributions()[k]);
  return t.frozen();
}

inline void expect_inside(const FrozenTrial& t) {
  for (const auto& [name, x] : t.params) {
    auto it = t.distributions.find(name);
    ASSERT_NE(it, t.distributions.end()) << "trial " << t.number << ": no distribution for " << name;
    EXPECT_TRUE(contains(it->second, x)) << "trial " << t.number << ": " << name << " = " << x
                                          << " outside " << distribution_to_json(it->second).dump();
  }
}

inline std::string temp_db(const std::string& tag) {
  static std::atomic<int> counter{0};
  auto path = std::filesystem::path(::testing::TempDir()) /
              ("bbo_strategy_conformance_" + tag + "_" + std::to_string(::getpid()) + "_" +
               std::to_string(counter++) + ".db");
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + "-wal");
  std::filesystem::remove(path.string() + "-shm");
  return path.string();
}

// Runs n define-by-run trials of the mixed space; returns the params of each.
inline std::vector<std::map<std::string, double>> run_mixed(Study& study, int n) {
  std::vector<std::map<std::string, double>> out;
  for (int k = 0; k < n; ++k) {
    Trial t = study.ask();
    FrozenTrial f = suggest_mixed(t);
    out.push_back(f.params);
    study.tell(t, objective(f));
  }
  return out;
}

}  // namespace conformance

class StrategyConformance : public ::testing::TestWithParam<StrategyCase> {
 protected:
  StudyOptions options(const std::string& study_name, uint64_t seed = 12345) const {
    StudyOptions o;
    o.name = study_name;
    o.storage = "memory:";
    o.strategy = GetParam().name;
    o.strategy_params = GetParam().params;
    o.seed = seed;
    return o;
  }
  int n() const { return GetParam().n_trials; }
};

TEST_P(StrategyConformance, DefineByRunProposalsLieInsideTheirDistributions) {
  Study study = Study::create(options("inside"));
  for (int k = 0; k < n(); ++k) {
    Trial t = study.ask();
    FrozenTrial f = conformance::suggest_mixed(t);
    ASSERT_EQ(f.params.size(), conformance::mixed_space().size());
    conformance::expect_inside(f);
    // External values agree with the internal ones.
    double x = t.suggest_float("f", -3.0, 2.0);
    EXPECT_GE(x, -3.0);
    EXPECT_LE(x, 2.0);
    int64_t i = t.suggest_int("istep", 0, 10, false, 5);
    EXPECT_TRUE(i == 0 || i == 5 || i == 10) << i;
    study.tell(t, conformance::objective(f));
  }
}

TEST_P(StrategyConformance, DeclaredSpaceProposalsLieInsideTheirDistributions) {
  StudyOptions o = options("declared");
  o.search_space = conformance::mixed_space();
  Study study = Study::create(o);
  for (int k = 0; k < n(); ++k) {
    Trial t = study.ask();
    FrozenTrial f = t.frozen();
    ASSERT_EQ(f.params.size(), conformance::mixed_space().size()) << "trial " << f.number;
    conformance::expect_inside(f);
    study.tell(t, conformance::objective(f));
  }
}

TEST_P(StrategyConformance, SameSeedGivesSameParameters) {
  Study a = Study::create(options("same_seed_a", 777));
  Study b = Study::create(options("same_seed_b", 777));
  auto pa = conformance::run_mixed(a, n());
  auto pb = conformance::run_mixed(b, n());
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t k = 0; k < pa.size(); ++k) EXPECT_EQ(pa[k], pb[k]) << "trial " << k;
}

TEST_P(StrategyConformance, DifferentSeedsGiveDifferentParameters) {
  Study a = Study::create(options("seed_a", 1));
  Study b = Study::create(options("seed_b", 2));
  auto pa = conformance::run_mixed(a, 4);
  auto pb = conformance::run_mixed(b, 4);
  EXPECT_NE(pa, pb);
}

TEST_P(StrategyConformance, StudyRebuiltFromStorageProposesTheSameNextPoint) {
  // Two identical histories in two files: one Study object lives through its history and asks the next
  // trial; the other history's Study is dropped and a fresh object loaded from the file asks it instead.
  const std::string kept_path = conformance::temp_db("kept");
  const std::string rebuilt_path = conformance::temp_db("rebuilt");
  StudyOptions o = options("rebuild", 4242);
  o.storage = "sqlite://" + kept_path;
  Study kept = Study::create(o);
  conformance::run_mixed(kept, n());
  {
    o.storage = "sqlite://" + rebuilt_path;
    Study first = Study::create(o);
    conformance::run_mixed(first, n());
  }
  Study rebuilt = Study::load("rebuild", "sqlite://" + rebuilt_path);

  for (int round = 0; round < 2; ++round) {
    Trial tk = kept.ask();
    Trial tr = rebuilt.ask();
    ASSERT_EQ(tk.number(), tr.number());
    FrozenTrial fk = conformance::suggest_mixed(tk);
    FrozenTrial fr = conformance::suggest_mixed(tr);
    EXPECT_EQ(fk.params, fr.params) << "trial " << fk.number;
    kept.tell(tk, conformance::objective(fk));
    rebuilt.tell(tr, conformance::objective(fr));
  }
  for (const auto& p : {kept_path, rebuilt_path})
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p + suffix);
}

TEST_P(StrategyConformance, BatchAsksStayInsideAndDiffer) {
  StudyOptions o = options("batch");
  o.search_space = conformance::mixed_space();
  Study study = Study::create(o);
  std::set<int64_t> numbers;
  for (int round = 0; round < 3; ++round) {
    std::vector<Trial> batch = study.ask(4);
    ASSERT_EQ(batch.size(), 4u);
    std::set<double> f_values;
    for (Trial& t : batch) {
      FrozenTrial f = t.frozen();
      ASSERT_EQ(f.params.size(), conformance::mixed_space().size());
      conformance::expect_inside(f);
      EXPECT_TRUE(numbers.insert(t.number()).second) << "trial number " << t.number() << " given twice";
      f_values.insert(f.params.at("f"));
    }
    EXPECT_GT(f_values.size(), 1u) << "a batch of 4 proposed the same continuous value";
    for (Trial& t : batch) study.tell(t, conformance::objective(t.frozen()));
  }
}

TEST_P(StrategyConformance, ConditionalParametersFollowTheirBranch) {
  Study study = Study::create(options("conditional"));
  std::set<std::string> branches;
  for (int k = 0; k < n(); ++k) {
    Trial t = study.ask();
    std::string kind = t.suggest_categorical("kind", std::vector<std::string>{"linear", "tree"});
    branches.insert(kind);
    if (kind == "linear") {
      double c = t.suggest_float("C", 1e-3, 1e3, true);
      EXPECT_GE(c, 1e-3);
      EXPECT_LE(c, 1e3);
    } else {
      int64_t depth = t.suggest_int("depth", 1, 12);
      EXPECT_GE(depth, 1);
      EXPECT_LE(depth, 12);
      double lr = t.suggest_float("lr", 0.0, 1.0, false, 0.1);
      EXPECT_GE(lr, 0.0);
      EXPECT_LE(lr, 1.0 + 1e-12);
    }
    FrozenTrial f = t.frozen();
    conformance::expect_inside(f);
    if (kind == "linear") {
      EXPECT_EQ(f.params.size(), 2u);
      EXPECT_TRUE(f.params.count("C"));
    } else {
      EXPECT_EQ(f.params.size(), 3u);
      EXPECT_TRUE(f.params.count("depth") && f.params.count("lr"));
    }
    study.tell(t, conformance::objective(f));
  }
  EXPECT_EQ(branches.size(), 2u) << "only one branch of the conditional space was ever proposed";
}

}  // namespace bbo::testing

using bbo::testing::StrategyConformance;

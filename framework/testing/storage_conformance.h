// bbo/testing/storage_conformance.h — the storage contract as a GoogleTest suite.
//
// Every backend passes this suite; it is the executable form of the rules in bbo/storage.h. The suite is a
// value-parameterized fixture whose parameter is a factory returning a fresh, empty storage (a new temp file,
// a new database schema, ...). Each test calls the factory once. To check a backend, include this header in
// exactly one test source of a GoogleTest binary and instantiate it:
//
//   #include "bbo/testing/storage_conformance.h"   // installed path; "storage_conformance.h" in the tree
//   INSTANTIATE_TEST_SUITE_P(MyBackend, StorageConformanceTest,
//       ::testing::Values(bbo::conformance::StorageFactory([] { return bbo::open_storage("my://..."); })));
//
// (StorageConformanceTest is declared at global scope so that the instantiation needs no namespace.)
// The suite is header-only and uses only the public bbo headers and GoogleTest.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bbo/error.h"
#include "bbo/space.h"
#include "bbo/storage.h"
#include "bbo/trial.h"

namespace bbo::conformance {

// Returns a fresh, empty storage each time it is called. A std::function with a printer, so that GoogleTest
// shows a readable parameter instead of the object's bytes.
struct StorageFactory : std::function<std::unique_ptr<Storage>()> {
  using std::function<std::unique_ptr<Storage>()>::function;
};
inline void PrintTo(const StorageFactory&, std::ostream* os) { *os << "storage factory"; }

inline constexpr double kInf = std::numeric_limits<double>::infinity();
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Equality of doubles where NaN equals NaN (the storage must keep NaN, not turn it into a number).
inline bool same_double(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b;
}

inline ::testing::AssertionResult same_doubles(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) {
    return ::testing::AssertionFailure() << "sizes differ: " << a.size() << " vs " << b.size();
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (!same_double(a[i], b[i])) {
      return ::testing::AssertionFailure() << "element " << i << " differs: " << a[i] << " vs " << b[i];
    }
  }
  return ::testing::AssertionSuccess();
}

// Field-by-field comparison of the stored content of two trials (ids and numbers included when `with_ids`).
inline ::testing::AssertionResult same_trial(const FrozenTrial& a, const FrozenTrial& b, bool with_ids = true) {
  auto fail = [](const char* field) { return ::testing::AssertionFailure() << "field " << field << " differs"; };
  if (with_ids && (a.id != b.id || a.number != b.number || a.study_id != b.study_id)) return fail("id/number");
  if (a.state != b.state) return fail("state");
  if (a.params != b.params) return fail("params");
  if (a.distributions != b.distributions) return fail("distributions");
  if (auto r = same_doubles(a.values, b.values); !r) return r << " (values)";
  if (auto r = same_doubles(a.constraints, b.constraints); !r) return r << " (constraints)";
  if (a.intermediate_values.size() != b.intermediate_values.size()) return fail("intermediate_values");
  for (const auto& [k, v] : a.intermediate_values) {
    auto it = b.intermediate_values.find(k);
    if (it == b.intermediate_values.end() || !same_double(v, it->second)) return fail("intermediate_values");
  }
  if (a.user_attrs != b.user_attrs) return fail("user_attrs");
  if (a.system_attrs != b.system_attrs) return fail("system_attrs");
  if (a.datetime_start_us != b.datetime_start_us) return fail("datetime_start_us");
  if (a.datetime_complete_us != b.datetime_complete_us) return fail("datetime_complete_us");
  if (a.heartbeat_us != b.heartbeat_us) return fail("heartbeat_us");
  return ::testing::AssertionSuccess();
}

inline std::vector<int64_t> numbers_of(const std::vector<FrozenTrial>& trials) {
  std::vector<int64_t> out;
  for (const FrozenTrial& t : trials) out.push_back(t.number);
  return out;
}

}  // namespace bbo::conformance

class StorageConformanceTest : public ::testing::TestWithParam<bbo::conformance::StorageFactory> {
 protected:
  void SetUp() override {
    storage_ = GetParam()();
    ASSERT_NE(storage_, nullptr);
  }

  int64_t make_study(const std::string& name = "study",
                     std::vector<bbo::Direction> directions = {bbo::Direction::kMinimize}) {
    return storage_->create_study(name, directions, bbo::json::object());
  }

  // A finished-trial template with one value of every kind.
  static bbo::FrozenTrial complete_template(double value) {
    bbo::FrozenTrial t;
    t.state = bbo::TrialState::kComplete;
    t.params["x"] = 0.25;
    t.distributions["x"] = bbo::FloatDistribution{0.0, 1.0, false, std::nullopt};
    t.values = {value};
    t.constraints = {-1.0};
    t.intermediate_values[{0, 0}] = value + 1;
    t.user_attrs = {{"u", 1}};
    t.system_attrs = {{"s", "x"}};
    t.datetime_start_us = 1'000'000;
    t.datetime_complete_us = 2'000'000;
    t.heartbeat_us = 1'500'000;
    return t;
  }

  std::unique_ptr<bbo::Storage> storage_;
};

// ---------------------------------------------------------------- studies

TEST_P(StorageConformanceTest, UrlIsNotEmpty) { EXPECT_FALSE(storage_->url().empty()); }

TEST_P(StorageConformanceTest, CreateStudyThenFindAndGetIt) {
  bbo::json sys = {{"seed", 42}, {"strategy", {{"name", "random"}}}};
  int64_t id = storage_->create_study("alpha", {bbo::Direction::kMinimize, bbo::Direction::kMaximize}, sys);
  auto found = storage_->find_study("alpha");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, id);
  EXPECT_EQ(found->name, "alpha");
  EXPECT_EQ(found->directions,
            (std::vector<bbo::Direction>{bbo::Direction::kMinimize, bbo::Direction::kMaximize}));
  EXPECT_EQ(found->system_attrs, sys);
  EXPECT_EQ(found->user_attrs, bbo::json::object());
  EXPECT_EQ(found->n_trials, 0);
  EXPECT_TRUE(found->datetime_start_us.has_value());

  bbo::StudyInfo got = storage_->get_study(id);
  EXPECT_EQ(got.name, "alpha");
  EXPECT_EQ(got.system_attrs, sys);
  EXPECT_FALSE(storage_->find_study("beta").has_value());
}

TEST_P(StorageConformanceTest, CreateStudyRejectsEmptyNameAndEmptyDirections) {
  EXPECT_THROW(storage_->create_study("", {bbo::Direction::kMinimize}, bbo::json::object()), bbo::ValueError);
  EXPECT_THROW(storage_->create_study("s", {}, bbo::json::object()), bbo::ValueError);
  EXPECT_TRUE(storage_->list_studies().empty());
}

TEST_P(StorageConformanceTest, CreateStudyRejectsDuplicateName) {
  int64_t id = make_study("same");
  EXPECT_THROW(make_study("same"), bbo::DuplicateError);
  auto studies = storage_->list_studies();
  ASSERT_EQ(studies.size(), 1u);
  EXPECT_EQ(studies[0].id, id);
}

TEST_P(StorageConformanceTest, ListStudiesReturnsEveryStudy) {
  int64_t a = make_study("a");
  int64_t b = make_study("b");
  int64_t c = make_study("c");
  std::set<int64_t> ids;
  std::set<std::string> names;
  for (const bbo::StudyInfo& s : storage_->list_studies()) {
    ids.insert(s.id);
    names.insert(s.name);
  }
  EXPECT_EQ(ids, (std::set<int64_t>{a, b, c}));
  EXPECT_EQ(names, (std::set<std::string>{"a", "b", "c"}));
}

TEST_P(StorageConformanceTest, DeleteStudyRemovesItAndItsTrials) {
  int64_t id = make_study("doomed");
  int64_t other = make_study("kept");
  bbo::FrozenTrial t = storage_->create_trial(id);
  storage_->set_trial_param(t.id, "x", 0.5, bbo::FloatDistribution{0.0, 1.0, false, std::nullopt});
  ASSERT_TRUE(storage_->compare_and_swap_plugin_state(id, "k", 0, "blob"));
  bbo::FrozenTrial kept = storage_->create_trial(other);

  storage_->delete_study(id);
  EXPECT_FALSE(storage_->find_study("doomed").has_value());
  EXPECT_THROW(storage_->get_study(id), bbo::NotFoundError);
  EXPECT_THROW(storage_->get_trial(t.id), bbo::NotFoundError);
  EXPECT_THROW(storage_->get_trials(id), bbo::NotFoundError);
  EXPECT_THROW(storage_->delete_study(id), bbo::NotFoundError);
  EXPECT_EQ(storage_->get_trial(kept.id).number, 0);
  EXPECT_EQ(storage_->list_studies().size(), 1u);

  // The name is free again and the new study starts from trial 0 without the old plugin state.
  int64_t again = make_study("doomed");
  EXPECT_EQ(storage_->create_trial(again).number, 0);
  EXPECT_EQ(storage_->get_plugin_state(again, "k").version, 0);
}

TEST_P(StorageConformanceTest, StudyAttrsAreSetAndOverwritten) {
  int64_t id = make_study();
  storage_->set_study_user_attr(id, "note", "first");
  storage_->set_study_user_attr(id, "nested", {{"a", {1, 2, 3}}, {"b", nullptr}});
  storage_->set_study_user_attr(id, "note", "second");
  storage_->set_study_system_attr(id, "seed", 7);
  bbo::StudyInfo s = storage_->get_study(id);
  EXPECT_EQ(s.user_attrs["note"], "second");
  EXPECT_EQ(s.user_attrs["nested"], (bbo::json{{"a", {1, 2, 3}}, {"b", nullptr}}));
  EXPECT_EQ(s.system_attrs["seed"], 7);
  EXPECT_FALSE(s.user_attrs.contains("seed"));
  EXPECT_THROW(storage_->set_study_user_attr(id + 1000, "k", 1), bbo::NotFoundError);
  EXPECT_THROW(storage_->set_study_system_attr(id + 1000, "k", 1), bbo::NotFoundError);
}

TEST_P(StorageConformanceTest, UnknownIdsThrowNotFound) {
  int64_t id = make_study();
  bbo::FrozenTrial t = storage_->create_trial(id);
  int64_t bad_study = id + 1000;
  int64_t bad_trial = t.id + 1000;
  EXPECT_THROW(storage_->get_study(bad_study), bbo::NotFoundError);
  EXPECT_THROW(storage_->create_trial(bad_study), bbo::NotFoundError);
  EXPECT_THROW(storage_->claim_waiting_trial(bad_study), bbo::NotFoundError);
  EXPECT_THROW(storage_->get_trials(bad_study), bbo::NotFoundError);
  EXPECT_THROW(storage_->get_trials_since(bad_study, 0), bbo::NotFoundError);
  EXPECT_THROW(storage_->count_trials(bad_study), bbo::NotFoundError);
  EXPECT_THROW(storage_->fail_stale_trials(bad_study, 1.0), bbo::NotFoundError);
  EXPECT_THROW(storage_->get_plugin_state(bad_study, "k"), bbo::NotFoundError);
  EXPECT_THROW(storage_->compare_and_swap_plugin_state(bad_study, "k", 0, "b"), bbo::NotFoundError);
  EXPECT_THROW(storage_->get_trial(bad_trial), bbo::NotFoundError);
  EXPECT_THROW(storage_->get_trial_by_number(id, 5), bbo::NotFoundError);
  EXPECT_THROW(storage_->get_trial_by_number(bad_study, 0), bbo::NotFoundError);
  EXPECT_THROW(storage_->set_trial_param(bad_trial, "x", 0.1, bbo::FloatDistribution{}), bbo::NotFoundError);
  EXPECT_THROW(storage_->set_trial_intermediate_value(bad_trial, 0, 0, 1.0), bbo::NotFoundError);
  EXPECT_THROW(storage_->set_trial_user_attr(bad_trial, "k", 1), bbo::NotFoundError);
  EXPECT_THROW(storage_->set_trial_system_attr(bad_trial, "k", 1), bbo::NotFoundError);
  EXPECT_THROW(storage_->finish_trial(bad_trial, bbo::TrialState::kComplete, {1.0}, {}), bbo::NotFoundError);
  EXPECT_THROW(storage_->heartbeat(bad_trial), bbo::NotFoundError);
}

// ---------------------------------------------------------------- trial creation

TEST_P(StorageConformanceTest, TrialNumbersCountFromZeroPerStudy) {
  int64_t a = make_study("a");
  int64_t b = make_study("b");
  std::set<int64_t> ids;
  for (int i = 0; i < 10; ++i) {
    bbo::FrozenTrial t = storage_->create_trial(a);
    EXPECT_EQ(t.number, i);
    EXPECT_EQ(t.study_id, a);
    ids.insert(t.id);
  }
  EXPECT_EQ(storage_->create_trial(b).number, 0);
  EXPECT_EQ(storage_->create_trial(b).number, 1);
  EXPECT_EQ(ids.size(), 10u);
  EXPECT_EQ(storage_->count_trials(a), 10);
  EXPECT_EQ(storage_->get_study(a).n_trials, 10);
  EXPECT_EQ(storage_->get_study(b).n_trials, 2);
  EXPECT_EQ(bbo::conformance::numbers_of(storage_->get_trials(a)),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_P(StorageConformanceTest, NewTrialIsRunningWithStartAndHeartbeat) {
  int64_t id = make_study();
  int64_t before = bbo::now_us();
  bbo::FrozenTrial t = storage_->create_trial(id);
  EXPECT_EQ(t.state, bbo::TrialState::kRunning);
  ASSERT_TRUE(t.datetime_start_us.has_value());
  ASSERT_TRUE(t.heartbeat_us.has_value());
  EXPECT_GE(*t.datetime_start_us, before - 1'000'000);
  EXPECT_LE(*t.datetime_start_us, bbo::now_us() + 1'000'000);
  EXPECT_FALSE(t.datetime_complete_us.has_value());
  EXPECT_TRUE(t.params.empty());
  EXPECT_TRUE(t.values.empty());
  EXPECT_TRUE(bbo::conformance::same_trial(t, storage_->get_trial(t.id)));
  EXPECT_TRUE(bbo::conformance::same_trial(t, storage_->get_trial_by_number(id, 0)));
}

TEST_P(StorageConformanceTest, ParamsOfEveryDistributionKindRoundTrip) {
  int64_t id = make_study();
  bbo::FrozenTrial t = storage_->create_trial(id);
  std::map<std::string, std::pair<double, bbo::Distribution>> params = {
      {"f", {0.3, bbo::FloatDistribution{-1.0, 1.0, false, std::nullopt}}},
      {"f_log", {1e-3, bbo::FloatDistribution{1e-5, 1e-1, true, std::nullopt}}},
      {"f_step", {0.25, bbo::FloatDistribution{0.0, 1.0, false, 0.25}}},
      {"i", {3.0, bbo::IntDistribution{-5, 5, false, 1}}},
      {"i_log", {16.0, bbo::IntDistribution{1, 1024, true, 1}}},
      {"i_step", {4.0, bbo::IntDistribution{0, 10, false, 2}}},
      {"c_str", {1.0, bbo::CategoricalDistribution{{std::string("relu"), std::string("tanh")}}}},
      {"c_mixed",
       {4.0, bbo::CategoricalDistribution{{std::monostate{}, true, int64_t{3}, 2.5, std::string("gelu")}}}},
  };
  for (const auto& [name, pd] : params) storage_->set_trial_param(t.id, name, pd.first, pd.second);
  bbo::FrozenTrial got = storage_->get_trial(t.id);
  ASSERT_EQ(got.params.size(), params.size());
  for (const auto& [name, pd] : params) {
    EXPECT_EQ(got.params.at(name), pd.first) << name;
    EXPECT_TRUE(got.distributions.at(name) == pd.second) << name;
  }
  // The mixed categorical keeps the type of every choice.
  const auto& mixed = std::get<bbo::CategoricalDistribution>(got.distributions.at("c_mixed")).choices;
  ASSERT_EQ(mixed.size(), 5u);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(mixed[0]));
  EXPECT_TRUE(std::holds_alternative<bool>(mixed[1]));
  EXPECT_TRUE(std::holds_alternative<int64_t>(mixed[2]));
  EXPECT_TRUE(std::holds_alternative<double>(mixed[3]));
  EXPECT_TRUE(std::holds_alternative<std::string>(mixed[4]));
  // Reading the whole study gives the same trial.
  auto all = storage_->get_trials(id);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(bbo::conformance::same_trial(all[0], got));
}

TEST_P(StorageConformanceTest, SettingAParamAgainKeepsTheLastValue) {
  int64_t id = make_study();
  bbo::FrozenTrial t = storage_->create_trial(id);
  bbo::FloatDistribution d{0.0, 1.0, false, std::nullopt};
  storage_->set_trial_param(t.id, "x", 0.1, d);
  storage_->set_trial_param(t.id, "x", 0.9, d);
  bbo::FrozenTrial got = storage_->get_trial(t.id);
  ASSERT_EQ(got.params.size(), 1u);
  EXPECT_EQ(got.params.at("x"), 0.9);
}

TEST_P(StorageConformanceTest, IntermediateValuesAreKeyedByStepAndObjective) {
  int64_t id = make_study("mo", {bbo::Direction::kMinimize, bbo::Direction::kMaximize});
  bbo::FrozenTrial t = storage_->create_trial(id);
  storage_->set_trial_intermediate_value(t.id, 0, 0, 1.0);
  storage_->set_trial_intermediate_value(t.id, 1, 0, 0.5);
  storage_->set_trial_intermediate_value(t.id, 1, 1, 7.0);
  storage_->set_trial_intermediate_value(t.id, 10, 0, 0.25);
  storage_->set_trial_intermediate_value(t.id, 1, 0, 0.4);  // overwrites step 1 of objective 0 only
  bbo::FrozenTrial got = storage_->get_trial(t.id);
  std::map<bbo::StepKey, double> expected = {
      {{0, 0}, 1.0}, {{1, 0}, 0.4}, {{1, 1}, 7.0}, {{10, 0}, 0.25}};
  EXPECT_EQ(got.intermediate_values, expected);
}

TEST_P(StorageConformanceTest, NegativeStepOrObjectiveIsRejected) {
  int64_t id = make_study();
  bbo::FrozenTrial t = storage_->create_trial(id);
  EXPECT_THROW(storage_->set_trial_intermediate_value(t.id, -1, 0, 1.0), bbo::ValueError);
  EXPECT_THROW(storage_->set_trial_intermediate_value(t.id, 0, -1, 1.0), bbo::ValueError);
  EXPECT_TRUE(storage_->get_trial(t.id).intermediate_values.empty());
}

TEST_P(StorageConformanceTest, TrialAttrsAreSetAndOverwritten) {
  int64_t id = make_study();
  bbo::FrozenTrial t = storage_->create_trial(id);
  storage_->set_trial_user_attr(t.id, "a", 1);
  storage_->set_trial_user_attr(t.id, "a", {{"deep", {true, "x"}}});
  storage_->set_trial_system_attr(t.id, "b", "sys");
  bbo::FrozenTrial got = storage_->get_trial(t.id);
  EXPECT_EQ(got.user_attrs, (bbo::json{{"a", {{"deep", {true, "x"}}}}}));
  EXPECT_EQ(got.system_attrs, (bbo::json{{"b", "sys"}}));
}

// ---------------------------------------------------------------- finishing

TEST_P(StorageConformanceTest, FinishTrialStoresValuesConstraintsAndTime) {
  int64_t id = make_study("mo", {bbo::Direction::kMinimize, bbo::Direction::kMinimize});
  bbo::FrozenTrial t = storage_->create_trial(id);
  storage_->finish_trial(t.id, bbo::TrialState::kComplete, {1.5, -2.25}, {0.0, -1.0, 3.5});
  bbo::FrozenTrial got = storage_->get_trial(t.id);
  EXPECT_EQ(got.state, bbo::TrialState::kComplete);
  EXPECT_EQ(got.values, (std::vector<double>{1.5, -2.25}));
  EXPECT_EQ(got.constraints, (std::vector<double>{0.0, -1.0, 3.5}));
  ASSERT_TRUE(got.datetime_complete_us.has_value());
  EXPECT_GE(*got.datetime_complete_us, *got.datetime_start_us);
}

TEST_P(StorageConformanceTest, ValuesKeepFullDoublePrecision) {
  int64_t id = make_study();
  bbo::FrozenTrial t = storage_->create_trial(id);
  double v = 0.1 + 0.2;  // 0.30000000000000004
  double tiny = 4.9406564584124654e-324;
  storage_->set_trial_param(t.id, "x", 1.0 / 3.0, bbo::FloatDistribution{0.0, 1.0, false, std::nullopt});
  storage_->set_trial_intermediate_value(t.id, 0, 0, tiny);
  storage_->finish_trial(t.id, bbo::TrialState::kComplete, {v}, {-1e308});
  bbo::FrozenTrial got = storage_->get_trial(t.id);
  EXPECT_EQ(got.values.at(0), v);
  EXPECT_EQ(got.constraints.at(0), -1e308);
  EXPECT_EQ(got.params.at("x"), 1.0 / 3.0);
  EXPECT_EQ(got.intermediate_values.at({0, 0}), tiny);
}

TEST_P(StorageConformanceTest, PrunedAndFailedTrialsFinishWithoutValues) {
  int64_t id = make_study();
  bbo::FrozenTrial p = storage_->create_trial(id);
  bbo::FrozenTrial f = storage_->create_trial(id);
  storage_->set_trial_intermediate_value(p.id, 3, 0, 0.5);
  storage_->finish_trial(p.id, bbo::TrialState::kPruned, {}, {});
  storage_->finish_trial(f.id, bbo::TrialState::kFail, {}, {});
  EXPECT_EQ(storage_->get_trial(p.id).state, bbo::TrialState::kPruned);
  EXPECT_EQ(storage_->get_trial(p.id).intermediate_values.size(), 1u);
  EXPECT_EQ(storage_->get_trial(f.id).state, bbo::TrialState::kFail);
  EXPECT_TRUE(storage_->get_trial(f.id).values.empty());
}

TEST_P(StorageConformanceTest, FinishWithANonFinalStateIsRejected) {
  int64_t id = make_study();
  bbo::FrozenTrial t = storage_->create_trial(id);
  EXPECT_THROW(storage_->finish_trial(t.id, bbo::TrialState::kRunning, {1.0}, {}), bbo::ValueError);
  EXPECT_THROW(storage_->finish_trial(t.id, bbo::TrialState::kWaiting, {1.0}, {}), bbo::ValueError);
  EXPECT_TRUE(bbo::conformance::same_trial(t, storage_->get_trial(t.id)));
}

TEST_P(StorageConformanceTest, FinishingTwiceIsRefusedAndChangesNothing) {
  int64_t id = make_study();
  bbo::FrozenTrial t = storage_->create_trial(id);
  storage_->finish_trial(t.id, bbo::TrialState::kComplete, {1.0}, {});
  bbo::FrozenTrial first = storage_->get_trial(t.id);
  EXPECT_THROW(storage_->finish_trial(t.id, bbo::TrialState::kComplete, {2.0}, {}), bbo::TrialStateError);
  EXPECT_THROW(storage_->finish_trial(t.id, bbo::TrialState::kFail, {}, {}), bbo::TrialStateError);
  EXPECT_TRUE(bbo::conformance::same_trial(first, storage_->get_trial(t.id)));
}

TEST_P(StorageConformanceTest, WritesToAFinishedTrialAreRefusedAndChangeNothing) {
  int64_t id = make_study();
  for (bbo::TrialState final_state : {bbo::TrialState::kComplete, bbo::TrialState::kPruned, bbo::TrialState::kFail}) {
    bbo::FrozenTrial t = storage_->create_trial(id);
    storage_->set_trial_param(t.id, "x", 0.5, bbo::FloatDistribution{0.0, 1.0, false, std::nullopt});
    storage_->set_trial_intermediate_value(t.id, 0, 0, 1.0);
    storage_->set_trial_user_attr(t.id, "u", 1);
    storage_->finish_trial(t.id, final_state, final_state == bbo::TrialState::kComplete
                                                  ? std::vector<double>{1.0} : std::vector<double>{}, {});
    bbo::FrozenTrial before = storage_->get_trial(t.id);
    int64_t version = storage_->get_trials_since(id, 0).version;
    EXPECT_THROW(storage_->set_trial_param(t.id, "x", 0.7, bbo::FloatDistribution{0.0, 1.0, false, std::nullopt}),
                 bbo::TrialStateError);
    EXPECT_THROW(storage_->set_trial_param(t.id, "y", 0.7, bbo::FloatDistribution{0.0, 1.0, false, std::nullopt}),
                 bbo::TrialStateError);
    EXPECT_THROW(storage_->set_trial_intermediate_value(t.id, 0, 0, 9.0), bbo::TrialStateError);
    EXPECT_THROW(storage_->set_trial_intermediate_value(t.id, 5, 0, 9.0), bbo::TrialStateError);
    EXPECT_THROW(storage_->set_trial_user_attr(t.id, "u", 2), bbo::TrialStateError);
    EXPECT_THROW(storage_->set_trial_system_attr(t.id, "s", 2), bbo::TrialStateError);
    EXPECT_THROW(storage_->heartbeat(t.id), bbo::TrialStateError);
    EXPECT_TRUE(bbo::conformance::same_trial(before, storage_->get_trial(t.id)));
    // A refused write is not a change.
    EXPECT_TRUE(storage_->get_trials_since(id, version).trials.empty());
  }
}

TEST_P(StorageConformanceTest, WaitingTrialsCannotBeWrittenBeforeTheyAreClaimed) {
  int64_t id = make_study();
  bbo::FrozenTrial w;
  w.state = bbo::TrialState::kWaiting;
  bbo::FrozenTrial t = storage_->create_trial(id, &w);
  EXPECT_THROW(storage_->finish_trial(t.id, bbo::TrialState::kComplete, {1.0}, {}), bbo::TrialStateError);
  EXPECT_THROW(storage_->set_trial_intermediate_value(t.id, 0, 0, 1.0), bbo::TrialStateError);
  EXPECT_EQ(storage_->get_trial(t.id).state, bbo::TrialState::kWaiting);
}

TEST_P(StorageConformanceTest, InfinityAndNaNRoundTrip) {
  using bbo::conformance::kInf;
  using bbo::conformance::kNaN;
  int64_t id = make_study("mo", {bbo::Direction::kMinimize, bbo::Direction::kMinimize, bbo::Direction::kMinimize});
  bbo::FrozenTrial t = storage_->create_trial(id);
  storage_->set_trial_intermediate_value(t.id, 0, 0, kInf);
  storage_->set_trial_intermediate_value(t.id, 1, 0, -kInf);
  storage_->set_trial_intermediate_value(t.id, 2, 0, kNaN);
  storage_->set_trial_intermediate_value(t.id, 3, 0, 0.0);
  storage_->finish_trial(t.id, bbo::TrialState::kComplete, {kInf, -kInf, kNaN}, {kNaN, -kInf, kInf, 0.0});
  for (const bbo::FrozenTrial& got : {storage_->get_trial(t.id), storage_->get_trials(id).at(0),
                                      storage_->get_trials_since(id, 0).trials.at(0)}) {
    EXPECT_TRUE(bbo::conformance::same_doubles(got.values, {kInf, -kInf, kNaN}));
    EXPECT_TRUE(bbo::conformance::same_doubles(got.constraints, {kNaN, -kInf, kInf, 0.0}));
    ASSERT_EQ(got.intermediate_values.size(), 4u);
    EXPECT_EQ(got.intermediate_values.at({0, 0}), kInf);
    EXPECT_EQ(got.intermediate_values.at({1, 0}), -kInf);
    EXPECT_TRUE(std::isnan(got.intermediate_values.at({2, 0})));
    EXPECT_EQ(got.intermediate_values.at({3, 0}), 0.0);
  }
  // The same through a template.
  bbo::FrozenTrial tmpl = complete_template(kNaN);
  tmpl.values = {-kInf, kNaN, kInf};
  tmpl.constraints = {kNaN};
  tmpl.intermediate_values = {{{0, 0}, kNaN}, {{0, 1}, kInf}};
  bbo::FrozenTrial copy = storage_->create_trial(id, &tmpl);
  EXPECT_TRUE(bbo::conformance::same_trial(tmpl, storage_->get_trial(copy.id), /*with_ids=*/false));
}

// ---------------------------------------------------------------- templates, waiting, claiming

TEST_P(StorageConformanceTest, TemplateCopiesAFinishedTrial) {
  int64_t id = make_study();
  storage_->create_trial(id);
  bbo::FrozenTrial tmpl = complete_template(0.125);
  tmpl.id = 777;
  tmpl.number = 42;
  tmpl.study_id = 999;
  tmpl.params["c"] = 1.0;
  tmpl.distributions["c"] = bbo::CategoricalDistribution{{std::string("a"), int64_t{2}}};
  bbo::FrozenTrial created = storage_->create_trial(id, &tmpl);
  EXPECT_EQ(created.number, 1);  // the template's id and number are ignored
  EXPECT_EQ(created.study_id, id);
  EXPECT_NE(created.id, 777);
  bbo::FrozenTrial got = storage_->get_trial(created.id);
  EXPECT_TRUE(bbo::conformance::same_trial(tmpl, got, /*with_ids=*/false));
  EXPECT_TRUE(bbo::conformance::same_trial(created, got));
  // A copied finished trial is as immutable as any finished trial.
  EXPECT_THROW(storage_->set_trial_user_attr(created.id, "k", 1), bbo::TrialStateError);
}

TEST_P(StorageConformanceTest, ClaimTakesTheLowestWaitingTrialOnce) {
  int64_t id = make_study();
  EXPECT_FALSE(storage_->claim_waiting_trial(id).has_value());
  storage_->create_trial(id);  // number 0, running
  bbo::FrozenTrial w;
  w.state = bbo::TrialState::kWaiting;
  w.params["x"] = 0.75;
  w.distributions["x"] = bbo::FloatDistribution{0.0, 1.0, false, std::nullopt};
  w.system_attrs = {{"fixed_params", {{"x", 0.75}}}};
  bbo::FrozenTrial w1 = storage_->create_trial(id, &w);  // number 1
  bbo::FrozenTrial w2 = storage_->create_trial(id, &w);  // number 2
  EXPECT_EQ(w1.state, bbo::TrialState::kWaiting);
  EXPECT_FALSE(w1.datetime_start_us.has_value());
  EXPECT_EQ(storage_->count_trials(id, {bbo::TrialState::kWaiting}), 2);

  int64_t before = bbo::now_us();
  auto c1 = storage_->claim_waiting_trial(id);
  ASSERT_TRUE(c1.has_value());
  EXPECT_EQ(c1->number, 1);
  EXPECT_EQ(c1->id, w1.id);
  EXPECT_EQ(c1->state, bbo::TrialState::kRunning);
  EXPECT_EQ(c1->params.at("x"), 0.75);
  EXPECT_EQ(c1->system_attrs, w.system_attrs);
  ASSERT_TRUE(c1->datetime_start_us.has_value());
  ASSERT_TRUE(c1->heartbeat_us.has_value());
  EXPECT_GE(*c1->datetime_start_us, before - 1'000'000);
  EXPECT_TRUE(bbo::conformance::same_trial(*c1, storage_->get_trial(w1.id)));

  auto c2 = storage_->claim_waiting_trial(id);
  ASSERT_TRUE(c2.has_value());
  EXPECT_EQ(c2->number, 2);
  EXPECT_FALSE(storage_->claim_waiting_trial(id).has_value());
  // A claimed trial is an ordinary running trial.
  storage_->finish_trial(c2->id, bbo::TrialState::kComplete, {3.0}, {});
  EXPECT_EQ(storage_->get_trial(c2->id).values, std::vector<double>{3.0});
}

TEST_P(StorageConformanceTest, ConcurrentClaimsNeverShareATrial) {
  int64_t id = make_study();
  bbo::FrozenTrial w;
  w.state = bbo::TrialState::kWaiting;
  constexpr int kWaiting = 20;
  for (int i = 0; i < kWaiting; ++i) storage_->create_trial(id, &w);
  std::vector<std::vector<int64_t>> claimed(8);
  std::vector<std::thread> threads;
  for (int k = 0; k < 8; ++k) {
    threads.emplace_back([&, k] {
      while (auto t = storage_->claim_waiting_trial(id)) claimed[k].push_back(t->number);
    });
  }
  for (auto& th : threads) th.join();
  std::multiset<int64_t> all;
  for (const auto& v : claimed) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kWaiting));
  EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), static_cast<size_t>(kWaiting));
  EXPECT_EQ(storage_->count_trials(id, {bbo::TrialState::kRunning}), kWaiting);
}

// ---------------------------------------------------------------- heartbeats

TEST_P(StorageConformanceTest, HeartbeatMovesForward) {
  int64_t id = make_study();
  bbo::FrozenTrial old;
  old.state = bbo::TrialState::kRunning;
  old.datetime_start_us = bbo::now_us() - 3'600'000'000LL;
  old.heartbeat_us = old.datetime_start_us;
  bbo::FrozenTrial t = storage_->create_trial(id, &old);
  EXPECT_EQ(storage_->get_trial(t.id).heartbeat_us, old.heartbeat_us);
  storage_->heartbeat(t.id);
  ASSERT_TRUE(storage_->get_trial(t.id).heartbeat_us.has_value());
  EXPECT_GT(*storage_->get_trial(t.id).heartbeat_us, *old.heartbeat_us + 3'000'000'000LL);
}

TEST_P(StorageConformanceTest, FailStaleTrialsFailsOnlyOldRunningTrials) {
  int64_t id = make_study();
  bbo::FrozenTrial old;
  old.state = bbo::TrialState::kRunning;
  old.datetime_start_us = bbo::now_us() - 3'600'000'000LL;  // an hour ago
  old.heartbeat_us = old.datetime_start_us;
  old.system_attrs = {{"keep", 1}};
  bbo::FrozenTrial stale = storage_->create_trial(id, &old);        // 0
  bbo::FrozenTrial fresh = storage_->create_trial(id);              // 1
  bbo::FrozenTrial revived = storage_->create_trial(id, &old);      // 2
  storage_->heartbeat(revived.id);
  bbo::FrozenTrial done_tmpl = complete_template(1.0);
  done_tmpl.heartbeat_us = old.heartbeat_us;
  storage_->create_trial(id, &done_tmpl);                           // 3, finished: never failed

  EXPECT_EQ(storage_->fail_stale_trials(id, 60.0), std::vector<int64_t>{0});
  bbo::FrozenTrial got = storage_->get_trial(stale.id);
  EXPECT_EQ(got.state, bbo::TrialState::kFail);
  EXPECT_TRUE(got.system_attrs.contains("fail_reason"));
  EXPECT_EQ(got.system_attrs["keep"], 1);
  EXPECT_TRUE(got.datetime_complete_us.has_value());
  EXPECT_EQ(storage_->get_trial(fresh.id).state, bbo::TrialState::kRunning);
  EXPECT_EQ(storage_->get_trial(revived.id).state, bbo::TrialState::kRunning);
  EXPECT_EQ(storage_->get_trial_by_number(id, 3).state, bbo::TrialState::kComplete);
  EXPECT_TRUE(storage_->fail_stale_trials(id, 60.0).empty());
  EXPECT_THROW(storage_->fail_stale_trials(id, -1.0), bbo::ValueError);
  EXPECT_THROW(storage_->fail_stale_trials(id, bbo::conformance::kNaN), bbo::ValueError);
}

TEST_P(StorageConformanceTest, FailStaleTrialsFailsEachTrialExactlyOnceUnderRaces) {
  int64_t id = make_study();
  bbo::FrozenTrial old;
  old.state = bbo::TrialState::kRunning;
  old.heartbeat_us = bbo::now_us() - 3'600'000'000LL;
  constexpr int kStale = 12;
  for (int i = 0; i < kStale; ++i) storage_->create_trial(id, &old);
  std::vector<std::vector<int64_t>> failed(8);
  std::vector<std::thread> threads;
  for (int k = 0; k < 8; ++k) {
    threads.emplace_back([&, k] {
      for (int r = 0; r < 3; ++r) {
        auto got = storage_->fail_stale_trials(id, 10.0);
        failed[k].insert(failed[k].end(), got.begin(), got.end());
      }
    });
  }
  for (auto& th : threads) th.join();
  std::multiset<int64_t> all;
  for (const auto& v : failed) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kStale));
  EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), static_cast<size_t>(kStale));
  EXPECT_EQ(storage_->count_trials(id, {bbo::TrialState::kFail}), kStale);
}

// ---------------------------------------------------------------- reading

TEST_P(StorageConformanceTest, GetTrialsFiltersByState) {
  int64_t id = make_study();
  bbo::FrozenTrial w;
  w.state = bbo::TrialState::kWaiting;
  auto t0 = storage_->create_trial(id);      // complete
  auto t1 = storage_->create_trial(id);      // running
  auto t2 = storage_->create_trial(id);      // pruned
  storage_->create_trial(id, &w);            // 3 waiting
  auto t4 = storage_->create_trial(id);      // fail
  auto t5 = storage_->create_trial(id);      // complete
  storage_->finish_trial(t0.id, bbo::TrialState::kComplete, {1.0}, {});
  storage_->finish_trial(t2.id, bbo::TrialState::kPruned, {}, {});
  storage_->finish_trial(t4.id, bbo::TrialState::kFail, {}, {});
  storage_->finish_trial(t5.id, bbo::TrialState::kComplete, {2.0}, {});
  using bbo::conformance::numbers_of;
  using S = bbo::TrialState;
  EXPECT_EQ(numbers_of(storage_->get_trials(id)), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(numbers_of(storage_->get_trials(id, {S::kComplete})), (std::vector<int64_t>{0, 5}));
  EXPECT_EQ(numbers_of(storage_->get_trials(id, {S::kRunning})), (std::vector<int64_t>{1}));
  EXPECT_EQ(numbers_of(storage_->get_trials(id, {S::kWaiting})), (std::vector<int64_t>{3}));
  EXPECT_EQ(numbers_of(storage_->get_trials(id, {S::kPruned, S::kFail})), (std::vector<int64_t>{2, 4}));
  EXPECT_EQ(storage_->count_trials(id), 6);
  EXPECT_EQ(storage_->count_trials(id, {S::kComplete}), 2);
  EXPECT_EQ(storage_->count_trials(id, {S::kComplete, S::kRunning, S::kWaiting}), 4);
  EXPECT_EQ(storage_->count_trials(id, {S::kFail}), 1);
  (void)t1;
}

TEST_P(StorageConformanceTest, GetTrialsSinceReturnsOnlyChangedTrials) {
  int64_t id = make_study();
  using bbo::conformance::numbers_of;
  bbo::TrialsDelta empty = storage_->get_trials_since(id, 0);
  EXPECT_TRUE(empty.trials.empty());
  auto t0 = storage_->create_trial(id);
  auto t1 = storage_->create_trial(id);
  auto t2 = storage_->create_trial(id);
  bbo::TrialsDelta d0 = storage_->get_trials_since(id, 0);
  EXPECT_EQ(numbers_of(d0.trials), (std::vector<int64_t>{0, 1, 2}));
  EXPECT_GT(d0.version, empty.version);

  bbo::TrialsDelta none = storage_->get_trials_since(id, d0.version);
  EXPECT_TRUE(none.trials.empty());
  EXPECT_EQ(none.version, d0.version);

  storage_->finish_trial(t1.id, bbo::TrialState::kComplete, {4.0}, {});
  bbo::TrialsDelta d1 = storage_->get_trials_since(id, d0.version);
  ASSERT_EQ(numbers_of(d1.trials), std::vector<int64_t>{1});
  EXPECT_EQ(d1.trials[0].state, bbo::TrialState::kComplete);
  EXPECT_EQ(d1.trials[0].values, std::vector<double>{4.0});
  EXPECT_GT(d1.version, d0.version);

  // Every kind of trial write counts as a change.
  storage_->set_trial_param(t2.id, "x", 0.5, bbo::FloatDistribution{0.0, 1.0, false, std::nullopt});
  bbo::TrialsDelta d2 = storage_->get_trials_since(id, d1.version);
  ASSERT_EQ(numbers_of(d2.trials), std::vector<int64_t>{2});
  EXPECT_EQ(d2.trials[0].params.at("x"), 0.5);
  storage_->set_trial_intermediate_value(t0.id, 1, 0, 2.0);
  bbo::TrialsDelta d3 = storage_->get_trials_since(id, d2.version);
  ASSERT_EQ(numbers_of(d3.trials), std::vector<int64_t>{0});
  EXPECT_EQ(d3.trials[0].intermediate_values.size(), 1u);
  storage_->set_trial_user_attr(t2.id, "a", 1);
  storage_->heartbeat(t0.id);
  bbo::TrialsDelta d4 = storage_->get_trials_since(id, d3.version);
  EXPECT_EQ(numbers_of(d4.trials), (std::vector<int64_t>{0, 2}));
  auto t3 = storage_->create_trial(id);
  bbo::TrialsDelta d5 = storage_->get_trials_since(id, d4.version);
  EXPECT_EQ(numbers_of(d5.trials), std::vector<int64_t>{3});
  (void)t3;

  // Replaying all deltas gives the same trials as a full read.
  std::map<int64_t, bbo::FrozenTrial> cache;
  for (const auto* d : {&d0, &d1, &d2, &d3, &d4, &d5}) {
    for (const auto& t : d->trials) cache[t.number] = t;
  }
  auto full = storage_->get_trials(id);
  ASSERT_EQ(cache.size(), full.size());
  for (const auto& t : full) EXPECT_TRUE(bbo::conformance::same_trial(cache.at(t.number), t)) << t.number;

  // Versions are per study: another study's writes do not show up here.
  int64_t other = make_study("other");
  storage_->create_trial(other);
  EXPECT_TRUE(storage_->get_trials_since(id, d5.version).trials.empty());
}

TEST_P(StorageConformanceTest, ReadsReturnCopies) {
  int64_t id = make_study();
  bbo::FrozenTrial t = storage_->create_trial(id);
  storage_->set_trial_param(t.id, "x", 0.5, bbo::FloatDistribution{0.0, 1.0, false, std::nullopt});
  bbo::FrozenTrial a = storage_->get_trial(t.id);
  a.params["x"] = 0.9;
  a.user_attrs["hacked"] = true;
  a.state = bbo::TrialState::kComplete;
  auto all = storage_->get_trials(id);
  all[0].params.clear();
  bbo::FrozenTrial b = storage_->get_trial(t.id);
  EXPECT_EQ(b.params.at("x"), 0.5);
  EXPECT_FALSE(b.user_attrs.contains("hacked"));
  EXPECT_EQ(b.state, bbo::TrialState::kRunning);

  bbo::StudyInfo s = storage_->get_study(id);
  s.user_attrs["hacked"] = true;
  s.name = "changed";
  EXPECT_EQ(storage_->get_study(id).name, "study");
  EXPECT_FALSE(storage_->get_study(id).user_attrs.contains("hacked"));

  bbo::PluginState p = storage_->get_plugin_state(id, "k");
  p.blob = "x";
  p.version = 5;
  EXPECT_EQ(storage_->get_plugin_state(id, "k").version, 0);
}

// ---------------------------------------------------------------- plugin state

TEST_P(StorageConformanceTest, PluginStateCompareAndSwap) {
  int64_t id = make_study();
  int64_t other = make_study("other");
  bbo::PluginState s0 = storage_->get_plugin_state(id, "cmaes");
  EXPECT_EQ(s0.version, 0);
  EXPECT_TRUE(s0.blob.empty());

  EXPECT_FALSE(storage_->compare_and_swap_plugin_state(id, "cmaes", 1, "wrong"));
  EXPECT_EQ(storage_->get_plugin_state(id, "cmaes").version, 0);
  EXPECT_TRUE(storage_->compare_and_swap_plugin_state(id, "cmaes", 0, "first"));
  EXPECT_EQ(storage_->get_plugin_state(id, "cmaes").version, 1);
  EXPECT_EQ(storage_->get_plugin_state(id, "cmaes").blob, "first");

  EXPECT_FALSE(storage_->compare_and_swap_plugin_state(id, "cmaes", 0, "stale writer"));
  EXPECT_EQ(storage_->get_plugin_state(id, "cmaes").blob, "first");

  std::string binary("a\0b\xff\x01", 5);
  EXPECT_TRUE(storage_->compare_and_swap_plugin_state(id, "cmaes", 1, binary));
  bbo::PluginState s2 = storage_->get_plugin_state(id, "cmaes");
  EXPECT_EQ(s2.version, 2);
  EXPECT_EQ(s2.blob, binary);

  // Keys and studies are independent.
  EXPECT_EQ(storage_->get_plugin_state(id, "other-key").version, 0);
  EXPECT_EQ(storage_->get_plugin_state(other, "cmaes").version, 0);
  EXPECT_TRUE(storage_->compare_and_swap_plugin_state(other, "cmaes", 0, "o"));
  EXPECT_EQ(storage_->get_plugin_state(id, "cmaes").blob, binary);
}

TEST_P(StorageConformanceTest, ConcurrentCompareAndSwapLosesNoUpdate) {
  int64_t id = make_study();
  constexpr int kThreads = 8;
  constexpr int kIncrements = 15;
  std::vector<std::thread> threads;
  for (int k = 0; k < kThreads; ++k) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        for (;;) {
          bbo::PluginState s = storage_->get_plugin_state(id, "counter");
          int n = s.blob.empty() ? 0 : std::stoi(s.blob);
          if (storage_->compare_and_swap_plugin_state(id, "counter", s.version, std::to_string(n + 1))) break;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  bbo::PluginState s = storage_->get_plugin_state(id, "counter");
  EXPECT_EQ(s.version, kThreads * kIncrements);
  EXPECT_EQ(s.blob, std::to_string(kThreads * kIncrements));
}

// ---------------------------------------------------------------- concurrency

TEST_P(StorageConformanceTest, ConcurrentTrialCreationHasNoGapsOrDuplicates) {
  int64_t id = make_study();
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < kThreads; ++k) {
    threads.emplace_back([&, k] {
      try {
        for (int i = 0; i < kPerThread; ++i) {
          bbo::FrozenTrial t = storage_->create_trial(id);
          storage_->set_trial_param(t.id, "k", k, bbo::IntDistribution{0, kThreads - 1, false, 1});
          storage_->finish_trial(t.id, bbo::TrialState::kComplete, {static_cast<double>(t.number)}, {});
        }
      } catch (const std::exception&) {
        ++errors;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  auto trials = storage_->get_trials(id);
  ASSERT_EQ(trials.size(), static_cast<size_t>(kThreads * kPerThread));
  std::set<int64_t> ids;
  for (size_t i = 0; i < trials.size(); ++i) {
    EXPECT_EQ(trials[i].number, static_cast<int64_t>(i));
    EXPECT_EQ(trials[i].state, bbo::TrialState::kComplete);
    EXPECT_EQ(trials[i].values, std::vector<double>{static_cast<double>(i)});
    ids.insert(trials[i].id);
  }
  EXPECT_EQ(ids.size(), trials.size());
  EXPECT_EQ(storage_->get_study(id).n_trials, kThreads * kPerThread);
}

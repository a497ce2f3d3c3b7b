#include "bbo/population.h"

#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "bbo/error.h"
#include "bbo/storage.h"

namespace bbo {
namespace {

// A toy population strategy: generation g proposes `size` points at x = (g + i/size)/100 for i < size and
// remembers every (x, y) it was told, so the tests can see exactly what the base delivered.
class Toy final : public PopulationStrategy {
 public:
  explicit Toy(int size) : PopulationStrategy("toy"), size_(size) {}
  int initial_calls = 0;

 protected:
  json initial_state(const SearchSpace&, const std::vector<std::vector<double>>& xs, const std::vector<double>& ys,
                     std::mt19937_64&) override {
    ++initial_calls;
    return {{"gen", 0}, {"warm", xs.size()}, {"told", json::array()}};
  }
  std::vector<std::vector<double>> next_generation(const SearchSpace& space, json& state, std::mt19937_64&) override {
    std::vector<std::vector<double>> pts;
    int g = state["gen"].get<int>();
    for (int i = 0; i < size_; ++i)
      pts.push_back(std::vector<double>(space.size(), (g + static_cast<double>(i) / size_) / 100.0));
    return pts;
  }
  void tell_generation(const SearchSpace&, json& state, const std::vector<std::vector<double>>& x,
                       const std::vector<double>& y, std::mt19937_64&) override {
    for (size_t i = 0; i < x.size(); ++i) state["told"].push_back({x[i][0], std::isinf(y[i]) ? json("inf") : json(y[i])});
    state["gen"] = state["gen"].get<int>() + 1;
  }

 private:
  int size_;
};

struct Fixture {
  std::unique_ptr<Storage> storage = open_storage("memory:");
  int64_t study_id;
  SearchSpace space;
  Fixture(Direction dir = Direction::kMinimize) {
    study_id = storage->create_study("s", {dir}, {{"seed", 11}});
    space.add("x", FloatDistribution{0, 1});
  }
  // Asks one point from `s`, as the study does: a new RUNNING trial, then sample_relative.
  std::pair<int64_t, double> ask(Strategy& s) {
    FrozenTrial t = storage->create_trial(study_id);
    StudyView view(*storage, storage->get_study(study_id), space);
    std::mt19937_64 rng(1);
    SampleContext ctx{view, t, rng};
    auto params = s.sample_relative(ctx, s.relative_space(view));
    storage->set_trial_param(t.id, "x", params.at("x"), space.at("x"));
    return {t.number, params.at("x")};
  }
  void tell(int64_t number, TrialState state, double v) {
    auto t = storage->get_trial_by_number(study_id, number);
    storage->finish_trial(t.id, state, state == TrialState::kComplete ? std::vector<double>{v} : std::vector<double>{}, {});
  }
  // The generation JSON: the blob's second line (the first holds the per-point trial numbers).
  json state() {
    std::string blob = storage->get_plugin_state(study_id, "population:toy").blob;
    return json::parse(blob.substr(blob.find('\n') + 1));
  }
  std::string assignments() {
    std::string blob = storage->get_plugin_state(study_id, "population:toy").blob;
    return blob.substr(0, blob.find('\n'));
  }
};

TEST(PopulationStrategy, HandsOutAGenerationThenTellsItWhole) {
  Fixture f;
  Toy toy(3);
  std::vector<double> xs;
  for (int i = 0; i < 3; ++i) xs.push_back(f.ask(toy).second);
  EXPECT_NEAR(xs[0], 0.0, 1e-12);
  EXPECT_NEAR(xs[1], 1.0 / 300, 1e-12);
  EXPECT_NEAR(xs[2], 2.0 / 300, 1e-12);
  f.tell(0, TrialState::kComplete, 5.0);
  f.tell(2, TrialState::kFail, 0.0);
  EXPECT_EQ(f.state()["generation"], 0);
  EXPECT_EQ(f.assignments(), "0;1;2");
  f.tell(1, TrialState::kComplete, 7.0);
  auto [n, x] = f.ask(toy);  // closes generation 0 and starts generation 1
  EXPECT_EQ(n, 3);
  EXPECT_NEAR(x, 0.01, 1e-12);
  json s = f.state();
  EXPECT_EQ(s["generation"], 1);
  const json& told = s["state"]["told"];
  ASSERT_EQ(told.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(told[i][0].get<double>(), i / 300.0, 1e-15);
  EXPECT_EQ(told[0][1], 5.0);
  EXPECT_EQ(told[1][1], 7.0);
  EXPECT_EQ(told[2][1], "inf");  // a failed point is the worst value
  EXPECT_EQ(toy.initial_calls, 1);
}

TEST(PopulationStrategy, ReissuesUnfinishedPointsSoACrashedWorkerDoesNotStall) {
  Fixture f;
  Toy toy(2);
  f.ask(toy);                        // trial 0 -> point 0; its worker "dies"
  f.ask(toy);                        // trial 1 -> point 1
  f.tell(1, TrialState::kComplete, 1.0);
  auto [n, x] = f.ask(toy);          // all points handed out: point 0 again
  EXPECT_EQ(n, 2);
  EXPECT_NEAR(x, 0.0, 1e-12);
  f.tell(2, TrialState::kComplete, 3.0);
  EXPECT_NEAR(f.ask(toy).second, 0.01, 1e-12);  // generation 1
  EXPECT_EQ(f.state()["state"]["told"][0][1], 3.0);
}

TEST(PopulationStrategy, ABatchLargerThanTheGenerationSpreadsItsReissues) {
  Fixture f;
  Toy toy(2);
  std::vector<double> xs;
  for (int i = 0; i < 5; ++i) xs.push_back(f.ask(toy).second);
  EXPECT_NEAR(xs[2], xs[0], 1e-15);
  EXPECT_NEAR(xs[3], xs[1], 1e-15);
  EXPECT_NEAR(xs[4], xs[0], 1e-15);
  EXPECT_NE(xs[2], xs[3]);
  EXPECT_EQ(f.assignments(), "0 2 4;1 3");
}

TEST(PopulationStrategy, AGarbledStateRestartsInsteadOfCrashing) {
  Fixture f;
  Toy toy(2);
  f.ask(toy);
  auto ps = f.storage->get_plugin_state(f.study_id, "population:toy");
  ASSERT_TRUE(f.storage->compare_and_swap_plugin_state(f.study_id, "population:toy", ps.version, "x;y\n{"));
  EXPECT_NEAR(f.ask(toy).second, 0.0, 1e-12);  // a fresh generation 0
  EXPECT_EQ(toy.initial_calls, 2);
}

TEST(PopulationStrategy, MaximizationIsNegatedAndRebuiltStrategiesAgree) {
  Fixture f(Direction::kMaximize);
  Toy a(2), b(2);
  f.ask(a);
  f.ask(b);  // a second process/strategy object continues the same generation
  f.tell(0, TrialState::kComplete, 4.0);
  f.tell(1, TrialState::kComplete, 6.0);
  double xa = f.ask(a).second;
  EXPECT_NEAR(xa, 0.01, 1e-12);
  EXPECT_EQ(f.state()["state"]["told"][0][1], -4.0);
  EXPECT_NEAR(f.ask(b).second, 0.01 + 0.005, 1e-12);
}

TEST(PopulationStrategy, RefusesMultiObjectiveStudies) {
  auto storage = open_storage("memory:");
  int64_t id = storage->create_study("m", {Direction::kMinimize, Direction::kMinimize}, {{"seed", 1}});
  StudyView view(*storage, storage->get_study(id));
  Toy toy(2);
  EXPECT_THROW(toy.relative_space(view), ValueError);
}

}  // namespace
}  // namespace bbo

// tests/storage/multiprocess_checks.h — the multi-process checks every file/server backend must pass, written
// once and run by the SQLite and PostgreSQL tests against their own URL.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bbo/storage.h"
#include "tests/storage/child_process.h"

namespace bbo::testing {

// `processes` forked children each create, fill and finish `trials` trials of one study at once: afterwards
// the trials are numbered 0..N-1 without gaps or duplicates, all COMPLETE, each child's count intact.
inline void expect_processes_number_trials_without_gaps(const std::string& url, int processes, int trials) {
  const FloatDistribution unit{0.0, 1.0, false, std::nullopt};
  int64_t study_id = open_storage(url)->create_study("mp", {Direction::kMinimize}, {});
  std::vector<pid_t> children;
  for (int p = 0; p < processes; ++p) {
    children.push_back(spawn([&, p] {
      auto s = open_storage(url);
      for (int i = 0; i < trials; ++i) {
        auto t = s->create_trial(study_id);
        s->set_trial_param(t.id, "x", 0.5, unit);
        s->set_trial_intermediate_value(t.id, 0, 0, p);
        s->finish_trial(t.id, TrialState::kComplete, {static_cast<double>(p)}, {});
      }
    }));
  }
  for (pid_t c : children) EXPECT_EQ(wait_exit_code(c), 0);
  auto s = open_storage(url);
  auto stored = s->get_trials(study_id);
  ASSERT_EQ(stored.size(), static_cast<size_t>(processes * trials));
  std::vector<int> per_process(processes, 0);
  for (size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ(stored[i].number, static_cast<int64_t>(i));
    EXPECT_EQ(stored[i].state, TrialState::kComplete);
    ASSERT_EQ(stored[i].values.size(), 1u);
    ++per_process.at(static_cast<size_t>(stored[i].values[0]));
  }
  for (int n : per_process) EXPECT_EQ(n, trials);
  EXPECT_EQ(s->get_study(study_id).n_trials, processes * trials);
}

// `waiting` WAITING trials, 4 forked children claiming and finishing them until none is left: each is
// claimed exactly once (finishing one twice would throw TrialStateError and fail the child).
inline void expect_processes_claim_each_waiting_trial_once(const std::string& url, int waiting) {
  int64_t study_id = 0;
  {
    auto s = open_storage(url);
    study_id = s->create_study("claim", {Direction::kMinimize}, {});
    FrozenTrial w;
    w.state = TrialState::kWaiting;
    for (int i = 0; i < waiting; ++i) s->create_trial(study_id, &w);
  }
  std::vector<pid_t> children;
  for (int p = 0; p < 4; ++p) {
    children.push_back(spawn([&, p] {
      auto s = open_storage(url);
      while (auto t = s->claim_waiting_trial(study_id))
        s->finish_trial(t->id, TrialState::kComplete, {static_cast<double>(p)}, {});
    }));
  }
  for (pid_t c : children) EXPECT_EQ(wait_exit_code(c), 0);
  auto s = open_storage(url);
  EXPECT_EQ(s->count_trials(study_id, {TrialState::kComplete}), waiting);
  EXPECT_EQ(s->count_trials(study_id), waiting);
}

}  // namespace bbo::testing

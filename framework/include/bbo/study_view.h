// bbo/study_view.h — the read-only view of a study that strategies and pruners receive.
//
// A StudyView caches the study's trials and refreshes them incrementally from storage
// (Storage::get_trials_since), so a strategy that reads all trials on every ask costs O(changes) in I/O.
// Not thread-safe: one view per Study object, used under the Study's lock.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bbo/space.h"
#include "bbo/storage.h"
#include "bbo/trial.h"

namespace bbo {

class StudyView {
 public:
  StudyView(Storage& storage, StudyInfo info, SearchSpace declared_space = {});

  const StudyInfo& info() const { return info_; }
  int64_t study_id() const { return info_.id; }
  const std::vector<Direction>& directions() const { return info_.directions; }
  bool multi_objective() const { return info_.directions.size() > 1; }
  uint64_t seed() const { return seed_; }
  // The space declared up front (study file, `bbo ask --search-space`, Study::ask(space)); may be empty.
  const SearchSpace& declared_space() const { return declared_; }
  void set_declared_space(SearchSpace s) { declared_ = std::move(s); }

  // All trials of the study sorted by number, current as of the last refresh (a refresh happens lazily on
  // the first read after invalidate()).
  const std::vector<FrozenTrial>& trials() const;
  // Trials in any of `states`, in number order.
  std::vector<const FrozenTrial*> trials(const std::vector<TrialState>& states) const;
  // Parameters that every COMPLETE trial has with the same distribution, sorted by name (Optuna's
  // intersection search space); empty when no trial is complete. Maintained incrementally with the cache:
  // a complete trial never changes, so each one is intersected once.
  const SearchSpace& complete_intersection() const;
  // Marks the cache stale; the next read pulls the changes from storage.
  void invalidate() { stale_ = true; }

  Storage& storage() const { return storage_; }
  PluginState plugin_state(const std::string& key) const;
  bool compare_and_swap_plugin_state(const std::string& key, int64_t expected_version,
                                     const std::string& blob) const;

 private:
  Storage& storage_;
  StudyInfo info_;
  SearchSpace declared_;
  uint64_t seed_ = 0;
  mutable std::vector<FrozenTrial> trials_;
  mutable int64_t version_ = 0;
  mutable bool stale_ = true;
  mutable std::optional<std::map<std::string, Distribution>> common_;  // intersection of complete trials
  mutable std::vector<bool> counted_;                                  // trial number -> intersected
  mutable SearchSpace common_space_;
  mutable bool common_dirty_ = true;
};

}  // namespace bbo

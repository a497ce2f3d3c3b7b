#include "bbo/study_view.h"

#include <algorithm>

namespace bbo {

StudyView::StudyView(Storage& storage, StudyInfo info, SearchSpace declared_space)
    : storage_(storage), info_(std::move(info)), declared_(std::move(declared_space)) {
  if (info_.system_attrs.contains("seed")) seed_ = info_.system_attrs["seed"].get<uint64_t>();
}

const std::vector<FrozenTrial>& StudyView::trials() const {
  if (!stale_) return trials_;
  TrialsDelta delta = storage_.get_trials_since(info_.id, version_);
  for (auto& t : delta.trials) {
    auto n = static_cast<size_t>(t.number);
    if (n >= trials_.size()) trials_.resize(n + 1);
    trials_[n] = std::move(t);
  }
  // A trial created by another process may be missing below a newer one if it had no write since; holes are
  // filled by the next refresh. Drop placeholder records (number -1) from the view meanwhile.
  if (std::any_of(trials_.begin(), trials_.end(), [](const FrozenTrial& t) { return t.number < 0; })) {
    std::vector<FrozenTrial> all = storage_.get_trials(info_.id);
    trials_ = std::move(all);
  }
  // Fold newly complete trials into the intersection (each exactly once).
  counted_.resize(trials_.size(), false);
  for (const FrozenTrial& t : trials_) {
    if (t.state != TrialState::kComplete || t.number < 0 || counted_[static_cast<size_t>(t.number)]) continue;
    counted_[static_cast<size_t>(t.number)] = true;
    common_dirty_ = true;
    if (!common_) {
      common_ = t.distributions;
      continue;
    }
    for (auto it = common_->begin(); it != common_->end();) {
      auto other = t.distributions.find(it->first);
      if (other == t.distributions.end() || !same_distribution(it->second, other->second))
        it = common_->erase(it);
      else
        ++it;
    }
  }
  version_ = delta.version;
  stale_ = false;
  return trials_;
}

std::vector<const FrozenTrial*> StudyView::trials(const std::vector<TrialState>& states) const {
  std::vector<const FrozenTrial*> out;
  for (const auto& t : trials())
    if (states.empty() || std::find(states.begin(), states.end(), t.state) != states.end()) out.push_back(&t);
  return out;
}

const SearchSpace& StudyView::complete_intersection() const {
  trials();
  if (common_dirty_) {
    common_space_ = SearchSpace();
    if (common_)
      for (const auto& [name, d] : *common_) common_space_.add(name, d);
    common_dirty_ = false;
  }
  return common_space_;
}

PluginState StudyView::plugin_state(const std::string& key) const { return storage_.get_plugin_state(info_.id, key); }

bool StudyView::compare_and_swap_plugin_state(const std::string& key, int64_t expected_version,
                                              const std::string& blob) const {
  return storage_.compare_and_swap_plugin_state(info_.id, key, expected_version, blob);
}

}  // namespace bbo

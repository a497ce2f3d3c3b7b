// auto.cc — the `auto` strategy, bbo's default: it picks a strategy for the study (auto_choice.h), records the
// choice in storage and then hands every call to the chosen strategy.
//
// When the choice is made: at the first ask when the study declares its space; otherwise (define-by-run)
// once `probe_trials` trials have finished — until then parameters are drawn independently and uniformly, as
// every model-based strategy does before its startup trials — because only finished trials show the space
// and whether it is conditional. The choice is written once with compare-and-swap under the plugin-state key
// "auto" (the first writer wins; every other process reads it), and as the study system attribute
// `strategy_choice` ({"strategy", "params", "reason", "phases"}) that `bbo best` and the dashboard show.
// A choice can have phases by trial number (GP-BO for the first trials, then CMA-ES warm-started from them);
// the phase of a trial depends only on its number, so every process agrees.
#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "bbo/storage.h"
#include "bbo/strategy.h"
#include "plugins/auto/auto_choice.h"

namespace bbo {
namespace {

constexpr uint64_t kProbeSalt = 0xa070u;  // separates the probing draws from the delegates' streams
constexpr const char* kStateKey = "auto";
constexpr size_t kNoPhase = std::numeric_limits<size_t>::max();

autosel::SpaceSummary summarize(const std::map<std::string, Distribution>& dists, bool conditional) {
  autosel::SpaceSummary s;
  s.conditional = conditional;
  for (const auto& [name, d] : dists) {
    if (std::holds_alternative<CategoricalDistribution>(d)) ++s.categorical;
    else if (std::holds_alternative<IntDistribution>(d)) ++s.integer;
    else if (std::get<FloatDistribution>(d).step) ++s.integer;
    else ++s.continuous;
  }
  return s;
}

class AutoStrategy final : public Strategy {
 public:
  explicit AutoStrategy(const PluginParams& p) : n_trials_(p.get_int("n_trials")), workers_(p.get_int("workers")) {
    probe_trials_ = p.get_int("probe_trials");
    thresholds_.gp_max_trials = p.get_int("gp_max_trials");
    thresholds_.high_dim = static_cast<int>(p.get_int("high_dim"));
    thresholds_.cheap_budget = p.get_int("cheap_budget");
    thresholds_.separable_dim = static_cast<int>(p.get_int("separable_dim"));
    auto fail = [](const std::string& m) { throw ConfigError("plugin 'auto': " + m); };
    if (n_trials_ < 0) fail("parameter 'n_trials' must be >= 0 (0: unknown)");
    if (workers_ < 0) fail("parameter 'workers' must be >= 0 (0: unknown)");
    if (probe_trials_ < 1) fail("parameter 'probe_trials' must be >= 1");
    if (thresholds_.gp_max_trials < 1) fail("parameter 'gp_max_trials' must be >= 1");
    if (thresholds_.high_dim < 1) fail("parameter 'high_dim' must be >= 1");
    if (thresholds_.cheap_budget < 1) fail("parameter 'cheap_budget' must be >= 1");
    if (thresholds_.separable_dim < 1) fail("parameter 'separable_dim' must be >= 1");
  }

  SearchSpace relative_space(const StudyView& study) override {
    relative_phase_ = kNoPhase;
    const autosel::Choice* choice = decide(study);
    if (!choice) return {};
    // The trial being asked is the newest one in the view (the study invalidates it after creating the trial).
    int64_t newest = study.trials().empty() ? 0 : study.trials().back().number;
    relative_phase_ = choice->phase_index(newest);
    return delegate(relative_phase_).relative_space(study);
  }

  std::map<std::string, double> sample_relative(const SampleContext& ctx, const SearchSpace& space) override {
    if (!choice_ || relative_phase_ == kNoPhase) return {};
    // Another process may have created a newer trial between our create and the view's refresh; then the space
    // came from the wrong phase and this trial's parameters are left to sample_independent.
    if (choice_->phase_index(ctx.trial.number) != relative_phase_) return {};
    return delegate(relative_phase_).sample_relative(ctx, space);
  }

  double sample_independent(const SampleContext& ctx, const std::string& name, const Distribution& d) override {
    if (!choice_) decide(ctx.study);
    if (!choice_) return independent_uniform(ctx, name, d, kProbeSalt);
    return delegate(choice_->phase_index(ctx.trial.number)).sample_independent(ctx, name, d);
  }

  void on_trial_finished(const StudyView& study, const FrozenTrial& trial) override {
    if (choice_) delegate(choice_->phase_index(trial.number)).on_trial_finished(study, trial);
  }

 private:
  // The recorded choice, making it when the study shows enough; nullptr while still probing.
  const autosel::Choice* decide(const StudyView& study) {
    if (choice_) return &*choice_;
    PluginState stored = study.plugin_state(kStateKey);
    if (stored.version > 0) return adopt(stored.blob);

    autosel::Situation s;
    const SearchSpace& declared = study.declared_space();
    std::vector<const FrozenTrial*> finished =
        study.trials({TrialState::kComplete, TrialState::kPruned, TrialState::kFail});
    if (!declared.empty()) {
      std::map<std::string, Distribution> dists;
      for (const std::string& n : declared.names()) dists.emplace(n, declared.at(n));
      s.space = summarize(dists, false);
    } else {
      if (static_cast<int64_t>(finished.size()) < probe_trials_) return nullptr;
      // The union of the finished trials' parameters; conditional when some trial lacks one of them or two
      // trials disagree on a distribution.
      std::map<std::string, Distribution> dists;
      std::map<std::string, size_t> seen;
      bool conditional = false;
      for (const FrozenTrial* t : finished)
        for (const auto& [name, d] : t->distributions) {
          auto [it, fresh] = dists.emplace(name, d);
          if (!fresh && !(it->second == d)) conditional = true;
          ++seen[name];
        }
      for (const auto& [name, count] : seen) conditional = conditional || count != finished.size();
      s.space = summarize(dists, conditional);
    }
    s.objectives = static_cast<int>(study.directions().size());
    for (const FrozenTrial* t : finished) s.constrained = s.constrained || !t->constraints.empty();
    // Fresh from storage: `bbo run` records the budget after the study object (and so this view) was made.
    const json sys = study.storage().get_study(study.study_id()).system_attrs;
    const json budget = sys.contains("budget") && sys["budget"].is_object() ? sys["budget"] : json::object();
    s.n_trials = n_trials_ > 0 ? n_trials_ : budget.value("n_trials", int64_t{0});
    s.workers = static_cast<int>(std::max<int64_t>(1, workers_ > 0 ? workers_ : budget.value("workers", int64_t{1})));
    if (sys.contains("pruner") && sys["pruner"].is_object()) s.pruner = sys["pruner"].value("name", "none");
    for (const PluginDescription& p : PluginRegistry::global().list()) {
      if (p.kind != PluginKind::kStrategy || p.name == "auto") continue;
      s.installed.insert(p.name);
      s.installed.insert(p.aliases.begin(), p.aliases.end());
    }

    autosel::Choice made = autosel::choose(s, thresholds_);
    const std::string blob = made.to_json().dump();
    if (!study.compare_and_swap_plugin_state(kStateKey, 0, blob)) return adopt(study.plugin_state(kStateKey).blob);
    json shown = made.to_json();
    shown["strategy"] = made.label();
    shown["params"] = made.phases.front().params;
    study.storage().set_study_system_attr(study.study_id(), "strategy_choice", shown);
    choice_ = std::move(made);
    return &*choice_;
  }

  const autosel::Choice* adopt(const std::string& blob) {
    try {
      choice_ = autosel::Choice::from_json(json::parse(blob));
    } catch (const std::exception& e) {
      throw StorageError(std::string("strategy 'auto': the stored choice is unreadable: ") + e.what());
    }
    return &*choice_;
  }

  Strategy& delegate(size_t phase) {
    if (delegates_.size() < choice_->phases.size()) delegates_.resize(choice_->phases.size());
    if (!delegates_[phase]) {
      const autosel::Phase& p = choice_->phases[phase];
      delegates_[phase] = PluginRegistry::global().make_strategy(p.strategy, p.params);
    }
    return *delegates_[phase];
  }

  int64_t n_trials_;
  int64_t workers_;
  int64_t probe_trials_ = 5;
  autosel::Thresholds thresholds_;
  std::optional<autosel::Choice> choice_;
  std::vector<std::shared_ptr<Strategy>> delegates_;
  size_t relative_phase_ = kNoPhase;
};

}  // namespace
}  // namespace bbo

BBO_PLUGIN(bbo::strategy_entry<bbo::AutoStrategy>(
    "auto", {},
    "Picks a strategy from the search space, objectives, budget, workers and pruner (GP-BO then CMA-ES for "
    "low dimensions, TPE for conditional/categorical spaces and pruning, CMA-ES/CBO/DE for high dimensions), "
    "records the choice and its reason in the study (system attr strategy_choice)",
    {{"n_trials", "int", 0, "the study's budget; 0: the study system attr budget.n_trials (set by bbo run), else unknown"},
     {"workers", "int", 0, "parallel workers; 0: the study system attr budget.workers, else 1"},
     {"probe_trials", "int", 5, "without a declared space: finished trials (uniform draws) before choosing"},
     {"gp_max_trials", "int", 200, "GP-BO for at most this many trials (low dimensions), then CMA-ES"},
     {"high_dim", "int", 10, "from this many dimensions on: model-free strategies (CMA-ES; CBO/DE with a cheap budget)"},
     {"cheap_budget", "int", 50000, "budgets from this size on count as cheap objectives (CBO/DE in high dimensions)"},
     {"separable_dim", "int", 100, "from this many dimensions on: separable CMA-ES"}}))

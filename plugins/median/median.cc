// median.cc — the `median` pruner (Optuna's MedianPruner).
//
// At a pruning step s, the trial's best intermediate value so far is compared with the median of the values
// that COMPLETE trials reported at step s; the trial is pruned when it is worse. Pruning steps are s >=
// n_warmup_steps with (s - n_warmup_steps) a multiple of interval_steps (more exactly: the first reported
// step in each interval, as Optuna does). Nothing is pruned before n_startup_trials trials are complete or
// when fewer than n_min_trials complete trials reported step s. A NaN last value prunes (the run diverged).
// Only objective 0's learning curve is used; multi-objective studies are refused.
#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "bbo/plugin.h"
#include "bbo/pruner.h"

namespace bbo {
namespace {

// numpy.nanpercentile(values, 50) with linear interpolation; NaN when no value is finite-or-inf.
double nan_median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  if (n % 2 == 1) return v[n / 2];
  double a = v[n / 2 - 1], b = v[n / 2];
  if (a == b) return a;  // also keeps +-inf pairs from turning into NaN
  return a + 0.5 * (b - a);
}

class MedianPruner final : public Pruner {
 public:
  explicit MedianPruner(const PluginParams& p)
      : n_startup_trials_(p.get_int("n_startup_trials")),
        n_warmup_steps_(p.get_int("n_warmup_steps")),
        interval_steps_(p.get_int("interval_steps")),
        n_min_trials_(p.get_int("n_min_trials")) {
    auto need = [](bool ok, const std::string& what) {
      if (!ok) throw ConfigError("plugin 'median': " + what);
    };
    need(n_startup_trials_ >= 0, "parameter 'n_startup_trials' must be >= 0");
    need(n_warmup_steps_ >= 0, "parameter 'n_warmup_steps' must be >= 0");
    need(interval_steps_ >= 1, "parameter 'interval_steps' must be >= 1");
    need(n_min_trials_ >= 1, "parameter 'n_min_trials' must be >= 1");
  }

  bool should_prune(const StudyView& study, const FrozenTrial& trial) override {
    if (study.multi_objective()) throw ValueError("median pruner: multi-objective studies are not supported");
    std::map<int64_t, double> curve;
    for (const auto& [key, v] : trial.intermediate_values)
      if (key.objective == 0) curve[key.step] = v;
    if (curve.empty()) return false;
    auto [step, last] = *curve.rbegin();

    auto completed = study.trials({TrialState::kComplete});
    if (completed.empty() || static_cast<int64_t>(completed.size()) < n_startup_trials_) return false;
    if (step < n_warmup_steps_) return false;
    if (!first_in_interval(step, curve)) return false;
    if (std::isnan(last)) return true;

    bool maximize = study.directions().at(0) == Direction::kMaximize;
    // Best value over the steps reported so far (NaN values ignored, as numpy's nanmin/nanmax).
    double best = std::nan("");
    for (const auto& [s, v] : curve) {
      if (std::isnan(v)) continue;
      if (std::isnan(best) || (maximize ? v > best : v < best)) best = v;
    }
    if (std::isnan(best)) return true;

    std::vector<double> at_step;
    for (const FrozenTrial* t : completed) {
      auto it = t->intermediate_values.find(StepKey{step, 0});
      if (it != t->intermediate_values.end()) at_step.push_back(it->second);
    }
    if (static_cast<int64_t>(at_step.size()) < n_min_trials_) return false;
    double median = nan_median(at_step);
    if (std::isnan(median)) return false;
    return maximize ? best < median : best > median;
  }

 private:
  // Optuna's _is_first_in_interval_step: prune only at the first reported step of each interval, so a trial
  // reporting every step is judged once per interval.
  bool first_in_interval(int64_t step, const std::map<int64_t, double>& curve) const {
    int64_t nearest_lower = (step - n_warmup_steps_) / interval_steps_ * interval_steps_ + n_warmup_steps_;
    int64_t second_last = -1;
    for (const auto& [s, v] : curve)
      if (s != step && s > second_last) second_last = s;
    return second_last < nearest_lower;
  }

  int64_t n_startup_trials_;
  int64_t n_warmup_steps_;
  int64_t interval_steps_;
  int64_t n_min_trials_;
};

}  // namespace
}  // namespace bbo

BBO_PLUGIN(bbo::pruner_entry<bbo::MedianPruner>(
    "median", {}, "Prunes a trial whose best value so far is worse than the median of completed trials at that step",
    {{"n_startup_trials", "int", 5, "no pruning until this many trials are complete"},
     {"n_warmup_steps", "int", 0, "no pruning before this step"},
     {"interval_steps", "int", 1, "steps between pruning checks (counted from n_warmup_steps)"},
     {"n_min_trials", "int", 1, "completed trials that must have reported the step before it can prune"}}))

// median.cc — the `percentile` pruner (Optuna's PercentilePruner) and `median`, its 50th-percentile form
// (Optuna's MedianPruner).
//
// At a pruning step s, the trial's best intermediate value so far is compared with the p-th percentile
// (numpy.nanpercentile, linear interpolation) of the values that COMPLETE trials reported at step s; the trial
// is pruned when it is worse. For a maximized objective the (100 - p)-th percentile is used and "worse" means
// smaller, so p = 25 keeps the best quarter in both directions. Pruning steps are s >= n_warmup_steps with
// (s - n_warmup_steps) a multiple of interval_steps (more exactly: the first reported step in each interval,
// as Optuna does). Nothing is pruned before n_startup_trials trials are complete or when fewer than
// n_min_trials complete trials reported step s. A NaN last value prunes (the run diverged).
//
// Objectives. The learning curve of one objective is used. `median` keeps its historical contract: objective
// 0, and multi-objective studies are refused with a ValueError. `percentile` has an `objective` parameter:
// unset, it means objective 0 in a single-objective study and is an error (ValueError at the first
// should_prune) in a multi-objective one, where the user must say which objective's curve to prune on.
// Neither keeps state: the decision is a function of the stored trials, so every process answers the same.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bbo/plugin.h"
#include "bbo/pruner.h"
#include "plugins/common/pruning_objective.h"

namespace bbo {
namespace {

// numpy.nanpercentile(values, q) with linear interpolation; NaN when every value is NaN.
double nan_percentile(std::vector<double> v, double q) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const double pos = q / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const double frac = pos - static_cast<double>(lo);
  const double a = v[lo];
  if (frac == 0.0 || lo + 1 >= v.size()) return a;
  const double b = v[lo + 1];
  if (a == b) return a;  // also keeps +-inf pairs from turning into NaN
  return a + frac * (b - a);
}

class PercentilePrunerBase : public Pruner {
 public:
  PercentilePrunerBase(const PluginParams& p, std::string name, double percentile, bool objective_param)
      : name_(std::move(name)),
        percentile_(percentile),
        n_startup_trials_(p.get_int("n_startup_trials")),
        n_warmup_steps_(p.get_int("n_warmup_steps")),
        interval_steps_(p.get_int("interval_steps")),
        n_min_trials_(p.get_int("n_min_trials")) {
    auto need = [&](bool ok, const std::string& what) {
      if (!ok) throw ConfigError("plugin '" + name_ + "': " + what);
    };
    need(percentile_ >= 0.0 && percentile_ <= 100.0, "parameter 'percentile' must be in [0, 100]");
    need(n_startup_trials_ >= 0, "parameter 'n_startup_trials' must be >= 0");
    need(n_warmup_steps_ >= 0, "parameter 'n_warmup_steps' must be >= 0");
    need(interval_steps_ >= 1, "parameter 'interval_steps' must be >= 1");
    need(n_min_trials_ >= 1, "parameter 'n_min_trials' must be >= 1");
    if (objective_param && p.has("objective")) {
      objective_ = p.get_int("objective");
      need(*objective_ >= 0, "parameter 'objective' must be >= 0");
    }
    objective_param_ = objective_param;
  }

  bool should_prune(const StudyView& study, const FrozenTrial& trial) override {
    const int objective = pruning_objective(study);
    std::map<int64_t, double> curve = trial.curve(objective);
    if (curve.empty()) return false;
    auto [step, last] = *curve.rbegin();

    auto completed = study.trials({TrialState::kComplete});
    if (completed.empty() || static_cast<int64_t>(completed.size()) < n_startup_trials_) return false;
    if (step < n_warmup_steps_) return false;
    if (!first_in_interval(step, curve)) return false;
    if (std::isnan(last)) return true;

    const bool maximize = study.directions().at(static_cast<size_t>(objective)) == Direction::kMaximize;
    // Best value over the steps reported so far (NaN values ignored, as numpy's nanmin/nanmax).
    double best = std::nan("");
    for (const auto& [s, v] : curve) {
      if (std::isnan(v)) continue;
      if (std::isnan(best) || (maximize ? v > best : v < best)) best = v;
    }
    if (std::isnan(best)) return true;

    std::vector<double> at_step;
    for (const FrozenTrial* t : completed) {
      auto it = t->intermediate_values.find(StepKey{step, objective});
      if (it != t->intermediate_values.end()) at_step.push_back(it->second);
    }
    if (static_cast<int64_t>(at_step.size()) < n_min_trials_) return false;
    const double threshold = nan_percentile(at_step, maximize ? 100.0 - percentile_ : percentile_);
    if (std::isnan(threshold)) return false;
    return maximize ? best < threshold : best > threshold;
  }

 private:
  int pruning_objective(const StudyView& study) const {
    const size_t n = study.directions().size();
    if (!objective_param_) {
      if (n > 1) throw ValueError(name_ + " pruner: multi-objective studies are not supported");
      return 0;
    }
    return pruners::pruning_objective(name_, objective_, n);
  }

  // Optuna's _is_first_in_interval_step: prune only at the first reported step of each interval, so a trial
  // reporting every step is judged once per interval.
  bool first_in_interval(int64_t step, const std::map<int64_t, double>& curve) const {
    int64_t nearest_lower = (step - n_warmup_steps_) / interval_steps_ * interval_steps_ + n_warmup_steps_;
    int64_t second_last = -1;
    for (const auto& [s, v] : curve)
      if (s != step && s > second_last) second_last = s;
    return second_last < nearest_lower;
  }

  std::string name_;
  double percentile_;
  int64_t n_startup_trials_;
  int64_t n_warmup_steps_;
  int64_t interval_steps_;
  int64_t n_min_trials_;
  bool objective_param_ = false;
  std::optional<int64_t> objective_;
};

class MedianPruner final : public PercentilePrunerBase {
 public:
  explicit MedianPruner(const PluginParams& p) : PercentilePrunerBase(p, "median", 50.0, false) {}
};

double required_percentile(const PluginParams& p) {
  if (!p.has("percentile"))
    throw ConfigError("plugin 'percentile': parameter 'percentile' is required (a number in [0, 100])");
  return p.get_float("percentile");
}

class PercentilePruner final : public PercentilePrunerBase {
 public:
  explicit PercentilePruner(const PluginParams& p)
      : PercentilePrunerBase(p, "percentile", required_percentile(p), true) {}
};

std::vector<ParamSpec> common_params() {
  return {{"n_startup_trials", "int", 5, "no pruning until this many trials are complete"},
          {"n_warmup_steps", "int", 0, "no pruning before this step"},
          {"interval_steps", "int", 1, "steps between pruning checks (counted from n_warmup_steps)"},
          {"n_min_trials", "int", 1, "completed trials that must have reported the step before it can prune"}};
}

std::vector<ParamSpec> percentile_params() {
  std::vector<ParamSpec> p = {{"percentile", "float", nullptr,
                               "required; prune when worse than this percentile of completed trials (0-100; "
                               "25 keeps the best quarter)"}};
  for (auto& c : common_params()) p.push_back(c);
  p.push_back({"objective", "int", nullptr,
               "objective whose learning curve is judged (default 0; required in multi-objective studies)"});
  return p;
}

}  // namespace
}  // namespace bbo

BBO_PLUGIN(bbo::pruner_entry<bbo::MedianPruner>(
               "median", {},
               "Prunes a trial whose best value so far is worse than the median of completed trials at that step",
               bbo::common_params()),
           bbo::pruner_entry<bbo::PercentilePruner>(
               "percentile", {},
               "Prunes a trial whose best value so far is worse than a percentile of completed trials at that step",
               bbo::percentile_params()))

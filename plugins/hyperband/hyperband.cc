// hyperband.cc — the `successive_halving` (asynchronous successive halving, ASHA) and `hyperband` pruners.
//
// Resources are steps: a trial that reports step t has used t units (epochs). With r = min_resource,
// η = reduction_factor and e = min_early_stopping_rate, rung k sits at step r·η^(e+k); rungs at or past
// max_resource do not exist (a trial that reaches max_resource has finished, judging it there would only
// waste its run). This is the stopping variant of ASHA (as Optuna's SuccessiveHalvingPruner): when a trial
// first reports a step >= the step of its next rung, the value it reports then is recorded at that rung, and
// the trial goes on iff that value is among the best max(1, ⌊n/η⌋) of the n values the rung holds (every
// trial that reached it, whatever its state now, plus this one; ties go on). So the only trial at a rung goes
// on, and a rung promotes the top 1/η of what reached it. With bootstrap_count b, a rung holding <= b values
// prunes whoever arrives. A NaN value prunes. A trial that jumps over several rungs is judged at each.
//
// State lives in storage, so a fresh process answers like the one that judged first: a trial's value at
// rung k is the trial system attr "completed_rung_<k>", a prune decision is "pruned_at_rung" (asking again
// returns true), and an "auto" max_resource, once resolved, is the plugin state "<pruner name>".
//
// `hyperband` runs n_brackets successive-halving brackets, bracket i with e = i, where
//   n_brackets = s_max + 1,  s_max = the largest s with r·η^s <= max_resource,
// counted with integer multiplication (the floating log_η(R/r) rounds 243/1 with η = 3 down to 4.999…).
// Bracket i (s = s_max - i rungs) gets weight ⌈n_brackets·η^s/(s+1)⌉, the number of configurations the
// synchronous Hyperband paper starts in it; a trial's bracket is a weighted draw from
// trial_seed(study seed, trial number), fixed for the life of the trial and the same in every process.
// A trial competes only with the trials of its bracket. When max_resource = r·η^s_max exactly, the bracket
// with s = 0 has no rung below it and never prunes. Trials are judged only once max_resource is known: for
// "auto", after a trial is COMPLETE (the largest step COMPLETE trials reported then becomes max_resource;
// `successive_halving` with "auto" judges from the start, with no cap until then).
//
// Objectives: the learning curve of objective `objective` (default 0 in a single-objective study; required
// in a multi-objective one, else ValueError at the first should_prune), in that objective's direction.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bbo/plugin.h"
#include "plugins/common/pruning_objective.h"
#include "bbo/pruner.h"

namespace bbo {
namespace {

constexpr int64_t kMaxI64 = std::numeric_limits<int64_t>::max();

// a·b, saturating at INT64_MAX (both >= 0).
int64_t sat_mul(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > kMaxI64 / b ? kMaxI64 : a * b;
}

// r·η^k, saturating.
int64_t rung_step(int64_t r, int64_t eta, int64_t k) {
  int64_t v = r;
  for (int64_t i = 0; i < k && v < kMaxI64; ++i) v = sat_mul(v, eta);
  return v;
}

// JSON has no infinities: ±inf rung values are stored as the strings "inf" / "-inf".
json value_to_json(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}
std::optional<double> value_from_json(const json& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    if (j == "inf") return std::numeric_limits<double>::infinity();
    if (j == "-inf") return -std::numeric_limits<double>::infinity();
  }
  return std::nullopt;
}

std::string rung_key(int64_t k) { return "completed_rung_" + std::to_string(k); }
constexpr const char* kPrunedKey = "pruned_at_rung";
constexpr const char* kBracketKey = "hyperband_bracket";

std::optional<int64_t> parse_max_resource(const std::string& plugin, const PluginParams& p) {
  const json v = p.get_json("max_resource");
  if (v.is_string() && v == "auto") return std::nullopt;
  if (v.is_number_integer() && v.get<int64_t>() >= 1) return v.get<int64_t>();
  throw ConfigError("plugin '" + plugin + "': parameter 'max_resource' must be \"auto\" or an integer >= 1, got " +
                    v.dump());
}

// Everything the two pruners share: parameters, the objective choice, max_resource resolution and the
// successive-halving rule for one bracket.
class RungPruner : public Pruner {
 public:
  RungPruner(const PluginParams& p, std::string name)
      : name_(std::move(name)),
        min_resource_(p.get_int("min_resource")),
        eta_(p.get_int("reduction_factor")),
        bootstrap_count_(p.get_int("bootstrap_count")),
        fixed_max_resource_(parse_max_resource(name_, p)) {
    auto need = [&](bool ok, const std::string& what) {
      if (!ok) throw ConfigError("plugin '" + name_ + "': " + what);
    };
    need(min_resource_ >= 1, "parameter 'min_resource' must be >= 1");
    need(eta_ >= 2, "parameter 'reduction_factor' must be >= 2");
    need(bootstrap_count_ >= 0, "parameter 'bootstrap_count' must be >= 0");
    if (fixed_max_resource_)
      need(*fixed_max_resource_ >= min_resource_, "parameter 'max_resource' must be >= min_resource");
    if (p.has("objective")) {
      objective_ = p.get_int("objective");
      need(*objective_ >= 0, "parameter 'objective' must be >= 0");
    }
  }

 protected:
  int pruning_objective(const StudyView& study) const {
    return pruners::pruning_objective(name_, objective_, study.directions().size());
  }

  // The max_resource in force: the fixed one, or the stored resolution of "auto", or (first time a COMPLETE
  // trial exists) the largest step it reported, written with compare-and-swap so every process agrees.
  std::optional<int64_t> max_resource(const StudyView& study, int objective) {
    if (fixed_max_resource_) return fixed_max_resource_;
    if (resolved_max_resource_) return resolved_max_resource_;
    for (int attempt = 0; attempt < 3; ++attempt) {
      PluginState st = study.plugin_state(name_);
      if (st.version > 0) {
        json j = json::parse(st.blob, nullptr, false);
        if (j.is_object() && j.contains("max_resource") && j["max_resource"].is_number_integer())
          return resolved_max_resource_ = j["max_resource"].get<int64_t>();
        throw ValueError(name_ + " pruner: stored plugin state is malformed: " + st.blob);
      }
      std::optional<int64_t> largest;
      for (const FrozenTrial* t : study.trials({TrialState::kComplete})) {
        auto c = t->curve(objective);
        if (!c.empty()) largest = std::max(largest.value_or(0), c.rbegin()->first);
      }
      if (!largest) return std::nullopt;
      const int64_t r = std::max<int64_t>(*largest, 1);
      if (study.compare_and_swap_plugin_state(name_, 0, json{{"max_resource", r}}.dump()))
        return resolved_max_resource_ = r;
    }
    throw StorageError(name_ + " pruner: could not store the resolved max_resource");
  }

  // Successive halving for `trial` inside the set of trials `same_bracket` accepts, with early-stopping rate
  // e (rung k at r·η^(e+k)) and rungs strictly below max_resource (nullopt: no cap).
  bool successive_halving(const StudyView& study, const FrozenTrial& trial, int objective, int64_t e,
                          std::optional<int64_t> max_resource,
                          const std::function<bool(const FrozenTrial&)>& same_bracket) {
    if (trial.system_attrs.contains(kPrunedKey)) return true;  // asked again after a prune decision
    std::map<int64_t, double> curve = trial.curve(objective);
    if (curve.empty()) return false;
    const auto [step, value] = *curve.rbegin();
    const bool maximize = study.directions().at(static_cast<size_t>(objective)) == Direction::kMaximize;

    int64_t rung = 0;
    while (trial.system_attrs.contains(rung_key(rung))) ++rung;
    for (;; ++rung) {
      const int64_t at = rung_step(min_resource_, eta_, e + rung);
      if (max_resource && at >= *max_resource) return false;
      if (step < at) return false;
      Storage& storage = study.storage();
      if (std::isnan(value)) {
        storage.set_trial_system_attr(trial.id, kPrunedKey, rung);
        return true;
      }
      std::vector<double> competing = {value};
      const std::string key = rung_key(rung);
      for (const FrozenTrial& t : study.trials()) {
        if (t.number == trial.number || !same_bracket(t)) continue;
        auto it = t.system_attrs.find(key);
        if (it == t.system_attrs.end()) continue;
        if (auto v = value_from_json(*it)) competing.push_back(*v);
      }
      storage.set_trial_system_attr(trial.id, key, value_to_json(value));
      if (static_cast<int64_t>(competing.size()) <= bootstrap_count_ || !promotable(value, competing, maximize)) {
        storage.set_trial_system_attr(trial.id, kPrunedKey, rung);
        return true;
      }
    }
  }

  // Among the best max(1, ⌊n/η⌋) of `competing` (which holds `value`); ties are promoted.
  bool promotable(double value, std::vector<double> competing, bool maximize) const {
    const size_t n = competing.size();
    const size_t keep = std::max<size_t>(1, n / static_cast<size_t>(eta_));
    if (maximize) {
      std::sort(competing.begin(), competing.end(), std::greater<>());
      return value >= competing[keep - 1];
    }
    std::sort(competing.begin(), competing.end());
    return value <= competing[keep - 1];
  }

  std::string name_;
  int64_t min_resource_;
  int64_t eta_;
  int64_t bootstrap_count_;
  std::optional<int64_t> fixed_max_resource_;
  std::optional<int64_t> resolved_max_resource_;
  std::optional<int64_t> objective_;
};

class SuccessiveHalvingPruner final : public RungPruner {
 public:
  explicit SuccessiveHalvingPruner(const PluginParams& p)
      : RungPruner(p, "successive_halving"), min_early_stopping_rate_(p.get_int("min_early_stopping_rate")) {
    if (min_early_stopping_rate_ < 0)
      throw ConfigError("plugin 'successive_halving': parameter 'min_early_stopping_rate' must be >= 0");
  }

  bool should_prune(const StudyView& study, const FrozenTrial& trial) override {
    const int objective = pruning_objective(study);
    const auto r_max = max_resource(study, objective);  // nullopt ("auto" before any completion): no cap
    return successive_halving(study, trial, objective, min_early_stopping_rate_, r_max,
                              [](const FrozenTrial&) { return true; });
  }

 private:
  int64_t min_early_stopping_rate_;
};

// The bracket layout of Hyperband for (r, R, η), in integer arithmetic.
struct HyperbandLayout {
  int64_t n_brackets = 0;
  std::vector<int64_t> weights;  // per bracket i = 0..n_brackets-1 (bracket i has e = i)
  int64_t total = 0;
};

HyperbandLayout layout(int64_t r, int64_t R, int64_t eta) {
  HyperbandLayout l;
  int64_t s_max = 0;
  for (int64_t v = r; sat_mul(v, eta) <= R; v = sat_mul(v, eta)) ++s_max;
  l.n_brackets = s_max + 1;
  for (int64_t i = 0; i < l.n_brackets; ++i) {
    const int64_t s = s_max - i;
    const int64_t num = sat_mul(l.n_brackets, rung_step(1, eta, s));
    const int64_t w = num / (s + 1) + (num % (s + 1) != 0 ? 1 : 0);  // ⌈n·η^s/(s+1)⌉
    l.weights.push_back(w);
    l.total = std::min(kMaxI64 / 2, l.total + w);
  }
  return l;
}

class HyperbandPruner final : public RungPruner {
 public:
  explicit HyperbandPruner(const PluginParams& p) : RungPruner(p, "hyperband") {}

  bool should_prune(const StudyView& study, const FrozenTrial& trial) override {
    const int objective = pruning_objective(study);
    const auto r_max = max_resource(study, objective);
    if (!r_max) return false;  // brackets are unknown until max_resource is
    if (!layout_ || layout_max_ != *r_max) {
      layout_ = layout(min_resource_, *r_max, eta_);
      layout_max_ = *r_max;
    }
    const uint64_t seed = study.seed();
    const int64_t bracket = bracket_of(seed, trial.number);
    if (!trial.system_attrs.contains(kBracketKey))
      study.storage().set_trial_system_attr(trial.id, kBracketKey, bracket);
    return successive_halving(study, trial, objective, bracket, r_max, [&](const FrozenTrial& t) {
      return bracket_of(seed, t.number) == bracket;
    });
  }

 private:
  int64_t bracket_of(uint64_t seed, int64_t number) const {
    const uint64_t h = trial_seed(seed, number, hash_string("hyperband bracket"));
    int64_t x = static_cast<int64_t>(h % static_cast<uint64_t>(layout_->total));
    for (int64_t i = 0; i < layout_->n_brackets; ++i) {
      if (x < layout_->weights[static_cast<size_t>(i)]) return i;
      x -= layout_->weights[static_cast<size_t>(i)];
    }
    return layout_->n_brackets - 1;
  }

  std::optional<HyperbandLayout> layout_;
  int64_t layout_max_ = 0;
};

std::vector<ParamSpec> rung_params(bool with_rate) {
  std::vector<ParamSpec> p = {
      {"min_resource", "int", 1, "r: step of the first rung (resource units, e.g. epochs)"},
      {"max_resource", "json", "auto",
       "R: an integer, or \"auto\" (the largest step of the first COMPLETE trial); no rung at or past it"},
      {"reduction_factor", "int", 3, "η: rungs at r·η^k; each rung promotes its top 1/η"},
      {"bootstrap_count", "int", 0, "a rung holding at most this many values prunes whoever arrives"},
      {"objective", "int", nullptr,
       "objective whose learning curve is judged (default 0; required in multi-objective studies)"}};
  if (with_rate)
    p.insert(p.begin() + 3, {"min_early_stopping_rate", "int", 0, "e: rung k sits at r·η^(e+k)"});
  return p;
}

}  // namespace
}  // namespace bbo

BBO_PLUGIN(bbo::pruner_entry<bbo::SuccessiveHalvingPruner>(
               "successive_halving", {"asha"},
               "Asynchronous successive halving: at rungs r·η^k keeps the top 1/η of the trials that reached them",
               bbo::rung_params(true)),
           bbo::pruner_entry<bbo::HyperbandPruner>(
               "hyperband", {},
               "Hyperband: successive-halving brackets of different aggressiveness, a trial's bracket fixed by its "
               "number",
               bbo::rung_params(false)))

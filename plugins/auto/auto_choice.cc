// plugins/auto/auto_choice.cc — the rules of the `auto` strategy (see auto_choice.h and docs/plugins.md).
#include "plugins/auto/auto_choice.h"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace bbo::autosel {

const Phase& Choice::phase_for(int64_t number) const { return phases[phase_index(number)]; }

size_t Choice::phase_index(int64_t number) const {
  for (size_t i = 0; i + 1 < phases.size(); ++i)
    if (number < phases[i].until) return i;
  return phases.size() - 1;
}

std::string Choice::label() const {
  std::ostringstream out;
  int64_t from = 0;
  for (size_t i = 0; i < phases.size(); ++i) {
    if (i > 0) out << ", then ";
    out << phases[i].strategy;
    if (phases[i].until >= 0) out << " (trials " << from << "-" << phases[i].until - 1 << ")";
    from = phases[i].until;
  }
  return out.str();
}

json Choice::to_json() const {
  json ph = json::array();
  for (const Phase& p : phases) ph.push_back({{"strategy", p.strategy}, {"params", p.params}, {"until", p.until}});
  return {{"phases", ph}, {"reason", reason}, {"label", label()}};
}

Choice Choice::from_json(const json& j) {
  Choice c;
  try {
    for (const json& p : j.at("phases"))
      c.phases.push_back({p.at("strategy").get<std::string>(), p.value("params", json::object()),
                          p.value("until", int64_t{-1})});
    c.reason = j.value("reason", "");
  } catch (const json::exception& e) {
    throw std::invalid_argument(std::string("auto: malformed choice record: ") + e.what());
  }
  if (c.phases.empty()) throw std::invalid_argument("auto: malformed choice record: no phases");
  return c;
}

bool is_pruning(const std::string& pruner) {
  return pruner != "none" && pruner != "nop" && !pruner.empty();
}

namespace {

// Builds the choice, substituting installed strategies for missing ones in order of preference.
class Builder {
 public:
  explicit Builder(const Situation& s) : s_(s) {}

  // The first of `names` that is installed ("random" always is: it is part of every build).
  std::string pick(std::initializer_list<const char*> names) {
    for (const char* n : names)
      if (s_.installed.count(n)) {
        if (n != *names.begin()) missing_.push_back(*names.begin());
        return n;
      }
    missing_.push_back(*names.begin());
    return "random";
  }

  Choice finish(std::vector<Phase> phases, std::string reason) {
    if (!missing_.empty()) {
      reason += " (";
      for (size_t i = 0; i < missing_.size(); ++i) reason += (i ? ", " : "") + missing_[i];
      reason += " not installed: substituted)";
    }
    phases.back().until = -1;
    return Choice{std::move(phases), std::move(reason)};
  }

 private:
  const Situation& s_;
  std::vector<std::string> missing_;
};

std::string describe(const Situation& s) {
  std::ostringstream out;
  const SpaceSummary& sp = s.space;
  out << sp.dims() << " dims (" << sp.continuous << " continuous, " << sp.integer << " integer, " << sp.categorical
      << " categorical" << (sp.conditional ? ", conditional" : "") << "), " << s.objectives
      << (s.objectives == 1 ? " objective" : " objectives") << ", budget "
      << (s.n_trials > 0 ? std::to_string(s.n_trials) : std::string("unknown")) << ", " << s.workers
      << (s.workers == 1 ? " worker" : " workers");
  if (is_pruning(s.pruner)) out << ", pruner " << s.pruner;
  if (s.constrained) out << ", constrained";
  return out.str();
}

}  // namespace

Choice choose(const Situation& s, const Thresholds& t) {
  Builder b(s);
  const SpaceSummary& sp = s.space;
  const int d = sp.dims();
  const std::string facts = describe(s) + ": ";
  const bool budget_known = s.n_trials > 0;

  // Many objectives: only TPE's multi-objective split scales past EHVI's 2-3.
  if (s.objectives > 3)
    return b.finish({{b.pick({"tpe", "random"})}}, facts + "more than 3 objectives: multi-objective TPE");

  // Early stopping: TPE learns from pruned trials' last values; it is the pairing Optuna users know with
  // Hyperband, and the one that did best in bench/run multifidelity.
  if (is_pruning(s.pruner))
    return b.finish({{b.pick({"tpe", "cqr", "random"})}},
                    facts + "trials are pruned: TPE, which ranks pruned trials by their last reported value");

  // Define-by-run conditional spaces and mostly categorical ones: kernels over a fixed continuous box do not
  // fit; grouped TPE models each group of parameters that appear together.
  if (sp.conditional)
    return b.finish({{b.pick({"tpe", "random"})}}, facts + "conditional space: grouped multivariate TPE");
  if (d > 0 && 2 * sp.categorical > d)
    return b.finish({{b.pick({"tpe", "random"})}}, facts + "mostly categorical space: multivariate TPE");

  // 2-3 objectives: exact EHVI on GPs while the GP is affordable, TPE beyond.
  if (s.objectives > 1) {
    if (d <= t.mo_gp_max_dim && (!budget_known || s.n_trials <= t.mo_gp_max_trials)) {
      std::vector<Phase> phases = {{b.pick({"gp", "tpe", "random"}), json::object(), t.mo_gp_max_trials}};
      if (!budget_known) phases.push_back({b.pick({"tpe", "random"})});
      return b.finish(std::move(phases),
                      facts + "few objectives, low dimension: GP with expected hypervolume improvement" +
                          (budget_known ? std::string() : ", then multi-objective TPE past " +
                                                              std::to_string(t.mo_gp_max_trials) + " trials"));
    }
    return b.finish({{b.pick({"tpe", "random"})}}, facts + "multi-objective with a large budget or dimension: multi-objective TPE");
  }

  // High dimension: model-free. A very large budget means a cheap objective, where a swarm (continuous) or
  // differential evolution (mixed) explores multi-modal landscapes; otherwise CMA-ES, separable when d is
  // very large (its covariance is then too costly to learn).
  if (d >= t.high_dim) {
    if (budget_known && s.n_trials >= t.cheap_budget) {
      if (sp.integer == 0 && sp.categorical == 0)
        return b.finish({{b.pick({"cbo", "cmaes", "random"})}},
                        facts + "cheap high-dimensional continuous objective: consensus-based optimization");
      return b.finish({{b.pick({"de", "cmaes", "random"})}},
                      facts + "cheap high-dimensional mixed objective: adaptive differential evolution");
    }
    json params = json::object();
    if (d >= t.separable_dim) params["separable"] = true;
    return b.finish({{b.pick({"cmaes", "de", "random"}), params}},
                    facts + (d >= t.separable_dim ? "very high dimension: separable CMA-ES"
                                                  : "high dimension: CMA-ES"));
  }

  // Constraints: only the GP strategy models them (probability of feasibility) among the low-d choices.
  if (s.constrained)
    return b.finish({{b.pick({"gp", "tpe", "random"})}},
                    facts + "constrained: GP with expected improvement x probability of feasibility");

  // Low dimension, one objective: GP-BO is the most sample-efficient; its cost grows with n^3, so past
  // gp_max_trials CMA-ES continues, warm-started from the GP's trials.
  if (budget_known && s.n_trials <= t.gp_max_trials)
    return b.finish({{b.pick({"gp", "tpe", "cmaes", "random"})}},
                    facts + "low dimension, small budget: GP-BO with LogEI");
  std::vector<Phase> phases = {{b.pick({"gp", "tpe", "cmaes", "random"}), json::object(), t.gp_max_trials},
                               {b.pick({"cmaes", "tpe", "random"}), {{"warm_start", true}}}};
  if (phases[1].strategy != "cmaes") phases[1].params = json::object();
  return b.finish(std::move(phases), facts + "low dimension, " + (budget_known ? "large" : "unknown") +
                                         " budget: GP-BO for the first " + std::to_string(t.gp_max_trials) +
                                         " trials, then CMA-ES warm-started from them");
}

}  // namespace bbo::autosel

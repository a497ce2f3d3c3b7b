// neural_sa_strategy.cc — the `neural_sa` strategy plugin: the `sa` strategy's annealer (bbo::sa::Annealer of
// plugins/sa, linked as bbo_sa_core) on bbo::PopulationStrategy, with its proposal replaced by a learned one.
//
// The proposal (SpacePolicyProposal) moves `moves` distinct parameters per candidate (default 1). Which
// parameter: the policy's stage-1 softmax over the parameters that have more than one value, scored from the
// per-parameter statistics of neural_sa.h (SpaceStats); how far: its stage-2 softmax over the step scales
// 10^(-6 + 0.75 k), k = 0..8, of the unit coordinate (Gaussian step, reflected at the faces). Ints and stepped
// floats are snapped to their grid and moved at least one grid point (as `sa` does); categoricals get another
// choice uniformly. The statistics are updated by observe() from every evaluated candidate and are part of the
// strategy state in storage (JSON), so a rebuilt study proposes the same points. The policy is the committed
// `space` policy (trained by bbo_neural_sa_train on neural_sa::SpaceProblem) unless `policy` names a file.
#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <variant>

#include "bbo/error.h"
#include "plugins/neural_sa/neural_sa.h"
#include "bbo/plugin.h"
#include "bbo/population.h"
#include "plugins/sa/annealer.h"
#include "plugins/sa/proposal.h"

namespace bbo::neural_sa {
namespace {

using bbo::sa::json;

double grid_step(const Distribution& d) {
  if (const auto* f = std::get_if<FloatDistribution>(&d)) return f->step ? *f->step : 0.0;
  if (const auto* i = std::get_if<IntDistribution>(&d)) return static_cast<double>(i->step);
  return 0.0;
}

std::pair<double, double> bounds(const Distribution& d) {
  if (const auto* f = std::get_if<FloatDistribution>(&d)) return {f->low, f->high};
  const auto& i = std::get<IntDistribution>(d);
  return {static_cast<double>(i.low), static_cast<double>(i.high)};
}

class SpacePolicyProposal final : public bbo::sa::Proposal {
 public:
  SpacePolicyProposal(std::shared_ptr<const Policy> policy, int moves) : policy_(std::move(policy)), moves_(moves) {}

  std::string name() const override { return "neural_sa_policy"; }

  std::vector<double> propose(const SearchSpace& space, const bbo::sa::ProposalInput& input,
                              std::mt19937_64& rng) const override {
    const auto& dists = space.distributions();
    const int d = static_cast<int>(dists.size());
    if (static_cast<int>(input.current.size()) != d)
      throw std::invalid_argument("neural_sa proposal: the current point has the wrong dimension");
    const SpaceStats stats = stats_.size() == d ? stats_ : SpaceStats(d);
    std::vector<char> categorical(d), legal(d);
    int movable = 0;
    for (int i = 0; i < d; ++i) {
      categorical[i] = std::holds_alternative<CategoricalDistribution>(dists[i]);
      legal[i] = !is_single(dists[i]);
      movable += legal[i];
    }
    std::vector<double> out = input.current;
    if (movable == 0) return out;
    const double tlog = space_tlog(input.temperature, input.initial_temperature);
    std::vector<double> feat(static_cast<size_t>(d) * kSpaceFeatures1), sc(d);
    space_features1(stats, categorical, tlog, feat.data());
    policy_->scores(0, feat.data(), d, sc.data());
    std::normal_distribution<double> normal(0.0, 1.0);
    for (int move = 0; move < std::min(moves_, movable); ++move) {
      const int i = sample_softmax(sc, legal, false, rng);
      legal[i] = 0;  // distinct parameters
      const Distribution& dist = dists[i];
      if (categorical[i]) {
        const int n = n_choices(dist);
        const auto cur = static_cast<int>(from_unit(dist, out[i]));
        int other = std::uniform_int_distribution<int>(0, n - 2)(rng);
        if (other >= cur) ++other;
        out[i] = to_unit(dist, static_cast<double>(other));
        continue;
      }
      std::vector<double> f2(static_cast<size_t>(kSpaceScales) * kSpaceFeatures2), s2(kSpaceScales);
      space_features2(stats, i, tlog, f2.data());
      policy_->scores(1, f2.data(), kSpaceScales, s2.data());
      const int k = sample_softmax(s2, std::vector<char>(kSpaceScales, 1), false, rng);
      const double z = normal(rng);
      const double moved = bbo::sa::reflect_unit(out[i] + space_scale(k) * z);
      const double g = grid_step(dist);
      if (g == 0.0) {
        out[i] = moved;
        continue;
      }
      const double v = from_unit(dist, out[i]);
      double w = from_unit(dist, moved);
      if (w == v) {  // stayed in the current grid cell: the adjacent grid point in the direction of z
        const auto [lo, hi] = bounds(dist);
        const double dir = z >= 0 ? 1.0 : -1.0;
        w = v + dir * g;
        if (w > hi + 0.5 * g || w < lo - 0.5 * g) w = v - dir * g;
        w = from_unit(dist, to_unit(dist, std::clamp(w, lo, hi)));
      }
      out[i] = to_unit(dist, w);
    }
    return out;
  }

  void observe(const SearchSpace& space, const bbo::sa::ProposalFeedback& fb) override {
    const int d = static_cast<int>(space.size());
    if (stats_.size() != d) stats_ = SpaceStats(d);
    const bool success = fb.candidate_value < fb.current_value;
    for (int i = 0; i < d && i < static_cast<int>(fb.candidate.size()); ++i)
      if (fb.candidate[i] != fb.current[i]) stats_.observe(i, std::abs(fb.candidate[i] - fb.current[i]), success);
  }

  void reset() override { stats_ = SpaceStats(stats_.size()); }

  json to_json() const override {
    return {{"succ", stats_.succ}, {"lstep", stats_.lstep}, {"last", stats_.last}, {"t", stats_.t}};
  }

  void load_json(const json& s) override {
    try {
      SpaceStats st;
      st.succ = s.at("succ").get<std::vector<double>>();
      st.lstep = s.at("lstep").get<std::vector<double>>();
      st.last = s.at("last").get<std::vector<int64_t>>();
      st.t = s.at("t").get<int64_t>();
      if (st.lstep.size() != st.succ.size() || st.last.size() != st.succ.size())
        throw std::invalid_argument("sizes differ");
      stats_ = std::move(st);
    } catch (const std::exception& e) {
      throw std::invalid_argument(std::string("neural_sa proposal: malformed state: ") + e.what());
    }
  }

 private:
  std::shared_ptr<const Policy> policy_;
  int moves_;
  SpaceStats stats_;
};

std::shared_ptr<const Policy> load_policy(const PluginParams& p) {
  Policy pol;
  try {
    pol = p.has("policy") ? Policy::load(p.get_string("policy")) : committed_policy("space");
  } catch (const std::exception& e) {
    throw ConfigError(std::string("plugin 'neural_sa': parameter 'policy': ") + e.what());
  }
  if (pol.stages() != 2 || pol.mlp(0).in != kSpaceFeatures1 || pol.mlp(1).in != kSpaceFeatures2)
    throw ConfigError("plugin 'neural_sa': parameter 'policy': not a search-space policy (problem '" + pol.problem() +
                      "'; needs 2 stages with 5 inputs each)");
  return std::make_shared<const Policy>(std::move(pol));
}

int moves_param(const PluginParams& p) {
  const int64_t m = p.get_int("moves");
  if (m < 1 || m > 1000) throw ConfigError("plugin 'neural_sa': parameter 'moves' must be in [1, 1000], got " +
                                           std::to_string(m));
  return static_cast<int>(m);
}

// The sa plugin's SaStrategy and its option parsing live in its plugin module (plugins/sa/sa.cc), not in
// bbo_sa_core, so they cannot be linked here; this is the same thin PopulationStrategy over bbo::sa::Annealer
// (one population generation = one annealer generation, the annealer's JSON state is the population state),
// with the same parameters and defaults as `sa` (docs/plugins.md).
bbo::sa::AnnealerOptions annealer_options(const PluginParams& p) {
  bbo::sa::AnnealerOptions o;
  o.batch = static_cast<int>(p.get_int("batch"));
  o.init_points = static_cast<int>(p.get_int("init_points"));
  const std::string schedule = p.get_string("schedule");
  if (schedule == "exponential") {
    o.schedule = bbo::sa::Schedule::kExponential;
  } else if (schedule == "adaptive") {
    o.schedule = bbo::sa::Schedule::kAdaptive;
  } else {
    throw ConfigError("plugin 'neural_sa': parameter 'schedule' must be 'exponential' or 'adaptive', got '" +
                      schedule + "'");
  }
  o.cooling = p.get_float("cooling");
  o.target_acceptance = p.get_float("target_acceptance");
  o.initial_acceptance = p.get_float("initial_acceptance");
  if (p.has("t0")) o.t0 = p.get_float("t0");
  o.restart_after = static_cast<int>(p.get_int("restart_after"));
  const std::string from = p.get_string("restart_from");
  if (from == "best") {
    o.restart_from = bbo::sa::RestartFrom::kBest;
  } else if (from == "random") {
    o.restart_from = bbo::sa::RestartFrom::kRandom;
  } else {
    throw ConfigError("plugin 'neural_sa': parameter 'restart_from' must be 'best' or 'random', got '" + from + "'");
  }
  try {
    bbo::sa::validate(o);
  } catch (const std::invalid_argument& e) {
    throw ConfigError(std::string("plugin 'neural_sa': parameter ") + e.what());
  }
  return o;
}

class NeuralSaStrategy : public PopulationStrategy {
 public:
  explicit NeuralSaStrategy(const PluginParams& p)
      : PopulationStrategy("neural_sa"), options_(annealer_options(p)), policy_(load_policy(p)), moves_(moves_param(p)) {}

 protected:
  json initial_state(const SearchSpace& space, const std::vector<std::vector<double>>& completed_x,
                     const std::vector<double>& completed_y, std::mt19937_64&) override {
    bbo::sa::Annealer a = fresh(space);
    a.start(completed_x, completed_y);
    return a.to_json();
  }
  std::vector<std::vector<double>> next_generation(const SearchSpace& space, json& state,
                                                   std::mt19937_64& rng) override {
    return restore(space, state).ask(rng);
  }
  void tell_generation(const SearchSpace& space, json& state, const std::vector<std::vector<double>>& x,
                       const std::vector<double>& y, std::mt19937_64& rng) override {
    bbo::sa::Annealer a = restore(space, state);
    a.tell(x, y, rng);
    state = a.to_json();
  }

 private:
  bbo::sa::Annealer fresh(const SearchSpace& space) const {
    return bbo::sa::Annealer(space, options_, std::make_unique<SpacePolicyProposal>(policy_, moves_));
  }
  bbo::sa::Annealer restore(const SearchSpace& space, const json& state) const {
    bbo::sa::Annealer a = fresh(space);
    try {
      a.load_json(state);
    } catch (const std::invalid_argument& e) {
      throw Error(std::string("neural_sa: stored strategy state is unusable: ") + e.what());
    }
    return a;
  }

  bbo::sa::AnnealerOptions options_;
  std::shared_ptr<const Policy> policy_;
  int moves_;
};

std::vector<ParamSpec> specs() {
  std::vector<ParamSpec> s = {
      {"batch", "int", 1, "candidates per Metropolis step (one generation); use the number of parallel workers"},
      {"init_points", "int", 5, "uniform points of the initial generation (rounded up to a multiple of batch)"},
      {"schedule", "string", "exponential", "temperature schedule: 'exponential' or 'adaptive' (as sa)"},
      {"cooling", "float", 0.95, "per generation multiplier of the temperature (exponential) or target (adaptive)"},
      {"target_acceptance", "float", 0.3, "adaptive schedule: initial target acceptance probability of uphill moves"},
      {"initial_acceptance", "float", 0.8, "T0: a typical uphill move between the first values is accepted with this probability"},
      {"t0", "float", nullptr, "fixed initial temperature (default: automatic from initial_acceptance)"},
      {"restart_after", "int", 100, "generations without improving the best before a restart (0: never)"},
      {"restart_from", "string", "best", "restart point: 'best' or 'random'"},
  };
  s.push_back({"moves", "int", 1, "parameters moved per candidate (distinct, each drawn by the policy), >= 1"});
  s.push_back({"policy", "string", nullptr,
               "policy file written by bbo_neural_sa_train --problem space (default: the committed policy)"});
  return s;
}

}  // namespace
}  // namespace bbo::neural_sa

BBO_PLUGIN(bbo::strategy_entry<bbo::neural_sa::NeuralSaStrategy>(
    "neural_sa", {"neural_simulated_annealing"},
    "Neural simulated annealing: the sa annealer with a learned proposal (a tiny policy picks which parameter to "
    "move and the step scale)",
    bbo::neural_sa::specs()))

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
#include "plugins/sa/sa_strategy.h"

namespace bbo::neural_sa {
namespace {

using bbo::sa::json;

using bbo::sa::bounds;
using bbo::sa::grid_step;

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

// The `sa` strategy with the policy as its proposal: same annealer, parameters and stored state layout.
class NeuralSaStrategy final : public bbo::sa::SaStrategy {
 public:
  explicit NeuralSaStrategy(const PluginParams& p)
      : SaStrategy("neural_sa", bbo::sa::annealer_options(p, "neural_sa"),
                   [policy = load_policy(p), moves = moves_param(p)] {
                     return std::make_unique<SpacePolicyProposal>(policy, moves);
                   }) {}
};

std::vector<ParamSpec> specs() {
  std::vector<ParamSpec> s = bbo::sa::annealer_param_specs();
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

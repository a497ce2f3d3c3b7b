// my_strategy: a local search around the best trial, as an out-of-tree strategy plugin.
//
// The first n_startup parameters of a study are drawn uniformly. After that, each parameter of a new trial
// is the best COMPLETE trial's value moved by a Gaussian step of standard deviation `sigma` in the unit cube
// (reflected at the borders); a categorical keeps the best choice with probability 1 - sigma and otherwise
// draws a choice uniformly. With probability `p_explore` a parameter is drawn uniformly anyway, so the
// search cannot get stuck. Everything random comes from ctx.rng, so a fresh process proposes the same point.
#include <cmath>
#include <random>
#include <string>

#include "bbo/plugin.h"
#include "bbo/strategy.h"

namespace {

class MyStrategy final : public bbo::Strategy {
 public:
  explicit MyStrategy(const bbo::PluginParams& p)
      : n_startup_(p.get_int("n_startup")), sigma_(p.get_float("sigma")), p_explore_(p.get_float("p_explore")) {
    if (n_startup_ < 0) throw bbo::ConfigError("my_strategy: n_startup must be >= 0");
    if (!(sigma_ > 0.0 && sigma_ <= 1.0)) throw bbo::ConfigError("my_strategy: sigma must be in (0, 1]");
    if (!(p_explore_ >= 0.0 && p_explore_ <= 1.0)) throw bbo::ConfigError("my_strategy: p_explore must be in [0, 1]");
  }

  double sample_independent(const bbo::SampleContext& ctx, const std::string& name,
                            const bbo::Distribution& d) override {
    const bbo::FrozenTrial* best = best_with(ctx.study, name, d);
    std::uniform_real_distribution<double> unif(0.0, 1.0);
    if (best == nullptr || unif(ctx.rng) < p_explore_) return bbo::sample_uniform(d, ctx.rng);
    const double incumbent = best->params.at(name);
    if (bbo::n_choices(d) > 0) {
      return unif(ctx.rng) < sigma_ ? bbo::sample_uniform(d, ctx.rng) : incumbent;
    }
    std::normal_distribution<double> step(0.0, sigma_);
    double u = bbo::to_unit(d, incumbent) + step(ctx.rng);
    // Reflect into [0, 1] so that the borders are not over-sampled.
    u = std::fmod(std::abs(u), 2.0);
    if (u > 1.0) u = 2.0 - u;
    return bbo::from_unit(d, u);
  }

 private:
  // The best COMPLETE trial that has parameter `name` with distribution `d`, once n_startup trials are done.
  const bbo::FrozenTrial* best_with(const bbo::StudyView& study, const std::string& name,
                                    const bbo::Distribution& d) const {
    const auto complete = study.trials({bbo::TrialState::kComplete});
    if (static_cast<int64_t>(complete.size()) < n_startup_) return nullptr;
    const bool maximize = study.directions().at(0) == bbo::Direction::kMaximize;
    const bbo::FrozenTrial* best = nullptr;
    for (const bbo::FrozenTrial* t : complete) {
      auto it = t->distributions.find(name);
      if (it == t->distributions.end() || !bbo::same_distribution(it->second, d) || t->values.empty()) continue;
      const double v = t->values[0];
      if (std::isnan(v)) continue;
      if (best == nullptr || (maximize ? v > best->values[0] : v < best->values[0])) best = t;
    }
    return best;
  }

  int64_t n_startup_;
  double sigma_;
  double p_explore_;
};

}  // namespace

BBO_PLUGIN(bbo::strategy_entry<MyStrategy>(
    "my_strategy", {"local_search"}, "Gaussian steps around the best trial in the unit cube (example plugin)",
    {{"n_startup", "int", 5, "uniform draws before the local search starts"},
     {"sigma", "float", 0.1, "step size in the unit cube (also the categorical switch probability)"},
     {"p_explore", "float", 0.1, "probability of a uniform draw for a parameter"}}))

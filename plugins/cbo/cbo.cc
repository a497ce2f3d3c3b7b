// cbo.cc — the `cbo` strategy: consensus-based optimization on the population machinery.
//
// One generation = the N particle positions (one batch of N asks); when the last of them finishes, the engine
// computes the consensus point, moves the particles one Euler–Maruyama step and adapts alpha. The swarm lives
// in the population blob. Discrete parameters are decoded by rounding; the particles stay continuous.
#include <stdexcept>

#include "bbo/plugin.h"
#include "bbo/population.h"
#include "plugins/cbo/cbo_core.h"

namespace bbo {
namespace {

class CboStrategy final : public PopulationStrategy {
 public:
  explicit CboStrategy(const PluginParams& p) : PopulationStrategy("cbo") {
    options_.particles = static_cast<int>(p.get_int("particles"));
    options_.lambda = p.get_float("lambda");
    options_.sigma = p.get_float("sigma");
    options_.dt = p.get_float("dt");
    options_.noise = p.get_string("noise");
    options_.alpha0 = p.get_float("alpha");
    options_.alpha_schedule = p.get_string("alpha_schedule");
    options_.alpha_factor = p.get_float("alpha_factor");
    options_.alpha_max = p.get_float("alpha_max");
    options_.ess_threshold = p.get_float("ess_threshold");
    options_.restart_tol = p.get_float("restart_tol");
    // Validate now so that a bad value is a ConfigError at creation, not a failure at the first ask.
    try {
      std::mt19937_64 rng(0);
      cbo::Cbo check(options_, 1, rng);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(std::string("plugin 'cbo': ") + e.what());
    }
  }

 protected:
  // The swarm starts as a Latin hypercube; completed trials are not used (CBO has no notion of an evaluated
  // particle outside its swarm).
  json initial_state(const SearchSpace& space, const std::vector<std::vector<double>>&, const std::vector<double>&,
                     std::mt19937_64& rng) override {
    return cbo::Cbo(options_, static_cast<int>(space.size()), rng).to_json();
  }

  std::vector<std::vector<double>> next_generation(const SearchSpace&, json& state, std::mt19937_64&) override {
    return cbo::Cbo::from_json(state).positions();
  }

  void tell_generation(const SearchSpace&, json& state, const std::vector<std::vector<double>>& x,
                       const std::vector<double>& y, std::mt19937_64& rng) override {
    auto engine = cbo::Cbo::from_json(state);
    if (x != engine.positions()) throw Error("cbo: the told generation is not the swarm's positions");
    engine.tell(y, rng);
    state = engine.to_json();
  }

 private:
  cbo::CboOptions options_;
};

}  // namespace
}  // namespace bbo

BBO_PLUGIN(bbo::strategy_entry<bbo::CboStrategy>(
    "cbo", {"consensus_based_optimization"},
    "Consensus-based optimization: N particles drift to a softmin-weighted consensus point with (x - v)-scaled noise",
    {{"particles", "int", 50, "number N of particles = trials per generation (>= 2)"},
     {"lambda", "float", 1.0, "drift rate towards the consensus point"},
     {"sigma", "float", 10.1, "noise scale (CBXpy convention, no sqrt(2))"},
     {"dt", "float", 0.01, "Euler-Maruyama time step"},
     {"noise", "string", "anisotropic", "'anisotropic' (component-wise, sigma (x - v) * xi) or 'isotropic' "
                                        "(sigma |x - v|_2 xi)"},
     {"alpha", "float", 30.0, "initial weight exponent alpha of exp(-alpha f)"},
     {"alpha_schedule", "string", "ess",
      "'multiply' (alpha *= alpha_factor every generation), 'ess' (the same, and alpha raised by bisection "
      "whenever the weights' effective sample size exceeds ess_threshold N) or 'constant'"},
     {"alpha_factor", "float", 1.05, "multiplier of alpha per adaptation step (>= 1)"},
     {"alpha_max", "float", 1e5, "upper limit of alpha"},
     {"ess_threshold", "float", 0.05, "'ess' schedule: effective sample size of the weights (as a fraction of N, at least 2 particles) above which alpha is raised"},
     {"restart_tol", "float", 1e-6,
      "restart (new Latin hypercube swarm, alpha reset) when every coordinate's standard deviation over the "
      "particles is below this (unit cube); 0: never"}}))

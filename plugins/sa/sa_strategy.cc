// sa_strategy.cc — SaStrategy (sa_strategy.h) and its parameter parsing, in bbo_sa_core so that strategies
// with another proposal (neural_sa) reuse them; the `sa` plugin entry is in sa.cc.
#include <stdexcept>

#include "bbo/error.h"
#include "plugins/sa/sa_strategy.h"

namespace bbo::sa {

std::vector<ParamSpec> annealer_param_specs() {
  return {
      {"batch", "int", 1, "candidates per Metropolis step (one generation); use the number of parallel workers"},
      {"init_points", "int", 5, "uniform points of the initial generation (rounded up to a multiple of batch)"},
      {"schedule", "string", "exponential",
       "temperature schedule: 'exponential' (T *= cooling per generation) or 'adaptive' (T steered so that uphill "
       "moves are accepted with probability target_acceptance * cooling^generation)"},
      {"cooling", "float", 0.95,
       "per generation multiplier, in (0, 1], of the temperature (exponential) or of the target acceptance "
       "probability of uphill moves (adaptive)"},
      {"target_acceptance", "float", 0.3, "adaptive schedule: initial target acceptance probability of uphill moves"},
      {"initial_acceptance", "float", 0.8,
       "T0 is set so that a typical uphill move between the first values is accepted with this probability"},
      {"t0", "float", nullptr, "fixed initial temperature (default: automatic from initial_acceptance)"},
      {"restart_after", "int", 100, "generations without improving the best before a restart (0: never)"},
      {"restart_from", "string", "best", "restart point: 'best' (the best so far) or 'random' (new uniform points)"},
  };
}

std::vector<ParamSpec> neighbourhood_param_specs() {
  return {
      {"step", "float", 0.1, "initial Gaussian step in unit-cube units (adapted by the 1/5-success rule), (0, 1]"},
      {"move_coords", "float", 1.0, "expected number of coordinates moved per proposal, >= 1"},
  };
}

AnnealerOptions annealer_options(const PluginParams& p, const std::string& plugin) {
  AnnealerOptions o;
  o.batch = static_cast<int>(p.get_int("batch"));
  o.init_points = static_cast<int>(p.get_int("init_points"));
  const std::string schedule = p.get_string("schedule");
  if (schedule == "exponential") {
    o.schedule = Schedule::kExponential;
  } else if (schedule == "adaptive") {
    o.schedule = Schedule::kAdaptive;
  } else {
    throw ConfigError("plugin '" + plugin + "': parameter 'schedule' must be 'exponential' or 'adaptive', got '" +
                      schedule + "'");
  }
  o.cooling = p.get_float("cooling");
  o.target_acceptance = p.get_float("target_acceptance");
  o.initial_acceptance = p.get_float("initial_acceptance");
  if (p.has("t0")) o.t0 = p.get_float("t0");
  o.restart_after = static_cast<int>(p.get_int("restart_after"));
  const std::string from = p.get_string("restart_from");
  if (from == "best") {
    o.restart_from = RestartFrom::kBest;
  } else if (from == "random") {
    o.restart_from = RestartFrom::kRandom;
  } else {
    throw ConfigError("plugin '" + plugin + "': parameter 'restart_from' must be 'best' or 'random', got '" + from +
                      "'");
  }
  try {
    validate(o);
  } catch (const std::invalid_argument& e) {
    throw ConfigError("plugin '" + plugin + "': parameter " + e.what());
  }
  return o;
}

NeighbourhoodOptions neighbourhood_options(const PluginParams& p, const std::string& plugin) {
  NeighbourhoodOptions o;
  o.step = p.get_float("step");
  o.move_coords = p.get_float("move_coords");
  o.min_step = std::min(o.min_step, o.step > 0.0 ? o.step : o.min_step);
  try {
    NeighbourhoodProposal check(o);
  } catch (const std::invalid_argument& e) {
    throw ConfigError("plugin '" + plugin + "': parameter " + e.what());
  }
  return o;
}

SaStrategy::SaStrategy(std::string name, AnnealerOptions options, ProposalFactory make_proposal)
    : PopulationStrategy(std::move(name)), options_(options), make_proposal_(std::move(make_proposal)) {
  validate(options_);
}

SaStrategy::SaStrategy(const PluginParams& p)
    : SaStrategy("sa", annealer_options(p, "sa"), [o = neighbourhood_options(p, "sa")] {
        return std::make_unique<NeighbourhoodProposal>(o);
      }) {}

Annealer SaStrategy::restore(const SearchSpace& space, const json& state) const {
  Annealer a(space, options_, make_proposal_());
  try {
    a.load_json(state);
  } catch (const std::invalid_argument& e) {
    throw Error(std::string("sa: stored strategy state is unusable: ") + e.what());
  }
  return a;
}

json SaStrategy::initial_state(const SearchSpace& space, const std::vector<std::vector<double>>& completed_x,
                               const std::vector<double>& completed_y, std::mt19937_64& rng) {
  Annealer a(space, options_, make_proposal_());
  a.start(completed_x, completed_y);
  return a.to_json();
}

std::vector<std::vector<double>> SaStrategy::next_generation(const SearchSpace& space, json& state,
                                                             std::mt19937_64& rng) {
  return restore(space, state).ask(rng);
}

void SaStrategy::tell_generation(const SearchSpace& space, json& state, const std::vector<std::vector<double>>& x,
                                 const std::vector<double>& y, std::mt19937_64& rng) {
  Annealer a = restore(space, state);
  a.tell(x, y, rng);
  state = a.to_json();
}

}  // namespace bbo::sa

// de.cc — the `de` strategy: differential evolution (SHADE by default) on the population machinery.
//
// One generation = the initial population (Latin hypercube in the unit cube, warm-started with the best
// completed trials of the space), then one trial vector per member; selection happens when the generation's
// last trial finishes. The engine state (population, archive, F/CR memory) lives in the population blob.
#include <stdexcept>

#include "bbo/plugin.h"
#include "bbo/population.h"
#include "plugins/de/de_core.h"

namespace bbo {
namespace {

class DeStrategy final : public PopulationStrategy {
 public:
  explicit DeStrategy(const PluginParams& p) : PopulationStrategy("de") {
    options_.popsize = static_cast<int>(p.get_int("popsize"));
    options_.variant = p.get_string("variant");
    options_.f = p.get_float("f");
    options_.cr = p.get_float("cr");
    options_.memory_size = static_cast<int>(p.get_int("memory_size"));
    options_.p_max = p.get_float("p_max");
    options_.archive_rate = p.get_float("archive_rate");
    options_.bounds = p.get_string("bounds");
    // Validate now so that a bad value is a ConfigError at creation, not a failure at the first ask.
    try {
      std::mt19937_64 rng(0);
      de::DifferentialEvolution check(options_, 1, rng);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(std::string("plugin 'de': ") + e.what());
    }
  }

 protected:
  json initial_state(const SearchSpace& space, const std::vector<std::vector<double>>& completed_x,
                     const std::vector<double>& completed_y, std::mt19937_64& rng) override {
    return de::DifferentialEvolution(options_, static_cast<int>(space.size()), rng, completed_x, completed_y)
        .to_json();
  }

  std::vector<std::vector<double>> next_generation(const SearchSpace& space, json& state,
                                                   std::mt19937_64& rng) override {
    auto engine = de::DifferentialEvolution::from_json(state);
    std::vector<bool> discrete;
    for (const Distribution& d : space.distributions()) discrete.push_back(is_discrete(d));
    auto canonical = [&space](const std::vector<double>& u) { return space.encode(space.decode(u)); };
    auto points = engine.ask(rng, canonical, discrete);
    state = engine.to_json();
    return points;
  }

  void tell_generation(const SearchSpace&, json& state, const std::vector<std::vector<double>>&,
                       const std::vector<double>& y, std::mt19937_64& rng) override {
    auto engine = de::DifferentialEvolution::from_json(state);
    engine.tell(y, rng);
    state = engine.to_json();
  }

 private:
  static bool is_discrete(const Distribution& d) {
    if (const auto* f = std::get_if<FloatDistribution>(&d)) return f->step.has_value();
    return true;  // ints and categoricals
  }

  de::DeOptions options_;
};

}  // namespace
}  // namespace bbo

BBO_PLUGIN(bbo::strategy_entry<bbo::DeStrategy>(
    "de", {"differential_evolution", "shade"},
    "Differential evolution: SHADE (current-to-pbest/1 with F/CR success-history adaptation) or DE/rand/1/bin",
    {{"popsize", "int", 0, "population size N = trials per generation (>= 4); 0: clamp(5 d, 10, 50)"},
     {"variant", "string", "shade", "'shade' (adaptive F and CR, archive) or 'rand1bin' (fixed F and CR)"},
     {"f", "float", 0.5, "rand1bin: mutation factor F in (0, 2]"},
     {"cr", "float", 0.9, "rand1bin: crossover rate CR in [0, 1]"},
     {"memory_size", "int", 6, "shade: number H of F/CR memory slots"},
     {"p_max", "float", 0.2, "shade: pbest fraction drawn uniformly in [2/N, p_max]"},
     {"archive_rate", "float", 1.0, "shade: archive capacity as a multiple of N"},
     {"bounds", "string", "midpoint",
      "repair of mutant coordinates outside the unit cube: 'midpoint' (between parent and bound) or 'reflect'"}}))

// sa_strategy.h — the `sa` strategy: simulated annealing (annealer.h) on bbo::PopulationStrategy.
//
// One generation of the population machinery is one annealer generation: the initial points, then `batch`
// neighbours of the current state per Metropolis step. The annealer's whole state (temperature, current and
// best points, the proposal's state) is the population state blob in storage, so any process can ask next
// and a strategy rebuilt from storage proposes the same points.
//
// The proposal is a replaceable part: SaStrategy takes a factory, so a strategy with another proposal
// (neural SA) reuses everything else. sa_param_specs() / annealer_options() are the parameters shared by
// such strategies.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bbo/plugin.h"
#include "bbo/population.h"
#include "plugins/sa/annealer.h"
#include "plugins/sa/proposal.h"

namespace bbo::sa {

using ProposalFactory = std::function<std::unique_ptr<Proposal>()>;

// The annealer's plugin parameters with their defaults (see sa.cc for the list).
std::vector<ParamSpec> annealer_param_specs();
// The neighbourhood proposal's plugin parameters ("step", "move_coords").
std::vector<ParamSpec> neighbourhood_param_specs();
// Options from validated plugin parameters; throws ConfigError naming `plugin` and the key when a value is
// out of range.
AnnealerOptions annealer_options(const PluginParams& p, const std::string& plugin);
NeighbourhoodOptions neighbourhood_options(const PluginParams& p, const std::string& plugin);

class SaStrategy : public PopulationStrategy {
 public:
  // `name` keys the state in storage ("population:<name>"); `make_proposal` makes a fresh proposal.
  SaStrategy(std::string name, AnnealerOptions options, ProposalFactory make_proposal);
  // The `sa` plugin: the neighbourhood proposal with the parameters in `p`.
  explicit SaStrategy(const PluginParams& p);

 protected:
  json initial_state(const SearchSpace& space, const std::vector<std::vector<double>>& completed_x,
                     const std::vector<double>& completed_y, std::mt19937_64& rng) override;
  std::vector<std::vector<double>> next_generation(const SearchSpace& space, json& state,
                                                   std::mt19937_64& rng) override;
  void tell_generation(const SearchSpace& space, json& state, const std::vector<std::vector<double>>& x,
                       const std::vector<double>& y, std::mt19937_64& rng) override;

 private:
  Annealer restore(const SearchSpace& space, const json& state) const;

  AnnealerOptions options_;
  ProposalFactory make_proposal_;
};

}  // namespace bbo::sa

// sa.cc — the `sa` strategy plugin's entry: SaStrategy (sa_strategy.h, in bbo_sa_core) with the neighbourhood
// proposal.
#include "bbo/plugin.h"
#include "plugins/sa/sa_strategy.h"

namespace bbo::sa {
namespace {
std::vector<ParamSpec> sa_specs() {
  auto specs = annealer_param_specs();
  for (auto& s : neighbourhood_param_specs()) specs.push_back(std::move(s));
  return specs;
}
}  // namespace

}  // namespace bbo::sa

BBO_PLUGIN(bbo::strategy_entry<bbo::sa::SaStrategy>(
    "sa", {"simulated_annealing"},
    "Simulated annealing: neighbourhood moves (Gaussian / +-k grid steps / other choice), exponential or adaptive "
    "temperature, restarts",
    bbo::sa::sa_specs()))

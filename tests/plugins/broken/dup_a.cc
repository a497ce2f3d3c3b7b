// First of three libraries sharing names: this one (alphabetically first) is accepted.
#include "bbo/plugin.h"
#include "bbo/strategy.h"

namespace {
class Constant final : public bbo::Strategy {
 public:
  explicit Constant(const bbo::PluginParams&) {}
  double sample_independent(const bbo::SampleContext&, const std::string&, const bbo::Distribution& d) override {
    return bbo::from_unit(d, 0.5);
  }
};
}  // namespace

BBO_PLUGIN(bbo::strategy_entry<Constant>("dup", {"dup_alias"}, "the first definition of 'dup'", {}))

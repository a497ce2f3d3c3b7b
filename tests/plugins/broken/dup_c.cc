// An alias that collides with an alias of dup_a.
#include "bbo/plugin.h"
#include "bbo/strategy.h"

namespace {
class Constant final : public bbo::Strategy {
 public:
  explicit Constant(const bbo::PluginParams&) {}
  double sample_independent(const bbo::SampleContext&, const std::string&, const bbo::Distribution& d) override {
    return bbo::from_unit(d, 0.75);
  }
};
}  // namespace

BBO_PLUGIN(bbo::strategy_entry<Constant>("dup_c", {"dup_alias"}, "collides through its alias", {}))

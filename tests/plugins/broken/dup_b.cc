// Defines a fresh name and a name that dup_a already registered: the whole library must be refused, the
// fresh name included.
#include "bbo/plugin.h"
#include "bbo/strategy.h"

namespace {
class Constant final : public bbo::Strategy {
 public:
  explicit Constant(const bbo::PluginParams&) {}
  double sample_independent(const bbo::SampleContext&, const std::string&, const bbo::Distribution& d) override {
    return bbo::from_unit(d, 0.25);
  }
};
}  // namespace

BBO_PLUGIN(bbo::strategy_entry<Constant>("dup_b_only", {}, "refused with its library", {}),
           bbo::strategy_entry<Constant>("dup", {}, "the second definition of 'dup'", {}))

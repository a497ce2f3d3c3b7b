// A malformed manifest: an entry without a name.
#include "bbo/plugin.h"
#include "bbo/strategy.h"

namespace {
class Never final : public bbo::Strategy {
 public:
  explicit Never(const bbo::PluginParams&) {}
  double sample_independent(const bbo::SampleContext&, const std::string&, const bbo::Distribution&) override {
    return 0.0;
  }
};
}  // namespace

BBO_PLUGIN(bbo::strategy_entry<Never>("fine_name", {}, "valid", {}), bbo::strategy_entry<Never>("", {}, "no name", {}))

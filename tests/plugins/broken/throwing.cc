// Loads fine; its factory throws. make_strategy must turn that into a PluginError.
#include <stdexcept>

#include "bbo/plugin.h"
#include "bbo/strategy.h"

namespace {
class Throwing final : public bbo::Strategy {
 public:
  explicit Throwing(const bbo::PluginParams& p) {
    if (p.get_bool("config_error")) throw bbo::ConfigError("plugin 'throwing': parameter 'config_error' is set");
    throw std::runtime_error("boom");
  }
  double sample_independent(const bbo::SampleContext&, const std::string&, const bbo::Distribution&) override {
    return 0.0;
  }
};
}  // namespace

BBO_PLUGIN(bbo::strategy_entry<Throwing>("throwing", {}, "a factory that always throws",
                                         {{"config_error", "bool", false, "throw ConfigError instead"}}))

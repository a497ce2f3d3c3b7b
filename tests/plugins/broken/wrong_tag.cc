// A manifest built by "another compiler": right ABI version, foreign build tag.
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

extern "C" __attribute__((visibility("default"))) const bbo::PluginManifest* bbo_plugin_manifest() {
  static const bbo::PluginManifest m{bbo::kPluginAbiVersion, "bbo0/clang99.0/other",
                                     {bbo::strategy_entry<Never>("wrong_tag", {}, "never registered", {})}};
  return &m;
}

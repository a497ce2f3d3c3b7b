// The entry symbol exists but returns no manifest.
#include "bbo/plugin.h"

extern "C" __attribute__((visibility("default"))) const bbo::PluginManifest* bbo_plugin_manifest() {
  return nullptr;
}

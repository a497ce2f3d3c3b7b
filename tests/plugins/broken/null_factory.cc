// A malformed manifest: an entry without a factory.
#include "bbo/plugin.h"

BBO_PLUGIN(bbo::PluginEntry{bbo::PluginKind::kPruner, "null_factory", {}, "no factory", {}, nullptr})

// A library without the bbo_plugin_manifest entry symbol.
extern "C" __attribute__((visibility("default"))) int bbo_not_the_entry() { return 42; }

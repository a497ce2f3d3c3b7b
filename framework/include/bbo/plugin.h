// bbo/plugin.h — plugin ABI, parameter schema, registration macro, registry and loader.
//
// A plugin is a shared library named libbbo_<name>.so exporting one extern "C" function
//     const bbo::PluginManifest* bbo_plugin_manifest();
// (write it with BBO_PLUGIN(...)). The loader reads abi_version and build_tag first and refuses the library
// before touching anything else when they differ from the host's: C++ objects cross the boundary, so the
// compiler, the standard library and bbo's major version must match.
//
// The registry searches, in order: the build tree's plugin folder, <prefix>/lib/bbo/plugins (found relative
// to libbbo itself), then each folder of BBO_PLUGIN_PATH (colon-separated). Every libbbo_*.so there is
// loaded once. A library that cannot be opened, lacks the entry symbol, has another ABI or build tag, defines
// a name or alias that is already registered, or whose manifest is malformed is refused with a PluginError
// recorded in errors() (path, symbol, reason); the other plugins stay usable. Nothing from a plugin prints.
//
// Objects made by a plugin keep its library loaded (shared_ptr deleter holds the handle).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bbo/error.h"

namespace bbo {

using json = nlohmann::json;

class Strategy;
class Surrogate;
class Pruner;

inline constexpr uint32_t kPluginAbiVersion = 1;
inline constexpr int kBboMajorVersion = 0;

// Compiler + standard library + bbo major version + sizeof checks, computed in the including translation
// unit, so a plugin built against other headers or by another compiler carries a different tag.
#define BBO_STR2_(x) #x
#define BBO_STR_(x) BBO_STR2_(x)
#define BBO_BUILD_TAG                                                                              \
  ("bbo" BBO_STR_(0) "/gcc" BBO_STR_(__GNUC__) "." BBO_STR_(__GNUC_MINOR__) "/glibcxx" BBO_STR_( \
      _GLIBCXX_USE_CXX11_ABI) "/ptr" BBO_STR_(__SIZEOF_POINTER__) "/ld" BBO_STR_(__SIZEOF_LONG_DOUBLE__))

enum class PluginKind { kStrategy, kSurrogate, kPruner };
std::string to_string(PluginKind k);  // "strategy", "surrogate", "pruner"

// One parameter a plugin accepts. type: "int", "float", "bool", "string", "json" (any value).
struct ParamSpec {
  std::string name;
  std::string type;
  json default_value;  // null: no default (the parameter is optional and absent unless given)
  std::string description;
};

// Parameters given to a plugin factory: validated against the plugin's ParamSpec list (unknown keys and
// wrong types are refused before the factory runs, with a ConfigError naming the plugin and the key).
// Getters return the given value or the spec's default.
class PluginParams {
 public:
  PluginParams() = default;
  PluginParams(std::string plugin, json values, std::vector<ParamSpec> specs);

  bool has(const std::string& key) const;  // given or defaulted to non-null
  int64_t get_int(const std::string& key) const;
  double get_float(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  std::string get_string(const std::string& key) const;
  json get_json(const std::string& key) const;
  const json& values() const { return values_; }  // given values merged over defaults
  const std::string& plugin() const { return plugin_; }

 private:
  const json& lookup(const std::string& key, const char* type) const;
  std::string plugin_;
  json values_ = json::object();
  std::vector<ParamSpec> specs_;
};

// One thing a plugin library offers. The factory returns a new object of the kind's class (Strategy*,
// Surrogate* or Pruner*, as void*), owned by the caller; it may throw.
struct PluginEntry {
  PluginKind kind;
  std::string name;
  std::vector<std::string> aliases;
  std::string description;
  std::vector<ParamSpec> params;
  void* (*factory)(const PluginParams& params);
};

struct PluginManifest {
  uint32_t abi_version;  // must stay the first member
  const char* build_tag;  // must stay the second member
  std::vector<PluginEntry> entries;
};

template <class Base, class T>
void* make_plugin_object(const PluginParams& p) {
  return static_cast<Base*>(new T(p));
}

template <class T>
PluginEntry strategy_entry(std::string name, std::vector<std::string> aliases, std::string description,
                           std::vector<ParamSpec> params) {
  return {PluginKind::kStrategy, std::move(name), std::move(aliases), std::move(description), std::move(params),
          &make_plugin_object<Strategy, T>};
}
template <class T>
PluginEntry surrogate_entry(std::string name, std::vector<std::string> aliases, std::string description,
                            std::vector<ParamSpec> params) {
  return {PluginKind::kSurrogate, std::move(name), std::move(aliases), std::move(description), std::move(params),
          &make_plugin_object<Surrogate, T>};
}
template <class T>
PluginEntry pruner_entry(std::string name, std::vector<std::string> aliases, std::string description,
                         std::vector<ParamSpec> params) {
  return {PluginKind::kPruner, std::move(name), std::move(aliases), std::move(description), std::move(params),
          &make_plugin_object<Pruner, T>};
}

// Defines the entry symbol. Usage (in exactly one .cc of the plugin):
//   BBO_PLUGIN(bbo::strategy_entry<MyStrategy>("mine", {}, "What it does", {{"k", "int", 3, "..."}}))
#define BBO_PLUGIN(...)                                                                            \
  extern "C" __attribute__((visibility("default"))) const ::bbo::PluginManifest* bbo_plugin_manifest() { \
    static const ::bbo::PluginManifest manifest{::bbo::kPluginAbiVersion, BBO_BUILD_TAG, {__VA_ARGS__}}; \
    return &manifest;                                                                              \
  }

// What the registry knows of one loaded entry.
struct PluginDescription {
  PluginKind kind;
  std::string name;
  std::vector<std::string> aliases;
  std::string description;
  std::vector<ParamSpec> params;
  std::string path;  // the library it came from
};

// A library the registry refused.
struct PluginLoadFailure {
  std::string path;
  std::string symbol;
  std::string reason;
  std::string message() const;  // "plugin <path>: <symbol>: <reason>"
};

class PluginRegistry {
 public:
  // The process-wide registry with the default search path (scanned on first use). Thread-safe.
  static PluginRegistry& global();

  // An empty registry that searches only `dirs` (for tests).
  explicit PluginRegistry(std::vector<std::string> dirs);
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  // Loads one library now. Throws PluginError (and records it) when it is refused.
  void load_library(const std::string& path);

  std::vector<PluginDescription> list();
  std::vector<PluginLoadFailure> failures();
  std::vector<std::string> search_dirs() const { return dirs_; }
  // Looks up a name or alias of the given kind; throws PluginError listing the known names when absent.
  PluginDescription describe(PluginKind kind, const std::string& name);

  // Validates `params` (a JSON object or null) against the plugin's schema and constructs the object.
  // Throws PluginError for an unknown name or a throwing factory, ConfigError for bad parameters.
  std::shared_ptr<Strategy> make_strategy(const std::string& name, const json& params = json::object());
  std::shared_ptr<Surrogate> make_surrogate(const std::string& name, const json& params = json::object());
  std::shared_ptr<Pruner> make_pruner(const std::string& name, const json& params = json::object());

  // The default search folders (build tree, install prefix, BBO_PLUGIN_PATH).
  static std::vector<std::string> default_search_dirs();

 private:
  struct Impl;
  void* make(PluginKind kind, const std::string& name, const json& params, std::shared_ptr<void>& keep_alive);
  std::vector<std::string> dirs_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace bbo

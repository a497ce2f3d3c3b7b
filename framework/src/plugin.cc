// plugin.cc — plugin parameters, the registry and the dlopen loader.
#include "bbo/plugin.h"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "bbo/pruner.h"
#include "bbo/strategy.h"
#include "bbo/surrogate.h"

namespace bbo {

namespace fs = std::filesystem;

std::string to_string(PluginKind k) {
  switch (k) {
    case PluginKind::kStrategy:
      return "strategy";
    case PluginKind::kSurrogate:
      return "surrogate";
    case PluginKind::kPruner:
      return "pruner";
  }
  return "unknown";
}

std::string PluginLoadFailure::message() const {
  if (symbol.empty()) return "plugin " + path + ": " + reason;
  return "plugin " + path + ": " + symbol + ": " + reason;
}

// ---------------------------------------------------------------- PluginParams

namespace {

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

std::string json_type_name(const json& v) {
  if (v.is_boolean()) return "bool";
  if (v.is_number_integer()) return "int";
  if (v.is_number_float()) return "float";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "null";
}

// Coerces `v` to the spec's type where that loses nothing (int → float, integral float → int); nullopt when
// the value does not fit the type.
std::optional<json> coerce(const json& v, const std::string& type) {
  if (type == "json") return v;
  if (type == "int") {
    if (v.is_number_integer()) return v;
    if (v.is_number_float()) {
      double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::abs(d) < 9.007199254740992e15)
        return json(static_cast<int64_t>(d));
    }
    return std::nullopt;
  }
  if (type == "float") {
    if (v.is_number()) return json(v.get<double>());
    return std::nullopt;
  }
  if (type == "bool") return v.is_boolean() ? std::optional<json>(v) : std::nullopt;
  if (type == "string") return v.is_string() ? std::optional<json>(v) : std::nullopt;
  return std::nullopt;
}

}  // namespace

PluginParams::PluginParams(std::string plugin, json values, std::vector<ParamSpec> specs)
    : plugin_(std::move(plugin)), specs_(std::move(specs)) {
  if (values.is_null()) values = json::object();
  if (!values.is_object())
    throw ConfigError("plugin '" + plugin_ + "': parameters must be a JSON object, got " + json_type_name(values));
  std::vector<std::string> known;
  for (const auto& s : specs_) known.push_back(s.name);
  for (const auto& item : values.items()) {
    const std::string& key = item.key();  // (not a structured binding: clang 14 cannot capture those)
    auto it = std::find_if(specs_.begin(), specs_.end(), [&](const ParamSpec& s) { return s.name == key; });
    if (it == specs_.end())
      throw ConfigError("plugin '" + plugin_ + "': unknown parameter '" + key + "' (known: " +
                        (known.empty() ? std::string("none") : join(known)) + ")");
  }
  for (const auto& s : specs_) {
    auto given = values.find(s.name);
    // A null value means "not given": the default applies.
    if (given == values.end() || given->is_null()) {
      if (!s.default_value.is_null()) values_[s.name] = s.default_value;
      continue;
    }
    auto c = coerce(*given, s.type);
    if (!c)
      throw ConfigError("plugin '" + plugin_ + "': parameter '" + s.name + "' must be " + s.type + ", got " +
                        json_type_name(*given) + " " + given->dump());
    values_[s.name] = *c;
  }
}

bool PluginParams::has(const std::string& key) const {
  auto it = values_.find(key);
  return it != values_.end() && !it->is_null();
}

const json& PluginParams::lookup(const std::string& key, const char* type) const {
  auto spec = std::find_if(specs_.begin(), specs_.end(), [&](const ParamSpec& s) { return s.name == key; });
  if (spec == specs_.end())
    throw ConfigError("plugin '" + plugin_ + "': parameter '" + key + "' is not declared in its schema");
  auto it = values_.find(key);
  if (it == values_.end() || it->is_null())
    throw ConfigError("plugin '" + plugin_ + "': parameter '" + key + "' is not set and has no default");
  // Defaults are not validated at construction (they come from the plugin), so check them here.
  if (std::string(type) != "json" && !coerce(*it, type))
    throw ConfigError("plugin '" + plugin_ + "': parameter '" + key + "' is not " + type + ": " + it->dump());
  return *it;
}

int64_t PluginParams::get_int(const std::string& key) const {
  const json& v = lookup(key, "int");
  return v.is_number_integer() ? v.get<int64_t>() : static_cast<int64_t>(v.get<double>());
}

double PluginParams::get_float(const std::string& key) const { return lookup(key, "float").get<double>(); }

bool PluginParams::get_bool(const std::string& key) const { return lookup(key, "bool").get<bool>(); }

std::string PluginParams::get_string(const std::string& key) const {
  return lookup(key, "string").get<std::string>();
}

json PluginParams::get_json(const std::string& key) const { return lookup(key, "json"); }

// ---------------------------------------------------------------- the registry

namespace {

constexpr const char* kEntrySymbol = "bbo_plugin_manifest";

// An open library. It is dlclose'd when the registry and every object it made have let go of it (the
// deleters of the returned shared_ptrs hold a reference), so plugin code never runs after unloading.
struct LibraryHandle {
  void* handle = nullptr;
  std::string path;
  ~LibraryHandle() {
    if (handle) dlclose(handle);
  }
};

struct LoadedEntry {
  PluginDescription desc;
  void* (*factory)(const PluginParams&) = nullptr;
  std::shared_ptr<LibraryHandle> library;
};

// Where libbbo itself lives, found from the address of a function in it.
std::optional<fs::path> libbbo_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&PluginRegistry::default_search_dirs), &info) == 0 || !info.dli_fname)
    return std::nullopt;
  std::error_code ec;
  fs::path p = fs::weakly_canonical(fs::path(info.dli_fname), ec);
  if (ec) p = fs::path(info.dli_fname);
  return p.parent_path();
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

}  // namespace

struct PluginRegistry::Impl {
  std::mutex mu;
  bool scanned = false;
  std::vector<LoadedEntry> entries;        // in load order
  std::vector<PluginLoadFailure> failures;
  std::set<std::string> loaded_paths;      // canonical paths of accepted libraries
  std::set<std::string> seen_file_names;   // for the first-directory-wins rule of the scan

  // Scans the search folders on first use (callers hold mu).
  void ensure_scanned(const std::vector<std::string>& dirs) {
    if (scanned) return;
    scanned = true;
    scan(dirs);
  }

  // The entry of that kind and name or alias; PluginError listing the known names when there is none.
  const LoadedEntry& require(PluginKind kind, const std::string& name) const;

  const LoadedEntry* find(PluginKind kind, const std::string& name) const {
    for (const auto& e : entries) {
      if (e.desc.kind != kind) continue;
      if (e.desc.name == name) return &e;
      if (std::find(e.desc.aliases.begin(), e.desc.aliases.end(), name) != e.desc.aliases.end()) return &e;
    }
    return nullptr;
  }

  // Loads a library; on refusal records the failure and returns it (nothing is registered).
  std::optional<PluginLoadFailure> load(const std::string& raw_path) {
    std::error_code ec;
    fs::path canon = fs::weakly_canonical(fs::path(raw_path), ec);
    std::string path = ec ? raw_path : canon.string();
    if (loaded_paths.count(path)) return std::nullopt;  // already loaded: loading twice is a no-op

    auto refuse = [&](std::string symbol, std::string reason) {
      PluginLoadFailure f{path, std::move(symbol), std::move(reason)};
      failures.push_back(f);
      return std::optional<PluginLoadFailure>(f);
    };

    dlerror();
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* err = dlerror();
      return refuse("", std::string("cannot load library: ") + (err ? err : "unknown dlopen error"));
    }
    auto lib = std::make_shared<LibraryHandle>();
    lib->handle = h;
    lib->path = path;

    dlerror();
    void* sym = dlsym(h, kEntrySymbol);
    if (!sym) return refuse(kEntrySymbol, "entry symbol not found (define it with BBO_PLUGIN)");
    using EntryFn = const PluginManifest* (*)();
    const PluginManifest* m = nullptr;
    try {
      m = reinterpret_cast<EntryFn>(sym)();
    } catch (const std::exception& e) {
      return refuse(kEntrySymbol, std::string("entry function threw: ") + e.what());
    } catch (...) {
      return refuse(kEntrySymbol, "entry function threw a non-standard exception");
    }
    if (!m) return refuse(kEntrySymbol, "entry function returned no manifest");
    // Only the first two members may be read before the ABI and build tag are known to match: the rest of
    // the layout (std::vector, std::string) depends on them.
    if (m->abi_version != kPluginAbiVersion)
      return refuse(kEntrySymbol, "ABI version " + std::to_string(m->abi_version) + " differs from the host's " +
                                      std::to_string(kPluginAbiVersion));
    const std::string host_tag = BBO_BUILD_TAG;
    if (!m->build_tag || host_tag != m->build_tag)
      return refuse(kEntrySymbol, std::string("build tag '") + (m->build_tag ? m->build_tag : "(null)") +
                                      "' differs from the host's '" + host_tag + "'");

    if (m->entries.empty()) return refuse(kEntrySymbol, "malformed manifest: no entries");
    std::set<std::pair<PluginKind, std::string>> mine;
    for (size_t i = 0; i < m->entries.size(); ++i) {
      const PluginEntry& e = m->entries[i];
      std::string where = "entry " + std::to_string(i) + (e.name.empty() ? "" : " '" + e.name + "'");
      if (e.kind != PluginKind::kStrategy && e.kind != PluginKind::kSurrogate && e.kind != PluginKind::kPruner)
        return refuse(kEntrySymbol, "malformed manifest: " + where + " has an unknown kind");
      if (e.name.empty()) return refuse(kEntrySymbol, "malformed manifest: " + where + " has an empty name");
      if (!e.factory) return refuse(kEntrySymbol, "malformed manifest: " + where + " has no factory");
      std::vector<std::string> names{e.name};
      names.insert(names.end(), e.aliases.begin(), e.aliases.end());
      for (const auto& n : names) {
        if (n.empty()) return refuse(kEntrySymbol, "malformed manifest: " + where + " has an empty alias");
        if (!mine.insert({e.kind, n}).second)
          return refuse(kEntrySymbol, "malformed manifest: " + to_string(e.kind) + " name '" + n +
                                          "' appears twice in the library");
        if (const LoadedEntry* other = find(e.kind, n))
          return refuse(kEntrySymbol, "duplicate " + to_string(e.kind) + " name '" + n +
                                          "': already registered by " + other->desc.path);
      }
      std::set<std::string> param_names;
      for (const auto& p : e.params) {
        static const std::set<std::string> kTypes{"int", "float", "bool", "string", "json"};
        if (p.name.empty() || !param_names.insert(p.name).second || !kTypes.count(p.type))
          return refuse(kEntrySymbol, "malformed manifest: " + where + " has an invalid parameter '" + p.name +
                                          "' of type '" + p.type + "'");
      }
    }
    for (const PluginEntry& e : m->entries)
      entries.push_back({PluginDescription{e.kind, e.name, e.aliases, e.description, e.params, path}, e.factory,
                         lib});
    loaded_paths.insert(path);
    return std::nullopt;
  }

  void scan(const std::vector<std::string>& dirs) {
    for (const auto& d : dirs) {
      if (!is_dir(d)) continue;
      std::vector<fs::path> files;
      std::error_code ec;
      for (fs::directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec)) {
        std::string fname = it->path().filename().string();
        if (fname.rfind("libbbo_", 0) == 0 && fname.size() > 10 && fname.ends_with(".so")) files.push_back(it->path());
      }
      std::sort(files.begin(), files.end());  // a stable order makes duplicate resolution reproducible
      for (const auto& f : files) {
        if (!seen_file_names.insert(f.filename().string()).second) continue;  // an earlier folder wins
        load(f.string());
      }
    }
  }
};

PluginRegistry::PluginRegistry(std::vector<std::string> dirs) : dirs_(std::move(dirs)), impl_(new Impl) {}

PluginRegistry::~PluginRegistry() = default;

PluginRegistry& PluginRegistry::global() {
  // Never destroyed: objects made by plugins may outlive static destruction order, and their deleters keep
  // the libraries they need alive on their own.
  static PluginRegistry* registry = new PluginRegistry(default_search_dirs());
  return *registry;
}

std::vector<std::string> PluginRegistry::default_search_dirs() {
  std::vector<std::string> dirs;
  auto add = [&](const fs::path& p) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(p, ec);
    std::string s = ec ? p.string() : c.string();
    if (std::find(dirs.begin(), dirs.end(), s) == dirs.end()) dirs.push_back(s);
  };
#ifdef BBO_BUILD_PLUGIN_DIR
  if (is_dir(BBO_BUILD_PLUGIN_DIR)) add(BBO_BUILD_PLUGIN_DIR);
#endif
#ifdef BBO_PLUGIN_RELATIVE_DIR
  if (auto lib = libbbo_dir()) add(*lib / BBO_PLUGIN_RELATIVE_DIR);
#endif
  if (const char* env = std::getenv("BBO_PLUGIN_PATH")) {
    std::stringstream ss(env);
    std::string item;
    while (std::getline(ss, item, ':'))
      if (!item.empty()) add(item);
  }
  return dirs;
}

void PluginRegistry::load_library(const std::string& path) {
  std::lock_guard lock(impl_->mu);
  impl_->ensure_scanned(dirs_);
  if (auto f = impl_->load(path)) throw PluginError(f->message());
}

std::vector<PluginDescription> PluginRegistry::list() {
  std::lock_guard lock(impl_->mu);
  impl_->ensure_scanned(dirs_);
  std::vector<PluginDescription> out;
  for (const auto& e : impl_->entries) out.push_back(e.desc);
  return out;
}

std::vector<PluginLoadFailure> PluginRegistry::failures() {
  std::lock_guard lock(impl_->mu);
  impl_->ensure_scanned(dirs_);
  return impl_->failures;
}

namespace {
std::string known_names(const std::vector<LoadedEntry>& entries, PluginKind kind) {
  std::vector<std::string> names;
  for (const auto& e : entries)
    if (e.desc.kind == kind) names.push_back(e.desc.name);
  std::sort(names.begin(), names.end());
  return names.empty() ? std::string("none") : join(names);
}
}  // namespace

const LoadedEntry& PluginRegistry::Impl::require(PluginKind kind, const std::string& name) const {
  const LoadedEntry* e = find(kind, name);
  if (!e)
    throw PluginError("unknown " + to_string(kind) + " plugin '" + name + "' (known: " + known_names(entries, kind) +
                      ")");
  return *e;
}

PluginDescription PluginRegistry::describe(PluginKind kind, const std::string& name) {
  std::lock_guard lock(impl_->mu);
  impl_->ensure_scanned(dirs_);
  return impl_->require(kind, name).desc;
}

void* PluginRegistry::make(PluginKind kind, const std::string& name, const json& params,
                           std::shared_ptr<void>& keep_alive) {
  LoadedEntry entry;
  {
    std::lock_guard lock(impl_->mu);
    impl_->ensure_scanned(dirs_);
    entry = impl_->require(kind, name);
  }
  // The factory runs outside the lock: it may be slow (loading weights) or ask the registry for another
  // plugin (a strategy that needs a surrogate).
  PluginParams p(entry.desc.name, params, entry.desc.params);
  void* obj = nullptr;
  try {
    obj = entry.factory(p);
  } catch (const ConfigError&) {
    throw;  // a parameter the plugin rejected: keep it a configuration error (it names the plugin)
  } catch (const std::exception& e) {
    throw PluginError("plugin '" + entry.desc.name + "' (" + entry.desc.path + "): factory failed: " + e.what());
  } catch (...) {
    throw PluginError("plugin '" + entry.desc.name + "' (" + entry.desc.path +
                      "): factory failed: non-standard exception");
  }
  if (!obj)
    throw PluginError("plugin '" + entry.desc.name + "' (" + entry.desc.path + "): factory failed: returned null");
  keep_alive = entry.library;
  return obj;
}

std::shared_ptr<Strategy> PluginRegistry::make_strategy(const std::string& name, const json& params) {
  std::shared_ptr<void> lib;
  auto* obj = static_cast<Strategy*>(make(PluginKind::kStrategy, name, params, lib));
  return std::shared_ptr<Strategy>(obj, [lib](Strategy* s) { delete s; });
}

std::shared_ptr<Surrogate> PluginRegistry::make_surrogate(const std::string& name, const json& params) {
  std::shared_ptr<void> lib;
  auto* obj = static_cast<Surrogate*>(make(PluginKind::kSurrogate, name, params, lib));
  return std::shared_ptr<Surrogate>(obj, [lib](Surrogate* s) { delete s; });
}

std::shared_ptr<Pruner> PluginRegistry::make_pruner(const std::string& name, const json& params) {
  std::shared_ptr<void> lib;
  auto* obj = static_cast<Pruner*>(make(PluginKind::kPruner, name, params, lib));
  return std::shared_ptr<Pruner>(obj, [lib](Pruner* s) { delete s; });
}

}  // namespace bbo

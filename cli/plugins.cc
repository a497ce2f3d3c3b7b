// bbo plugins: what the plugin registry found (and what it refused).
#include <iostream>

#include "bbo/plugin.h"
#include "common.h"

namespace bbo::cli {
namespace {

struct PluginsOptions {
  FormatOption format;
  std::string kind;
};

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

std::string params_cell(const std::vector<ParamSpec>& params) {
  std::vector<std::string> parts;
  for (const auto& p : params)
    parts.push_back(p.name + ":" + p.type + (p.default_value.is_null() ? "" : "=" + json_cell(p.default_value)));
  return join(parts, " ");
}

int run(const PluginsOptions& o) {
  auto& registry = PluginRegistry::global();
  std::vector<PluginDescription> plugins;
  for (auto& p : registry.list())
    if (o.kind.empty() || to_string(p.kind) == o.kind) plugins.push_back(std::move(p));
  std::vector<PluginLoadFailure> failures = registry.failures();
  Format f = o.format.format();

  if (f == Format::kJson) {
    json arr = json::array(), failed = json::array();
    for (const auto& p : plugins) {
      json params = json::array();
      for (const auto& s : p.params)
        params.push_back({{"name", s.name}, {"type", s.type}, {"default", s.default_value},
                          {"description", s.description}});
      arr.push_back({{"name", p.name}, {"kind", to_string(p.kind)}, {"aliases", p.aliases},
                     {"description", p.description}, {"parameters", params}, {"path", p.path}});
    }
    for (const auto& fl : failures)
      failed.push_back({{"path", fl.path}, {"symbol", fl.symbol}, {"reason", fl.reason}});
    std::cout << json{{"plugins", arr}, {"failures", failed}}.dump(2) << '\n';
    return kExitOk;
  }

  Table t;
  t.header = {"name", "kind", "aliases", "description", "parameters"};
  if (f == Format::kCsv) t.header.push_back("path");
  for (const auto& p : plugins) {
    t.rows.push_back({p.name, to_string(p.kind), join(p.aliases, ","), p.description, params_cell(p.params)});
    if (f == Format::kCsv) t.rows.back().push_back(p.path);
  }
  if (f == Format::kCsv) {
    // A refused library is a row of kind "failed" so a CSV reader sees it too.
    for (const auto& fl : failures) t.rows.push_back({"", "failed", "", fl.message(), "", fl.path});
    print_csv(std::cout, t);
    return kExitOk;
  }
  if (plugins.empty()) {
    std::cout << "No plugins found in: " << join(registry.search_dirs(), ", ") << '\n';
  } else {
    print_table(std::cout, t);
  }
  if (!failures.empty()) {
    std::cout << "\nRefused libraries:\n";
    for (const auto& fl : failures) std::cout << "  " << fl.message() << '\n';
  }
  return kExitOk;
}

}  // namespace

Command register_plugins(CLI::App& app) {
  auto o = std::make_shared<PluginsOptions>();
  CLI::App* cmd = app.add_subcommand("plugins", "List the strategy, surrogate and pruner plugins found");
  add_format_option(cmd, o->format);
  cmd->add_option("--kind", o->kind, "Only this kind: strategy, surrogate or pruner")
      ->check(CLI::IsMember({"strategy", "surrogate", "pruner"}));
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli

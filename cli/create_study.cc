// bbo create-study: creates a study from flags or a study file (flags override the file).
#include <fstream>
#include <iostream>
#include <sstream>

#include "bbo/config.h"
#include "bbo/plugin.h"
#include "common.h"

namespace bbo::cli {
namespace {

struct CreateStudyOptions {
  StorageOption storage;
  FormatOption format;
  std::string config;
  std::string study;
  std::vector<std::string> directions;
  std::string strategy;
  std::string strategy_params;
  std::string pruner;
  std::string pruner_params;
  uint64_t seed = 0;
  std::string search_space;
  bool if_exists = false;
  double heartbeat_grace = 0.0;
  bool retry_failed_trials = false;
  CLI::Option* heartbeat_grace_opt = nullptr;
  CLI::Option* seed_opt = nullptr;
  CLI::Option* strategy_params_opt = nullptr;
  CLI::Option* pruner_params_opt = nullptr;
  CLI::Option* search_space_opt = nullptr;
};

int run(const CreateStudyOptions& o) {
  // Everything is parsed and validated before the storage is touched: a rejected command writes nothing.
  StudyOptions options;
  std::string file_storage;
  if (!o.config.empty()) {
    StudyConfig cfg = load_study_config(o.config);
    options = cfg.options;
    // StudyOptions::storage defaults to "memory:", so ask the file itself whether it names a storage.
    std::ifstream in(o.config);
    std::stringstream text;
    text << in.rdbuf();
    json raw = yaml_to_json(text.str(), o.config);
    if (raw.is_object() && raw.contains("storage") && raw["storage"].is_string())
      file_storage = raw["storage"].get<std::string>();
  }
  if (!o.study.empty()) options.name = o.study;
  if (options.name.empty()) throw UsageError("--study NAME is required (or name: in the --config file)");
  if (!o.directions.empty()) {
    options.directions.clear();
    for (const auto& d : o.directions) options.directions.push_back(direction_from_string(d));
  }
  if (!o.strategy.empty()) {
    // A new strategy name without --strategy-params: the file's params belonged to the file's strategy.
    if (o.strategy != options.strategy) options.strategy_params = json::object();
    options.strategy = o.strategy;
  }
  if (o.strategy_params_opt->count() > 0) {
    options.strategy_params = parse_json_option(o.strategy_params, "--strategy-params");
    if (!options.strategy_params.is_object())
      throw ConfigError("--strategy-params: expected a JSON object, got " + options.strategy_params.dump());
  }
  if (!o.pruner.empty()) {
    if (o.pruner != options.pruner) options.pruner_params = json::object();
    options.pruner = o.pruner;
  }
  if (o.pruner_params_opt->count() > 0) {
    options.pruner_params = parse_json_option(o.pruner_params, "--pruner-params");
    if (!options.pruner_params.is_object())
      throw ConfigError("--pruner-params: expected a JSON object, got " + options.pruner_params.dump());
  }
  if (o.seed_opt->count() > 0) options.seed = o.seed;
  if (o.search_space_opt->count() > 0)
    options.search_space = parse_search_space_option(o.search_space, "--search-space");
  options.load_if_exists = o.if_exists;
  if (o.heartbeat_grace_opt->count() > 0) {
    if (!(o.heartbeat_grace >= 0)) throw ValueError("--heartbeat-grace: expected a number of seconds >= 0");
    options.heartbeat_grace_seconds = o.heartbeat_grace;
  }
  if (o.retry_failed_trials) options.retry_failed_trials = true;

  // Constructing the plugins checks the names and every parameter against their schemas.
  auto& registry = PluginRegistry::global();
  registry.make_strategy(options.strategy, options.strategy_params);
  if (!options.pruner.empty() && options.pruner != "none") registry.make_pruner(options.pruner, options.pruner_params);

  options.storage = o.storage.resolve(file_storage);
  std::shared_ptr<Storage> storage = open_storage(options.storage);
  bool existed = storage->find_study(options.name).has_value();
  Study study = Study::create(options, storage);

  if (o.format.format() == Format::kJson) {
    json dirs = json::array();
    for (auto d : study.directions()) dirs.push_back(to_string(d));
    std::cout << json{{"name", study.name()},
                      {"id", study.id()},
                      {"created", !existed},
                      {"directions", dirs},
                      {"seed", study.seed()},
                      {"storage", options.storage}}
                     .dump(2)
              << '\n';
  } else if (existed) {
    std::cout << "Opened existing study '" << study.name() << "' (id " << study.id() << ") in " << redact_storage_url(options.storage)
              << '\n';
  } else {
    std::cout << "Created study '" << study.name() << "' (id " << study.id() << ", "
              << format_directions(study.directions()) << ", seed " << study.seed() << ") in " << redact_storage_url(options.storage)
              << '\n';
  }
  return kExitOk;
}

}  // namespace

Command register_create_study(CLI::App& app) {
  auto o = std::make_shared<CreateStudyOptions>();
  CLI::App* cmd = app.add_subcommand("create-study", "Create a study (from flags or a YAML study file)");
  add_storage_option(cmd, o->storage);
  add_format_option(cmd, o->format, {"table", "json"});
  cmd->add_option("--config", o->config, "YAML study file; flags given here override it")
      ->check(CLI::ExistingFile);
  cmd->add_option("--study", o->study, "Study name");
  cmd->add_option("--direction", o->directions,
                  "minimize or maximize; repeat for a multi-objective study (default: minimize)");
  cmd->add_option("--strategy", o->strategy, "Strategy plugin name or alias (default: auto)");
  o->strategy_params_opt =
      cmd->add_option("--strategy-params", o->strategy_params, "Strategy parameters as a JSON object");
  cmd->add_option("--pruner", o->pruner, "Pruner plugin name, or none (default: none)");
  o->pruner_params_opt = cmd->add_option("--pruner-params", o->pruner_params, "Pruner parameters as a JSON object");
  o->seed_opt = cmd->add_option("--seed", o->seed, "Study seed (default: random, stored with the study)");
  o->search_space_opt = cmd->add_option(
      "--search-space", o->search_space,
      "Declared search space as JSON (Optuna's distribution JSON or {\"x\": {\"type\": \"float\", ...}})");
  o->heartbeat_grace_opt = cmd->add_option(
      "--heartbeat-grace", o->heartbeat_grace,
      "Fail RUNNING trials whose heartbeat is older than this many seconds before each ask (default: 0, off)");
  cmd->add_flag("--retry-failed-trials", o->retry_failed_trials,
                "Re-enqueue each trial failed for a stale heartbeat as a WAITING trial with the same params");
  cmd->add_flag("--if-exists", o->if_exists, "Open the study if it already exists instead of failing");
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli

// bbo ask: starts trial(s) and prints their numbers and parameters as JSON.
#include <iostream>

#include "common.h"

namespace bbo::cli {
namespace {

struct AskOptions {
  StorageOption storage;
  FormatOption format{"json"};
  std::string study;
  std::string search_space;
  int n = 1;
  CLI::Option* search_space_opt = nullptr;
  CLI::Option* n_opt = nullptr;
};

// A name keeps one distribution per study. Checked here, before any trial is created, so that a conflicting
// --search-space is rejected without leaving a RUNNING trial behind.
void check_compatible(Storage& storage, const StudyInfo& info, const SearchSpace& space) {
  for (const auto& t : storage.get_trials(info.id)) {
    for (const auto& [name, d] : t.distributions) {
      if (space.has(name) && !same_distribution(space.at(name), d))
        throw ValueError("--search-space: parameter '" + name + "' conflicts with its distribution in trial " +
                         std::to_string(t.number) + " (" + distribution_to_json(d).dump() + ")");
    }
  }
}

json trial_json(const Trial& trial) {
  json params = json::object();
  for (const auto& [k, v] : trial.params()) params[k] = param_value_to_json(v);
  return {{"number", trial.number()}, {"params", params}};
}

int run(const AskOptions& o) {
  std::optional<SearchSpace> space;
  if (o.search_space_opt->count() > 0) space = parse_search_space_option(o.search_space, "--search-space");
  if (o.n < 1) throw ValueError("-n: the number of trials must be at least 1, got " + std::to_string(o.n));
  OpenStudy s = open_study(o.storage.resolve(), o.study);
  if (space) check_compatible(*s.storage, s.info, *space);
  Study study = Study::load(o.study, s.storage);
  if (space) {
    for (const auto& name : space->names())
      if (study.search_space().has(name) && !same_distribution(study.search_space().at(name), space->at(name)))
        throw ValueError("--search-space: parameter '" + name + "' conflicts with the study's declared space");
  }

  json out = json::array();
  if (space) {
    // Trials asked one after the other: each later one sees the earlier ones as RUNNING (pending).
    for (int i = 0; i < o.n; ++i) out.push_back(trial_json(study.ask(*space)));
  } else {
    for (const auto& trial : study.ask(o.n)) out.push_back(trial_json(trial));
  }
  std::cout << (o.n_opt->count() > 0 ? out : out[0]).dump() << '\n';
  return kExitOk;
}

}  // namespace

Command register_ask(CLI::App& app) {
  auto o = std::make_shared<AskOptions>();
  CLI::App* cmd = app.add_subcommand("ask", "Start trial(s); print {\"number\": N, \"params\": {...}} as JSON");
  add_storage_option(cmd, o->storage);
  add_format_option(cmd, o->format, {"json"});
  cmd->add_option("--study", o->study, "Study name")->required();
  o->search_space_opt = cmd->add_option(
      "--search-space", o->search_space,
      "Parameters to suggest, as JSON: Optuna's distribution JSON or the short form "
      "{\"x\": {\"type\": \"float\", \"low\": 0, \"high\": 1}} (default: the study's declared space)");
  o->n_opt = cmd->add_option("-n", o->n, "Ask K trials at once; prints a JSON array");
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli

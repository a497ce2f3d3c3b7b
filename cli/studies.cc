// bbo studies: every study in the storage with its directions, trial count and best value.
#include <iostream>

#include "common.h"

namespace bbo::cli {
namespace {

struct StudiesOptions {
  StorageOption storage;
  FormatOption format;
};

int run(const StudiesOptions& o) {
  std::string url = o.storage.resolve();
  std::unique_ptr<Storage> storage = open_storage(url);
  std::vector<StudyInfo> studies = storage->list_studies();
  Format f = o.format.format();
  if (f == Format::kJson) {
    json arr = json::array();
    for (const auto& info : studies) {
      std::vector<FrozenTrial> best = best_trials(*storage, info);
      json dirs = json::array();
      for (auto d : info.directions) dirs.push_back(to_string(d));
      json j = {{"name", info.name},
                {"id", info.id},
                {"directions", dirs},
                {"n_trials", info.n_trials},
                {"datetime_start", info.datetime_start_us ? json(format_time_us(info.datetime_start_us)) : json()},
                {"user_attrs", info.user_attrs}};
      if (info.directions.size() == 1) {
        j["best_value"] = best.empty() ? json() : number_json(best[0].values[0]);
        j["best_trial"] = best.empty() ? json() : json(best[0].number);
      } else {
        j["pareto_size"] = best.size();
      }
      arr.push_back(std::move(j));
    }
    std::cout << arr.dump(2) << '\n';
    return kExitOk;
  }
  if (studies.empty() && f == Format::kTable) {
    std::cout << "No studies in " << redact_storage_url(url) << '\n';
    return kExitOk;
  }
  Table t;
  t.header = {"name", "directions", "n_trials", "best_value", "best_trial", "datetime_start"};
  for (const auto& info : studies) {
    std::vector<FrozenTrial> best = best_trials(*storage, info);
    std::string best_value, best_trial;
    if (info.directions.size() == 1 && !best.empty()) {
      best_value = format_double(best[0].values[0]);
      best_trial = std::to_string(best[0].number);
    } else if (!best.empty()) {
      best_value = "pareto: " + std::to_string(best.size()) + " trials";
    }
    t.rows.push_back({info.name, format_directions(info.directions), std::to_string(info.n_trials), best_value,
                      best_trial, format_time_us(info.datetime_start_us)});
  }
  if (f == Format::kCsv) {
    print_csv(std::cout, t);
  } else {
    print_table(std::cout, t);
  }
  return kExitOk;
}

}  // namespace

Command register_studies(CLI::App& app) {
  auto o = std::make_shared<StudiesOptions>();
  CLI::App* cmd = app.add_subcommand("studies", "List the studies in a storage");
  add_storage_option(cmd, o->storage);
  add_format_option(cmd, o->format);
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli

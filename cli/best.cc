// bbo best: the best trial of a single-objective study, the Pareto front of a multi-objective one, and what
// the `auto` strategy chose for the study (its system attr strategy_choice).
#include <iostream>

#include "common.h"

namespace bbo::cli {
namespace {

struct BestOptions {
  StorageOption storage;
  FormatOption format;
  std::string study;
};

int run(const BestOptions& o) {
  OpenStudy s = open_study(o.storage.resolve(), o.study);
  std::vector<FrozenTrial> best = best_trials(*s.storage, s.info);
  if (best.empty())
    throw NotFoundError("study '" + o.study + "' has no COMPLETE feasible trial yet (" +
                        std::to_string(s.info.n_trials) + " trials)");
  Format f = o.format.format();
  // What the `auto` strategy chose and why (plugins/auto), when it has chosen.
  const json* choice = s.info.system_attrs.contains("strategy_choice") ? &s.info.system_attrs["strategy_choice"] : nullptr;
  if (f == Format::kJson && s.info.directions.size() == 1) {
    json j = to_json(best[0]);  // one trial: an object, not an array
    if (choice) j["strategy_choice"] = *choice;
    std::cout << j.dump(2) << '\n';
  } else {
    print_trials(std::cout, best, s.info.directions.size(), f, /*full=*/false);
    if (choice && f == Format::kTable)
      std::cout << "strategy auto chose " << choice->value("strategy", "?") << ": " << choice->value("reason", "") << '\n';
  }
  return kExitOk;
}

}  // namespace

Command register_best(CLI::App& app) {
  auto o = std::make_shared<BestOptions>();
  CLI::App* cmd = app.add_subcommand("best", "Show the best trial (the Pareto front for several directions)");
  add_storage_option(cmd, o->storage);
  add_format_option(cmd, o->format);
  cmd->add_option("--study", o->study, "Study name")->required();
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli

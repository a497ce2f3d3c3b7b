// bbo best: the best trial of a single-objective study, the Pareto front of a multi-objective one.
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
  if (f == Format::kJson && s.info.directions.size() == 1) {
    std::cout << to_json(best[0]).dump(2) << '\n';  // one trial: an object, not an array
  } else {
    print_trials(std::cout, best, s.info.directions.size(), f, /*full=*/false);
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

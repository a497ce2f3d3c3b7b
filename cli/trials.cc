// bbo trials: the trials of a study (optionally only some states).
#include <iostream>

#include "common.h"

namespace bbo::cli {
namespace {

struct TrialsOptions {
  StorageOption storage;
  FormatOption format;
  std::string study;
  std::vector<std::string> states;
};

int run(const TrialsOptions& o) {
  std::vector<TrialState> states;
  for (const auto& s : o.states) states.push_back(trial_state_from_string(s));
  OpenStudy s = open_study(o.storage.resolve(), o.study);
  std::vector<FrozenTrial> trials = s.storage->get_trials(s.info.id, states);
  Format f = o.format.format();
  if (trials.empty() && f == Format::kTable) {
    // An empty study is not an error for a listing; machine formats print an empty array / a header.
    std::cout << "Study '" << o.study << "' has no trials" << (states.empty() ? "" : " in the requested states")
              << '\n';
    return kExitOk;
  }
  print_trials(std::cout, trials, s.info.directions.size(), f, /*full=*/false);
  return kExitOk;
}

}  // namespace

Command register_trials(CLI::App& app) {
  auto o = std::make_shared<TrialsOptions>();
  CLI::App* cmd = app.add_subcommand("trials", "List the trials of a study");
  add_storage_option(cmd, o->storage);
  add_format_option(cmd, o->format);
  cmd->add_option("--study", o->study, "Study name")->required();
  cmd->add_option("--state", o->states, "Only trials in this state (running, waiting, complete, pruned, fail); "
                                        "repeatable");
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli

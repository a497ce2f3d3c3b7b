// bbo should-prune: asks the study's pruner about a running trial; exit code 10 means "prune it".
#include <iostream>

#include "common.h"

namespace bbo::cli {
namespace {

struct ShouldPruneOptions {
  StorageOption storage;
  FormatOption format{"json"};
  std::string study;
  int64_t trial = -1;
};

int run(const ShouldPruneOptions& o) {
  OpenStudy s = open_study(o.storage.resolve(), o.study);
  s.storage->get_trial_by_number(s.info.id, o.trial);  // NotFoundError for an unknown trial
  Study study = Study::load(o.study, s.storage);
  bool prune = study.should_prune(o.trial);
  std::cout << json{{"prune", prune}}.dump() << '\n';
  return prune ? kExitPruned : kExitOk;
}

}  // namespace

Command register_should_prune(CLI::App& app) {
  auto o = std::make_shared<ShouldPruneOptions>();
  CLI::App* cmd = app.add_subcommand(
      "should-prune", "Print {\"prune\": true|false}; exit code 10 when the trial should be pruned");
  add_storage_option(cmd, o->storage);
  add_format_option(cmd, o->format, {"json"});
  cmd->add_option("--study", o->study, "Study name")->required();
  cmd->add_option("--trial", o->trial, "Trial number")->required();
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli

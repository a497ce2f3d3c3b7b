// bbo delete-study: removes a study and all its trials.
#include <iostream>

#include "common.h"

namespace bbo::cli {
namespace {

struct DeleteStudyOptions {
  StorageOption storage;
  std::string study;
};

int run(const DeleteStudyOptions& o) {
  std::string url = o.storage.resolve();
  OpenStudy s = open_study(url, o.study);
  s.storage->delete_study(s.info.id);
  std::cout << "Deleted study '" << o.study << "' (" << s.info.n_trials << " trials) from " << redact_storage_url(url) << '\n';
  return kExitOk;
}

}  // namespace

Command register_delete_study(CLI::App& app) {
  auto o = std::make_shared<DeleteStudyOptions>();
  CLI::App* cmd = app.add_subcommand("delete-study", "Delete a study and all its trials");
  add_storage_option(cmd, o->storage);
  cmd->add_option("--study", o->study, "Study name")->required();
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli

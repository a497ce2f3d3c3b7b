// bbo import: copies one study of an Optuna 3.x SQLite database into bbo's storage (to warm-start from, or
// continue, an Optuna study): directions, study attrs and every trial with its params, distributions,
// values, state, times, intermediate values, constraints and attrs.
#include <iostream>

#include "common.h"
#include "optuna_rdb.h"

namespace bbo::cli {
namespace {

struct ImportOptions {
  StorageOption storage;
  std::string study;
  std::string as;
  std::string in_db;
};

int run(const ImportOptions& o) {
  const std::string url = o.storage.resolve();
  const std::string name = o.as.empty() ? o.study : o.as;
  if (name.empty()) throw UsageError("--as: the study name must not be empty");
  // Everything is read and checked before the first write.
  optuna_rdb::RdbStudy rdb = optuna_rdb::read_study(o.in_db, o.study);
  std::shared_ptr<Storage> storage = open_storage(url);
  if (storage->find_study(name))
    throw DuplicateError("study '" + name + "' already exists in " + url + " (use --as NEW_NAME)");

  int64_t study_id = storage->create_study(name, rdb.directions, rdb.system_attrs);
  try {
    for (const auto& [k, v] : rdb.user_attrs.items()) storage->set_study_user_attr(study_id, k, v);
    for (const FrozenTrial& t : rdb.trials) storage->create_trial(study_id, &t);
  } catch (...) {
    // One study is not one transaction: take the half-imported study away again.
    try {
      storage->delete_study(study_id);
    } catch (const std::exception&) {
    }
    throw;
  }
  std::cerr << "Imported " << rdb.trials.size() << " trials of Optuna study '" << o.study << "' from " << o.in_db
            << " as study '" << name << "'\n";
  return kExitOk;
}

}  // namespace

Command register_import(CLI::App& app) {
  auto o = std::make_shared<ImportOptions>();
  CLI::App* cmd = app.add_subcommand("import", "Import a study from an Optuna 3.x SQLite database");
  add_storage_option(cmd, o->storage);
  cmd->add_option("--study", o->study, "Name of the study in IN.db")->required();
  cmd->add_option("--as", o->as, "Name of the new bbo study (default: the same name)");
  cmd->add_option("IN.db", o->in_db, "The Optuna SQLite database to read")->required();
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli

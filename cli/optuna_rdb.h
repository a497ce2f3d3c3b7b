// cli/optuna_rdb.h — reading and writing one study in Optuna's RDB schema on SQLite, for `bbo export
// --format optuna` and `bbo import`.
//
// The file written is what Optuna 3.1's migrations leave (alembic revision v3.0.0.d, version_info schema 12,
// library "3.1.0"), so optuna.load_study and optuna-dashboard open it. The mapping:
//  - states RUNNING/WAITING/COMPLETE/PRUNED/FAIL map one to one; directions to MINIMIZE/MAXIMIZE.
//  - params: the internal value (a categorical's index) and the distribution in Optuna's JSON form, which is
//    bbo's canonical distribution JSON.
//  - values: ±inf as value_type INF_POS/INF_NEG with a NULL value. Optuna has no NaN objective value (it
//    fails such trials), so a trial with a NaN value is written as FAIL without values.
//  - intermediate values: objective 0 only (Optuna keeps one per step); ±inf and NaN by their value_type.
//  - constraints go into the trial system attr "constraints", as Optuna's samplers keep them.
//  - times: naive local time "YYYY-MM-DD HH:MM:SS.ffffff" as Optuna writes datetime.now(); heartbeats
//    (RUNNING trials) in UTC, as SQLite's CURRENT_TIMESTAMP that Optuna uses.
// Reading accepts any Optuna 3.x SQLite database (alembic revision "v3.*"), including distributions in
// Optuna 2's JSON forms (UniformDistribution, IntUniformDistribution, ...) that migrated databases may hold.
#pragma once

#include <string>
#include <vector>

#include "bbo/storage.h"
#include "bbo/trial.h"
#include "common.h"

namespace bbo::cli::optuna_rdb {

// One study with all its trials, as exchanged with an Optuna database. Trial ids and study ids are ignored
// on writing; on reading they are the Optuna database's.
struct RdbStudy {
  std::string name;
  std::vector<Direction> directions;
  json user_attrs = json::object();
  json system_attrs = json::object();
  std::vector<FrozenTrial> trials;  // sorted by number
};

// What writing had to leave out because Optuna's schema cannot hold it.
struct WriteReport {
  size_t dropped_intermediate_values = 0;  // objectives other than 0
  size_t nan_value_trials = 0;             // COMPLETE/PRUNED trials with a NaN value, written as FAIL
};

// Creates a new SQLite database at `path` holding `study` alone. `path` must not exist (the caller decides
// about overwriting); on any failure the partly written file is removed. Throws StorageError naming the
// path when SQLite fails.
WriteReport write_database(const std::string& path, const RdbStudy& study);

// Reads the study `name` from the Optuna SQLite database at `path` (opened read-only). Throws ValueError
// when the file is not an Optuna 3.x database or holds data bbo cannot represent (naming the trial and
// parameter), NotFoundError (listing the study names there) when it has no such study.
RdbStudy read_study(const std::string& path, const std::string& name);

}  // namespace bbo::cli::optuna_rdb

namespace bbo::cli {
// `bbo import` (import.cc); declared here rather than in common.h because it is the only command that reads
// Optuna databases.
Command register_import(CLI::App& app);
}  // namespace bbo::cli

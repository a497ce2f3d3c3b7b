// bbo export: every trial of a study with its full record, as JSON or CSV (to stdout or a file), or as an
// SQLite database in Optuna's RDB schema that optuna.load_study and optuna-dashboard open.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>

#include "common.h"
#include "optuna_rdb.h"

namespace bbo::cli {
namespace {

struct ExportOptions {
  StorageOption storage;
  FormatOption format;
  std::string study;
  std::string output;
  std::string out_db;  // positional: the Optuna database to write
  bool force = false;
};

// Writes the study to a temporary file next to `path`, then moves it into place: without --force a hard
// link (which fails if `path` appeared meanwhile), with it a rename. A failed export leaves nothing behind.
int export_optuna(const ExportOptions& o) {
  const std::string path = !o.out_db.empty() ? o.out_db : o.output;
  if (path.empty() || path == "-")
    throw UsageError("--format optuna needs the database to write: bbo export --format optuna ... OUT.db");
  if (!o.out_db.empty() && !o.output.empty() && o.output != o.out_db)
    throw UsageError("give the output database once (OUT.db or -o), not both");
  namespace fs = std::filesystem;
  if (!o.force && fs::exists(path)) throw ValueError("'" + path + "' already exists (use --force to overwrite)");
  if (fs::is_directory(path)) throw ValueError("'" + path + "' is a directory");

  OpenStudy s = open_study(o.storage.resolve(), o.study);
  optuna_rdb::RdbStudy rdb;
  rdb.name = s.info.name;
  rdb.directions = s.info.directions;
  rdb.user_attrs = s.info.user_attrs;
  rdb.system_attrs = s.info.system_attrs;
  rdb.trials = s.storage->get_trials(s.info.id);

  fs::path target(path);
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  if (!fs::is_directory(dir)) throw ValueError("'" + path + "': directory '" + dir.string() + "' does not exist");
  std::random_device rd;
  fs::path tmp = dir / ("." + target.filename().string() + ".bbo-export-" + std::to_string(rd()) + ".tmp");
  optuna_rdb::WriteReport report = optuna_rdb::write_database(tmp.string(), rdb);
  std::error_code ec;
  if (o.force) {
    fs::rename(tmp, target, ec);
    if (ec) {
      fs::remove(tmp);
      throw ValueError("'" + path + "': cannot write: " + ec.message());
    }
  } else {
    if (::link(tmp.c_str(), target.c_str()) != 0) {
      int err = errno;
      fs::remove(tmp, ec);
      if (err == EEXIST) throw ValueError("'" + path + "' already exists (use --force to overwrite)");
      throw ValueError("'" + path + "': cannot write: " + std::strerror(err));
    }
    fs::remove(tmp, ec);
  }
  std::cerr << "Exported " << rdb.trials.size() << " trials of study '" << o.study << "' to " << path
            << " (Optuna 3.1 schema)\n";
  if (report.dropped_intermediate_values > 0)
    std::cerr << "Note: " << report.dropped_intermediate_values
              << " intermediate values of objectives other than 0 were left out (Optuna keeps one per step)\n";
  if (report.nan_value_trials > 0)
    std::cerr << "Note: " << report.nan_value_trials
              << " trials with a NaN value were written as FAIL (Optuna has no NaN objective values)\n";
  return kExitOk;
}

int run(const ExportOptions& o) {
  if (o.format.name == "optuna") return export_optuna(o);
  if (!o.out_db.empty()) throw UsageError("a positional OUT.db is only for --format optuna (use -o FILE)");
  if (o.force) throw UsageError("--force is only for --format optuna");
  OpenStudy s = open_study(o.storage.resolve(), o.study);
  std::vector<FrozenTrial> trials = s.storage->get_trials(s.info.id);
  std::ostringstream text;
  if (o.format.format() == Format::kCsv) {
    print_csv(text, trials_table(trials, s.info.directions.size(), /*full=*/true));
  } else {
    json dirs = json::array();
    for (auto d : s.info.directions) dirs.push_back(to_string(d));
    json arr = json::array();
    for (const auto& t : trials) arr.push_back(to_json(t));
    json doc = {{"study",
                 {{"name", s.info.name},
                  {"directions", dirs},
                  {"user_attrs", s.info.user_attrs},
                  {"system_attrs", s.info.system_attrs},
                  {"datetime_start", s.info.datetime_start_us ? json(format_time_us(s.info.datetime_start_us))
                                                              : json()}}},
                {"trials", arr}};
    text << doc.dump(2) << '\n';
  }
  if (o.output.empty() || o.output == "-") {
    std::cout << text.str();
    return kExitOk;
  }
  std::ofstream out(o.output, std::ios::binary | std::ios::trunc);
  if (!out) throw ValueError("-o: cannot open '" + o.output + "' for writing");
  out << text.str();
  out.close();
  if (!out) throw ValueError("-o: failed writing '" + o.output + "'");
  std::cerr << "Exported " << trials.size() << " trials of study '" << o.study << "' to " << o.output << '\n';
  return kExitOk;
}

}  // namespace

Command register_export(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  o->format.name = "json";
  CLI::App* cmd =
      app.add_subcommand("export", "Export all trials of a study with full records, or as an Optuna database");
  add_storage_option(cmd, o->storage);
  add_format_option(cmd, o->format, {"json", "csv", "optuna"});
  cmd->add_option("--study", o->study, "Study name")->required();
  cmd->add_option("-o,--output", o->output, "Write to this file instead of stdout");
  cmd->add_option("OUT.db", o->out_db, "--format optuna: the SQLite file to create (Optuna 3.1 RDB schema)");
  cmd->add_flag("--force", o->force, "--format optuna: overwrite an existing OUT.db");
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli

// cli/common.h — what every `bbo` command shares: option registration, storage resolution, value parsing
// and output formatting (table, JSON, CSV).
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "bbo/error.h"
#include "bbo/space.h"
#include "bbo/storage.h"
#include "bbo/study.h"
#include "bbo/trial.h"

namespace bbo::cli {

// A command-line mistake the argument parser cannot see (a required option that may also come from a study
// file, --value together with --state, ...): reported like a parse error, exit code kExitUsage.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Format { kTable, kJson, kCsv };

// Options shared by the commands that touch a storage.
struct StorageOption {
  std::string url;  // empty: not given on the command line
  // The URL to open: --storage, else BBO_STORAGE, else `fallback` (a study file's storage). Throws
  // UsageError when there is none.
  std::string resolve(const std::string& fallback = "") const;
};

struct FormatOption {
  std::string name = "table";
  Format format() const;
};

// Adds --storage URL to `cmd`.
void add_storage_option(CLI::App* cmd, StorageOption& opt);
// Adds --format table|json|csv (restricted to `allowed`) to `cmd`.
void add_format_option(CLI::App* cmd, FormatOption& opt,
                       const std::vector<std::string>& allowed = {"table", "json", "csv"});

// A registered command: the parser's subcommand and what runs once it has parsed. run() returns the exit code.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// One registration function per command file.
Command register_create_study(CLI::App& app);
Command register_studies(CLI::App& app);
Command register_delete_study(CLI::App& app);
Command register_trials(CLI::App& app);
Command register_best(CLI::App& app);
Command register_ask(CLI::App& app);
Command register_tell(CLI::App& app);
Command register_report(CLI::App& app);
Command register_should_prune(CLI::App& app);
Command register_export(CLI::App& app);
Command register_plugins(CLI::App& app);
Command register_heartbeat(CLI::App& app);   // heartbeat.cc
Command register_fail_stale(CLI::App& app);  // heartbeat.cc
Command register_importance(CLI::App& app);  // importance.cc
Command register_dashboard(CLI::App& app);   // dashboard.cc
Command register_plot(CLI::App& app);        // plot.cc

// ---- parsing helpers

// Parses a JSON option value; throws ConfigError naming `option` ("--search-space: invalid JSON: ...").
json parse_json_option(const std::string& text, const std::string& option);
// Parses a JSON search space (Optuna's form or the short form); ConfigError/ValueError naming `option`.
SearchSpace parse_search_space_option(const std::string& text, const std::string& option);
// Parses a number for `option`: decimal/scientific notation, "inf", "-inf", "+inf", "nan" (any case).
// Throws ValueError naming the option for anything else.
double parse_double(const std::string& text, const std::string& option);

// Opens the storage at `url` and the named study's record; throws NotFoundError when the study is absent.
struct OpenStudy {
  std::shared_ptr<Storage> storage;
  StudyInfo info;
};
OpenStudy open_study(const std::string& url, const std::string& name);

// The best trials of a study, read from storage (so no plugin is needed): for one direction the single best
// COMPLETE feasible trial (the lowest number among ties), for several the Pareto front in number order.
// Empty when the study has no COMPLETE feasible trial.
std::vector<FrozenTrial> best_trials(Storage& storage, const StudyInfo& info);

// ---- output helpers

// A table: a header and rows of cells, printed with aligned columns ("table"), as CSV, or turned into JSON
// by the caller.
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};
void print_table(std::ostream& out, const Table& t);
void print_csv(std::ostream& out, const Table& t);
std::string csv_escape(const std::string& cell);

// Number formatting for tables and CSV: shortest round-tripping decimal, "inf", "-inf", "nan".
std::string format_double(double v);
// A JSON value as a cell: strings bare, everything else dumped.
std::string json_cell(const json& j);
// Directions as "minimize,maximize".
std::string format_directions(const std::vector<Direction>& d);

// A number for JSON output: finite numbers as numbers, non-finite as "inf", "-inf", "nan".
json number_json(double v);

// The trial columns shared by `trials`, `best` and `export`: number, state, value(s), params_<name>...,
// datetime_start, datetime_complete, duration_s; `full` adds constraints, user_attrs_<k>, system_attrs_<k>
// and intermediate values.
Table trials_table(const std::vector<FrozenTrial>& trials, size_t n_objectives, bool full);

// Prints trials in the chosen format: JSON array of bbo::to_json records, CSV, or an aligned table.
void print_trials(std::ostream& out, const std::vector<FrozenTrial>& trials, size_t n_objectives, Format f,
                  bool full);

}  // namespace bbo::cli

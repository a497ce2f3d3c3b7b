// sqlite_storage.h — the embedded backend ("sqlite:///path/to/file.db").
//
// Many processes (and threads) may share one database file. The file is opened in WAL mode with
// synchronous=NORMAL (FULL on request) and a busy timeout; every write is one BEGIN IMMEDIATE transaction,
// retried while another process holds the write lock, so trial numbers are assigned without gaps or
// duplicates across processes. One object owns one connection; a mutex serializes its use from several
// threads. Prepared statements are cached per connection.
//
// Schema: version 1 (table schema_version). Opening a file written by an older bbo migrates it forward in
// one transaction; a file with a newer schema is refused with StorageError. Doubles that SQLite cannot keep
// (NaN becomes NULL in a REAL column) are stored explicitly: see sqlite_storage.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bbo/storage.h"
#include "../common/sql_encoding.h"

struct sqlite3;
struct sqlite3_stmt;

namespace bbo {

struct SqliteOptions {
  bool synchronous_full = false;  // synchronous=FULL instead of NORMAL
  int timeout_ms = 60000;         // how long a write waits for the lock held by another connection
};

class SqliteStorage final : public Storage {
 public:
  // The schema version this build writes.
  static constexpr int kSchemaVersion = 1;

  // Opens (creating if needed) the database at `path`. `url` is kept for url() and error messages.
  // Throws StorageError naming the URL when the file cannot be opened, is not a database, or has a newer
  // schema.
  SqliteStorage(const std::string& path, const SqliteOptions& options, const std::string& url);
  ~SqliteStorage() override;
  SqliteStorage(const SqliteStorage&) = delete;
  SqliteStorage& operator=(const SqliteStorage&) = delete;

  std::string url() const override { return url_; }

  int64_t create_study(const std::string& name, const std::vector<Direction>& directions,
                       const json& system_attrs) override;
  std::optional<StudyInfo> find_study(const std::string& name) override;
  StudyInfo get_study(int64_t study_id) override;
  std::vector<StudyInfo> list_studies() override;
  void delete_study(int64_t study_id) override;
  void set_study_user_attr(int64_t study_id, const std::string& key, const json& value) override;
  void set_study_system_attr(int64_t study_id, const std::string& key, const json& value) override;

  FrozenTrial create_trial(int64_t study_id, const FrozenTrial* tmpl = nullptr) override;
  std::optional<FrozenTrial> claim_waiting_trial(int64_t study_id) override;
  void set_trial_param(int64_t trial_id, const std::string& name, double internal,
                       const Distribution& d) override;
  void set_trial_intermediate_value(int64_t trial_id, int64_t step, int objective, double value) override;
  void set_trial_user_attr(int64_t trial_id, const std::string& key, const json& value) override;
  void set_trial_system_attr(int64_t trial_id, const std::string& key, const json& value) override;
  void finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values,
                    const std::vector<double>& constraints) override;
  void heartbeat(int64_t trial_id) override;
  std::vector<int64_t> fail_stale_trials(int64_t study_id, double grace_seconds) override;

  FrozenTrial get_trial(int64_t trial_id) override;
  FrozenTrial get_trial_by_number(int64_t study_id, int64_t number) override;
  std::vector<FrozenTrial> get_trials(int64_t study_id, const std::vector<TrialState>& states = {}) override;
  TrialsDelta get_trials_since(int64_t study_id, int64_t since_version) override;
  int64_t count_trials(int64_t study_id, const std::vector<TrialState>& states = {}) override;

  PluginState get_plugin_state(int64_t study_id, const std::string& key) override;
  bool compare_and_swap_plugin_state(int64_t study_id, const std::string& key, int64_t expected_version,
                                     const std::string& blob) override;

  // The schema version stored in the file (for tests and `bbo` diagnostics).
  int schema_version();

 private:
  class Stmt;
  struct TrialRow;

  sqlite3_stmt* prepare(const char* sql);
  void exec(const char* sql);
  [[noreturn]] void fail(int rc, const std::string& what);
  void check(int rc, const char* what);
  void open_and_migrate(const std::string& path);

  template <class F>
  auto write_tx(F&& body);
  template <class F>
  auto read_tx(F&& body);
  void begin(const char* sql);
  void commit();
  void rollback() noexcept;

  // Helpers used inside transactions.
  void require_study(int64_t study_id);
  StudyInfo study_from_row(sqlite3_stmt* st);
  // Locks the trial for writing: returns {study_id, number}; throws NotFoundError / TrialStateError.
  std::pair<int64_t, int64_t> running_trial(int64_t trial_id, const std::string& what);
  int64_t bump_version(int64_t study_id);
  void set_trial_version(int64_t trial_id, int64_t version);
  // Loads trials selected by `where` (a clause on table t with ?1 = study or trial id, ?2 = extra int).
  std::vector<FrozenTrial> load_trials(const char* trials_sql, const char* params_sql,
                                       const char* inter_sql, int64_t a, int64_t b);
  const Distribution& parse_distribution(const std::string& text, const std::string& name);
  json parse_json(const char* text, const char* what);

  std::string url_;
  SqliteOptions options_;
  std::recursive_mutex mu_;
  sqlite3* db_ = nullptr;
  std::unordered_map<const char*, sqlite3_stmt*> stmts_;  // keyed by the SQL literal's address
  storage_internal::DistributionCache dist_cache_;
};

}  // namespace bbo

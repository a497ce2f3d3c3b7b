// postgres_storage.h — the networked backend ("postgresql://user:pass@host:port/db", also "postgres://").
//
// Many processes on many machines may share one database. The URL is handed to libpq as is, so every libpq
// URI form and query option works (sslmode, connect_timeout, options, ...); a connect_timeout of 10 s applies
// unless the URL sets its own.
//
// Guarantees (on top of bbo/storage.h):
//  - Every operation is one transaction. Trial numbers come from a per-study counter row incremented with
//    UPDATE ... RETURNING inside the insert transaction: the row lock serializes creators, so numbers have
//    no gaps or duplicates under any concurrency.
//  - claim_waiting_trial locks the trial with SELECT ... FOR UPDATE SKIP LOCKED: two workers never run the
//    same trial, and a worker never waits for another's claim.
//  - Start, completion and heartbeat times are taken from the database clock (clock_timestamp()), so
//    fail_stale_trials compares heartbeats written by machines whose clocks disagree on one clock.
//  - Round trips are few: the hot writes (create_trial without a template, claim, set param, intermediate
//    value, heartbeat, finish) are each one statement in autocommit that locks the trial, checks that it is
//    RUNNING and bumps the study version; trial reads send BEGIN, their queries and COMMIT in one pipeline.
//  - Serialization failures and deadlocks are retried (with backoff). A connection that the server closed
//    while idle (restart, pg_terminate_backend) is noticed before anything is sent and reopened. When the
//    connection breaks during an operation, the object reconnects once and retries when that is safe:
//    always when the loss happened before COMMIT was sent (the server rolled the transaction back), and when
//    the commit may have happened, only for reads and idempotent writes (params, intermediate values, attrs,
//    heartbeats). Otherwise a StorageError says that the connection was lost while committing and that the
//    write may or may not have been applied.
//  - One object owns one connection; a mutex serializes its use from several threads. Statements are
//    prepared once per connection (PQprepare) and prepared again after a reconnect.
//
// Schema: version 1 (table schema_version), created on first open under an advisory lock so that processes
// opening a fresh database at once do not race. Older schemas are migrated forward in one transaction; a
// newer one is refused with StorageError. Doubles are DOUBLE PRECISION columns (which keep NaN and ±inf);
// objective values and constraints are JSON text arrays with "nan"/"inf"/"-inf" strings, as in SQLite.
// Error messages name the URL with its password replaced by "***".
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "bbo/storage.h"
#include "../common/sql_encoding.h"

struct pg_conn;
struct pg_result;

namespace bbo {

class PostgresStorage final : public Storage {
 public:
  // The schema version this build writes.
  static constexpr int kSchemaVersion = 1;

  // Connects to `url` and creates or migrates the schema. Throws StorageError naming the (redacted) URL when
  // the server cannot be reached, refuses the login, or holds a newer schema.
  explicit PostgresStorage(const std::string& url);
  ~PostgresStorage() override;
  PostgresStorage(const PostgresStorage&) = delete;
  PostgresStorage& operator=(const PostgresStorage&) = delete;

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

  // The schema version stored in the database (for tests and diagnostics).
  int schema_version();
  // How many times this object has reconnected after losing its connection (for tests and diagnostics).
  int reconnects() const { return reconnects_.load(); }

 private:
  class Result;
  struct Param;
  struct Query;

  void connect();
  void disconnect() noexcept;
  void migrate();
  Result run(const char* sql, std::initializer_list<Param> params);
  // The name of `sql`'s prepared statement on this connection, preparing it the first time.
  const std::string& prepare(const char* sql);
  // Runs `queries` as one read-only REPEATABLE READ transaction in one round trip (libpq pipeline mode:
  // BEGIN, the queries and COMMIT are sent together). For Tx::kPipelined bodies.
  std::vector<Result> read_batch(const std::vector<Query>& queries);
  void exec(const char* sql);
  [[noreturn]] void fail(pg_result* res, const std::string& what);

  // kRead: a REPEATABLE READ READ ONLY transaction; kWrite: a READ COMMITTED transaction; kSingle: `body` runs
  // exactly one statement, in autocommit (one round trip instead of three).
  // kPipelined: `body` calls read_batch once, which brings its own BEGIN and COMMIT.
  enum class Tx { kRead, kWrite, kSingle, kPipelined };
  // Runs `body` in one transaction: retried on serialization failures and deadlocks; on a lost connection,
  // reconnects and retries once when safe (see the header comment; `idempotent` allows it after COMMIT).
  template <class F>
  auto transaction(Tx mode, bool idempotent, F&& body);
  // Explains why a single-statement write to a RUNNING trial changed nothing: NotFoundError or TrialStateError.
  [[noreturn]] void trial_not_writable(int64_t trial_id, const std::string& what);

  void require_study(int64_t study_id);
  std::pair<int64_t, int64_t> running_trial(int64_t trial_id, const std::string& what);
  int64_t bump_version(int64_t study_id);
  StudyInfo study_from_row(const Result& r, int row);
  std::vector<FrozenTrial> build_trials(const Result& trials, const Result& params, const Result& inter);
  std::vector<FrozenTrial> load_trials(const char* trials_sql, const char* params_sql, const char* inter_sql,
                                       int64_t a, std::optional<int64_t> b);
  const Distribution& parse_distribution(const std::string& text, const std::string& name);
  json parse_json(const char* text, const char* what);
  void set_trial_attr(int64_t trial_id, const char* column, const std::string& key, const json& value);
  void set_study_attr(int64_t study_id, const char* column, const std::string& key, const json& value);

  std::string url_;
  std::string shown_url_;  // url_ with the password hidden, for messages
  std::recursive_mutex mu_;
  pg_conn* conn_ = nullptr;
  std::unordered_map<const char*, std::string> prepared_;  // SQL literal address -> statement name
  storage_internal::DistributionCache dist_cache_;
  std::atomic<int> reconnects_{0};
  bool server_closing_ = false;  // the server sent a FATAL error on the idle connection
};

}  // namespace bbo

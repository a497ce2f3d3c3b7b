#include "postgres/postgres_storage.h"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <thread>
#include <type_traits>

#include "bbo/error.h"

namespace bbo {
namespace {

// Trial states are stored as small integers; the mapping is part of the schema (never renumber). It is the
// same as SQLite's.
int state_code(TrialState s) {
  switch (s) {
    case TrialState::kRunning: return 0;
    case TrialState::kWaiting: return 1;
    case TrialState::kComplete: return 2;
    case TrialState::kPruned: return 3;
    case TrialState::kFail: return 4;
  }
  return -1;
}

TrialState state_from_code(int64_t c) {
  switch (c) {
    case 0: return TrialState::kRunning;
    case 1: return TrialState::kWaiting;
    case 2: return TrialState::kComplete;
    case 3: return TrialState::kPruned;
    case 4: return TrialState::kFail;
  }
  throw StorageError("corrupt trial state code " + std::to_string(c));
}

const char* state_name(TrialState s) {
  switch (s) {
    case TrialState::kRunning: return "RUNNING";
    case TrialState::kWaiting: return "WAITING";
    case TrialState::kComplete: return "COMPLETE";
    case TrialState::kPruned: return "PRUNED";
    case TrialState::kFail: return "FAIL";
  }
  return "UNKNOWN";
}

int64_t state_mask(const std::vector<TrialState>& states) {
  if (states.empty()) return 0x1f;
  int64_t m = 0;
  for (TrialState s : states) m |= int64_t{1} << state_code(s);
  return m;
}

std::string encode_directions(const std::vector<Direction>& d) {
  json a = json::array();
  for (Direction x : d) a.push_back(x == Direction::kMinimize ? "minimize" : "maximize");
  return a.dump();
}

std::vector<Direction> decode_directions(const json& a) {
  std::vector<Direction> out;
  for (const json& x : a) {
    out.push_back(x.get<std::string>() == "maximize" ? Direction::kMaximize : Direction::kMinimize);
  }
  return out;
}

// Objective values and constraints: a JSON text array with non-finite values as "inf", "-inf" and "nan"
// (the SQLite encoding, so that a study can be copied between backends as text).
std::string encode_doubles(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) {
    if (std::isnan(x)) {
      a.push_back("nan");
    } else if (std::isinf(x)) {
      a.push_back(x > 0 ? "inf" : "-inf");
    } else {
      a.push_back(x);
    }
  }
  return a.dump();
}

std::vector<double> decode_doubles(const json& a) {
  std::vector<double> out;
  out.reserve(a.size());
  for (const json& x : a) {
    if (x.is_number()) {
      out.push_back(x.get<double>());
    } else if (x.is_string() && x.get_ref<const std::string&>() == "inf") {
      out.push_back(std::numeric_limits<double>::infinity());
    } else if (x.is_string() && x.get_ref<const std::string&>() == "-inf") {
      out.push_back(-std::numeric_limits<double>::infinity());
    } else {
      out.push_back(std::numeric_limits<double>::quiet_NaN());
    }
  }
  return out;
}

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// Parameters are sent as text. float8in reads "NaN", "Infinity" and "-Infinity"; finite values use the
// shortest text that reads back to the same double.
std::string double_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// Hides the password of a URL ("postgresql://user:secret@host/db" -> "postgresql://user:***@host/db").
std::string redact(const std::string& url) {
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t start = scheme + 3;
  size_t at = url.find('@', start);
  size_t slash = url.find('/', start);
  if (at == std::string::npos || (slash != std::string::npos && slash < at)) {
    // A password may also be given as a query option.
    size_t pw = url.find("password=");
    if (pw == std::string::npos) return url;
    size_t end = url.find('&', pw);
    return url.substr(0, pw) + "password=***" + (end == std::string::npos ? "" : url.substr(end));
  }
  size_t colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

// Sleeps a little longer after each failed attempt, with jitter so that competing workers spread out.
void backoff(int attempt) {
  thread_local std::minstd_rand rng(std::random_device{}());
  int cap = std::min(50, 1 << std::min(attempt, 6));
  std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % (static_cast<unsigned>(cap) * 1000)));
}

// A serialization failure or deadlock: the whole transaction is retried.
class PgRetry : public StorageError {
 public:
  using StorageError::StorageError;
};

// The connection broke during an operation (the caller decides whether retrying is safe).
class PgConnectionLost : public StorageError {
 public:
  using StorageError::StorageError;
};

// The database clock in microseconds since the epoch (clock_timestamp() moves within a transaction).
#define BBO_PG_NOW "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000)::bigint"

// Schema version 1: the SQLite schema in PostgreSQL types. Doubles are DOUBLE PRECISION (NaN and ±inf are
// kept natively); blobs are BYTEA; times are microseconds since the epoch (BIGINT).
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  directions TEXT NOT NULL,
  user_attrs TEXT NOT NULL DEFAULT '{}',
  system_attrs TEXT NOT NULL DEFAULT '{}',
  n_trials BIGINT NOT NULL DEFAULT 0,
  trials_version BIGINT NOT NULL DEFAULT 0,
  created BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
  id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  study_id BIGINT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
  number BIGINT NOT NULL,
  state INTEGER NOT NULL,
  objective_values TEXT NOT NULL DEFAULT '[]',
  constraint_values TEXT NOT NULL DEFAULT '[]',
  user_attrs TEXT NOT NULL DEFAULT '{}',
  system_attrs TEXT NOT NULL DEFAULT '{}',
  datetime_start BIGINT,
  datetime_complete BIGINT,
  heartbeat BIGINT,
  version BIGINT NOT NULL,
  UNIQUE (study_id, number)
);
CREATE INDEX IF NOT EXISTS trials_study_state ON trials (study_id, state, number);
CREATE INDEX IF NOT EXISTS trials_study_version ON trials (study_id, version);
CREATE TABLE IF NOT EXISTS trial_params (
  trial_id BIGINT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  internal DOUBLE PRECISION NOT NULL,
  distribution TEXT NOT NULL,
  PRIMARY KEY (trial_id, name)
);
CREATE TABLE IF NOT EXISTS trial_intermediate (
  trial_id BIGINT NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
  step BIGINT NOT NULL,
  objective INTEGER NOT NULL,
  value DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (trial_id, step, objective)
);
CREATE TABLE IF NOT EXISTS plugin_state (
  study_id BIGINT NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  version BIGINT NOT NULL,
  blob BYTEA NOT NULL,
  PRIMARY KEY (study_id, key)
);
)sql";

// kMigrations[i] upgrades a database from version i + 1 to version i + 2, inside the opening transaction. A
// new schema version appends its migration here and bumps kSchemaVersion.
constexpr std::array<const char*, PostgresStorage::kSchemaVersion - 1> kMigrations{};

// Any constant: the advisory lock that serializes schema creation and migration between processes.
constexpr const char* kSchemaLockSql = "SELECT pg_advisory_xact_lock(7262011)";

#define BBO_TRIAL_COLUMNS                                                                             \
  "t.id, t.study_id, t.number, t.state, t.objective_values, t.constraint_values, t.user_attrs, " \
  "t.system_attrs, t.datetime_start, t.datetime_complete, t.heartbeat"
#define BBO_STUDY_COLUMNS "id, name, directions, user_attrs, system_attrs, n_trials, created"

// The head of a single-statement write to a RUNNING trial ($1 = trial id): `t` locks the trial when it is
// RUNNING (state code 0) and `v` takes the study's next version (trial row first, then study row: the lock
// order of every write). When the trial is missing or not RUNNING, `t` is empty and the statement writes
// nothing; the caller then explains why (trial_not_writable).
#define BBO_PG_LOCK_RUNNING                                                                          \
  "WITH t AS (SELECT id, study_id FROM trials WHERE id = $1 AND state = 0 FOR UPDATE), "            \
  "v AS (UPDATE studies s SET trials_version = s.trials_version + 1 FROM t WHERE s.id = t.study_id " \
  "RETURNING s.trials_version AS version) "

constexpr const char* kTrialByIdSql = "SELECT " BBO_TRIAL_COLUMNS " FROM trials t WHERE t.id = $1";
constexpr const char* kParamsByIdSql =
    "SELECT trial_id, name, internal, distribution FROM trial_params WHERE trial_id = $1";
constexpr const char* kInterByIdSql =
    "SELECT trial_id, step, objective, value FROM trial_intermediate WHERE trial_id = $1";

}  // namespace

// ---- parameters and results

struct PostgresStorage::Param {
  std::optional<std::string> text;  // nullopt: NULL
  bool binary = false;

  Param(int64_t v) : text(std::to_string(v)) {}  // NOLINT: implicit on purpose, keeps call sites short
  Param(int v) : text(std::to_string(v)) {}      // NOLINT
  Param(double v) : text(double_text(v)) {}      // NOLINT
  Param(bool v) : text(v ? "true" : "false") {}  // NOLINT
  Param(const std::string& v) : text(v) {}       // NOLINT
  Param(const char* v) : text(std::string(v)) {}  // NOLINT
  Param(std::nullopt_t) {}                        // NOLINT
  Param(const std::optional<int64_t>& v) {        // NOLINT
    if (v) text = std::to_string(*v);
  }
  static Param bytes(const std::string& v) {
    Param p(v);
    p.binary = true;
    return p;
  }
};

struct PostgresStorage::Query {
  const char* sql;
  std::vector<Param> params;
};

class PostgresStorage::Result {
 public:
  explicit Result(PGresult* r) : r_(r) {}
  ~Result() {
    if (r_) PQclear(r_);
  }
  Result(Result&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  Result& operator=(Result&&) = delete;

  int rows() const { return PQntuples(r_); }
  int64_t affected() const {
    const char* n = PQcmdTuples(r_);
    return n && *n ? std::strtoll(n, nullptr, 10) : 0;
  }
  bool is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
  const char* cstr(int row, int col) const { return PQgetvalue(r_, row, col); }
  std::string text(int row, int col) const {
    return std::string(PQgetvalue(r_, row, col), static_cast<size_t>(PQgetlength(r_, row, col)));
  }
  int64_t i64(int row, int col) const { return std::strtoll(PQgetvalue(r_, row, col), nullptr, 10); }
  std::optional<int64_t> opt(int row, int col) const {
    return is_null(row, col) ? std::nullopt : std::optional<int64_t>(i64(row, col));
  }
  // strtod reads the server's "NaN", "Infinity" and "-Infinity".
  double dbl(int row, int col) const { return std::strtod(PQgetvalue(r_, row, col), nullptr); }
  std::string bytea(int row, int col) const {
    size_t n = 0;
    unsigned char* p = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_, row, col)), &n);
    if (!p) throw StorageError("cannot decode a BYTEA value");
    std::string out(reinterpret_cast<const char*>(p), n);
    PQfreemem(p);
    return out;
  }

 private:
  PGresult* r_;
};

// ---- connection

PostgresStorage::PostgresStorage(const std::string& url) : url_(url), shown_url_(redact(url)) {
  connect();
  try {
    migrate();
  } catch (const StorageError& e) {
    disconnect();
    std::string what = e.what();
    if (what.find("cannot open storage") == std::string::npos) {
      throw StorageError("cannot open storage '" + shown_url_ + "': " + what);
    }
    throw;
  } catch (...) {
    disconnect();
    throw;
  }
}

PostgresStorage::~PostgresStorage() { disconnect(); }

void PostgresStorage::disconnect() noexcept {
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  prepared_.clear();
}

void PostgresStorage::connect() {
  disconnect();
  // The URL comes last so that its own options win over these defaults.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {"10", "bbo", url_.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
    std::string detail = conn_ ? PQerrorMessage(conn_) : "out of memory";
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
    for (char& c : detail) {
      if (c == '\n') c = ' ';
    }
    disconnect();
    throw StorageError("cannot open storage '" + shown_url_ + "': " + detail);
  }
  // Notices (e.g. "relation already exists, skipping") are not errors; keep them off stderr. libpq also
  // hands over as a notice the FATAL error that a server sends before closing an idle connection
  // (pg_terminate_backend, shutdown): remember it, so that the next operation reconnects first.
  server_closing_ = false;
  PQsetNoticeReceiver(
      conn_,
      [](void* self, const PGresult* res) {
        const char* severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
        if (severity && (std::strcmp(severity, "FATAL") == 0 || std::strcmp(severity, "PANIC") == 0)) {
          static_cast<PostgresStorage*>(self)->server_closing_ = true;
        }
      },
      this);
  exec("SET extra_float_digits = 3");
}

void PostgresStorage::fail(PGresult* res, const std::string& what) {
  std::string detail = res ? PQresultErrorMessage(res) : "";
  if (detail.empty() && conn_) detail = PQerrorMessage(conn_);
  while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
  for (char& c : detail) {
    if (c == '\n') c = ' ';
  }
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string sqlstate = state ? state : "";
  if (res) PQclear(res);
  std::string msg = "storage '" + shown_url_ + "': " + what + ": " + detail;
  // 08xxx: connection exceptions; 57P01-3: the server is shutting down or restarting.
  if (!conn_ || PQstatus(conn_) == CONNECTION_BAD || sqlstate.rfind("08", 0) == 0 || sqlstate == "57P01" ||
      sqlstate == "57P02" || sqlstate == "57P03") {
    throw PgConnectionLost(msg);
  }
  if (sqlstate == "40001" || sqlstate == "40P01") throw PgRetry(msg);
  throw StorageError(msg);
}

void PostgresStorage::exec(const char* sql) {
  PGresult* res = PQexec(conn_, sql);
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    fail(res, std::string("cannot execute ") + std::string(sql).substr(0, 40));
  }
  PQclear(res);
}

const std::string& PostgresStorage::prepare(const char* sql) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "bbo" + std::to_string(prepared_.size());
    PGresult* res = PQprepare(conn_, name.c_str(), sql, 0, nullptr);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
      fail(res, std::string("cannot prepare statement: ") + sql);
    }
    PQclear(res);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  return it->second;
}

namespace {

// libpq's parameter arrays for one statement (text format, except bytes).
struct ParamArrays {
  static constexpr size_t kMax = 16;
  std::array<const char*, kMax> values{};
  std::array<int, kMax> lengths{};
  std::array<int, kMax> formats{};
  int n = 0;
};

}  // namespace

PostgresStorage::Result PostgresStorage::run(const char* sql, std::initializer_list<Param> params) {
  const std::string& name = prepare(sql);
  ParamArrays a;
  if (params.size() > ParamArrays::kMax) throw StorageError("too many statement parameters");
  for (const Param& p : params) {
    a.values[a.n] = p.text ? p.text->data() : nullptr;
    a.lengths[a.n] = p.text ? static_cast<int>(p.text->size()) : 0;
    a.formats[a.n] = p.binary ? 1 : 0;
    ++a.n;
  }
  PGresult* res =
      PQexecPrepared(conn_, name.c_str(), a.n, a.values.data(), a.lengths.data(), a.formats.data(), 0);
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) fail(res, "statement failed");
  return Result(res);
}

std::vector<PostgresStorage::Result> PostgresStorage::read_batch(const std::vector<Query>& queries) {
  std::vector<const std::string*> names;
  for (const Query& q : queries) names.push_back(&prepare(q.sql));
  auto lost = [&](const char* what) {
    // The pipeline cannot be resumed: drop the connection (the transaction retries on a new one).
    std::string detail = conn_ ? PQerrorMessage(conn_) : "";
    while (!detail.empty() && (detail.back() == '\n' || detail.back() == ' ')) detail.pop_back();
    for (char& c : detail) {
      if (c == '\n') c = ' ';
    }
    disconnect();
    throw PgConnectionLost("storage '" + shown_url_ + "': " + what + ": " + detail);
  };
  if (!PQenterPipelineMode(conn_)) lost("cannot enter pipeline mode");
  bool sent = PQsendQueryParams(conn_, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, nullptr, nullptr,
                                nullptr, nullptr, 0) == 1;
  for (size_t k = 0; sent && k < queries.size(); ++k) {
    ParamArrays a;
    if (queries[k].params.size() > ParamArrays::kMax) throw StorageError("too many statement parameters");
    for (const Param& p : queries[k].params) {
      a.values[a.n] = p.text ? p.text->data() : nullptr;
      a.lengths[a.n] = p.text ? static_cast<int>(p.text->size()) : 0;
      a.formats[a.n] = p.binary ? 1 : 0;
      ++a.n;
    }
    sent = PQsendQueryPrepared(conn_, names[k]->c_str(), a.n, a.values.data(), a.lengths.data(),
                               a.formats.data(), 0) == 1;
  }
  sent = sent && PQsendQueryParams(conn_, "COMMIT", 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
  sent = sent && PQpipelineSync(conn_) == 1;
  if (!sent) lost("cannot send a read");

  // Each command yields its result, then a null; the sync point ends the pipeline. After an error the later
  // commands come back PGRES_PIPELINE_ABORTED and the transaction is left failed (rolled back by the caller).
  std::vector<Result> out;
  PGresult* first_error = nullptr;
  const size_t commands = queries.size() + 2;
  for (size_t k = 0; k < commands; ++k) {
    PGresult* r = PQgetResult(conn_);
    if (!r || PQstatus(conn_) == CONNECTION_BAD) {
      if (r) PQclear(r);
      if (first_error) PQclear(first_error);
      lost("connection lost during a read");
    }
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_FATAL_ERROR && !first_error) {
      first_error = r;
    } else if (k >= 1 && k <= queries.size() && st == PGRES_TUPLES_OK) {
      out.emplace_back(r);
    } else {
      PQclear(r);
    }
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
  }
  PGresult* sync = PQgetResult(conn_);
  bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
  if (sync) PQclear(sync);
  if (!synced || !PQexitPipelineMode(conn_)) {
    if (first_error) PQclear(first_error);
    lost("the server answered a read out of order");
  }
  if (first_error) fail(first_error, "statement failed");
  if (out.size() != queries.size()) throw StorageError("storage '" + shown_url_ + "': a read returned no rows");
  return out;
}

template <class F>
auto PostgresStorage::transaction(Tx mode, bool idempotent, F&& body) {
  std::lock_guard lock(mu_);
  const bool read_only = mode == Tx::kRead || mode == Tx::kPipelined;
  // BEGIN and COMMIT are sent here only for kRead and kWrite.
  const bool explicit_tx = mode == Tx::kRead || mode == Tx::kWrite;
  bool reconnected = false;
  for (int attempt = 0;; ++attempt) {
    // Whether the server may have committed when the connection breaks: from COMMIT on, or from the start
    // for a single autocommit statement.
    bool commit_sent = mode == Tx::kSingle;
    try {
      if (conn_ && PQstatus(conn_) == CONNECTION_OK) {
        // Nothing is pending on an idle connection. A server that closed it (restart, pg_terminate_backend,
        // idle timeout) left a FATAL message and then the end of the stream: PQconsumeInput reads them
        // (libpq records CONNECTION_BAD at the end of the stream) and PQisBusy parses the message (the
        // notice receiver set up in connect() raises server_closing_). Noticing it here, before sending
        // anything, makes reconnecting safe for every operation. On a live connection this costs two reads
        // that return at once with nothing.
        if (PQconsumeInput(conn_) && PQconsumeInput(conn_)) PQisBusy(conn_);
      }
      if (!conn_ || server_closing_ || PQstatus(conn_) != CONNECTION_OK) {
        if (conn_) ++reconnects_;
        connect();
      }
      // Reads see one snapshot (trials, params, intermediates and the version they belong to); writes run
      // under READ COMMITTED and take row locks (FOR UPDATE) on what they change.
      if (explicit_tx) exec(read_only ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN");
      if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
        body();
        commit_sent = true;
        if (explicit_tx) exec("COMMIT");
        return;
      } else {
        auto result = body();
        commit_sent = true;
        if (explicit_tx) exec("COMMIT");
        return result;
      }
    } catch (const PgConnectionLost& e) {
      // The server rolls back an open transaction when its connection goes; only a lost COMMIT (or a lost
      // autocommit statement) leaves the outcome unknown.
      bool safe = !commit_sent || idempotent || read_only;
      if (reconnected || !safe) {
        disconnect();
        throw StorageError(std::string(e.what()) + " (connection lost" +
                           (!safe ? " while committing; the write may or may not have been applied)"
                                  : "; reconnecting did not help)"));
      }
      reconnected = true;
      ++reconnects_;
      try {
        connect();
      } catch (const StorageError& c) {
        throw StorageError(std::string(e.what()) + " (connection lost; reconnecting failed: " + c.what() + ")");
      }
    } catch (const PgRetry& e) {
      if (conn_ && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
        try {
          exec("ROLLBACK");
        } catch (...) {
        }
      }
      if (attempt >= 100) throw StorageError(std::string(e.what()) + " (gave up after 100 attempts)");
      backoff(attempt);
    } catch (...) {
      if (conn_ && PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
        PGresult* r = PQexec(conn_, "ROLLBACK");
        if (r) PQclear(r);
      }
      throw;
    }
  }
}

void PostgresStorage::migrate() {
  transaction(Tx::kWrite, false, [&] {
    run(kSchemaLockSql, {});
    bool has_version_table = run("SELECT to_regclass('schema_version') IS NOT NULL", {}).cstr(0, 0)[0] == 't';
    if (!has_version_table) {
      exec(kSchemaV1);
      run("INSERT INTO schema_version (version) VALUES ($1)", {1});
    }
    Result r = run("SELECT MAX(version) FROM schema_version", {});
    int64_t version = r.rows() && !r.is_null(0, 0) ? r.i64(0, 0) : 0;
    if (version > kSchemaVersion) {
      throw StorageError("cannot open storage '" + shown_url_ + "': schema version " + std::to_string(version) +
                         " is newer than this bbo supports (" + std::to_string(kSchemaVersion) + "); upgrade bbo");
    }
    if (version < 1) throw StorageError("cannot open storage '" + shown_url_ + "': corrupt schema_version table");
    for (int64_t v = version; v < kSchemaVersion; ++v) {
      exec(kMigrations[static_cast<size_t>(v - 1)]);
      run("UPDATE schema_version SET version = $1", {v + 1});
    }
  });
}

int PostgresStorage::schema_version() {
  return transaction(Tx::kRead, true, [&] {
    Result r = run("SELECT MAX(version) FROM schema_version", {});
    return r.rows() && !r.is_null(0, 0) ? static_cast<int>(r.i64(0, 0)) : 0;
  });
}

// ---- helpers

json PostgresStorage::parse_json(const char* text, const char* what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw StorageError("storage '" + shown_url_ + "': corrupt " + std::string(what) + ": " + e.what());
  }
}

const Distribution& PostgresStorage::parse_distribution(const std::string& text, const std::string& name) {
  // Studies reuse a handful of distributions; parsing their JSON would dominate reading many trials.
  auto it = dist_cache_.find(text);
  if (it != dist_cache_.end()) return it->second;
  Distribution d = distribution_from_json(parse_json(text.c_str(), "distribution"), name);
  return dist_cache_.emplace(text, std::move(d)).first->second;
}

void PostgresStorage::require_study(int64_t study_id) {
  if (run("SELECT 1 FROM studies WHERE id = $1", {study_id}).rows() == 0) {
    throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + shown_url_);
  }
}

StudyInfo PostgresStorage::study_from_row(const Result& r, int row) {
  StudyInfo info;
  info.id = r.i64(row, 0);
  info.name = r.text(row, 1);
  info.directions = decode_directions(parse_json(r.cstr(row, 2), "study directions"));
  info.user_attrs = parse_json(r.cstr(row, 3), "study user attrs");
  info.system_attrs = parse_json(r.cstr(row, 4), "study system attrs");
  info.n_trials = r.i64(row, 5);
  info.datetime_start_us = r.i64(row, 6);
  return info;
}

std::pair<int64_t, int64_t> PostgresStorage::running_trial(int64_t trial_id, const std::string& what) {
  // FOR UPDATE: the state checked here cannot change before this transaction commits.
  Result r = run("SELECT study_id, number, state FROM trials WHERE id = $1 FOR UPDATE", {trial_id});
  if (r.rows() == 0) throw NotFoundError("trial id " + std::to_string(trial_id) + " not found in " + shown_url_);
  TrialState s = state_from_code(r.i64(0, 2));
  if (s != TrialState::kRunning) {
    throw TrialStateError("trial " + std::to_string(r.i64(0, 1)) + " is " + state_name(s) + "; cannot " + what +
                          " (only a RUNNING trial can be written)");
  }
  return {r.i64(0, 0), r.i64(0, 1)};
}

void PostgresStorage::trial_not_writable(int64_t trial_id, const std::string& what) {
  Result r = run("SELECT number, state FROM trials WHERE id = $1", {trial_id});
  if (r.rows() == 0) throw NotFoundError("trial id " + std::to_string(trial_id) + " not found in " + shown_url_);
  TrialState s = state_from_code(r.i64(0, 1));
  throw TrialStateError("trial " + std::to_string(r.i64(0, 0)) + " is " + state_name(s) + "; cannot " + what +
                        " (only a RUNNING trial can be written)");
}

int64_t PostgresStorage::bump_version(int64_t study_id) {
  // The study row stays locked until commit, so versions are handed out in commit order: a reader that saw
  // version v has seen every change numbered <= v.
  Result r = run("UPDATE studies SET trials_version = trials_version + 1 WHERE id = $1 RETURNING trials_version",
                 {study_id});
  if (r.rows() == 0) throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + shown_url_);
  return r.i64(0, 0);
}

std::vector<FrozenTrial> PostgresStorage::build_trials(const Result& tr, const Result& pr, const Result& ir) {
  std::vector<FrozenTrial> out;
  std::unordered_map<int64_t, size_t> index;
  out.reserve(static_cast<size_t>(tr.rows()));
  for (int i = 0; i < tr.rows(); ++i) {
    FrozenTrial t;
    t.id = tr.i64(i, 0);
    t.study_id = tr.i64(i, 1);
    t.number = tr.i64(i, 2);
    t.state = state_from_code(tr.i64(i, 3));
    t.values = decode_doubles(parse_json(tr.cstr(i, 4), "trial values"));
    t.constraints = decode_doubles(parse_json(tr.cstr(i, 5), "trial constraints"));
    t.user_attrs = parse_json(tr.cstr(i, 6), "trial user attrs");
    t.system_attrs = parse_json(tr.cstr(i, 7), "trial system attrs");
    t.datetime_start_us = tr.opt(i, 8);
    t.datetime_complete_us = tr.opt(i, 9);
    t.heartbeat_us = tr.opt(i, 10);
    index.emplace(t.id, out.size());
    out.push_back(std::move(t));
  }
  for (int i = 0; i < pr.rows(); ++i) {
    auto it = index.find(pr.i64(i, 0));
    if (it == index.end()) continue;
    FrozenTrial& t = out[it->second];
    std::string name = pr.text(i, 1);
    t.params[name] = pr.dbl(i, 2);
    t.distributions.insert_or_assign(name, parse_distribution(pr.text(i, 3), name));
  }
  for (int i = 0; i < ir.rows(); ++i) {
    auto it = index.find(ir.i64(i, 0));
    if (it == index.end()) continue;
    out[it->second].intermediate_values[StepKey{ir.i64(i, 1), static_cast<int>(ir.i64(i, 2))}] = ir.dbl(i, 3);
  }
  return out;
}

std::vector<FrozenTrial> PostgresStorage::load_trials(const char* trials_sql, const char* params_sql,
                                                      const char* inter_sql, int64_t a, std::optional<int64_t> b) {
  auto query = [&](const char* sql) { return b ? run(sql, {a, *b}) : run(sql, {a}); };
  Result tr = query(trials_sql);
  Result pr = query(params_sql);
  Result ir = query(inter_sql);
  return build_trials(tr, pr, ir);
}

// ---- studies

int64_t PostgresStorage::create_study(const std::string& name, const std::vector<Direction>& directions,
                                      const json& system_attrs) {
  if (name.empty()) throw ValueError("study name must not be empty");
  if (directions.empty()) throw ValueError("study '" + name + "' needs at least one direction");
  std::string dirs = encode_directions(directions);
  std::string sys = dump_json(system_attrs.is_null() ? json::object() : system_attrs);
  return transaction(Tx::kWrite, false, [&] {
    // ON CONFLICT: a concurrent creator of the same name makes this insert return no row instead of failing.
    Result r = run("INSERT INTO studies (name, directions, user_attrs, system_attrs, created) "
                   "VALUES ($1, $2, '{}', $3, " BBO_PG_NOW ") ON CONFLICT (name) DO NOTHING RETURNING id",
                   {name, dirs, sys});
    if (r.rows() == 0) throw DuplicateError("study '" + name + "' already exists in " + shown_url_);
    return r.i64(0, 0);
  });
}

std::optional<StudyInfo> PostgresStorage::find_study(const std::string& name) {
  return transaction(Tx::kRead, true, [&]() -> std::optional<StudyInfo> {
    Result r = run("SELECT " BBO_STUDY_COLUMNS " FROM studies WHERE name = $1", {name});
    if (r.rows() == 0) return std::nullopt;
    return study_from_row(r, 0);
  });
}

StudyInfo PostgresStorage::get_study(int64_t study_id) {
  return transaction(Tx::kRead, true, [&] {
    Result r = run("SELECT " BBO_STUDY_COLUMNS " FROM studies WHERE id = $1", {study_id});
    if (r.rows() == 0) throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + shown_url_);
    return study_from_row(r, 0);
  });
}

std::vector<StudyInfo> PostgresStorage::list_studies() {
  return transaction(Tx::kRead, true, [&] {
    std::vector<StudyInfo> out;
    Result r = run("SELECT " BBO_STUDY_COLUMNS " FROM studies ORDER BY id", {});
    for (int i = 0; i < r.rows(); ++i) out.push_back(study_from_row(r, i));
    return out;
  });
}

void PostgresStorage::delete_study(int64_t study_id) {
  transaction(Tx::kWrite, false, [&] {
    if (run("DELETE FROM studies WHERE id = $1", {study_id}).affected() == 0) {
      throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + shown_url_);
    }
  });
}

void PostgresStorage::set_study_attr(int64_t study_id, const char* column, const std::string& key,
                                     const json& value) {
  bool user = std::strcmp(column, "user_attrs") == 0;
  transaction(Tx::kWrite, true, [&] {
    Result r = run(user ? "SELECT user_attrs FROM studies WHERE id = $1 FOR UPDATE"
                        : "SELECT system_attrs FROM studies WHERE id = $1 FOR UPDATE",
                   {study_id});
    if (r.rows() == 0) throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + shown_url_);
    json attrs = parse_json(r.cstr(0, 0), user ? "study user attrs" : "study system attrs");
    attrs[key] = value;
    run(user ? "UPDATE studies SET user_attrs = $2 WHERE id = $1" : "UPDATE studies SET system_attrs = $2 WHERE id = $1",
        {study_id, dump_json(attrs)});
  });
}

void PostgresStorage::set_study_user_attr(int64_t study_id, const std::string& key, const json& value) {
  set_study_attr(study_id, "user_attrs", key, value);
}

void PostgresStorage::set_study_system_attr(int64_t study_id, const std::string& key, const json& value) {
  set_study_attr(study_id, "system_attrs", key, value);
}

// ---- trials

FrozenTrial PostgresStorage::create_trial(int64_t study_id, const FrozenTrial* tmpl) {
  TrialState state = tmpl ? tmpl->state : TrialState::kRunning;
  // A RUNNING trial without a start time or heartbeat gets the database's now.
  bool fill_now = state == TrialState::kRunning;
  std::optional<int64_t> start = tmpl ? tmpl->datetime_start_us : std::nullopt;
  std::optional<int64_t> heartbeat = tmpl ? tmpl->heartbeat_us : std::nullopt;
  std::optional<int64_t> complete = tmpl ? tmpl->datetime_complete_us : std::nullopt;
  std::string values = tmpl ? encode_doubles(tmpl->values) : "[]";
  std::string constraints = tmpl ? encode_doubles(tmpl->constraints) : "[]";
  std::string user = tmpl && tmpl->user_attrs.is_object() ? dump_json(tmpl->user_attrs) : "{}";
  std::string sys = tmpl && tmpl->system_attrs.is_object() ? dump_json(tmpl->system_attrs) : "{}";
  std::vector<std::pair<std::string, std::string>> dists;
  if (tmpl) {
    for (const auto& [name, internal] : tmpl->params) {
      auto it = tmpl->distributions.find(name);
      if (it == tmpl->distributions.end()) {
        throw ValueError("template trial parameter '" + name + "' has no distribution");
      }
      dists.emplace_back(name, distribution_to_json(it->second).dump());
    }
  }
  // Without a template the insert is one statement, run in autocommit.
  return transaction(tmpl ? Tx::kWrite : Tx::kSingle, false, [&] {
    // The counter row is incremented and the trial inserted in one statement of one transaction: the row
    // lock on the study serializes creators, so numbers have neither gaps nor duplicates.
    Result r = run(
        "WITH c AS (UPDATE studies SET n_trials = n_trials + 1, trials_version = trials_version + 1 "
        "WHERE id = $1 RETURNING n_trials - 1 AS number, trials_version AS version) "
        "INSERT INTO trials (study_id, number, state, objective_values, constraint_values, user_attrs, "
        "system_attrs, datetime_start, datetime_complete, heartbeat, version) "
        "SELECT $1, c.number, $2, $3, $4, $5, $6, "
        "COALESCE($7::bigint, CASE WHEN $10::boolean THEN " BBO_PG_NOW " END), $8::bigint, "
        "COALESCE($9::bigint, CASE WHEN $10::boolean THEN " BBO_PG_NOW " END), c.version FROM c "
        "RETURNING id, number, datetime_start, heartbeat",
        {study_id, state_code(state), values, constraints, user, sys, start, complete, heartbeat, fill_now});
    if (r.rows() == 0) throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + shown_url_);
    int64_t trial_id = r.i64(0, 0);
    if (!tmpl) {
      FrozenTrial t;
      t.id = trial_id;
      t.study_id = study_id;
      t.number = r.i64(0, 1);
      t.state = TrialState::kRunning;
      t.datetime_start_us = r.opt(0, 2);
      t.heartbeat_us = r.opt(0, 3);
      return t;
    }
    size_t i = 0;
    for (const auto& [name, internal] : tmpl->params) {
      run("INSERT INTO trial_params (trial_id, name, internal, distribution) VALUES ($1, $2, $3, $4)",
          {trial_id, name, internal, dists[i++].second});
    }
    for (const auto& [key, value] : tmpl->intermediate_values) {
      run("INSERT INTO trial_intermediate (trial_id, step, objective, value) VALUES ($1, $2, $3, $4)",
          {trial_id, key.step, key.objective, value});
    }
    return load_trials(kTrialByIdSql, kParamsByIdSql, kInterByIdSql, trial_id, std::nullopt).at(0);
  });
}

std::optional<FrozenTrial> PostgresStorage::claim_waiting_trial(int64_t study_id) {
  std::optional<int64_t> claimed = transaction(Tx::kSingle, false, [&]() -> std::optional<int64_t> {
    // One statement: SKIP LOCKED passes over a trial another worker is claiming right now, so no trial is
    // handed out twice and no claimer waits for another. State codes: 1 WAITING, 0 RUNNING.
    Result r = run("WITH c AS (SELECT id, study_id FROM trials WHERE study_id = $1 AND state = 1 "
                   "ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED), "
                   "v AS (UPDATE studies s SET trials_version = s.trials_version + 1 FROM c "
                   "WHERE s.id = c.study_id RETURNING s.trials_version AS version), "
                   "u AS (UPDATE trials SET state = 0, datetime_start = " BBO_PG_NOW ", heartbeat = " BBO_PG_NOW
                   ", version = v.version FROM v, c WHERE trials.id = c.id RETURNING trials.id) "
                   "SELECT (SELECT id FROM u), EXISTS (SELECT 1 FROM studies WHERE id = $1)",
                   {study_id});
    if (r.cstr(0, 1)[0] != 't') {
      throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + shown_url_);
    }
    return r.opt(0, 0);
  });
  // The trial is RUNNING and ours now; reading it back is a separate snapshot.
  if (!claimed) return std::nullopt;
  return get_trial(*claimed);
}

void PostgresStorage::set_trial_param(int64_t trial_id, const std::string& name, double internal,
                                      const Distribution& d) {
  std::string dist = distribution_to_json(d).dump();
  transaction(Tx::kSingle, true, [&] {
    Result r = run(BBO_PG_LOCK_RUNNING
                   ", w AS (INSERT INTO trial_params (trial_id, name, internal, distribution) "
                   "SELECT t.id, $2::text, $3::double precision, $4::text FROM t ON CONFLICT (trial_id, name) "
                   "DO UPDATE SET internal = EXCLUDED.internal, distribution = EXCLUDED.distribution) "
                   "UPDATE trials SET version = v.version FROM v WHERE trials.id = $1",
                   {trial_id, name, internal, dist});
    if (r.affected() == 0) trial_not_writable(trial_id, "set param '" + name + "'");
  });
}

void PostgresStorage::set_trial_intermediate_value(int64_t trial_id, int64_t step, int objective, double value) {
  if (step < 0 || objective < 0) {
    throw ValueError("intermediate value needs step >= 0 and objective >= 0, got step " + std::to_string(step) +
                     ", objective " + std::to_string(objective));
  }
  transaction(Tx::kSingle, true, [&] {
    Result r = run(BBO_PG_LOCK_RUNNING
                   ", w AS (INSERT INTO trial_intermediate (trial_id, step, objective, value) "
                   "SELECT t.id, $2::bigint, $3::integer, $4::double precision FROM t "
                   "ON CONFLICT (trial_id, step, objective) DO UPDATE SET value = EXCLUDED.value) "
                   "UPDATE trials SET version = v.version FROM v WHERE trials.id = $1",
                   {trial_id, step, objective, value});
    if (r.affected() == 0) trial_not_writable(trial_id, "report an intermediate value");
  });
}

void PostgresStorage::set_trial_attr(int64_t trial_id, const char* column, const std::string& key,
                                     const json& value) {
  bool user = std::strcmp(column, "user_attrs") == 0;
  transaction(Tx::kWrite, true, [&] {
    auto [study_id, number] =
        running_trial(trial_id, std::string(user ? "set user attr '" : "set system attr '") + key + "'");
    Result r = run(user ? "SELECT user_attrs FROM trials WHERE id = $1" : "SELECT system_attrs FROM trials WHERE id = $1",
                   {trial_id});
    json attrs = parse_json(r.cstr(0, 0), user ? "trial user attrs" : "trial system attrs");
    attrs[key] = value;
    int64_t version = bump_version(study_id);
    run(user ? "UPDATE trials SET user_attrs = $2, version = $3 WHERE id = $1"
             : "UPDATE trials SET system_attrs = $2, version = $3 WHERE id = $1",
        {trial_id, dump_json(attrs), version});
  });
}

void PostgresStorage::set_trial_user_attr(int64_t trial_id, const std::string& key, const json& value) {
  set_trial_attr(trial_id, "user_attrs", key, value);
}

void PostgresStorage::set_trial_system_attr(int64_t trial_id, const std::string& key, const json& value) {
  set_trial_attr(trial_id, "system_attrs", key, value);
}

void PostgresStorage::finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values,
                                   const std::vector<double>& constraints) {
  if (!is_finished(state)) {
    throw ValueError(std::string("cannot finish a trial with state ") + state_name(state) +
                     " (COMPLETE, PRUNED or FAIL)");
  }
  std::string v = encode_doubles(values);
  std::string c = encode_doubles(constraints);
  // Not idempotent: retrying after a lost commit that did apply would throw TrialStateError.
  transaction(Tx::kSingle, false, [&] {
    Result r = run(BBO_PG_LOCK_RUNNING
                   "UPDATE trials SET state = $2::integer, objective_values = $3::text, "
                   "constraint_values = $4::text, datetime_complete = " BBO_PG_NOW ", version = v.version "
                   "FROM v WHERE trials.id = $1",
                   {trial_id, state_code(state), v, c});
    if (r.affected() == 0) trial_not_writable(trial_id, "finish it");
  });
}

void PostgresStorage::heartbeat(int64_t trial_id) {
  transaction(Tx::kSingle, true, [&] {
    Result r = run(BBO_PG_LOCK_RUNNING "UPDATE trials SET heartbeat = " BBO_PG_NOW
                                       ", version = v.version FROM v WHERE trials.id = $1",
                   {trial_id});
    if (r.affected() == 0) trial_not_writable(trial_id, "record a heartbeat");
  });
}

std::vector<int64_t> PostgresStorage::fail_stale_trials(int64_t study_id, double grace_seconds) {
  if (!(grace_seconds >= 0) || std::isinf(grace_seconds)) {
    throw ValueError("fail_stale_trials needs a finite grace period >= 0 s, got " + std::to_string(grace_seconds));
  }
  int64_t grace_us = static_cast<int64_t>(grace_seconds * 1e6);
  std::string reason = "heartbeat older than " + std::to_string(grace_seconds) + " s (the worker is presumed dead)";
  return transaction(Tx::kWrite, false, [&] {
    require_study(study_id);
    // The cutoff is computed on the database clock. FOR UPDATE SKIP LOCKED: a trial another worker is failing
    // (or finishing) right now is left to it; after a wait, READ COMMITTED re-checks the state, so a trial
    // that another worker already failed is not selected again.
    Result stale = run("SELECT id, number, system_attrs FROM trials WHERE study_id = $1 AND state = $2 "
                       "AND COALESCE(heartbeat, datetime_start, " BBO_PG_NOW ") < " BBO_PG_NOW " - $3::bigint "
                       "ORDER BY number FOR UPDATE SKIP LOCKED",
                       {study_id, state_code(TrialState::kRunning), grace_us});
    std::vector<int64_t> numbers;
    for (int i = 0; i < stale.rows(); ++i) {
      json sys = parse_json(stale.cstr(i, 2), "trial system attrs");
      sys["fail_reason"] = reason;
      int64_t version = bump_version(study_id);
      Result up = run("UPDATE trials SET state = $2, datetime_complete = " BBO_PG_NOW ", system_attrs = $3, "
                      "version = $4 WHERE id = $1 AND state = $5",
                      {stale.i64(i, 0), state_code(TrialState::kFail), dump_json(sys), version,
                       state_code(TrialState::kRunning)});
      if (up.affected() == 1) numbers.push_back(stale.i64(i, 1));
    }
    return numbers;
  });
}

// The reads of trials below are pipelined (one round trip): their queries do not depend on each other.

FrozenTrial PostgresStorage::get_trial(int64_t trial_id) {
  return transaction(Tx::kPipelined, true, [&] {
    auto r = read_batch({{kTrialByIdSql, {trial_id}}, {kParamsByIdSql, {trial_id}}, {kInterByIdSql, {trial_id}}});
    auto trials = build_trials(r[0], r[1], r[2]);
    if (trials.empty()) throw NotFoundError("trial id " + std::to_string(trial_id) + " not found in " + shown_url_);
    return std::move(trials[0]);
  });
}

FrozenTrial PostgresStorage::get_trial_by_number(int64_t study_id, int64_t number) {
  return transaction(Tx::kPipelined, true, [&] {
    auto r = read_batch(
        {{"SELECT " BBO_TRIAL_COLUMNS " FROM trials t WHERE t.study_id = $1 AND t.number = $2", {study_id, number}},
         {"SELECT p.trial_id, p.name, p.internal, p.distribution FROM trial_params p JOIN trials t "
          "ON t.id = p.trial_id WHERE t.study_id = $1 AND t.number = $2",
          {study_id, number}},
         {"SELECT i.trial_id, i.step, i.objective, i.value FROM trial_intermediate i JOIN trials t "
          "ON t.id = i.trial_id WHERE t.study_id = $1 AND t.number = $2",
          {study_id, number}},
         {"SELECT 1 FROM studies WHERE id = $1", {study_id}}});
    if (r[3].rows() == 0) {
      throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + shown_url_);
    }
    auto trials = build_trials(r[0], r[1], r[2]);
    if (trials.empty()) {
      throw NotFoundError("trial number " + std::to_string(number) + " not found in study id " +
                          std::to_string(study_id));
    }
    return std::move(trials[0]);
  });
}

std::vector<FrozenTrial> PostgresStorage::get_trials(int64_t study_id, const std::vector<TrialState>& states) {
  int64_t mask = state_mask(states);
  return transaction(Tx::kPipelined, true, [&] {
    auto r = read_batch(
        {{"SELECT 1 FROM studies WHERE id = $1", {study_id}},
         {"SELECT " BBO_TRIAL_COLUMNS " FROM trials t WHERE t.study_id = $1 AND ((1 << t.state) & $2::int) <> 0 "
          "ORDER BY t.number",
          {study_id, mask}},
         {"SELECT p.trial_id, p.name, p.internal, p.distribution FROM trial_params p JOIN trials t "
          "ON t.id = p.trial_id WHERE t.study_id = $1 AND ((1 << t.state) & $2::int) <> 0",
          {study_id, mask}},
         {"SELECT i.trial_id, i.step, i.objective, i.value FROM trial_intermediate i JOIN trials t "
          "ON t.id = i.trial_id WHERE t.study_id = $1 AND ((1 << t.state) & $2::int) <> 0",
          {study_id, mask}}});
    if (r[0].rows() == 0) throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + shown_url_);
    return build_trials(r[1], r[2], r[3]);
  });
}

TrialsDelta PostgresStorage::get_trials_since(int64_t study_id, int64_t since_version) {
  return transaction(Tx::kPipelined, true, [&] {
    auto r = read_batch(
        {{"SELECT trials_version FROM studies WHERE id = $1", {study_id}},
         {"SELECT " BBO_TRIAL_COLUMNS " FROM trials t WHERE t.study_id = $1 AND t.version > $2 ORDER BY t.number",
          {study_id, since_version}},
         {"SELECT p.trial_id, p.name, p.internal, p.distribution FROM trial_params p JOIN trials t "
          "ON t.id = p.trial_id WHERE t.study_id = $1 AND t.version > $2",
          {study_id, since_version}},
         {"SELECT i.trial_id, i.step, i.objective, i.value FROM trial_intermediate i JOIN trials t "
          "ON t.id = i.trial_id WHERE t.study_id = $1 AND t.version > $2",
          {study_id, since_version}}});
    if (r[0].rows() == 0) throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + shown_url_);
    TrialsDelta delta;
    delta.version = r[0].i64(0, 0);
    // The same snapshot: every trial with a version above since_version and at most delta.version.
    delta.trials = build_trials(r[1], r[2], r[3]);
    return delta;
  });
}

int64_t PostgresStorage::count_trials(int64_t study_id, const std::vector<TrialState>& states) {
  int64_t mask = state_mask(states);
  return transaction(Tx::kRead, true, [&] {
    Result s = run("SELECT n_trials FROM studies WHERE id = $1", {study_id});
    if (s.rows() == 0) throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + shown_url_);
    if (states.empty()) return s.i64(0, 0);
    return run("SELECT COUNT(*) FROM trials WHERE study_id = $1 AND ((1 << state) & $2::int) <> 0",
               {study_id, mask})
        .i64(0, 0);
  });
}

// ---- plugin state

PluginState PostgresStorage::get_plugin_state(int64_t study_id, const std::string& key) {
  return transaction(Tx::kRead, true, [&] {
    require_study(study_id);
    PluginState state;
    Result r = run("SELECT version, blob FROM plugin_state WHERE study_id = $1 AND key = $2", {study_id, key});
    if (r.rows() > 0) {
      state.version = r.i64(0, 0);
      state.blob = r.bytea(0, 1);
    }
    return state;
  });
}

bool PostgresStorage::compare_and_swap_plugin_state(int64_t study_id, const std::string& key,
                                                    int64_t expected_version, const std::string& blob) {
  return transaction(Tx::kWrite, false, [&] {
    require_study(study_id);
    if (expected_version < 0) return false;
    // Both statements wait for a concurrent writer of the same row and then re-check their condition on its
    // committed version, so exactly one of several racing writers with the same expected version wins.
    if (expected_version == 0) {
      return run("INSERT INTO plugin_state (study_id, key, version, blob) VALUES ($1, $2, 1, $3) "
                 "ON CONFLICT (study_id, key) DO NOTHING",
                 {study_id, key, Param::bytes(blob)})
                 .affected() == 1;
    }
    return run("UPDATE plugin_state SET version = version + 1, blob = $4 WHERE study_id = $1 AND key = $2 "
               "AND version = $3",
               {study_id, key, expected_version, Param::bytes(blob)})
               .affected() == 1;
  });
}

}  // namespace bbo

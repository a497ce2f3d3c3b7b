#include "sqlite/sqlite_storage.h"

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <random>
#include <thread>
#include <type_traits>
#include <unordered_map>

#include "bbo/error.h"
#include "common/sql_encoding.h"

namespace bbo {
namespace {

using storage_internal::decode_directions;
using storage_internal::decode_doubles;
using storage_internal::dump_json;
using storage_internal::encode_directions;
using storage_internal::encode_doubles;
using storage_internal::state_code;
using storage_internal::state_from_code;
using storage_internal::state_mask;

// A BUSY/LOCKED result: the transaction is retried (another connection holds a lock).
class SqliteBusy : public StorageError {
 public:
  using StorageError::StorageError;
};

// Schema version 1. Doubles in REAL columns (param internals, intermediate values) use NULL for NaN: SQLite
// keeps ±inf in REAL columns but turns NaN into NULL, and NULL is otherwise never stored there.
constexpr const char* kSchemaV1 = R"sql(
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  directions TEXT NOT NULL,
  user_attrs TEXT NOT NULL DEFAULT '{}',
  system_attrs TEXT NOT NULL DEFAULT '{}',
  n_trials INTEGER NOT NULL DEFAULT 0,
  trials_version INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
  number INTEGER NOT NULL,
  state INTEGER NOT NULL,
  objective_values TEXT NOT NULL DEFAULT '[]',
  constraint_values TEXT NOT NULL DEFAULT '[]',
  user_attrs TEXT NOT NULL DEFAULT '{}',
  system_attrs TEXT NOT NULL DEFAULT '{}',
  datetime_start INTEGER,
  datetime_complete INTEGER,
  heartbeat INTEGER,
  version INTEGER NOT NULL,
  UNIQUE (study_id, number)
);
CREATE INDEX IF NOT EXISTS trials_study_state ON trials (study_id, state, number);
CREATE INDEX IF NOT EXISTS trials_study_version ON trials (study_id, version);
CREATE TABLE IF NOT EXISTS trial_params (
  trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  internal REAL,
  distribution TEXT NOT NULL,
  PRIMARY KEY (trial_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trial_intermediate (
  trial_id INTEGER NOT NULL REFERENCES trials(id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  objective INTEGER NOT NULL,
  value REAL,
  PRIMARY KEY (trial_id, step, objective)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS plugin_state (
  study_id INTEGER NOT NULL REFERENCES studies(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  blob BLOB NOT NULL,
  PRIMARY KEY (study_id, key)
) WITHOUT ROWID;
)sql";

// kMigrations[i] upgrades a file from version i + 1 to version i + 2, inside the opening transaction. A new
// schema version appends its migration here and bumps kSchemaVersion.
constexpr std::array<const char*, SqliteStorage::kSchemaVersion - 1> kMigrations{};

// SELECT list shared by every trial read (column order is relied on by load_trials).
#define BBO_TRIAL_COLUMNS                                                                             \
  "t.id, t.study_id, t.number, t.state, t.objective_values, t.constraint_values, t.user_attrs, " \
  "t.system_attrs, t.datetime_start, t.datetime_complete, t.heartbeat"

}  // namespace

// ---- statements

class SqliteStorage::Stmt {
 public:
  Stmt(SqliteStorage& s, const char* sql) : s_(s), st_(s.prepare(sql)) {}
  ~Stmt() {
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind_int(int i, int64_t v) {
    s_.check(sqlite3_bind_int64(st_, i, v), "bind");
    return *this;
  }
  // NaN is bound as NULL (see the schema comment).
  Stmt& bind_double(int i, double v) {
    s_.check(std::isnan(v) ? sqlite3_bind_null(st_, i) : sqlite3_bind_double(st_, i, v), "bind");
    return *this;
  }
  Stmt& bind_text(int i, const std::string& v) {
    s_.check(sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT), "bind");
    return *this;
  }
  Stmt& bind_blob(int i, const std::string& v) {
    s_.check(sqlite3_bind_blob(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT), "bind");
    return *this;
  }
  Stmt& bind_opt(int i, const std::optional<int64_t>& v) {
    s_.check(v ? sqlite3_bind_int64(st_, i, *v) : sqlite3_bind_null(st_, i), "bind");
    return *this;
  }
  int params() const { return sqlite3_bind_parameter_count(st_); }

  // true: a row is available; false: done.
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite3_reset(st_);
    s_.fail(rc, "statement failed");
  }
  void run() {
    while (step()) {
    }
  }

  bool is_null(int i) const { return sqlite3_column_type(st_, i) == SQLITE_NULL; }
  int64_t col_int(int i) const { return sqlite3_column_int64(st_, i); }
  std::optional<int64_t> col_opt(int i) const {
    return is_null(i) ? std::nullopt : std::optional<int64_t>(col_int(i));
  }
  double col_double(int i) const {
    return is_null(i) ? std::numeric_limits<double>::quiet_NaN() : sqlite3_column_double(st_, i);
  }
  const char* col_cstr(int i) const {
    const unsigned char* p = sqlite3_column_text(st_, i);
    return p ? reinterpret_cast<const char*>(p) : "";
  }
  std::string col_text(int i) const {
    const void* p = sqlite3_column_blob(st_, i);
    int n = sqlite3_column_bytes(st_, i);
    return p ? std::string(static_cast<const char*>(p), static_cast<size_t>(n)) : std::string();
  }
  sqlite3_stmt* raw() const { return st_; }

 private:
  SqliteStorage& s_;
  sqlite3_stmt* st_;
};

sqlite3_stmt* SqliteStorage::prepare(const char* sql) {
  auto it = stmts_.find(sql);
  if (it != stmts_.end()) return it->second;
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr);
  if (rc != SQLITE_OK) fail(rc, std::string("cannot prepare statement: ") + sql);
  stmts_.emplace(sql, st);
  return st;
}

void SqliteStorage::fail(int rc, const std::string& what) {
  std::string msg = "storage '" + url_ + "': " + what + ": " + sqlite3_errstr(rc);
  const char* detail = db_ ? sqlite3_errmsg(db_) : nullptr;
  if (detail && std::string(detail) != sqlite3_errstr(rc)) msg += std::string(" (") + detail + ")";
  int primary = rc & 0xff;
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) throw SqliteBusy(msg);
  throw StorageError(msg);
}

void SqliteStorage::check(int rc, const char* what) {
  if (rc != SQLITE_OK) fail(rc, what);
}

void SqliteStorage::exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail(rc, std::string("cannot execute ") + std::string(sql).substr(0, 40));
}

// ---- transactions

namespace {

// Sleeps a little longer after each failed attempt, with jitter so that competing processes spread out.
void backoff(int attempt) {
  thread_local std::minstd_rand rng(std::random_device{}());
  int cap = std::min(50, 1 << std::min(attempt, 6));
  std::this_thread::sleep_for(std::chrono::microseconds(500 + rng() % (static_cast<unsigned>(cap) * 1000)));
}

}  // namespace

void SqliteStorage::begin(const char* sql) {
  // sqlite's busy handler already waits up to timeout_ms, but it is not called in every case (WAL recovery,
  // a lock held by this process through another connection), so we retry BUSY ourselves as well.
  auto start = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    sqlite3_stmt* st = prepare(sql);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return;
    int primary = rc & 0xff;
    auto waited = std::chrono::steady_clock::now() - start;
    if ((primary == SQLITE_BUSY || primary == SQLITE_LOCKED) &&
        waited < std::chrono::milliseconds(options_.timeout_ms)) {
      backoff(attempt);
      continue;
    }
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) {
      throw StorageError("storage '" + url_ + "': database is locked by another process for more than " +
                         std::to_string(options_.timeout_ms) + " ms");
    }
    fail(rc, "cannot begin a transaction");
  }
}

void SqliteStorage::commit() {
  auto start = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    sqlite3_stmt* st = prepare("COMMIT");
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_DONE) return;
    int primary = rc & 0xff;
    if ((primary == SQLITE_BUSY || primary == SQLITE_LOCKED) &&
        std::chrono::steady_clock::now() - start < std::chrono::milliseconds(options_.timeout_ms)) {
      backoff(attempt);
      continue;
    }
    fail(rc, "cannot commit");
  }
}

void SqliteStorage::rollback() noexcept {
  if (sqlite3_get_autocommit(db_)) return;  // nothing open (sqlite may already have rolled back)
  sqlite3_stmt* st = nullptr;
  try {
    st = prepare("ROLLBACK");
  } catch (...) {
    return;
  }
  sqlite3_step(st);
  sqlite3_reset(st);
}

template <class F>
auto SqliteStorage::write_tx(F&& body) {
  std::lock_guard lock(mu_);
  auto start = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    begin("BEGIN IMMEDIATE");
    try {
      if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
        body();
        commit();
        return;
      } else {
        auto result = body();
        commit();
        return result;
      }
    } catch (const SqliteBusy&) {
      rollback();
      if (std::chrono::steady_clock::now() - start > std::chrono::milliseconds(options_.timeout_ms)) throw;
      backoff(attempt);
    } catch (...) {
      rollback();
      throw;
    }
  }
}

template <class F>
auto SqliteStorage::read_tx(F&& body) {
  // A read transaction gives every statement of one read the same snapshot (trials, params, intermediates
  // and the version they belong to).
  std::lock_guard lock(mu_);
  auto start = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    begin("BEGIN");
    try {
      auto result = body();
      commit();
      return result;
    } catch (const SqliteBusy&) {
      rollback();
      if (std::chrono::steady_clock::now() - start > std::chrono::milliseconds(options_.timeout_ms)) throw;
      backoff(attempt);
    } catch (...) {
      rollback();
      throw;
    }
  }
}

// ---- opening

SqliteStorage::SqliteStorage(const std::string& path, const SqliteOptions& options, const std::string& url)
    : url_(url), options_(options) {
  try {
    open_and_migrate(path);
  } catch (...) {
    for (auto& [sql, st] : stmts_) sqlite3_finalize(st);
    stmts_.clear();
    if (db_) sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

SqliteStorage::~SqliteStorage() {
  for (auto& [sql, st] : stmts_) sqlite3_finalize(st);
  if (db_) sqlite3_close_v2(db_);
}

void SqliteStorage::open_and_migrate(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p(path);
  if (p.has_parent_path() && !fs::is_directory(p.parent_path())) {
    throw StorageError("cannot open storage '" + url_ + "': directory " + p.parent_path().string() +
                       " does not exist");
  }
  int rc = sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    std::string detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    throw StorageError("cannot open storage '" + url_ + "': " + detail);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, options_.timeout_ms);

  auto pragma = [&](const char* sql) {
    auto start = std::chrono::steady_clock::now();
    for (int attempt = 0;; ++attempt) {
      int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
      if (rc == SQLITE_OK) return;
      int primary = rc & 0xff;
      if ((primary == SQLITE_BUSY || primary == SQLITE_LOCKED) &&
          std::chrono::steady_clock::now() - start < std::chrono::milliseconds(options_.timeout_ms)) {
        backoff(attempt);
        continue;
      }
      throw StorageError("cannot open storage '" + url_ + "': " + sqlite3_errmsg(db_));
    }
  };
  pragma("PRAGMA journal_mode=WAL");
  pragma(options_.synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
  pragma("PRAGMA foreign_keys=ON");

  try {
    write_tx([&] {
      bool has_version_table = false;
      {
        Stmt st(*this, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'");
        has_version_table = st.step();
      }
      if (!has_version_table) {
        exec(kSchemaV1);
        Stmt ins(*this, "INSERT INTO schema_version (version) VALUES (?1)");
        ins.bind_int(1, 1).run();
      }
      int64_t version = 0;
      {
        Stmt st(*this, "SELECT MAX(version) FROM schema_version");
        if (st.step()) version = st.col_int(0);
      }
      if (version > kSchemaVersion) {
        throw StorageError("cannot open storage '" + url_ + "': schema version " + std::to_string(version) +
                           " is newer than this bbo supports (" + std::to_string(kSchemaVersion) +
                           "); upgrade bbo");
      }
      if (version < 1) {
        throw StorageError("cannot open storage '" + url_ + "': corrupt schema_version table");
      }
      for (int64_t v = version; v < kSchemaVersion; ++v) {
        exec(kMigrations[static_cast<size_t>(v - 1)]);
        Stmt up(*this, "UPDATE schema_version SET version = ?1");
        up.bind_int(1, v + 1).run();
      }
    });
  } catch (const StorageError& e) {
    std::string what = e.what();
    if (what.find("cannot open storage") == std::string::npos) {
      throw StorageError("cannot open storage '" + url_ + "': " + what);
    }
    throw;
  }
}

int SqliteStorage::schema_version() {
  return read_tx([&] {
    Stmt st(*this, "SELECT MAX(version) FROM schema_version");
    return st.step() ? static_cast<int>(st.col_int(0)) : 0;
  });
}

// ---- helpers

json SqliteStorage::parse_json(const char* text, const char* what) {
  return storage_internal::parse_stored_json(text, url_, what);
}

const Distribution& SqliteStorage::parse_distribution(const std::string& text, const std::string& name) {
  return dist_cache_.get(text, name, url_);
}

void SqliteStorage::require_study(int64_t study_id) {
  Stmt st(*this, "SELECT 1 FROM studies WHERE id = ?1");
  if (!st.bind_int(1, study_id).step()) {
    throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + url_);
  }
}

StudyInfo SqliteStorage::study_from_row(sqlite3_stmt* raw) {
  // Columns: id, name, directions, user_attrs, system_attrs, n_trials, created.
  StudyInfo info;
  info.id = sqlite3_column_int64(raw, 0);
  info.name = reinterpret_cast<const char*>(sqlite3_column_text(raw, 1));
  info.directions = decode_directions(parse_json(reinterpret_cast<const char*>(sqlite3_column_text(raw, 2)),
                                                 "study directions"));
  info.user_attrs = parse_json(reinterpret_cast<const char*>(sqlite3_column_text(raw, 3)), "study user attrs");
  info.system_attrs =
      parse_json(reinterpret_cast<const char*>(sqlite3_column_text(raw, 4)), "study system attrs");
  info.n_trials = sqlite3_column_int64(raw, 5);
  info.datetime_start_us = sqlite3_column_int64(raw, 6);
  return info;
}

#define BBO_STUDY_COLUMNS "id, name, directions, user_attrs, system_attrs, n_trials, created"

std::pair<int64_t, int64_t> SqliteStorage::running_trial(int64_t trial_id, const std::string& what) {
  Stmt st(*this, "SELECT study_id, number, state FROM trials WHERE id = ?1");
  if (!st.bind_int(1, trial_id).step()) {
    throw NotFoundError("trial id " + std::to_string(trial_id) + " not found in " + url_);
  }
  TrialState s = state_from_code(st.col_int(2));
  if (s != TrialState::kRunning) {
    throw TrialStateError("trial " + std::to_string(st.col_int(1)) + " is " + to_string(s) + "; cannot " + what +
                          " (only a RUNNING trial can be written)");
  }
  return {st.col_int(0), st.col_int(1)};
}

int64_t SqliteStorage::bump_version(int64_t study_id) {
  Stmt st(*this, "UPDATE studies SET trials_version = trials_version + 1 WHERE id = ?1 RETURNING trials_version");
  if (!st.bind_int(1, study_id).step()) {
    throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + url_);
  }
  int64_t v = st.col_int(0);
  st.run();
  return v;
}

void SqliteStorage::set_trial_version(int64_t trial_id, int64_t version) {
  Stmt st(*this, "UPDATE trials SET version = ?2 WHERE id = ?1");
  st.bind_int(1, trial_id).bind_int(2, version).run();
}

std::vector<FrozenTrial> SqliteStorage::load_trials(const char* trials_sql, const char* params_sql,
                                                    const char* inter_sql, int64_t a, int64_t b) {
  std::vector<FrozenTrial> out;
  std::unordered_map<int64_t, size_t> index;
  {
    Stmt st(*this, trials_sql);
    st.bind_int(1, a);
    if (st.params() >= 2) st.bind_int(2, b);
    while (st.step()) {
      FrozenTrial t;
      t.id = st.col_int(0);
      t.study_id = st.col_int(1);
      t.number = st.col_int(2);
      t.state = state_from_code(st.col_int(3));
      t.values = decode_doubles(parse_json(st.col_cstr(4), "trial values"));
      t.constraints = decode_doubles(parse_json(st.col_cstr(5), "trial constraints"));
      t.user_attrs = parse_json(st.col_cstr(6), "trial user attrs");
      t.system_attrs = parse_json(st.col_cstr(7), "trial system attrs");
      t.datetime_start_us = st.col_opt(8);
      t.datetime_complete_us = st.col_opt(9);
      t.heartbeat_us = st.col_opt(10);
      index.emplace(t.id, out.size());
      out.push_back(std::move(t));
    }
  }
  if (out.empty()) return out;
  {
    Stmt st(*this, params_sql);
    st.bind_int(1, a);
    if (st.params() >= 2) st.bind_int(2, b);
    while (st.step()) {
      auto it = index.find(st.col_int(0));
      if (it == index.end()) continue;
      FrozenTrial& t = out[it->second];
      std::string name = st.col_text(1);
      t.params[name] = st.col_double(2);
      t.distributions.insert_or_assign(name, parse_distribution(st.col_text(3), name));
    }
  }
  {
    Stmt st(*this, inter_sql);
    st.bind_int(1, a);
    if (st.params() >= 2) st.bind_int(2, b);
    while (st.step()) {
      auto it = index.find(st.col_int(0));
      if (it == index.end()) continue;
      out[it->second].intermediate_values[StepKey{st.col_int(1), static_cast<int>(st.col_int(2))}] =
          st.col_double(3);
    }
  }
  return out;
}

// ---- studies

int64_t SqliteStorage::create_study(const std::string& name, const std::vector<Direction>& directions,
                                    const json& system_attrs) {
  if (name.empty()) throw ValueError("study name must not be empty");
  if (directions.empty()) throw ValueError("study '" + name + "' needs at least one direction");
  std::string dirs = encode_directions(directions);
  std::string sys = dump_json(system_attrs.is_null() ? json::object() : system_attrs);
  return write_tx([&] {
    {
      Stmt st(*this, "SELECT 1 FROM studies WHERE name = ?1");
      if (st.bind_text(1, name).step()) {
        throw DuplicateError("study '" + name + "' already exists in " + url_);
      }
    }
    Stmt ins(*this,
             "INSERT INTO studies (name, directions, user_attrs, system_attrs, created) "
             "VALUES (?1, ?2, '{}', ?3, ?4) RETURNING id");
    ins.bind_text(1, name).bind_text(2, dirs).bind_text(3, sys).bind_int(4, now_us());
    if (!ins.step()) throw StorageError("storage '" + url_ + "': study insert returned no id");
    int64_t id = ins.col_int(0);
    ins.run();
    return id;
  });
}

std::optional<StudyInfo> SqliteStorage::find_study(const std::string& name) {
  return read_tx([&]() -> std::optional<StudyInfo> {
    Stmt st(*this, "SELECT " BBO_STUDY_COLUMNS " FROM studies WHERE name = ?1");
    if (!st.bind_text(1, name).step()) return std::nullopt;
    return study_from_row(st.raw());
  });
}

StudyInfo SqliteStorage::get_study(int64_t study_id) {
  return read_tx([&] {
    Stmt st(*this, "SELECT " BBO_STUDY_COLUMNS " FROM studies WHERE id = ?1");
    if (!st.bind_int(1, study_id).step()) {
      throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + url_);
    }
    return study_from_row(st.raw());
  });
}

std::vector<StudyInfo> SqliteStorage::list_studies() {
  return read_tx([&] {
    std::vector<StudyInfo> out;
    Stmt st(*this, "SELECT " BBO_STUDY_COLUMNS " FROM studies ORDER BY id");
    while (st.step()) out.push_back(study_from_row(st.raw()));
    return out;
  });
}

void SqliteStorage::delete_study(int64_t study_id) {
  write_tx([&] {
    Stmt st(*this, "DELETE FROM studies WHERE id = ?1");
    st.bind_int(1, study_id).run();
    if (sqlite3_changes(db_) == 0) {
      throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + url_);
    }
  });
}

void SqliteStorage::set_study_user_attr(int64_t study_id, const std::string& key, const json& value) {
  write_tx([&] {
    json attrs;
    {
      Stmt st(*this, "SELECT user_attrs FROM studies WHERE id = ?1");
      if (!st.bind_int(1, study_id).step()) {
        throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + url_);
      }
      attrs = parse_json(st.col_cstr(0), "study user attrs");
    }
    attrs[key] = value;
    Stmt up(*this, "UPDATE studies SET user_attrs = ?2 WHERE id = ?1");
    up.bind_int(1, study_id).bind_text(2, dump_json(attrs)).run();
  });
}

void SqliteStorage::set_study_system_attr(int64_t study_id, const std::string& key, const json& value) {
  write_tx([&] {
    json attrs;
    {
      Stmt st(*this, "SELECT system_attrs FROM studies WHERE id = ?1");
      if (!st.bind_int(1, study_id).step()) {
        throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + url_);
      }
      attrs = parse_json(st.col_cstr(0), "study system attrs");
    }
    attrs[key] = value;
    Stmt up(*this, "UPDATE studies SET system_attrs = ?2 WHERE id = ?1");
    up.bind_int(1, study_id).bind_text(2, dump_json(attrs)).run();
  });
}

// ---- trials

namespace {
constexpr const char* kTrialByIdSql = "SELECT " BBO_TRIAL_COLUMNS " FROM trials t WHERE t.id = ?1";
constexpr const char* kParamsByIdSql =
    "SELECT trial_id, name, internal, distribution FROM trial_params WHERE trial_id = ?1";
constexpr const char* kInterByIdSql =
    "SELECT trial_id, step, objective, value FROM trial_intermediate WHERE trial_id = ?1";
}  // namespace

FrozenTrial SqliteStorage::create_trial(int64_t study_id, const FrozenTrial* tmpl) {
  int64_t now = now_us();
  TrialState state = tmpl ? tmpl->state : TrialState::kRunning;
  std::optional<int64_t> start = tmpl ? tmpl->datetime_start_us : std::optional<int64_t>(now);
  std::optional<int64_t> heartbeat = tmpl ? tmpl->heartbeat_us : std::optional<int64_t>(now);
  if (state == TrialState::kRunning) {
    if (!start) start = now;
    if (!heartbeat) heartbeat = now;
  }
  std::string values = tmpl ? encode_doubles(tmpl->values) : "[]";
  std::string constraints = tmpl ? encode_doubles(tmpl->constraints) : "[]";
  std::string user = tmpl && tmpl->user_attrs.is_object() ? dump_json(tmpl->user_attrs) : "{}";
  std::string sys = tmpl && tmpl->system_attrs.is_object() ? dump_json(tmpl->system_attrs) : "{}";
  std::vector<std::pair<std::string, std::string>> dists;  // name -> distribution json
  if (tmpl) {
    for (const auto& [name, internal] : tmpl->params) {
      auto it = tmpl->distributions.find(name);
      if (it == tmpl->distributions.end()) {
        throw ValueError("template trial parameter '" + name + "' has no distribution");
      }
      dists.emplace_back(name, distribution_to_json(it->second).dump());
    }
  }
  return write_tx([&] {
    int64_t number = 0;
    int64_t version = 0;
    {
      // The counter is read and incremented in the same write transaction as the insert, so concurrent
      // processes can never produce a gap or a duplicate.
      Stmt st(*this,
              "UPDATE studies SET n_trials = n_trials + 1, trials_version = trials_version + 1 WHERE id = ?1 "
              "RETURNING n_trials - 1, trials_version");
      if (!st.bind_int(1, study_id).step()) {
        throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + url_);
      }
      number = st.col_int(0);
      version = st.col_int(1);
      st.run();
    }
    int64_t trial_id = 0;
    {
      Stmt ins(*this,
               "INSERT INTO trials (study_id, number, state, objective_values, constraint_values, user_attrs, "
               "system_attrs, datetime_start, datetime_complete, heartbeat, version) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
      ins.bind_int(1, study_id).bind_int(2, number).bind_int(3, state_code(state));
      ins.bind_text(4, values).bind_text(5, constraints).bind_text(6, user).bind_text(7, sys);
      ins.bind_opt(8, start).bind_opt(9, tmpl ? tmpl->datetime_complete_us : std::nullopt);
      ins.bind_opt(10, heartbeat).bind_int(11, version);
      ins.run();
      trial_id = sqlite3_last_insert_rowid(db_);
    }
    if (tmpl) {
      size_t i = 0;
      for (const auto& [name, internal] : tmpl->params) {
        Stmt p(*this,
               "INSERT OR REPLACE INTO trial_params (trial_id, name, internal, distribution) "
               "VALUES (?1, ?2, ?3, ?4)");
        p.bind_int(1, trial_id).bind_text(2, name).bind_double(3, internal).bind_text(4, dists[i++].second);
        p.run();
      }
      for (const auto& [key, value] : tmpl->intermediate_values) {
        Stmt p(*this,
               "INSERT OR REPLACE INTO trial_intermediate (trial_id, step, objective, value) "
               "VALUES (?1, ?2, ?3, ?4)");
        p.bind_int(1, trial_id).bind_int(2, key.step).bind_int(3, key.objective).bind_double(4, value);
        p.run();
      }
    }
    if (!tmpl) {
      // Nothing else to read back: build the record directly.
      FrozenTrial t;
      t.id = trial_id;
      t.study_id = study_id;
      t.number = number;
      t.state = TrialState::kRunning;
      t.datetime_start_us = start;
      t.heartbeat_us = heartbeat;
      return t;
    }
    return load_trials(kTrialByIdSql, kParamsByIdSql, kInterByIdSql, trial_id, 0).at(0);
  });
}

std::optional<FrozenTrial> SqliteStorage::claim_waiting_trial(int64_t study_id) {
  return write_tx([&]() -> std::optional<FrozenTrial> {
    int64_t trial_id = 0;
    {
      Stmt st(*this, "SELECT id FROM trials WHERE study_id = ?1 AND state = ?2 ORDER BY number LIMIT 1");
      if (!st.bind_int(1, study_id).bind_int(2, state_code(TrialState::kWaiting)).step()) {
        require_study(study_id);
        return std::nullopt;
      }
      trial_id = st.col_int(0);
    }
    int64_t version = bump_version(study_id);
    int64_t now = now_us();
    Stmt up(*this,
            "UPDATE trials SET state = ?2, datetime_start = ?3, heartbeat = ?3, version = ?4 WHERE id = ?1");
    up.bind_int(1, trial_id).bind_int(2, state_code(TrialState::kRunning)).bind_int(3, now).bind_int(4, version);
    up.run();
    return load_trials(kTrialByIdSql, kParamsByIdSql, kInterByIdSql, trial_id, 0).at(0);
  });
}

void SqliteStorage::set_trial_param(int64_t trial_id, const std::string& name, double internal,
                                    const Distribution& d) {
  std::string dist = distribution_to_json(d).dump();
  write_tx([&] {
    auto [study_id, number] = running_trial(trial_id, "set param '" + name + "'");
    Stmt p(*this,
           "INSERT OR REPLACE INTO trial_params (trial_id, name, internal, distribution) VALUES (?1, ?2, ?3, ?4)");
    p.bind_int(1, trial_id).bind_text(2, name).bind_double(3, internal).bind_text(4, dist).run();
    set_trial_version(trial_id, bump_version(study_id));
  });
}

void SqliteStorage::set_trial_intermediate_value(int64_t trial_id, int64_t step, int objective, double value) {
  if (step < 0 || objective < 0) {
    throw ValueError("intermediate value needs step >= 0 and objective >= 0, got step " + std::to_string(step) +
                     ", objective " + std::to_string(objective));
  }
  write_tx([&] {
    auto [study_id, number] = running_trial(trial_id, "report an intermediate value");
    Stmt p(*this,
           "INSERT OR REPLACE INTO trial_intermediate (trial_id, step, objective, value) VALUES (?1, ?2, ?3, ?4)");
    p.bind_int(1, trial_id).bind_int(2, step).bind_int(3, objective).bind_double(4, value).run();
    set_trial_version(trial_id, bump_version(study_id));
  });
}

void SqliteStorage::set_trial_user_attr(int64_t trial_id, const std::string& key, const json& value) {
  write_tx([&] {
    auto [study_id, number] = running_trial(trial_id, "set user attr '" + key + "'");
    json attrs;
    {
      Stmt st(*this, "SELECT user_attrs FROM trials WHERE id = ?1");
      st.bind_int(1, trial_id).step();
      attrs = parse_json(st.col_cstr(0), "trial user attrs");
    }
    attrs[key] = value;
    int64_t version = bump_version(study_id);
    Stmt up(*this, "UPDATE trials SET user_attrs = ?2, version = ?3 WHERE id = ?1");
    up.bind_int(1, trial_id).bind_text(2, dump_json(attrs)).bind_int(3, version).run();
  });
}

void SqliteStorage::set_trial_system_attr(int64_t trial_id, const std::string& key, const json& value) {
  write_tx([&] {
    auto [study_id, number] = running_trial(trial_id, "set system attr '" + key + "'");
    json attrs;
    {
      Stmt st(*this, "SELECT system_attrs FROM trials WHERE id = ?1");
      st.bind_int(1, trial_id).step();
      attrs = parse_json(st.col_cstr(0), "trial system attrs");
    }
    attrs[key] = value;
    int64_t version = bump_version(study_id);
    Stmt up(*this, "UPDATE trials SET system_attrs = ?2, version = ?3 WHERE id = ?1");
    up.bind_int(1, trial_id).bind_text(2, dump_json(attrs)).bind_int(3, version).run();
  });
}

void SqliteStorage::finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values,
                                 const std::vector<double>& constraints) {
  if (!is_finished(state)) {
    throw ValueError(std::string("cannot finish a trial with state ") + to_string(state) +
                     " (COMPLETE, PRUNED or FAIL)");
  }
  std::string v = encode_doubles(values);
  std::string c = encode_doubles(constraints);
  write_tx([&] {
    auto [study_id, number] = running_trial(trial_id, "finish it");
    int64_t version = bump_version(study_id);
    Stmt up(*this,
            "UPDATE trials SET state = ?2, objective_values = ?3, constraint_values = ?4, datetime_complete = ?5, "
            "version = ?6 WHERE id = ?1");
    up.bind_int(1, trial_id).bind_int(2, state_code(state)).bind_text(3, v).bind_text(4, c);
    up.bind_int(5, now_us()).bind_int(6, version).run();
  });
}

void SqliteStorage::heartbeat(int64_t trial_id) {
  write_tx([&] {
    auto [study_id, number] = running_trial(trial_id, "record a heartbeat");
    int64_t version = bump_version(study_id);
    Stmt up(*this, "UPDATE trials SET heartbeat = ?2, version = ?3 WHERE id = ?1");
    up.bind_int(1, trial_id).bind_int(2, now_us()).bind_int(3, version).run();
  });
}

std::vector<int64_t> SqliteStorage::fail_stale_trials(int64_t study_id, double grace_seconds) {
  if (!(grace_seconds >= 0) || std::isinf(grace_seconds)) {
    throw ValueError("fail_stale_trials needs a finite grace period >= 0 s, got " + std::to_string(grace_seconds));
  }
  return write_tx([&] {
    require_study(study_id);
    int64_t now = now_us();
    int64_t cutoff = now - static_cast<int64_t>(grace_seconds * 1e6);
    struct Stale {
      int64_t id, number;
      std::string sys;
    };
    std::vector<Stale> stale;
    {
      // Inside BEGIN IMMEDIATE no other writer runs, so a trial seen RUNNING here is failed exactly once.
      Stmt st(*this,
              "SELECT id, number, system_attrs FROM trials WHERE study_id = ?1 AND state = ?2 "
              "AND COALESCE(heartbeat, datetime_start, ?4) < ?3 ORDER BY number");
      st.bind_int(1, study_id).bind_int(2, state_code(TrialState::kRunning)).bind_int(3, cutoff).bind_int(4, now);
      while (st.step()) stale.push_back({st.col_int(0), st.col_int(1), st.col_cstr(2)});
    }
    std::vector<int64_t> numbers;
    std::string reason =
        "heartbeat older than " + std::to_string(grace_seconds) + " s (the worker is presumed dead)";
    for (const Stale& s : stale) {
      json sys = parse_json(s.sys.c_str(), "trial system attrs");
      sys["fail_reason"] = reason;
      int64_t version = bump_version(study_id);
      Stmt up(*this,
              "UPDATE trials SET state = ?2, datetime_complete = ?3, system_attrs = ?4, version = ?5 "
              "WHERE id = ?1 AND state = ?6");
      up.bind_int(1, s.id).bind_int(2, state_code(TrialState::kFail)).bind_int(3, now);
      up.bind_text(4, dump_json(sys)).bind_int(5, version).bind_int(6, state_code(TrialState::kRunning)).run();
      if (sqlite3_changes(db_) == 1) numbers.push_back(s.number);
    }
    return numbers;
  });
}

FrozenTrial SqliteStorage::get_trial(int64_t trial_id) {
  return read_tx([&] {
    auto trials = load_trials(kTrialByIdSql, kParamsByIdSql, kInterByIdSql, trial_id, 0);
    if (trials.empty()) throw NotFoundError("trial id " + std::to_string(trial_id) + " not found in " + url_);
    return std::move(trials[0]);
  });
}

FrozenTrial SqliteStorage::get_trial_by_number(int64_t study_id, int64_t number) {
  return read_tx([&] {
    int64_t trial_id = 0;
    {
      Stmt st(*this, "SELECT id FROM trials WHERE study_id = ?1 AND number = ?2");
      if (!st.bind_int(1, study_id).bind_int(2, number).step()) {
        require_study(study_id);
        throw NotFoundError("trial number " + std::to_string(number) + " not found in study id " +
                            std::to_string(study_id));
      }
      trial_id = st.col_int(0);
    }
    return load_trials(kTrialByIdSql, kParamsByIdSql, kInterByIdSql, trial_id, 0).at(0);
  });
}

std::vector<FrozenTrial> SqliteStorage::get_trials(int64_t study_id, const std::vector<TrialState>& states) {
  int64_t mask = state_mask(states);
  return read_tx([&] {
    require_study(study_id);
    return load_trials(
        "SELECT " BBO_TRIAL_COLUMNS " FROM trials t WHERE t.study_id = ?1 AND ((1 << t.state) & ?2) != 0 "
        "ORDER BY t.number",
        "SELECT p.trial_id, p.name, p.internal, p.distribution FROM trial_params p JOIN trials t "
        "ON t.id = p.trial_id WHERE t.study_id = ?1 AND ((1 << t.state) & ?2) != 0",
        "SELECT i.trial_id, i.step, i.objective, i.value FROM trial_intermediate i JOIN trials t "
        "ON t.id = i.trial_id WHERE t.study_id = ?1 AND ((1 << t.state) & ?2) != 0",
        study_id, mask);
  });
}

TrialsDelta SqliteStorage::get_trials_since(int64_t study_id, int64_t since_version) {
  return read_tx([&] {
    TrialsDelta delta;
    {
      Stmt st(*this, "SELECT trials_version FROM studies WHERE id = ?1");
      if (!st.bind_int(1, study_id).step()) {
        throw NotFoundError("study id " + std::to_string(study_id) + " not found in " + url_);
      }
      delta.version = st.col_int(0);
    }
    if (since_version >= delta.version) return delta;
    delta.trials = load_trials(
        "SELECT " BBO_TRIAL_COLUMNS " FROM trials t WHERE t.study_id = ?1 AND t.version > ?2 ORDER BY t.number",
        "SELECT p.trial_id, p.name, p.internal, p.distribution FROM trial_params p JOIN trials t "
        "ON t.id = p.trial_id WHERE t.study_id = ?1 AND t.version > ?2",
        "SELECT i.trial_id, i.step, i.objective, i.value FROM trial_intermediate i JOIN trials t "
        "ON t.id = i.trial_id WHERE t.study_id = ?1 AND t.version > ?2",
        study_id, since_version);
    return delta;
  });
}

int64_t SqliteStorage::count_trials(int64_t study_id, const std::vector<TrialState>& states) {
  int64_t mask = state_mask(states);
  return read_tx([&] {
    require_study(study_id);
    if (states.empty()) {
      Stmt st(*this, "SELECT n_trials FROM studies WHERE id = ?1");
      st.bind_int(1, study_id).step();
      return st.col_int(0);
    }
    Stmt st(*this, "SELECT COUNT(*) FROM trials WHERE study_id = ?1 AND ((1 << state) & ?2) != 0");
    st.bind_int(1, study_id).bind_int(2, mask).step();
    return st.col_int(0);
  });
}

// ---- plugin state

PluginState SqliteStorage::get_plugin_state(int64_t study_id, const std::string& key) {
  return read_tx([&] {
    require_study(study_id);
    PluginState state;
    Stmt st(*this, "SELECT version, blob FROM plugin_state WHERE study_id = ?1 AND key = ?2");
    if (st.bind_int(1, study_id).bind_text(2, key).step()) {
      state.version = st.col_int(0);
      state.blob = st.col_text(1);
    }
    return state;
  });
}

bool SqliteStorage::compare_and_swap_plugin_state(int64_t study_id, const std::string& key,
                                                  int64_t expected_version, const std::string& blob) {
  return write_tx([&] {
    require_study(study_id);
    int64_t current = 0;
    {
      Stmt st(*this, "SELECT version FROM plugin_state WHERE study_id = ?1 AND key = ?2");
      if (st.bind_int(1, study_id).bind_text(2, key).step()) current = st.col_int(0);
    }
    if (current != expected_version) return false;
    Stmt up(*this, "INSERT OR REPLACE INTO plugin_state (study_id, key, version, blob) VALUES (?1, ?2, ?3, ?4)");
    up.bind_int(1, study_id).bind_text(2, key).bind_int(3, expected_version + 1).bind_blob(4, blob).run();
    return true;
  });
}

}  // namespace bbo

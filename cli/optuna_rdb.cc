// cli/optuna_rdb.cc — Optuna's RDB schema on SQLite: the DDL exactly as Optuna 3.1's migrations leave it,
// and the mapping between its rows and bbo's FrozenTrial (see optuna_rdb.h).
#include "optuna_rdb.h"

#include <sqlite3.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "bbo/error.h"

namespace bbo::cli::optuna_rdb {
namespace {

// `sqlite3 optuna.db .schema` of a fresh Optuna 3.1 database, statement by statement in creation order.
const char* const kSchema[] = {
    R"sql(CREATE TABLE studies (
	study_id INTEGER NOT NULL, 
	study_name VARCHAR(512) NOT NULL, 
	PRIMARY KEY (study_id)
))sql",
    R"sql(CREATE UNIQUE INDEX ix_studies_study_name ON studies (study_name))sql",
    R"sql(CREATE TABLE version_info (
	version_info_id INTEGER NOT NULL, 
	schema_version INTEGER, 
	library_version VARCHAR(256), 
	PRIMARY KEY (version_info_id), 
	CHECK (version_info_id=1)
))sql",
    R"sql(CREATE TABLE study_directions (
	study_direction_id INTEGER NOT NULL, 
	direction VARCHAR(8) NOT NULL, 
	study_id INTEGER NOT NULL, 
	objective INTEGER NOT NULL, 
	PRIMARY KEY (study_direction_id), 
	UNIQUE (study_id, objective), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
))sql",
    R"sql(CREATE TABLE study_user_attributes (
	study_user_attribute_id INTEGER NOT NULL, 
	study_id INTEGER, 
	"key" VARCHAR(512), 
	value_json TEXT, 
	PRIMARY KEY (study_user_attribute_id), 
	UNIQUE (study_id, "key"), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
))sql",
    R"sql(CREATE TABLE study_system_attributes (
	study_system_attribute_id INTEGER NOT NULL, 
	study_id INTEGER, 
	"key" VARCHAR(512), 
	value_json TEXT, 
	PRIMARY KEY (study_system_attribute_id), 
	UNIQUE (study_id, "key"), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
))sql",
    R"sql(CREATE TABLE trials (
	trial_id INTEGER NOT NULL, 
	number INTEGER, 
	study_id INTEGER, 
	state VARCHAR(8) NOT NULL, 
	datetime_start DATETIME, 
	datetime_complete DATETIME, 
	PRIMARY KEY (trial_id), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
))sql",
    R"sql(CREATE TABLE trial_user_attributes (
	trial_user_attribute_id INTEGER NOT NULL, 
	trial_id INTEGER, 
	"key" VARCHAR(512), 
	value_json TEXT, 
	PRIMARY KEY (trial_user_attribute_id), 
	UNIQUE (trial_id, "key"), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
))sql",
    R"sql(CREATE TABLE trial_system_attributes (
	trial_system_attribute_id INTEGER NOT NULL, 
	trial_id INTEGER, 
	"key" VARCHAR(512), 
	value_json TEXT, 
	PRIMARY KEY (trial_system_attribute_id), 
	UNIQUE (trial_id, "key"), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
))sql",
    R"sql(CREATE TABLE trial_params (
	param_id INTEGER NOT NULL, 
	trial_id INTEGER, 
	param_name VARCHAR(512), 
	param_value FLOAT, 
	distribution_json TEXT, 
	PRIMARY KEY (param_id), 
	UNIQUE (trial_id, param_name), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
))sql",
    R"sql(CREATE TABLE trial_values (
	trial_value_id INTEGER NOT NULL, 
	trial_id INTEGER NOT NULL, 
	objective INTEGER NOT NULL, 
	value FLOAT, 
	value_type VARCHAR(7) NOT NULL, 
	PRIMARY KEY (trial_value_id), 
	UNIQUE (trial_id, objective), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
))sql",
    R"sql(CREATE TABLE trial_intermediate_values (
	trial_intermediate_value_id INTEGER NOT NULL, 
	trial_id INTEGER NOT NULL, 
	step INTEGER NOT NULL, 
	intermediate_value FLOAT, 
	intermediate_value_type VARCHAR(7) NOT NULL, 
	PRIMARY KEY (trial_intermediate_value_id), 
	UNIQUE (trial_id, step), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
))sql",
    R"sql(CREATE TABLE trial_heartbeats (
	trial_heartbeat_id INTEGER NOT NULL, 
	trial_id INTEGER NOT NULL, 
	heartbeat DATETIME NOT NULL, 
	PRIMARY KEY (trial_heartbeat_id), 
	UNIQUE (trial_id), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
))sql",
    R"sql(CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
))sql",
};

constexpr const char* kAlembicRevision = "v3.0.0.d";  // Optuna 3.1's head revision
constexpr int kSchemaVersion = 12;
constexpr const char* kLibraryVersion = "3.1.0";

// A connection and its statements; every failure is a StorageError naming the file.
class Db {
 public:
  Db(const std::string& path, int flags) : path_(path) {
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw StorageError("'" + path + "': cannot open as SQLite: " + msg);
    }
    sqlite3_busy_timeout(db_, 10000);
  }
  ~Db() { sqlite3_close(db_); }
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err ? err : "unknown error";
      sqlite3_free(err);
      throw StorageError("'" + path_ + "': " + msg);
    }
  }
  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

class Stmt {
 public:
  Stmt(Db& db, const std::string& sql) : db_(db) {
    if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &st_, nullptr) != SQLITE_OK)
      throw StorageError("'" + db.path() + "': " + sqlite3_errmsg(db.get()));
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, int64_t v) { return check(sqlite3_bind_int64(st_, i, v)); }
  Stmt& bind(int i, int v) { return check(sqlite3_bind_int64(st_, i, v)); }
  Stmt& bind(int i, double v) { return check(sqlite3_bind_double(st_, i, v)); }
  Stmt& bind(int i, const std::string& v) {
    return check(sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& bind_null(int i) { return check(sqlite3_bind_null(st_, i)); }
  Stmt& bind_opt_text(int i, const std::string& v) { return v.empty() ? bind_null(i) : bind(i, v); }

  // One row ready: true; done: false.
  bool step() {
    int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    throw StorageError("'" + db_.path() + "': " + sqlite3_errmsg(db_.get()));
  }
  // Runs an INSERT to completion and resets for the next bindings.
  void run() {
    step();
    sqlite3_reset(st_);
    sqlite3_clear_bindings(st_);
  }
  bool is_null(int c) const { return sqlite3_column_type(st_, c) == SQLITE_NULL; }
  int64_t i64(int c) const { return sqlite3_column_int64(st_, c); }
  double dbl(int c) const { return sqlite3_column_double(st_, c); }
  std::string text(int c) const {
    const unsigned char* p = sqlite3_column_text(st_, c);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(st_, c)) : std::string();
  }

 private:
  Stmt& check(int rc) {
    if (rc != SQLITE_OK) throw StorageError("'" + db_.path() + "': " + sqlite3_errmsg(db_.get()));
    return *this;
  }
  Db& db_;
  sqlite3_stmt* st_ = nullptr;
};

// ---- value and time encodings

const char* value_type(double v) {
  if (std::isnan(v)) return "NAN";
  if (std::isinf(v)) return v > 0 ? "INF_POS" : "INF_NEG";
  return "FINITE";
}

double value_from_type(const std::string& type, bool is_null, double value, const std::string& where) {
  if (type == "FINITE") {
    if (is_null) throw ValueError(where + ": value_type FINITE with a NULL value");
    return value;
  }
  if (type == "INF_POS") return INFINITY;
  if (type == "INF_NEG") return -INFINITY;
  if (type == "NAN") return NAN;
  throw ValueError(where + ": unknown value_type '" + type + "'");
}

std::string format_datetime(int64_t us, bool utc) {
  time_t secs = static_cast<time_t>(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
  int64_t frac = us - static_cast<int64_t>(secs) * 1000000;
  std::tm tm{};
  if (utc) gmtime_r(&secs, &tm);
  else localtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d.%06lld", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<long long>(frac));
  return buf;
}

std::string format_datetime(const std::optional<int64_t>& us, bool utc) {
  return us ? format_datetime(*us, utc) : std::string();
}

// "YYYY-MM-DD HH:MM:SS[.ffffff]" (also with a 'T'), naive local time as Optuna writes it.
std::optional<int64_t> parse_datetime(const std::string& s, const std::string& where) {
  if (s.empty()) return std::nullopt;
  int y, mo, d, h, mi, sec, n = 0;
  if (std::sscanf(s.c_str(), "%d-%d-%d%*1[ T]%d:%d:%d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
    throw ValueError(where + ": cannot read the time '" + s + "'");
  int64_t frac = 0;
  if (static_cast<size_t>(n) < s.size() && s[n] == '.') {
    int64_t scale = 100000;
    for (size_t i = n + 1; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, scale /= 10)
      if (scale > 0) frac += (s[i] - '0') * scale;
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  tm.tm_isdst = -1;
  time_t t = std::mktime(&tm);
  return static_cast<int64_t>(t) * 1000000 + frac;
}

std::string state_name(TrialState s) { return to_string(s); }  // Optuna's names are bbo's

TrialState state_from_name(const std::string& s, const std::string& where) {
  static const std::map<std::string, TrialState> kStates = {{"RUNNING", TrialState::kRunning},
                                                            {"WAITING", TrialState::kWaiting},
                                                            {"COMPLETE", TrialState::kComplete},
                                                            {"PRUNED", TrialState::kPruned},
                                                            {"FAIL", TrialState::kFail}};
  auto it = kStates.find(s);
  if (it == kStates.end()) throw ValueError(where + ": unknown trial state '" + s + "'");
  return it->second;
}

json parse_value_json(const std::string& text, const std::string& where) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw ValueError(where + ": invalid JSON: " + e.what());
  }
}

// Optuna 2's distribution JSON, which Optuna 3 still reads from migrated databases, in Optuna 3's form.
json modern_distribution_json(const json& j) {
  if (!j.is_object() || !j.contains("name") || !j.contains("attributes")) return j;
  const std::string name = j["name"].is_string() ? j["name"].get<std::string>() : "";
  const json& a = j["attributes"];
  auto fd = [&](bool log, json step) {
    return json{{"name", "FloatDistribution"},
                {"attributes", {{"low", a.value("low", json())}, {"high", a.value("high", json())},
                                {"log", log}, {"step", step}}}};
  };
  auto id = [&](bool log) {
    return json{{"name", "IntDistribution"},
                {"attributes", {{"low", a.value("low", json())}, {"high", a.value("high", json())},
                                {"log", log}, {"step", a.value("step", json(1))}}}};
  };
  if (name == "UniformDistribution") return fd(false, nullptr);
  if (name == "LogUniformDistribution") return fd(true, nullptr);
  if (name == "DiscreteUniformDistribution") return fd(false, a.value("q", json()));
  if (name == "IntUniformDistribution") return id(false);
  if (name == "IntLogUniformDistribution") return id(true);
  return j;
}

}  // namespace

// ---- writing

WriteReport write_database(const std::string& path, const RdbStudy& study) {
  WriteReport report;
  bool created = false;
  try {
    if (std::filesystem::exists(path)) throw StorageError("'" + path + "' already exists");
    Db db(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    created = true;
    db.exec("BEGIN");
    for (const char* ddl : kSchema) db.exec(ddl);
    {
      Stmt s(db, "INSERT INTO alembic_version (version_num) VALUES (?)");
      s.bind(1, std::string(kAlembicRevision)).run();
      Stmt v(db, "INSERT INTO version_info (version_info_id, schema_version, library_version) VALUES (1, ?, ?)");
      v.bind(1, kSchemaVersion).bind(2, std::string(kLibraryVersion)).run();
    }
    const int64_t study_id = 1;
    Stmt(db, "INSERT INTO studies (study_id, study_name) VALUES (?, ?)").bind(1, study_id).bind(2, study.name).run();
    {
      Stmt s(db, "INSERT INTO study_directions (direction, study_id, objective) VALUES (?, ?, ?)");
      for (size_t i = 0; i < study.directions.size(); ++i)
        s.bind(1, std::string(study.directions[i] == Direction::kMinimize ? "MINIMIZE" : "MAXIMIZE"))
            .bind(2, study_id)
            .bind(3, static_cast<int64_t>(i))
            .run();
    }
    for (const auto& [table, attrs] : {std::pair<std::string, const json*>{"study_user_attributes", &study.user_attrs},
                                       {"study_system_attributes", &study.system_attrs}}) {
      Stmt s(db, "INSERT INTO " + table + " (study_id, \"key\", value_json) VALUES (?, ?, ?)");
      for (const auto& [k, v] : attrs->items()) s.bind(1, study_id).bind(2, k).bind(3, v.dump()).run();
    }

    Stmt ins_trial(db, "INSERT INTO trials (trial_id, number, study_id, state, datetime_start, datetime_complete) "
                       "VALUES (?, ?, ?, ?, ?, ?)");
    Stmt ins_param(db, "INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) "
                       "VALUES (?, ?, ?, ?)");
    Stmt ins_value(db, "INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?, ?, ?, ?)");
    Stmt ins_iv(db, "INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, "
                    "intermediate_value_type) VALUES (?, ?, ?, ?)");
    Stmt ins_uattr(db, "INSERT INTO trial_user_attributes (trial_id, \"key\", value_json) VALUES (?, ?, ?)");
    Stmt ins_sattr(db, "INSERT INTO trial_system_attributes (trial_id, \"key\", value_json) VALUES (?, ?, ?)");
    Stmt ins_hb(db, "INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES (?, ?)");
    int64_t trial_id = 0;
    for (const FrozenTrial& t : study.trials) {
      ++trial_id;
      TrialState state = t.state;
      bool nan_value = false;
      for (double v : t.values) nan_value = nan_value || std::isnan(v);
      if (nan_value) {
        state = TrialState::kFail;
        ++report.nan_value_trials;
      }
      ins_trial.bind(1, trial_id).bind(2, t.number).bind(3, study_id).bind(4, state_name(state));
      ins_trial.bind_opt_text(5, format_datetime(t.datetime_start_us, false));
      ins_trial.bind_opt_text(6, format_datetime(t.datetime_complete_us, false));
      ins_trial.run();
      for (const auto& [name, internal] : t.params) {
        auto d = t.distributions.find(name);
        if (d == t.distributions.end())
          throw ValueError("trial " + std::to_string(t.number) + ": parameter '" + name + "' has no distribution");
        ins_param.bind(1, trial_id).bind(2, name).bind(3, internal).bind(4, distribution_to_json(d->second).dump());
        ins_param.run();
      }
      if (!nan_value) {
        for (size_t i = 0; i < t.values.size(); ++i) {
          ins_value.bind(1, trial_id).bind(2, static_cast<int64_t>(i));
          if (std::isfinite(t.values[i])) ins_value.bind(3, t.values[i]);
          else ins_value.bind_null(3);
          ins_value.bind(4, std::string(value_type(t.values[i]))).run();
        }
      }
      for (const auto& [key, v] : t.intermediate_values) {
        if (key.objective != 0) {
          ++report.dropped_intermediate_values;
          continue;
        }
        ins_iv.bind(1, trial_id).bind(2, key.step);
        if (std::isfinite(v)) ins_iv.bind(3, v);
        else ins_iv.bind_null(3);
        ins_iv.bind(4, std::string(value_type(v))).run();
      }
      for (const auto& [k, v] : t.user_attrs.items()) ins_uattr.bind(1, trial_id).bind(2, k).bind(3, v.dump()).run();
      json sys = t.system_attrs.is_object() ? t.system_attrs : json::object();
      if (!t.constraints.empty()) {
        json c = json::array();
        for (double v : t.constraints) c.push_back(v);  // non-finite become null, as json.dumps cannot say better
        sys["constraints"] = c;
      }
      for (const auto& [k, v] : sys.items()) ins_sattr.bind(1, trial_id).bind(2, k).bind(3, v.dump()).run();
      if (state == TrialState::kRunning && t.heartbeat_us)
        ins_hb.bind(1, trial_id).bind(2, format_datetime(*t.heartbeat_us, true)).run();
    }
    db.exec("COMMIT");
  } catch (...) {
    if (created) {
      std::error_code ec;
      std::filesystem::remove(path, ec);
      std::filesystem::remove(path + "-journal", ec);
    }
    throw;
  }
  return report;
}

// ---- reading

RdbStudy read_study(const std::string& path, const std::string& name) {
  if (!std::filesystem::is_regular_file(path)) throw ValueError("'" + path + "': no such file");
  const std::string not_optuna = "'" + path + "' is not an Optuna 3.x database";
  std::unique_ptr<Db> dbp;
  try {
    dbp = std::make_unique<Db>(path, SQLITE_OPEN_READONLY);
  } catch (const StorageError&) {
    throw ValueError(not_optuna + " (not an SQLite file)");
  }
  Db& db = *dbp;
  // Which tables exist: reading a non-SQLite file fails here ("file is not a database").
  std::set<std::string> tables;
  try {
    Stmt s(db, "SELECT name FROM sqlite_master WHERE type = 'table'");
    while (s.step()) tables.insert(s.text(0));
  } catch (const StorageError&) {
    throw ValueError(not_optuna + " (not an SQLite file)");
  }
  for (const char* t : {"alembic_version", "studies", "study_directions", "study_user_attributes",
                        "study_system_attributes", "trials", "trial_params", "trial_values",
                        "trial_intermediate_values", "trial_user_attributes", "trial_system_attributes"})
    if (!tables.count(t)) throw ValueError(not_optuna + " (no table '" + t + "')");
  {
    Stmt s(db, "SELECT version_num FROM alembic_version");
    std::string rev = s.step() ? s.text(0) : "";
    if (rev.rfind("v3.", 0) != 0)
      throw ValueError(not_optuna + " (schema revision '" + rev + "'; upgrade it with `optuna storage upgrade`)");
  }

  RdbStudy out;
  int64_t study_id = -1;
  try {
    {
      Stmt s(db, "SELECT study_id FROM studies WHERE study_name = ?");
      s.bind(1, name);
      if (s.step()) study_id = s.i64(0);
    }
    if (study_id < 0) {
      std::string names;
      Stmt s(db, "SELECT study_name FROM studies ORDER BY study_id");
      while (s.step()) names += (names.empty() ? "" : ", ") + s.text(0);
      throw NotFoundError("no study '" + name + "' in '" + path + "' (studies there: " +
                          (names.empty() ? "none" : names) + ")");
    }
    out.name = name;
    {
      Stmt s(db, "SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective");
      s.bind(1, study_id);
      while (s.step()) {
        std::string d = s.text(0);
        // NOT_SET only exists while Optuna creates a study; it minimizes by default.
        out.directions.push_back(d == "MAXIMIZE" ? Direction::kMaximize : Direction::kMinimize);
      }
      if (out.directions.empty()) out.directions.push_back(Direction::kMinimize);
    }
    for (auto [table, attrs] : {std::pair<std::string, json*>{"study_user_attributes", &out.user_attrs},
                                {"study_system_attributes", &out.system_attrs}}) {
      Stmt s(db, "SELECT \"key\", value_json FROM " + table + " WHERE study_id = ? ORDER BY 1");
      s.bind(1, study_id);
      while (s.step()) (*attrs)[s.text(0)] = parse_value_json(s.text(1), "study attr '" + s.text(0) + "'");
    }

    std::map<int64_t, size_t> by_id;  // Optuna trial_id -> index in out.trials
    {
      Stmt s(db, "SELECT trial_id, number, state, datetime_start, datetime_complete FROM trials "
                 "WHERE study_id = ? ORDER BY number, trial_id");
      s.bind(1, study_id);
      while (s.step()) {
        FrozenTrial t;
        t.id = s.i64(0);
        t.number = s.i64(1);
        const std::string where = "trial " + std::to_string(t.number);
        if (t.number != static_cast<int64_t>(out.trials.size()))
          throw ValueError(where + ": trial numbers are not 0, 1, 2, ... (expected " +
                           std::to_string(out.trials.size()) + ")");
        t.state = state_from_name(s.text(2), where);
        t.datetime_start_us = parse_datetime(s.text(3), where);
        t.datetime_complete_us = parse_datetime(s.text(4), where);
        by_id[t.id] = out.trials.size();
        out.trials.push_back(std::move(t));
      }
    }
    const std::string in_study =
        " JOIN trials t ON t.trial_id = x.trial_id WHERE t.study_id = ? ORDER BY x.trial_id";
    auto trial_of = [&](int64_t id) -> FrozenTrial& { return out.trials[by_id.at(id)]; };
    {
      Stmt s(db, "SELECT x.trial_id, x.param_name, x.param_value, x.distribution_json FROM trial_params x" + in_study);
      s.bind(1, study_id);
      while (s.step()) {
        FrozenTrial& t = trial_of(s.i64(0));
        const std::string pname = s.text(1);
        const std::string where = "trial " + std::to_string(t.number) + ", parameter '" + pname + "'";
        if (s.is_null(2)) throw ValueError(where + ": NULL param_value");
        json dj = modern_distribution_json(parse_value_json(s.text(3), where + ": distribution_json"));
        Distribution d;
        try {
          d = distribution_from_json(dj, pname);
        } catch (const Error& e) {
          throw ValueError(where + ": " + e.what());
        }
        double internal = s.dbl(2);
        if (!contains(d, internal))
          throw ValueError(where + ": value " + std::to_string(internal) + " is outside its distribution " +
                           dj.dump());
        t.params[pname] = internal;
        t.distributions[pname] = d;
      }
    }
    {
      Stmt s(db, "SELECT x.trial_id, x.objective, x.value, x.value_type FROM trial_values x" + in_study);
      s.bind(1, study_id);
      while (s.step()) {
        FrozenTrial& t = trial_of(s.i64(0));
        int64_t obj = s.i64(1);
        const std::string where = "trial " + std::to_string(t.number) + ", objective " + std::to_string(obj);
        if (obj < 0 || obj >= static_cast<int64_t>(out.directions.size()))
          throw ValueError(where + ": the study has " + std::to_string(out.directions.size()) + " objective(s)");
        if (t.values.size() < out.directions.size()) t.values.resize(out.directions.size(), NAN);
        t.values[obj] = value_from_type(s.text(3), s.is_null(2), s.dbl(2), where);
      }
    }
    {
      Stmt s(db, "SELECT x.trial_id, x.step, x.intermediate_value, x.intermediate_value_type "
                 "FROM trial_intermediate_values x" + in_study);
      s.bind(1, study_id);
      while (s.step()) {
        FrozenTrial& t = trial_of(s.i64(0));
        int64_t step = s.i64(1);
        const std::string where = "trial " + std::to_string(t.number) + ", step " + std::to_string(step);
        if (step < 0) throw ValueError(where + ": negative step");
        t.intermediate_values[StepKey{step, 0}] = value_from_type(s.text(3), s.is_null(2), s.dbl(2), where);
      }
    }
    for (bool user : {true, false}) {
      Stmt s(db, std::string("SELECT x.trial_id, x.\"key\", x.value_json FROM ") +
                     (user ? "trial_user_attributes" : "trial_system_attributes") + " x" + in_study);
      s.bind(1, study_id);
      while (s.step()) {
        FrozenTrial& t = trial_of(s.i64(0));
        const std::string key = s.text(1);
        json v = parse_value_json(s.text(2), "trial " + std::to_string(t.number) + ", attr '" + key + "'");
        if (!user && key == "constraints" && v.is_array()) {
          bool numeric = true;
          for (const auto& c : v) numeric = numeric && (c.is_number() || c.is_null());
          if (numeric) {
            for (const auto& c : v) t.constraints.push_back(c.is_null() ? NAN : c.get<double>());
            continue;
          }
        }
        (user ? t.user_attrs : t.system_attrs)[key] = std::move(v);
      }
    }
  } catch (const StorageError& e) {
    // A table exists but lacks an Optuna 3.x column.
    throw ValueError(not_optuna + " (" + e.what() + ")");
  }
  return out;
}

}  // namespace bbo::cli::optuna_rdb

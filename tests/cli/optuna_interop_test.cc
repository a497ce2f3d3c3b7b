// `bbo export --format optuna` and `bbo import`, end to end: the built `bbo` binary writes an Optuna
// database that Debian's python3-optuna (Optuna 3.1, run as /usr/bin/python3) must read back with the same
// trials, and `bbo import` must turn it back into the same study. The Optuna checks skip (with a message)
// where /usr/bin/python3 cannot import optuna; the round-trip and bad-input checks always run.
#include <fcntl.h>
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bbo/error.h"
#include "tests/cli/child_harness.h"

extern char** environ;

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";

using Result = bbo::testing::ChildResult;
const auto& read_file = bbo::testing::read_text_file;

// Runs argv[0] (an absolute path) with stdout/stderr captured in files under `dir`; BBO_STORAGE is removed
// from the environment so the test never depends on the caller's shell.
Result spawn(const fs::path& dir, std::vector<std::string> argv_s) {
  const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  auto drop = [](const std::string& kv) { return kv.rfind("BBO_STORAGE=", 0) == 0 || kv.rfind("PYTHON", 0) == 0; };
  return bbo::testing::wait_captured(bbo::testing::spawn_captured(std::move(argv_s), drop, {}, out, err), out, err);
}

// Whether /usr/bin/python3 can import optuna (checked once per test binary).
bool have_optuna(const fs::path& dir) {
  static int cached = -1;
  if (cached < 0) cached = fs::exists(kPython) && spawn(dir, {kPython, "-c", "import optuna"}).code == 0;
  return cached == 1;
}

// Reads back what Optuna sees in a study: every trial (state, params, distributions in Optuna's JSON, values,
// intermediate values) and the best trial, as JSON with non-finite numbers as "inf"/"-inf"/"nan".
const char* kLoadScript = R"py(
import json, math, sys
import optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
def num(v):
    if v is None or math.isfinite(v): return v
    return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
s = optuna.load_study(study_name=sys.argv[2], storage="sqlite:///" + sys.argv[1])
trials = [{"number": t.number, "state": t.state.name, "params": t.params,
           "distributions": {k: json.loads(optuna.distributions.distribution_to_json(d))
                             for k, d in t.distributions.items()},
           "values": [num(v) for v in (t.values or [])],
           "intermediate_values": {str(k): num(v) for k, v in t.intermediate_values.items()},
           "user_attrs": t.user_attrs}
          for t in s.trials]
out = {"n_trials": len(s.trials), "trials": trials, "directions": [d.name for d in s.directions]}
if len(s.directions) == 1:
    out["best_number"] = s.best_trial.number
    out["best_value"] = num(s.best_value)
    out["best_params"] = s.best_params
else:
    out["best_numbers"] = sorted(t.number for t in s.best_trials)
print(json.dumps(out))
)py";

// The schema of an SQLite file: (type, name, sql) of every object, in creation order.
std::vector<std::string> sqlite_schema(const fs::path& db) {
  std::vector<std::string> rows;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    ADD_FAILURE() << "cannot open " << db;
    return rows;
  }
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(h, "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_master ORDER BY rowid", -1,
                     &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::string row;
    for (int c = 0; c < 4; ++c) row += std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, c))) + "|";
    rows.push_back(row);
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return rows;
}

std::string sqlite_scalar(const fs::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  std::string out;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
  }
  sqlite3_close(h);
  return out;
}

class OptunaInteropTest : public bbo::testing::TempDirTest {
 protected:

  Result bbo(std::vector<std::string> args) {
    args.insert(args.begin(), BBO_CLI_BINARY);
    args.push_back("--storage");
    args.push_back(url_);
    return spawn(dir_, args);
  }
  Result ok(std::vector<std::string> args) {
    Result r = bbo(args);
    std::string cmd;
    for (auto& a : args) cmd += a + " ";
    EXPECT_EQ(r.code, 0) << cmd << "\nstderr: " << r.err;
    return r;
  }
  json trials_json(const std::string& study) {
    Result r = ok({"trials", "--study", study, "--format", "json"});
    return json::parse(r.out);
  }

  // A study with float, log-float, stepped int and mixed categorical params; COMPLETE (finite and -inf),
  // PRUNED, FAIL and RUNNING trials; finite, inf and NaN intermediate values; a constraint.
  void make_study(const std::string& name) {
    ok({"create-study", "--study", name, "--seed", "11", "--search-space",
        R"({"x": {"type": "float", "low": -5, "high": 5},
            "lr": {"type": "float", "low": 1e-4, "high": 1, "log": true},
            "n": {"type": "int", "low": 1, "high": 9, "step": 2},
            "act": {"type": "categorical", "choices": ["relu", "tanh", null, 3, true]}})"});
    for (int i = 0; i < 6; ++i) ok({"ask", "--study", name});
    ok({"report", "--study", name, "--trial", "0", "--step", "0", "--value", "3"});
    ok({"report", "--study", name, "--trial", "0", "--step", "5", "--value", "inf"});
    ok({"report", "--study", name, "--trial", "1", "--step", "2", "--value", "nan"});
    ok({"report", "--study", name, "--trial", "1", "--step", "3", "--value", "-inf"});
    ok({"tell", "--study", name, "--trial", "0", "--value", "1.5", "--constraint", "-1"});
    ok({"tell", "--study", name, "--trial", "1", "--state", "pruned"});
    ok({"tell", "--study", name, "--trial", "2", "--state", "fail"});
    ok({"tell", "--study", name, "--trial", "3", "--value", "0.25"});
    ok({"tell", "--study", name, "--trial", "4", "--value", "0.75"});
    // trial 5 stays RUNNING
  }

  json optuna_load(const fs::path& db, const std::string& study) {
    Result r = spawn(dir_, {kPython, "-c", kLoadScript, db.string(), study});
    EXPECT_EQ(r.code, 0) << r.err;
    try {
      return json::parse(r.out);
    } catch (const std::exception&) {
      ADD_FAILURE() << "not JSON: " << r.out << "\n" << r.err;
      return nullptr;
    }
  }

};

// The trial fields both sides keep, for comparing two studies (ids, times and attrs aside). Values count for
// COMPLETE trials only: bbo shows none on other states (null), Optuna an empty list, or for a PRUNED trial
// the last intermediate value that Optuna's tell copies into it.
json comparable(const json& trials) {
  json out = json::array();
  for (const auto& t : trials)
    out.push_back({{"number", t["number"]}, {"state", t["state"]}, {"params", t["params"]},
                   {"distributions", t["distributions"]},
                   {"values", t["state"] == "COMPLETE" ? t["values"] : json()},
                   {"intermediate_values", t["intermediate_values"]}});
  return out;
}

TEST_F(OptunaInteropTest, OptunaLoadsTheExportedStudy) {
  if (!have_optuna(dir_)) GTEST_SKIP() << "/usr/bin/python3 cannot import optuna (apt-get install python3-optuna)";
  make_study("s");
  fs::path out = dir_ / "optuna.db";
  Result r = ok({"export", "--study", "s", "--format", "optuna", out.string()});
  EXPECT_NE(r.err.find("Exported 6 trials"), std::string::npos) << r.err;
  json bbo_trials = trials_json("s");
  json o = optuna_load(out, "s");
  ASSERT_TRUE(o.is_object());
  EXPECT_EQ(o["n_trials"], 6);
  EXPECT_EQ(o["directions"], json({"MINIMIZE"}));
  // Trial 3 (0.25) is the best finite value: Optuna sees the same best trial and its external params.
  EXPECT_EQ(o["best_number"], 3);
  EXPECT_EQ(o["best_value"], 0.25);
  EXPECT_EQ(o["best_params"], bbo_trials[3]["params"]);
  std::vector<std::string> states;
  for (const auto& t : o["trials"]) states.push_back(t["state"]);
  EXPECT_EQ(states, (std::vector<std::string>{"COMPLETE", "PRUNED", "FAIL", "COMPLETE", "COMPLETE", "RUNNING"}));
  // Every trial: params (external, categorical choices included), distributions, values, learning curves.
  EXPECT_EQ(comparable(o["trials"]), comparable(bbo_trials));
  EXPECT_EQ(o["trials"][1]["intermediate_values"], json({{"2", "nan"}, {"3", "-inf"}}));
}

TEST_F(OptunaInteropTest, SchemaIsOptuna31s) {
  if (!have_optuna(dir_)) GTEST_SKIP() << "/usr/bin/python3 cannot import optuna (apt-get install python3-optuna)";
  fs::path ref = dir_ / "reference.db";
  Result py = spawn(dir_, {kPython, "-c",
                           "import optuna, sys; optuna.logging.set_verbosity(optuna.logging.WARNING); "
                           "optuna.create_study(storage='sqlite:///' + sys.argv[1])",
                           ref.string()});
  ASSERT_EQ(py.code, 0) << py.err;
  std::string version = sqlite_scalar(ref, "SELECT library_version FROM version_info");
  if (version != "3.1.0") GTEST_SKIP() << "the installed Optuna is " << version << ", the reference is 3.1.0";
  ok({"create-study", "--study", "e"});
  fs::path out = dir_ / "empty.db";
  ok({"export", "--study", "e", "--format", "optuna", out.string()});
  EXPECT_EQ(sqlite_schema(out), sqlite_schema(ref));
  for (const char* q : {"SELECT version_num FROM alembic_version",
                        "SELECT schema_version || ' ' || library_version FROM version_info"})
    EXPECT_EQ(sqlite_scalar(out, q), sqlite_scalar(ref, q)) << q;
}

TEST_F(OptunaInteropTest, MultiObjectiveKeepsDirectionsAndFront) {
  if (!have_optuna(dir_)) GTEST_SKIP() << "/usr/bin/python3 cannot import optuna (apt-get install python3-optuna)";
  ok({"create-study", "--study", "m", "--direction", "minimize", "--direction", "maximize", "--search-space",
      R"({"x": {"type": "float", "low": 0, "high": 1}})"});
  const std::vector<std::pair<std::string, std::string>> values = {{"1", "1"}, {"2", "3"}, {"2", "0"}, {"0.5", "0.5"}};
  for (size_t i = 0; i < values.size(); ++i) {
    ok({"ask", "--study", "m"});
    ok({"tell", "--study", "m", "--trial", std::to_string(i), "--value", values[i].first, values[i].second});
  }
  // A NaN objective value fails the trial, in bbo as in Optuna; Optuna sees a FAIL trial without values.
  ok({"ask", "--study", "m"});
  EXPECT_EQ(bbo({"tell", "--study", "m", "--trial", "4", "--value", "nan", "1"}).code, bbo::kExitConfig);
  fs::path out = dir_ / "mo.db";
  ok({"export", "--study", "m", "--format", "optuna", out.string()});
  json o = optuna_load(out, "m");
  ASSERT_TRUE(o.is_object());
  EXPECT_EQ(o["directions"], json({"MINIMIZE", "MAXIMIZE"}));
  // (1,1), (2,3), (0.5,0.5) are mutually non-dominated; (2,0) is dominated by (1,1).
  EXPECT_EQ(o["best_numbers"], json({0, 1, 3}));
  EXPECT_EQ(o["trials"][1]["values"], json({2.0, 3.0}));
  EXPECT_EQ(o["trials"][4]["state"], "FAIL");
  EXPECT_EQ(o["trials"][4]["values"], json::array());
}

TEST_F(OptunaInteropTest, ImportReadsAStudyWrittenByOptuna) {
  if (!have_optuna(dir_)) GTEST_SKIP() << "/usr/bin/python3 cannot import optuna (apt-get install python3-optuna)";
  fs::path db = dir_ / "native.db";
  Result py = spawn(dir_, {kPython, "-c", R"py(
import sys, optuna
optuna.logging.set_verbosity(optuna.logging.WARNING)
s = optuna.create_study(study_name="native", storage="sqlite:///" + sys.argv[1], direction="maximize",
                        sampler=optuna.samplers.RandomSampler(seed=3))
s.set_user_attr("owner", "me")
def f(t):
    x = t.suggest_float("x", 1e-3, 10, log=True)
    k = t.suggest_int("k", -4, 4)
    c = t.suggest_categorical("c", ["a", "b", None])
    t.report(x, 0)
    t.report(float("inf"), 1)
    t.set_user_attr("tag", [1, "two"])
    if t.number == 2: raise optuna.TrialPruned()
    if t.number == 3: raise ValueError("boom")
    return x + k
s.optimize(f, n_trials=6, catch=(ValueError,))
s.enqueue_trial({"x": 0.5, "k": 1, "c": "b"})
)py",
                           db.string()});
  ASSERT_EQ(py.code, 0) << py.err;
  json o = optuna_load(db, "native");
  ok({"import", "--study", "native", "--as", "copy", db.string()});
  json t = trials_json("copy");
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(comparable(t), comparable(o["trials"]));
  EXPECT_EQ(t[6]["state"], "WAITING");
  EXPECT_EQ(t[1]["user_attrs"]["tag"], json({1, "two"}));
  Result best = ok({"best", "--study", "copy", "--format", "json"});
  EXPECT_NE(best.out.find("\"number\": " + std::to_string(o["best_number"].get<int>())), std::string::npos)
      << best.out;
}

TEST_F(OptunaInteropTest, ExportThenImportGivesTheSameTrials) {
  make_study("s");
  fs::path out = dir_ / "rt.db";
  ok({"export", "--study", "s", "--format", "optuna", out.string()});
  // The source study exists in the storage: the same name is refused, nothing is written.
  Result dup = bbo({"import", "--study", "s", out.string()});
  EXPECT_EQ(dup.code, bbo::kExitDuplicate);
  EXPECT_NE(dup.err.find("already exists"), std::string::npos) << dup.err;
  ok({"import", "--study", "s", "--as", "copy", out.string()});
  json a = trials_json("s"), b = trials_json("copy");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    for (const char* k : {"number", "state", "params", "distributions", "values", "constraints",
                          "intermediate_values", "user_attrs", "datetime_start", "datetime_complete"})
      EXPECT_EQ(a[i][k], b[i][k]) << "trial " << i << ", " << k;
  }
  // Exporting the copy gives the same Optuna database content, trial by trial.
  fs::path out2 = dir_ / "rt2.db";
  ok({"export", "--study", "copy", "--format", "optuna", out2.string()});
  for (const char* table : {"trials", "trial_params", "trial_values", "trial_intermediate_values"}) {
    std::string q = std::string("SELECT count(*) || ':' || total(rowid) FROM ") + table;
    EXPECT_EQ(sqlite_scalar(out, q), sqlite_scalar(out2, q)) << table;
  }
}

TEST_F(OptunaInteropTest, ExportRefusesToOverwriteWithoutForce) {
  make_study("s");
  fs::path out = dir_ / "exists.db";
  { std::ofstream(out) << "keep me"; }
  Result r = bbo({"export", "--study", "s", "--format", "optuna", out.string()});
  EXPECT_EQ(r.code, bbo::kExitConfig);
  EXPECT_EQ(r.err, "bbo: error: '" + out.string() + "' already exists (use --force to overwrite)\n");
  EXPECT_EQ(read_file(out), "keep me");
  ok({"export", "--study", "s", "--format", "optuna", "--force", out.string()});
  EXPECT_EQ(sqlite_scalar(out, "SELECT count(*) FROM trials"), "6");
  // Nothing but the database is left in the directory (no temporary file).
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir_))
    n += e.path().filename().string().find("bbo-export") != std::string::npos;
  EXPECT_EQ(n, 0u);
  // Without a destination the command is a usage error.
  EXPECT_EQ(bbo({"export", "--study", "s", "--format", "optuna"}).code, bbo::kExitUsage);
  // An unknown study writes no file.
  fs::path none = dir_ / "none.db";
  EXPECT_EQ(bbo({"export", "--study", "nope", "--format", "optuna", none.string()}).code, bbo::kExitNotFound);
  EXPECT_FALSE(fs::exists(none));
}

TEST_F(OptunaInteropTest, ImportRejectsWhatIsNotAnOptunaDatabase) {
  ok({"create-study", "--study", "keep"});
  auto studies = [&] { return ok({"studies", "--format", "json"}).out; };
  const std::string before = studies();
  auto expect_rejected = [&](const fs::path& in, const std::string& study, int code, const std::string& needle) {
    Result r = bbo({"import", "--study", study, "--as", "new", in.string()});
    EXPECT_EQ(r.code, code) << in;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.err.rfind("bbo: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
    EXPECT_EQ(studies(), before);
  };
  fs::path junk = dir_ / "junk.db";
  { std::ofstream(junk) << "this is not a database at all, just some text that is long enough"; }
  expect_rejected(junk, "keep", bbo::kExitConfig, "is not an Optuna 3.x database");
  // bbo's own SQLite storage is SQLite but not Optuna's schema.
  expect_rejected(dir_ / "study.db", "keep", bbo::kExitConfig, "is not an Optuna 3.x database (no table");
  expect_rejected(dir_ / "missing.db", "keep", bbo::kExitConfig, "no such file");
  // A real Optuna database without that study: the names that are there are listed.
  ok({"export", "--study", "keep", "--format", "optuna", (dir_ / "one.db").string()});
  expect_rejected(dir_ / "one.db", "other", bbo::kExitNotFound, "(studies there: keep)");
}

}  // namespace

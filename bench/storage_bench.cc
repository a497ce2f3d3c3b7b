// bench/storage_bench.cc — committed trials per second on one SQLite file, 1 and 8 processes, bbo beside
// Optuna 3.1 RDBStorage (peers/optuna_storage.py) on the same disk in the same run; with --postgres, the same on
// one PostgreSQL server, bbo and Optuna each in a fresh database of that server.
//
// Each worker process (this binary with `worker ...`, started by fork/exec) loads the study and repeats
// ask → 5 × suggest_float → tell with the random strategy. Afterwards the driver reads the study back through
// the storage API and counts errors, lost trials (told successfully but not COMPLETE in storage), duplicate
// trial numbers and gaps in the numbering.
//
// PostgreSQL: --postgres URL names a server and a role allowed to create databases (bench/run starts a
// throwaway one); each run drops and creates its database (bbo_bench_bbo_<procs>, bbo_bench_optuna_<procs>)
// with psql. Optuna runs optuna_storage.py's own worker function (same loop, RandomSampler, 5 params) through
// a small driver that passes it the PostgreSQL URL, since that script's command line takes an SQLite file.
//
// usage: bbo_bench_storage [--quick] [--dir DIR] [--peers-dir DIR] [--python PY] [--trials N] [--procs P]
//                          [--postgres URL]
//        bbo_bench_storage worker URL STUDY N
// The last line of output is one JSON object.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bbo/error.h"
#include "bbo/storage.h"
#include "bbo/study.h"
#include "bench/bench_util.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace bbo::bench;

namespace {

constexpr int kParams = 5;
const char* const kStudy = "s";

int worker_main(const std::string& url, const std::string& name, int n) {
  int ok = 0, errors = 0;
  std::string first_error;
  try {
    auto study = bbo::Study::load(name, url);
    for (int i = 0; i < n; ++i) {
      try {
        bbo::Trial t = study.ask();
        double v = 0;
        for (int k = 0; k < kParams; ++k) {
          const double x = t.suggest_float("x" + std::to_string(k), -5, 5);
          v += x * x;
        }
        study.tell(t, v);
        ++ok;
      } catch (const std::exception& e) {
        if (errors++ == 0) first_error = e.what();
      }
    }
  } catch (const std::exception& e) {
    errors += n - ok;
    first_error = e.what();
  }
  if (!first_error.empty()) std::fprintf(stderr, "worker %d: first error: %s\n", getpid(), first_error.c_str());
  std::printf("ok=%d errors=%d\n", ok, errors);
  return 0;
}

struct Result {
  std::string who;
  std::string config;
  int procs = 0;
  int asked = 0;
  int64_t stored = 0;
  int64_t complete = 0;
  int64_t errors = 0;
  int64_t lost = -1;        // -1: not measured (the peer reports no such figure)
  int64_t duplicates = 0;
  int64_t gaps = -1;
  double seconds = 0;
  double trials_per_s = 0;
  bool ran = false;
  std::string note;

  json to_json() const {
    if (!ran) return json{{"ran", false}, {"note", note}};
    json j = {{"procs", procs},        {"asked", asked},           {"stored", stored},
              {"complete", complete},  {"errors", errors},         {"duplicates", duplicates},
              {"seconds", seconds},    {"trials_per_s", trials_per_s}, {"config", config}};
    if (lost >= 0) j["lost"] = lost;
    if (gaps >= 0) j["gaps"] = gaps;
    return j;
  }
};

void remove_db(const fs::path& db) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(db.string() + suffix);
}

// Runs `procs` workers on a new study at `url` and checks what they committed.
Result run_bbo_at(const std::string& url, const std::string& config, int procs, int per_proc) {
  Result r;
  r.who = "bbo";
  r.config = config;
  r.procs = procs;
  r.asked = procs * per_proc;
  {
    bbo::StudyOptions o;
    o.name = kStudy;
    o.storage = url;
    o.strategy = "random";
    o.seed = 0;
    auto study = bbo::Study::create(o);
  }
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<Child> children;
  for (int p = 0; p < procs; ++p) {
    children.push_back(spawn({self, "worker", url, kStudy, std::to_string(per_proc)}));
  }
  int64_t told_ok = 0;
  for (auto& c : children) {
    auto [rc, out] = finish(c);
    auto kv = parse_kv(out);
    if (rc != 0 || !kv.count("ok")) {
      r.errors += per_proc;
      r.note += "a worker exited with status " + std::to_string(rc) + "; ";
      continue;
    }
    told_ok += std::stoll(kv["ok"]);
    r.errors += std::stoll(kv["errors"]);
  }
  r.seconds = seconds_since(t0);

  // Check what was committed, through the storage API.
  auto storage = bbo::open_storage(url);
  const auto info = storage->find_study(kStudy);
  if (!info) throw bbo::NotFoundError("study vanished from " + url);
  const auto trials = storage->get_trials(info->id);
  std::set<int64_t> numbers;
  int64_t max_number = -1;
  for (const auto& t : trials) {
    numbers.insert(t.number);
    max_number = std::max(max_number, t.number);
    if (t.state == bbo::TrialState::kComplete) ++r.complete;
  }
  r.stored = static_cast<int64_t>(trials.size());
  r.duplicates = r.stored - static_cast<int64_t>(numbers.size());
  r.gaps = (max_number + 1) - static_cast<int64_t>(numbers.size());
  r.lost = told_ok - r.complete;
  r.trials_per_s = static_cast<double>(r.complete) / r.seconds;
  r.ran = true;
  return r;
}

Result run_bbo(const fs::path& dir, int procs, int per_proc, const std::string& query) {
  const fs::path db = dir / ("bbo_" + std::to_string(procs) + ".db");
  remove_db(db);
  const std::string url = "sqlite:///" + fs::absolute(db).string() + (query.empty() ? "" : "?" + query);
  return run_bbo_at(url, query.empty() ? "sqlite defaults" : query, procs, per_proc);
}

// `server` with its database replaced by `db` ("postgresql://u@h:p/postgres?x=y" -> ".../db?x=y").
std::string postgres_db_url(const std::string& server, const std::string& db) {
  const size_t scheme = server.find("://");
  if (scheme == std::string::npos) throw std::runtime_error("--postgres: not a URL: " + server);
  const size_t query = server.find('?', scheme + 3);
  size_t slash = server.find('/', scheme + 3);
  if (slash == std::string::npos || (query != std::string::npos && slash > query)) slash = query;
  const std::string head = server.substr(0, slash == std::string::npos ? server.size() : slash);
  return head + "/" + db + (query == std::string::npos ? "" : server.substr(query));
}

// Drops and creates database `db` on the server (psql from the PostgreSQL client package).
void fresh_database(const std::string& server, const std::string& db) {
  auto [rc, out] = run_capture({"psql", server, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                                "SET client_min_messages TO warning", "-c",
                                "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)", "-c", "CREATE DATABASE " + db});
  if (rc != 0) throw std::runtime_error("psql could not create database " + db + " (exit status " +
                                        std::to_string(rc) + ")");
}

Result run_bbo_postgres(const std::string& server, int procs, int per_proc) {
  const std::string db = "bbo_bench_bbo_" + std::to_string(procs);
  fresh_database(server, db);
  return run_bbo_at(postgres_db_url(server, db), "PostgreSQL (fresh database)", procs, per_proc);
}

// Optuna on PostgreSQL: optuna_storage.py's worker() in a pool, timed and checked like its main().
const char* const kOptunaPostgresDriver = R"PY(
import sys, time, multiprocessing as mp
sys.path.insert(0, sys.argv[1])
import optuna
import optuna_storage as peer
optuna.logging.set_verbosity(optuna.logging.ERROR)
url, n, k = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
optuna.create_study(study_name="s", storage=url)
t0 = time.perf_counter()
with mp.Pool(n) as p:
    errs = p.starmap(peer.worker, [(url, k, i) for i in range(n)])
el = time.perf_counter() - t0
trials = optuna.load_study(study_name="s", storage=url).get_trials(deepcopy=False)
nums = [t.number for t in trials]
complete = sum(1 for t in trials if t.state == optuna.trial.TrialState.COMPLETE)
print(f"workers={n} asked={n*k} stored={len(trials)} complete={complete} unique_numbers={len(set(nums))} "
      f"errors={sum(errs)} seconds={el:.2f} trials_per_s={complete/el:.1f}")
)PY";

// `postgres_server` empty: SQLite file in `dir`; else a fresh database on that server.
Result run_optuna(const fs::path& dir, const std::string& python, const fs::path& peers, int procs, int per_proc,
                  const std::string& postgres_server = "") {
  Result r;
  r.who = "optuna";
  r.config = "Optuna 3.1 RDBStorage (SQLAlchemy defaults)";
  r.procs = procs;
  r.asked = procs * per_proc;
  const fs::path script = peers / "optuna_storage.py";
  if (python.empty() || !fs::exists(script)) {
    r.note = python.empty() ? "no python3 that imports optuna" : "missing " + script.string();
    return r;
  }
  const fs::path db = dir / ("optuna_" + std::to_string(procs) + ".db");
  std::pair<int, std::string> result;
  if (!postgres_server.empty()) {
    r.config = "Optuna 3.1 RDBStorage on PostgreSQL (psycopg2)";
    if (run_capture({python, "-c", "import psycopg2"}).first != 0) {
      r.note = python + " cannot import psycopg2 (apt-get install python3-psycopg2)";
      return r;
    }
    const std::string name = "bbo_bench_optuna_" + std::to_string(procs);
    fresh_database(postgres_server, name);
    result = run_capture({python, "-c", kOptunaPostgresDriver, fs::absolute(peers).string(),
                          postgres_db_url(postgres_server, name), std::to_string(procs), std::to_string(per_proc)});
  } else {
    remove_db(db);
    result = run_capture({python, script.string(), fs::absolute(db).string(), std::to_string(procs),
                          std::to_string(per_proc)});
  }
  auto& [rc, out] = result;
  if (rc != 0) {
    r.note = "optuna_storage.py exited with status " + std::to_string(rc);
    return r;
  }
  auto kv = parse_kv(out);
  r.stored = static_cast<int64_t>(kv_double(kv, "stored"));
  r.complete = static_cast<int64_t>(kv_double(kv, "complete"));
  r.errors = static_cast<int64_t>(kv_double(kv, "errors"));
  r.duplicates = r.stored - static_cast<int64_t>(kv_double(kv, "unique_numbers"));
  r.seconds = kv_double(kv, "seconds");
  r.trials_per_s = kv_double(kv, "trials_per_s");
  r.ran = true;
  remove_db(db);
  return r;
}

void print_row(const Result& r) {
  if (!r.ran) {
    std::printf("%-7s %5d  %-48s  not run: %s\n", r.who.c_str(), r.procs, r.config.c_str(), r.note.c_str());
    return;
  }
  auto opt = [](int64_t v) { return v < 0 ? std::string("-") : std::to_string(v); };
  std::printf("%-7s %5d  %-48s %7d %8lld %8.2f %10.1f %6lld %5s %4lld %5s\n", r.who.c_str(), r.procs,
              r.config.c_str(), r.asked, static_cast<long long>(r.complete), r.seconds, r.trials_per_s,
              static_cast<long long>(r.errors), opt(r.lost).c_str(), static_cast<long long>(r.duplicates),
              opt(r.gaps).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "worker") {
    if (argc != 5) {
      std::fprintf(stderr, "usage: %s worker URL STUDY N\n", argv[0]);
      return 2;
    }
    return worker_main(argv[2], argv[3], std::atoi(argv[4]));
  }
  try {
    const bool quick = has_flag(argc, argv, "--quick");
    const fs::path dir = arg_value(argc, argv, "--dir").value_or("bench_tmp");
    const fs::path peers = arg_value(argc, argv, "--peers-dir").value_or("");
    const std::string python = arg_value(argc, argv, "--python").value_or("");
    const int per_proc = std::stoi(arg_value(argc, argv, "--trials").value_or(quick ? "60" : "500"));
    const int procs = std::stoi(arg_value(argc, argv, "--procs").value_or("8"));
    const std::string postgres = arg_value(argc, argv, "--postgres").value_or("");
    fs::create_directories(dir);

    std::printf("storage: committed trials/s on one SQLite file in %s\n", fs::absolute(dir).c_str());
    std::printf("random strategy, 5 float params: ask -> 5 x suggest_float -> tell; %d trials per process\n\n",
                per_proc);
    std::printf("%-7s %5s  %-48s %7s %8s %8s %10s %6s %5s %4s %5s\n", "who", "procs", "configuration", "asked",
                "complete", "seconds", "trials/s", "errors", "lost", "dup", "gaps");
    std::vector<Result> rows;
    auto add = [&](Result r) {
      print_row(r);
      std::fflush(stdout);
      rows.push_back(std::move(r));
      return rows.back();
    };
    const Result b1 = add(run_bbo(dir, 1, per_proc, ""));
    const Result b1full = add(run_bbo(dir, 1, per_proc, "synchronous=FULL"));
    const Result o1 = add(run_optuna(dir, python, peers, 1, per_proc));
    const Result bn = add(run_bbo(dir, procs, per_proc, ""));
    const Result on = add(run_optuna(dir, python, peers, procs, per_proc));

    json out = {{"bench", "storage"}, {"quick", quick}, {"trials_per_process", per_proc}, {"procs", procs}};
    out["bbo_1proc"] = b1.to_json();
    out["bbo_1proc_sync_full"] = b1full.to_json();
    out["optuna_1proc"] = o1.to_json();
    out["bbo_nproc"] = bn.to_json();
    out["optuna_nproc"] = on.to_json();
    json ratio = json::object();
    if (o1.ran && o1.trials_per_s > 0) ratio["1proc"] = b1.trials_per_s / o1.trials_per_s;
    if (o1.ran && o1.trials_per_s > 0) ratio["1proc_sync_full"] = b1full.trials_per_s / o1.trials_per_s;
    if (on.ran && on.trials_per_s > 0) ratio["nproc"] = bn.trials_per_s / on.trials_per_s;
    out["ratio_bbo_over_optuna"] = ratio;

    // PostgreSQL: the same runs on one server.
    json pg = {{"ran", false}};
    Result pb1, po1, pbn, pon;
    if (!postgres.empty()) {
      std::printf("\nPostgreSQL at %s (each run in a fresh database)\n", postgres.c_str());
      pb1 = add(run_bbo_postgres(postgres, 1, per_proc));
      po1 = add(run_optuna(dir, python, peers, 1, per_proc, postgres));
      pbn = add(run_bbo_postgres(postgres, procs, per_proc));
      pon = add(run_optuna(dir, python, peers, procs, per_proc, postgres));
      pg = {{"ran", true},
            {"server", postgres},
            {"bbo_1proc", pb1.to_json()},
            {"optuna_1proc", po1.to_json()},
            {"bbo_nproc", pbn.to_json()},
            {"optuna_nproc", pon.to_json()}};
      json pg_ratio = json::object();
      if (po1.ran && po1.trials_per_s > 0) pg_ratio["1proc"] = pb1.trials_per_s / po1.trials_per_s;
      if (pon.ran && pon.trials_per_s > 0) pg_ratio["nproc"] = pbn.trials_per_s / pon.trials_per_s;
      pg["ratio_bbo_over_optuna"] = pg_ratio;
    }
    out["postgres"] = pg;
    const bool integrity = bn.errors == 0 && bn.lost == 0 && bn.duplicates == 0 && bn.gaps == 0 &&
                           b1.errors == 0 && b1.lost == 0 && b1.duplicates == 0;
    json targets = {{"nproc_no_errors_lost_duplicates", integrity}};
    if (ratio.contains("1proc")) targets["1proc_at_least_20x_optuna"] = ratio["1proc"].get<double>() >= 20.0;
    if (!postgres.empty()) {
      targets["postgres_nproc_no_errors_lost_duplicates"] = pbn.errors == 0 && pbn.lost == 0 &&
                                                            pbn.duplicates == 0 && pbn.gaps == 0 &&
                                                            pb1.errors == 0 && pb1.lost == 0 && pb1.duplicates == 0;
      if (pg["ratio_bbo_over_optuna"].contains("nproc"))
        targets["postgres_nproc_at_least_10x_optuna"] = pg["ratio_bbo_over_optuna"]["nproc"].get<double>() >= 10.0;
    }
    out["targets"] = targets;

    std::printf("\n");
    if (ratio.contains("1proc")) {
      std::printf("bbo / optuna trials/s: 1 process %.1fx (synchronous=FULL %.1fx)", ratio["1proc"].get<double>(),
                  ratio["1proc_sync_full"].get<double>());
      if (ratio.contains("nproc")) std::printf(", %d processes %.1fx", procs, ratio["nproc"].get<double>());
      std::printf("   target: 1 process >= 20x\n");
    }
    std::printf("%d processes: errors %lld, lost %lld, duplicate numbers %lld, gaps %lld   target: all 0\n", procs,
                static_cast<long long>(bn.errors), static_cast<long long>(bn.lost),
                static_cast<long long>(bn.duplicates), static_cast<long long>(bn.gaps));
    if (!postgres.empty()) {
      const json& pr = pg["ratio_bbo_over_optuna"];
      std::printf("PostgreSQL bbo / optuna trials/s:");
      if (pr.contains("1proc")) std::printf(" 1 process %.1fx", pr["1proc"].get<double>());
      if (pr.contains("nproc")) std::printf(", %d processes %.1fx", procs, pr["nproc"].get<double>());
      std::printf("   target: %d processes >= 10x\n", procs);
      std::printf("PostgreSQL %d processes: errors %lld, lost %lld, duplicate numbers %lld, gaps %lld   target: all 0\n",
                  procs, static_cast<long long>(pbn.errors), static_cast<long long>(pbn.lost),
                  static_cast<long long>(pbn.duplicates), static_cast<long long>(pbn.gaps));
    }
    for (const fs::path& db : {dir / "bbo_1.db", dir / ("bbo_" + std::to_string(procs) + ".db")}) remove_db(db);
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "storage bench: %s\n", e.what());
    return 1;
  }
}

// bench/run_overhead_bench.cc — per-trial overhead of `bbo run` (launch, parse the report line, record the
// trial) beyond the command's own run time (issue 6 target: <= 10 ms).
//
// The command is a /bin/sh script that prints one final report line. It is launched N times directly
// (posix_spawn, stdout read through a pipe, waitpid: the script's own cost) and then through `bbo run --trials N`
// (one worker) against SQLite and the in-memory storage; `bbo run --trials 0` gives the fixed cost of one
// invocation (process start, plugin loading, opening the storage). Each figure is the median of 3 runs.
//   overhead/trial           = (t_bbo_run - t_direct) / N            (the fixed cost spread over N trials)
//   marginal overhead/trial  = (t_bbo_run - t_fixed - t_direct) / N
// usage: bbo_bench_run_overhead [--quick] [--trials N] [--dir SCRATCH] [--bbo PATH]   (through bench/run)
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_util.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace bbo::bench;

namespace {

double median3(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Runs a command with stdout read and discarded; throws when it fails.
void run_quiet(const std::vector<std::string>& args) {
  auto [rc, out] = run_capture(args);
  if (rc != 0) {
    std::string cmd;
    for (const auto& a : args) cmd += a + " ";
    throw std::runtime_error("'" + cmd + "' exited with status " + std::to_string(rc) + ": " + out);
  }
}

extern "C" char** environ;

// Launches the script the way bbo run does (posix_spawn, stdout through a pipe read to the end, waitpid), so
// the difference is bbo's own work rather than fork() versus vfork-style spawning.
void launch_direct(const std::string& script) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  std::string arg = "0.5";
  char* argv[] = {const_cast<char*>(script.c_str()), arg.data(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, script.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  if (rc != 0) throw std::runtime_error("posix_spawn " + script + " failed");
  char buf[4096];
  std::string out;
  for (ssize_t n; (n = read(p[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (status != 0 || out.rfind("bbo: ", 0) != 0) throw std::runtime_error("the script failed: " + out);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bool quick = has_flag(argc, argv, "--quick");
    const int n = std::stoi(arg_value(argc, argv, "--trials").value_or(quick ? "50" : "200"));
    const fs::path scratch = fs::path(arg_value(argc, argv, "--dir").value_or("bench_tmp")) / "run_overhead";
    const std::string bbo = arg_value(argc, argv, "--bbo").value_or(BBO_CLI_BINARY);
    fs::remove_all(scratch);
    fs::create_directories(scratch);

    const fs::path script = scratch / "report.sh";
    std::ofstream(script) << "#!/bin/sh\necho 'bbo: {\"value\": 0.5}'\n";
    fs::permissions(script, fs::perms::owner_all, fs::perm_options::add);
    const fs::path config = scratch / "study.yaml";
    std::ofstream(config) << "name: overhead\nseed: 1\nstrategy: random\n"
                             "search_space:\n  x: {type: float, low: 0, high: 1}\n";

    // The script on its own, as a caller would launch it.
    std::vector<double> direct;
    for (int rep = 0; rep < 3; ++rep) {
      auto t0 = std::chrono::steady_clock::now();
      for (int i = 0; i < n; ++i) launch_direct(script.string());
      direct.push_back(seconds_since(t0));
    }
    const double t_direct = median3(direct);

    std::printf("run-overhead: %d trials of a /bin/sh script printing one report line, 1 worker (median of 3)\n",
                n);
    std::printf("script launched directly: %.3f s (%.2f ms/trial)\n\n", t_direct, 1e3 * t_direct / n);
    std::printf("%-8s %12s %12s %18s %22s\n", "storage", "bbo run s", "fixed s", "overhead ms/trial",
                "marginal ms/trial");

    json out = {{"bench", "run-overhead"}, {"quick", quick}, {"trials", n},
                {"direct_ms_per_trial", 1e3 * t_direct / n}};
    json results = json::object();
    bool all_ok = true;
    for (const std::string storage : {"sqlite", "memory"}) {
      std::vector<double> full, fixed;
      for (int rep = 0; rep < 3; ++rep) {
        auto url = [&](const std::string& tag) {
          return storage == "memory" ? std::string("memory:")
                                     : "sqlite:///" + fs::absolute(scratch / (tag + std::to_string(rep) + ".db")).string();
        };
        const std::string logs = (scratch / ("logs_" + storage + std::to_string(rep))).string();
        auto t0 = std::chrono::steady_clock::now();
        run_quiet({bbo, "run", "--storage", url("fixed"), "--config", config.string(), "--trials", "0", "--log-dir",
                   logs, "--", script.string(), "{x}"});
        fixed.push_back(seconds_since(t0));
        t0 = std::chrono::steady_clock::now();
        run_quiet({bbo, "run", "--storage", url("full"), "--config", config.string(), "--trials", std::to_string(n),
                   "--log-dir", logs, "--", script.string(), "{x}"});
        full.push_back(seconds_since(t0));
      }
      const double t_full = median3(full), t_fixed = median3(fixed);
      const double per = 1e3 * (t_full - t_direct) / n, marginal = 1e3 * (t_full - t_fixed - t_direct) / n;
      std::printf("%-8s %12.3f %12.3f %18.2f %22.2f\n", storage.c_str(), t_full, t_fixed, per, marginal);
      results[storage] = {{"bbo_run_s", t_full},
                          {"fixed_s", t_fixed},
                          {"overhead_ms_per_trial", per},
                          {"marginal_overhead_ms_per_trial", marginal}};
      all_ok = all_ok && per <= 10.0;
    }
    out["results"] = results;
    out["targets"] = {{"overhead_at_most_10ms_per_trial", all_ok}};
    std::printf("\noverhead per trial (fixed cost included) <= 10 ms on every storage: %s\n", all_ok ? "yes" : "NO");
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bbo_bench_run_overhead: %s\n", e.what());
    return 1;
  }
}

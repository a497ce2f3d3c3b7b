// `bbo run` end to end: the built binary drives small shell (and Python) scripts written to a temporary
// directory, against a temporary SQLite file; the recorded trials are read back with `bbo trials`. Also the
// report-line parser (cli/run_report.cc) on its own.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <regex>
#include <nlohmann/json.hpp>

#include "bbo/error.h"
#include "cli/run_report.h"
#include "tests/cli/child_harness.h"

extern char** environ;

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Result : bbo::testing::ChildResult {
  double seconds = 0;
};
const auto& read_file = bbo::testing::read_text_file;

void write_file(const fs::path& p, const std::string& text, bool executable = false) {
  std::ofstream(p) << text;
  if (executable) fs::permissions(p, fs::perms::owner_all, fs::perm_options::add);
}

bool wait_for(const std::function<bool()>& cond, double seconds) {
  auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

class RunTest : public bbo::testing::TempDirTest {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    out_ = dir_ / "out";
    fs::create_directories(out_);
  }

  // Spawns `bbo args...` with OUT=<out dir> in its environment (the scripts write there); BBO_* variables of
  // the caller are dropped. Returns the pid; finish() waits for it.
  pid_t start(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BBO_CLI_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    auto drop = [](const std::string& kv) { return kv.rfind("BBO_", 0) == 0 && kv.rfind("BBO_PLUGIN_PATH=", 0) != 0; };
    pid_t pid = bbo::testing::spawn_captured(argv, drop, {"OUT=" + out_.string()}, dir_ / "stdout.txt",
                                             dir_ / "stderr.txt");
    EXPECT_GT(pid, 0) << "posix_spawn failed";
    started_ = Clock::now();
    return pid;
  }

  Result finish(pid_t pid) {
    Result r;
    if (pid <= 0) return r;
    static_cast<bbo::testing::ChildResult&>(r) =
        bbo::testing::wait_captured(pid, dir_ / "stdout.txt", dir_ / "stderr.txt");
    r.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    return r;
  }

  Result bbo(std::vector<std::string> args) {
    args.insert(args.begin() + 1, {"--storage", url_});
    return finish(start(args));
  }

  // `bbo run --study s --log-dir <dir>/logs <args...> -- <command...>`
  Result run(std::vector<std::string> args, const std::vector<std::string>& command) {
    std::vector<std::string> a = {"run", "--study", "s", "--log-dir", (dir_ / "logs").string()};
    a.insert(a.end(), args.begin(), args.end());
    a.push_back("--");
    a.insert(a.end(), command.begin(), command.end());
    return bbo(a);
  }

  json trials(const std::string& study = "s") {
    Result r = bbo({"trials", "--study", study, "--format", "json"});
    EXPECT_EQ(r.code, 0) << r.err;
    try {
      return json::parse(r.out);
    } catch (const std::exception&) {
      ADD_FAILURE() << "not JSON: " << r.out;
      return json::array();
    }
  }

  // A study file with the given search space (YAML flow mapping lines) and extra top-level lines.
  std::string config(const std::string& extra = "",
                     const std::string& space = "  x: {type: float, low: -5, high: 5}\n") {
    fs::path p = dir_ / "study.yaml";
    write_file(p, "name: s\nseed: 3\nsearch_space:\n" + space + extra);
    return p.string();
  }

  std::string script(const std::string& name, const std::string& body) {
    fs::path p = dir_ / name;
    write_file(p, "#!/bin/sh\n" + body, true);
    return p.string();
  }

  fs::path out_;
  Clock::time_point started_;
};

std::string reason(const json& trial) {
  return trial["system_attrs"].value("fail_reason", std::string());
}

TEST_F(RunTest, ParametersReachArgsEnvironmentAndJsonFile) {
  std::string cfg = config("", "  x: {type: float, low: -5, high: 5}\n  n: {type: int, low: 1, high: 9}\n"
                               "  act-fn: {type: categorical, choices: [relu, tanh]}\n");
  std::string s = script("obj.sh",
                         "n=$BBO_TRIAL_NUMBER\n"
                         "printf '%s\\n' \"$@\" > $OUT/args_$n\n"
                         "printf '%s|%s|%s|%s|%s|%s\\n' \"$BBO_PARAM_X\" \"$BBO_PARAM_N\" \"$BBO_PARAM_ACT_FN\" "
                         "\"$BBO_STUDY\" \"$BBO_STORAGE\" \"$BBO_TRIAL_NUMBER\" > $OUT/env_$n\n"
                         "cp \"$BBO_PARAMS_FILE\" $OUT/params_$n.json\n"
                         "echo \"bbo: {\\\"value\\\": $BBO_PARAM_N}\"\n");
  Result r = run({"--config", cfg, "--trials", "4"}, {s, "--x={x}", "{n}", "{act-fn}", "{unknown}"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("{unknown}"), std::string::npos) << "warns about a placeholder naming no parameter";
  json ts = trials();
  ASSERT_EQ(ts.size(), 4u);
  for (const auto& t : ts) {
    int n = t["number"];
    EXPECT_EQ(t["state"], "COMPLETE") << reason(t);
    const json& p = t["params"];
    double x = p["x"];
    int64_t k = p["n"];
    std::string act = p["act-fn"];
    EXPECT_DOUBLE_EQ(t["values"][0].get<double>(), static_cast<double>(k));
    // Arguments: the value exactly (shortest round-trip form), an unknown placeholder left alone.
    std::vector<std::string> args;
    std::istringstream in(read_file(out_ / ("args_" + std::to_string(n))));
    for (std::string line; std::getline(in, line);) args.push_back(line);
    ASSERT_EQ(args.size(), 4u);
    EXPECT_EQ(std::stod(args[0].substr(4)), x);
    EXPECT_EQ(args[0].substr(0, 4), "--x=");
    EXPECT_EQ(args[1], std::to_string(k));
    EXPECT_EQ(args[2], act);
    EXPECT_EQ(args[3], "{unknown}");
    // Environment.
    std::string env = read_file(out_ / ("env_" + std::to_string(n)));
    std::vector<std::string> f;
    std::stringstream es(env.substr(0, env.find('\n')));
    for (std::string part; std::getline(es, part, '|');) f.push_back(part);
    ASSERT_EQ(f.size(), 6u) << env;
    EXPECT_EQ(std::stod(f[0]), x);
    EXPECT_EQ(f[1], std::to_string(k));
    EXPECT_EQ(f[2], act);
    EXPECT_EQ(f[3], "s");
    EXPECT_EQ(f[4], url_);
    EXPECT_EQ(f[5], std::to_string(n));
    // JSON file: the external values with their types.
    json pj = json::parse(read_file(out_ / ("params_" + std::to_string(n) + ".json")));
    EXPECT_EQ(pj, p);
    EXPECT_TRUE(pj["n"].is_number_integer());
    EXPECT_TRUE(fs::exists(t["system_attrs"]["log_file"].get<std::string>()));
    // host:pid/slot of the worker that ran it (one worker here: slot 0).
    EXPECT_TRUE(std::regex_match(t["system_attrs"]["worker"].get<std::string>(), std::regex(R"(.+:\d+/0)")))
        << t["system_attrs"];
  }
}

TEST_F(RunTest, ReportsAreRecordedAndOtherOutputGoesToTheLog) {
  std::string s = script("obj.sh",
                         "echo epoch-start\n"
                         "for i in 0 1 2 3; do echo \"bbo: {\\\"step\\\": $i, \\\"value\\\": $((10 - i))}\"; done\n"
                         "echo to-stderr >&2\n"
                         "echo 'bbo: {\"value\": 6.5}'\n");
  Result r = run({"--config", config(), "--trials", "2"}, {s});
  ASSERT_EQ(r.code, 0) << r.err;
  json ts = trials();
  ASSERT_EQ(ts.size(), 2u);
  for (const auto& t : ts) {
    EXPECT_EQ(t["state"], "COMPLETE") << reason(t);
    EXPECT_EQ(t["values"][0], 6.5);
    json expected = {{"0", 10.0}, {"1", 9.0}, {"2", 8.0}, {"3", 7.0}};
    EXPECT_EQ(t["intermediate_values"], expected);
    std::string log = read_file(t["system_attrs"]["log_file"].get<std::string>());
    EXPECT_NE(log.find("epoch-start\n"), std::string::npos) << log;
    EXPECT_NE(log.find("to-stderr\n"), std::string::npos) << log;
  }
  // Plain progress lines (stdout is not a terminal): one per trial and a summary.
  EXPECT_NE(r.out.find("trial 0 COMPLETE value 6.5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("2 complete, 0 pruned, 0 failed"), std::string::npos) << r.out;
}

TEST_F(RunTest, PruningStopsTheProcessGroupAndRecordsPruned) {
  std::string cfg =
      config("pruner: {name: median, params: {n_startup_trials: 1, n_warmup_steps: 0, n_min_trials: 1}}\n");
  // Trial 0 sets a good curve; trial 1 ignores SIGTERM (so only the SIGKILL after the grace period stops it,
  // and its `sleep` child too, which inherits the ignored signal); trial 2 dies on SIGTERM.
  std::string s = script("obj.sh",
                         "n=$BBO_TRIAL_NUMBER\n"
                         "if [ $n -eq 0 ]; then echo 'bbo: {\"step\": 0, \"value\": 1}'; echo 'bbo: {\"value\": 1}';"
                         " exit 0; fi\n"
                         "if [ $n -eq 1 ]; then trap '' TERM; fi\n"
                         "echo 'bbo: {\"step\": 0, \"value\": 100}'\n"
                         "sleep 20\n"
                         "touch $OUT/survived_$n\n"
                         "echo 'bbo: {\"value\": 100}'\n");
  Result r = run({"--config", cfg, "--trials", "3", "--kill-grace", "0.3"}, {s});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_LT(r.seconds, 8.0);
  json ts = trials();
  ASSERT_EQ(ts.size(), 3u);
  EXPECT_EQ(ts[0]["state"], "COMPLETE");
  for (int n : {1, 2}) {
    EXPECT_EQ(ts[n]["state"], "PRUNED") << reason(ts[n]);
    EXPECT_EQ(ts[n]["intermediate_values"], json({{"0", 100.0}}));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(fs::exists(out_ / "survived_1"));
  EXPECT_FALSE(fs::exists(out_ / "survived_2"));
}

TEST_F(RunTest, TimeoutStopsTheTrialAndRecordsFail) {
  std::string s = script("obj.sh", "echo 'bbo: {\"step\": 0, \"value\": 1}'\nsleep 20\necho 'bbo: {\"value\": 1}'\n");
  Result r = run({"--config", config(), "--trials", "1", "--timeout-per-trial", "0.5", "--kill-grace", "0.2"}, {s});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_LT(r.seconds, 6.0);
  json ts = trials();
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0]["state"], "FAIL");
  EXPECT_NE(reason(ts[0]).find("timed out after 0.5 s"), std::string::npos) << reason(ts[0]);
  EXPECT_EQ(ts[0]["intermediate_values"], json({{"0", 1.0}}));
}

TEST_F(RunTest, CrashGarbageAndMissingResultFailWithReason) {
  std::string s = script("obj.sh",
                         "case $BBO_TRIAL_NUMBER in\n"
                         "0) echo 'bbo: {\"value\": 1}'; exit 3;;\n"
                         "1) kill -SEGV $$;;\n"
                         "2) echo 'bbo: {not json'; sleep 20;;\n"
                         "3) echo 'no result here';;\n"
                         "4) echo 'bbo: {\"vale\": 1}';;\n"
                         "5) echo 'bbo: {\"step\": -1, \"value\": 1}';;\n"
                         "esac\n");
  Result r = run({"--config", config(), "--trials", "6", "--kill-grace", "0.2"}, {s});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_LT(r.seconds, 8.0);
  json ts = trials();
  ASSERT_EQ(ts.size(), 6u);
  std::vector<std::string> expected = {"exited with status 3", "killed by signal 11 (SIGSEGV)",
                                       "stdout line 1: report line: invalid JSON",
                                       "without reporting a final value", "unknown key \"vale\"",
                                       "\"step\" must be an integer >= 0"};
  for (size_t i = 0; i < ts.size(); ++i) {
    EXPECT_EQ(ts[i]["state"], "FAIL") << i;
    EXPECT_NE(reason(ts[i]).find(expected[i]), std::string::npos) << i << ": " << reason(ts[i]);
  }
  EXPECT_NE(r.out.find("0 complete, 0 pruned, 6 failed"), std::string::npos) << r.out;
}

TEST_F(RunTest, WorkersRunTrialsInParallel) {
  std::string s = script("obj.sh",
                         "a=$(date +%s%N)\nsleep 0.4\nb=$(date +%s%N)\n"
                         "echo \"$a $b\" > $OUT/span_$BBO_TRIAL_NUMBER\necho 'bbo: {\"value\": 0}'\n");
  Result r = run({"--config", config(), "--trials", "6", "--workers", "3"}, {s});
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::pair<long long, int>> events;  // (time, +1 start / -1 end)
  for (int n = 0; n < 6; ++n) {
    std::istringstream in(read_file(out_ / ("span_" + std::to_string(n))));
    long long a = 0, b = 0;
    in >> a >> b;
    ASSERT_GT(b, a) << n;
    events.push_back({a, +1});
    events.push_back({b, -1});
  }
  std::sort(events.begin(), events.end());  // an end before a start at the same instant
  int cur = 0, peak = 0;
  for (const auto& e : events) peak = std::max(peak, cur += e.second);
  EXPECT_EQ(peak, 3) << "three workers: three trials at once, never more";
  EXPECT_LT(r.seconds, 6 * 0.4) << "faster than one after another";
  EXPECT_EQ(trials().size(), 6u);
}

TEST_F(RunTest, SecondInvocationJoinsAndContinuesNumbering) {
  std::string s = script("obj.sh", "echo \"bbo: {\\\"value\\\": $BBO_PARAM_X}\"\n");
  ASSERT_EQ(run({"--config", config(), "--trials", "3", "--workers", "2"}, {s}).code, 0);
  // The second run has no --config: the study's stored space is used.
  Result r = run({"--trials", "2"}, {s});
  ASSERT_EQ(r.code, 0) << r.err;
  json ts = trials();
  ASSERT_EQ(ts.size(), 5u);
  for (size_t i = 0; i < ts.size(); ++i) {
    EXPECT_EQ(ts[i]["number"], static_cast<int>(i));
    EXPECT_EQ(ts[i]["state"], "COMPLETE") << reason(ts[i]);
  }
  // --total-trials counts the study's trials, whoever ran them.
  ASSERT_EQ(run({"--total-trials", "7"}, {s}).code, 0);
  EXPECT_EQ(trials().size(), 7u);
  ASSERT_EQ(run({"--total-trials", "7"}, {s}).code, 0);
  EXPECT_EQ(trials().size(), 7u);
}

TEST_F(RunTest, GpusAreAssignedOnePerRunningTrial) {
  std::string s = script("obj.sh",
                         "a=$(date +%s%N)\nsleep 0.3\nb=$(date +%s%N)\n"
                         "echo \"$CUDA_VISIBLE_DEVICES $a $b\" > $OUT/gpu_$BBO_TRIAL_NUMBER\n"
                         "echo 'bbo: {\"value\": 0}'\n");
  // --workers defaults to the number of GPUs.
  Result r = run({"--config", config(), "--trials", "4", "--gpus", "3,7"}, {s});
  ASSERT_EQ(r.code, 0) << r.err;
  struct Span {
    std::string gpu;
    long long a, b;
  };
  std::vector<Span> spans;
  json ts = trials();
  ASSERT_EQ(ts.size(), 4u);
  for (int n = 0; n < 4; ++n) {
    std::istringstream in(read_file(out_ / ("gpu_" + std::to_string(n))));
    Span sp;
    in >> sp.gpu >> sp.a >> sp.b;
    EXPECT_TRUE(sp.gpu == "3" || sp.gpu == "7") << sp.gpu;
    EXPECT_EQ(ts[n]["system_attrs"]["cuda_visible_devices"], sp.gpu);
    spans.push_back(sp);
  }
  int overlapping = 0;
  for (size_t i = 0; i < spans.size(); ++i)
    for (size_t j = i + 1; j < spans.size(); ++j)
      if (spans[i].a < spans[j].b && spans[j].a < spans[i].b) {
        ++overlapping;
        EXPECT_NE(spans[i].gpu, spans[j].gpu) << "trials " << i << " and " << j << " ran at once on one GPU";
      }
  EXPECT_GE(overlapping, 1) << "two workers should have overlapped";
}

TEST_F(RunTest, SigintStopsChildrenAndMarksTheirTrialsFail) {
  std::string s = script("obj.sh", "touch $OUT/started_$BBO_TRIAL_NUMBER\nsleep 20\ntouch $OUT/survived\n"
                                   "echo 'bbo: {\"value\": 0}'\n");
  std::vector<std::string> args = {"run",     "--storage", url_,         "--study",    "s",
                                   "--config", config(),   "--trials",   "10",         "--workers",
                                   "2",       "--log-dir", (dir_ / "logs").string(), "--", s};
  pid_t pid = start(args);
  ASSERT_TRUE(wait_for([&] { return fs::exists(out_ / "started_0") && fs::exists(out_ / "started_1"); }, 10.0));
  ASSERT_EQ(kill(pid, SIGINT), 0);
  Result r = finish(pid);
  EXPECT_EQ(r.code, 128 + SIGINT) << r.err;
  EXPECT_NE(r.err.find("SIGINT"), std::string::npos) << r.err;
  EXPECT_LT(r.seconds, 10.0);
  json ts = trials();  // the storage opens cleanly
  ASSERT_EQ(ts.size(), 2u) << "no trial started after the signal";
  for (const auto& t : ts) {
    EXPECT_EQ(t["state"], "FAIL");
    EXPECT_NE(reason(t).find("interrupted by SIGINT"), std::string::npos) << reason(t);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(fs::exists(out_ / "survived"));
}

TEST_F(RunTest, PythonScriptWithMultipleObjectivesAndNaN) {
  const char* python = "/usr/bin/python3";
  if (access(python, X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3";
  fs::path p = dir_ / "obj.py";
  write_file(p,
             "import json, os\n"
             "params = json.load(open(os.environ['BBO_PARAMS_FILE']))\n"
             "n = int(os.environ['BBO_TRIAL_NUMBER'])\n"
             "for step in range(3):\n"
             "    print('bbo: ' + json.dumps({'step': step, 'values': [params['x'] + step, -step]}), flush=True)\n"
             "v = float('nan') if n == 1 else params['x']\n"
             "print('bbo: ' + json.dumps({'values': [v, float('inf')]}))\n");
  write_file(dir_ / "mo.yaml", "name: mo\nseed: 1\ndirections: [minimize, maximize]\n"
                               "search_space:\n  x: {type: float, low: 0, high: 1}\n");
  Result r = bbo({"run", "--study", "mo", "--config", (dir_ / "mo.yaml").string(), "--trials", "2", "--log-dir",
                  (dir_ / "logs").string(), "--", python, p.string()});
  ASSERT_EQ(r.code, 0) << r.err;
  json ts = trials("mo");
  ASSERT_EQ(ts.size(), 2u);
  double x = ts[0]["params"]["x"];
  EXPECT_EQ(ts[0]["state"], "COMPLETE") << reason(ts[0]);
  EXPECT_EQ(ts[0]["values"][0].get<double>(), x);
  EXPECT_EQ(ts[0]["values"][1], "inf");
  EXPECT_EQ(ts[0]["intermediate_values"]["2"].get<double>(), x + 2);
  EXPECT_EQ(ts[0]["intermediate_values"]["2:1"].get<double>(), -2.0);
  EXPECT_EQ(ts[1]["state"], "FAIL");
  EXPECT_NE(reason(ts[1]).find("NaN"), std::string::npos) << reason(ts[1]);
}

TEST_F(RunTest, RunSectionOfTheStudyFileGivesCommandAndSettings) {
  std::string s = script("obj.sh", "echo \"$1\" > $OUT/arg_$BBO_TRIAL_NUMBER\necho \"bbo: {\\\"value\\\": $1}\"\n");
  std::string cfg = config("run:\n  command: [" + s + ", \"{x}\"]\n  trials: 3\n  workers: 2\n  log_dir: " +
                           (dir_ / "cfglogs").string() + "\n");
  Result r = bbo({"run", "--config", cfg});  // name, command and trial count all from the file
  ASSERT_EQ(r.code, 0) << r.err;
  json ts = trials();
  ASSERT_EQ(ts.size(), 3u);
  for (const auto& t : ts) {
    EXPECT_EQ(t["state"], "COMPLETE") << reason(t);
    EXPECT_EQ(std::stod(read_file(out_ / ("arg_" + std::to_string(t["number"].get<int>())))),
              t["params"]["x"].get<double>());
  }
  EXPECT_TRUE(fs::exists(dir_ / "cfglogs" / "trial_0.log"));
  // A string command runs through /bin/sh -c; --trials on the command line overrides the file.
  std::string cfg2 = config("run:\n  command: \"echo bbo: '{\\\"value\\\": {x}}' && echo $BBO_PARAM_X > $OUT/sh\"\n"
                            "  trials: 5\n");
  r = bbo({"run", "--config", cfg2, "--trials", "1", "--log-dir", (dir_ / "logs").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  ts = trials();
  ASSERT_EQ(ts.size(), 4u);
  EXPECT_EQ(ts[3]["state"], "COMPLETE") << reason(ts[3]);
  EXPECT_EQ(std::stod(read_file(out_ / "sh")), ts[3]["values"][0].get<double>());
}

TEST_F(RunTest, HeartbeatsKeepLongTrialsAliveUnderAGracePeriod) {
  std::string cfg = config("heartbeat_grace_seconds: 0.6\n");
  std::string s = script("obj.sh", "touch $OUT/started\nsleep 1.5\necho 'bbo: {\"value\": 1}'\n");
  std::vector<std::string> args = {"run",      "--storage", url_,     "--study",   "s",
                                   "--config", cfg,         "--trials", "1",         "--heartbeat-interval",
                                   "0.1",      "--log-dir", (dir_ / "logs").string(), "--", s};
  pid_t pid = start(args);
  ASSERT_TRUE(wait_for([&] { return fs::exists(out_ / "started"); }, 10.0));
  std::this_thread::sleep_for(std::chrono::milliseconds(900));  // past the grace period since the start
  // A second process looks for stale trials: the heartbeat thread has kept this one fresh. (Run with the
  // storage of this test; its output replaces the runner's files, which are read before.)
  std::vector<std::string> fail_stale = {"fail-stale", "--storage", url_, "--study", "s", "--grace", "0.6"};
  std::vector<std::string> argv_s = {BBO_CLI_BINARY};
  argv_s.insert(argv_s.end(), fail_stale.begin(), fail_stale.end());
  std::string cmd;
  for (const auto& a : argv_s) cmd += "'" + a + "' ";
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  char buf[256] = {0};
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  pclose(f);
  EXPECT_EQ(std::string(buf, n), "{\"failed\":[]}\n");
  Result r = finish(pid);
  ASSERT_EQ(r.code, 0) << r.err;
  json ts = trials();
  ASSERT_EQ(ts.size(), 1u);
  EXPECT_EQ(ts[0]["state"], "COMPLETE") << reason(ts[0]);
}

TEST_F(RunTest, BadInputIsOneLineErrorAndWritesNothing) {
  std::string s = script("obj.sh", "echo 'bbo: {\"value\": 0}'\n");
  std::string cfg = config();
  write_file(dir_ / "nospace.yaml", "name: s\nseed: 1\n");
  write_file(dir_ / "badrun.yaml", "name: s\nsearch_space:\n  x: {type: float, low: 0, high: 1}\nrun: {wrkers: 2}\n");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  std::vector<Case> cases = {
      {{"run", "--study", "s", "--config", cfg, "--trials", "1", s}, 2, "not expected"},  // missing "--"
      {{"run", "--study", "s", "--config", cfg, "--trials", "1", "--bogus", "--", s}, 2, "--bogus"},
      {{"run", "--study", "s", "--config", cfg, "--trials", "1", "--"}, 2, "no command after '--'"},
      {{"run", "--study", "s", "--config", cfg, "--", s}, 2, "--trials N is required"},
      {{"run", "--study", "s", "--config", (dir_ / "nospace.yaml").string(), "--trials", "1", "--", s}, 3,
       "no search_space"},
      {{"run", "--study", "s", "--config", (dir_ / "badrun.yaml").string(), "--trials", "1", "--", s}, 3,
       "unknown key 'wrkers'"},
      {{"run", "--study", "s", "--config", cfg, "--trials", "1", "--", "no-such-command-xyz"}, 4,
       "command 'no-such-command-xyz' not found in PATH"},
      {{"run", "--study", "s", "--trials", "1", "--", s}, 4, "pass --config"},
      {{"run", "--study", "s", "--config", cfg, "--trials", "1", "--workers", "0", "--", s}, 3, "--workers"},
      {{"run", "--study", "s", "--config", cfg, "--trials", "1", "--gpus", "0,,1", "--", s}, 3, "--gpus"},
  };
  for (const auto& c : cases) {
    Result r = bbo(c.args);
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    EXPECT_EQ(r.code, c.code) << joined << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << joined << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("bbo: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << joined << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    Result st = bbo({"studies", "--format", "json"});
    EXPECT_EQ(st.out, "[]\n") << "nothing written by: " << joined;
  }
}

// ---- the report-line parser

using bbo::cli::parse_report_line;

TEST(ReportLine, OrdinaryLinesAreNotReports) {
  EXPECT_FALSE(parse_report_line("epoch 3 loss 0.4"));
  EXPECT_FALSE(parse_report_line(" bbo: {\"value\": 1}"));  // only in the first column
  EXPECT_FALSE(parse_report_line(""));
}

TEST(ReportLine, IntermediateAndFinalValues) {
  auto r = parse_report_line("bbo: {\"step\": 3, \"value\": 0.41}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->step, 3);
  EXPECT_EQ(r->values, std::vector<double>{0.41});
  r = parse_report_line("bbo:{\"value\": -2e-3}\r");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->step);
  EXPECT_EQ(r->values, std::vector<double>{-2e-3});
  r = parse_report_line("bbo: {\"values\": [1, 2.5], \"step\": 4.0}");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->step, 4);
  EXPECT_EQ(r->values, (std::vector<double>{1, 2.5}));
}

TEST(ReportLine, NonFiniteNumbersInBothSpellings) {
  auto r = parse_report_line("bbo: {\"values\": [NaN, Infinity, -Infinity, \"nan\", \"-inf\"]}");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->values.size(), 5u);
  EXPECT_TRUE(std::isnan(r->values[0]));
  EXPECT_EQ(r->values[1], INFINITY);
  EXPECT_EQ(r->values[2], -INFINITY);
  EXPECT_TRUE(std::isnan(r->values[3]));
  EXPECT_EQ(r->values[4], -INFINITY);
  // Inside a string the token is not touched: an unknown key with that name stays an error about the key.
  EXPECT_THROW(parse_report_line("bbo: {\"NaN\": 1, \"value\": 1}"), bbo::ValueError);
}

TEST(ReportLine, MalformedReportsThrowValueError) {
  for (const char* bad : {"bbo:", "bbo: {", "bbo: [1]", "bbo: 3", "bbo: {}", "bbo: {\"step\": 1}",
                          "bbo: {\"value\": \"x\"}", "bbo: {\"value\": 1, \"values\": [1]}",
                          "bbo: {\"values\": []}", "bbo: {\"values\": 1}", "bbo: {\"step\": -1, \"value\": 1}",
                          "bbo: {\"step\": 1.5, \"value\": 1}", "bbo: {\"step\": \"1\", \"value\": 1}",
                          "bbo: {\"value\": 1, \"loss\": 2}", "bbo: {\"value\": null}",
                          "bbo: {\"step\": 18446744073709551615, \"value\": 1}", "bbo: {\"value\": 1e999}",
                          "bbo: {\"value\": 1} trailing", "bbo: {\"value\": \"\xff\"}"}) {
    EXPECT_THROW(parse_report_line(bad), bbo::ValueError) << bad;
  }
}

}  // namespace

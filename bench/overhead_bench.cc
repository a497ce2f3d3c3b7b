// bench/overhead_bench.cc — framework overhead: ask + d × suggest_float + tell time per trial in memory
// storage, bbo beside Optuna 3.1 (in-memory storage) in the same run.
//
// usage: bbo_bench_overhead [--quick] [--trials N] [--peers-dir DIR] [--python PY]
// Part 1, d = 5: random and cmaes beside peers/optuna_overhead.py (RandomSampler, CmaEsSampler).
// Part 2, d = 10: every strategy plugin of kStrategies that is built, beside Optuna's CmaEsSampler on the
// same loop at d = 10 (the peer script's loop, run inline with d = 10 and the same number of trials); the
// ratio is Optuna CmaEsSampler time / bbo strategy time.
// Each bbo figure is the median of 3 runs on a fresh study with the strategy's default parameters.
// Strategies other than random are measured when their plugin is found. The last line of output is one JSON
// object.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "bbo/study.h"
#include "bench/bench_util.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace bbo::bench;

namespace {

constexpr int kParams = 5;
constexpr int kWideParams = 10;
// Part 2's strategies, in the order printed.
const char* const kStrategies[] = {"random", "sobol", "cmaes", "de", "cbo", "sa", "tpe"};

// Optuna's CmaEsSampler on peers/optuna_overhead.py's loop with d parameters: prints
// "cmaes ms/trial d=<d> n=<n>: <ms>".
constexpr const char* kOptunaCmaesWide = R"(import sys, time, optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
n, d = int(sys.argv[1]), int(sys.argv[2])
st = optuna.create_study(sampler=optuna.samplers.CmaEsSampler(seed=0))
t0 = time.perf_counter()
for _ in range(n):
    t = st.ask(); v = sum(t.suggest_float(f"x{i}", -5, 5)**2 for i in range(d)); st.tell(t, v)
print(f"cmaes ms/trial d={d} n={n}:", round((time.perf_counter() - t0) / n * 1e3, 4))
)";

bool strategy_available(const std::string& strategy) {
  if (strategy == "random") return true;
  try {
    bbo::PluginRegistry::global().describe(bbo::PluginKind::kStrategy, strategy);
    return true;
  } catch (const bbo::Error&) {
    return false;  // plugin not built
  }
}

// Microseconds per trial for one fresh in-memory study.
double time_per_trial_us(const std::string& strategy, int n, int params) {
  bbo::StudyOptions o;
  o.name = "overhead";
  o.storage = "memory:";
  o.strategy = strategy;
  o.seed = 0;
  auto study = bbo::Study::create(o);
  std::vector<std::string> names;
  for (int k = 0; k < params; ++k) names.push_back("x" + std::to_string(k));
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    bbo::Trial t = study.ask();
    double v = 0;
    for (const auto& name : names) {
      const double x = t.suggest_float(name, -5, 5);
      v += x * x;
    }
    study.tell(t, v);
  }
  return seconds_since(t0) / n * 1e6;
}

double median_of_3(const std::string& strategy, int n, int params = kParams) {
  std::vector<double> v;
  for (int r = 0; r < 3; ++r) v.push_back(time_per_trial_us(strategy, n, params));
  std::sort(v.begin(), v.end());
  return v[1];
}

// "random ms/trial n=2000: 0.27" → {"random": 270.0 µs}
std::map<std::string, double> parse_optuna(const std::string& out) {
  std::map<std::string, double> us;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    const auto colon = line.rfind(':');
    std::istringstream words(line);
    std::string name;
    if (colon == std::string::npos || !(words >> name)) continue;
    try {
      us[name] = std::stod(line.substr(colon + 1)) * 1000.0;
    } catch (const std::exception&) {
    }
  }
  return us;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bool quick = has_flag(argc, argv, "--quick");
    const int n = std::stoi(arg_value(argc, argv, "--trials").value_or(quick ? "500" : "2000"));
    const fs::path peers = arg_value(argc, argv, "--peers-dir").value_or("");
    const std::string python = arg_value(argc, argv, "--python").value_or("");

    std::map<std::string, double> optuna_us;
    std::string optuna_note;
    const fs::path script = peers / "optuna_overhead.py";
    if (python.empty()) {
      optuna_note = "no python3 that imports optuna";
    } else if (!fs::exists(script)) {
      optuna_note = "missing " + script.string();
    } else {
      auto [rc, out] = run_capture({python, script.string()});
      if (rc == 0) {
        optuna_us = parse_optuna(out);
      } else {
        optuna_note = "optuna_overhead.py exited with status " + std::to_string(rc);
      }
    }

    std::printf("overhead: ask + %d x suggest_float + tell per trial, in-memory storage, %d trials (bbo: median of 3)\n",
                kParams, n);
    std::printf("Optuna: peers/optuna_overhead.py (2000 trials random/cmaes)%s%s\n\n", optuna_note.empty() ? "" : " - ",
                optuna_note.c_str());
    std::printf("%-10s %14s %16s %10s\n", "strategy", "bbo us/trial", "optuna us/trial", "optuna/bbo");

    json out = {{"bench", "overhead"}, {"quick", quick}, {"trials", n}, {"params", kParams}};
    json results = json::object();
    for (const std::string strategy : {"random", "cmaes"}) {
      if (!strategy_available(strategy)) continue;  // plugin not built: nothing to compare
      const double bbo_us = median_of_3(strategy, n);
      json r = {{"bbo_us_per_trial", bbo_us}};
      auto it = optuna_us.find(strategy);
      if (it != optuna_us.end()) {
        r["optuna_us_per_trial"] = it->second;
        r["ratio_optuna_over_bbo"] = it->second / bbo_us;
        std::printf("%-10s %14.2f %16.1f %9.1fx\n", strategy.c_str(), bbo_us, it->second, it->second / bbo_us);
      } else {
        std::printf("%-10s %14.2f %16s %10s\n", strategy.c_str(), bbo_us, "-", "-");
      }
      results[strategy] = r;
    }
    out["results"] = results;
    if (!optuna_note.empty()) out["optuna_note"] = optuna_note;

    if (results["random"].contains("ratio_optuna_over_bbo")) {
      const double ratio = results["random"]["ratio_optuna_over_bbo"].get<double>();
      out["targets"] = {{"random_at_least_20x_less_time", ratio >= 20.0}};
      std::printf("\nrandom: bbo takes %.1fx less time per trial than Optuna   target: >= 20x\n", ratio);
    }

    // Part 2: every strategy plugin at d = 10 beside Optuna's CmaEsSampler.
    std::optional<double> optuna_cmaes_wide_us;
    std::string wide_note;
    if (python.empty()) {
      wide_note = "no python3 that imports optuna";
    } else {
      auto [rc, text] = run_capture({python, "-c", kOptunaCmaesWide, std::to_string(n), std::to_string(kWideParams)});
      auto parsed = parse_optuna(text);
      if (rc == 0 && parsed.count("cmaes")) {
        optuna_cmaes_wide_us = parsed["cmaes"];
      } else {
        wide_note = "Optuna CmaEsSampler run exited with status " + std::to_string(rc);
      }
    }
    std::printf("\nd = %d: ask + %d x suggest_float + tell per trial, default parameters, %d trials"
                " (bbo: median of 3)\n",
                kWideParams, kWideParams, n);
    if (optuna_cmaes_wide_us) {
      std::printf("Optuna CmaEsSampler, same loop: %.1f us/trial\n\n", *optuna_cmaes_wide_us);
    } else {
      std::printf("Optuna CmaEsSampler: - (%s)\n\n", wide_note.c_str());
    }
    std::printf("%-10s %14s %22s\n", "strategy", "bbo us/trial", "optuna-cmaes/bbo");
    json wide = {{"params", kWideParams}, {"trials", n}};
    if (optuna_cmaes_wide_us) wide["optuna_cmaes_us_per_trial"] = *optuna_cmaes_wide_us;
    if (!wide_note.empty()) wide["optuna_note"] = wide_note;
    json wide_results = json::object();
    std::vector<std::string> skipped;
    for (const std::string strategy : kStrategies) {
      if (!strategy_available(strategy)) {
        skipped.push_back(strategy);
        continue;
      }
      const double bbo_us = median_of_3(strategy, n, kWideParams);
      json r = {{"bbo_us_per_trial", bbo_us}};
      if (optuna_cmaes_wide_us) {
        r["ratio_optuna_cmaes_over_bbo"] = *optuna_cmaes_wide_us / bbo_us;
        std::printf("%-10s %14.2f %21.1fx\n", strategy.c_str(), bbo_us, *optuna_cmaes_wide_us / bbo_us);
      } else {
        std::printf("%-10s %14.2f %22s\n", strategy.c_str(), bbo_us, "-");
      }
      wide_results[strategy] = r;
    }
    if (!skipped.empty()) {
      std::string list;
      for (const auto& s : skipped) list += (list.empty() ? "" : ", ") + s;
      std::printf("not built (skipped): %s\n", list.c_str());
      wide["skipped"] = skipped;
    }
    wide["results"] = wide_results;
    out["d10"] = wide;
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "overhead bench: %s\n", e.what());
    return 1;
  }
}

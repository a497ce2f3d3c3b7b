// bench/overhead_bench.cc — framework overhead: ask + 5 × suggest_float + tell time per trial in memory
// storage, bbo beside Optuna 3.1 (peers/optuna_overhead.py, in-memory storage) in the same run.
//
// usage: bbo_bench_overhead [--quick] [--trials N] [--peers-dir DIR] [--python PY]
// Each bbo figure is the median of 3 runs on a fresh study. Strategies other than random (cmaes) are measured
// when their plugin is installed. The last line of output is one JSON object.
#include <algorithm>
#include <cstdio>
#include <filesystem>
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

// Microseconds per trial for one fresh in-memory study.
double time_per_trial_us(const std::string& strategy, int n) {
  bbo::StudyOptions o;
  o.name = "overhead";
  o.storage = "memory:";
  o.strategy = strategy;
  o.seed = 0;
  auto study = bbo::Study::create(o);
  std::vector<std::string> names;
  for (int k = 0; k < kParams; ++k) names.push_back("x" + std::to_string(k));
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

double median_of_3(const std::string& strategy, int n) {
  std::vector<double> v;
  for (int r = 0; r < 3; ++r) v.push_back(time_per_trial_us(strategy, n));
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
      if (strategy != "random") {
        try {
          bbo::PluginRegistry::global().describe(bbo::PluginKind::kStrategy, strategy);
        } catch (const bbo::Error&) {
          continue;  // plugin not built: nothing to compare
        }
      }
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
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "overhead bench: %s\n", e.what());
    return 1;
  }
}

// bench/quality_bench.cc — optimisation quality: median simple regret of a bbo strategy on the public
// functions (bench/functions.h), plain and shifted, beside Optuna 3.1 with the same functions, seeds and
// budget.
//
// usage: bbo_bench_quality [--strategy cmaes] [--params JSON] [--trials 200] [--seeds 10] [--quick]
//                          [--funcs a,b] [--no-shift] [--peer-live] [--peer-sampler cmaes]
//                          [--peers-dir DIR] [--python PY] [--dir DIR]
// Seed s (0-based) is the study seed and the shift index, as in peers/optuna_suite.py. The peer figures are
// read from the recorded peers/optuna31_results_public{,_shifted}.json (10 seeds x 200 trials; the regret
// after min(trials, 200) trials) unless --peer-live runs optuna_suite.py now (needed past 200 trials).
// --quick: 3 seeds. Regret = best value - f_opt, median over seeds; ratio = bbo / optuna (<= 1: bbo at least
// as good). The last line of output is one JSON object.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bbo/error.h"
#include "bbo/study.h"
#include "bench/bench_util.h"
#include "bench/functions.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace bbo::bench;

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct BboRun {
  double regret = 0;
  double seconds = 0;  // ask + suggest + tell, objective excluded (it is negligible here)
};

BboRun run_bbo(const BenchFunction& fn, const std::string& strategy, const json& params, int trials, int seed,
               bool shift) {
  bbo::StudyOptions o;
  o.name = "quality";
  o.storage = "memory:";
  o.strategy = strategy;
  o.strategy_params = params;
  o.seed = static_cast<uint64_t>(seed);
  auto study = bbo::Study::create(o);
  const std::vector<double> delta = shift ? shift_for(fn.bounds, seed) : std::vector<double>(fn.dim, 0.0);
  std::vector<std::string> names;
  for (int i = 0; i < fn.dim; ++i) names.push_back("x" + std::to_string(i));
  double best = HUGE_VAL;
  std::vector<double> x(fn.dim);
  const auto t0 = std::chrono::steady_clock::now();
  for (int k = 0; k < trials; ++k) {
    bbo::Trial t = study.ask();
    for (int i = 0; i < fn.dim; ++i) x[i] = t.suggest_float(names[i], fn.bounds[i].first, fn.bounds[i].second);
    const double y = evaluate_shifted(fn, x, delta);
    study.tell(t, y);
    best = std::min(best, y);
  }
  return {best - fn.f_opt, seconds_since(t0)};
}

// (func, shift) -> regrets over seeds, from optuna_suite.py's JSON (records of one sampler).
using PeerTable = std::map<std::pair<std::string, bool>, std::vector<double>>;

void read_peer(const fs::path& file, const std::string& sampler, int trials, int seeds, bool shift, PeerTable& out) {
  std::ifstream in(file);
  if (!in) return;
  json records = json::parse(in, nullptr, false);
  if (!records.is_array()) return;
  for (const auto& r : records) {
    if (r.value("sampler", "") != sampler || r.value("seed", 0) >= seeds) continue;
    const auto& best = r.at("best");
    if (best.empty()) continue;
    const size_t at = std::min(best.size(), static_cast<size_t>(trials)) - 1;
    if (best.size() < static_cast<size_t>(trials) && trials > 200) continue;  // recorded runs are too short
    out[{r.at("func").get<std::string>(), shift}].push_back(best[at].get<double>() - r.at("fopt").get<double>());
  }
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const bool quick = has_flag(argc, argv, "--quick");
    const std::string strategy = arg_value(argc, argv, "--strategy").value_or("cmaes");
    const json params = json::parse(arg_value(argc, argv, "--params").value_or("{}"));
    const int trials = std::stoi(arg_value(argc, argv, "--trials").value_or("200"));
    const int seeds = std::stoi(arg_value(argc, argv, "--seeds").value_or(quick ? "3" : "10"));
    const bool peer_live = has_flag(argc, argv, "--peer-live");
    const std::string peer_sampler = arg_value(argc, argv, "--peer-sampler").value_or("cmaes");
    const fs::path peers = arg_value(argc, argv, "--peers-dir").value_or("../shared/peers");
    const std::string python = arg_value(argc, argv, "--python").value_or("");
    const fs::path dir = arg_value(argc, argv, "--dir").value_or(fs::temp_directory_path().string());
    std::vector<bool> shifts = {false};
    if (!has_flag(argc, argv, "--no-shift")) shifts.push_back(true);
    std::vector<BenchFunction> fns;
    const auto wanted = split(arg_value(argc, argv, "--funcs").value_or(""));
    for (auto& fn : public_functions())
      if (wanted.empty() || std::find(wanted.begin(), wanted.end(), fn.name) != wanted.end()) fns.push_back(fn);
    if (fns.empty() || trials < 1 || seeds < 1) {
      std::fprintf(stderr, "bbo_bench_quality: nothing to run (check --funcs, --trials, --seeds)\n");
      return 2;
    }

    // Peer figures.
    PeerTable peer;
    std::string peer_source = "none";
    if (peer_live && !python.empty()) {
      std::string funcs;
      for (const auto& fn : fns) funcs += (funcs.empty() ? "" : ",") + fn.name;
      for (bool shift : shifts) {
        const fs::path out = dir / (shift ? "optuna_quality_shifted.json" : "optuna_quality.json");
        std::vector<std::string> cmd = {python,       (peers / "optuna_suite.py").string(), out.string(), "--funcs",
                                        funcs,        "--samplers", peer_sampler, "--trials", std::to_string(trials),
                                        "--seeds",    std::to_string(seeds)};
        if (shift) cmd.push_back("--shift");
        std::fprintf(stderr, "running the Optuna peer (%s%s, %d trials x %d seeds)...\n", peer_sampler.c_str(),
                     shift ? ", shifted" : "", trials, seeds);
        auto [rc, text] = run_capture(cmd);
        if (rc != 0) throw std::runtime_error("optuna_suite.py failed with status " + std::to_string(rc));
        read_peer(out, peer_sampler, trials, seeds, shift, peer);
      }
      peer_source = "live optuna_suite.py";
    } else {
      if (peer_live) std::fprintf(stderr, "bbo_bench_quality: no python with optuna; using the recorded peer\n");
      read_peer(peers / "optuna31_results_public.json", peer_sampler, trials, seeds, false, peer);
      read_peer(peers / "optuna31_results_public_shifted.json", peer_sampler, trials, seeds, true, peer);
      peer_source = trials <= 200 ? "recorded optuna31_results_public*.json" : "none (recorded runs have 200 trials)";
    }

    std::printf("quality: strategy %s %s, %d trials, %d seeds; peer: Optuna %s (%s)\n", strategy.c_str(),
                params.dump().c_str(), trials, seeds, peer_sampler.c_str(), peer_source.c_str());
    std::printf("%-18s %-8s %14s %14s %9s %12s\n", "function", "variant", "bbo regret", "optuna regret",
                "ratio", "bbo ms/trial");
    json rows = json::array();
    int wins = 0, compared = 0;
    double total_seconds = 0;
    long total_trials = 0;
    for (const auto& fn : fns) {
      for (bool shift : shifts) {
        std::vector<double> regrets;
        double seconds = 0;
        for (int s = 0; s < seeds; ++s) {
          BboRun r = run_bbo(fn, strategy, params, trials, s, shift);
          regrets.push_back(r.regret);
          seconds += r.seconds;
        }
        total_seconds += seconds;
        total_trials += static_cast<long>(trials) * seeds;
        const double ours = median(regrets);
        auto it = peer.find({fn.name, shift});
        const bool have_peer = it != peer.end() && static_cast<int>(it->second.size()) == seeds;
        const double theirs = have_peer ? median(it->second) : std::nan("");
        // Both at the optimum within double rounding count as a tie.
        const double ratio = have_peer ? (theirs > 0 ? ours / theirs : (ours <= 1e-12 ? 1.0 : HUGE_VAL)) : std::nan("");
        if (have_peer) {
          ++compared;
          wins += ours <= theirs ? 1 : 0;
        }
        const double ms = seconds / (trials * seeds) * 1e3;
        std::printf("%-18s %-8s %14.5g %14.5g %9.3g %12.4f\n", fn.name.c_str(), shift ? "shifted" : "plain", ours,
                    theirs, ratio, ms);
        json row = {{"func", fn.name}, {"shift", shift}, {"bbo_median_regret", ours}, {"bbo_regrets", regrets},
                    {"bbo_ms_per_trial", ms}};
        if (have_peer) {
          row["optuna_median_regret"] = theirs;
          row["ratio"] = ratio;
        }
        rows.push_back(row);
      }
    }
    std::printf("bbo at least as good as Optuna on %d of %d (function, variant) pairs; bbo %.4f ms/trial\n", wins,
                compared, total_seconds / std::max(1L, total_trials) * 1e3);
    json summary = {{"benchmark", "quality"},  {"strategy", strategy},          {"params", params},
                    {"trials", trials},        {"seeds", seeds},                {"peer", peer_sampler},
                    {"peer_source", peer_source}, {"at_least_as_good", wins},   {"compared", compared},
                    {"rows", rows}};
    std::printf("%s\n", summary.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bbo_bench_quality: %s\n", e.what());
    return 1;
  }
}

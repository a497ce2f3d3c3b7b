// bench/quality_bench.cc — optimisation quality: median simple regret of a bbo strategy on the public
// functions (bench/functions.h), plain and shifted, beside Optuna 3.1's samplers with the same functions,
// seeds and budget, at several checkpoints (default 50, 100, 200 evaluations).
//
// usage: bbo_bench_quality [--strategy cmaes] [--params JSON] [--trials 200] [--seeds 10] [--quick]
//                          [--funcs a,b] [--no-shift] [--checkpoints 50,100,200] [--jobs N]
//                          [--peer-samplers tpe,cmaes,qmc,random] [--peer-live]
//                          [--peers-dir DIR] [--python PY] [--dir DIR] [--raw FILE]
// Seed s (0-based) is the study seed and the shift index, as in peers/optuna_suite.py. The peer figures are
// read from the recorded peers/optuna31_results_public{,_shifted}.json (10 seeds x 200 trials) unless
// --peer-live runs optuna_suite.py now (needed past 200 trials). For each (function, variant, checkpoint)
// the reference is the BEST Optuna sampler's median regret; ratio = bbo / best (<= 1: bbo at least as good).
// Per-seed best-so-far regrets go to --raw (default DIR/quality_raw_<strategy>.json). Seeds run on --jobs
// threads (default: the number of cores). --quick: 3 seeds. The last line of output is one JSON object.
#include <algorithm>
#include <atomic>
#include <thread>
#include <tuple>
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
  std::vector<double> regret;  // best-so-far regret after each trial
  double seconds = 0;          // ask + suggest + tell, objective excluded (it is negligible here)
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
  BboRun run;
  std::vector<double> x(fn.dim);
  const auto t0 = std::chrono::steady_clock::now();
  for (int k = 0; k < trials; ++k) {
    bbo::Trial t = study.ask();
    for (int i = 0; i < fn.dim; ++i) x[i] = t.suggest_float(names[i], fn.bounds[i].first, fn.bounds[i].second);
    const double y = evaluate_shifted(fn, x, delta);
    study.tell(t, y);
    best = std::min(best, y);
    run.regret.push_back(best - fn.f_opt);
  }
  run.seconds = seconds_since(t0);
  return run;
}

// (sampler, func, shift, checkpoint) -> regrets over seeds, from optuna_suite.py's JSON.
using PeerKey = std::tuple<std::string, std::string, bool, int>;
using PeerTable = std::map<PeerKey, std::vector<double>>;

void read_peer(const fs::path& file, const std::vector<int>& checkpoints, int seeds, bool shift, PeerTable& out) {
  std::ifstream in(file);
  if (!in) return;
  json records = json::parse(in, nullptr, false);
  if (!records.is_array()) return;
  for (const auto& r : records) {
    if (r.value("seed", 0) >= seeds) continue;
    const auto& best = r.at("best");
    for (int c : checkpoints) {
      if (best.size() < static_cast<size_t>(c)) continue;  // recorded runs are too short
      out[{r.at("sampler").get<std::string>(), r.at("func").get<std::string>(), shift, c}].push_back(
          best[c - 1].get<double>() - r.at("fopt").get<double>());
    }
  }
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
    const auto peer_samplers = split(arg_value(argc, argv, "--peer-samplers").value_or("tpe,cmaes,qmc,random"));
    const fs::path peers = arg_value(argc, argv, "--peers-dir").value_or("../shared/peers");
    const std::string python = arg_value(argc, argv, "--python").value_or("");
    const fs::path dir = arg_value(argc, argv, "--dir").value_or(fs::temp_directory_path().string());
    const int jobs = std::max(1, std::stoi(arg_value(argc, argv, "--jobs").value_or(
                                     std::to_string(std::max(1u, std::thread::hardware_concurrency())))));
    std::vector<int> checkpoints;
    for (int c : split_ints(arg_value(argc, argv, "--checkpoints").value_or("50,100,200")))
      if (c >= 1 && c <= trials) checkpoints.push_back(c);
    if (checkpoints.empty() || checkpoints.back() != trials) checkpoints.push_back(trials);
    const fs::path raw_path = arg_value(argc, argv, "--raw").value_or((dir / ("quality_raw_" + strategy + ".json")).string());
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
      std::string funcs, samplers;
      for (const auto& fn : fns) funcs += (funcs.empty() ? "" : ",") + fn.name;
      for (const auto& p : peer_samplers) samplers += (samplers.empty() ? "" : ",") + p;
      for (bool shift : shifts) {
        const fs::path out = dir / (shift ? "optuna_quality_shifted.json" : "optuna_quality.json");
        std::vector<std::string> cmd = {python,       (peers / "optuna_suite.py").string(), out.string(), "--funcs",
                                        funcs,        "--samplers", samplers, "--trials", std::to_string(trials),
                                        "--seeds",    std::to_string(seeds)};
        if (shift) cmd.push_back("--shift");
        std::fprintf(stderr, "running the Optuna peer (%s%s, %d trials x %d seeds)...\n", samplers.c_str(),
                     shift ? ", shifted" : "", trials, seeds);
        auto [rc, text] = run_capture(cmd);
        if (rc != 0) throw std::runtime_error("optuna_suite.py failed with status " + std::to_string(rc));
        read_peer(out, checkpoints, seeds, shift, peer);
      }
      peer_source = "live optuna_suite.py";
    } else {
      if (peer_live) std::fprintf(stderr, "bbo_bench_quality: no python with optuna; using the recorded peer\n");
      read_peer(peers / "optuna31_results_public.json", checkpoints, seeds, false, peer);
      read_peer(peers / "optuna31_results_public_shifted.json", checkpoints, seeds, true, peer);
      peer_source = "recorded optuna31_results_public*.json";
    }

    std::printf("quality: strategy %s %s, %d trials, %d seeds, %d jobs; peer: best of Optuna 3.1 samplers (%s)\n",
                strategy.c_str(), params.dump().c_str(), trials, seeds, jobs, peer_source.c_str());
    std::printf("%-18s %-8s %5s %12s %12s %-7s %8s %10s\n", "function", "variant", "evals", "bbo regret",
                "best optuna", "sampler", "ratio", "ms/trial");
    json rows = json::array();
    json raw = json::array();
    std::map<int, int> wins, compared;
    double total_seconds = 0;
    long total_trials = 0;
    for (const auto& fn : fns) {
      for (bool shift : shifts) {
        std::vector<BboRun> runs(seeds);
        std::vector<std::string> errors(seeds);
        std::atomic<int> next{0};
        std::vector<std::thread> pool;
        for (int j = 0; j < std::min(jobs, seeds); ++j)
          pool.emplace_back([&] {
            for (int s = next++; s < seeds; s = next++) {
              try {
                runs[s] = run_bbo(fn, strategy, params, trials, s, shift);
              } catch (const std::exception& e) {
                errors[s] = e.what();
              }
            }
          });
        for (auto& t : pool) t.join();
        for (const auto& e : errors)
          if (!e.empty()) throw std::runtime_error(fn.name + ": " + e);
        double seconds = 0;
        for (int s = 0; s < seeds; ++s) {
          seconds += runs[s].seconds;
          raw.push_back({{"func", fn.name}, {"shift", shift}, {"seed", s}, {"regret", runs[s].regret},
                         {"seconds", runs[s].seconds}});
        }
        total_seconds += seconds;
        total_trials += static_cast<long>(trials) * seeds;
        const double ms = seconds / (trials * seeds) * 1e3;
        for (int c : checkpoints) {
          std::vector<double> regrets;
          for (const auto& r : runs) regrets.push_back(r.regret[c - 1]);
          const double ours = median(regrets);
          std::string best_sampler;
          double theirs = std::nan("");
          json peer_medians = json::object();
          for (const auto& sampler : peer_samplers) {
            auto it = peer.find({sampler, fn.name, shift, c});
            if (it == peer.end() || static_cast<int>(it->second.size()) != seeds) continue;
            double m = median(it->second);
            peer_medians[sampler] = m;
            if (best_sampler.empty() || m < theirs) {
              theirs = m;
              best_sampler = sampler;
            }
          }
          const bool have_peer = !best_sampler.empty();
          // Both at the optimum within double rounding count as a tie.
          const double ratio =
              have_peer ? (theirs > 0 ? ours / theirs : (ours <= 1e-12 ? 1.0 : HUGE_VAL)) : std::nan("");
          if (have_peer) {
            ++compared[c];
            wins[c] += ours <= theirs ? 1 : 0;
          }
          std::printf("%-18s %-8s %5d %12.5g %12.5g %-7s %8.3g %10.3f\n", fn.name.c_str(), shift ? "shifted" : "plain",
                      c, ours, theirs, best_sampler.c_str(), ratio, ms);
          json row = {{"func", fn.name}, {"shift", shift}, {"evals", c}, {"bbo_median_regret", ours},
                      {"bbo_ms_per_trial", ms}, {"optuna_median_regret", peer_medians}};
          if (have_peer) {
            row["best_optuna_sampler"] = best_sampler;
            row["best_optuna_median_regret"] = theirs;
            row["ratio"] = ratio;
          }
          rows.push_back(row);
        }
        std::fflush(stdout);
      }
    }
    {
      std::ofstream out(raw_path);
      out << json({{"strategy", strategy}, {"params", params}, {"trials", trials}, {"runs", raw}}).dump() << "\n";
    }
    json summary_wins = json::object();
    for (int c : checkpoints) {
      std::printf("at %d evaluations: bbo <= the best Optuna sampler on %d of %d (function, variant) pairs\n", c,
                  wins[c], compared[c]);
      summary_wins[std::to_string(c)] = {{"at_least_as_good", wins[c]}, {"compared", compared[c]}};
    }
    std::printf("bbo %.3f ms/trial (ask + tell, CPU time of one thread); per-seed curves: %s\n",
                total_seconds / std::max(1L, total_trials) * 1e3, raw_path.c_str());
    json summary = {{"benchmark", "quality"}, {"strategy", strategy},       {"params", params},
                    {"trials", trials},       {"seeds", seeds},             {"peer_source", peer_source},
                    {"wins", summary_wins},   {"raw", raw_path.string()},   {"rows", rows}};
    std::printf("%s\n", summary.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bbo_bench_quality: %s\n", e.what());
    return 1;
  }
}

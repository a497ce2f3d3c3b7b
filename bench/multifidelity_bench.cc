// bench/multifidelity_bench.cc — multi-fidelity quality: regret against cumulative training epochs on synthetic
// learning-curve problems, for random search at full budget, random + hyperband, random + ASHA, cqr + ASHA,
// gp + hyperband, tpe + hyperband and auto + hyperband (the model-based ones when registered), beside Optuna TPE with its
// HyperbandPruner and SuccessiveHalvingPruner, and Optuna RandomSampler + HyperbandPruner (the pruners alone),
// on the same problems and seeds (bench/optuna_multifidelity.py, run at the same time in a child process).
//
// usage: bbo_bench_multifidelity [--seeds 10] [--budget-trials 20] [--problems a,b] [--methods m1,m2]
//                                [--no-peer] [--quick] [--python PY] [--script PATH] [--dir DIR]
//                                [--pruner-params JSON]
// Problems: x in [0,1]^4; a trial trains up to R = 81 epochs and reports y(t) = f(x) + a(x)·(t^-b(x) - R^-b(x))
// + noise(x, t) after epoch t, so y(R) = f(x) + noise; f's minimum is 0. "consistent": every curve has the
// same shape (the early ranking is the final one, up to noise); "crossing": configurations with a large x0
// learn fast but end worse (the ranking flips between about 9 and 27 epochs); "slow_starters": the best
// region (large x2) starts slowest, with noise growing in x3. The pruner is asked after every epoch but the
// last. A trial costs the epochs it ran; a run stops starting trials after budget_trials·R epochs. Regret
// after each trial: f(x) of the trial with the best observed y(R) among those that reached R (inf before
// any did). The table gives, per problem, the median regret over seeds at 1/10, 1/5, 1/2 and all of the
// budget, and "to target": the fraction of the budget after which a method's median regret stays at or
// below random search's median regret at its full budget ("-": never). --quick: 5 seeds, budget 10.
// The last line of output is one JSON object.
#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "bbo/study.h"
#include "bench/bench_util.h"

#ifndef BBO_BENCH_SOURCE_DIR
#define BBO_BENCH_SOURCE_DIR "bench"
#endif

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace bbo::bench;

namespace {

constexpr int kR = 81;
constexpr int kDim = 4;

// ---- the problems (keep identical to PROBLEMS in optuna_multifidelity.py; checked at start-up)

struct CurveParams {
  double f, a, b, sigma;
};
using Problem = CurveParams (*)(const double* x);

double sq(double v) { return v * v; }

CurveParams p_consistent(const double* x) {
  double f = 0.5 * (sq(x[0] - 0.3) + sq(x[1] - 0.6) + sq(x[2] - 0.45) + sq(x[3] - 0.7));
  return {f, 0.6, 0.8, 0.003};
}
CurveParams p_crossing(const double* x) {
  double f = sq(x[0] - 0.25) + 0.5 * (sq(x[1] - 0.6) + sq(x[2] - 0.45) + sq(x[3] - 0.7));
  return {f, 1.5, 0.25 + 1.5 * x[0], 0.003};
}
CurveParams p_slow_starters(const double* x) {
  double f = 0.6 * sq(x[2] - 0.8) + 0.4 * (sq(x[0] - 0.5) + sq(x[1] - 0.3)) + 0.3 * sq(x[3] - 0.2);
  return {f, 0.3 + 1.2 * x[2], 0.6, 0.002 + 0.01 * x[3]};
}

const std::map<std::string, Problem>& problems() {
  static const std::map<std::string, Problem> p = {
      {"consistent", p_consistent}, {"crossing", p_crossing}, {"slow_starters", p_slow_starters}};
  return p;
}

// A deterministic, closed-form "noise" in [-sigma, sigma] (the same bits in Python: same libm sin/floor).
double noise(const double* x, int t, double sigma) {
  double u = std::sin(1.7 * x[0] + 3.1 * x[1] + 5.3 * x[2] + 7.9 * x[3] + 0.37 * t) * 43758.5453;
  return sigma * (2.0 * (u - std::floor(u)) - 1.0);
}

double curve(Problem p, const double* x, int t) {
  CurveParams c = p(x);
  return c.f + c.a * (std::pow(static_cast<double>(t), -c.b) - std::pow(static_cast<double>(kR), -c.b)) +
         noise(x, t, c.sigma);
}

// Compares our values with `optuna_multifidelity.py --check` output; returns the number of mismatches.
int check_against_python(const std::string& text, std::string& first_mismatch) {
  std::istringstream lines(text);
  std::string line;
  int compared = 0, bad = 0;
  const std::vector<std::vector<double>> points = {{0.0, 0.0, 0.0, 0.0},
                                                   {1.0, 1.0, 1.0, 1.0},
                                                   {0.3, 0.6, 0.45, 0.7},
                                                   {0.25, 0.5, 0.8, 0.2},
                                                   {0.123, 0.456, 0.789, 0.321}};
  const std::vector<int> steps = {1, 2, 3, 9, 27, 80, 81};
  std::vector<std::string> rows;
  while (std::getline(lines, line))
    if (!line.empty()) rows.push_back(line);
  size_t i = 0;
  for (const auto& [name, p] : problems()) {  // sorted by name, as the script prints them
    for (const auto& x : points) {
      for (int t : steps) {
        if (i >= rows.size()) return bad + 1;
        std::istringstream w(rows[i++]);
        std::string pname;
        int pt = 0;
        double y = 0, f = 0;
        w >> pname >> pt >> y >> f;
        ++compared;
        const double ours = curve(p, x.data(), t), our_f = p(x.data()).f;
        if (pname != name || pt != t || std::fabs(y - ours) > 1e-12 || std::fabs(f - our_f) > 1e-12) {
          if (bad++ == 0) first_mismatch = rows[i - 1] + " (ours: " + std::to_string(ours) + ")";
        }
      }
    }
  }
  return compared == 0 ? 1 : bad;
}

// ---- one run

struct Run {
  std::vector<double> epochs;  // cumulative epochs after each finished trial
  std::vector<double> regret;  // regret after each finished trial
};

struct Method {
  std::string name, strategy;
  json strategy_params;
  std::string pruner;
  json pruner_params;
};

Run run_bbo(const Method& m, Problem p, int seed, int budget_epochs) {
  bbo::StudyOptions o;
  o.name = "mf";
  o.storage = "memory:";
  o.strategy = m.strategy;
  o.strategy_params = m.strategy_params;
  o.pruner = m.pruner;
  o.pruner_params = m.pruner_params;
  o.seed = static_cast<uint64_t>(seed);
  auto study = bbo::Study::create(o);
  const bool prune = m.pruner != "none";
  const bool report = prune || m.strategy != "random";  // model-based strategies may read the curves
  Run r;
  int spent = 0;
  double best_y = HUGE_VAL, best_f = HUGE_VAL;
  double x[kDim];
  static const std::string names[kDim] = {"x0", "x1", "x2", "x3"};
  while (spent < budget_epochs) {
    bbo::Trial t = study.ask();
    for (int i = 0; i < kDim; ++i) x[i] = t.suggest_float(names[i], 0.0, 1.0);
    double y = NAN;
    bool pruned = false;
    if (!report) {
      y = curve(p, x, kR);
      spent += kR;
    } else {
      for (int e = 1; e <= kR; ++e) {
        y = curve(p, x, e);
        t.report(e, y);
        if (prune && e < kR && t.should_prune()) {
          pruned = true;
          spent += e;
          break;
        }
      }
      if (!pruned) spent += kR;
    }
    if (pruned) {
      study.tell(t, bbo::TrialState::kPruned);
    } else {
      study.tell(t, y);
      if (y < best_y) {
        best_y = y;
        best_f = p(x).f;
      }
    }
    r.epochs.push_back(spent);
    r.regret.push_back(best_f);
  }
  return r;
}

// Regret at `epochs` spent: after the last trial finished by then.
double regret_at(const Run& r, double epochs) {
  double v = HUGE_VAL;
  for (size_t i = 0; i < r.epochs.size() && r.epochs[i] <= epochs; ++i) v = r.regret[i];
  return v;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

bool strategy_registered(const std::string& name) {
  try {
    bbo::PluginRegistry::global().describe(bbo::PluginKind::kStrategy, name);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::string fmt(double v) {
  if (std::isnan(v)) return "-";
  if (std::isinf(v)) return "inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }


// Runs every (problem, seed) of one method in a forked child and returns {"runs": {problem: [[epochs],
// [regret]] per seed}, "cpu": seconds}; nullopt with `why` when the method is refused or its child dies.
std::optional<json> run_method_isolated(const Method& m, const std::vector<std::string>& problem_names, int seeds,
                                        int budget, std::string& why) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    close(fds[0]);
    json out;
    try {
      const std::clock_t c0 = std::clock();
      json all = json::object();
      for (const auto& pn : problem_names) {
        json per = json::array();
        for (int s = 0; s < seeds; ++s) {
          Run r = run_bbo(m, problems().at(pn), s, budget);
          json reg = json::array();
          for (double v : r.regret) reg.push_back(num(v));
          per.push_back({r.epochs, reg});
        }
        all[pn] = per;
      }
      out = {{"runs", all}, {"cpu", static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC}};
    } catch (const std::exception& e) {
      out = {{"error", e.what()}};
    }
    const std::string text = out.dump();
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = write(fds[1], text.data() + done, text.size() - done);
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    close(fds[1]);
    _exit(0);
  }
  close(fds[1]);
  auto [rc, text] = finish(Child{pid, fds[0]});
  if (rc != 0) {
    why = rc > 128 ? "its process died with signal " + std::to_string(rc - 128) : "exit status " + std::to_string(rc);
    return std::nullopt;
  }
  json out = json::parse(text, nullptr, false);
  if (!out.is_object()) {
    why = "unreadable result";
    return std::nullopt;
  }
  if (out.contains("error")) {
    why = out["error"].get<std::string>();
    return std::nullopt;
  }
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  try {
    const bool quick = has_flag(argc, argv, "--quick");
    const int seeds = std::stoi(arg_value(argc, argv, "--seeds").value_or(quick ? "5" : "10"));
    const int budget_trials = std::stoi(arg_value(argc, argv, "--budget-trials").value_or(quick ? "10" : "20"));
    const std::string python = arg_value(argc, argv, "--python").value_or("");
    const fs::path script =
        arg_value(argc, argv, "--script").value_or(std::string(BBO_BENCH_SOURCE_DIR) + "/optuna_multifidelity.py");
    const fs::path dir = arg_value(argc, argv, "--dir").value_or(fs::temp_directory_path().string());
    const bool peer = !has_flag(argc, argv, "--no-peer") && !python.empty();
    std::vector<std::string> problem_names;
    const auto wanted = split(arg_value(argc, argv, "--problems").value_or(""));
    for (const auto& [name, p] : problems())
      if (wanted.empty() || std::find(wanted.begin(), wanted.end(), name) != wanted.end()) problem_names.push_back(name);
    if (problem_names.empty() || seeds < 1 || budget_trials < 1) {
      std::fprintf(stderr, "bbo_bench_multifidelity: nothing to run (check --problems, --seeds, --budget-trials)\n");
      return 2;
    }
    const int budget = budget_trials * kR;

    json hb = {{"min_resource", 1}, {"max_resource", kR}, {"reduction_factor", 3}};
    json sha = {{"min_resource", 1}, {"max_resource", kR}, {"reduction_factor", 3}, {"min_early_stopping_rate", 0}};
    // --pruner-params JSON: merged into both pruners' parameters (e.g. {"bootstrap_count": 2}).
    const json extra = json::parse(arg_value(argc, argv, "--pruner-params").value_or("{}"));
    hb.update(extra);
    sha.update(extra);
    std::vector<Method> all = {
        {"random", "random", json::object(), "none", json::object()},
        {"random+hyperband", "random", json::object(), "hyperband", hb},
        {"random+asha", "random", json::object(), "successive_halving", sha},
        {"cqr+asha", "cqr", {{"multi_fidelity", true}}, "successive_halving", sha},
        {"gp+hyperband", "gp", {{"multi_fidelity", true}}, "hyperband", hb},
        {"tpe+hyperband", "tpe", json::object(), "hyperband", hb},
        {"auto+hyperband", "auto", json::object(), "hyperband", hb},  // what a user gets by default
    };
    const auto wanted_methods = split(arg_value(argc, argv, "--methods").value_or(""));
    std::vector<Method> methods;
    for (const auto& m : all) {
      if (!wanted_methods.empty() &&
          std::find(wanted_methods.begin(), wanted_methods.end(), m.name) == wanted_methods.end() && m.name != "random")
        continue;  // random (full budget) is the reference and always runs
      if (!strategy_registered(m.strategy)) {
        std::printf("notice: strategy '%s' is not registered; %s skipped\n", m.strategy.c_str(), m.name.c_str());
        continue;
      }
      methods.push_back(m);
    }

    // The Optuna peer: check that it computes the same problems, then start it beside our runs.
    std::string peer_status = "not run";
    std::optional<Child> peer_child;
    const fs::path peer_out = dir / "optuna_multifidelity.json";
    if (peer) {
      auto [rc, text] = run_capture({python, script.string(), "--check"});
      std::string mismatch;
      const int bad = rc == 0 ? check_against_python(text, mismatch) : -1;
      if (bad != 0) {
        peer_status = rc != 0 ? "optuna_multifidelity.py --check failed" : "problem definitions differ: " + mismatch;
        std::printf("notice: %s; the Optuna columns stay empty\n", peer_status.c_str());
      } else {
        std::string probs;
        for (const auto& n : problem_names) probs += (probs.empty() ? "" : ",") + n;
        fs::create_directories(dir);
        fs::remove(peer_out);
        peer_child = spawn({python, script.string(), "--out", peer_out.string(), "--problems", probs, "--seeds",
                            std::to_string(seeds), "--budget-trials", std::to_string(budget_trials)});
        peer_status = "live (definitions checked at 245 points)";
      }
    } else {
      std::printf("notice: no python with optuna (or --no-peer); the Optuna columns stay empty\n");
    }

    // Our runs, one forked child per method, so that a crashing plugin costs its own rows only.
    std::map<std::pair<std::string, std::string>, std::vector<Run>> runs;  // (method, problem) -> per seed
    std::map<std::string, double> seconds, cpu_seconds;  // wall (shared machines: see cpu) and process CPU
    for (const auto& m : methods) {
      const auto t0 = std::chrono::steady_clock::now();
      std::string why;
      auto result = run_method_isolated(m, problem_names, seeds, budget, why);
      if (!result) {
        std::printf("notice: %s skipped: %s\n", m.name.c_str(), why.c_str());
        continue;
      }
      for (const auto& pn : problem_names)
        for (const auto& r : (*result)["runs"][pn]) {
          Run run;
          for (const auto& e : r[0]) run.epochs.push_back(e.get<double>());
          for (const auto& v : r[1]) run.regret.push_back(v.is_null() ? HUGE_VAL : v.get<double>());
          runs[{m.name, pn}].push_back(run);
        }
      seconds[m.name] = seconds_since(t0);
      cpu_seconds[m.name] = (*result)["cpu"].get<double>();
      std::fprintf(stderr, "%s: %.1f s (%.1f s CPU)\n", m.name.c_str(), seconds[m.name], cpu_seconds[m.name]);
    }
    std::vector<std::string> names;
    for (const auto& m : methods)
      if (seconds.count(m.name)) names.push_back(m.name);

    // The peer's runs.
    if (peer_child) {
      const auto t0 = std::chrono::steady_clock::now();
      auto [rc, text] = finish(*peer_child);
      std::ifstream in(peer_out);
      json doc = in ? json::parse(in, nullptr, false) : json();
      if (rc != 0 || !doc.is_object()) {
        peer_status = "optuna_multifidelity.py failed with status " + std::to_string(rc);
        std::printf("notice: %s\n", peer_status.c_str());
      } else {
        peer_status += ", optuna " + doc.value("optuna", std::string("?"));
        std::set<std::string> peer_names;
        for (const auto& r : doc["runs"]) {
          Run run;
          for (const auto& e : r["epochs"]) run.epochs.push_back(e.get<double>());
          for (const auto& v : r["regret"]) run.regret.push_back(v.is_null() ? HUGE_VAL : v.get<double>());
          const std::string name = "optuna " + r["method"].get<std::string>();
          runs[{name, r["problem"].get<std::string>()}].push_back(run);
          peer_names.insert(name);
        }
        for (const auto& n : {"optuna tpe+hyperband", "optuna tpe+sha", "optuna random+hyperband"})
          if (peer_names.count(n)) names.push_back(n);
      }
      std::fprintf(stderr, "optuna peer: waited %.1f s after our runs\n", seconds_since(t0));
    }

    // Tables.
    const std::vector<double> fractions = {0.1, 0.2, 0.5, 1.0};
    const int grid_step = kR / 3;
    std::printf("multifidelity: R = %d epochs, budget %d epochs (= %d full trials), %d seeds; peer: %s\n", kR, budget,
                budget_trials, seeds, peer_status.c_str());
    json rows = json::array();
    std::map<std::string, std::map<std::string, double>> to_target;  // method -> problem -> fraction
    for (const auto& pn : problem_names) {
      const double target = [&] {
        std::vector<double> v;
        for (const auto& r : runs[{"random", pn}]) v.push_back(regret_at(r, budget));
        return median(v);
      }();
      std::printf("\n%s (target: random's median regret at full budget = %s)\n", pn.c_str(), fmt(target).c_str());
      std::printf("%-22s %10s %10s %10s %10s %10s %9s\n", "method", "@1/10", "@1/5", "@1/2", "@1", "to target",
                  "trials");
      for (const auto& name : names) {
        const auto& rs = runs[{name, pn}];
        if (rs.empty()) continue;
        json row = {{"problem", pn}, {"method", name}};
        std::vector<double> at;
        for (double fr : fractions) {
          std::vector<double> v;
          for (const auto& r : rs) v.push_back(regret_at(r, fr * budget));
          at.push_back(median(v));
        }
        // First grid point after which the median regret stays <= target.
        double reach = NAN;
        for (int e = budget; e >= grid_step; e -= grid_step) {
          std::vector<double> v;
          for (const auto& r : rs) v.push_back(regret_at(r, e));
          if (median(v) <= target) reach = static_cast<double>(e) / budget;
          else break;
        }
        to_target[name][pn] = reach;
        double trials = 0;
        for (const auto& r : rs) trials += static_cast<double>(r.epochs.size());
        trials /= static_cast<double>(rs.size());
        std::printf("%-22s %10s %10s %10s %10s %10s %9.0f\n", name.c_str(), fmt(at[0]).c_str(), fmt(at[1]).c_str(),
                    fmt(at[2]).c_str(), fmt(at[3]).c_str(), fmt(reach).c_str(), trials);
        row["median_regret_at"] = {{"0.1", num(at[0])}, {"0.2", num(at[1])}, {"0.5", num(at[2])}, {"1", num(at[3])}};
        row["budget_fraction_to_target"] = num(reach);
        row["mean_trials"] = trials;
        rows.push_back(row);
      }
    }

    // Headline comparisons.
    std::printf("\n");
    json headline = json::object();
    if (to_target.count("random+hyperband")) {
      double worst = 0;
      for (const auto& pn : problem_names) {
        double v = to_target["random+hyperband"][pn];
        worst = std::isnan(v) || std::isnan(worst) ? NAN : std::max(worst, v);
      }
      std::printf("random+hyperband reaches random search's full-budget median regret with %s of its epochs "
                  "(worst problem; target <= 0.2)\n",
                  fmt(worst).c_str());
      headline["random+hyperband_fraction_to_target_worst"] = num(worst);
    }
    for (const auto& [ours, theirs] : std::vector<std::pair<std::string, std::string>>{
             {"cqr+asha", "optuna tpe+hyperband"},
             {"tpe+hyperband", "optuna tpe+hyperband"},
             {"auto+hyperband", "optuna tpe+hyperband"},
             {"random+hyperband", "optuna tpe+hyperband"},
             {"random+hyperband", "optuna random+hyperband"},
             {"random+asha", "optuna tpe+sha"}}) {
      if (!seconds.count(ours) || std::find(names.begin(), names.end(), theirs) == names.end()) continue;
      int wins = 0;
      json per = json::object();
      for (const auto& pn : problem_names) {
        std::vector<double> a, b;
        for (const auto& r : runs[{ours, pn}]) a.push_back(regret_at(r, budget));
        for (const auto& r : runs[{theirs, pn}]) b.push_back(regret_at(r, budget));
        const double ma = median(a), mb = median(b);
        wins += ma <= mb;
        per[pn] = {{"ours", num(ma)}, {"theirs", num(mb)}};
      }
      std::printf("%s median regret at %d epochs <= %s's on %d of %zu problems\n", ours.c_str(), budget,
                  theirs.c_str(), wins, problem_names.size());
      headline[ours + " vs " + theirs] = {{"at_most_on", wins}, {"problems", problem_names.size()}, {"per", per}};
    }
    json secs = json::object(), cpu = json::object();
    for (const auto& [k, v] : seconds) secs[k] = v;
    for (const auto& [k, v] : cpu_seconds) cpu[k] = v;
    json summary = {{"benchmark", "multifidelity"}, {"R", kR},         {"budget_epochs", budget},
                    {"seeds", seeds},               {"peer", peer_status}, {"rows", rows},
                    {"headline", headline},         {"seconds", secs},     {"cpu_seconds", cpu}};
    std::printf("%s\n", summary.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bbo_bench_multifidelity: %s\n", e.what());
    return 1;
  }
}

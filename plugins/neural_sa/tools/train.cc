// train.cc — bbo_neural_sa_train: trains a neural-SA proposal policy with evolution strategies (OpenAI-ES:
// antithetic Gaussian perturbations of all parameters, centred-rank fitness shaping, Adam on the estimated
// gradient), as the paper's ES variant. Fitness of a parameter vector: the mean best cost of SA rollouts
// (K steps, the problem's schedule) over a batch of fresh random instances; every perturbation of an epoch
// sees the same instances and rollout seeds (common random numbers). Every --eval-every epochs the current
// policy is scored on a fixed validation set, and the best one so far is what --out receives.
//
// Usage (the commands that made the committed weights are in plugins/neural_sa/weights/README.md):
//   bbo_neural_sa_train --problem knapsack|bin_packing|tsp|rosenbrock --n N --mult M --out FILE
//     [--epochs 400] [--pairs 8] [--batch 16] [--sigma 0.05] [--lr 0.02] [--threads 2] [--seed 1]
//     [--val 64] [--eval-every 10] [--minutes 0 (no limit)] [--init FILE] [--log-fitness 0|1]
// --log-fitness 1: the fitness (and validation score) is the mean of log10(best cost + 1e-12), which rewards
// precision near a zero optimum (used for the `space` family).
// K = M * N steps (TSP: M * N^2). The log (one line per evaluation, then the final validation against
// vanilla SA) goes to stdout.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "plugins/neural_sa/neural_sa.h"

using namespace bbo::neural_sa;

namespace {

bool g_log_fitness = false;  // fitness = mean log10(best cost + 1e-12) (costs >= 0, e.g. space)

double score(double best) { return g_log_fitness ? std::log10(std::max(best, 0.0) + 1e-12) : best; }

struct Args {
  std::string problem = "knapsack", out, init;
  int n = 50, epochs = 400, pairs = 8, batch = 16, threads = 2, val = 64, eval_every = 10;
  double mult = 2, sigma = 0.05, lr = 0.02, minutes = 0;
  bool log_fitness = false;
  uint64_t seed = 1;
};

Args parse(int argc, char** argv) {
  Args a;
  std::map<std::string, std::string> kv;
  for (int k = 1; k < argc; ++k) {
    std::string key = argv[k];
    if (key.rfind("--", 0) != 0 || k + 1 >= argc) {
      std::fprintf(stderr, "bbo_neural_sa_train: expected --key value pairs, got '%s'\n", key.c_str());
      std::exit(2);
    }
    kv[key.substr(2)] = argv[++k];
  }
  for (const auto& [k, v] : kv) {
    if (k == "problem") a.problem = v;
    else if (k == "out") a.out = v;
    else if (k == "init") a.init = v;
    else if (k == "n") a.n = std::stoi(v);
    else if (k == "epochs") a.epochs = std::stoi(v);
    else if (k == "pairs") a.pairs = std::stoi(v);
    else if (k == "batch") a.batch = std::stoi(v);
    else if (k == "threads") a.threads = std::max(1, std::stoi(v));
    else if (k == "val") a.val = std::stoi(v);
    else if (k == "eval-every") a.eval_every = std::max(1, std::stoi(v));
    else if (k == "mult") a.mult = std::stod(v);
    else if (k == "sigma") a.sigma = std::stod(v);
    else if (k == "lr") a.lr = std::stod(v);
    else if (k == "minutes") a.minutes = std::stod(v);
    else if (k == "log-fitness") a.log_fitness = v == "1";
    else if (k == "seed") a.seed = std::stoull(v);
    else {
      std::fprintf(stderr, "bbo_neural_sa_train: unknown option --%s\n", k.c_str());
      std::exit(2);
    }
  }
  if (a.out.empty()) {
    std::fprintf(stderr, "bbo_neural_sa_train: --out FILE is required\n");
    std::exit(2);
  }
  return a;
}

std::vector<int> feature_sizes(const Problem& p) {
  std::vector<int> s = {p.num_features1()};
  if (p.stages() == 2) s.push_back(p.num_features2());
  return s;
}

// Mean best cost of one rollout per instance; rollout k uses seed seeds[k].
double rollouts(const std::vector<std::unique_ptr<Problem>>& insts, const std::vector<uint64_t>& seeds,
                const Proposal& prop, const AnnealOptions& o) {
  double total = 0.0;
  for (size_t k = 0; k < insts.size(); ++k) {
    auto p = insts[k]->clone();
    std::mt19937_64 rng(seeds[k]);
    p->reset(rng);
    total += score(anneal(*p, prop, o, rng).best_cost);
  }
  return total / static_cast<double>(insts.size());
}

// Mean over instances using `threads` threads (instances split in chunks).
double rollouts_mt(const std::vector<std::unique_ptr<Problem>>& insts, const std::vector<uint64_t>& seeds,
                   const Proposal& prop, const AnnealOptions& o, int threads) {
  std::vector<double> part(threads, 0.0);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      for (size_t k = t; k < insts.size(); k += threads) {
        auto p = insts[k]->clone();
        std::mt19937_64 rng(seeds[k]);
        p->reset(rng);
        part[t] += score(anneal(*p, prop, o, rng).best_cost);
      }
    });
  for (auto& th : ts) th.join();
  double s = 0.0;
  for (double v : part) s += v;
  return s / static_cast<double>(insts.size());
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  g_log_fitness = a.log_fitness;
  std::mt19937_64 master(a.seed);
  std::mt19937_64 probe_rng(0);
  const auto probe = make_instance(a.problem, a.n, probe_rng);
  const int64_t steps = static_cast<int64_t>(std::llround(a.mult * (a.problem == "tsp" ? a.n * a.n : a.n)));
  const AnnealOptions sched = default_schedule(a.problem, steps);

  Policy policy = a.init.empty() ? Policy(a.problem, feature_sizes(*probe), 16, master) : Policy::load(a.init);
  std::vector<double> theta = policy.params();
  const size_t dim = theta.size();

  // Fixed validation set (instances from seed 1000 + k, rollout seeds 5000 + k).
  std::vector<std::unique_ptr<Problem>> val;
  std::vector<uint64_t> val_seeds;
  for (int k = 0; k < a.val; ++k) {
    std::mt19937_64 r(1000 + k);
    val.push_back(make_instance(a.problem, a.n, r));
    val_seeds.push_back(5000 + k);
  }
  VanillaProposal vanilla;
  const double val_vanilla = rollouts_mt(val, val_seeds, vanilla, sched, a.threads);
  std::printf("# bbo_neural_sa_train problem=%s n=%d K=%lld T0=%g TK=%g params=%zu pairs=%d batch=%d sigma=%g lr=%g "
              "seed=%llu\n# validation (%d instances) vanilla SA mean best cost %.5f\n",
              a.problem.c_str(), a.n, static_cast<long long>(steps), sched.t0, sched.t_end, dim, a.pairs, a.batch,
              a.sigma, a.lr, static_cast<unsigned long long>(a.seed), a.val, val_vanilla);
  std::printf("# epoch  train_mean  val_mean  val_vs_vanilla  seconds\n");
  std::fflush(stdout);

  std::vector<double> m(dim, 0.0), v(dim, 0.0);
  const double b1 = 0.9, b2 = 0.999;
  double best_val = std::numeric_limits<double>::infinity();
  std::vector<double> best_theta = theta;
  const auto t_start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  };
  std::normal_distribution<double> gauss(0.0, 1.0);

  for (int epoch = 0; epoch <= a.epochs; ++epoch) {
    const bool last = epoch == a.epochs || (a.minutes > 0 && elapsed() > 60.0 * a.minutes);
    if (epoch % a.eval_every == 0 || last) {
      Policy cur = policy;
      cur.set_params(theta);
      PolicyProposal prop(cur);
      const double vm = rollouts_mt(val, val_seeds, prop, sched, a.threads);
      if (vm < best_val) best_val = vm, best_theta = theta;
      std::printf("%6d  %10s  %9.5f  %+8.3f%%  %7.1f\n", epoch, "-", vm,
                  100.0 * (vm - val_vanilla) / std::abs(val_vanilla), elapsed());
      std::fflush(stdout);
    }
    if (last) break;
    // A fresh batch of instances and rollout seeds shared by all perturbations.
    std::vector<std::unique_ptr<Problem>> insts;
    std::vector<uint64_t> seeds;
    for (int k = 0; k < a.batch; ++k) {
      insts.push_back(make_instance(a.problem, a.n, master));
      seeds.push_back(master());
    }
    std::vector<std::vector<double>> eps(a.pairs, std::vector<double>(dim));
    for (auto& e : eps)
      for (double& x : e) x = gauss(master);
    std::vector<double> fit(2 * a.pairs);
    std::vector<std::thread> ts;
    for (int t = 0; t < a.threads; ++t)
      ts.emplace_back([&, t] {
        for (int q = t; q < 2 * a.pairs; q += a.threads) {
          std::vector<double> th = theta;
          const double sgn = q % 2 == 0 ? 1.0 : -1.0;
          for (size_t d = 0; d < dim; ++d) th[d] += sgn * a.sigma * eps[q / 2][d];
          Policy pq = policy;
          pq.set_params(th);
          PolicyProposal prop(pq);
          fit[q] = rollouts(insts, seeds, prop, sched);
        }
      });
    for (auto& th : ts) th.join();
    // Centred ranks: the lowest cost gets +0.5, the highest -0.5.
    std::vector<int> order(2 * a.pairs);
    for (int q = 0; q < 2 * a.pairs; ++q) order[q] = q;
    std::sort(order.begin(), order.end(), [&](int x, int y) { return fit[x] > fit[y]; });
    std::vector<double> util(2 * a.pairs);
    for (int r = 0; r < 2 * a.pairs; ++r) util[order[r]] = r / (2.0 * a.pairs - 1.0) - 0.5;
    std::vector<double> g(dim, 0.0);
    for (int k = 0; k < a.pairs; ++k) {
      const double w = util[2 * k] - util[2 * k + 1];
      for (size_t d = 0; d < dim; ++d) g[d] += w * eps[k][d];
    }
    const double lr = epoch >= 0.9 * a.epochs ? 0.1 * a.lr : a.lr;  // the paper's x0.1 at 90 % of the epochs
    for (size_t d = 0; d < dim; ++d) {
      g[d] /= a.pairs * a.sigma;
      m[d] = b1 * m[d] + (1 - b1) * g[d];
      v[d] = b2 * v[d] + (1 - b2) * g[d] * g[d];
      const double mh = m[d] / (1 - std::pow(b1, epoch + 1)), vh = v[d] / (1 - std::pow(b2, epoch + 1));
      theta[d] += lr * mh / (std::sqrt(vh) + 1e-8);  // ascent on the utility
    }
  }
  policy.set_params(best_theta);
  std::ofstream f(a.out);
  f << policy.to_text();
  if (!f) {
    std::fprintf(stderr, "bbo_neural_sa_train: cannot write '%s'\n", a.out.c_str());
    return 1;
  }
  std::printf("# best validation mean best cost %.5f (vanilla %.5f, %+.3f%%); written to %s after %.1f s\n", best_val,
              val_vanilla, 100.0 * (best_val - val_vanilla) / std::abs(val_vanilla), a.out.c_str(), elapsed());
  return 0;
}

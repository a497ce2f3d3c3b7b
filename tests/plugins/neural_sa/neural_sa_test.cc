// Tests of neural_sa: the reference solvers against brute force, the problems' deltas against recomputed
// costs and their masks against their definitions, the policy network against a hand-computed forward pass,
// softmax sampling against its probabilities, the annealer's determinism and Metropolis rule, the committed
// weights (they reproduce the trainer's logged validation score and beat vanilla SA on fixed instances).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <numeric>
#include <sstream>

#include "plugins/neural_sa/neural_sa.h"

namespace bbo::neural_sa {
namespace {

double brute_knapsack(const std::vector<double>& w, const std::vector<double>& v, double cap) {
  const int n = static_cast<int>(w.size());
  double best = 0.0;
  for (int mask = 0; mask < (1 << n); ++mask) {
    double ww = 0.0, vv = 0.0;
    for (int i = 0; i < n; ++i)
      if (mask >> i & 1) ww += w[i], vv += v[i];
    if (ww <= cap) best = std::max(best, vv);
  }
  return best;
}

TEST(Reference, KnapsackBranchAndBoundEqualsBruteForce) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0.01, 1.0);
  for (int t = 0; t < 40; ++t) {
    const int n = 4 + t % 11;
    std::vector<double> w(n), v(n);
    for (int i = 0; i < n; ++i) w[i] = u(rng), v[i] = u(rng);
    const double cap = n / 4.0;
    std::vector<char> chosen;
    const double opt = knapsack_optimum(w, v, cap, &chosen);
    EXPECT_NEAR(opt, brute_knapsack(w, v, cap), 1e-12) << "instance " << t;
    double ww = 0.0, vv = 0.0;
    for (int i = 0; i < n; ++i)
      if (chosen[i]) ww += w[i], vv += v[i];
    EXPECT_LE(ww, cap + 1e-12);
    EXPECT_NEAR(vv, opt, 1e-12);
    EXPECT_LE(knapsack_greedy(w, v, cap), opt + 1e-12);
  }
}

TEST(Reference, KnapsackOptimumOnPaperSizeIsAboveGreedyAndFast) {
  std::mt19937_64 rng(3);
  const Knapsack k = Knapsack::random(100, rng);
  EXPECT_EQ(k.capacity(), 25.0);
  EXPECT_EQ(Knapsack::paper_capacity(50), 12.5);
  EXPECT_EQ(Knapsack::paper_capacity(200), 25.0);
  const double opt = knapsack_optimum(k.weights(), k.values(), k.capacity());
  const double greedy = knapsack_greedy(k.weights(), k.values(), k.capacity());
  EXPECT_GE(opt, greedy);
  EXPECT_LT(opt, greedy * 1.05);  // uniform instances: greedy is within a few percent (paper Table 1)
}

int brute_bins(const std::vector<double>& w) {
  int best = static_cast<int>(w.size());
  std::vector<double> load;
  std::function<void(size_t)> go = [&](size_t k) {
    if (static_cast<int>(load.size()) >= best) return;
    if (k == w.size()) {
      best = static_cast<int>(load.size());
      return;
    }
    for (size_t b = 0; b < load.size(); ++b)
      if (load[b] + w[k] <= 1.0 + 1e-12) {
        load[b] += w[k];
        go(k + 1);
        load[b] -= w[k];
      }
    load.push_back(w[k]);
    go(k + 1);
    load.pop_back();
  };
  go(0);
  return best;
}

TEST(Reference, BinPackingBoundsAndFirstFitDecreasing) {
  // Hand example: FFD packs {0.6, 0.4} {0.5, 0.5} {0.3}: 3 bins; LB = ceil(2.3) = 3.
  EXPECT_EQ(first_fit_decreasing({0.5, 0.3, 0.6, 0.4, 0.5}), 3);
  EXPECT_EQ(bin_lower_bound({0.5, 0.3, 0.6, 0.4, 0.5}), 3);
  EXPECT_EQ(bin_lower_bound({0.5, 0.5}), 1);
  // A known FFD worst-ish case: FFD = 3, optimum = 2 ... LB 2.
  EXPECT_EQ(bin_lower_bound({0.35, 0.35, 0.3, 0.3, 0.35, 0.35}), 2);
  // Against the exact optimum (brute force over all assignments) of small instances: LB <= OPT <= FFD <=
  // 11/9 OPT + 6/9 (Dosa 2007).
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> u(0.05, 0.7);
  for (int t = 0; t < 30; ++t) {
    std::vector<double> w(8);
    for (double& x : w) x = u(rng);
    const int opt = brute_bins(w), lb = bin_lower_bound(w), ffd = first_fit_decreasing(w);
    EXPECT_LE(lb, opt);
    EXPECT_LE(opt, ffd);
    EXPECT_LE(ffd, 11.0 / 9.0 * opt + 6.0 / 9.0 + 1e-9);
  }
}

double brute_tsp(const Tsp& t) {
  const int n = t.num_items();
  std::vector<int> perm(n - 1);
  std::iota(perm.begin(), perm.end(), 1);
  double best = 1e300;
  do {
    std::vector<int> tour = {0};
    tour.insert(tour.end(), perm.begin(), perm.end());
    best = std::min(best, t.tour_length(tour));
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

TEST(Reference, TspLocalSearchFindsTheOptimumOfSmallInstances) {
  std::mt19937_64 rng(5);
  for (int t = 0; t < 8; ++t) {
    const Tsp inst = Tsp::random(8, rng);
    std::vector<int> tour;
    const double ls = tsp_local_search(inst, 5, rng, &tour);
    EXPECT_NEAR(ls, inst.tour_length(tour), 1e-12);
    EXPECT_NEAR(ls, brute_tsp(inst), 1e-9) << "instance " << t;
  }
  EXPECT_EQ(tsp_kool_optimum(20), 3.84);
  EXPECT_EQ(tsp_kool_optimum(100), 7.76);
}

TEST(Reference, TspLocalSearchOnTsp20IsNearKoolsMean) {
  std::mt19937_64 rng(9);
  double total = 0.0;
  const int m = 40;
  for (int t = 0; t < m; ++t) total += tsp_local_search(Tsp::random(20, rng), 4, rng);
  // Mean optimal TSP20 length 3.84 (std of one instance ~0.3): a near-optimal local search over 40
  // instances lands within 0.2 of it.
  EXPECT_NEAR(total / m, 3.84, 0.2);
}

TEST(Problems, TspTwoOptDeltaEqualsRecomputedLength) {
  std::mt19937_64 rng(1);
  Tsp t = Tsp::random(13, rng);
  t.reset(rng);
  std::uniform_int_distribution<int> pick(0, 12);
  int checked = 0;
  for (int s = 0; s < 2000; ++s) {
    Move m{pick(rng), pick(rng)};
    if (!t.legal2(m.i, m.j)) continue;
    const double before = t.tour_length(t.tour());
    const double d = t.delta(m);
    t.apply(m);
    ASSERT_NEAR(t.tour_length(t.tour()), before + d, 1e-12);
    ASSERT_NEAR(t.cost(), t.tour_length(t.tour()), 1e-9);
    ++checked;
  }
  EXPECT_GT(checked, 1000);
  // Features: the delta column of stage 2 is the move's delta.
  std::vector<double> f(13 * 13);
  t.features2(4, 0.5, f.data());
  for (int j = 0; j < 13; ++j)
    if (t.legal2(4, j)) {
      EXPECT_NEAR(f[13 * j + 4], t.delta(Move{4, j}), 1e-12);
    }
  EXPECT_FALSE(t.legal2(4, 3));
  EXPECT_FALSE(t.legal2(4, 4));
  EXPECT_FALSE(t.legal2(4, 5));
  EXPECT_FALSE(t.legal2(0, 12));
  EXPECT_THROW(t.set_tour({0, 1, 2}), std::invalid_argument);
}

TEST(Problems, BinPackingDeltaAndMasks) {
  std::mt19937_64 rng(2);
  BinPacking b = BinPacking::random(12, rng);
  const int n = 12;
  for (int s = 0; s < 500; ++s) {
    // legal1(i) iff some bin j is legal for i.
    for (int i = 0; i < n; ++i) {
      bool any = false;
      for (int j = 0; j < n; ++j) any = any || b.legal2(i, j);
      ASSERT_EQ(b.legal1(i), any);
    }
    VanillaProposal v;
    const Move m = v.propose(b, 1.0, rng);
    if (m.i < 0) break;
    ASSERT_TRUE(b.legal2(m.i, m.j));
    const double before = b.cost(), d = b.delta(m);
    b.apply(m);
    std::vector<double> load(n, 0.0);
    for (int i = 0; i < n; ++i) load[b.bin_of()[i]] += b.sizes()[i];
    int used = 0;
    for (int k = 0; k < n; ++k) {
      ASSERT_LE(load[k], 1.0 + 1e-9);
      ASSERT_NEAR(load[k], b.loads()[k], 1e-9);
      used += load[k] > 0.0;
    }
    ASSERT_EQ(b.cost(), used);
    ASSERT_EQ(b.cost(), before + d);
  }
  EXPECT_THROW(BinPacking({0.5, 1.5}), std::invalid_argument);
}

TEST(Problems, KnapsackDeltaMaskAndAnnealStaysFeasible) {
  std::mt19937_64 rng(4);
  Knapsack k = Knapsack::random(30, rng);
  VanillaProposal v;
  const AnnealResult r = anneal(k, v, default_schedule("knapsack", 600), rng);
  double ww = 0.0, vv = 0.0;
  for (int i = 0; i < 30; ++i)
    if (k.chosen()[i]) ww += k.weights()[i], vv += k.values()[i];
  EXPECT_LE(ww, k.capacity() + 1e-9);
  EXPECT_NEAR(-vv, k.cost(), 1e-9);
  EXPECT_NEAR(r.final_cost, k.cost(), 1e-12);
  EXPECT_LE(r.best_cost, r.final_cost);
  EXPECT_GE(-r.best_cost, 0.0);
  EXPECT_LE(-r.best_cost, knapsack_optimum(k.weights(), k.values(), k.capacity()) + 1e-9);
  for (int i = 0; i < 30; ++i)
    if (!k.chosen()[i]) {
      EXPECT_EQ(k.legal1(i), k.load() + k.weights()[i] <= k.capacity() + 1e-12);
    }
  EXPECT_THROW(Knapsack({1.0}, {1.0, 2.0}, 1.0), std::invalid_argument);
}

TEST(Problems, RosenbrockDeltaAndVanillaDescends) {
  Rosenbrock r(0.5, 30.0);
  r.set_x(-1.0, 2.0);
  const Move m{1, 5, 0.3};
  const double d = r.delta(m);
  r.apply(m);
  EXPECT_NEAR(r.cost(), r.energy(-1.0, 2.0 + Rosenbrock::scale(5) * 0.3), 1e-12);
  EXPECT_NEAR(r.cost() - r.energy(-1.0, 2.0), d, 1e-12);
  std::mt19937_64 rng(8);
  r.reset(rng);
  const double start = r.cost();
  const AnnealResult res = anneal(r, VanillaProposal(), default_schedule("rosenbrock", 3000), rng);
  EXPECT_LT(res.best_cost, std::min(start, 0.05));
}

TEST(Policy, ForwardPassEqualsHandComputation) {
  std::mt19937_64 rng(1);
  Policy p("knapsack", {2}, 3, rng);
  // w1 = [[1, -2], [0.5, 0.5], [-1, 1]], b1 = [0.1, -0.2, 0.3], w2 = [2, -1, 0.5], b2 = 0.25
  p.set_params({1, -2, 0.5, 0.5, -1, 1, 0.1, -0.2, 0.3, 2, -1, 0.5, 0.25});
  const double x[4] = {0.3, 0.1, -1.0, 2.0};
  double out[2];
  p.scores(0, x, 2, out);
  // row 1: h = relu([0.3-0.2+0.1, 0.15+0.05-0.2, -0.3+0.1+0.3]) = [0.2, 0, 0.1] -> 0.4 + 0 + 0.05 + 0.25
  EXPECT_NEAR(out[0], 0.7, 1e-15);
  // row 2: h = relu([-1-4+0.1, -0.5+1-0.2, 1+2+0.3]) = [0, 0.3, 3.3] -> -0.3 + 1.65 + 0.25
  EXPECT_NEAR(out[1], 1.6, 1e-15);
  EXPECT_EQ(p.num_params(), 13);
}

TEST(Policy, TextRoundTripIsExactAndBadTextIsRejected) {
  std::mt19937_64 rng(2);
  const Policy p("tsp", {7, 13}, 16, rng);
  EXPECT_EQ(p.num_params(), (7 * 16 + 33) + (13 * 16 + 33));
  const Policy q = Policy::from_text(p.to_text());
  EXPECT_EQ(q.params(), p.params());
  EXPECT_EQ(q.problem(), "tsp");
  EXPECT_THROW(Policy::from_text("hello"), std::invalid_argument);
  std::string cut = p.to_text();
  cut.resize(cut.size() / 2);
  EXPECT_THROW(Policy::from_text(cut), std::invalid_argument);
  EXPECT_THROW(committed_policy("nope"), std::invalid_argument);
}

TEST(Policy, SoftmaxSamplingMatchesProbabilitiesAndMask) {
  std::mt19937_64 rng(3);
  const std::vector<double> s = {0.0, 1.0, 2.0, 5.0};
  const std::vector<char> legal = {1, 1, 1, 0};
  std::vector<int> count(4, 0);
  const int draws = 60000;
  for (int k = 0; k < draws; ++k) ++count[sample_softmax(s, legal, false, rng)];
  const double z = 1 + std::exp(1.0) + std::exp(2.0);
  EXPECT_EQ(count[3], 0);
  for (int k = 0; k < 3; ++k) {
    const double p = std::exp(s[k]) / z;
    EXPECT_NEAR(count[k] / double(draws), p, 5 * std::sqrt(p * (1 - p) / draws)) << k;
  }
  EXPECT_EQ(sample_softmax(s, legal, true, rng), 2);
  EXPECT_EQ(sample_softmax(s, {0, 0, 0, 0}, false, rng), -1);
}

TEST(Anneal, DeterministicUnderSeedAndGreedyAtZeroTemperature) {
  std::mt19937_64 g(6);
  const Tsp inst = Tsp::random(20, g);
  auto run = [&](uint64_t seed, const Proposal& prop, AnnealOptions o) {
    Tsp t = inst;
    std::mt19937_64 rng(seed);
    t.reset(rng);
    const AnnealResult r = anneal(t, prop, o, rng);
    return std::make_pair(r.best_cost, t.tour());
  };
  const Policy pol = committed_policy("tsp");
  const PolicyProposal neural(pol);
  for (const Proposal* prop : {static_cast<const Proposal*>(&neural), static_cast<const Proposal*>(nullptr)}) {
    VanillaProposal v;
    const Proposal& p = prop ? *prop : v;
    EXPECT_EQ(run(42, p, default_schedule("tsp", 400)), run(42, p, default_schedule("tsp", 400)));
    EXPECT_NE(run(42, p, default_schedule("tsp", 400)).second, run(43, p, default_schedule("tsp", 400)).second);
  }
  // At (practically) zero temperature only non-worsening moves are accepted: final == best.
  Tsp t = inst;
  std::mt19937_64 rng(1);
  t.reset(rng);
  AnnealOptions cold{2000, 1e-300, 1e-300};
  const AnnealResult r = anneal(t, VanillaProposal(), cold, rng);
  EXPECT_EQ(r.final_cost, r.best_cost);
  EXPECT_LT(r.final_cost, r.initial_cost);
  EXPECT_THROW(anneal(t, VanillaProposal(), AnnealOptions{10, 0.1, 1.0}, rng), std::invalid_argument);
  // A policy of the wrong shape is refused.
  Knapsack k = Knapsack::random(10, rng);
  EXPECT_THROW(anneal(k, neural, default_schedule("knapsack", 10), rng), std::invalid_argument);
}

// The trainer's log ends with the validation score of the policy it wrote; the compiled-in weights run through
// the plugin's inference must give the same number (same instances 1000 + k, rollout seeds 5000 + k).
double logged_validation(const std::string& problem, int* n, int64_t* steps, int* val) {
  std::ifstream f(std::string(BBO_TEST_SOURCE_DIR) + "/plugins/neural_sa/weights/" + problem + ".log");
  std::string line, last, header;
  while (std::getline(f, line)) {
    if (line.rfind("# bbo_neural_sa_train", 0) == 0) header = line;
    if (line.rfind("# best validation", 0) == 0) last = line;
  }
  if (last.empty() || header.empty()) return NAN;
  long long k = 0;
  std::sscanf(header.substr(header.find(" n=")).c_str(), " n=%d K=%lld", n, &k);
  *steps = k;
  *val = 64;
  return std::stod(last.substr(std::string("# best validation mean best cost ").size()));
}

TEST(CommittedWeights, ReproduceTheTrainersValidationScore) {
  for (const std::string problem : {"knapsack", "bin_packing", "tsp"}) {
    int n = 0, val = 0;
    int64_t steps = 0;
    const double logged = logged_validation(problem, &n, &steps, &val);
    ASSERT_TRUE(std::isfinite(logged)) << problem << ".log has no final line";
    const Policy pol = committed_policy(problem);
    const PolicyProposal prop(pol);
    double total = 0.0;
    for (int k = 0; k < val; ++k) {
      std::mt19937_64 r(1000 + k);
      auto p = make_instance(problem, n, r);
      std::mt19937_64 rng(5000 + k);
      p->reset(rng);
      total += anneal(*p, prop, default_schedule(problem, steps), rng).best_cost;
    }
    EXPECT_NEAR(total / val, logged, 1e-5) << problem;
  }
}

// Neural SA with the committed weights beats vanilla SA on a fixed set of instances of the trained sizes.
TEST(CommittedWeights, NeuralBeatsVanillaOnFixedInstances) {
  struct Case {
    std::string problem;
    int n;
    int64_t steps;
  };
  for (const Case& c : {Case{"knapsack", 50, 500}, Case{"bin_packing", 50, 500}, Case{"tsp", 20, 400}}) {
    const Policy pol = committed_policy(c.problem);
    const PolicyProposal neural(pol);
    const VanillaProposal vanilla;
    double sum_neural = 0.0, sum_vanilla = 0.0;
    for (int k = 0; k < 12; ++k) {
      std::mt19937_64 r(777 + k);
      const auto inst = make_instance(c.problem, c.n, r);
      for (int which = 0; which < 2; ++which) {
        auto p = inst->clone();
        std::mt19937_64 rng(99 + k);
        p->reset(rng);
        const double best = anneal(*p, which ? static_cast<const Proposal&>(neural) : vanilla,
                                   default_schedule(c.problem, c.steps), rng)
                                .best_cost;
        (which ? sum_neural : sum_vanilla) += best;
      }
    }
    EXPECT_LT(sum_neural, sum_vanilla) << c.problem;
  }
}

}  // namespace
}  // namespace bbo::neural_sa

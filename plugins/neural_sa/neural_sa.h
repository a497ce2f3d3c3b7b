// neural_sa.h — neural simulated annealing (Correia, Worrall, Bondesan, "Neural Simulated Annealing",
// AISTATS 2023): simulated annealing on combinatorial (and small continuous) problems whose proposal
// distribution is either uniform (vanilla SA) or a tiny permutation-equivariant policy network.
//
// The pieces:
//  - Problem: a mutable instance plus its current state. A move is chosen in one or two stages: stage 1 picks
//    an item i among num_items() candidates (a knapsack item, a bin-packing item, a tour position, a
//    coordinate); a two-stage problem then picks a second index j among num_second(i) candidates (the target
//    bin, the other 2-opt position, a step scale). Each stage exposes, per candidate, a feature row and a
//    mask (illegal candidates are never proposed). delta(move) is the exact cost change of the move,
//    apply(move) performs it. Costs are minimised.
//  - Proposal: picks a Move from the problem. VanillaProposal: uniform over the legal candidates of each
//    stage. PolicyProposal: one small MLP per stage, the SAME network scoring every candidate from its feature
//    row (input -> 16 ReLU units -> 1 score), then a softmax over the legal candidates (sampled, or argmax when
//    greedy). The scores do not depend on the order of the candidates: permutation-equivariant as in the paper.
//  - anneal(): K steps of Metropolis with the geometric schedule of the paper, T_k = T0 * (T_K/T0)^(k/K)
//    (T0, T_K fixed, so K changes the cooling speed, not the temperature range). Each step proposes one move;
//    it is accepted when delta <= 0, else with probability exp(-delta / T_k). The best cost seen is reported.
//
// Problems (instance generators as the paper: all sizes/weights/values/coordinates uniform in (0,1)):
//  - Knapsack: N items, capacity 12.5 (N = 50), 25 (N = 100), N/8 otherwise. State: the chosen set, start
//    empty. Move: flip item i; items whose insertion would overflow are masked. Cost: -(sum of chosen values).
//  - BinPacking: N items, N unit bins, start one item per bin. Move: item i to bin j != bin(i) with room for
//    it (items with no such bin are masked). Cost: the number of non-empty bins.
//  - Tsp: N uniform cities in the unit square, start from a random tour. Move: 2-opt between tour positions
//    i and j (j not i or a tour neighbour of i): remove edges (t_i, t_i+1) and (t_j, t_j+1), reverse the
//    path between; delta in O(1). Cost: the tour length.
//  - Rosenbrock: E = (a - x0)^2 + b (x1 - x0^2)^2 (d = 2; a ~ U(0,1), b ~ U(0,100), x ~ N(0, I) as the
//    paper). Move: coordinate i (stage 1) and step scale s_j of kRosenbrockScales (stage 2):
//    x_i += s_j * z with z ~ N(0,1) (Move::z, drawn by the proposal). Optimum 0.
//
// Features (documented per problem in neural_sa.cc; temperature T is the last feature of every row).
// They follow the paper's per-item inputs, with two deliberate changes: TSP uses translation-invariant
// edge lengths/offsets instead of raw coordinates and, like the knapsack's v_i, every second-stage row
// carries the cost change of that move (a one-hidden-layer net cannot compute distances from coordinates);
// the knapsack adds log(v_i/w_i). See docs/plugins.md (## neural_sa).
//
// Determinism: everything random draws from the std::mt19937_64 it is given; the same seed gives the same
// run bit for bit. Not thread-safe (one Problem per thread; Policy is read-only and may be shared).
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace bbo::neural_sa {

struct Move {
  int i = -1;      // stage-1 candidate; -1: no legal move (the step is skipped)
  int j = -1;      // stage-2 candidate (two-stage problems), else -1
  double z = 0.0;  // continuous moves: the standard normal draw
};

class Problem {
 public:
  virtual ~Problem() = default;
  virtual std::string name() const = 0;
  // Back to the paper's initial state (random tour / random Rosenbrock start use rng).
  virtual void reset(std::mt19937_64& rng) = 0;
  virtual double cost() const = 0;
  virtual int stages() const = 0;  // 1 or 2
  virtual bool continuous() const { return false; }  // moves use Move::z

  // Stage 1: num_items() candidates, feature rows of num_features1() values (written row-major into out,
  // which must hold num_items() * num_features1() values).
  virtual int num_items() const = 0;
  virtual int num_features1() const = 0;
  virtual void features1(double temperature, double* out) const = 0;
  virtual bool legal1(int i) const = 0;
  // Stage 2 (two-stage problems): candidates j for the chosen i.
  virtual int num_second(int i) const { return 0; }
  virtual int num_features2() const { return 0; }
  virtual void features2(int i, double temperature, double* out) const {}
  virtual bool legal2(int i, int j) const { return false; }

  virtual double delta(const Move& m) const = 0;  // exact cost change of m (m legal)
  virtual void apply(const Move& m) = 0;
  // Told by anneal() after every Metropolis decision on a proposed move (before apply() when accepted), for
  // problems whose features keep statistics of past moves. Default: nothing.
  virtual void observe(const Move& m, double delta, bool accepted) {}
  virtual std::unique_ptr<Problem> clone() const = 0;
};

// One hidden layer MLP, in -> hidden (ReLU) -> 1. Parameters in the order w1 (hidden x in, row-major), b1,
// w2, b2.
struct Mlp {
  int in = 0, hidden = 16;
  std::vector<double> w1, b1, w2;
  double b2 = 0.0;
  Mlp() = default;
  Mlp(int in_, int hidden_);
  int num_params() const { return hidden * in + 2 * hidden + 1; }
  double score(const double* x) const;
};

// The policy: one Mlp per stage. Stored as a small text file (to_text / from_text):
//   neural_sa-policy 1
//   problem <name>
//   stages <S>
//   mlp <in> <hidden>          (S lines of this, each followed by its parameters on one line, %.17g)
class Policy {
 public:
  Policy() = default;
  // Xavier-uniform weights, biases 0.01 (the paper's init); in_sizes = the feature counts of the stages.
  Policy(std::string problem, const std::vector<int>& in_sizes, int hidden, std::mt19937_64& rng);
  const std::string& problem() const { return problem_; }
  int stages() const { return static_cast<int>(mlps_.size()); }
  const Mlp& mlp(int stage) const { return mlps_.at(stage); }
  int num_params() const;
  std::vector<double> params() const;
  void set_params(const std::vector<double>& p);  // throws std::invalid_argument on a size mismatch
  std::string to_text() const;
  // Throws std::invalid_argument with a one-line reason when the text is malformed.
  static Policy from_text(const std::string& text);
  static Policy load(const std::string& path);  // throws std::runtime_error when unreadable
  // Scores of n rows of features (n x in) for one stage.
  void scores(int stage, const double* features, int n, double* out) const;

 private:
  std::string problem_;
  std::vector<Mlp> mlps_;
};

// The committed weights compiled into the library (plugins/neural_sa/weights/<problem>.txt): "knapsack",
// "bin_packing", "tsp", "space" (no Rosenbrock policy is committed); throws std::invalid_argument for other names.
Policy committed_policy(const std::string& problem);

class Proposal {
 public:
  virtual ~Proposal() = default;
  virtual Move propose(const Problem& p, double temperature, std::mt19937_64& rng) const = 0;
};

class VanillaProposal final : public Proposal {
 public:
  Move propose(const Problem& p, double temperature, std::mt19937_64& rng) const override;
};

class PolicyProposal final : public Proposal {
 public:
  // Throws std::invalid_argument when the policy's stages/inputs do not fit the problem (at propose()).
  explicit PolicyProposal(const Policy& policy, bool greedy = false) : policy_(policy), greedy_(greedy) {}
  Move propose(const Problem& p, double temperature, std::mt19937_64& rng) const override;

 private:
  const Policy& policy_;
  bool greedy_;
};

// Softmax sampling over the legal entries of scores (legal[k] != 0); -1 when none is legal. Greedy: argmax
// (first on ties). Exposed for tests.
int sample_softmax(const std::vector<double>& scores, const std::vector<char>& legal, bool greedy,
                   std::mt19937_64& rng);

struct AnnealOptions {
  int64_t steps = 1000;  // K
  double t0 = 1.0;       // T0 > 0
  double t_end = 0.1;    // T_K in (0, T0]
};

struct AnnealResult {
  double initial_cost = 0.0, final_cost = 0.0, best_cost = 0.0;
  int64_t steps = 0, accepted = 0;
};

// Runs K steps from the problem's current state (call reset() first for the paper's start). The problem is
// left in its final state. Throws std::invalid_argument for bad options.
AnnealResult anneal(Problem& problem, const Proposal& proposal, const AnnealOptions& options,
                    std::mt19937_64& rng);

// The paper's schedules (T0, T_K) per problem, used for training and evaluation alike.
AnnealOptions default_schedule(const std::string& problem, int64_t steps);

// ---- problems -------------------------------------------------------------------------------------------

class Knapsack final : public Problem {
 public:
  // Throws std::invalid_argument for mismatched sizes, non-positive weights or capacity.
  Knapsack(std::vector<double> weights, std::vector<double> values, double capacity);
  static Knapsack random(int n, std::mt19937_64& rng);  // the paper's generator
  static double paper_capacity(int n);                  // 12.5 (50), 25 (100), n/8 otherwise

  std::string name() const override { return "knapsack"; }
  void reset(std::mt19937_64& rng) override;
  double cost() const override { return -value_; }
  int stages() const override { return 1; }
  int num_items() const override { return static_cast<int>(w_.size()); }
  int num_features1() const override { return 6; }
  void features1(double temperature, double* out) const override;
  bool legal1(int i) const override;
  double delta(const Move& m) const override;
  void apply(const Move& m) override;
  std::unique_ptr<Problem> clone() const override { return std::make_unique<Knapsack>(*this); }

  const std::vector<double>& weights() const { return w_; }
  const std::vector<double>& values() const { return v_; }
  double capacity() const { return capacity_; }
  const std::vector<char>& chosen() const { return x_; }
  double load() const { return load_; }

 private:
  std::vector<double> w_, v_, log_ratio_;
  double capacity_;
  std::vector<char> x_;
  double load_ = 0.0, value_ = 0.0;
  int count_ = 0;  // chosen items
};

class BinPacking final : public Problem {
 public:
  // Sizes in (0, 1]; throws std::invalid_argument otherwise.
  explicit BinPacking(std::vector<double> sizes);
  static BinPacking random(int n, std::mt19937_64& rng);

  std::string name() const override { return "bin_packing"; }
  void reset(std::mt19937_64& rng) override;
  double cost() const override { return used_; }
  int stages() const override { return 2; }
  int num_items() const override { return static_cast<int>(w_.size()); }
  int num_features1() const override { return 4; }
  void features1(double temperature, double* out) const override;
  bool legal1(int i) const override;
  int num_second(int) const override { return static_cast<int>(w_.size()); }
  int num_features2() const override { return 5; }
  void features2(int i, double temperature, double* out) const override;
  bool legal2(int i, int j) const override;
  double delta(const Move& m) const override;
  void apply(const Move& m) override;
  std::unique_ptr<Problem> clone() const override { return std::make_unique<BinPacking>(*this); }

  const std::vector<double>& sizes() const { return w_; }
  const std::vector<int>& bin_of() const { return bin_; }
  const std::vector<double>& loads() const { return load_; }

 private:
  double max_free_except(int bin) const;
  void refresh_top2();
  std::vector<double> w_, load_;
  std::vector<int> bin_, count_;
  int used_ = 0;
  int top_bin_ = 0;               // bin with the most free room, and the runner-up's free room
  double top_free_ = 0.0, second_free_ = 0.0;
};

class Tsp final : public Problem {
 public:
  // Cities as (x, y); at least 5. Throws std::invalid_argument otherwise.
  explicit Tsp(std::vector<double> xy);
  static Tsp random(int n, std::mt19937_64& rng);

  std::string name() const override { return "tsp"; }
  void reset(std::mt19937_64& rng) override;  // a uniformly random tour
  double cost() const override { return length_; }
  int stages() const override { return 2; }
  int num_items() const override { return n_; }
  int num_features1() const override { return 7; }
  void features1(double temperature, double* out) const override;
  bool legal1(int) const override { return true; }
  int num_second(int) const override { return n_; }
  int num_features2() const override { return 13; }
  void features2(int i, double temperature, double* out) const override;
  bool legal2(int i, int j) const override;
  double delta(const Move& m) const override;
  void apply(const Move& m) override;
  std::unique_ptr<Problem> clone() const override { return std::make_unique<Tsp>(*this); }

  void set_tour(std::vector<int> tour);  // a permutation of 0..n-1; throws std::invalid_argument otherwise
  const std::vector<int>& tour() const { return tour_; }
  const std::vector<double>& coords() const { return xy_; }
  double dist(int a, int b) const;         // cities a, b
  double tour_length(const std::vector<int>& tour) const;  // recomputed from scratch

 private:
  int city(int pos) const { return tour_[(pos % n_ + n_) % n_]; }
  int n_;
  std::vector<double> xy_;
  std::vector<int> tour_;
  double length_ = 0.0;
};

inline constexpr int kRosenbrockScales = 8;  // step scales 10^(-3 + 0.5 k), k = 0..7 (0.001 .. 3.16)

class Rosenbrock final : public Problem {
 public:
  Rosenbrock(double a, double b);
  static Rosenbrock random(std::mt19937_64& rng);
  static double scale(int k);

  std::string name() const override { return "rosenbrock"; }
  void reset(std::mt19937_64& rng) override;  // x ~ N(0, I)
  double cost() const override { return value_; }
  int stages() const override { return 2; }
  bool continuous() const override { return true; }
  int num_items() const override { return 2; }
  int num_features1() const override { return 4; }
  void features1(double temperature, double* out) const override;
  bool legal1(int) const override { return true; }
  int num_second(int) const override { return kRosenbrockScales; }
  int num_features2() const override { return 4; }
  void features2(int i, double temperature, double* out) const override;
  bool legal2(int, int) const override { return true; }
  double delta(const Move& m) const override;
  void apply(const Move& m) override;
  std::unique_ptr<Problem> clone() const override { return std::make_unique<Rosenbrock>(*this); }

  double energy(double x0, double x1) const;
  const double* x() const { return x_; }
  void set_x(double x0, double x1);

 private:
  double a_, b_;
  double x_[2] = {0.0, 0.0};
  double value_ = 0.0;
};

// ---- search-space proposals (the `neural_sa` strategy) ---------------------------------------------------
//
// The strategy anneals over the unit cube of a bbo search space; its policy picks which parameter to move
// (stage 1, one candidate per parameter) and how far (stage 2, one of kSpaceScales step scales
// s_k = 10^(-3 + 0.375 k), 0.001 .. 1): u_i <- reflect(u_i + s_k z), z ~ N(0,1). The features come from
// per-parameter statistics of the run so far (SpaceStats), identical in training (SpaceProblem) and in the
// plugin (the sa Proposal in neural_sa_strategy.cc):
//  stage 1, parameter i: [succ_i, lstep_i / 3, min(1, (t - last_i) / (2 d)), tlog, categorical_i]
//  stage 2, scale k:     [log10 s_k / 3, lstep_i / 3, succ_i, tlog, (log10 s_k - lstep_i) / 3]
// succ_i: exponential average (0.2) of "the move on i improved on the current value"; lstep_i: exponential
// average (0.3) of log10 |u_i move| over the improving moves (start -1); t: moves told; last_i: the t of the
// last move on i; tlog = clamp(log10(T / T0), -6, 0) / 6.
inline constexpr int kSpaceScales = 9;
double space_scale(int k);
inline constexpr int kSpaceFeatures1 = 5, kSpaceFeatures2 = 5;

struct SpaceStats {
  std::vector<double> succ, lstep;
  std::vector<int64_t> last;
  int64_t t = 0;
  explicit SpaceStats(int d = 0) : succ(d, 0.2), lstep(d, -1.0), last(d, 0) {}
  int size() const { return static_cast<int>(succ.size()); }
  // One told move on parameter i that changed it by |moved|; success: improved on the current value.
  void observe(int i, double moved, bool success);
};
double space_tlog(double temperature, double initial_temperature);
void space_features1(const SpaceStats& s, const std::vector<char>& categorical, double tlog, double* out);
void space_features2(const SpaceStats& s, int i, double tlog, double* out);

// The training family of the strategy's policy: f on [0,1]^d, d uniform in 2..10, minimum 0 at a random c;
// per-dimension weights 10^U(-1.5, 1), 30 % of the dimensions irrelevant (weight 0); one of five shapes
// (sphere, sum of |.|, sphere + small cosine ripples, Rosenbrock-like chain, log(1 + 100 sphere)). Costs are
// divided by the mean |difference| of 5 uniform points, so T0 = 1 / ln(1.25) plays the role of the sa
// annealer's automatic T0 (a typical uphill move accepted with probability 0.8). reset(): the best of 5
// uniform points, as the annealer's initial generation.
class SpaceProblem final : public Problem {
 public:
  static SpaceProblem random(std::mt19937_64& rng);
  std::string name() const override { return "space"; }
  void reset(std::mt19937_64& rng) override;
  double cost() const override { return value_; }
  int stages() const override { return 2; }
  bool continuous() const override { return true; }
  int num_items() const override { return static_cast<int>(u_.size()); }
  int num_features1() const override { return kSpaceFeatures1; }
  void features1(double temperature, double* out) const override;
  bool legal1(int) const override { return true; }
  int num_second(int) const override { return kSpaceScales; }
  int num_features2() const override { return kSpaceFeatures2; }
  void features2(int i, double temperature, double* out) const override;
  bool legal2(int, int) const override { return true; }
  double delta(const Move& m) const override;
  void apply(const Move& m) override;
  void observe(const Move& m, double delta, bool accepted) override;
  std::unique_ptr<Problem> clone() const override { return std::make_unique<SpaceProblem>(*this); }
  double f(const std::vector<double>& u) const;  // normalised cost

 private:
  double moved_to(const Move& m) const;
  int shape_ = 0;
  std::vector<double> c_, a_, u_;
  std::vector<char> categorical_;
  double norm_ = 1.0, value_ = 0.0;
  SpaceStats stats_;
};

// Makes a paper instance of `problem` ("knapsack", "bin_packing", "tsp", "rosenbrock", "space"; n is ignored by
// the last two) of size n.
std::unique_ptr<Problem> make_instance(const std::string& problem, int n, std::mt19937_64& rng);

// ---- reference solvers ------------------------------------------------------------------------------------

// Exact 0/1 knapsack by depth-first branch and bound (items by value/weight, Dantzig LP bound). Returns the
// optimal value; `chosen` (optional) receives an optimal set.
double knapsack_optimum(const std::vector<double>& w, const std::vector<double>& v, double capacity,
                        std::vector<char>* chosen = nullptr);
// Greedy by value/weight (the paper's "value/weight greedy" column: take items in ratio order while they fit).
double knapsack_greedy(const std::vector<double>& w, const std::vector<double>& v, double capacity);
// ceil(sum of sizes) (minus a 1e-9 tolerance), a lower bound on the number of unit bins.
int bin_lower_bound(const std::vector<double>& sizes);
// First-fit decreasing; returns the number of bins.
int first_fit_decreasing(const std::vector<double>& sizes);
// Local search baseline for the TSP: from `starts` random tours (and the nearest-neighbour tour), 2-opt and
// Or-opt (segments of 1..3 cities moved, either orientation) to a local optimum; returns the best tour length
// and (optional) the tour.
double tsp_local_search(const Tsp& instance, int starts, std::mt19937_64& rng, std::vector<int>* best_tour = nullptr);
// Mean optimal tour length for uniform instances (Kool et al. 2019, Concorde): 3.84 (20), 5.70 (50),
// 7.76 (100); 0 for other sizes.
double tsp_kool_optimum(int n);

}  // namespace bbo::neural_sa

// cbo_core.h — the consensus-based optimization engine of the `cbo` strategy, usable (and unit-tested)
// without a study.
//
// Cbo minimises over the unit cube [0,1]^d with N particles. One generation = the N current positions; after
// their values are told, the engine
//  1. computes the consensus point v = sum_i w_i x_i / sum_i w_i with w_i = exp(-alpha (f_i - min f)) (the
//     log-sum-exp shift, so no weight underflows to an all-zero sum; failed points, +inf, get weight 0);
//  2. moves every particle by one Euler–Maruyama step of the CBO SDE,
//       anisotropic (default; Carrillo–Jin–Li–Zhu 2021, Fornasier–Klock–Riedl 2022):
//         x <- x - lambda dt (x - v) + sigma sqrt(dt) (x - v) ⊙ xi,
//       isotropic (Pinnau–Totzeck–Tse–Martin 2017):
//         x <- x - lambda dt (x - v) + sigma sqrt(dt) |x - v|_2 xi,
//     with xi ~ N(0, I_d) fresh per particle and step (CBXpy's convention: no sqrt(2) in front of sigma), and
//     mirrors the result into [0,1] (reflection at both faces, period 2);
//  3. adapts alpha (always <= alpha_max): "multiply" multiplies it by alpha_factor after every step (CBXpy's
//     default scheduler); "ess" does the same and, in addition, before the consensus of a generation whose
//     weights are too flat — effective sample size (sum w)^2 / sum w^2 > ess_threshold N, as happens when the
//     values differ on a small scale — raises alpha by bisection to where the ESS is max(ess_threshold N, 2) (after
//     Carrillo–Hoffmann–Stuart–Vaes 2022), which makes the schedule independent of the scale of f;
//     "constant" keeps alpha0;
//  4. restarts when the swarm has collapsed: when the largest per-coordinate standard deviation of the
//     particles falls below restart_tol, the particles are redrawn (Latin hypercube) and alpha reset to alpha0.
// The initial swarm is a Latin hypercube sample of the cube.
//
// The whole state round-trips through JSON (doubles exactly), and tell() is a pure function of the state, the
// values and the generator, so a state restored in another process continues identically. Not thread-safe.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bbo::cbo {

using json = nlohmann::json;

struct CboOptions {
  int particles = 50;                   // N >= 2
  double lambda = 1.0;                  // drift rate, > 0
  double sigma = 10.1;                  // noise scale, >= 0
  double dt = 0.01;                     // Euler–Maruyama step, > 0
  std::string noise = "anisotropic";    // "anisotropic" | "isotropic"
  double alpha0 = 30.0;                 // initial weight exponent, > 0
  std::string alpha_schedule = "ess";   // "ess" | "multiply" | "constant"
  double alpha_factor = 1.05;           // >= 1
  double alpha_max = 1e5;               // >= alpha0
  double ess_threshold = 0.05;          // "ess": in (0, 1]
  double restart_tol = 1e-6;            // restart when max_j std_j(x) < restart_tol; 0: never
};

// The consensus point of positions `x` with values `f` (+inf/NaN: weight 0; all of them: the plain mean).
// `ess` (if not null) receives the effective sample size of the weights, in [1, N].
std::vector<double> consensus_point(const std::vector<std::vector<double>>& x, const std::vector<double>& f,
                                    double alpha, double* ess = nullptr);

class Cbo {
 public:
  // A fresh swarm in dimension `dim` (>= 1). Throws std::invalid_argument on bad options.
  Cbo(const CboOptions& options, int dim, std::mt19937_64& rng);
  // Restores a state written by to_json(); throws std::invalid_argument / nlohmann errors on malformed input.
  static Cbo from_json(const json& j);
  json to_json() const;

  // The generation to evaluate: the N current positions, each in [0,1]^d.
  const std::vector<std::vector<double>>& positions() const { return x_; }
  // Values of positions() (to minimise; NaN counts as +inf): consensus, move, alpha update, maybe restart.
  // Throws std::invalid_argument when values.size() != N.
  void tell(const std::vector<double>& values, std::mt19937_64& rng);

  int dim() const { return dim_; }
  double alpha() const { return alpha_; }
  const std::vector<double>& consensus() const { return consensus_; }  // of the last told generation
  double last_ess() const { return last_ess_; }
  int64_t generation() const { return generation_; }
  int restarts() const { return restarts_; }
  const std::vector<double>& best_x() const { return best_x_; }  // best evaluated point (empty before any)
  double best_f() const { return best_f_; }
  // Largest per-coordinate standard deviation of the positions.
  double spread() const;

 private:
  Cbo() = default;
  void validate() const;
  void scatter(std::mt19937_64& rng);  // Latin hypercube positions

  CboOptions options_;
  int dim_ = 0;
  std::vector<std::vector<double>> x_;
  double alpha_ = 0.0;
  std::vector<double> consensus_;
  double last_ess_ = 0.0;
  int64_t generation_ = 0;
  int restarts_ = 0;
  std::vector<double> best_x_;
  double best_f_ = 0.0;
};

}  // namespace bbo::cbo

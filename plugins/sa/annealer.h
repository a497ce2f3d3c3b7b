// annealer.h — the simulated-annealing engine of the `sa` strategy, usable (and unit-tested) without a study.
//
// The annealer works in generations on the unit cube of a SearchSpace:
//  - Initial generation: init_points (rounded up to a multiple of batch) uniform points, discrete
//    coordinates snapped to their grid point. The best of them becomes the current state. Skipped when a
//    warm start brings two or more finite values (the best of them is the current state).
//  - Move generation: `batch` candidates, each drawn by the Proposal from the current state. After
//    evaluation the best candidate of the batch goes through the Metropolis rule: with
//    delta = value(candidate) - value(current), it replaces the current state when delta <= 0, else with
//    probability exp(-delta / T). (Batch SA as "best of several neighbours": one Metropolis step per
//    generation, so the temperature schedule is per generation whatever the batch size.) Every candidate is
//    then shown to the proposal's observe() hook.
//  - Initial temperature T0: given (`t0`), else from the spread of the first values: with mean|Δ| the mean
//    absolute difference between two of the initial values (a typical uphill move between the points seen so
//    far), T0 = mean|Δ| / -ln(initial_acceptance), so such a move is accepted with probability
//    initial_acceptance (0.8 by default: the usual initial-acceptance-ratio rule of SA practice, e.g.
//    Johnson et al. 1989). When the initial values do not spread (fewer than two finite
//    values, or all equal), T0 is set the same way from the first finite uphill delta met later; until then
//    the annealer is greedy (T = 0).
//  - Schedule "exponential": T <- T * cooling after every move generation.
//    Schedule "adaptive": the temperature is steered so that uphill moves are accepted with a target
//    probability that itself anneals, target_k = target_acceptance * cooling^k after k move generations:
//    after every uphill Metropolis decision with probability p = exp(-delta / T),
//    log T <- log T + 0.5 * (target_k - p) (a Robbins–Monro step towards E[p] = target_k). So the
//    temperature is measured in units of the uphill deltas the proposal actually produces (it follows them
//    down as the step shrinks, and up after a restart), independent of the objective's scale. At the start,
//    with the default target 0.3 and the proposal's 1/5-success step rule, the overall acceptance rate is
//    near 0.2 + 0.8 * 0.3 = 0.44, the classic optimum for one-dimensional random-walk Metropolis moves; as
//    target_k decays the chain turns greedy. (A constant target would hold the acceptance rate forever: with
//    the step and T both following the chain, nothing would make it concentrate.)
//  - Best tracking and restarts: the best point seen (initial and candidate points alike) is kept. After
//    `restart_after` move generations without a strict improvement of the best (0: never), the annealer
//    restarts: the proposal is reset (its step back to the initial one) and the current state becomes the
//    best point (restart_from "best") or the best of a new generation of `batch` uniform points ("random").
//    The temperature carries on with its schedule (no re-heating).
// Values are to be minimised; +inf (failed, pruned, NaN) is the worst value: such a candidate is never
// accepted over a finite current state.
//
// The whole state (and the proposal's) round-trips through JSON with finite numbers only (infinite values
// are stored as null), and ask() is a pure function of the state and the generator, so a state restored in
// another process proposes the same generation. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "bbo/space.h"
#include "plugins/sa/proposal.h"

namespace bbo::sa {

enum class Schedule { kExponential, kAdaptive };
enum class RestartFrom { kBest, kRandom };

struct AnnealerOptions {
  int batch = 1;                    // candidates per move generation, >= 1 (use the number of workers)
  int init_points = 5;              // initial generation: init_points rounded up to a multiple of batch, >= 1
  Schedule schedule = Schedule::kExponential;
  double cooling = 0.95;            // T (exponential) or the target (adaptive) multiplier per generation, (0, 1]
  double target_acceptance = 0.3;   // adaptive: initial target acceptance probability of uphill moves, (0, 1)
  double initial_acceptance = 0.8;  // acceptance probability of a typical uphill move at T0, in (0, 1)
  std::optional<double> t0 = std::nullopt;  // fixed initial temperature (> 0) instead of the automatic one
  int restart_after = 100;          // generations without improvement before a restart, >= 0 (0: never)
  RestartFrom restart_from = RestartFrom::kBest;
};

// Throws std::invalid_argument naming the option that is out of range.
void validate(const AnnealerOptions& options);

class Annealer {
 public:
  enum class Phase { kInit, kMove };

  // A fresh annealer on `space` (at least one parameter). It owns `proposal`. Call start() or load_json()
  // before ask().
  Annealer(SearchSpace space, AnnealerOptions options, std::unique_ptr<Proposal> proposal);

  // Fresh start, warm-started from evaluated unit points (may be empty). Values: minimise, non-finite = worst.
  void start(const std::vector<std::vector<double>>& xs, const std::vector<double>& ys);
  // The state (options are not part of it: they come from the constructor on both sides).
  json to_json() const;
  // Restores a state written by to_json() with the same space; throws std::invalid_argument when malformed.
  void load_json(const json& state);

  // The points of the next generation (each of space.size() coordinates in [0,1]). Deterministic in
  // (state, rng); does not change the state.
  std::vector<std::vector<double>> ask(std::mt19937_64& rng) const;
  // Incorporates the evaluated generation: `x` exactly as returned by ask(), `y` their values.
  void tell(const std::vector<std::vector<double>>& x, const std::vector<double>& y, std::mt19937_64& rng);

  Phase phase() const { return phase_; }
  const std::vector<double>& current() const { return current_; }  // empty before the first tell
  double current_value() const { return current_value_; }
  const std::vector<double>& best() const { return best_; }        // empty before the first tell
  double best_value() const { return best_value_; }
  double temperature() const { return temperature_; }              // 0 while T0 is unknown
  double initial_temperature() const { return t0_; }               // 0 while unknown
  int64_t steps() const { return steps_; }                         // move generations told
  int64_t accepted() const { return accepted_; }                   // Metropolis acceptances
  int64_t stall() const { return stall_; }                         // generations since the best improved
  int restarts() const { return restarts_; }
  const Proposal& proposal() const { return *proposal_; }
  const SearchSpace& space() const { return space_; }
  const AnnealerOptions& options() const { return options_; }

  // Mean absolute difference over all pairs of the finite values (O(n log n)); nullopt for fewer than two.
  static std::optional<double> mean_abs_difference(std::vector<double> values);

 private:
  void set_initial_temperature(double typical_uphill);
  void restart();

  SearchSpace space_;
  AnnealerOptions options_;
  std::unique_ptr<Proposal> proposal_;
  Phase phase_ = Phase::kInit;
  std::vector<double> current_, best_;
  double current_value_, best_value_;
  double temperature_ = 0.0, t0_ = 0.0;
  int64_t steps_ = 0, accepted_ = 0, stall_ = 0;
  int restarts_ = 0;
  int init_size_ = 0;  // points of the pending initial generation
};

}  // namespace bbo::sa

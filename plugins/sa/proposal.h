// proposal.h — the proposal distribution of the `sa` strategy: the replaceable part of simulated annealing.
//
// An annealer asks its Proposal for candidate points near the current state and tells it, through observe(),
// how each candidate fared. The temperature schedule, the Metropolis rule, best tracking and restarts stay in
// the annealer (annealer.h); everything about *where* to look next lives behind this interface, so a learned
// proposal (neural SA: a policy network that maps (point, temperature) to a move) replaces
// NeighbourhoodProposal without touching the rest.
//
// Points are unit-cube coordinates of a SearchSpace (bbo/space.h: one coordinate per parameter; log
// distributions are uniform in log space, ints and stepped floats own equal-width bins, categorical i of n
// sits at (i + 0.5) / n). A proposal must return a point of the same size with every coordinate in [0,1].
//
// Determinism: propose() is a pure function of (the proposal's state, the input, the generator); observe()
// changes the state only as a function of its argument. The state round-trips exactly through to_json() /
// load_json(), so a proposal restored in another process proposes the same points. Not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bbo/space.h"

namespace bbo::sa {

using json = nlohmann::json;

// What a proposal sees of the annealer when it proposes.
struct ProposalInput {
  const std::vector<double>& current;  // the current state (unit cube)
  double current_value;                // its value to minimise (+inf when it failed)
  double temperature;                  // the current temperature (0 before the initial temperature is known)
  double initial_temperature;          // T0 (0 before it is known)
  int64_t step;                        // Metropolis steps (move generations) since the start, restarts included
};

// The outcome of one candidate, given to observe() after the generation was evaluated.
struct ProposalFeedback {
  const std::vector<double>& current;  // the state the candidate was proposed from
  double current_value;
  const std::vector<double>& candidate;
  double candidate_value;  // +inf for a failed or pruned trial
  bool accepted;           // whether the candidate became the new current state
  double temperature;      // the temperature the decision was made at
};

class Proposal {
 public:
  virtual ~Proposal() = default;
  // A short stable name, stored with the state ("neighbourhood").
  virtual std::string name() const = 0;
  // A candidate near input.current (size space.size(), coordinates in [0,1]). Must not modify the state.
  virtual std::vector<double> propose(const SearchSpace& space, const ProposalInput& input,
                                      std::mt19937_64& rng) const = 0;
  // Learns from one evaluated candidate (step-size control, online training, statistics). Default: nothing.
  virtual void observe(const SearchSpace& space, const ProposalFeedback& feedback) {}
  // Back to the state of a fresh start (called by the annealer on every restart).
  virtual void reset() = 0;
  // The state as JSON (finite numbers only) and back; load_json throws std::invalid_argument for a state it
  // does not recognise.
  virtual json to_json() const = 0;
  virtual void load_json(const json& state) = 0;
};

struct NeighbourhoodOptions {
  double step = 0.1;        // initial Gaussian step in unit-cube units, (0, 1]
  double move_coords = 1;   // expected number of coordinates moved per proposal, >= 1
  double min_step = 1e-9;   // the adapted step stays in [min_step, 1]
  double target_success = 0.2;  // the step-size rule keeps this fraction of candidates improving
  double damping = 3.0;         // larger: slower step-size changes
};

// The default proposal: a local move on a few coordinates.
//  - Which coordinates: each coordinate that has more than one value is moved with probability
//    min(1, move_coords / d'), d' the number of such coordinates; when none is drawn, one uniformly chosen
//    coordinate is moved. So a proposal changes one or a few coordinates, never none (unless every
//    parameter has a single value).
//  - Continuous floats (linear or log): u + step * N(0,1), reflected at the faces of [0,1].
//  - Ints and stepped floats (linear or log): the same Gaussian move, decoded to the grid; when it lands on
//    the current grid value it moves one grid point in the direction of the draw instead (the other way at a
//    bound). So the move is +-k grid points with k >= 1 growing with the step. The result is the grid
//    point's own unit coordinate.
//  - Categoricals: a uniformly chosen different choice.
// Step-size control (observe): Rechenberg's 1/5-success rule on the candidates, in its smooth exponential form: after
// each candidate, step *= exp((success - target_success) / (damping * (1 - target_success))), where success
// means the candidate's value is below the current state's. It uses improvement rather than acceptance so
// that it does not fight the temperature schedule (which controls acceptance of uphill moves): the step
// shrinks near an optimum whatever the temperature, and the temperature follows the shrinking value
// differences.
class NeighbourhoodProposal final : public Proposal {
 public:
  // Throws std::invalid_argument for options out of range.
  explicit NeighbourhoodProposal(NeighbourhoodOptions options = {});

  std::string name() const override { return "neighbourhood"; }
  std::vector<double> propose(const SearchSpace& space, const ProposalInput& input,
                              std::mt19937_64& rng) const override;
  void observe(const SearchSpace& space, const ProposalFeedback& feedback) override;
  void reset() override { step_ = options_.step; }
  json to_json() const override { return {{"step", step_}}; }
  void load_json(const json& state) override;

  double step() const { return step_; }
  const NeighbourhoodOptions& options() const { return options_; }

 private:
  NeighbourhoodOptions options_;
  double step_;
};

// Reflects u into [0,1] (mirror at both faces, period 2).
double reflect_unit(double u);

// The unit coordinate of the value u decodes to: the canonical form of a coordinate of a discrete
// dimension (continuous dimensions: u clamped to [0,1]).
double snap_unit(const Distribution& d, double u);

// Grid spacing of a discrete numeric distribution (ints, stepped floats); 0 for continuous ones.
double grid_step(const Distribution& d);
// [low, high] of a numeric (float or int) distribution.
std::pair<double, double> bounds(const Distribution& d);

}  // namespace bbo::sa

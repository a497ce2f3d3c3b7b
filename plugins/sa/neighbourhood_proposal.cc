// neighbourhood_proposal.cc — the default proposal of the `sa` strategy (see proposal.h).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <variant>

#include "plugins/sa/proposal.h"

namespace bbo::sa {

double grid_step(const Distribution& d) {
  if (const auto* f = std::get_if<FloatDistribution>(&d)) return f->step ? *f->step : 0.0;
  if (const auto* i = std::get_if<IntDistribution>(&d)) return static_cast<double>(i->step);
  return 0.0;
}

std::pair<double, double> bounds(const Distribution& d) {
  if (const auto* f = std::get_if<FloatDistribution>(&d)) return {f->low, f->high};
  const auto& i = std::get<IntDistribution>(d);
  return {static_cast<double>(i.low), static_cast<double>(i.high)};
}

namespace {

double move_numeric(const Distribution& d, double u, double step, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  const double z = normal(rng);
  const double moved = reflect_unit(u + step * z);
  const double g = grid_step(d);
  if (g == 0.0) return moved;
  const double v = from_unit(d, u);
  double w = from_unit(d, moved);
  if (w == v) {
    // The Gaussian move stayed inside the current bin: take the adjacent grid point instead, so every
    // proposal on this coordinate changes it.
    const auto [lo, hi] = bounds(d);
    const double dir = z >= 0 ? 1.0 : -1.0;
    w = v + dir * g;
    if (w > hi + 0.5 * g || w < lo - 0.5 * g) w = v - dir * g;
    w = from_unit(d, to_unit(d, std::clamp(w, lo, hi)));  // exactly a grid value
  }
  return to_unit(d, w);
}

double move_categorical(const Distribution& d, double u, std::mt19937_64& rng) {
  const int n = n_choices(d);
  const auto current = static_cast<int>(from_unit(d, u));
  std::uniform_int_distribution<int> pick(0, n - 2);
  int other = pick(rng);
  if (other >= current) ++other;  // uniform over the n - 1 other choices
  return to_unit(d, static_cast<double>(other));
}

}  // namespace

double reflect_unit(double u) {
  if (!std::isfinite(u)) return 0.5;
  double r = std::fmod(std::fabs(u), 2.0);
  return r > 1.0 ? 2.0 - r : r;
}

double snap_unit(const Distribution& d, double u) {
  u = std::clamp(std::isnan(u) ? 0.5 : u, 0.0, 1.0);
  if (std::holds_alternative<CategoricalDistribution>(d) || grid_step(d) > 0.0) return to_unit(d, from_unit(d, u));
  return u;
}

NeighbourhoodProposal::NeighbourhoodProposal(NeighbourhoodOptions options) : options_(options), step_(options.step) {
  if (!(options_.step > 0.0 && options_.step <= 1.0))
    throw std::invalid_argument("'step' must be in (0, 1], got " + std::to_string(options_.step));
  if (!(options_.move_coords >= 1.0))
    throw std::invalid_argument("'move_coords' must be >= 1, got " + std::to_string(options_.move_coords));
  if (!(options_.min_step > 0.0 && options_.min_step <= options_.step))
    throw std::invalid_argument("'min_step' must be in (0, step]");
  if (!(options_.target_success > 0.0 && options_.target_success < 1.0))
    throw std::invalid_argument("'target_success' must be in (0, 1)");
  if (!(options_.damping > 0.0)) throw std::invalid_argument("'damping' must be > 0");
}

std::vector<double> NeighbourhoodProposal::propose(const SearchSpace& space, const ProposalInput& input,
                                                   std::mt19937_64& rng) const {
  const auto& dists = space.distributions();
  if (input.current.size() != dists.size())
    throw std::invalid_argument("proposal: the current point has the wrong dimension");
  std::vector<size_t> movable;
  for (size_t k = 0; k < dists.size(); ++k)
    if (!is_single(dists[k])) movable.push_back(k);
  std::vector<double> out = input.current;
  if (movable.empty()) return out;

  const double p = std::min(1.0, options_.move_coords / static_cast<double>(movable.size()));
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  std::vector<size_t> chosen;
  for (size_t k : movable)
    if (unif(rng) < p) chosen.push_back(k);
  if (chosen.empty()) {
    std::uniform_int_distribution<size_t> pick(0, movable.size() - 1);
    chosen.push_back(movable[pick(rng)]);
  }
  for (size_t k : chosen) {
    const Distribution& d = dists[k];
    out[k] = std::holds_alternative<CategoricalDistribution>(d) ? move_categorical(d, out[k], rng)
                                                                : move_numeric(d, out[k], step_, rng);
  }
  return out;
}

void NeighbourhoodProposal::observe(const SearchSpace& space, const ProposalFeedback& feedback) {
  const bool success = feedback.candidate_value < feedback.current_value;
  const double t = options_.target_success;
  step_ *= std::exp(((success ? 1.0 : 0.0) - t) / (options_.damping * (1.0 - t)));
  step_ = std::clamp(step_, options_.min_step, 1.0);
}

void NeighbourhoodProposal::load_json(const json& state) {
  if (!state.is_object() || !state.contains("step") || !state["step"].is_number())
    throw std::invalid_argument("neighbourhood proposal: malformed state " + state.dump());
  const double s = state["step"].get<double>();
  if (!(s > 0.0 && s <= 1.0)) throw std::invalid_argument("neighbourhood proposal: step out of range");
  step_ = s;
}

}  // namespace bbo::sa

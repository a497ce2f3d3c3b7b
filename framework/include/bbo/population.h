// bbo/population.h — the shared ask/tell machinery for generation-based strategies (CMA-ES, DE, CBO, SA).
//
// A population strategy proposes a *generation*: a fixed list of points of the unit cube. Each ask hands out
// the next unassigned point of the current generation to the new trial; when every point of the generation
// has a finished trial, the generation's results are given to update() and the next generation is drawn.
// So a generation is one batch: `ask(n)` with n = the population size gets exactly one generation, and several
// workers share generations without coordination beyond storage.
//
// All state lives in the study's plugin-state blob (key "population:<name>"), written with compare-and-swap,
// so any process can ask next and a strategy rebuilt from storage proposes the same points. Randomness comes
// from generators seeded with (study seed, generation index), never from process history.
//
// Robustness: FAIL and PRUNED trials count as the worst value (+inf after direction normalisation). When
// every point of the generation is assigned but some are still running (a worker may have crashed), the
// next ask re-issues the unfinished point handed out least often (lowest index on ties) to the new trial;
// the first of its trials to finish counts. So the strategy never stalls while somebody keeps asking.
//
// Space: the declared space of the study, else the intersection of completed trials (until the first trial
// completes, asks are answered by independent uniform sampling). A change of space restarts the strategy.
// Only single-objective studies are supported (ValueError otherwise). Values given to update() are always
// to be minimised (maximisation is negated by the base).
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "bbo/space.h"
#include "bbo/strategy.h"

namespace bbo {

class PopulationStrategy : public Strategy {
 public:
  // `name` keys the plugin state ("population:<name>").
  explicit PopulationStrategy(std::string name);

  SearchSpace relative_space(const StudyView& study) override;
  std::map<std::string, double> sample_relative(const SampleContext& ctx, const SearchSpace& space) override;
  double sample_independent(const SampleContext& ctx, const std::string& name, const Distribution& d) override;

 protected:
  // The strategy's state for a fresh start on `space` (JSON, any shape). `completed` are the study's
  // COMPLETE trials with all parameters of `space`, as unit-cube points and minimisation values (for warm
  // starts). Called when no state exists or the space changed.
  virtual json initial_state(const SearchSpace& space, const std::vector<std::vector<double>>& completed_x,
                             const std::vector<double>& completed_y, std::mt19937_64& rng) = 0;
  // The points of the next generation (each of space.size() coordinates in [0,1]); at least one.
  virtual std::vector<std::vector<double>> next_generation(const SearchSpace& space, json& state,
                                                           std::mt19937_64& rng) = 0;
  // Incorporates the results of a generation (values to minimise; +inf for failed points) into `state`.
  virtual void tell_generation(const SearchSpace& space, json& state, const std::vector<std::vector<double>>& x,
                               const std::vector<double>& y, std::mt19937_64& rng) = 0;

 private:
  std::string key_;
  // The last generation JSON this object read or wrote, and its text: an ask whose stored generation text
  // is unchanged skips parsing it (a cache of storage, never a source of truth).
  std::string cached_text_;
  json cached_;
};

}  // namespace bbo

// bbo/strategy.h — the Strategy plugin contract (samplers and optimizers).
//
// At ask time the study calls, for each new trial: relative_space() once, then sample_relative() for that
// space (a joint proposal); every parameter the user suggests that the relative proposal does not cover goes
// to sample_independent(). Pending (RUNNING) trials of every worker are visible in the view, so batch asks
// and parallel workers can be diversified.
//
// Determinism: a strategy must draw its randomness from ctx.rng (seeded from the study seed and the trial
// number) or from state it keeps in storage, never from process-local history. A strategy rebuilt from
// storage in a fresh process must propose the same point as one kept in memory (checked by the strategy
// conformance suite). Strategy objects are used by one thread at a time.
#pragma once

#include <map>
#include <random>
#include <string>

#include "bbo/space.h"
#include "bbo/study_view.h"
#include "bbo/trial.h"

namespace bbo {

struct SampleContext {
  const StudyView& study;
  const FrozenTrial& trial;  // the RUNNING trial being sampled, with the params suggested so far
  std::mt19937_64& rng;      // the trial's generator
};

class Strategy {
 public:
  virtual ~Strategy() = default;

  // The space to propose jointly for the next trial. Default: empty (everything independent).
  virtual SearchSpace relative_space(const StudyView& study);
  // Internal values for (a subset of) `space`. Default: none.
  virtual std::map<std::string, double> sample_relative(const SampleContext& ctx, const SearchSpace& space);
  // An internal value of `d` for parameter `name`, outside the relative proposal.
  virtual double sample_independent(const SampleContext& ctx, const std::string& name,
                                    const Distribution& d) = 0;
  // Called once after a trial of this study was finished through this process.
  virtual void on_trial_finished(const StudyView& study, const FrozenTrial& trial);
};

// The declared space of the study if it has one, else the parameters that every COMPLETE trial has with the
// same distribution (Optuna's intersection search space). Empty when no trial is complete.
SearchSpace intersection_space(const StudyView& study);

// The independent uniform draw most strategies use outside their relative space: a value of `d` from the
// stream (study seed + offset, trial number, hash(name) ^ salt), so it depends neither on the order of the
// suggest calls nor on the process. Cheap: one hash, no generator is seeded.
double independent_uniform(const SampleContext& ctx, const std::string& name, const Distribution& d,
                           uint64_t salt = 0, uint64_t seed_offset = 0);

// Uniform draw of an internal value of `d` (log-uniform for log distributions, uniform over grid points and
// choices).
double sample_uniform(const Distribution& d, std::mt19937_64& rng);

}  // namespace bbo

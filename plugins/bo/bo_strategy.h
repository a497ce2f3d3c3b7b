// bo_strategy.h — the `bo` strategy: surrogate model + acquisition function + acquisition optimizer.
//
// For each ask, on the relative space (the declared space, else the intersection of complete trials):
//  1. fewer than n_startup_trials usable observations → the point of a scrambled Sobol design (the `sobol`
//     strategy plugin, indexed by trial number, so parallel asks get different points);
//  2. otherwise one surrogate per objective (sign-flipped for maximization) and per constraint is fitted to
//     the complete trials (FAIL trials and non-finite values are ignored), warm-started from the
//     hyper-parameters of the previous fit kept in the study's plugin state (so every process starts from the
//     same place and proposes the same point);
//  3. the acquisition (logei/ucb/pi/thompson/qlogei/random_quantile; EHVI for 2–3 objectives; × probability
//     of feasibility with constraints) sees RUNNING trials of every worker as pending points (fantasies), and
//     is maximized over the unit cube; the argmax is decoded into the trial's parameters.
// Parameters outside the relative space (conditional ones) are sampled independently and uniformly.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bbo/acquisition.h"
#include "bbo/plugin.h"
#include "bbo/strategy.h"
#include "bbo/surrogate.h"

namespace bbo::bo {

struct BoOptions {
  std::string surrogate = "gp";
  json surrogate_params = json::object();
  AcquisitionOptions acquisition;
  AcquisitionOptimizerOptions optimizer;
  int n_startup_trials = 10;
  bool multi_fidelity = false;  // fit on every trial's last reported value (COMPLETE, PRUNED and RUNNING)
  size_t max_observations = 1000;
  std::string output_transform = "none";
  std::string trust_region = "auto";  // on | off | auto (on for single-objective studies with >= 5 dimensions)
};

// The TuRBO-style trust region after the single-objective results `values` (minimized, in trial order; the
// first n_design are design points and never count): the side length (unit-cube units, before per-dimension
// scaling) starts at 0.4, doubles (up to 1.6) after 3 successes in a row and halves after max(4, d) failures
// in a row, a success improving the run's best by more than 1e-3·|best|. Below 1/128 the run restarts: length
// 0.4 again, and restart_at = the index of the first result of the new run, whose best point becomes the
// centre (after Eriksson et al. 2019, TuRBO-1, which starts at 0.8: 0.4 measured better at 50–100
// evaluations on the 6–10-d public functions). Recomputed from the stored history at every ask, so the
// strategy keeps no state of its own.
struct TrustRegion {
  double length;
  size_t restart_at;  // 0: no restart yet
};
TrustRegion trust_region_state(const std::vector<double>& values, size_t n_design, size_t d);

// The parameters shared by `bo` and its presets; `defaults` overrides the default values per preset.
std::vector<ParamSpec> bo_param_specs(const json& defaults);
BoOptions bo_options(const PluginParams& p);

// One modelled point set: the unit-cube points and what was observed there.
struct Observations {
  Matrix x;                                 // n × d
  std::vector<std::vector<double>> values;  // n rows of objective values (minimized)
  std::vector<std::vector<double>> constraints;  // n rows (may be empty rows when unconstrained)
  std::vector<double> fidelity;             // n resources (multi-fidelity mode), else empty
  Matrix pending;                           // p × d
};

// Gathers the observations of `study` on `space` (exposed for tests and the benchmarks).
Observations gather_observations(const StudyView& study, const SearchSpace& space, int64_t asking_trial,
                                 const BoOptions& options);

// The unit-cube coordinate kinds of a space (grids of up to 32 levels, categoricals; the rest continuous).
std::vector<Dimension> dimensions_of(const SearchSpace& space);

class BoStrategy : public Strategy {
 public:
  explicit BoStrategy(const PluginParams& p);

  SearchSpace relative_space(const StudyView& study) override;
  std::map<std::string, double> sample_relative(const SampleContext& ctx, const SearchSpace& space) override;
  double sample_independent(const SampleContext& ctx, const std::string& name, const Distribution& d) override;

 private:
  std::shared_ptr<Surrogate> fit_model(const SampleContext& ctx, const std::string& role, const FitInput& base,
                                       std::vector<double> y);

  BoOptions options_;
  std::shared_ptr<Strategy> initial_design_;
  std::map<std::string, std::shared_ptr<Surrogate>> models_;  // by role: "obj0", "con1", ...
};

}  // namespace bbo::bo

#include "plugins/bo/bo_strategy.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "bbo/error.h"

namespace bbo::bo {

namespace {

constexpr uint64_t kFitSalt = 0xB0F17ULL;
constexpr uint64_t kIndependentSalt = 0xB01DULL;
constexpr uint64_t kSubsetSalt = 0xB05ULL;
constexpr size_t kMaxGridLevels = 32;

const char* const kTransforms[] = {"none", "log", "copula"};

// Monotone transforms of the (minimized) objective before fitting. Heavy-tailed objectives (Rosenbrock's
// values span six decades) make a stationary GP mostly model the tail; `log` compresses it while keeping the
// order near the minimum, `copula` maps ranks to normal scores (scale-free, loses magnitudes).
std::vector<double> transform_values(const std::vector<double>& y, const std::string& kind) {
  if (kind == "none" || y.size() < 2) return y;
  std::vector<double> out(y.size());
  if (kind == "log") {
    double lo = *std::min_element(y.begin(), y.end());
    double hi = *std::max_element(y.begin(), y.end());
    double range = hi - lo;
    if (!(range > 0)) return y;
    // The offset keeps log finite at the minimum and sets how far the transform looks like identity.
    double offset = std::max(1e-3 * range, 1e-12 * std::max(1.0, std::abs(lo)));
    for (size_t i = 0; i < y.size(); ++i) out[i] = std::log(y[i] - lo + offset);
    return out;
  }
  // copula: average ranks (ties share a rank), then normal scores.
  std::vector<size_t> order(y.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return y[a] < y[b]; });
  size_t n = y.size();
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && y[order[j + 1]] == y[order[i]]) ++j;
    double rank = 0.5 * static_cast<double>(i + j);
    for (size_t k = i; k <= j; ++k) out[order[k]] = normal_quantile((rank + 0.5) / static_cast<double>(n));
    i = j + 1;
  }
  return out;
}

bool all_finite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

// The trial's internal values on `space`, or false when it lacks a parameter or uses another distribution.
bool encode_trial(const FrozenTrial& t, const SearchSpace& space, std::vector<double>& unit) {
  for (size_t k = 0; k < space.size(); ++k) {
    const std::string& name = space.names()[k];
    auto p = t.params.find(name);
    auto d = t.distributions.find(name);
    if (p == t.params.end() || d == t.distributions.end() || !same_distribution(d->second, space.distributions()[k]))
      return false;
  }
  unit = space.encode(t.params);
  return true;
}

}  // namespace

std::vector<ParamSpec> bo_param_specs(const json& defaults) {
  auto def = [&](const char* key, json fallback) { return defaults.contains(key) ? defaults.at(key) : fallback; };
  return {
      {"surrogate", "string", def("surrogate", "gp"), "surrogate plugin modelling each objective and constraint"},
      {"surrogate_params", "json", def("surrogate_params", json::object()), "parameters of the surrogate plugin"},
      {"acquisition", "string", def("acquisition", "logei"),
       "logei | ucb | pi | thompson | qlogei | random_quantile (studies with 2-3 objectives use EHVI); thompson "
       "draws one joint sample over all candidates, O(n_candidates^3) with a GP: use n_candidates <= 500"},
      {"ucb_beta", "float", def("ucb_beta", 4.0), "exploration weight of ucb (mean - sqrt(beta) sd)"},
      {"mc_samples", "int", def("mc_samples", 128), "Monte-Carlo base samples of qlogei and ehvi"},
      {"n_startup_trials", "int", def("n_startup_trials", 10),
       "usable observations before the model is used; until then a scrambled Sobol design"},
      {"n_candidates", "int", def("n_candidates", 2048), "scored candidates of the acquisition optimizer"},
      {"n_local_starts", "int", def("n_local_starts", 5), "best candidates refined by local search"},
      {"local_search", "bool", def("local_search", true), "refine candidates (L-BFGS / derivative-free + discrete moves)"},
      {"local_radius", "float", def("local_radius", 0.1),
       "half-width of the box (unit-cube units) the continuous local search may move in from each start; 1: all"},
      {"trust_region", "string", def("trust_region", "auto"),
       "TuRBO-style trust region around the best point for the candidates: on | off | auto (single objective, "
       ">= 5 dimensions)"},
      {"candidates", "string", def("candidates", "sobol"), "candidate points: sobol (scrambled) or uniform"},
      {"multi_fidelity", "bool", def("multi_fidelity", false),
       "fit on each trial's last reported intermediate value (COMPLETE, PRUNED, RUNNING), for use with pruners"},
      {"max_observations", "int", def("max_observations", 1000),
       "larger histories are thinned to this many points: the best half plus a seeded random subset of the rest"},
      {"output_transform", "string", def("output_transform", "none"),
       "monotone transform of objective values before fitting: none | log | copula"},
  };
}

BoOptions bo_options(const PluginParams& p) {
  BoOptions o;
  const std::string& plugin = p.plugin();
  auto positive = [&](const char* key) {
    int64_t v = p.get_int(key);
    if (v < 1) throw ConfigError("plugin '" + plugin + "': parameter '" + key + "' must be >= 1, got " + std::to_string(v));
    return v;
  };
  o.surrogate = p.get_string("surrogate");
  o.surrogate_params = p.get_json("surrogate_params");
  if (!o.surrogate_params.is_object())
    throw ConfigError("plugin '" + plugin + "': parameter 'surrogate_params' must be an object");
  o.acquisition.kind = p.get_string("acquisition");
  static const char* const kinds[] = {"logei", "ucb", "pi", "thompson", "qlogei", "random_quantile"};
  if (std::find(std::begin(kinds), std::end(kinds), o.acquisition.kind) == std::end(kinds))
    throw ConfigError("plugin '" + plugin + "': parameter 'acquisition' must be one of logei, ucb, pi, thompson, "
                      "qlogei, random_quantile; got '" + o.acquisition.kind + "'");
  o.acquisition.ucb_beta = p.get_float("ucb_beta");
  if (!(o.acquisition.ucb_beta >= 0))
    throw ConfigError("plugin '" + plugin + "': parameter 'ucb_beta' must be >= 0");
  o.acquisition.mc_samples = static_cast<size_t>(positive("mc_samples"));
  int64_t startup = p.get_int("n_startup_trials");
  if (startup < 1) throw ConfigError("plugin '" + plugin + "': parameter 'n_startup_trials' must be >= 1");
  o.n_startup_trials = static_cast<int>(startup);
  o.optimizer.n_candidates = static_cast<size_t>(positive("n_candidates"));
  o.optimizer.n_local_starts = static_cast<size_t>(p.get_int("n_local_starts"));
  o.optimizer.local_search = p.get_bool("local_search") && o.optimizer.n_local_starts > 0;
  o.trust_region = p.get_string("trust_region");
  if (o.trust_region != "on" && o.trust_region != "off" && o.trust_region != "auto")
    throw ConfigError("plugin '" + plugin + "': parameter 'trust_region' must be on, off or auto; got '" +
                      o.trust_region + "'");
  o.optimizer.local_radius = p.get_float("local_radius");
  if (!(o.optimizer.local_radius > 0))
    throw ConfigError("plugin '" + plugin + "': parameter 'local_radius' must be > 0");
  const std::string candidates = p.get_string("candidates");
  if (candidates != "sobol" && candidates != "uniform")
    throw ConfigError("plugin '" + plugin + "': parameter 'candidates' must be sobol or uniform; got '" + candidates + "'");
  o.optimizer.sobol_candidates = candidates == "sobol";
  o.multi_fidelity = p.get_bool("multi_fidelity");
  o.max_observations = static_cast<size_t>(positive("max_observations"));
  if (o.max_observations < 2) throw ConfigError("plugin '" + plugin + "': parameter 'max_observations' must be >= 2");
  o.output_transform = p.get_string("output_transform");
  if (std::find(std::begin(kTransforms), std::end(kTransforms), o.output_transform) == std::end(kTransforms))
    throw ConfigError("plugin '" + plugin + "': parameter 'output_transform' must be none, log or copula; got '" +
                      o.output_transform + "'");
  return o;
}

std::vector<Dimension> dimensions_of(const SearchSpace& space) {
  std::vector<Dimension> dims;
  for (const Distribution& d : space.distributions()) {
    Dimension dim;
    if (const auto* c = std::get_if<CategoricalDistribution>(&d)) {
      dim = {DimensionKind::kCategorical, c->choices.size()};
    } else if (const auto* i = std::get_if<IntDistribution>(&d)) {
      size_t levels = static_cast<size_t>((i->high - i->low) / i->step) + 1;
      if (!i->log && levels <= kMaxGridLevels) dim = {DimensionKind::kGrid, levels};
    } else if (const auto* f = std::get_if<FloatDistribution>(&d)) {
      if (f->step) {
        double levels = std::floor((f->high - f->low) / *f->step + 1e-9) + 1;
        if (levels <= kMaxGridLevels) dim = {DimensionKind::kGrid, static_cast<size_t>(levels)};
      }
    }
    dims.push_back(dim);
  }
  return dims;
}

Observations gather_observations(const StudyView& study, const SearchSpace& space, int64_t asking_trial,
                                 const BoOptions& options) {
  Observations obs;
  const size_t d = space.size();
  const size_t n_obj = study.directions().size();
  std::vector<std::vector<double>> xs, pending;
  std::vector<std::pair<std::vector<double>, double>> pruned;  // (point, last reported value, minimized)
  size_t n_constraints = 0;
  for (const FrozenTrial& t : study.trials())
    if (t.state == TrialState::kComplete && !t.constraints.empty()) n_constraints = t.constraints.size();
  std::vector<double> unit;
  for (const FrozenTrial& t : study.trials()) {
    if (t.number == asking_trial) continue;
    bool running = t.state == TrialState::kRunning || t.state == TrialState::kWaiting;
    std::vector<double> values;
    double fidelity = 0.0;
    if (t.state == TrialState::kComplete) {
      values = t.values;
      if (options.multi_fidelity) {
        auto last = t.last_step();
        fidelity = last ? static_cast<double>(last->first) : 0.0;
      }
    } else if (options.multi_fidelity && n_obj == 1 && (t.state == TrialState::kPruned || running)) {
      auto last = t.last_step();
      if (last) {
        values = {last->second};
        fidelity = static_cast<double>(last->first);
      }
    }
    if (!encode_trial(t, space, unit)) continue;
    if (values.empty() && t.state == TrialState::kPruned && n_obj == 1 && n_constraints == 0) {
      auto last = t.last_step();
      if (last && std::isfinite(last->second)) {
        double v = study.directions()[0] == Direction::kMaximize ? -last->second : last->second;
        pruned.emplace_back(unit, v);
      }
      continue;
    }
    if (values.empty()) {
      if (running) pending.push_back(unit);
      continue;
    }
    if (values.size() != n_obj || !all_finite(values)) continue;
    for (size_t k = 0; k < n_obj; ++k)
      if (study.directions()[k] == Direction::kMaximize) values[k] = -values[k];
    std::vector<double> cons;
    if (n_constraints > 0) {
      // A complete trial without (finite) constraint values cannot be placed; leave it out of the model.
      if (t.constraints.size() != n_constraints) continue;
      cons = t.constraints;
      for (double& c : cons)
        if (std::isnan(c)) c = 1e300;  // NaN constraints are infeasible (FrozenTrial::feasible)
    }
    xs.push_back(unit);
    obs.values.push_back(std::move(values));
    obs.constraints.push_back(std::move(cons));
    if (options.multi_fidelity) obs.fidelity.push_back(fidelity);
  }

  // A pruned trial stopped early because it looked worse than the others did at the same step. Left out, the
  // model would not know the point was tried and would propose it again (with a pruner, most trials are
  // pruned); so it enters as at least as bad as the median complete trial (or its own last value, if worse).
  if (!pruned.empty() && !xs.empty()) {
    std::vector<double> complete;
    for (const auto& v : obs.values) complete.push_back(v[0]);
    std::nth_element(complete.begin(), complete.begin() + static_cast<long>(complete.size() / 2), complete.end());
    const double median = complete[complete.size() / 2];
    for (auto& [x, v] : pruned) {
      xs.push_back(std::move(x));
      obs.values.push_back({std::max(v, median)});
      obs.constraints.emplace_back();
    }
  }

  // Thinning: keep the best half (by the first objective) and a seeded random subset of the rest.
  if (xs.size() > options.max_observations) {
    std::vector<size_t> order(xs.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return obs.values[a][0] < obs.values[b][0]; });
    size_t keep_best = options.max_observations / 2;
    std::vector<size_t> rest(order.begin() + static_cast<long>(keep_best), order.end());
    std::mt19937_64 rng(trial_seed(study.seed(), static_cast<int64_t>(xs.size()), kSubsetSalt));
    std::shuffle(rest.begin(), rest.end(), rng);
    std::vector<size_t> chosen(order.begin(), order.begin() + static_cast<long>(keep_best));
    chosen.insert(chosen.end(), rest.begin(), rest.begin() + static_cast<long>(options.max_observations - keep_best));
    std::sort(chosen.begin(), chosen.end());
    Observations thin;
    std::vector<std::vector<double>> thin_x;
    for (size_t i : chosen) {
      thin_x.push_back(xs[i]);
      thin.values.push_back(obs.values[i]);
      thin.constraints.push_back(obs.constraints[i]);
      if (!obs.fidelity.empty()) thin.fidelity.push_back(obs.fidelity[i]);
    }
    xs = std::move(thin_x);
    obs.values = std::move(thin.values);
    obs.constraints = std::move(thin.constraints);
    obs.fidelity = std::move(thin.fidelity);
  }

  obs.x = Matrix(xs.size(), d);
  for (size_t i = 0; i < xs.size(); ++i) std::copy(xs[i].begin(), xs[i].end(), obs.x.row(i));
  obs.pending = Matrix(pending.size(), d);
  for (size_t i = 0; i < pending.size(); ++i) std::copy(pending[i].begin(), pending[i].end(), obs.pending.row(i));
  return obs;
}

TrustRegion trust_region_state(const std::vector<double>& values, size_t n_design, size_t d) {
  const double kInit = 0.4, kMax = 1.6, kMin = 1.0 / 128;
  const int succ_tol = 3, fail_tol = static_cast<int>(std::max<size_t>(4, d));
  TrustRegion tr{kInit, 0};
  double best = HUGE_VAL;  // best value of the current run (since the last restart)
  int succ = 0, fail = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (i >= n_design) {
      if (!std::isfinite(best) || v < best - 1e-3 * std::abs(best)) {
        ++succ;
        fail = 0;
      } else {
        ++fail;
        succ = 0;
      }
      if (succ == succ_tol) {
        tr.length = std::min(2 * tr.length, kMax);
        succ = 0;
      } else if (fail == fail_tol) {
        tr.length /= 2;
        fail = 0;
      }
    }
    best = std::min(best, v);
    if (tr.length < kMin) {
      // Restart: a new run that forgets its predecessor's incumbent (the model keeps all the data).
      tr = {kInit, i + 1};
      best = HUGE_VAL;
      succ = fail = 0;
    }
  }
  return tr;
}

BoStrategy::BoStrategy(const PluginParams& p) : options_(bo_options(p)) {
  // Fail at construction, not at the 11th ask, when the surrogate does not exist or rejects its parameters.
  models_["obj0"] = PluginRegistry::global().make_surrogate(options_.surrogate, options_.surrogate_params);
  initial_design_ = PluginRegistry::global().make_strategy("sobol", json::object());
}

SearchSpace BoStrategy::relative_space(const StudyView& study) { return intersection_space(study); }

std::shared_ptr<Surrogate> BoStrategy::fit_model(const SampleContext& ctx, const std::string& role,
                                                 const FitInput& base, std::vector<double> y) {
  const size_t d = base.X.cols;
  auto& model = models_[role];
  if (!model) model = PluginRegistry::global().make_surrogate(options_.surrogate, options_.surrogate_params);
  // The warm start lives in storage, not in this object, so that a process that just loaded the study
  // starts from the same hyper-parameters as one that has been asking all along.
  const std::string key = "bo:" + options_.surrogate + ":" + role;
  PluginState stored = ctx.study.plugin_state(key);
  FitInput input = base;
  input.y = std::move(y);
  input.seed = trial_seed(ctx.study.seed(), ctx.trial.number, kFitSalt ^ hash_string(role));
  if (stored.version > 0) {
    json blob = json::parse(stored.blob, nullptr, false);
    if (blob.is_object() && blob.value("d", size_t{0}) == d && blob.contains("state")) input.warm_start = blob["state"];
  }
  model->fit(input);
  json state = model->state();
  if (!state.is_null()) {
    json blob = {{"d", d}, {"state", state}};
    // Losing this race only costs the other writer's warm start; the proposal does not depend on who wins
    // within one ask, because this ask has already read its start.
    ctx.study.compare_and_swap_plugin_state(key, stored.version, blob.dump());
  }
  return model;
}

std::map<std::string, double> BoStrategy::sample_relative(const SampleContext& ctx, const SearchSpace& space) {
  if (space.empty()) return {};
  Observations obs = gather_observations(ctx.study, space, ctx.trial.number, options_);
  if (obs.x.rows < static_cast<size_t>(options_.n_startup_trials))
    return initial_design_->sample_relative(ctx, space);

  const size_t d = space.size();
  const size_t n = obs.x.rows;
  const size_t n_obj = ctx.study.directions().size();
  const size_t n_con = obs.constraints.empty() ? 0 : obs.constraints[0].size();

  FitInput base;
  base.dims = dimensions_of(space);
  base.X = obs.x;
  base.fidelity = obs.fidelity;

  AcquisitionProblem problem;
  problem.dims = base.dims;
  problem.observed_x = obs.x;
  problem.observed_y = Matrix(n, n_obj);
  problem.observed_c = Matrix(n, n_con);
  problem.pending = obs.pending;
  std::vector<std::shared_ptr<Surrogate>> keep;
  for (size_t k = 0; k < n_obj; ++k) {
    std::vector<double> y(n);
    for (size_t i = 0; i < n; ++i) y[i] = obs.values[i][k];
    y = transform_values(y, options_.output_transform);
    for (size_t i = 0; i < n; ++i) problem.observed_y(i, k) = y[i];
    keep.push_back(fit_model(ctx, "obj" + std::to_string(k), base, std::move(y)));
    problem.objectives.push_back(keep.back().get());
  }
  for (size_t j = 0; j < n_con; ++j) {
    std::vector<double> c(n);
    for (size_t i = 0; i < n; ++i) c[i] = problem.observed_c(i, j) = obs.constraints[i][j];
    keep.push_back(fit_model(ctx, "con" + std::to_string(j), base, std::move(c)));
    problem.constraints.push_back(keep.back().get());
  }

  std::unique_ptr<Acquisition> acq = make_acquisition(options_.acquisition, problem, ctx.rng);

  // Seeds for the optimizer: the best observed points (feasible first), where local refinement pays most.
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  auto score = [&](size_t i) {
    double infeasible = 0.0;
    for (size_t j = 0; j < n_con; ++j) infeasible += std::max(problem.observed_c(i, j), 0.0);
    double s = 0.0;
    for (size_t k = 0; k < n_obj; ++k) s += problem.observed_y(i, k);
    return std::make_pair(infeasible, s);
  };
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return score(a) < score(b); });
  size_t n_seeds = std::min<size_t>(n, 5);
  Matrix seeds(n_seeds, d);
  for (size_t s = 0; s < n_seeds; ++s) std::copy(obs.x.row(order[s]), obs.x.row(order[s]) + d, seeds.row(s));

  AcquisitionOptimizerOptions optimizer = options_.optimizer;
  const bool use_tr = n_obj == 1 && (options_.trust_region == "on" || (options_.trust_region == "auto" && d >= 5));
  if (use_tr) {
    // The results in trial order (complete trials; imputed pruned ones are left out of the success count).
    std::vector<double> history;
    std::vector<std::vector<double>> points;
    std::vector<double> unit;
    for (const FrozenTrial& t : ctx.study.trials())
      if (t.state == TrialState::kComplete && t.values.size() == 1 && std::isfinite(t.values[0]) && t.feasible() &&
          encode_trial(t, space, unit)) {
        history.push_back(ctx.study.directions()[0] == Direction::kMaximize ? -t.values[0] : t.values[0]);
        points.push_back(unit);
      }
    const TrustRegion tr = trust_region_state(history, static_cast<size_t>(options_.n_startup_trials), d);
    const double length = tr.length;
    const double* centre = seeds.row(0);  // the best (feasible) observation
    if (tr.restart_at > 0) {
      // After a restart the region moves to a new place: the first ask takes a fresh design point, later ones
      // centre on the best point found since the restart.
      if (tr.restart_at >= history.size()) return initial_design_->sample_relative(ctx, space);
      size_t arg = tr.restart_at;
      for (size_t i = tr.restart_at; i < history.size(); ++i)
        if (history[i] < history[arg]) arg = i;
      centre = points[arg].data();
    }
    // Per-dimension side lengths follow the model's lengthscales (normalized to a geometric mean of 1), as
    // in TuRBO, when the surrogate reports them.
    std::vector<double> weight(d, 1.0);
    json st = keep[0]->state();
    if (st.is_object() && st.contains("lengthscale") && st["lengthscale"].is_array() && st["lengthscale"].size() == d) {
      double log_mean = 0.0;
      for (size_t k = 0; k < d; ++k) log_mean += std::log(std::max(st["lengthscale"][k].get<double>(), 1e-12));
      log_mean /= static_cast<double>(d);
      for (size_t k = 0; k < d; ++k)
        weight[k] = std::max(st["lengthscale"][k].get<double>(), 1e-12) / std::exp(log_mean);
    }
    optimizer.box_lower.resize(d);
    optimizer.box_upper.resize(d);
    for (size_t k = 0; k < d; ++k) {
      double half = 0.5 * std::min(weight[k] * length, 2.0);
      optimizer.box_lower[k] = std::clamp(centre[k] - half, 0.0, 1.0);
      optimizer.box_upper[k] = std::clamp(centre[k] + half, 0.0, 1.0);
    }
  }
  AcquisitionOptimum best = optimize_acquisition(*acq, problem.dims, optimizer, ctx.rng, seeds);
  // Fantasies cannot always push a batch apart (a GP that believes the objective noisy gains little certainty
  // from one more point at the same place, and UCB may stay at a corner). Evaluating a point that is already
  // being evaluated is never the best use of a worker, so such a proposal gives way to the design point.
  // Compared after decoding: unit-cube points in one integer bin are the same parameters.
  std::map<std::string, double> proposal = space.decode(best.x);
  std::vector<double> snapped = space.encode(proposal);
  for (size_t i = 0; i < obs.pending.rows; ++i) {
    double gap = 0.0;
    for (size_t k = 0; k < d; ++k) gap = std::max(gap, std::abs(snapped[k] - obs.pending(i, k)));
    if (gap < 1e-9) return initial_design_->sample_relative(ctx, space);
  }
  return proposal;
}

double BoStrategy::sample_independent(const SampleContext& ctx, const std::string& name, const Distribution& d) {
  return independent_uniform(ctx, name, d, kIndependentSalt);
}

}  // namespace bbo::bo

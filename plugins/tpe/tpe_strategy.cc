// tpe_strategy.cc — see tpe_strategy.h.
#include "plugins/tpe/tpe_strategy.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "bbo/acquisition.h"
#include "bbo/error.h"

namespace bbo::tpe {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = 1e-12;
constexpr uint64_t kGroupSalt = 0x7e9a11u;        // per-group generators of the joint proposal
constexpr uint64_t kIndependentSalt = 0x7e9b22u;  // per-parameter generators of univariate TPE
constexpr uint64_t kStartupSalt = 0x7e9c33u;      // per-parameter uniform draws before n_startup_trials

uint64_t mix(uint64_t x) {  // splitmix64 finalizer: the trial-number hash of the group signatures
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The ranked history of a study, shared by every group and parameter of one ask.
struct History {
  std::vector<const FrozenTrial*> trials;
  std::vector<Score> scores;
  std::vector<double> violations;  // empty: no trial has constraints
  int64_t n = 0;                   // complete + pruned trials (running ones excluded)
};

History gather(const StudyView& study, int64_t asking, bool constant_liar) {
  History h;
  const bool mo = study.multi_objective();
  const size_t n_obj = study.directions().size();
  std::vector<double> signs;
  for (Direction d : study.directions()) signs.push_back(d == Direction::kMinimize ? 1.0 : -1.0);
  bool constrained = false;
  for (const FrozenTrial& t : study.trials()) {
    if (t.number == asking) continue;  // the trial being sampled: it has none of the parameters yet
    Score s;
    switch (t.state) {
      case TrialState::kComplete:
        if (t.values.size() != n_obj) continue;
        s.step = -kInf;
        for (size_t k = 0; k < n_obj; ++k) s.values.push_back(signs[k] * t.values[k]);
        break;
      case TrialState::kPruned:
        if (mo) continue;
        if (auto last = t.last_step()) {
          s.step = -static_cast<double>(last->first);
          s.values = {std::isnan(last->second) ? kInf : signs[0] * last->second};
        } else {
          s.step = 1.0;
          s.values = {0.0};
        }
        break;
      case TrialState::kRunning:
        if (mo || !constant_liar) continue;
        s.step = kInf;
        s.values = {signs[0] * kInf};
        break;
      default:
        continue;
    }
    if (t.state != TrialState::kRunning) {
      ++h.n;
      constrained = constrained || !t.constraints.empty();
    }
    h.trials.push_back(&t);
    h.scores.push_back(std::move(s));
  }
  if (constrained) {
    for (const FrozenTrial* t : h.trials) {
      double v = 0.0;
      if (t->state == TrialState::kRunning || t->constraints.empty()) {
        v = kInf;  // Optuna: running trials, and trials without constraint values, rank last
      } else {
        for (double c : t->constraints) v += std::isnan(c) ? kInf : (c > 0 ? c : 0.0);
      }
      h.violations.push_back(v);
    }
  }
  return h;
}

// The trial's internal value of `name`, NaN when it does not have it with distribution `d`.
double value_of(const FrozenTrial& t, const std::string& name, const Distribution& d) {
  auto it = t.params.find(name);
  if (it == t.params.end()) return std::nan("");
  auto dt = t.distributions.find(name);
  if (dt == t.distributions.end() || !same_distribution(dt->second, d)) return std::nan("");
  return it->second;
}

struct Split {
  std::vector<size_t> below, above;
  std::vector<double> mo_weights;  // MOTPE weights of `below` (empty for one objective)
};

Split split_history(const History& h, const TpeOptions& o, bool mo) {
  Split s;
  const int64_t gamma = o.hyperopt_gamma ? hyperopt_gamma(h.n) : default_gamma(h.n);
  auto [below, above] = split_observations(h.scores, static_cast<size_t>(std::max<int64_t>(gamma, 0)), h.violations);
  s.below = std::move(below);
  s.above = std::move(above);
  if (mo) s.mo_weights = weights_below_multi_objective(h.scores, s.below, h.violations);
  return s;
}

// Joint TPE over `names`: the best of n_ei_candidates draws from l(x) by log l(x) − log g(x).
std::map<std::string, double> sample_group(const History& h, const Split& split, const std::vector<std::string>& names,
                                           const std::vector<Distribution>& dists, const TpeOptions& o,
                                           std::mt19937_64& rng) {
  const size_t d = names.size();
  // The trials that have the group (Optuna masks by the first parameter: a group occurs as a whole).
  std::vector<std::vector<double>> values(d, std::vector<double>(h.trials.size()));
  std::vector<char> has(h.trials.size());
  for (size_t i = 0; i < h.trials.size(); ++i) {
    bool all = true;
    for (size_t p = 0; p < d; ++p) {
      values[p][i] = value_of(*h.trials[i], names[p], dists[p]);
      all = all && !std::isnan(values[p][i]);
    }
    has[i] = all;
  }
  auto columns = [&](const std::vector<size_t>& idx, const std::vector<double>* w, std::vector<double>* wout) {
    std::vector<std::vector<double>> c(d);
    for (size_t k = 0; k < idx.size(); ++k) {
      if (!has[idx[k]]) continue;
      for (size_t p = 0; p < d; ++p) c[p].push_back(values[p][idx[k]]);
      if (w) wout->push_back((*w)[k]);
    }
    return c;
  };
  std::vector<double> wb;
  auto below = columns(split.below, split.mo_weights.empty() ? nullptr : &split.mo_weights, &wb);
  auto above = columns(split.above, nullptr, nullptr);
  ParzenEstimator l(below, dists, o.parzen, wb);
  ParzenEstimator g(above, dists, o.parzen);
  auto candidates = l.sample(rng, static_cast<size_t>(o.n_ei_candidates));
  std::vector<double> ll = l.log_pdf(candidates), lg = g.log_pdf(candidates);
  size_t best = 0;
  double best_score = -kInf;
  for (size_t s = 0; s < ll.size(); ++s) {
    double score = ll[s] - lg[s];
    if (score > best_score) {
      best_score = score;
      best = s;
    }
  }
  std::map<std::string, double> out;
  for (size_t p = 0; p < d; ++p) out[names[p]] = candidates[p][best];
  return out;
}

double single_value(const Distribution& d) {
  if (const auto* f = std::get_if<FloatDistribution>(&d)) return f->low;
  if (const auto* i = std::get_if<IntDistribution>(&d)) return static_cast<double>(i->low);
  return 0.0;
}

// Exact hypervolume, WFG recursion: hv(P) = Σ_k [vol(p_k) − hv(limit(P after k, p_k))].
double hv_rec(std::vector<std::vector<double>> pts, const std::vector<double>& ref) {
  const size_t m = ref.size();
  pts.erase(std::remove_if(pts.begin(), pts.end(),
                           [&](const std::vector<double>& p) {
                             for (size_t k = 0; k < m; ++k)
                               if (!(p[k] < ref[k])) return true;
                             return false;
                           }),
            pts.end());
  if (pts.empty()) return 0.0;
  if (m == 1) {
    double lo = kInf;
    for (const auto& p : pts) lo = std::min(lo, p[0]);
    return ref[0] - lo;
  }
  if (m == 2) {
    std::sort(pts.begin(), pts.end());
    double area = 0.0, cur = ref[1];
    for (const auto& p : pts) {
      if (p[1] < cur) {
        area += (ref[0] - p[0]) * (cur - p[1]);
        cur = p[1];
      }
    }
    return area;
  }
  if (m == 3) {  // the framework's exact 3-D sweep (bbo/acquisition.h) is much faster than the recursion
    Matrix mat(pts.size(), 3);
    for (size_t i = 0; i < pts.size(); ++i)
      for (size_t k = 0; k < 3; ++k) mat(i, k) = pts[i][k];
    return bbo::hypervolume(mat, ref);
  }
  // Keep only nondominated points (dominated ones add nothing), sorted by the first objective, worst first.
  std::vector<std::vector<double>> nd;
  for (size_t i = 0; i < pts.size(); ++i) {
    bool dominated = false;
    for (size_t j = 0; j < pts.size() && !dominated; ++j) {
      if (i == j) continue;
      bool le = true, lt = false;
      for (size_t k = 0; k < m; ++k) {
        le = le && pts[j][k] <= pts[i][k];
        lt = lt || pts[j][k] < pts[i][k];
      }
      dominated = le && (lt || j < i);  // duplicates: keep the first
    }
    if (!dominated) nd.push_back(pts[i]);
  }
  std::sort(nd.begin(), nd.end(), [](const auto& a, const auto& b) { return a[0] > b[0]; });
  double total = 0.0;
  for (size_t k = 0; k < nd.size(); ++k) {
    double vol = 1.0;
    for (size_t j = 0; j < m; ++j) vol *= ref[j] - nd[k][j];
    std::vector<std::vector<double>> limit;
    for (size_t i = k + 1; i < nd.size(); ++i) {
      std::vector<double> q(m);
      for (size_t j = 0; j < m; ++j) q[j] = std::max(nd[k][j], nd[i][j]);
      limit.push_back(std::move(q));
    }
    total += vol - hv_rec(std::move(limit), ref);
  }
  return total;
}

std::vector<double> reference_point(const std::vector<std::vector<double>>& pts) {
  std::vector<double> ref(pts[0].size(), -kInf);
  for (const auto& p : pts)
    for (size_t k = 0; k < p.size(); ++k) ref[k] = std::max(ref[k], p[k]);
  for (double& r : ref) {
    r = std::max(1.1 * r, 0.9 * r);
    if (r == 0) r = kEps;
  }
  return ref;
}

std::pair<std::vector<size_t>, std::vector<size_t>> split_unconstrained(const std::vector<Score>& scores,
                                                                        size_t n_below) {
  const size_t n = scores.size();
  n_below = std::min(n_below, n);
  std::vector<size_t> below, above;
  const bool mo = n > 0 && scores[0].values.size() > 1;
  if (!mo) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    auto key = [&](size_t i) { return scores[i].values.empty() || std::isnan(scores[i].values[0]) ? kInf : scores[i].values[0]; };
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      if (scores[a].step != scores[b].step) return scores[a].step < scores[b].step;
      return key(a) < key(b);
    });
    below.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n_below));
    above.assign(order.begin() + static_cast<std::ptrdiff_t>(n_below), order.end());
    std::sort(below.begin(), below.end());
    std::sort(above.begin(), above.end());
    return {below, above};
  }
  std::vector<std::vector<double>> lv(n);
  for (size_t i = 0; i < n; ++i) lv[i] = scores[i].values;
  std::vector<int> ranks = nondomination_ranks(lv);
  int r = 0;
  for (;; ++r) {
    size_t cnt = static_cast<size_t>(std::count(ranks.begin(), ranks.end(), r));
    if (cnt == 0 || below.size() + cnt > n_below) break;
    for (size_t i = 0; i < n; ++i)
      if (ranks[i] == r) below.push_back(i);
  }
  if (below.size() < n_below) {
    std::vector<std::vector<double>> pts;
    std::vector<size_t> idx;
    for (size_t i = 0; i < n; ++i)
      if (ranks[i] == r) {
        pts.push_back(lv[i]);
        idx.push_back(i);
      }
    for (size_t pos : solve_hssp(pts, n_below - below.size(), reference_point(pts))) below.push_back(idx[pos]);
  }
  std::vector<char> in(n, 0);
  for (size_t i : below) in[i] = 1;
  for (size_t i = 0; i < n; ++i)
    if (!in[i]) above.push_back(i);
  return {below, above};
}

}  // namespace

std::vector<int> nondomination_ranks(const std::vector<std::vector<double>>& pts) {
  const size_t n = pts.size();
  std::vector<int> ranks(n, -1);
  auto dominated_by = [&](size_t i, size_t j) {  // j dominates i
    bool ge = true, gt = false;
    for (size_t k = 0; k < pts[i].size(); ++k) {
      ge = ge && pts[i][k] >= pts[j][k];
      gt = gt || pts[i][k] > pts[j][k];
    }
    return ge && gt;
  };
  size_t unranked = n;
  for (int rank = 0; unranked > 0; ++rank) {
    std::vector<size_t> now;
    for (size_t i = 0; i < n; ++i) {
      if (ranks[i] != -1) continue;
      bool free = true;
      for (size_t j = 0; j < n && free; ++j)
        if (ranks[j] == -1 && dominated_by(i, j)) free = false;
      if (free) now.push_back(i);
    }
    if (now.empty()) {  // only with NaN values: put the rest in one last rank
      for (size_t i = 0; i < n; ++i)
        if (ranks[i] == -1) now.push_back(i);
    }
    for (size_t i : now) ranks[i] = rank;
    unranked -= now.size();
  }
  return ranks;
}

double hypervolume(std::vector<std::vector<double>> points, const std::vector<double>& reference) {
  for (const auto& p : points)
    if (p.size() != reference.size())
      throw ValueError("hypervolume: a point has " + std::to_string(p.size()) + " objectives, the reference " +
                       std::to_string(reference.size()));
  return hv_rec(std::move(points), reference);
}

std::vector<size_t> solve_hssp(const std::vector<std::vector<double>>& pts, size_t k,
                               const std::vector<double>& ref) {
  std::vector<double> contrib(pts.size());
  for (size_t i = 0; i < pts.size(); ++i) contrib[i] = hypervolume({pts[i]}, ref);
  std::vector<char> taken(pts.size(), 0);
  std::vector<std::vector<double>> selected;
  std::vector<size_t> out;
  const size_t m = ref.size();
  while (out.size() < std::min(k, pts.size())) {
    size_t best = pts.size();
    for (size_t i = 0; i < pts.size(); ++i)
      if (!taken[i] && (best == pts.size() || contrib[i] > contrib[best])) best = i;
    taken[best] = 1;
    for (size_t j = 0; j < pts.size(); ++j) {
      if (taken[j]) continue;
      // j loses what it shares with the new point beyond the selected set: the exclusive hypervolume of
      // p = max(new, j) over `selected` (Optuna computes HV(selected ∪ {p}) − HV(selected); the same
      // quantity as vol(p) − HV({max(p, s)}), whose points are mostly dominated and cheap to drop).
      std::vector<double> p(m);
      double vol = 1.0;
      for (size_t d = 0; d < m; ++d) {
        p[d] = std::max(pts[best][d], pts[j][d]);
        vol *= std::max(0.0, ref[d] - p[d]);
      }
      std::vector<std::vector<double>> limit;
      limit.reserve(selected.size());
      for (const auto& s : selected) {
        std::vector<double> q(m);
        for (size_t d = 0; d < m; ++d) q[d] = std::max(p[d], s[d]);
        limit.push_back(std::move(q));
      }
      contrib[j] -= vol - hypervolume(std::move(limit), ref);
    }
    selected.push_back(pts[best]);
    out.push_back(best);
  }
  return out;
}

std::pair<std::vector<size_t>, std::vector<size_t>> split_observations(const std::vector<Score>& scores,
                                                                       size_t n_below,
                                                                       const std::vector<double>& violations) {
  if (violations.empty()) return split_unconstrained(scores, n_below);
  if (violations.size() != scores.size()) throw ValueError("split_observations: one violation per score");
  const size_t n = scores.size();
  n_below = std::min(n_below, n);
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return violations[a] < violations[b]; });
  std::vector<size_t> below, above;
  if (n_below >= n || violations[idx[n_below]] > 0) {
    below.assign(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n_below));
    above.assign(idx.begin() + static_cast<std::ptrdiff_t>(n_below), idx.end());
  } else {
    std::vector<size_t> feasible, infeasible;
    std::vector<Score> fs;
    for (size_t i = 0; i < n; ++i) {
      if (violations[i] == 0) {
        feasible.push_back(i);
        fs.push_back(scores[i]);
      } else {
        infeasible.push_back(i);
      }
    }
    auto [fb, fa] = split_unconstrained(fs, n_below);
    for (size_t i : fb) below.push_back(feasible[i]);
    for (size_t i : fa) above.push_back(feasible[i]);
    above.insert(above.end(), infeasible.begin(), infeasible.end());
  }
  std::sort(below.begin(), below.end());
  std::sort(above.begin(), above.end());
  return {below, above};
}

std::vector<double> weights_below_multi_objective(const std::vector<Score>& scores,
                                                  const std::vector<size_t>& indices,
                                                  const std::vector<double>& violations) {
  std::vector<double> out(indices.size(), kEps);
  std::vector<size_t> feasible;
  for (size_t k = 0; k < indices.size(); ++k)
    if (violations.empty() || violations[indices[k]] == 0) feasible.push_back(k);
  if (feasible.empty()) return out;
  if (feasible.size() == 1) {
    out[feasible[0]] = 1.0;
    return out;
  }
  std::vector<std::vector<double>> lv;
  for (size_t k : feasible) lv.push_back(scores[indices[k]].values);
  const std::vector<double> ref = reference_point(lv);
  const double hv = hypervolume(lv, ref);
  std::vector<double> contrib(lv.size());
  double mx = 0.0;
  for (size_t i = 0; i < lv.size(); ++i) {
    std::vector<std::vector<double>> rest;
    for (size_t j = 0; j < lv.size(); ++j)
      if (j != i) rest.push_back(lv[j]);
    contrib[i] = hv - hypervolume(std::move(rest), ref) + kEps;
    mx = std::max(mx, contrib[i]);
  }
  for (size_t i = 0; i < lv.size(); ++i) out[feasible[i]] = std::clamp(contrib[i] / mx, 0.0, 1.0);
  return out;
}

std::vector<ParamSpec> tpe_param_specs() {
  return {{"n_startup_trials", "int", 10, "uniform random sampling until this many trials are complete or pruned"},
          {"n_ei_candidates", "int", 24, "candidates drawn from l(x) and scored by l(x)/g(x)"},
          {"gamma", "string", "default", "size of `below`: default = min(ceil(0.1 n), 25); hyperopt = min(ceil(0.25 sqrt(n)), 25)"},
          {"weights", "string", "default", "observation weights: default (Optuna: ramp for the oldest when n >= 25) or uniform"},
          {"prior_weight", "float", 1.0, "weight of the prior kernel (and of the categorical smoothing)"},
          {"consider_prior", "bool", true, "add a prior kernel (centre of the domain, width = range)"},
          {"consider_magic_clip", "bool", true, "bound bandwidths below by range / min(100, 1 + kernels)"},
          {"consider_endpoints", "bool", false, "univariate bandwidths: domain ends count as neighbours of the extreme kernels"},
          {"multivariate", "bool", true, "joint kernels over the relative space (Optuna's multivariate TPE)"},
          {"group", "bool", true, "decompose the space into groups of parameters that always occur together (needs multivariate)"},
          {"optuna31_kernels", "bool", true, "score with Optuna 3.1's kernel log-density, which omits 1/sigma of continuous kernels (false: normalized kernels)"},
          {"constant_liar", "bool", true, "running trials count as the worst results (parallel workers and ask(n) batches diversify)"}};
}

TpeOptions tpe_options(const PluginParams& p) {
  TpeOptions o;
  o.n_startup_trials = p.get_int("n_startup_trials");
  if (o.n_startup_trials < 0)
    throw ConfigError("plugin 'tpe': parameter 'n_startup_trials' must be >= 0, got " + std::to_string(o.n_startup_trials));
  o.n_ei_candidates = p.get_int("n_ei_candidates");
  if (o.n_ei_candidates < 1)
    throw ConfigError("plugin 'tpe': parameter 'n_ei_candidates' must be >= 1, got " + std::to_string(o.n_ei_candidates));
  std::string gamma = p.get_string("gamma");
  if (gamma != "default" && gamma != "hyperopt")
    throw ConfigError("plugin 'tpe': parameter 'gamma' must be \"default\" or \"hyperopt\", got \"" + gamma + "\"");
  o.hyperopt_gamma = gamma == "hyperopt";
  std::string weights = p.get_string("weights");
  if (weights != "default" && weights != "uniform")
    throw ConfigError("plugin 'tpe': parameter 'weights' must be \"default\" or \"uniform\", got \"" + weights + "\"");
  o.parzen.uniform_weights = weights == "uniform";
  o.parzen.prior_weight = p.get_float("prior_weight");
  if (!(o.parzen.prior_weight > 0) || !std::isfinite(o.parzen.prior_weight))
    throw ConfigError("plugin 'tpe': parameter 'prior_weight' must be a finite number > 0, got " +
                      std::to_string(o.parzen.prior_weight));
  o.parzen.consider_prior = p.get_bool("consider_prior");
  o.parzen.consider_magic_clip = p.get_bool("consider_magic_clip");
  o.parzen.consider_endpoints = p.get_bool("consider_endpoints");
  o.parzen.multivariate = p.get_bool("multivariate");
  o.group = p.get_bool("group");
  o.constant_liar = p.get_bool("constant_liar");
  o.parzen.optuna31_kernels = p.get_bool("optuna31_kernels");
  if (o.group && !o.parzen.multivariate)
    throw ConfigError("plugin 'tpe': parameter 'group' needs 'multivariate': set multivariate to true or group to false");
  return o;
}

TpeStrategy::TpeStrategy(const PluginParams& p) : o_(tpe_options(p)) {}
TpeStrategy::TpeStrategy(TpeOptions options) : o_(std::move(options)) {}

void TpeStrategy::update_decomposition(const StudyView& study) {
  if (study.study_id() != study_id_) {  // a strategy object reused for another study starts over
    study_id_ = study.study_id();
    seen_.clear();
    names_.clear();
    n_finished_ = 0;
  }
  for (const FrozenTrial& t : study.trials()) {
    if (t.state != TrialState::kComplete && t.state != TrialState::kPruned) continue;
    const auto number = static_cast<size_t>(t.number);
    if (number >= seen_.size()) seen_.resize(number + 1, 0);
    if (seen_[number]) continue;
    seen_[number] = 1;
    ++n_finished_;
    const uint64_t h = mix(static_cast<uint64_t>(t.number));
    for (const auto& [name, dist] : t.distributions) {
      auto [it, fresh] = names_.try_emplace(name, NameInfo{dist});
      NameInfo& info = it->second;
      if (!fresh && !same_distribution(info.dist, dist)) info.conflict = true;
      info.signature ^= h;
      ++info.count;
    }
  }
}

SearchSpace TpeStrategy::relative_space(const StudyView& study) {
  groups_.clear();
  space_ = SearchSpace();
  if (!o_.parzen.multivariate) return space_;
  update_decomposition(study);
  if (o_.group) {
    // Same set of trials ⇔ same group (what Optuna's successive partition refinement computes).
    std::map<uint64_t, size_t> by_signature;
    for (const auto& [name, info] : names_) {
      if (info.conflict || is_single(info.dist)) continue;
      auto [it, fresh] = by_signature.try_emplace(info.signature, groups_.size());
      if (fresh) groups_.emplace_back();
      groups_[it->second].push_back(name);
      space_.add(name, info.dist);
    }
  } else {
    Group all;
    for (const auto& [name, info] : names_) {
      if (info.conflict || is_single(info.dist) || info.count != n_finished_) continue;
      all.push_back(name);
      space_.add(name, info.dist);
    }
    if (!all.empty()) groups_.push_back(std::move(all));
  }
  return space_;
}

std::map<std::string, double> TpeStrategy::sample_relative(const SampleContext& ctx, const SearchSpace& space) {
  std::map<std::string, double> out;
  if (groups_.empty() || space.empty()) return out;
  const History h = gather(ctx.study, ctx.trial.number, o_.constant_liar);
  if (h.n < o_.n_startup_trials || h.n == 0) return out;
  const Split split = split_history(h, o_, ctx.study.multi_objective());
  for (const Group& group : groups_) {
    std::vector<std::string> names;
    std::vector<Distribution> dists;
    for (const std::string& name : group) {
      if (!space.has(name)) continue;
      names.push_back(name);
      dists.push_back(space.at(name));
    }
    if (names.empty()) continue;
    std::mt19937_64 rng(trial_seed(ctx.study.seed(), ctx.trial.number, hash_string(names[0]) ^ kGroupSalt));
    auto values = sample_group(h, split, names, dists, o_, rng);
    out.insert(values.begin(), values.end());
  }
  return out;
}

double TpeStrategy::sample_independent(const SampleContext& ctx, const std::string& name, const Distribution& d) {
  if (is_single(d)) return single_value(d);
  const History h = gather(ctx.study, ctx.trial.number, o_.constant_liar);
  if (h.n < o_.n_startup_trials || h.n == 0) return independent_uniform(ctx, name, d, kStartupSalt);
  const Split split = split_history(h, o_, ctx.study.multi_objective());
  std::mt19937_64 rng(trial_seed(ctx.study.seed(), ctx.trial.number, hash_string(name) ^ kIndependentSalt));
  return sample_group(h, split, {name}, {d}, o_, rng).at(name);
}

}  // namespace bbo::tpe

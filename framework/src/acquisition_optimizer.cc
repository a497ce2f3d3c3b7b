// The acquisition optimizer: scored candidates (scrambled Sobol + perturbations of seed points + uniform),
// then the best distinct candidates refined by NLopt on the continuous coordinates (L-BFGS with gradients,
// BOBYQA/COBYLA without) and a steepest-ascent coordinate search over neighbouring grid levels and other
// categorical choices.
#include <nlopt.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "bbo/acquisition.h"
#include "bbo/error.h"
#include "bbo/qmc.h"

namespace bbo {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

bool is_discrete(const Dimension& d) { return d.kind != DimensionKind::kContinuous && d.levels >= 1; }

size_t level_of(const Dimension& d, double x) {
  double l = static_cast<double>(d.levels);
  double i = std::floor(x * l);
  return static_cast<size_t>(std::clamp(i, 0.0, l - 1));
}

double centre(const Dimension& d, size_t i) { return (static_cast<double>(i) + 0.5) / static_cast<double>(d.levels); }

double clean(double v) { return std::isnan(v) ? kNegInf : v; }

// Context of one continuous local search: the full point with the discrete coordinates fixed.
struct LocalSearch {
  const Acquisition* acq;
  size_t d;
  std::vector<size_t> idx;  // continuous coordinates being optimized
  std::vector<double> x, g;
  Matrix one;
  bool gradient;
  double best_v = kNegInf;
  std::vector<double> best_x;
  size_t evals = 0;
};

double objective(unsigned n, const double* z, double* grad, void* data) {
  auto& c = *static_cast<LocalSearch*>(data);
  for (unsigned i = 0; i < n; ++i) c.x[c.idx[i]] = std::clamp(z[i], 0.0, 1.0);
  double v;
  ++c.evals;
  if (c.gradient) {
    if (!c.acq->evaluate_with_gradient(c.x.data(), v, c.g.data())) v = kNegInf;
  } else {
    std::copy(c.x.begin(), c.x.end(), c.one.data.begin());
    std::vector<double> out;
    c.acq->evaluate(c.one, out);
    v = out.at(0);
  }
  v = clean(v);
  bool ok = std::isfinite(v);
  if (grad)
    for (unsigned i = 0; i < n; ++i) grad[i] = ok && std::isfinite(c.g[c.idx[i]]) ? -c.g[c.idx[i]] : 0.0;
  if (v > c.best_v) {
    c.best_v = v;
    c.best_x = c.x;
  }
  // A huge finite value keeps NLopt's line searches well defined where the acquisition is -inf.
  return ok ? -v : 1e300;
}

// Refines x (value v) on the continuous coordinates; returns the evaluations spent.
size_t refine_continuous(const Acquisition& acq, const std::vector<size_t>& cont, size_t max_evals, double radius,
                         const std::vector<double>& box_lo, const std::vector<double>& box_hi, std::vector<double>& x,
                         double& v) {
  if (cont.empty() || max_evals == 0 || !std::isfinite(v)) return 0;
  LocalSearch c{&acq, x.size(), cont, x, std::vector<double>(x.size(), 0.0), Matrix(1, x.size()), acq.has_gradient(),
                v,    x,        0};
  unsigned n = static_cast<unsigned>(cont.size());
  nlopt_algorithm alg = c.gradient ? NLOPT_LD_LBFGS : (n >= 2 ? NLOPT_LN_BOBYQA : NLOPT_LN_COBYLA);
  nlopt_opt opt = nlopt_create(alg, n);
  if (!opt) return 0;
  std::vector<double> lb(n, 0.0), ub(n, 1.0), z(n);
  for (unsigned i = 0; i < n; ++i) {
    z[i] = std::clamp(x[cont[i]], 0.0, 1.0);
    lb[i] = std::max(box_lo[cont[i]], z[i] - radius);
    ub[i] = std::min(box_hi[cont[i]], z[i] + radius);
    if (lb[i] > ub[i]) lb[i] = ub[i] = std::clamp(z[i], box_lo[cont[i]], box_hi[cont[i]]);  // start outside the box
    z[i] = std::clamp(z[i], lb[i], ub[i]);
  }
  nlopt_set_lower_bounds(opt, lb.data());
  nlopt_set_upper_bounds(opt, ub.data());
  nlopt_set_min_objective(opt, objective, &c);
  nlopt_set_maxeval(opt, static_cast<int>(std::min<size_t>(max_evals, 1u << 30)));
  nlopt_set_xtol_rel(opt, 1e-7);
  nlopt_set_ftol_rel(opt, 1e-10);
  if (!c.gradient) nlopt_set_initial_step1(opt, 0.05);
  double f = 0;
  nlopt_optimize(opt, z.data(), &f);  // failures (round-off, forced stop) still leave the best point tracked
  nlopt_destroy(opt);
  if (c.best_v > v) {
    v = c.best_v;
    x = c.best_x;
  }
  return c.evals;
}

// Steepest-ascent search over the discrete coordinates: neighbouring grid levels and every other categorical
// choice (at most 64, drawn by rng when there are more), one batch per step. Returns whether x improved.
bool refine_discrete(const Acquisition& acq, const std::vector<Dimension>& dims, const std::vector<size_t>& disc,
                     size_t max_evals, std::mt19937_64& rng, std::vector<double>& x, double& v) {
  size_t d = x.size(), spent = 0;
  bool improved = false;
  std::vector<double> out;
  while (spent < max_evals) {
    Matrix N(0, d);
    auto add = [&](size_t k, size_t level) {
      N.data.insert(N.data.end(), x.begin(), x.end());
      N.data[N.rows * d + k] = centre(dims[k], level);
      ++N.rows;
    };
    for (size_t k : disc) {
      const Dimension& dim = dims[k];
      size_t cur = level_of(dim, x[k]);
      if (dim.kind == DimensionKind::kGrid) {
        if (cur > 0) add(k, cur - 1);
        if (cur + 1 < dim.levels) add(k, cur + 1);
      } else if (dim.levels <= 65) {
        for (size_t l = 0; l < dim.levels; ++l)
          if (l != cur) add(k, l);
      } else {
        std::uniform_int_distribution<size_t> pick(0, dim.levels - 1);
        for (int t = 0; t < 64; ++t) {
          size_t l = pick(rng);
          if (l != cur) add(k, l);
        }
      }
    }
    if (N.rows == 0) break;
    acq.evaluate(N, out);
    spent += N.rows;
    size_t arg = 0;
    double bv = kNegInf;
    for (size_t i = 0; i < N.rows; ++i)
      if (clean(out[i]) > bv) bv = clean(out[i]), arg = i;
    if (!(bv > v)) break;
    v = bv;
    std::copy(N.row(arg), N.row(arg) + d, x.begin());
    improved = true;
  }
  return improved;
}

}  // namespace

void snap_to_dimensions(const std::vector<Dimension>& dims, double* x) {
  for (size_t k = 0; k < dims.size(); ++k) {
    double v = std::isnan(x[k]) ? 0.5 : std::clamp(x[k], 0.0, 1.0);
    if (is_discrete(dims[k])) v = centre(dims[k], level_of(dims[k], v));
    x[k] = v;
  }
}

AcquisitionOptimum optimize_acquisition(const Acquisition& acq, const std::vector<Dimension>& dims,
                                        const AcquisitionOptimizerOptions& options, std::mt19937_64& rng,
                                        const Matrix& seeds) {
  const size_t d = dims.size();
  if (seeds.rows > 0 && seeds.cols != d)
    throw ValueError("optimize_acquisition: seeds have " + std::to_string(seeds.cols) + " columns for " +
                     std::to_string(d) + " dimensions");
  for (const Dimension& dim : dims)
    if (dim.kind != DimensionKind::kContinuous && dim.levels == 0)
      throw ValueError("optimize_acquisition: a grid/categorical dimension has 0 levels");
  AcquisitionOptimum best;
  if (d == 0) {
    std::vector<double> out;
    acq.evaluate(Matrix(1, 0), out);
    best.value = out.empty() ? kNegInf : clean(out[0]);
    return best;
  }

  // ---- Candidates: [uniform fallback] [seeds] [perturbations of seeds] [uniform] [Sobol] ----
  const size_t n = std::max<size_t>(options.n_candidates, 1);
  const bool boxed = !options.box_lower.empty();
  if (boxed && (options.box_lower.size() != d || options.box_upper.size() != d))
    throw ValueError("optimize_acquisition: the box must have one lower and one upper bound per dimension");
  std::vector<double> lo(d, 0.0), hi(d, 1.0);
  if (boxed)
    for (size_t k = 0; k < d; ++k)
      if (dims[k].kind != DimensionKind::kCategorical) {
        lo[k] = std::clamp(options.box_lower[k], 0.0, 1.0);
        hi[k] = std::clamp(options.box_upper[k], lo[k], 1.0);
      }
  // Uniform/Sobol coordinates are mapped into the box; perturbations are clamped to it.
  auto into_box = [&](std::vector<double>& v) {
    if (boxed)
      for (size_t k = 0; k < d; ++k) v[k] = lo[k] + v[k] * (hi[k] - lo[k]);
  };
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  std::normal_distribution<double> normal(0.0, 1.0);
  Matrix C(0, d);
  auto push = [&](const double* r) {
    C.data.insert(C.data.end(), r, r + d);
    snap_to_dimensions(dims, C.row(C.rows));
    ++C.rows;
  };
  std::vector<double> r(d);
  for (auto& v : r) v = unif(rng);
  into_box(r);
  push(r.data());  // row 0: the uniform fallback
  std::vector<size_t> seed_rows;
  for (size_t i = 0; i < seeds.rows; ++i) {
    bool ok = true;
    for (size_t k = 0; k < d; ++k) ok = ok && std::isfinite(seeds(i, k));
    if (ok) seed_rows.push_back(i), push(seeds.row(i));
  }
  const size_t n_pert = seed_rows.empty() ? 0 : n * 3 / 10;
  const size_t n_unif = std::max<size_t>(n / 10, 1) - 1;
  size_t n_discrete = 0;
  for (const Dimension& dim : dims) n_discrete += is_discrete(dim);
  const double p_switch = n_discrete ? std::min(0.5, 1.0 / static_cast<double>(n_discrete)) : 0.0;
  static const double kScales[] = {0.01, 0.03, 0.1, 0.3};
  for (size_t m = 0; m < n_pert; ++m) {
    const double* s = seeds.row(seed_rows[m % seed_rows.size()]);
    double sigma = kScales[(m / seed_rows.size()) % 4];
    for (size_t k = 0; k < d; ++k) {
      if (dims[k].kind == DimensionKind::kCategorical) {
        r[k] = unif(rng) < p_switch ? unif(rng) : s[k];
      } else {
        double v = s[k] + sigma * normal(rng);
        if (v < 0) v = -v;  // reflect at the faces
        if (v > 1) v = 2 - v;
        r[k] = std::clamp(v, lo[k], hi[k]);
      }
    }
    push(r.data());
  }
  for (size_t m = 0; m < n_unif; ++m) {
    for (auto& v : r) v = unif(rng);
    into_box(r);
    push(r.data());
  }
  size_t used = C.rows;
  size_t n_qmc = n > used ? n - used : 0;
  if (n_qmc > 0) {
    if (options.sobol_candidates) {
      Matrix S = sobol_points(n_qmc, d, rng);
      for (size_t m = 0; m < n_qmc; ++m) {
        r.assign(S.row(m), S.row(m) + d);
        into_box(r);
        push(r.data());
      }
    } else {
      for (size_t m = 0; m < n_qmc; ++m) {
        for (auto& v : r) v = unif(rng);
        into_box(r);
        push(r.data());
      }
    }
  }

  std::vector<double> vals;
  acq.evaluate(C, vals);
  if (vals.size() != C.rows) throw Error("optimize_acquisition: the acquisition returned a wrong number of values");
  for (double& v : vals) v = clean(v);
  std::vector<size_t> order(C.rows);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return vals[a] > vals[b]; });
  size_t top = order[0];
  if (!std::isfinite(vals[top]) && !(vals[top] > 0)) top = 0;  // all -inf: the uniform fallback
  best.x.assign(C.row(top), C.row(top) + d);
  best.value = vals[top];

  if (options.local_search && acq.supports_local_search() && std::isfinite(best.value)) {
    std::vector<size_t> cont, disc;
    for (size_t k = 0; k < d; ++k) (is_discrete(dims[k]) ? disc : cont).push_back(k);
    // Starts: the best candidate, then the next best ones at least 0.05·sqrt(d) away from every start so far
    // (distinct basins rather than several perturbations of one peak); topped up with the best remaining
    // distinct candidates when too few are that far apart.
    std::vector<size_t> starts;
    const double min_dist2 = 0.0025 * static_cast<double>(d);
    auto dist2 = [&](size_t a, size_t b) {
      double s2 = 0;
      for (size_t k = 0; k < d; ++k) s2 += (C(a, k) - C(b, k)) * (C(a, k) - C(b, k));
      return s2;
    };
    for (double threshold : {min_dist2, 0.0}) {
      for (size_t i : order) {
        if (starts.size() >= options.n_local_starts || !std::isfinite(vals[i])) break;
        bool close = false;
        for (size_t s : starts) close = close || dist2(s, i) <= threshold;
        if (!close) starts.push_back(i);
      }
    }
    for (size_t s : starts) {
      std::vector<double> x(C.row(s), C.row(s) + d);
      double v = vals[s];
      size_t budget = options.max_local_evals;
      for (int round = 0; round < 3 && budget > 0; ++round) {
        size_t spent = refine_continuous(acq, cont, budget, options.local_radius, lo, hi, x, v);
        budget -= std::min(budget, spent);
        if (disc.empty()) break;
        if (!refine_discrete(acq, dims, disc, std::max<size_t>(budget, 1), rng, x, v)) break;
        if (cont.empty()) break;
      }
      if (v > best.value) {
        best.value = v;
        best.x = x;
      }
    }
  }
  snap_to_dimensions(dims, best.x.data());
  return best;
}

}  // namespace bbo

#include "surrogates/gp/batch_lbfgs.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <string>

#include "bbo/error.h"

namespace bbo::gp {
namespace {

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0.0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

struct Run {
  std::vector<double> x, g;  // current accepted point and its gradient
  double f = 0.0;
  std::deque<std::vector<double>> S, Y;  // history, oldest first
  std::deque<double> rho;
  std::vector<double> d;     // search direction
  double t = 1.0;            // step along d
  std::vector<double> xt;    // trial point
  double slope = 0.0;        // gᵀ(x_t − x) of the trial
  int backtracks = 0;
  bool active = true;
  BatchLbfgsResult result;
};

// The search direction of a run at its accepted point (false: no descent direction, the run has converged).
bool direction(Run& r, const std::vector<double>& lo, const std::vector<double>& hi) {
  const size_t P = r.x.size();
  std::vector<char> fixed(P, 0);
  for (size_t i = 0; i < P; ++i)
    fixed[i] = (r.x[i] <= lo[i] && r.g[i] > 0) || (r.x[i] >= hi[i] && r.g[i] < 0) || lo[i] == hi[i];
  std::vector<double> q(P);
  for (size_t i = 0; i < P; ++i) q[i] = fixed[i] ? 0.0 : r.g[i];
  double gmax = 0.0;
  for (double v : q) gmax = std::max(gmax, std::fabs(v));
  if (!(gmax > 0.0)) return false;
  auto steepest = [&] {
    // Scaled so that the first trial moves no coordinate by more than 1 (θ is in log units).
    const double scale = 1.0 / std::max(1.0, gmax);
    for (size_t i = 0; i < P; ++i) r.d[i] = -scale * q[i];
  };
  r.d.assign(P, 0.0);
  if (r.S.empty()) {
    steepest();
    return true;
  }
  const size_t m = r.S.size();
  std::vector<double> a(m);
  for (size_t k = m; k-- > 0;) {
    a[k] = r.rho[k] * dot(r.S[k], q);
    for (size_t i = 0; i < P; ++i) q[i] -= a[k] * r.Y[k][i];
  }
  const double gamma = dot(r.S.back(), r.Y.back()) / dot(r.Y.back(), r.Y.back());
  for (double& v : q) v *= gamma;
  for (size_t k = 0; k < m; ++k) {
    const double b = r.rho[k] * dot(r.Y[k], q);
    for (size_t i = 0; i < P; ++i) q[i] += r.S[k][i] * (a[k] - b);
  }
  double slope = 0.0;
  for (size_t i = 0; i < P; ++i) {
    r.d[i] = fixed[i] ? 0.0 : -q[i];
    slope += r.g[i] * r.d[i];
  }
  if (!(slope < 0.0) || !std::isfinite(slope)) {
    // The history no longer describes the curvature here: start afresh.
    r.S.clear();
    r.Y.clear();
    r.rho.clear();
    steepest();
  }
  return true;
}

// The projected trial point x + t·d and its slope; false when the projection does not move x downhill.
bool make_trial(Run& r, const std::vector<double>& lo, const std::vector<double>& hi) {
  const size_t P = r.x.size();
  r.xt.resize(P);
  r.slope = 0.0;
  bool moved = false;
  for (size_t i = 0; i < P; ++i) {
    r.xt[i] = std::clamp(r.x[i] + r.t * r.d[i], lo[i], hi[i]);
    moved = moved || r.xt[i] != r.x[i];
    r.slope += r.g[i] * (r.xt[i] - r.x[i]);
  }
  return moved && r.slope < 0.0;
}

}  // namespace

std::vector<BatchLbfgsResult> batch_lbfgs_minimize(const BatchObjective& objective,
                                                   const std::vector<std::vector<double>>& starts,
                                                   const std::vector<double>& lo, const std::vector<double>& hi,
                                                   const BatchLbfgsOptions& o) {
  const size_t P = lo.size(), B = starts.size();
  if (hi.size() != P) throw ValueError("batch_lbfgs: lower and upper bounds differ in size");
  for (size_t i = 0; i < P; ++i)
    if (!(lo[i] <= hi[i])) throw ValueError("batch_lbfgs: bound " + std::to_string(i) + " has lower > upper");
  for (const auto& s : starts)
    if (s.size() != P)
      throw ValueError("batch_lbfgs: a start has " + std::to_string(s.size()) + " coordinates, expected " +
                       std::to_string(P));
  if (o.max_evals < 1 || o.history < 1 || o.max_backtracks < 1)
    throw ValueError("batch_lbfgs: max_evals, history and max_backtracks must be >= 1");
  std::vector<Run> runs(B);
  std::vector<double> X, values, grads;
  std::vector<size_t> who;  // run of each row of the batch

  auto evaluate = [&] {
    values.assign(who.size(), 0.0);
    grads.assign(who.size() * P, 0.0);
    if (!who.empty()) objective(X.data(), who.size(), values.data(), grads.data());
    for (size_t b = 0; b < who.size(); ++b) {
      Run& r = runs[who[b]];
      ++r.result.evals;
      double& v = values[b];
      const double* g = grads.data() + b * P;
      bool finite = std::isfinite(v);
      for (size_t i = 0; i < P && finite; ++i) finite = std::isfinite(g[i]);
      if (!finite) v = std::numeric_limits<double>::infinity();
      if (finite && v < r.result.f) {
        r.result.f = v;
        r.result.x.assign(X.begin() + static_cast<std::ptrdiff_t>(b * P),
                          X.begin() + static_cast<std::ptrdiff_t>((b + 1) * P));
      }
    }
  };

  // Round 0: every start point.
  X.clear();
  who.clear();
  for (size_t s = 0; s < B; ++s) {
    runs[s].x.resize(P);
    for (size_t i = 0; i < P; ++i) runs[s].x[i] = std::clamp(starts[s][i], lo[i], hi[i]);
    X.insert(X.end(), runs[s].x.begin(), runs[s].x.end());
    who.push_back(s);
  }
  evaluate();
  for (size_t b = 0; b < who.size(); ++b) {
    Run& r = runs[who[b]];
    r.f = values[b];
    r.g.assign(grads.begin() + static_cast<std::ptrdiff_t>(b * P), grads.begin() + static_cast<std::ptrdiff_t>((b + 1) * P));
    r.active = std::isfinite(r.f) && r.result.evals < o.max_evals && direction(r, lo, hi);
    r.t = 1.0;
    while (r.active && !make_trial(r, lo, hi)) {
      // Projection killed the descent: drop the history once; with steepest descent it means a KKT point.
      if (r.S.empty()) r.active = false;
      r.S.clear(), r.Y.clear(), r.rho.clear();
      if (r.active) r.active = direction(r, lo, hi);
    }
  }

  for (;;) {
    X.clear();
    who.clear();
    for (size_t s = 0; s < B; ++s)
      if (runs[s].active) {
        X.insert(X.end(), runs[s].xt.begin(), runs[s].xt.end());
        who.push_back(s);
      }
    if (who.empty()) break;
    evaluate();
    for (size_t b = 0; b < who.size(); ++b) {
      Run& r = runs[who[b]];
      const double ft = values[b];
      const bool budget_left = r.result.evals < o.max_evals;
      if (std::isfinite(ft) && ft <= r.f + o.armijo * r.slope) {
        // Accepted: update the history and test convergence.
        std::vector<double> gt(grads.begin() + static_cast<std::ptrdiff_t>(b * P),
                               grads.begin() + static_cast<std::ptrdiff_t>((b + 1) * P));
        std::vector<double> s(P), y(P);
        bool small_step = true;
        for (size_t i = 0; i < P; ++i) {
          s[i] = r.xt[i] - r.x[i];
          y[i] = gt[i] - r.g[i];
          small_step = small_step && std::fabs(s[i]) <= o.xtol_rel * std::fabs(r.xt[i]);
        }
        const double sy = dot(s, y), yy = dot(y, y);
        if (sy > 1e-12 * std::sqrt(dot(s, s) * yy) && yy > 0) {
          r.S.push_back(std::move(s));
          r.Y.push_back(std::move(y));
          r.rho.push_back(1.0 / sy);
          if (static_cast<int>(r.S.size()) > o.history) {
            r.S.pop_front();
            r.Y.pop_front();
            r.rho.pop_front();
          }
        }
        const double improvement = r.f - ft;
        r.x = r.xt;
        r.f = ft;
        r.g = std::move(gt);
        r.backtracks = 0;
        r.t = 1.0;
        r.active = budget_left && improvement >= o.ftol_abs && !small_step && direction(r, lo, hi);
        while (r.active && !make_trial(r, lo, hi)) {
          if (r.S.empty()) r.active = false;
          r.S.clear(), r.Y.clear(), r.rho.clear();
          if (r.active) r.active = direction(r, lo, hi);
        }
      } else {
        // Rejected: shrink the step (quadratic model of f along the projected path, safeguarded).
        double factor = 0.25;
        if (std::isfinite(ft)) {
          const double curv = ft - r.f - r.slope;  // > 0 here since ft > f + c₁·slope > f + slope
          factor = curv > 0 ? std::clamp(-r.slope / (2.0 * curv), 0.1, 0.5) : 0.5;
        }
        r.t *= factor;
        ++r.backtracks;
        r.active = budget_left && r.backtracks < o.max_backtracks && make_trial(r, lo, hi);
      }
    }
  }
  std::vector<BatchLbfgsResult> out;
  out.reserve(B);
  for (auto& r : runs) out.push_back(std::move(r.result));
  return out;
}

}  // namespace bbo::gp

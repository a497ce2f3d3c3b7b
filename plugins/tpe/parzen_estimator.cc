// parzen_estimator.cc — see parzen_estimator.h.
#include "plugins/tpe/parzen_estimator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include <boost/math/special_functions/erf.hpp>

#include "bbo/error.h"

namespace bbo::tpe {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kEps = 1e-12;
constexpr double kSigma0Magnitude = 0.2;
const double kLogSqrt2Pi = 0.5 * std::log(2.0 * M_PI);

// Φ(a) by erfc on the side where it does not cancel.
double ndtr(double a) {
  double x = a * M_SQRT1_2;
  if (x < -M_SQRT1_2) return 0.5 * std::erfc(-x);
  if (x < M_SQRT1_2) return 0.5 + 0.5 * std::erf(x);
  return 1.0 - 0.5 * std::erfc(x);
}

// log(exp(lp) - exp(lq)) for lp >= lq.
double log_diff(double lp, double lq) {
  if (lq == -kInf) return lp;
  return lp + std::log1p(-std::exp(lq - lp));
}

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

// Φ^-1(exp(y)) for y <= 0.
double ndtri_exp(double y) {
  if (y >= 0) return kInf;
  if (y > -700.0) {
    double p = std::exp(y);
    if (p >= 1.0) return kInf;
    if (p > 0.5) {
      // The upper half: 1 - p = -expm1(y) keeps the digits that p would lose.
      double r = -std::expm1(y);
      return M_SQRT2 * boost::math::erfc_inv(2.0 * r);
    }
    return -M_SQRT2 * boost::math::erfc_inv(2.0 * p);
  }
  // Far left tail: exp(y) underflows. Bisection on log_ndtr, which is accurate there (as Optuna does).
  double lo = -1e3, hi = -30.0;
  for (int k = 0; k < 200 && hi - lo > 1e-13 * std::fabs(lo); ++k) {
    double m = 0.5 * (lo + hi);
    (log_ndtr(m) < y ? lo : hi) = m;
  }
  return 0.5 * (lo + hi);
}

}  // namespace

double log_ndtr(double a) {
  if (a > 6.0) return -ndtr(-a);  // log(1 - ε) = -ε to double precision
  if (a > -20.0) return std::log(ndtr(a));
  // Asymptotic expansion: Φ(a) = φ(a)/(-a) · (1 - 1/a² + 3/a⁴ - 15/a⁶ + ...).
  double log_lhs = -0.5 * a * a - std::log(-a) - kLogSqrt2Pi;
  double rhs = 1.0, last = 0.0, numerator = 1.0, denom = 1.0, inv2 = 1.0 / (a * a);
  int sign = 1;
  for (int i = 1; i < 100 && std::fabs(last - rhs) > std::numeric_limits<double>::epsilon(); ++i) {
    last = rhs;
    sign = -sign;
    denom *= inv2;
    numerator *= 2 * i - 1;
    rhs += sign * numerator * denom;
  }
  return log_lhs + std::log(rhs);
}

double log_gauss_mass(double a, double b) {
  if (!(a < b)) return -kInf;
  if (b <= 0) return log_diff(log_ndtr(b), log_ndtr(a));
  if (a > 0) return log_diff(log_ndtr(-a), log_ndtr(-b));
  return std::log1p(-ndtr(a) - ndtr(-b));
}

double truncnorm_ppf(double q, double a, double b) {
  if (q <= 0) return a;
  if (q >= 1) return b;
  double x;
  if (a < 0) {
    // log Φ(x) = log(Φ(a) + q (Φ(b) − Φ(a)))
    double lm = log_gauss_mass(a, b), la = log_ndtr(a), lq = std::log(q) + lm;
    double hi = std::max(la, lq);
    x = ndtri_exp(hi + std::log1p(std::exp(std::min(la, lq) - hi)));
  } else {
    // Mirror: work in the left tail of −x.
    double lm = log_gauss_mass(a, b), lb = log_ndtr(-b), lq = std::log1p(-q) + lm;
    double hi = std::max(lb, lq);
    x = -ndtri_exp(hi + std::log1p(std::exp(std::min(lb, lq) - hi)));
  }
  return std::clamp(x, a, b);
}

std::vector<double> default_weights(size_t n) {
  if (n < 25) return std::vector<double>(n, 1.0);
  std::vector<double> w(n, 1.0);
  const size_t r = n - 25;  // np.linspace(1/n, 1, num=r)
  const double start = 1.0 / static_cast<double>(n);
  for (size_t i = 0; i < r; ++i)
    w[i] = r == 1 ? start : start + (1.0 - start) * static_cast<double>(i) / static_cast<double>(r - 1);
  return w;
}

int64_t default_gamma(int64_t n) {
  return std::min<int64_t>(static_cast<int64_t>(std::ceil(0.1 * static_cast<double>(n))), 25);
}

int64_t hyperopt_gamma(int64_t n) {
  return std::min<int64_t>(static_cast<int64_t>(std::ceil(0.25 * std::sqrt(static_cast<double>(n)))), 25);
}

ParzenEstimator::ParzenEstimator(const std::vector<std::vector<double>>& columns,
                                 const std::vector<Distribution>& dists, const ParzenOptions& o,
                                 const std::vector<double>& predetermined) {
  if (columns.size() != dists.size())
    throw ValueError("ParzenEstimator: " + std::to_string(columns.size()) + " columns for " +
                     std::to_string(dists.size()) + " distributions");
  const size_t n = columns.empty() ? 0 : columns[0].size();
  for (const auto& c : columns)
    if (c.size() != n) throw ValueError("ParzenEstimator: columns of different lengths");
  if (!predetermined.empty() && predetermined.size() != n)
    throw ValueError("ParzenEstimator: " + std::to_string(predetermined.size()) + " weights for " +
                     std::to_string(n) + " observations");
  const bool prior = o.consider_prior || n == 0;
  const size_t m = n + (prior ? 1 : 0);

  // Component weights.
  std::vector<double> w = !predetermined.empty() ? predetermined
                          : o.uniform_weights    ? std::vector<double>(n, 1.0)
                                                 : default_weights(n);
  if (prior) w.push_back(o.prior_weight);
  double total = 0.0;
  for (double v : w) {
    if (!(v >= 0) || !std::isfinite(v)) throw ValueError("ParzenEstimator: weights must be finite and >= 0");
    total += v;
  }
  if (!(total > 0)) throw ValueError("ParzenEstimator: weights are all zero");
  weights_.resize(m);
  log_weights_.resize(m);
  for (size_t j = 0; j < m; ++j) {
    weights_[j] = w[j] / total;
    log_weights_[j] = std::log(weights_[j]);
  }

  const double sigma0 =
      kSigma0Magnitude * std::pow(static_cast<double>(std::max<size_t>(n, 1)), -1.0 / (static_cast<double>(dists.size()) + 4.0));

  dims_.resize(dists.size());
  for (size_t p = 0; p < dists.size(); ++p) {
    Dim& d = dims_[p];
    const Distribution& dist = dists[p];
    if (const auto* c = std::get_if<CategoricalDistribution>(&dist)) {
      d.categorical = true;
      d.k = static_cast<int>(c->choices.size());
      const double value = o.prior_weight / static_cast<double>(prior ? n + 1 : n);
      d.cat.assign(m * static_cast<size_t>(d.k), value);
      for (size_t i = 0; i < n; ++i) {
        double idx = columns[p][i];
        if (!(idx >= 0 && idx < d.k)) throw ValueError("ParzenEstimator: categorical index out of range");
        d.cat[i * d.k + static_cast<size_t>(idx)] += 1.0;
      }
      d.log_cat.resize(d.cat.size());
      for (size_t j = 0; j < m; ++j) {
        double s = 0.0;
        for (int c2 = 0; c2 < d.k; ++c2) s += d.cat[j * d.k + c2];
        for (int c2 = 0; c2 < d.k; ++c2) {
          d.cat[j * d.k + c2] /= s;
          d.log_cat[j * d.k + c2] = std::log(d.cat[j * d.k + c2]);
        }
      }
      continue;
    }
    if (const auto* f = std::get_if<FloatDistribution>(&dist)) {
      d.dlow = f->low;
      d.dhigh = f->high;
      if (f->log) {
        d.log = true;
        d.low = std::log(f->low);
        d.high = std::log(f->high);
      } else if (f->step) {
        d.q = *f->step;
        d.low = f->low - 0.5 * d.q;
        d.high = f->high + 0.5 * d.q;
      } else {
        d.low = f->low;
        d.high = f->high;
      }
    } else {
      const auto& i = std::get<IntDistribution>(dist);
      d.is_int = true;
      d.dlow = static_cast<double>(i.low);
      d.dhigh = static_cast<double>(i.high);
      if (i.log) {
        d.log = true;
        d.low = std::log(d.dlow - 0.5);
        d.high = std::log(d.dhigh + 0.5);
      } else {
        d.q = static_cast<double>(i.step);
        d.low = d.dlow - 0.5 * d.q;
        d.high = d.dhigh + 0.5 * d.q;
      }
    }
    const double range = d.high - d.low;
    d.mus.resize(m);
    for (size_t i = 0; i < n; ++i) d.mus[i] = to_transformed(d, columns[p][i]);
    if (prior) d.mus[n] = 0.5 * (d.low + d.high);
    d.sigmas.resize(m);
    if (o.multivariate) {
      std::fill(d.sigmas.begin(), d.sigmas.end(), sigma0 * range);
    } else {
      // Distance to the farther sorted neighbour, the domain ends counting as neighbours.
      std::vector<size_t> order(m);
      std::iota(order.begin(), order.end(), size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return d.mus[a] < d.mus[b]; });
      std::vector<double> s(m + 2);
      s[0] = d.low;
      for (size_t j = 0; j < m; ++j) s[j + 1] = d.mus[order[j]];
      s[m + 1] = d.high;
      std::vector<double> sorted_sigmas(m);
      for (size_t j = 0; j < m; ++j) sorted_sigmas[j] = std::max(s[j + 1] - s[j], s[j + 2] - s[j + 1]);
      if (!o.consider_endpoints && m + 2 >= 4) {
        sorted_sigmas[0] = s[2] - s[1];
        sorted_sigmas[m - 1] = s[m] - s[m - 1];
      }
      for (size_t j = 0; j < m; ++j) d.sigmas[order[j]] = sorted_sigmas[j];
    }
    const double maxsigma = range;
    const double minsigma = o.consider_magic_clip ? range / std::min(100.0, 1.0 + static_cast<double>(m)) : kEps;
    for (double& s : d.sigmas) s = std::clamp(s, minsigma, maxsigma);
    if (prior) d.sigmas[n] = range;
    d.log_accept.resize(m);
    d.log_norm.resize(m);
    for (size_t j = 0; j < m; ++j) {
      d.log_accept[j] = log_gauss_mass((d.low - d.mus[j]) / d.sigmas[j], (d.high - d.mus[j]) / d.sigmas[j]);
      d.log_norm[j] = (o.optuna31_kernels ? 0.0 : std::log(d.sigmas[j])) + kLogSqrt2Pi + d.log_accept[j];
    }
  }
}

double ParzenEstimator::to_transformed(const Dim& d, double v) const { return d.log ? std::log(v) : v; }

double ParzenEstimator::from_transformed(const Dim& d, double x) const {
  if (d.log) {
    double v = std::exp(x);
    if (d.is_int) v = std::round(v);
    return std::clamp(v, d.dlow, d.dhigh);
  }
  if (d.q > 0) return std::clamp(std::round((x - d.dlow) / d.q) * d.q + d.dlow, d.dlow, d.dhigh);
  return std::clamp(x, d.dlow, d.dhigh);
}

std::vector<std::vector<double>> ParzenEstimator::sample(std::mt19937_64& rng, size_t size) const {
  // Component choice by inverse CDF of the weights, then one uniform per parameter and draw.
  std::vector<double> cum(weights_.size());
  std::partial_sum(weights_.begin(), weights_.end(), cum.begin());
  std::vector<size_t> active(size);
  for (size_t s = 0; s < size; ++s) {
    double u = uniform01(rng) * cum.back();
    active[s] = std::min<size_t>(std::upper_bound(cum.begin(), cum.end(), u) - cum.begin(), cum.size() - 1);
  }
  std::vector<std::vector<double>> out(dims_.size(), std::vector<double>(size));
  for (size_t p = 0; p < dims_.size(); ++p) {
    const Dim& d = dims_[p];
    for (size_t s = 0; s < size; ++s) {
      const size_t j = active[s];
      double u = uniform01(rng);
      if (d.categorical) {
        // Number of choices whose cumulative probability is below u (as Optuna's inverse CDF).
        double c = 0.0;
        int idx = 0;
        for (int k = 0; k < d.k; ++k) {
          c += d.cat[j * d.k + k];
          if (c < u) idx = k + 1;
        }
        out[p][s] = std::min(idx, d.k - 1);
      } else {
        const double a = (d.low - d.mus[j]) / d.sigmas[j], b = (d.high - d.mus[j]) / d.sigmas[j];
        out[p][s] = from_transformed(d, d.mus[j] + d.sigmas[j] * truncnorm_ppf(u, a, b));
      }
    }
  }
  return out;
}

std::vector<double> ParzenEstimator::log_pdf(const std::vector<std::vector<double>>& points) const {
  if (points.size() != dims_.size()) throw ValueError("ParzenEstimator::log_pdf: wrong number of columns");
  const size_t size = points.empty() ? 0 : points[0].size();
  const size_t m = weights_.size();
  std::vector<double> out(size);
  std::vector<double> acc(m);
  for (size_t s = 0; s < size; ++s) {
    std::copy(log_weights_.begin(), log_weights_.end(), acc.begin());
    for (size_t p = 0; p < dims_.size(); ++p) {
      const Dim& d = dims_[p];
      const double v = points[p][s];
      if (d.categorical) {
        if (!(v >= 0 && v < d.k)) {  // not a choice of this distribution
          std::fill(acc.begin(), acc.end(), -kInf);
          continue;
        }
        const size_t idx = static_cast<size_t>(v);
        for (size_t j = 0; j < m; ++j) acc[j] += d.log_cat[j * d.k + idx];
      } else if (d.q > 0) {
        const double hi = std::min(v + 0.5 * d.q, d.high), lo = std::max(v - 0.5 * d.q, d.low);
        for (size_t j = 0; j < m; ++j) {
          const double inv = 1.0 / d.sigmas[j];
          acc[j] += log_gauss_mass((lo - d.mus[j]) * inv, (hi - d.mus[j]) * inv) - d.log_accept[j];
        }
      } else {
        const double x = to_transformed(d, v);
        if (x < d.low || x > d.high) {
          for (size_t j = 0; j < m; ++j) acc[j] = -kInf;
          continue;
        }
        for (size_t j = 0; j < m; ++j) {
          const double z = (x - d.mus[j]) / d.sigmas[j];
          acc[j] += -0.5 * z * z - d.log_norm[j];
        }
      }
    }
    double mx = *std::max_element(acc.begin(), acc.end());
    if (mx == -kInf) {
      out[s] = -kInf;
      continue;
    }
    // Terms below e^-40 of the largest change the sum by less than m·4e-18 (relative): skip their exp.
    double sum = 0.0;
    for (size_t j = 0; j < m; ++j)
      if (acc[j] - mx > -40.0) sum += std::exp(acc[j] - mx);
    out[s] = mx + std::log(sum);
  }
  return out;
}

}  // namespace bbo::tpe

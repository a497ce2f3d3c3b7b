// cbo_core.cc — consensus-based optimization on the unit cube.
#include "plugins/cbo/cbo_core.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace bbo::cbo {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double reflect01(double u) {
  u = std::fmod(std::fabs(u), 2.0);
  return u > 1.0 ? 2.0 - u : u;
}

// JSON has no ±inf (nlohmann writes null); best_f is +inf until a finite value arrives.
json number_to_json(double v) { return std::isfinite(v) ? json(v) : json(v > 0 ? "inf" : "-inf"); }
double number_from_json(const json& j) {
  if (j.is_string()) return j.get<std::string>() == "-inf" ? -kInf : kInf;
  return j.get<double>();
}

}  // namespace

std::vector<double> consensus_point(const std::vector<std::vector<double>>& x, const std::vector<double>& f,
                                    double alpha, double* ess) {
  if (x.empty() || x.size() != f.size()) throw std::invalid_argument("cbo: consensus of mismatched inputs");
  const size_t d = x[0].size();
  double f_min = kInf;
  for (double v : f)
    if (std::isfinite(v)) f_min = std::min(f_min, v);
  std::vector<double> w(x.size(), 1.0);
  if (std::isfinite(f_min))
    for (size_t i = 0; i < f.size(); ++i) w[i] = std::isfinite(f[i]) ? std::exp(-alpha * (f[i] - f_min)) : 0.0;
  // The minimum's weight is exactly 1, so the sum is >= 1 (the log-sum-exp shift).
  double sw = 0.0, sw2 = 0.0;
  std::vector<double> v(d, 0.0);
  for (size_t i = 0; i < x.size(); ++i) {
    sw += w[i];
    sw2 += w[i] * w[i];
    for (size_t j = 0; j < d; ++j) v[j] += w[i] * x[i][j];
  }
  for (double& c : v) c /= sw;
  if (ess) *ess = sw * sw / sw2;
  return v;
}

void Cbo::validate() const {
  const CboOptions& o = options_;
  if (dim_ < 1) throw std::invalid_argument("cbo: dimension must be >= 1");
  if (o.particles < 2) throw std::invalid_argument("cbo: particles must be >= 2");
  if (!(o.lambda > 0.0 && std::isfinite(o.lambda))) throw std::invalid_argument("cbo: lambda must be > 0");
  if (!(o.sigma >= 0.0 && std::isfinite(o.sigma))) throw std::invalid_argument("cbo: sigma must be >= 0");
  if (!(o.dt > 0.0 && std::isfinite(o.dt))) throw std::invalid_argument("cbo: dt must be > 0");
  if (o.noise != "anisotropic" && o.noise != "isotropic")
    throw std::invalid_argument("cbo: noise must be 'anisotropic' or 'isotropic', got '" + o.noise + "'");
  if (!(o.alpha0 > 0.0 && std::isfinite(o.alpha0))) throw std::invalid_argument("cbo: alpha0 must be > 0");
  if (o.alpha_schedule != "ess" && o.alpha_schedule != "multiply" && o.alpha_schedule != "constant")
    throw std::invalid_argument("cbo: alpha_schedule must be 'ess', 'multiply' or 'constant', got '" +
                                o.alpha_schedule + "'");
  if (!(o.alpha_factor >= 1.0 && std::isfinite(o.alpha_factor)))
    throw std::invalid_argument("cbo: alpha_factor must be >= 1");
  if (!(o.alpha_max >= o.alpha0 && std::isfinite(o.alpha_max)))
    throw std::invalid_argument("cbo: alpha_max must be >= alpha0");
  if (!(o.ess_threshold > 0.0 && o.ess_threshold <= 1.0))
    throw std::invalid_argument("cbo: ess_threshold must be in (0, 1]");
  if (!(o.restart_tol >= 0.0 && std::isfinite(o.restart_tol)))
    throw std::invalid_argument("cbo: restart_tol must be >= 0");
}

Cbo::Cbo(const CboOptions& options, int dim, std::mt19937_64& rng) : options_(options), dim_(dim) {
  validate();
  alpha_ = options_.alpha0;
  best_f_ = kInf;
  scatter(rng);
}

void Cbo::scatter(std::mt19937_64& rng) {
  const int n = options_.particles;
  x_.assign(static_cast<size_t>(n), std::vector<double>(static_cast<size_t>(dim_)));
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::vector<int> perm(static_cast<size_t>(n));
  for (int j = 0; j < dim_; ++j) {
    std::iota(perm.begin(), perm.end(), 0);
    for (int i = n - 1; i > 0; --i)
      std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(std::uniform_int_distribution<int>(0, i)(rng))]);
    for (int i = 0; i < n; ++i)
      x_[static_cast<size_t>(i)][static_cast<size_t>(j)] = (perm[static_cast<size_t>(i)] + unit(rng)) / n;
  }
}

double Cbo::spread() const {
  const auto n = static_cast<double>(x_.size());
  double worst = 0.0;
  for (size_t j = 0; j < static_cast<size_t>(dim_); ++j) {
    double mean = 0.0;
    for (const auto& p : x_) mean += p[j];
    mean /= n;
    double var = 0.0;
    for (const auto& p : x_) var += (p[j] - mean) * (p[j] - mean);
    worst = std::max(worst, std::sqrt(var / n));
  }
  return worst;
}

void Cbo::tell(const std::vector<double>& values, std::mt19937_64& rng) {
  if (values.size() != x_.size())
    throw std::invalid_argument("cbo: tell got " + std::to_string(values.size()) + " values for " +
                                std::to_string(x_.size()) + " particles");
  std::vector<double> f(values.size());
  for (size_t i = 0; i < f.size(); ++i) {
    f[i] = std::isnan(values[i]) ? kInf : values[i];
    if (f[i] < best_f_ || best_x_.empty()) {
      best_f_ = f[i];
      best_x_ = x_[i];
    }
  }
  if (options_.alpha_schedule == "ess") {
    // Weights too flat to single out good particles (values on a small scale): raise alpha to where the
    // effective sample size drops to ess_threshold N (bisection on log alpha; the ESS decreases with alpha).
    // An ESS of 1 is reached only in the limit alpha -> inf: the target is at least 2 particles.
    const double target = std::max(options_.ess_threshold * static_cast<double>(x_.size()), 2.0);
    double ess = 0.0;
    consensus_point(x_, f, alpha_, &ess);
    if (ess > target && alpha_ < options_.alpha_max) {
      double lo = std::log(alpha_), hi = std::log(options_.alpha_max);
      consensus_point(x_, f, options_.alpha_max, &ess);
      if (ess > target) {
        lo = hi;
      } else {
        for (int k = 0; k < 50; ++k) {
          const double mid = 0.5 * (lo + hi);
          consensus_point(x_, f, std::exp(mid), &ess);
          (ess > target ? lo : hi) = mid;
        }
      }
      alpha_ = std::min(std::exp(hi), options_.alpha_max);
    }
  }
  consensus_ = consensus_point(x_, f, alpha_, &last_ess_);

  const double drift = options_.lambda * options_.dt;
  const double diffusion = options_.sigma * std::sqrt(options_.dt);
  const bool anisotropic = options_.noise == "anisotropic";
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> diff(static_cast<size_t>(dim_));
  for (auto& p : x_) {
    double norm2 = 0.0;
    for (size_t j = 0; j < diff.size(); ++j) {
      diff[j] = p[j] - consensus_[j];
      norm2 += diff[j] * diff[j];
    }
    const double norm = std::sqrt(norm2);
    for (size_t j = 0; j < diff.size(); ++j) {
      const double scale = anisotropic ? diff[j] : norm;
      const double next = p[j] - drift * diff[j] + diffusion * scale * normal(rng);
      if (std::isfinite(next)) p[j] = reflect01(next);  // an overflowing step leaves the coordinate as it was
    }
  }

  if (options_.alpha_schedule != "constant") alpha_ = std::min(alpha_ * options_.alpha_factor, options_.alpha_max);
  ++generation_;

  if (options_.restart_tol > 0.0 && spread() < options_.restart_tol) {
    scatter(rng);
    alpha_ = options_.alpha0;
    ++restarts_;
  }
}

json Cbo::to_json() const {
  return {{"options",
           {{"particles", options_.particles},
            {"lambda", options_.lambda},
            {"sigma", options_.sigma},
            {"dt", options_.dt},
            {"noise", options_.noise},
            {"alpha0", options_.alpha0},
            {"alpha_schedule", options_.alpha_schedule},
            {"alpha_factor", options_.alpha_factor},
            {"alpha_max", options_.alpha_max},
            {"ess_threshold", options_.ess_threshold},
            {"restart_tol", options_.restart_tol}}},
          {"dim", dim_},
          {"x", x_},
          {"alpha", alpha_},
          {"consensus", consensus_},
          {"ess", last_ess_},
          {"generation", generation_},
          {"restarts", restarts_},
          {"best_x", best_x_},
          {"best_f", number_to_json(best_f_)}};
}

Cbo Cbo::from_json(const json& j) {
  Cbo c;
  const json& o = j.at("options");
  c.options_.particles = o.at("particles").get<int>();
  c.options_.lambda = o.at("lambda").get<double>();
  c.options_.sigma = o.at("sigma").get<double>();
  c.options_.dt = o.at("dt").get<double>();
  c.options_.noise = o.at("noise").get<std::string>();
  c.options_.alpha0 = o.at("alpha0").get<double>();
  c.options_.alpha_schedule = o.at("alpha_schedule").get<std::string>();
  c.options_.alpha_factor = o.at("alpha_factor").get<double>();
  c.options_.alpha_max = o.at("alpha_max").get<double>();
  c.options_.ess_threshold = o.at("ess_threshold").get<double>();
  c.options_.restart_tol = o.at("restart_tol").get<double>();
  c.dim_ = j.at("dim").get<int>();
  c.validate();
  c.x_ = j.at("x").get<std::vector<std::vector<double>>>();
  c.alpha_ = j.at("alpha").get<double>();
  c.consensus_ = j.at("consensus").get<std::vector<double>>();
  c.last_ess_ = j.at("ess").get<double>();
  c.generation_ = j.at("generation").get<int64_t>();
  c.restarts_ = j.at("restarts").get<int>();
  c.best_x_ = j.at("best_x").get<std::vector<double>>();
  c.best_f_ = number_from_json(j.at("best_f"));
  if (c.x_.size() != static_cast<size_t>(c.options_.particles)) throw std::invalid_argument("cbo: malformed state");
  for (const auto& p : c.x_)
    if (p.size() != static_cast<size_t>(c.dim_)) throw std::invalid_argument("cbo: malformed state (dimension)");
  return c;
}

}  // namespace bbo::cbo

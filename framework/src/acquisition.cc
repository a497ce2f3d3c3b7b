// Acquisition functions: stable closed forms (LogEI, log PI, log Phi), the single-objective kinds with
// constraints and pending points, Monte-Carlo qLogEI and EHVI.
#include "bbo/acquisition.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "acquisition_internal.h"
#include "bbo/error.h"
#include "bbo/qmc.h"

namespace bbo {
namespace {

constexpr double kLogSqrt2Pi = 0.91893853320467274178;  // log sqrt(2 pi)
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double log_phi(double z) { return -0.5 * z * z - kLogSqrt2Pi; }

// c(t) = 1/(t + 2/(t + 3/(t + ...))) for t >= 5, by backward recurrence of Laplace's continued fraction
// (40 terms give full double precision there). It yields, without cancellation, the Mills ratio
// R(t) = Phi(-t)/phi(t) = 1/(t + c) and 1 - t·R(t) = c/(t + c).
double mills_tail(double t) {
  double r = t;
  for (int k = 40; k >= 2; --k) r = t + k / r;
  return 1.0 / r;
}

// log h(z), h(z) = phi(z) + z Phi(z) = E[max(z + N(0,1)... )] the standardized expected improvement.
// z >= -5: direct (the cancellation of phi and z Phi loses at most a factor z² + 3 ≈ 28 in relative
// accuracy); below: log phi(z) + log(1 - |z| R(|z|)) through the continued fraction, exact in the far tail
// where the ratio tends to 1/z².
double log_h(double z) {
  if (z >= -5.0) return std::log(normal_pdf(z) + z * 0.5 * std::erfc(-z * kInvSqrt2));
  double t = -z;
  if (t > 1e150) return kNegInf;  // z² overflows
  double c = mills_tail(t);
  return log_phi(z) + std::log(c / (t + c));
}

bool finite(double v) { return std::isfinite(v); }

}  // namespace

double log_normal_cdf(double z) {
  if (std::isnan(z)) return z;
  if (z > 0.0) return std::log1p(-0.5 * std::erfc(z * kInvSqrt2));
  if (z >= -5.0) return std::log(0.5 * std::erfc(-z * kInvSqrt2));
  double t = -z;
  if (t > 1e150) return kNegInf;
  return log_phi(z) - std::log(t + mills_tail(t));
}

double log_expected_improvement(double mean, double sd, double best) {
  if (!(sd > 0.0)) {
    double imp = best - mean;
    return imp > 0.0 ? std::log(imp) : kNegInf;
  }
  return std::log(sd) + log_h((best - mean) / sd);
}

void log_expected_improvement_grad(double mean, double sd, double best, double& dmean, double& dsd) {
  if (!(sd > 0.0)) {
    double imp = best - mean;
    dmean = imp > 0.0 ? -1.0 / imp : 0.0;
    dsd = 0.0;
    return;
  }
  double z = (best - mean) / sd;
  double lh = log_h(z);
  // d log h / dz = Phi(z)/h(z); d log EI / d sd = (h - z Phi)/(h sd) = phi(z)/(h(z) sd).
  double ratio = std::exp(log_normal_cdf(z) - lh);
  dmean = -ratio / sd;
  dsd = std::exp(log_phi(z) - lh) / sd;
}

double log_probability_of_improvement(double mean, double sd, double best) {
  if (!(sd > 0.0)) return mean < best ? 0.0 : kNegInf;
  return log_normal_cdf((best - mean) / sd);
}

namespace {

// d/dz log Phi(z) = phi(z)/Phi(z), stable in both tails.
double dlog_normal_cdf(double z) { return std::exp(log_phi(z) - log_normal_cdf(z)); }

// Value of one modelled quantity at a point, with gradients (when requested).
struct PointValue {
  double mean = 0, var = 0;
  std::vector<double> dmean, dvar;
};

PointValue point_value(const Surrogate& s, const double* x, size_t d, bool grad) {
  PointValue v;
  if (grad) {
    PointPrediction p = s.predict_with_gradient(x);
    v.mean = p.mean;
    v.var = p.variance;
    v.dmean = std::move(p.dmean);
    v.dvar = std::move(p.dvariance);
    if (v.dmean.size() != d || v.dvar.size() != d)
      throw Error("acquisition: a surrogate returned gradients of the wrong size");
  } else {
    Matrix X(1, d);
    std::copy(x, x + d, X.data.begin());
    Prediction p = s.predict(X);
    v.mean = p.mean.at(0);
    v.var = p.variance.at(0);
  }
  return v;
}

std::string join_sizes(size_t a, size_t b) { return std::to_string(a) + " vs " + std::to_string(b); }

// Everything the kinds share: the effective surrogates (fantasized where possible), the incumbent, the
// feasibility term and the local penalty of pending points.
class Base : public Acquisition {
 public:
  Base(const AcquisitionOptions& o, const AcquisitionProblem& p, bool fantasize) : opts_(o), d_(p.dims.size()) {
    validate(p);
    obj_ = p.objectives;
    con_ = p.constraints;
    // Feasible observed rows with finite values.
    Matrix front_y(0, p.objectives.size());
    std::vector<double> all_y0;
    for (size_t i = 0; i < p.observed_x.rows; ++i) {
      bool ok = true;
      for (size_t k = 0; k < p.objectives.size(); ++k) ok = ok && finite(p.observed_y(i, k));
      if (!ok) continue;
      ++n_obs_;
      all_y0.push_back(p.observed_y(i, 0));
      bool feas = true;
      for (size_t j = 0; j < p.constraints.size(); ++j) feas = feas && p.observed_c(i, j) <= 0.0;
      if (!feas) continue;
      append_row(front_y, p.observed_y.row(i));
    }
    scale_ = stddev(all_y0);
    if (p.pending.rows > 0 && fantasize) fantasize_pending(p, front_y);
    feasible_y_ = front_y;
    any_feasible_ = feasible_y_.rows > 0;
    best_ = INFINITY;
    for (size_t i = 0; i < feasible_y_.rows; ++i) best_ = std::min(best_, feasible_y_(i, 0));
  }

  bool has_gradient() const override { return grad_kind_ && all_gradients(); }

 protected:
  static void append_row(Matrix& m, const double* r) {
    m.data.insert(m.data.end(), r, r + m.cols);
    ++m.rows;
  }

  static double stddev(const std::vector<double>& v) {
    if (v.size() < 2) return 1.0;
    double mu = 0, s2 = 0;
    for (double x : v) mu += x;
    mu /= static_cast<double>(v.size());
    for (double x : v) s2 += (x - mu) * (x - mu);
    double s = std::sqrt(s2 / static_cast<double>(v.size() - 1));
    return s > 0 && finite(s) ? s : 1.0;
  }

  void validate(const AcquisitionProblem& p) const {
    if (p.objectives.empty()) throw ValueError("acquisition: at least one objective surrogate is required");
    for (auto* s : p.objectives)
      if (!s) throw ValueError("acquisition: null objective surrogate");
    for (auto* s : p.constraints)
      if (!s) throw ValueError("acquisition: null constraint surrogate");
    size_t n = p.observed_x.rows;
    if (n > 0 && p.observed_x.cols != d_)
      throw ValueError("acquisition: observed_x has " + join_sizes(p.observed_x.cols, d_) + " columns/dims");
    if (p.observed_y.rows != n || (n > 0 && p.observed_y.cols != p.objectives.size()))
      throw ValueError("acquisition: observed_y must be n × objectives (" + std::to_string(p.observed_y.rows) + "×" +
                       std::to_string(p.observed_y.cols) + " for n = " + std::to_string(n) + ")");
    if (!p.constraints.empty() && (p.observed_c.rows != n || (n > 0 && p.observed_c.cols != p.constraints.size())))
      throw ValueError("acquisition: observed_c must be n × constraints (" + std::to_string(p.observed_c.rows) + "×" +
                       std::to_string(p.observed_c.cols) + ")");
    if (p.pending.rows > 0 && p.pending.cols != d_)
      throw ValueError("acquisition: pending has " + join_sizes(p.pending.cols, d_) + " columns/dims");
  }

  // Kriging believer: condition each surrogate on its mean at the pending points; pending points whose
  // believed constraints are feasible join the observed values.
  void fantasize_pending(const AcquisitionProblem& p, Matrix& front_y) {
    const Matrix& P = p.pending;
    std::vector<std::vector<double>> obj_mean(obj_.size()), con_mean(con_.size());
    // Replaces each model by its fantasy where it can be conditioned; true when all of them could.
    auto condition_all = [&](std::vector<const Surrogate*>& models, std::vector<std::vector<double>>& means) {
      bool all = true;
      for (size_t k = 0; k < models.size(); ++k) {
        means[k] = models[k]->predict(P).mean;
        auto f = models[k]->condition_on(P, means[k]);
        if (f) {
          owned_.push_back(f);
          models[k] = f.get();
        } else {
          all = false;
        }
      }
      return all;
    };
    const bool obj_conditioned = condition_all(obj_, obj_mean);
    condition_all(con_, con_mean);
    if (obj_conditioned) {
      for (size_t i = 0; i < P.rows; ++i) {
        bool ok = true;
        std::vector<double> row(obj_.size());
        for (size_t k = 0; k < obj_.size(); ++k) ok = ok && finite(row[k] = obj_mean[k][i]);
        for (size_t j = 0; j < con_.size(); ++j) ok = ok && con_mean[j][i] <= 0.0;
        if (ok) append_row(front_y, row.data());
      }
      return;
    }
    // Local penalty around the pending points (first objective's unconditioned posterior).
    penalty_ = true;
    const Surrogate& s = *p.objectives[0];
    Prediction pp = s.predict(P);
    pen_centers_ = P;
    pen_mu_ = pp.mean;
    pen_sd_.resize(P.rows);
    for (size_t i = 0; i < P.rows; ++i) pen_sd_[i] = std::sqrt(std::max(pp.variance[i], 1e-12 * scale_ * scale_));
    pen_M_ = INFINITY;
    for (size_t i = 0; i < front_y.rows; ++i) pen_M_ = std::min(pen_M_, front_y(i, 0));
    if (!finite(pen_M_)) {
      pen_M_ = INFINITY;
      for (double m : pen_mu_) pen_M_ = std::min(pen_M_, m);
    }
    pen_L_ = lipschitz(s);
  }

  // Largest posterior-mean slope over 64 quasi-random points (central differences, h = 1e-4).
  double lipschitz(const Surrogate& s) const {
    if (d_ == 0) return 1.0;
    const size_t m = 64;
    std::mt19937_64 rng(0x11b5c417ULL);
    Matrix base = sobol_points(m, d_, rng);
    const double h = 1e-4;
    Matrix X(m * 2 * d_, d_);
    for (size_t i = 0; i < m; ++i)
      for (size_t k = 0; k < d_; ++k)
        for (int sgn = 0; sgn < 2; ++sgn) {
          double* r = X.row((i * d_ + k) * 2 + sgn);
          std::copy(base.row(i), base.row(i) + d_, r);
          r[k] = std::clamp(r[k] + (sgn ? h : -h), 0.0, 1.0);
        }
    Prediction pr = s.predict(X);
    double L = 0;
    for (size_t i = 0; i < m; ++i) {
      double g2 = 0;
      for (size_t k = 0; k < d_; ++k) {
        size_t a = (i * d_ + k) * 2;
        double dx = X(a + 1, k) - X(a, k);
        double g = dx > 0 ? (pr.mean[a + 1] - pr.mean[a]) / dx : 0.0;
        if (finite(g)) g2 += g * g;
      }
      L = std::max(L, std::sqrt(g2));
    }
    return L > 1e-7 * scale_ ? L : 10.0 * scale_;
  }

  bool all_gradients() const {
    if (d_ == 0) return false;
    for (auto* s : obj_)
      if (!s->has_gradient()) return false;
    for (auto* s : con_)
      if (!s->has_gradient()) return false;
    return true;
  }

  // out[i] += sum_j log P(c_j(x_i) <= 0).
  void add_log_pof(const Matrix& X, std::vector<double>& out) const {
    for (auto* c : con_) {
      Prediction p = c->predict(X);
      for (size_t i = 0; i < X.rows; ++i)
        out[i] += log_probability_of_improvement(p.mean[i], sd_of(p.variance[i]), 0.0);
    }
  }

  // Value (and gradient, when g) of sum_j log P(c_j(x) <= 0) at one point.
  double point_log_pof(const double* x, double* g) const {
    double v = 0;
    for (auto* c : con_) {
      PointValue pv = point_value(*c, x, d_, g != nullptr);
      double sd = sd_of(pv.var);
      v += log_probability_of_improvement(pv.mean, sd, 0.0);
      if (g && sd > 0) {
        double w = -pv.mean / sd;
        double r = dlog_normal_cdf(w);
        for (size_t k = 0; k < d_; ++k) {
          double dsd = pv.dvar[k] / (2 * sd);
          g[k] += r * (-pv.dmean[k] / sd - w * dsd / sd);
        }
      }
    }
    return v;
  }

  // The local penalty, times `weight`: sum_j log Phi((L |x - p_j| - (mu_j - M)+) / sd_j) (González et al.
  // 2016: the chance that x lies outside the ball that p_j's value excludes from holding the minimum) plus
  // log(1 - exp(-|x - p_j|² / (2 rho²))), rho = 0.01 sqrt(d), which removes the pending point itself and its
  // immediate neighbourhood even when p_j is predicted to beat the incumbent (where the first factor is >= 1/2).
  double point_penalty(const double* x, double weight, double* g) const {
    if (!penalty_) return 0.0;
    const double rho2 = 1e-4 * static_cast<double>(d_);
    double v = 0;
    for (size_t j = 0; j < pen_centers_.rows; ++j) {
      double dist2 = 0;
      for (size_t k = 0; k < d_; ++k) dist2 += (x[k] - pen_centers_(j, k)) * (x[k] - pen_centers_(j, k));
      double dist = std::sqrt(dist2);
      double z = (pen_L_ * dist - std::max(pen_mu_[j] - pen_M_, 0.0)) / pen_sd_[j];
      double u = 0.5 * dist2 / rho2;
      v += weight * (log_normal_cdf(z) + std::log(-std::expm1(-u)));
      if (g && dist > 0) {
        double r = weight * (dlog_normal_cdf(z) * pen_L_ / (pen_sd_[j] * dist) + 1.0 / (rho2 * std::expm1(u)));
        for (size_t k = 0; k < d_; ++k) g[k] += r * (x[k] - pen_centers_(j, k));
      }
    }
    return v;
  }

  void add_penalty(const Matrix& X, double weight, std::vector<double>& out) const {
    if (!penalty_) return;
    for (size_t i = 0; i < X.rows; ++i) out[i] += point_penalty(X.row(i), weight, nullptr);
  }

  // Variances below this are treated as 0 (deterministic prediction).
  double sd_of(double var) const {
    double floor = 1e-24 * scale_ * scale_;
    return var > floor ? std::sqrt(var) : 0.0;
  }

  void check_rows(const Matrix& X) const {
    if (X.rows > 0 && X.cols != d_)
      throw ValueError("acquisition: points have " + join_sizes(X.cols, d_) + " columns/dims");
  }

  static void sanitize(std::vector<double>& out) {
    for (double& v : out)
      if (std::isnan(v)) v = kNegInf;
  }

  AcquisitionOptions opts_;
  size_t d_;
  std::vector<const Surrogate*> obj_, con_;
  std::vector<std::shared_ptr<Surrogate>> owned_;
  Matrix feasible_y_;
  bool any_feasible_ = false;
  size_t n_obs_ = 0;
  double best_ = INFINITY;
  double scale_ = 1.0;
  bool grad_kind_ = false;
  bool penalty_ = false;
  Matrix pen_centers_;
  std::vector<double> pen_mu_, pen_sd_;
  double pen_L_ = 1.0, pen_M_ = 0.0;
};

// logei, pi, ucb, thompson, random_quantile on the first objective.
class SingleObjective final : public Base {
 public:
  enum class Kind { kLogEI, kPI, kUCB, kThompson, kQuantile };

  SingleObjective(Kind kind, const AcquisitionOptions& o, const AcquisitionProblem& p, std::mt19937_64& rng)
      : Base(o, p, true), kind_(kind) {
    if (!(o.ucb_beta >= 0.0) || !finite(o.ucb_beta))
      throw ValueError("acquisition: ucb_beta must be a finite number >= 0, got " + std::to_string(o.ucb_beta));
    if (kind_ == Kind::kQuantile) {
      if (o.quantile_levels.empty()) throw ValueError("acquisition: random_quantile needs at least one quantile level");
      for (double l : o.quantile_levels)
        if (!(l > 0.0 && l < 1.0))
          throw ValueError("acquisition: quantile levels must lie in (0, 1), got " + std::to_string(l));
    }
    seed_ = rng();
    // Without an incumbent (no observation) EI and PI are undefined: act as UCB.
    if ((kind_ == Kind::kLogEI || kind_ == Kind::kPI) && n_obs_ == 0) kind_ = Kind::kUCB;
    pof_only_ = !con_.empty() && !any_feasible_;
    grad_kind_ = kind_ == Kind::kLogEI || kind_ == Kind::kPI || kind_ == Kind::kUCB;
    weight_ = (kind_ == Kind::kLogEI || kind_ == Kind::kPI) ? 1.0 : scale_;
  }

  bool supports_local_search() const override { return kind_ != Kind::kThompson && kind_ != Kind::kQuantile; }

  void evaluate(const Matrix& X, std::vector<double>& out) const override {
    check_rows(X);
    out.assign(X.rows, 0.0);
    if (X.rows == 0) return;
    add_log_pof(X, out);
    if (!pof_only_) {
      const double sb = std::sqrt(opts_.ucb_beta);
      if (kind_ == Kind::kThompson) {
        std::mt19937_64 rng(seed_);
        Matrix s = obj_[0]->sample(X, 1, rng);
        for (size_t i = 0; i < X.rows; ++i) out[i] += -s(0, i);
      } else if (kind_ == Kind::kQuantile) {
        Matrix q = obj_[0]->quantiles(X, opts_.quantile_levels);
        for (size_t i = 0; i < X.rows; ++i) out[i] += -q(i, level_index(X.row(i)));
      } else {
        Prediction p = obj_[0]->predict(X);
        for (size_t i = 0; i < X.rows; ++i) {
          double sd = sd_of(p.variance[i]);
          if (kind_ == Kind::kLogEI)
            out[i] += log_expected_improvement(p.mean[i], sd, best_);
          else if (kind_ == Kind::kPI)
            out[i] += log_probability_of_improvement(p.mean[i], sd, best_);
          else
            out[i] += -p.mean[i] + sb * sd;
        }
      }
      add_penalty(X, weight_, out);
    }
    sanitize(out);
  }

  bool evaluate_with_gradient(const double* x, double& value, double* grad) const override {
    if (!has_gradient()) return false;
    std::vector<double> g(d_, 0.0);
    double v = point_log_pof(x, g.data());
    if (!pof_only_) {
      PointValue pv = point_value(*obj_[0], x, d_, true);
      double sd = sd_of(pv.var);
      double dm = 0, ds = 0;
      if (kind_ == Kind::kLogEI) {
        v += log_expected_improvement(pv.mean, sd, best_);
        log_expected_improvement_grad(pv.mean, sd, best_, dm, ds);
      } else if (kind_ == Kind::kPI) {
        v += log_probability_of_improvement(pv.mean, sd, best_);
        if (sd > 0) {
          double z = (best_ - pv.mean) / sd;
          double r = dlog_normal_cdf(z);
          dm = -r / sd;
          ds = -r * z / sd;
        }
      } else {
        double sb = std::sqrt(opts_.ucb_beta);
        v += -pv.mean + sb * sd;
        dm = -1.0;
        ds = sb;
      }
      for (size_t k = 0; k < d_; ++k) {
        double dsd = sd > 0 ? pv.dvar[k] / (2 * sd) : 0.0;
        g[k] += dm * pv.dmean[k] + ds * dsd;
      }
      v += point_penalty(x, weight_, g.data());
    }
    if (std::isnan(v)) v = kNegInf;
    value = v;
    for (size_t k = 0; k < d_; ++k) grad[k] = finite(g[k]) ? g[k] : 0.0;
    return true;
  }

 private:
  // Level of a candidate: a hash of the seed and the coordinates' bit patterns.
  size_t level_index(const double* x) const {
    uint64_t h = seed_ ^ 0x9e3779b97f4a7c15ULL;
    for (size_t k = 0; k < d_; ++k) {
      uint64_t b;
      std::memcpy(&b, &x[k], sizeof b);
      h ^= b + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
      h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
      h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
      h ^= h >> 31;
    }
    return static_cast<size_t>(h % opts_.quantile_levels.size());
  }

  Kind kind_;
  uint64_t seed_ = 0;
  bool pof_only_ = false;
  double weight_ = 1.0;
};

// log of a smoothed max(v, 0): log(tau · log(1 + exp(v / tau))), stable for any v.
double log_softplus(double v, double tau) {
  double a = v / tau;
  if (a > 40) return std::log(v);
  if (a < -40) return std::log(tau) + a;
  return std::log(tau) + std::log(std::log1p(std::exp(a)));
}

double logsumexp(const double* v, size_t n) {
  double m = kNegInf;
  for (size_t i = 0; i < n; ++i) m = std::max(m, v[i]);
  if (!finite(m)) return m;
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += std::exp(v[i] - m);
  return m + std::log(s);
}

// Monte-Carlo batch LogEI (Ament et al. 2023): log E[smooth max over the batch {x} ∪ pending of
// softplus(best - f)], with the q-max smoothed by logsumexp at temperature 0.01 and the improvement by a
// softplus at temperature 1e-6·(std of y), base samples fixed.
class QLogEI final : public Base {
 public:
  QLogEI(const AcquisitionOptions& o, const AcquisitionProblem& p, std::mt19937_64& rng) : Base(o, p, false) {
    if (o.mc_samples == 0) throw ValueError("acquisition: mc_samples must be >= 1");
    pending_ = p.pending;
    if (pending_.rows == 0) pending_ = Matrix(0, d_);
    seed_ = rng();
    base_ = sobol_normals(o.mc_samples, 1 + pending_.rows, rng);
    pof_only_ = !con_.empty() && !any_feasible_;
    ucb_ = n_obs_ == 0;
    if (pending_.rows > 0 && !obj_[0]->has_joint_samples()) pend_pred_ = obj_[0]->predict(pending_);
    // Joint draws come from Surrogate::sample with an rng reseeded per candidate (common random numbers).
  }

  void evaluate(const Matrix& X, std::vector<double>& out) const override {
    check_rows(X);
    out.assign(X.rows, 0.0);
    if (X.rows == 0) return;
    add_log_pof(X, out);
    if (pof_only_) return sanitize(out);
    const Surrogate& s = *obj_[0];
    if (ucb_) {
      Prediction p = s.predict(X);
      for (size_t i = 0; i < X.rows; ++i) out[i] += -p.mean[i] + std::sqrt(opts_.ucb_beta) * sd_of(p.variance[i]);
      return sanitize(out);
    }
    const size_t q = 1 + pending_.rows, S = opts_.mc_samples;
    const double tau_relu = 1e-6 * scale_, tau_max = 1e-2;
    std::vector<double> li(q), ls(S);
    auto score = [&](const Matrix& f) {  // f: S × q draws
      for (size_t m = 0; m < S; ++m) {
        for (size_t j = 0; j < q; ++j) li[j] = log_softplus(best_ - f(m, j), tau_relu) / tau_max;
        ls[m] = tau_max * logsumexp(li.data(), q);
      }
      return logsumexp(ls.data(), S) - std::log(static_cast<double>(S));
    };
    if (s.has_joint_samples() && q > 1) {  // a single point's joint law is its marginal: quasi-random below
      Matrix Z(q, d_);
      std::copy(pending_.data.begin(), pending_.data.end(), Z.data.begin() + d_);
      for (size_t i = 0; i < X.rows; ++i) {
        std::copy(X.row(i), X.row(i) + d_, Z.row(0));
        std::mt19937_64 rng(seed_);  // the same base randomness for every candidate
        out[i] += score(s.sample(Z, S, rng));
      }
    } else {
      Prediction p = s.predict(X);
      Matrix f(S, q);
      for (size_t i = 0; i < X.rows; ++i) {
        for (size_t m = 0; m < S; ++m) {
          f(m, 0) = p.mean[i] + sd_of(p.variance[i]) * base_(m, 0);
          for (size_t j = 1; j < q; ++j)
            f(m, j) = pend_pred_.mean[j - 1] + sd_of(pend_pred_.variance[j - 1]) * base_(m, j);
        }
        out[i] += score(f);
      }
    }
    sanitize(out);
  }

 private:
  Matrix pending_, base_;
  Prediction pend_pred_;
  uint64_t seed_ = 0;
  bool pof_only_ = false, ucb_ = false;
};

// Expected hypervolume improvement over the observed feasible front (2 or 3 objectives), Monte Carlo with
// fixed quasi-random normals, independent objectives; returned as log EHVI.
class Ehvi final : public Base {
 public:
  Ehvi(const AcquisitionOptions& o, const AcquisitionProblem& p, std::mt19937_64& rng) : Base(o, p, true) {
    K_ = p.objectives.size();
    if (K_ > 3)
      throw ValueError("acquisition: multi-objective acquisition supports 2 or 3 objectives, got " +
                       std::to_string(K_));
    if (o.mc_samples == 0) throw ValueError("acquisition: mc_samples must be >= 1");
    if (!p.reference_point.empty() && p.reference_point.size() != K_)
      throw ValueError("acquisition: reference_point has " + join_sizes(p.reference_point.size(), K_) + " objectives");
    base_ = sobol_normals(o.mc_samples, K_, rng);
    pof_only_ = !con_.empty() && !any_feasible_;
    // Without a feasible observation: the improvement over an empty front when a reference point is given,
    // else exploration (or PoF) only.
    if (feasible_y_.rows == 0 && p.reference_point.empty()) return;
    Matrix front = internal::pareto_front(feasible_y_);
    std::vector<double> ref = p.reference_point;
    if (ref.empty()) {
      ref.resize(K_);
      for (size_t k = 0; k < K_; ++k) {
        double lo = INFINITY, hi = -INFINITY, alo = INFINITY, ahi = -INFINITY;
        for (size_t i = 0; i < front.rows; ++i) lo = std::min(lo, front(i, k)), hi = std::max(hi, front(i, k));
        for (size_t i = 0; i < feasible_y_.rows; ++i)
          alo = std::min(alo, feasible_y_(i, k)), ahi = std::max(ahi, feasible_y_(i, k));
        double range = hi - lo;
        if (!(range > 0)) range = ahi - alo;
        if (!(range > 0)) range = 1.0;
        ref[k] = hi + 0.1 * range;
      }
    }
    for (double r : ref)
      if (!finite(r)) throw ValueError("acquisition: the reference point must be finite");
    hv_ = std::make_unique<internal::HypervolumeFront>(front, ref);
    front_min_ = ref;  // the fallback's per-objective incumbents (the reference point bounds them)
    for (size_t i = 0; i < front.rows; ++i)
      for (size_t k = 0; k < K_; ++k) front_min_[k] = std::min(front_min_[k], front(i, k));
  }

  void evaluate(const Matrix& X, std::vector<double>& out) const override {
    check_rows(X);
    out.assign(X.rows, 0.0);
    if (X.rows == 0) return;
    add_log_pof(X, out);
    if (pof_only_) return sanitize(out);
    std::vector<Prediction> pr;
    for (auto* s : obj_) pr.push_back(s->predict(X));
    if (!hv_) {
      for (size_t i = 0; i < X.rows; ++i)
        for (size_t k = 0; k < K_; ++k) out[i] += std::log(std::max(sd_of(pr[k].variance[i]), 1e-300));
      return sanitize(out);
    }
    const size_t S = opts_.mc_samples;
    std::vector<double> y(K_);
    for (size_t i = 0; i < X.rows; ++i) {
      double sum = 0;
      for (size_t m = 0; m < S; ++m) {
        for (size_t k = 0; k < K_; ++k) y[k] = pr[k].mean[i] + sd_of(pr[k].variance[i]) * base_(m, k);
        sum += hv_->improvement(y.data());
      }
      double v;
      if (sum > 0) {
        v = std::log(sum / static_cast<double>(S));
      } else {
        v = kNegInf;
        for (size_t k = 0; k < K_; ++k)
          v = std::max(v, log_expected_improvement(pr[k].mean[i], sd_of(pr[k].variance[i]), front_min_[k]));
        v -= 1000.0;
      }
      out[i] += v;
    }
    add_penalty(X, 1.0, out);
    sanitize(out);
  }

 private:
  size_t K_ = 2;
  Matrix base_;
  bool pof_only_ = false;
  std::unique_ptr<internal::HypervolumeFront> hv_;
  std::vector<double> front_min_;
};

}  // namespace

std::unique_ptr<Acquisition> make_acquisition(const AcquisitionOptions& options, const AcquisitionProblem& problem,
                                              std::mt19937_64& rng) {
  if (problem.objectives.size() >= 2) return std::make_unique<Ehvi>(options, problem, rng);
  using K = SingleObjective::Kind;
  const std::string& k = options.kind;
  if (k == "logei") return std::make_unique<SingleObjective>(K::kLogEI, options, problem, rng);
  if (k == "pi") return std::make_unique<SingleObjective>(K::kPI, options, problem, rng);
  if (k == "ucb") return std::make_unique<SingleObjective>(K::kUCB, options, problem, rng);
  if (k == "thompson") return std::make_unique<SingleObjective>(K::kThompson, options, problem, rng);
  if (k == "random_quantile") return std::make_unique<SingleObjective>(K::kQuantile, options, problem, rng);
  if (k == "qlogei") return std::make_unique<QLogEI>(options, problem, rng);
  if (k == "ehvi") return std::make_unique<SingleObjective>(K::kLogEI, options, problem, rng);
  throw ValueError("acquisition: unknown kind '" + k +
                   "' (expected logei, ucb, pi, thompson, qlogei, random_quantile or ehvi)");
}

}  // namespace bbo

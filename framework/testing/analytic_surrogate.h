// analytic_surrogate.h — a test-only Surrogate with closed-form posterior mean, variance, gradients, joint
// samples and exact conditioning: a Gaussian process with FIXED hyper-parameters (squared-exponential kernel,
// a quadratic prior mean), so tests of acquisitions and strategies have exact references.
//
//   prior mean  m(x) = offset + curvature · |x - centre|²     (centre defaults to 0.5 in every coordinate)
//   kernel      k(x, x') = signal · exp(-|x - x'|² / (2 lengthscale²))
//   posterior   mu(x) = m(x) + k_x' (K + noise I)^-1 (y - m(X)),  var(x) = signal - k_x' (K + noise I)^-1 k_x
//
// Capabilities can be switched off (gradients, joint samples, conditioning) to exercise the fallbacks, and
// `nan` makes predictions NaN (everywhere, or where x0 > 0.5) to test robustness. Meant for small n (plain
// O(n³) Cholesky).
#pragma once

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <stdexcept>
#include <vector>

#include "bbo/error.h"
#include "bbo/surrogate.h"

namespace bbo::testing {

struct AnalyticSurrogateOptions {
  double lengthscale = 0.2;
  double signal = 1.0;  // prior variance
  double noise = 0.0;   // observation-noise variance (a 1e-10 jitter is always added for stability)
  double offset = 0.0;  // prior mean offset
  double curvature = 0.0;
  std::vector<double> centre;  // empty → 0.5 in every coordinate
  bool gradients = true;
  bool joint = true;
  bool conditionable = true;
  enum class Nan { kNone, kEverywhere, kUpperHalf } nan = Nan::kNone;
};

class AnalyticSurrogate : public Surrogate {
 public:
  explicit AnalyticSurrogate(AnalyticSurrogateOptions o = {}, size_t d = 0) : o_(std::move(o)) { set_dim(d); }

  void fit(const FitInput& in) override {
    if (in.X.rows != in.y.size()) throw ValueError("analytic surrogate: X rows and y size differ");
    if (in.X.rows > 0) set_dim(in.X.cols);
    if (!in.dims.empty()) set_dim(in.dims.size());
    X_ = in.X;
    if (X_.rows == 0) X_ = Matrix(0, d_);
    y_ = in.y;
    factor();
  }

  Prediction predict(const Matrix& X) const override {
    if (X.rows > 0 && X.cols != d_) throw ValueError("analytic surrogate: wrong number of columns");
    Prediction p;
    p.mean.resize(X.rows);
    p.variance.resize(X.rows);
    std::vector<double> k(n()), v(n());
    for (size_t i = 0; i < X.rows; ++i) {
      const double* x = X.row(i);
      kvec(x, k);
      double mu = prior_mean(x);
      for (size_t j = 0; j < n(); ++j) mu += k[j] * alpha_[j];
      solve_lower(k, v);
      double var = o_.signal;
      for (double t : v) var -= t * t;
      p.mean[i] = mu;
      p.variance[i] = std::max(var, 0.0);
      if (is_nan(x)) p.mean[i] = p.variance[i] = NAN;
    }
    return p;
  }

  double noise_variance() const override { return o_.noise; }
  bool has_gradient() const override { return o_.gradients; }

  PointPrediction predict_with_gradient(const double* x) const override {
    if (!o_.gradients) return Surrogate::predict_with_gradient(x);
    PointPrediction p;
    p.dmean.assign(d_, 0.0);
    p.dvariance.assign(d_, 0.0);
    std::vector<double> k(n()), v(n()), w(n());
    kvec(x, k);
    p.mean = prior_mean(x);
    const double* c = centre();
    for (size_t a = 0; a < d_; ++a) p.dmean[a] = 2 * o_.curvature * (x[a] - c[a]);
    solve_lower(k, v);
    solve_upper(v, w);  // w = K^-1 k
    p.variance = o_.signal;
    for (double t : v) p.variance -= t * t;
    const double l2 = o_.lengthscale * o_.lengthscale;
    for (size_t j = 0; j < n(); ++j) {
      p.mean += k[j] * alpha_[j];
      for (size_t a = 0; a < d_; ++a) {
        double dk = -k[j] * (x[a] - X_(j, a)) / l2;
        p.dmean[a] += dk * alpha_[j];
        p.dvariance[a] -= 2 * dk * w[j];
      }
    }
    p.variance = std::max(p.variance, 0.0);
    if (is_nan(x)) p.mean = p.variance = NAN;
    return p;
  }

  bool has_joint_samples() const override { return o_.joint; }

  Matrix sample(const Matrix& X, size_t k, std::mt19937_64& rng) const override {
    if (!o_.joint) return Surrogate::sample(X, k, rng);
    size_t m = X.rows;
    Prediction p = predict(X);
    // Posterior covariance: k(X, X) - V'V with V = L^-1 k(Xtrain, X).
    std::vector<std::vector<double>> V(m, std::vector<double>(n()));
    std::vector<double> kv(n());
    for (size_t i = 0; i < m; ++i) {
      kvec(X.row(i), kv);
      solve_lower(kv, V[i]);
    }
    std::vector<double> C(m * m);
    for (size_t i = 0; i < m; ++i)
      for (size_t j = 0; j <= i; ++j) {
        double c = kern(X.row(i), X.row(j));
        for (size_t t = 0; t < n(); ++t) c -= V[i][t] * V[j][t];
        C[i * m + j] = C[j * m + i] = c;
      }
    std::vector<double> L = cholesky(C, m, 1e-10 * o_.signal);
    std::normal_distribution<double> normal;
    Matrix out(k, m);
    std::vector<double> z(m);
    for (size_t s = 0; s < k; ++s) {
      for (auto& t : z) t = normal(rng);
      for (size_t i = 0; i < m; ++i) {
        double v = p.mean[i];
        for (size_t j = 0; j <= i; ++j) v += L[i * m + j] * z[j];
        out(s, i) = v;
      }
    }
    return out;
  }

  std::shared_ptr<Surrogate> condition_on(const Matrix& X, const std::vector<double>& y) const override {
    if (!o_.conditionable) return nullptr;
    auto c = std::make_shared<AnalyticSurrogate>(o_, d_);
    FitInput in;
    in.X = X_;
    in.X.data.insert(in.X.data.end(), X.data.begin(), X.data.end());
    in.X.rows += X.rows;
    in.X.cols = d_;
    in.y = y_;
    in.y.insert(in.y.end(), y.begin(), y.end());
    c->fit(in);
    return c;
  }

  double prior_mean(const double* x) const {
    const double* c = centre();
    double r2 = 0;
    for (size_t a = 0; a < d_; ++a) r2 += (x[a] - c[a]) * (x[a] - c[a]);
    return o_.offset + o_.curvature * r2;
  }

 private:
  size_t n() const { return X_.rows; }

  void set_dim(size_t d) {
    d_ = d;
    centre_ = o_.centre.size() == d ? o_.centre : std::vector<double>(d, 0.5);
  }

  const double* centre() const { return centre_.data(); }

  bool is_nan(const double* x) const {
    if (o_.nan == AnalyticSurrogateOptions::Nan::kEverywhere) return true;
    return o_.nan == AnalyticSurrogateOptions::Nan::kUpperHalf && d_ > 0 && x[0] > 0.5;
  }

  double kern(const double* a, const double* b) const {
    double r2 = 0;
    for (size_t t = 0; t < d_; ++t) r2 += (a[t] - b[t]) * (a[t] - b[t]);
    return o_.signal * std::exp(-0.5 * r2 / (o_.lengthscale * o_.lengthscale));
  }

  void kvec(const double* x, std::vector<double>& k) const {
    for (size_t j = 0; j < n(); ++j) k[j] = kern(x, X_.row(j));
  }

  static std::vector<double> cholesky(std::vector<double> A, size_t m, double jitter) {
    for (double add = 0;; add = add == 0 ? jitter : add * 10) {
      std::vector<double> L(m * m, 0.0);
      bool ok = true;
      for (size_t j = 0; j < m && ok; ++j) {
        double s = A[j * m + j] + add;
        for (size_t t = 0; t < j; ++t) s -= L[j * m + t] * L[j * m + t];
        if (!(s > 0)) {
          ok = false;
          break;
        }
        L[j * m + j] = std::sqrt(s);
        for (size_t i = j + 1; i < m; ++i) {
          double v = A[i * m + j];
          for (size_t t = 0; t < j; ++t) v -= L[i * m + t] * L[j * m + t];
          L[i * m + j] = v / L[j * m + j];
        }
      }
      if (ok) return L;
      if (add > 1e6) throw std::runtime_error("analytic surrogate: covariance not positive definite");
    }
  }

  void factor() {
    size_t m = n();
    std::vector<double> K(m * m);
    for (size_t i = 0; i < m; ++i)
      for (size_t j = 0; j < m; ++j) K[i * m + j] = kern(X_.row(i), X_.row(j)) + (i == j ? o_.noise + 1e-10 : 0.0);
    L_ = cholesky(K, m, 1e-10 * o_.signal);
    std::vector<double> r(m), t(m);
    for (size_t i = 0; i < m; ++i) r[i] = y_[i] - prior_mean(X_.row(i));
    solve_lower(r, t);
    alpha_.resize(m);
    solve_upper(t, alpha_);
  }

  void solve_lower(const std::vector<double>& b, std::vector<double>& x) const {  // L x = b
    size_t m = n();
    x.resize(m);
    for (size_t i = 0; i < m; ++i) {
      double s = b[i];
      for (size_t j = 0; j < i; ++j) s -= L_[i * m + j] * x[j];
      x[i] = s / L_[i * m + i];
    }
  }

  void solve_upper(const std::vector<double>& b, std::vector<double>& x) const {  // L' x = b
    size_t m = n();
    x.resize(m);
    for (size_t i = m; i-- > 0;) {
      double s = b[i];
      for (size_t j = i + 1; j < m; ++j) s -= L_[j * m + i] * x[j];
      x[i] = s / L_[i * m + i];
    }
  }

  AnalyticSurrogateOptions o_;
  size_t d_;
  Matrix X_;
  std::vector<double> y_, alpha_, L_;
  std::vector<double> centre_;
};

}  // namespace bbo::testing

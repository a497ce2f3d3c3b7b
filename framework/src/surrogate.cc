#include "bbo/surrogate.h"

#include <algorithm>
#include <cmath>

#include "bbo/error.h"

namespace bbo {

void validate_fit_input(const FitInput& in, const std::string& model) {
  const Matrix& X = in.X;
  const std::string m = model + ": ";
  if (X.data.size() != X.rows * X.cols)
    throw ValueError(m + "X has " + std::to_string(X.data.size()) + " entries, expected rows × cols = " +
                     std::to_string(X.rows) + " × " + std::to_string(X.cols));
  if (in.y.size() != X.rows)
    throw ValueError(m + "X has " + std::to_string(X.rows) + " rows but y has " + std::to_string(in.y.size()) +
                     " values");
  if (!in.dims.empty() && in.dims.size() != X.cols)
    throw ValueError(m + "X has " + std::to_string(X.cols) + " columns but dims has " +
                     std::to_string(in.dims.size()) + " entries");
  if (!in.fidelity.empty() && in.fidelity.size() != X.rows)
    throw ValueError(m + "X has " + std::to_string(X.rows) + " rows but fidelity has " +
                     std::to_string(in.fidelity.size()) + " values");
  const size_t cols = std::max<size_t>(X.cols, 1);
  for (size_t i = 0; i < X.data.size(); ++i)
    if (!std::isfinite(X.data[i]))
      throw ValueError(m + "X(" + std::to_string(i / cols) + ", " + std::to_string(i % cols) + ") is not finite");
  for (size_t i = 0; i < in.y.size(); ++i)
    if (!std::isfinite(in.y[i])) throw ValueError(m + "y[" + std::to_string(i) + "] is not finite");
}

void validate_condition_input(const Matrix& X, const std::vector<double>& y, size_t d, const std::string& model) {
  const std::string m = model + ": condition_on: ";
  if (X.data.size() != X.rows * X.cols)
    throw ValueError(m + "X has " + std::to_string(X.data.size()) + " entries, expected rows × cols");
  if (X.rows != y.size())
    throw ValueError(m + "X has " + std::to_string(X.rows) + " rows but y has " + std::to_string(y.size()) + " values");
  if (d > 0 && X.cols != d)
    throw ValueError(m + "the model has d = " + std::to_string(d) + " but X has " + std::to_string(X.cols) + " columns");
  for (double v : y)
    if (!std::isfinite(v)) throw ValueError(m + "a y value is not finite");
}

void validate_query_input(const Matrix& X, size_t d, const std::string& model) {
  if (X.data.size() != X.rows * X.cols)
    throw ValueError(model + ": query X has " + std::to_string(X.data.size()) + " entries, expected rows × cols");
  if (d > 0 && X.cols != d)
    throw ValueError(model + ": the model was fitted with d = " + std::to_string(d) + " but X has " +
                     std::to_string(X.cols) + " columns");
}

double normal_pdf(double z) { return 0.3989422804014327 * std::exp(-0.5 * z * z); }

double normal_cdf(double z) { return 0.5 * std::erfc(-z * 0.7071067811865476); }

// Acklam's rational approximation (relative error < 1.2e-9) refined by one Halley step on erfc, which
// brings it to full double precision.
double normal_quantile(double p) {
  if (!(p > 0.0 && p < 1.0)) {
    if (p == 0.0) return -INFINITY;
    if (p == 1.0) return INFINITY;
    throw ValueError("normal_quantile: p must lie in [0, 1], got " + std::to_string(p));
  }
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01,  -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double plow = 0.02425;
  double x;
  if (p < plow) {
    double q = std::sqrt(-2 * std::log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - plow) {
    double q = p - 0.5, r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    double q = std::sqrt(-2 * std::log1p(-p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  double e = normal_cdf(x) - p;
  double u = e * 2.5066282746310002 * std::exp(0.5 * x * x);
  return x - u / (1 + 0.5 * x * u);
}

PointPrediction Surrogate::predict_with_gradient(const double*) const {
  throw Error("this surrogate has no gradients (check has_gradient())");
}

Matrix Surrogate::sample(const Matrix& X, size_t k, std::mt19937_64& rng) const {
  Prediction p = predict(X);
  std::normal_distribution<double> normal;
  Matrix out(k, X.rows);
  for (size_t s = 0; s < k; ++s)
    for (size_t i = 0; i < X.rows; ++i) out(s, i) = p.mean[i] + std::sqrt(std::max(p.variance[i], 0.0)) * normal(rng);
  return out;
}

Matrix Surrogate::quantiles(const Matrix& X, const std::vector<double>& levels) const {
  Prediction p = predict(X);
  double noise = noise_variance();
  Matrix out(X.rows, levels.size());
  for (size_t j = 0; j < levels.size(); ++j) {
    double z = normal_quantile(levels[j]);
    for (size_t i = 0; i < X.rows; ++i) out(i, j) = p.mean[i] + z * std::sqrt(std::max(p.variance[i], 0.0) + noise);
  }
  return out;
}

}  // namespace bbo

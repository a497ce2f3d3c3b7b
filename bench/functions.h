// bench/functions.h — the public benchmark functions (minimisation), C++ twins of
// /work/shared/peers/functions_public.py, and the shifted variant of optuna_suite.py.
//
// Each function takes a point of its own dimension (the caller checks x.size() == dim) and is pure.
// `kFunctions` lists them with their domain and known minimum; `shift_for` gives the per-seed offset of the
// shifted suite: f_shifted(x) = f(x - delta), delta_i = 0.1 (high_i - low_i) sin(12.9898 (s+1) + 78.233 (i+1)),
// same domain and f_opt.
#pragma once

#include <cmath>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

namespace bbo::bench {

inline double branin(const std::vector<double>& x) {
  constexpr double pi = std::numbers::pi;
  const double a = 1, b = 5.1 / (4 * pi * pi), c = 5 / pi, r = 6, s = 10, t = 1 / (8 * pi);
  const double u = x[1] - b * x[0] * x[0] + c * x[0] - r;
  return a * u * u + s * (1 - t) * std::cos(x[0]) + s;
}

inline double hartmann6(const std::vector<double>& x) {
  static constexpr double kA[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                      {0.05, 10, 17, 0.1, 8, 14},
                                      {3, 3.5, 1.7, 10, 17, 8},
                                      {17, 8, 0.05, 10, 0.1, 14}};
  static constexpr double kP[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                      {2329, 4135, 8307, 3736, 1004, 9991},
                                      {2348, 1451, 3522, 2883, 3047, 6650},
                                      {4047, 8828, 8732, 5743, 1091, 381}};
  static constexpr double kAlpha[4] = {1.0, 1.2, 3.0, 3.2};
  double sum = 0;
  for (int i = 0; i < 4; ++i) {
    double inner = 0;
    for (int j = 0; j < 6; ++j) {
      const double d = x[j] - 1e-4 * kP[i][j];
      inner += kA[i][j] * d * d;
    }
    sum += kAlpha[i] * std::exp(-inner);
  }
  return -sum;
}

inline double ackley(const std::vector<double>& x) {
  const double d = static_cast<double>(x.size());
  double sq = 0, cs = 0;
  for (double v : x) {
    sq += v * v;
    cs += std::cos(2 * std::numbers::pi * v);
  }
  return -20 * std::exp(-0.2 * std::sqrt(sq / d)) - std::exp(cs / d) + 20 + std::numbers::e;
}

inline double rosenbrock(const std::vector<double>& x) {
  double s = 0;
  for (size_t i = 0; i + 1 < x.size(); ++i) {
    const double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
    s += 100 * a * a + b * b;
  }
  return s;
}

inline double levy(const std::vector<double>& x) {
  constexpr double pi = std::numbers::pi;
  const size_t n = x.size();
  std::vector<double> w(n);
  for (size_t i = 0; i < n; ++i) w[i] = 1 + (x[i] - 1) / 4;
  const double s0 = std::sin(pi * w[0]);
  double s = s0 * s0;
  for (size_t i = 0; i + 1 < n; ++i) {
    const double si = std::sin(pi * w[i] + 1);
    s += (w[i] - 1) * (w[i] - 1) * (1 + 10 * si * si);
  }
  const double sl = std::sin(2 * pi * w[n - 1]);
  s += (w[n - 1] - 1) * (w[n - 1] - 1) * (1 + sl * sl);
  return s;
}

inline double styblinski_tang(const std::vector<double>& x) {
  double s = 0;
  for (double v : x) s += v * v * v * v - 16 * v * v + 5 * v;
  return 0.5 * s;
}

struct BenchFunction {
  std::string name;
  int dim;
  std::vector<std::pair<double, double>> bounds;  // (low, high) per dimension
  double (*f)(const std::vector<double>&);
  double f_opt;  // known minimum
};

inline std::vector<BenchFunction> public_functions() {
  using B = std::vector<std::pair<double, double>>;
  return {
      {"branin", 2, B{{-5, 10}, {0, 15}}, &branin, 0.397887},
      {"hartmann6", 6, B(6, {0, 1}), &hartmann6, -3.32237},
      {"ackley10", 10, B(10, {-32.768, 32.768}), &ackley, 0.0},
      {"rosenbrock10", 10, B(10, {-5, 10}), &rosenbrock, 0.0},
      {"levy10", 10, B(10, {-10, 10}), &levy, 0.0},
      {"styblinski_tang8", 8, B(8, {-5, 5}), &styblinski_tang, -39.16617 * 8},
  };
}

// Offset of the shifted suite for seed `seed` (0-based).
inline std::vector<double> shift_for(const std::vector<std::pair<double, double>>& bounds, int seed) {
  std::vector<double> delta(bounds.size());
  for (size_t i = 0; i < bounds.size(); ++i) {
    delta[i] = 0.1 * (bounds[i].second - bounds[i].first) *
               std::sin(12.9898 * (seed + 1) + 78.233 * static_cast<double>(i + 1));
  }
  return delta;
}

// f(x - delta).
inline double evaluate_shifted(const BenchFunction& fn, const std::vector<double>& x,
                               const std::vector<double>& delta) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] - delta[i];
  return fn.f(y);
}

}  // namespace bbo::bench

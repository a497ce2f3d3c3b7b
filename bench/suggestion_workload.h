// bench/suggestion_workload.h — the synthetic "one suggestion" workload that gp-scaling and surrogate-nll both
// time: n random points in [0,1]^d with a smooth multimodal objective, the fit at n − 1 points that
// warm-starts the fit at n, and LogEI optimized from the 5 best observations as the `bo` strategy seeds it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "bbo/acquisition.h"
#include "bbo/surrogate.h"

namespace bbo::bench {

// A smooth function with several basins in [0,1]^d (values of order 1).
inline double scaling_objective(const double* x, size_t d) {
  double v = 0.0;
  for (size_t i = 0; i < d; ++i) {
    double c = 0.3 + 0.4 * std::sin(1.7 * static_cast<double>(i) + 0.5);
    v += (x[i] - c) * (x[i] - c) * (1.0 + 0.3 * static_cast<double>(i % 3)) - 0.1 * std::cos(9.0 * x[i]);
  }
  return v;
}

struct SuggestionWorkload {
  std::mt19937_64 rng;  // drew the points; drives the acquisition afterwards
  FitInput in;          // n points
  FitInput previous;    // the first n − 1 of them (the previous ask's fit)
};

// Seeded by (n, d, rep), so every surrogate and every run sees the same points.
inline SuggestionWorkload suggestion_workload(int n, int d, int rep) {
  SuggestionWorkload w{std::mt19937_64(1000 * static_cast<uint64_t>(d) + static_cast<uint64_t>(n) + 77 * rep), {}, {}};
  std::uniform_real_distribution<double> u(0.0, 1.0);
  w.in.dims.assign(static_cast<size_t>(d), Dimension{});
  w.in.X = Matrix(static_cast<size_t>(n), static_cast<size_t>(d));
  for (double& v : w.in.X.data) v = u(w.rng);
  for (int i = 0; i < n; ++i) w.in.y.push_back(scaling_objective(w.in.X.row(i), static_cast<size_t>(d)));
  w.in.seed = static_cast<uint64_t>(rep) + 1;
  w.previous = w.in;
  w.previous.X.rows = static_cast<size_t>(n - 1);
  w.previous.X.data.resize(static_cast<size_t>((n - 1) * d));
  w.previous.y.pop_back();
  return w;
}

// LogEI on `model` (fitted to w.in), optimized from the 5 best observations; throws on a non-finite proposal.
inline std::vector<double> optimize_logei(const Surrogate& model, SuggestionWorkload& w) {
  const FitInput& in = w.in;
  const size_t n = in.y.size(), d = in.X.cols;
  AcquisitionProblem problem;
  problem.dims = in.dims;
  problem.objectives = {&model};
  problem.observed_x = in.X;
  problem.observed_y = Matrix(n, 1);
  problem.observed_y.data = in.y;
  auto acq = make_acquisition(AcquisitionOptions{}, problem, w.rng);
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::partial_sort(order.begin(), order.begin() + 5, order.end(), [&](size_t a, size_t b) { return in.y[a] < in.y[b]; });
  Matrix seeds(5, d);
  for (size_t s = 0; s < 5; ++s) std::copy(in.X.row(order[s]), in.X.row(order[s]) + d, seeds.row(s));
  auto best = optimize_acquisition(*acq, in.dims, AcquisitionOptimizerOptions{}, w.rng, seeds);
  for (double v : best.x)
    if (!std::isfinite(v)) throw std::runtime_error("non-finite proposal");
  return best.x;
}

}  // namespace bbo::bench

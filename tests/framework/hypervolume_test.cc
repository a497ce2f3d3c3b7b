// Tests of hypervolume (2 and 3 objectives) against inclusion–exclusion on random fronts, and of the
// hypervolume-improvement helper against the difference of two volumes.
#include <gtest/gtest.h>

#include <random>

#include "bbo/acquisition.h"
#include "bbo/error.h"
#include "framework/src/acquisition_internal.h"

namespace bbo {
namespace {

// Inclusion–exclusion over all subsets: the union of boxes [p, r] (n <= 12).
double brute_force(const Matrix& P, const std::vector<double>& r) {
  size_t n = P.rows, k = r.size();
  double total = 0;
  for (size_t mask = 1; mask < (1u << n); ++mask) {
    double vol = 1;
    int bits = 0;
    for (size_t j = 0; j < k; ++j) {
      double lo = -INFINITY;
      for (size_t i = 0; i < n; ++i)
        if (mask & (1u << i)) lo = std::max(lo, P(i, j));
      vol *= std::max(r[j] - lo, 0.0);
    }
    for (size_t i = 0; i < n; ++i) bits += (mask >> i) & 1;
    total += (bits % 2 ? 1 : -1) * vol;
  }
  return total;
}

Matrix random_points(size_t n, size_t k, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0, 1);
  Matrix P(n, k);
  for (double& v : P.data) v = u(rng);
  return P;
}

TEST(Hypervolume, MatchesInclusionExclusionOnRandomFronts) {
  std::mt19937_64 rng(1);
  for (size_t k : {2u, 3u})
    for (int rep = 0; rep < 40; ++rep) {
      size_t n = 1 + rep % 10;
      Matrix P = random_points(n, k, rng);
      std::vector<double> r(k, 0.9);  // some points lie outside the box
      EXPECT_NEAR(hypervolume(P, r), brute_force(P, r), 1e-12) << k << " " << rep;
    }
}

TEST(Hypervolume, KnownValues) {
  Matrix P(2, 2);
  P.data = {0, 1, 1, 0};
  EXPECT_DOUBLE_EQ(hypervolume(P, {2, 2}), 3.0);
  Matrix Q(1, 3);
  Q.data = {0, 0, 0};
  EXPECT_DOUBLE_EQ(hypervolume(Q, {1, 2, 3}), 6.0);
  EXPECT_DOUBLE_EQ(hypervolume(Matrix(0, 2), {1, 1}), 0.0);
}

TEST(Hypervolume, ImprovementIsTheDifferenceOfVolumes) {
  std::mt19937_64 rng(2);
  for (size_t k : {2u, 3u})
    for (int rep = 0; rep < 30; ++rep) {
      Matrix P = random_points(8, k, rng);
      std::vector<double> r(k, 1.0);
      internal::HypervolumeFront front(P, r);
      Matrix y = random_points(1, k, rng);
      for (double& v : y.data) v *= 0.8;
      Matrix both = P;
      both.data.insert(both.data.end(), y.data.begin(), y.data.end());
      both.rows++;
      EXPECT_NEAR(front.improvement(y.data.data()), hypervolume(both, r) - hypervolume(P, r), 1e-12);
    }
}

TEST(Hypervolume, ParetoFrontDropsDominatedAndDuplicateRows) {
  Matrix P(4, 2);
  P.data = {0, 1, 1, 0, 1, 1, 0, 1};
  Matrix f = internal::pareto_front(P);
  EXPECT_EQ(f.rows, 2u);
}

TEST(Hypervolume, BadInput) {
  EXPECT_THROW(hypervolume(Matrix(1, 4), {1, 1, 1, 1}), ValueError);
  EXPECT_THROW(hypervolume(Matrix(1, 3), {1, 1}), ValueError);
}

}  // namespace
}  // namespace bbo

// Tests of bbo/qmc.h: the Sobol sequence (reference values recorded from the `sobol` plugin's own
// implementation before it moved here), the scramble, net balance, and the normal base samples.
#include "bbo/qmc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "bbo/error.h"
#include "bbo/trial.h"

namespace bbo {
namespace {

// Recorded from plugins/sobol/sobol.cc before the move: scrambled coordinates of points of the 5-dimensional
// sequence, each coordinate k scrambled with trial_seed(7, k, 0x50b01) (what the plugin does for study seed 7).
struct Ref {
  uint64_t index;
  uint32_t bits[5];
};
const Ref kScrambled[] = {
    {0, {0x63b5c548u, 0xc00596b8u, 0x566a0561u, 0x52710b59u, 0xceb02a81u}},
    {1, {0xd2fb16e0u, 0x136cedfcu, 0xeee9dea1u, 0xea907d3eu, 0x1f33e8b6u}},
    {2, {0xace40c73u, 0xb2a9e88fu, 0x2d7113d9u, 0x28ff39b9u, 0x4c07a4f5u}},
    {3, {0x0ab2d965u, 0x42f02f89u, 0x8f8c895bu, 0x8acfeabfu, 0xbc19c158u}},
    {7, {0x5ada9286u, 0x3c6667fcu, 0x110f5805u, 0x74cf5076u, 0xf04780a2u}},
    {1000, {0x401f03d8u, 0xdcce9b4du, 0xe930d285u, 0xc91ced32u, 0xbb3f962au}},
    {123456, {0x64aeb2ceu, 0xf14fc384u, 0x23090437u, 0x0847aa54u, 0xfd290b7au}},
};

std::vector<uint32_t> plugin_seeds() {
  std::vector<uint32_t> s;
  for (int k = 0; k < 5; ++k) s.push_back(static_cast<uint32_t>(trial_seed(7, k, 0x50b01u)));
  return s;
}

TEST(Qmc, ScrambledPointsEqualThePreviousPluginImplementation) {
  auto seeds = plugin_seeds();
  for (const Ref& r : kScrambled) {
    auto p = sobol_point(5, r.index);
    for (int k = 0; k < 5; ++k) EXPECT_EQ(nested_uniform_scramble(p[k], seeds[k]), r.bits[k]) << r.index << "," << k;
  }
}

TEST(Qmc, UnscrambledPointsAreTheSobolSequence) {
  // Raw values recorded from the previous implementation (Boost's engine), and scipy's first points.
  EXPECT_EQ(sobol_point(5, 0), std::vector<uint32_t>(5, 0u));
  EXPECT_EQ(sobol_point(5, 1), std::vector<uint32_t>(5, 0x80000000u));
  EXPECT_EQ(sobol_point(5, 2),
            (std::vector<uint32_t>{0xc0000000u, 0x40000000u, 0x40000000u, 0x40000000u, 0xc0000000u}));
  EXPECT_EQ(sobol_point(5, 1000),
            (std::vector<uint32_t>{0x38400000u, 0x18c00000u, 0x84c00000u, 0xad400000u, 0x47c00000u}));
}

TEST(Qmc, SequenceMatchesPointwiseAccess) {
  auto seeds = plugin_seeds();
  SobolSequence seq(5, seeds, 998);
  std::vector<uint32_t> x(5);
  seq.next(x.data());  // 998
  seq.next(x.data());  // 999
  seq.next(x.data());  // 1000
  for (int k = 0; k < 5; ++k) EXPECT_EQ(x[k], kScrambled[5].bits[k]);
  SobolSequence plain(3);
  for (uint64_t i = 0; i < 300; ++i) {
    plain.next(x.data());
    auto p = sobol_point(3, i);
    for (int k = 0; k < 3; ++k) ASSERT_EQ(x[k], p[k]) << i;
  }
}

// The first two coordinates form a (0, m, 2)-net: every elementary interval of volume 2^-m holds exactly one
// of the first 2^m points; every coordinate alone is stratified into 2^m equal bins.
TEST(Qmc, ScrambledPointsAreBalanced) {
  std::mt19937_64 rng(3);
  const int m = 8, n = 1 << m;
  Matrix P = sobol_points(n, 4, rng);
  for (size_t k = 0; k < 4; ++k) {
    std::set<int> bins;
    for (int i = 0; i < n; ++i) bins.insert(static_cast<int>(P(i, k) * n));
    EXPECT_EQ(bins.size(), static_cast<size_t>(n)) << k;
  }
  for (size_t a = 0; a < 1; ++a)
    for (size_t b = a + 1; b < 2; ++b)
      for (int ka = 0; ka <= m; ++ka) {
        int kb = m - ka;
        std::set<std::pair<int, int>> cells;
        for (int i = 0; i < n; ++i)
          cells.insert({static_cast<int>(P(i, a) * (1 << ka)), static_cast<int>(P(i, b) * (1 << kb))});
        EXPECT_EQ(cells.size(), static_cast<size_t>(n)) << a << "," << b << "," << ka;
      }
  for (double v : P.data) EXPECT_TRUE(v >= 0 && v < 1);
}

TEST(Qmc, DeterministicGivenTheRng) {
  std::mt19937_64 a(11), b(11), c(12);
  Matrix A = sobol_points(64, 3, a), B = sobol_points(64, 3, b), C = sobol_points(64, 3, c);
  EXPECT_EQ(A.data, B.data);
  EXPECT_NE(A.data, C.data);
}

TEST(Qmc, NormalsHaveStandardMoments) {
  std::mt19937_64 rng(5);
  Matrix Z = sobol_normals(1024, 2, rng);
  for (size_t k = 0; k < 2; ++k) {
    double m = 0, v = 0;
    for (size_t i = 0; i < Z.rows; ++i) m += Z(i, k);
    m /= Z.rows;
    for (size_t i = 0; i < Z.rows; ++i) v += (Z(i, k) - m) * (Z(i, k) - m);
    v /= Z.rows;
    EXPECT_NEAR(m, 0.0, 0.01);
    EXPECT_NEAR(v, 1.0, 0.02);
  }
  for (double v : Z.data) EXPECT_TRUE(std::isfinite(v));
}

TEST(Qmc, HighDimensionsFallBackToUniform) {
  std::mt19937_64 rng(1);
  Matrix P = sobol_points(4, sobol_max_dimension() + 3, rng);
  for (double v : P.data) EXPECT_TRUE(v >= 0 && v < 1);
}

TEST(Qmc, BadInputIsRejected) {
  EXPECT_THROW(sobol_point(0, 1), ValueError);
  EXPECT_THROW(sobol_point(sobol_max_dimension() + 1, 1), ValueError);
  EXPECT_THROW(sobol_point(2, 1ull << 32), ValueError);
  EXPECT_THROW(SobolSequence(3, {1u, 2u}), ValueError);
}

}  // namespace
}  // namespace bbo

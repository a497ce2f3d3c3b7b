// Checks bench/functions.h against values computed with /work/shared/peers/functions_public.py (numpy).
#include "bench/functions.h"

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace bbo::bench {
namespace {

const BenchFunction& get(const std::string& name) {
  static const std::vector<BenchFunction> fns = public_functions();
  for (const auto& f : fns) {
    if (f.name == name) return f;
  }
  throw std::runtime_error("no function " + name);
}

std::vector<double> seq(int n, double start, double step) {
  std::vector<double> v(n);
  for (int i = 0; i < n; ++i) v[i] = start + step * i;
  return v;
}

void expect_rel(double got, double want) {
  EXPECT_NEAR(got, want, 1e-12 * std::max(1.0, std::abs(want)));
}

TEST(BenchFunctions, MatchPythonReferenceValues) {
  const double pi = std::numbers::pi;
  expect_rel(branin({-pi, 12.275}), 0.39788735772973816);
  expect_rel(branin({pi, 2.275}), 0.39788735772973816);
  expect_rel(branin({9.42478, 2.475}), 0.39788735775266204);
  expect_rel(branin({0, 0}), 55.602112642270264);
  expect_rel(branin({1.5, 7.25}), 21.879353046077867);
  expect_rel(hartmann6({0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573}), -3.322368011391339);
  expect_rel(hartmann6(std::vector<double>(6, 0.5)), -0.5053149917022333);
  expect_rel(hartmann6({0.1, 0.9, 0.3, 0.7, 0.2, 0.4}), -0.12657694205285083);
  EXPECT_NEAR(ackley(std::vector<double>(10, 0.0)), 0.0, 1e-12);
  expect_rel(ackley(std::vector<double>(10, 1.0)), 3.6253849384403627);
  expect_rel(ackley(seq(10, -2, 0.5)), 6.776152740106655);
  expect_rel(rosenbrock(std::vector<double>(10, 1.0)), 0.0);
  expect_rel(rosenbrock(std::vector<double>(10, 0.0)), 9.0);
  expect_rel(rosenbrock(seq(10, -1, 0.3)), 472.67999999999995);
  EXPECT_NEAR(levy(std::vector<double>(10, 1.0)), 0.0, 1e-12);
  expect_rel(levy(std::vector<double>(10, 0.0)), 1.4426009870527703);
  expect_rel(levy(seq(10, -5, 1.3)), 40.4131075976448);
  expect_rel(styblinski_tang(std::vector<double>(8, -2.903534)), -313.3293256301712);
  expect_rel(styblinski_tang(std::vector<double>(8, 0.0)), 0.0);
  expect_rel(styblinski_tang(seq(8, -3.75, 1.0)), -142.859375);
}

TEST(BenchFunctions, TableHasDimsBoundsAndOptima) {
  const auto fns = public_functions();
  ASSERT_EQ(fns.size(), 6u);
  for (const auto& f : fns) {
    EXPECT_EQ(static_cast<int>(f.bounds.size()), f.dim) << f.name;
    for (auto [lo, hi] : f.bounds) EXPECT_LT(lo, hi) << f.name;
  }
  EXPECT_EQ(get("branin").dim, 2);
  EXPECT_EQ(get("hartmann6").dim, 6);
  EXPECT_EQ(get("ackley10").dim, 10);
  EXPECT_EQ(get("styblinski_tang8").dim, 8);
  EXPECT_DOUBLE_EQ(get("styblinski_tang8").f_opt, -39.16617 * 8);
  EXPECT_DOUBLE_EQ(get("ackley10").bounds[3].first, -32.768);
  // The table's f_opt is the value at the known minimiser, to the digits the Python table gives.
  EXPECT_NEAR(get("branin").f(std::vector<double>{-std::numbers::pi, 12.275}), get("branin").f_opt, 1e-6);
  EXPECT_NEAR(get("hartmann6").f({0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573}),
              get("hartmann6").f_opt, 1e-5);
  EXPECT_NEAR(get("styblinski_tang8").f(std::vector<double>(8, -2.903534)), get("styblinski_tang8").f_opt, 1e-4);
  EXPECT_NEAR(get("rosenbrock10").f(std::vector<double>(10, 1.0)), get("rosenbrock10").f_opt, 1e-12);
}

TEST(BenchFunctions, ShiftMatchesOptunaSuite) {
  const auto& br = get("branin");
  auto d0 = shift_for(br.bounds, 0);
  expect_rel(d0[0], -0.17452339469711992);
  expect_rel(d0[1], -0.2835877897395409);
  auto d3 = shift_for(br.bounds, 3);
  expect_rel(d3[0], -1.474708333114862);
  expect_rel(d3[1], 1.3229967031241585);
  auto h3 = shift_for(get("hartmann6").bounds, 3);
  const std::vector<double> want = {-0.09831388887432414, 0.08819978020827723, -0.06984780237326943,
                                    0.04497203211687831,  -0.0158958691161254, -0.014664969807813977};
  for (int i = 0; i < 6; ++i) expect_rel(h3[i], want[i]);
}

TEST(BenchFunctions, ShiftedOptimumMovesByDelta) {
  const auto& rb = get("rosenbrock10");
  auto delta = shift_for(rb.bounds, 5);
  std::vector<double> x(10);
  for (int i = 0; i < 10; ++i) x[i] = 1.0 + delta[i];
  EXPECT_NEAR(evaluate_shifted(rb, x, delta), 0.0, 1e-20);
  EXPECT_GT(evaluate_shifted(rb, std::vector<double>(10, 1.0), delta), 1.0);
}

}  // namespace
}  // namespace bbo::bench

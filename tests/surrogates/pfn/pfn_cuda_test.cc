// Tests of the `pfn` surrogate's GPU path (pfn_cuda.cu through pfn_device.h): the CUDA logits and predictions
// against the CPU path on the same inputs (where a GPU exists; skipped with the reason elsewhere), and what
// runs without a GPU: the `device` parameter's validation and the CPU fallback of a GPU request, which must
// give exactly the CPU results.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "bbo/device.h"
#include "bbo/error.h"
#include "bbo/plugin.h"
#include "surrogate_conformance.h"
#include "surrogates/pfn/pfn_core.h"

// The whole surrogate contract with the GPU requested: on the GPU where there is one, through the CPU
// fallback here.
INSTANTIATE_TEST_SUITE_P(PfnCuda, SurrogateConformance,
                         ::testing::Values(bbo::testing::SurrogateCase{"pfn", {{"device", "cuda"}}},
                                           bbo::testing::SurrogateCase{"pfn", {{"device", "cuda"}, {"gradient", true}}}),
                         bbo::testing::SurrogateCaseName);

namespace bbo::pfn {
namespace {

#define SKIP_WITHOUT_GPU()                    \
  if (bbo::cuda_info().device_count == 0)     \
  GTEST_SKIP() << "no CUDA GPU: " << bbo::cuda_info().unavailable_reason

// Under the host emulation of the GPU (tests/cuda_emu, ctest's *.emulated entries) the naive emulated cuBLAS is
// ~100x slower than a GPU: the batch sizes shrink, and the emulated backend's query chunks are 512 rows instead
// of 16,384, so that the smaller batches still cross chunk borders.
bool emulated() { return std::getenv(kCudaEmulationVariable) != nullptr; }
size_t big_batch() { return emulated() ? 600 : 5000; }         // more than one emulated chunk
size_t several_chunks() { return emulated() ? 1300 : 40000; }  // 3 chunks of the backend

const Device kCpu = Device::parse("cpu");
const Device kCuda = Device::parse("cuda");

Matrix uniform(size_t rows, size_t cols, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Matrix X(rows, cols);
  for (double& v : X.data) v = u(rng);
  return X;
}

// A context of n points in d dimensions (y a smooth function plus a ripple), encoded into `net`.
void set_context(PfnNetwork& net, size_t n, size_t d, uint64_t seed) {
  const Matrix X = uniform(n, d, seed);
  std::vector<double> y(n);
  for (size_t i = 0; i < n; ++i) {
    double v = 0;
    for (size_t j = 0; j < d; ++j) v += (j + 1.0) * X(i, j) + 0.3 * std::sin(7.0 * X(i, j));
    y[i] = v - 0.5 * d;
  }
  std::vector<size_t> cols(d);
  for (size_t j = 0; j < d; ++j) cols[j] = j;
  net.set_context(net.features(X, cols), y);
}

RowMatrix query_features(const PfnNetwork& net, size_t m, size_t d, uint64_t seed) {
  std::vector<size_t> cols(d);
  for (size_t j = 0; j < d; ++j) cols[j] = j;
  return net.features(uniform(m, d, seed), cols);
}

// max over entries of |a - b| / max(1, |b|): 1e-9 bounds both the absolute (|b| <= 1) and the relative error.
double worst_error(const RowMatrix& a, const RowMatrix& b) {
  EXPECT_EQ(a.rows(), b.rows());
  EXPECT_EQ(a.cols(), b.cols());
  double worst = 0;
  for (Eigen::Index i = 0; i < a.rows(); ++i)
    for (Eigen::Index k = 0; k < a.cols(); ++k)
      worst = std::max(worst, std::fabs(a(i, k) - b(i, k)) / std::max(1.0, std::fabs(b(i, k))));
  return worst;
}

FitInput make_data(size_t n, size_t d, uint64_t seed) {
  FitInput in;
  in.X = uniform(n, d, seed);
  in.y.resize(n);
  for (size_t i = 0; i < n; ++i) in.y[i] = std::sin(3.0 * in.X(i, 0)) + (d > 1 ? in.X(i, 1) * in.X(i, 1) : 0.0);
  in.seed = seed;
  return in;
}

// ---- GPU vs CPU (need a GPU) -------------------------------------------------------------------------------

// Logits within 1e-9 (relative, absolute below 1) for contexts of 0 (the prior), 1, 7 and 60 points and
// batches of 1, 7 and 5000 (emulated: 600) query rows; the GPU network re-reads a changed context.
TEST(PfnCudaNetwork, LogitsEqualCpuLogits) {
  SKIP_WITHOUT_GPU();
  PfnNetwork cpu(PfnWeights::builtin()), gpu(PfnWeights::builtin());
  gpu.set_device(kCuda, 1);
  struct Case {
    size_t n, d;
  };
  for (const Case c : {Case{0, 2}, Case{1, 3}, Case{7, 8}, Case{60, 5}}) {
    set_context(cpu, c.n, c.d, 10 + c.n);
    set_context(gpu, c.n, c.d, 10 + c.n);
    for (size_t m : {size_t{1}, size_t{7}, big_batch()}) {
      const RowMatrix q = query_features(cpu, m, c.d, 100 + m);
      const RowMatrix want = cpu.logits(q), got = gpu.logits(q);
      ASSERT_EQ(gpu.last_device(), kCuda) << "the GPU network computed on the CPU";
      EXPECT_LT(worst_error(got, want), 1e-9) << "n=" << c.n << " d=" << c.d << " m=" << m;
    }
  }
}

// More rows than one chunk (16,384; emulated 512) of the engine: the chunks are stitched in order.
TEST(PfnCudaNetwork, LargeBatchesSpanSeveralChunks) {
  SKIP_WITHOUT_GPU();
  PfnNetwork cpu(PfnWeights::builtin()), gpu(PfnWeights::builtin());
  gpu.set_device(kCuda, 1);
  set_context(cpu, 25, 4, 3);
  set_context(gpu, 25, 4, 3);
  const RowMatrix q = query_features(cpu, several_chunks(), 4, 4);
  const RowMatrix want = cpu.logits(q), got = gpu.logits(q);
  ASSERT_EQ(gpu.last_device(), kCuda);
  EXPECT_LT(worst_error(got, want), 1e-9);
}

// predict() (mean and variance in y units) of the surrogate on the GPU and on the CPU, and device auto above
// its threshold.
TEST(PfnCudaSurrogate, PredictEqualsCpuPredict) {
  SKIP_WITHOUT_GPU();
  const FitInput in = make_data(40, 3, 5);
  PfnOptions oc, og, oa;
  og.device = kCuda;
  oa.device = Device::parse("auto");
  oa.auto_min_rows = 100;
  PfnSurrogate cpu(oc), gpu(og), aut(oa);
  cpu.fit(in);
  gpu.fit(in);
  aut.fit(in);
  for (size_t m : {size_t{1}, size_t{7}, big_batch()}) {
    const Matrix X = uniform(m, 3, 50 + m);
    const Prediction want = cpu.predict(X), got = gpu.predict(X), autp = aut.predict(X);
    for (size_t i = 0; i < m; ++i) {
      EXPECT_NEAR(got.mean[i], want.mean[i], 1e-9 * std::max(1.0, std::fabs(want.mean[i]))) << "m=" << m;
      EXPECT_NEAR(got.variance[i], want.variance[i], 1e-9 * std::max(1.0, want.variance[i])) << "m=" << m;
      if (m < 100) {  // auto below its threshold: the CPU, bit for bit
        EXPECT_EQ(autp.mean[i], want.mean[i]);
      } else {
        EXPECT_NEAR(autp.mean[i], want.mean[i], 1e-9 * std::max(1.0, std::fabs(want.mean[i])));
      }
    }
  }
}

// ---- without a GPU (run everywhere) ----------------------------------------------------------------------

// A cuda request that cannot be honoured prints one line and computes exactly what device cpu computes.
TEST(PfnDevice, CudaRequestWithoutGpuFallsBackToTheCpuWithIdenticalResults) {
  if (bbo::cuda_info().device_count > 0) GTEST_SKIP() << "a CUDA GPU is present: the PfnCuda* tests compare the paths";
  const FitInput in = make_data(20, 2, 7);
  PfnOptions oc, og;
  og.device = kCuda;
  PfnSurrogate cpu(oc), gpu(og);
  cpu.fit(in);
  gpu.fit(in);
  const Matrix X = uniform(300, 2, 8);
  const Prediction want = cpu.predict(X), got = gpu.predict(X);
  EXPECT_EQ(got.mean, want.mean);
  EXPECT_EQ(got.variance, want.variance);

  PfnNetwork net(PfnWeights::builtin());
  net.set_device(Device::parse("cuda:3"), 1);
  set_context(net, 5, 2, 1);
  const RowMatrix q = query_features(net, 9, 2, 2);
  PfnNetwork ref(PfnWeights::builtin());
  set_context(ref, 5, 2, 1);
  EXPECT_EQ(net.logits(q), ref.logits(q));
  EXPECT_EQ(net.last_device(), kCpu);
}

// The notice: one line on stderr naming the surrogate, the request and the reason (checked in a fresh
// process, as it is printed once per process).
TEST(PfnDevice, CudaRequestWithoutGpuPrintsOneNotice) {
  if (bbo::cuda_info().device_count > 0) GTEST_SKIP() << "a CUDA GPU is present: no notice to check";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        PfnOptions o;
        o.device = kCuda;
        PfnSurrogate s(o);
        s.fit(make_data(5, 2, 1));
        s.predict(uniform(3, 2, 2));
        s.predict(uniform(3, 2, 3));  // no second line
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "^bbo: pfn: device 'cuda:0' unavailable \\([^\n]+\\); computing on the CPU\n$");
}

// auto below its threshold never touches the GPU: CPU results bit for bit, silently.
TEST(PfnDevice, AutoBelowTheThresholdComputesOnTheCpu) {
  PfnNetwork net(PfnWeights::builtin()), ref(PfnWeights::builtin());
  net.set_device(Device::parse("auto"), 1000);
  set_context(net, 12, 3, 4);
  set_context(ref, 12, 3, 4);
  const RowMatrix q = query_features(net, 999, 3, 5);
  EXPECT_EQ(net.logits(q), ref.logits(q));
  EXPECT_EQ(net.last_device(), kCpu);
  EXPECT_EQ(net.device(), Device::parse("auto"));
}

TEST(PfnDevice, QueryFeaturesOfTheWrongWidthAreValueErrors) {
  PfnNetwork net(PfnWeights::builtin());
  set_context(net, 3, 2, 1);
  EXPECT_THROW(net.logits(RowMatrix::Zero(4, 3)), ValueError);
}

// The plugin parameters: device (cpu by default; a bad value is a ConfigError naming it) and auto_min_rows.
TEST(PfnDevice, PluginDeviceParameter) {
  auto& reg = PluginRegistry::global();
  try {
    reg.make_surrogate("pfn", {{"device", "gpu"}});
    FAIL() << "device 'gpu' accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'device'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'gpu'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(reg.make_surrogate("pfn", {{"device", "cuda:x"}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("pfn", {{"device", 1}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("pfn", {{"auto_min_rows", 0}}), ConfigError);
  bool documented = false;
  for (const ParamSpec& p : reg.describe(PluginKind::kSurrogate, "pfn").params)
    if (p.name == "device") documented = p.type == "string" && p.default_value == "cpu";
  EXPECT_TRUE(documented) << "parameter device (string, default cpu)";

  // Every accepted value predicts the CPU's values (exactly without a GPU, within 1e-9 with one).
  const FitInput in = make_data(15, 2, 9);
  const Matrix X = uniform(50, 2, 10);
  auto cpu = reg.make_surrogate("pfn", {{"device", "cpu"}});
  cpu->fit(in);
  const Prediction want = cpu->predict(X);
  for (const char* dev : {"cuda", "cuda:0", "auto"}) {
    auto s = reg.make_surrogate("pfn", {{"device", dev}, {"auto_min_rows", 1}});
    s->fit(in);
    const Prediction got = s->predict(X);
    for (size_t i = 0; i < X.rows; ++i) {
      if (bbo::cuda_info().device_count == 0) {
        EXPECT_EQ(got.mean[i], want.mean[i]) << dev;
        EXPECT_EQ(got.variance[i], want.variance[i]) << dev;
      } else {
        EXPECT_NEAR(got.mean[i], want.mean[i], 1e-9 * std::max(1.0, std::fabs(want.mean[i]))) << dev;
        EXPECT_NEAR(got.variance[i], want.variance[i], 1e-9 * std::max(1.0, want.variance[i])) << dev;
      }
    }
  }
}

}  // namespace
}  // namespace bbo::pfn

// The GPU path of the `gp` surrogate (gp_device.h, gp_cuda.cu) against its CPU path on the same inputs, and
// what runs without a GPU: a cuda request computes on the CPU (one-line notice, identical results) and the
// `device` parameter is validated.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <memory>
#include <random>
#include <string>

#include "bbo/device.h"
#include "bbo/error.h"
#include "bbo/plugin.h"
#include "surrogates/gp/gp_core.h"
#include "surrogates/gp/gp_device.h"

namespace bbo::gp {
namespace {

#define SKIP_WITHOUT_GPU()                                                                     \
  if (bbo::cuda_info().device_count == 0) GTEST_SKIP() << "no CUDA GPU: " << bbo::cuda_info().unavailable_reason

// Under the host emulation of the GPU (tests/cuda_emu, ctest's *.emulated entry) the emulated kernels and
// cuSOLVER are far slower than a GPU: fewer query rows (the emulated backend's query blocks are 512 rows instead
// of 16,384, so that blocks are still crossed) and one full fit instead of two.
bool emulated() { return std::getenv(kCudaEmulationVariable) != nullptr; }

double rel_err(double a, double b) { return std::fabs(a - b) / std::max(1.0, std::max(std::fabs(a), std::fabs(b))); }

std::vector<Dimension> dims4() {
  return {{DimensionKind::kContinuous, 0},
          {DimensionKind::kContinuous, 0},
          {DimensionKind::kGrid, 5},
          {DimensionKind::kCategorical, 3}};
}

FitInput data(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  FitInput in;
  in.dims = dims4();
  in.X = Matrix(n, 4);
  in.y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    in.X(i, 0) = u(rng);
    in.X(i, 1) = u(rng);
    in.X(i, 2) = (std::floor(5 * u(rng)) + 0.5) / 5;
    in.X(i, 3) = (std::floor(3 * u(rng)) + 0.5) / 3;
    in.y[i] = std::sin(5 * in.X(i, 0)) * in.X(i, 1) + in.X(i, 2) + (in.X(i, 3) < 0.4 ? 0.7 : 0.0) + 0.1 * u(rng);
  }
  in.seed = seed;
  return in;
}

Matrix queries(size_t m, uint64_t seed) {
  FitInput q = data(m, seed);
  return q.X;
}

GpOptions on(const char* device) {
  GpOptions o;
  o.device = Device::parse(device);
  return o;
}

// ---- Without a GPU (runs everywhere) ---------------------------------------------------------------------

TEST(GpCudaFallback, CudaRequestWithoutAGpuPrintsOneNoticeAndGivesTheCpuResults) {
  if (bbo::cuda_info().device_count > 0) GTEST_SKIP() << "a CUDA GPU is present: the fallback is not exercised";
  const FitInput in = data(40, 7);
  GpModel cpu(on("cpu")), gpu(on("cuda"));
  cpu.fit(in);
  ::testing::internal::CaptureStderr();
  gpu.fit(in);
  GpModel again(on("cuda:1"));
  again.fit(in);
  const std::string err = ::testing::internal::GetCapturedStderr();
  // One line (once per process), naming the request and the reason.
  EXPECT_EQ(err.rfind("bbo: gp: device 'cuda:0' unavailable (", 0), 0u) << err;
  EXPECT_NE(err.find(bbo::cuda_info().unavailable_reason), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_FALSE(gpu.on_gpu());
  EXPECT_EQ(gpu.state().dump(), cpu.state().dump());
  EXPECT_EQ(again.state().dump(), cpu.state().dump());
  EXPECT_EQ(gpu.log_posterior(), cpu.log_posterior());
  EXPECT_EQ(gpu.fit_evaluations(), cpu.fit_evaluations());
  const Matrix Q = queries(300, 8);  // above gpu_min_predict_rows
  const Prediction a = cpu.predict(Q), b = gpu.predict(Q);
  EXPECT_EQ(a.mean, b.mean);
  EXPECT_EQ(a.variance, b.variance);
}

TEST(GpCudaFallback, AutoBelowOrWithoutTheGpuIsSilentlyTheCpu) {
  const FitInput in = data(30, 9);
  GpOptions o = on("auto");  // n = 30 < gpu_min_n: the CPU, GPU or not
  GpModel cpu(on("cpu")), autom(o);
  cpu.fit(in);
  ::testing::internal::CaptureStderr();
  autom.fit(in);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_FALSE(autom.on_gpu());
  EXPECT_EQ(autom.state().dump(), cpu.state().dump());
}

TEST(GpCudaFallback, DeviceParameterIsValidatedByThePlugin) {
  auto& registry = PluginRegistry::global();
  try {
    registry.make_surrogate("gp", {{"device", "gpu"}});
    FAIL() << "device 'gpu' was accepted";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("'device'"), std::string::npos) << what;
    EXPECT_NE(what.find("'gpu'"), std::string::npos) << what;
  }
  EXPECT_THROW(registry.make_surrogate("gp", {{"device", "cuda:-1"}}), ConfigError);
  EXPECT_THROW(registry.make_surrogate("gp", {{"device", 3}}), ConfigError);
  EXPECT_THROW(registry.make_surrogate("gp", {{"gpu_min_n", -1}}), ConfigError);
  // Valid values construct; an unusable GPU makes a fit compute on the CPU with the CPU's results.
  for (const char* d : {"cpu", "cuda", "cuda:0", "auto"}) EXPECT_NO_THROW(registry.make_surrogate("gp", {{"device", d}}));
  const FitInput in = data(25, 4);
  auto cpu = registry.make_surrogate("gp", {{"device", "cpu"}});
  auto gpu = registry.make_surrogate("gp", {{"device", "cuda"}, {"gpu_min_n", 0}});
  cpu->fit(in);
  ::testing::internal::CaptureStderr();
  gpu->fit(in);
  ::testing::internal::GetCapturedStderr();
  if (bbo::cuda_info().device_count == 0) {
    EXPECT_EQ(gpu->state().dump(), cpu->state().dump());
  }
}

struct Standardized {
  Eigen::MatrixXd X;
  Eigen::VectorXd z;
  GpDeviceData device;
};

Standardized standardize(const FitInput& in, const GpOptions& o) {
  const size_t n = in.X.rows, d = in.X.cols;
  Standardized s;
  s.X.resize(n, d);
  s.z.resize(n);
  double mean = 0.0, var = 0.0;
  for (double v : in.y) mean += v / n;
  for (double v : in.y) var += (v - mean) * (v - mean) / n;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < d; ++j) s.X(i, j) = in.X(i, j);
    s.z[i] = (in.y[i] - mean) / std::sqrt(var);
  }
  s.device.n = n;
  s.device.d = d;
  s.device.X = in.X.data;
  s.device.z.assign(s.z.data(), s.z.data() + n);
  for (const auto& dim : in.dims) s.device.categorical.push_back(dim.kind == DimensionKind::kCategorical ? 1 : 0);
  s.device.deterministic = o.deterministic;
  s.device.fixed_noise = o.fixed_noise;
  return s;
}

// ---- The GPU path's host side, through a host implementation of the engine (runs everywhere) -------------

struct EngineLog {
  int batches = 0;
  size_t largest_batch = 0;
  size_t predicted_rows = 0;
  int factorizations = 0;
};

// GpDeviceEngine computed on the host from independent code: the likelihood as MapObjective's value minus its
// log prior, the factor by Eigen's LLT of the kernel matrix written out from its definition.
class HostEngine final : public GpDeviceEngine {
 public:
  explicit HostEngine(EngineLog* log, bool fail = false) : log_(log), fail_(fail) {}
  void set_data(const GpDeviceData& d) override {
    dims_.assign(d.d, Dimension{});
    for (size_t j = 0; j < d.d; ++j)
      if (d.categorical[j]) dims_[j].kind = DimensionKind::kCategorical;
    X_ = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
        d.X.data(), static_cast<Eigen::Index>(d.n), static_cast<Eigen::Index>(d.d));
    z_ = Eigen::Map<const Eigen::VectorXd>(d.z.data(), static_cast<Eigen::Index>(d.n));
    GpOptions o;
    o.deterministic = d.deterministic;
    o.fixed_noise = d.fixed_noise;
    obj_ = std::make_unique<MapObjective>(dims_, X_, z_, o);
  }
  void log_likelihood_batch(const double* thetas, size_t B, double* values, double* grads) override {
    if (fail_) throw std::runtime_error("host engine: simulated device failure");
    ++log_->batches;
    log_->largest_batch = std::max(log_->largest_batch, B);
    const size_t P = obj_->size();
    std::vector<double> g(P), gp(P);
    for (size_t b = 0; b < B; ++b) {
      const double* t = thetas + b * P;
      const double v = obj_->value(t, g.data());
      if (!std::isfinite(v)) {
        values[b] = -std::numeric_limits<double>::infinity();
        if (grads) std::fill(grads + b * P, grads + (b + 1) * P, 0.0);
        continue;
      }
      values[b] = v - obj_->log_prior(t, gp.data());
      if (grads)
        for (size_t i = 0; i < P; ++i) grads[b * P + i] = g[i] - gp[i];
    }
  }
  bool factorize(const std::vector<double>& ls, double signal, double noise, double* jitter, double* L,
                 double* alpha) override {
    ++log_->factorizations;
    ls_ = ls;
    signal_ = signal;
    const Eigen::Index n = X_.rows();
    Eigen::MatrixXd K(n, n);
    for (Eigen::Index i = 0; i < n; ++i)
      for (Eigen::Index k = 0; k < n; ++k) K(i, k) = k_(X_.row(i), X_.row(k)) + (i == k ? noise : 0.0);
    for (int attempt = 0; attempt <= 7; ++attempt) {
      *jitter = attempt == 0 ? 0.0 : (signal + noise) * std::pow(10.0, -9 + attempt);
      Eigen::MatrixXd A = K;
      A.diagonal().array() += *jitter;
      Eigen::LLT<Eigen::MatrixXd> llt(A);
      if (llt.info() != Eigen::Success) continue;
      L_ = llt.matrixL();
      alpha_ = llt.solve(z_);
      std::copy(L_.data(), L_.data() + n * n, L);
      std::copy(alpha_.data(), alpha_.data() + n, alpha);
      return true;
    }
    return false;
  }
  void predict(const double* Xq, size_t m, double* mean, double* latent) override {
    log_->predicted_rows += m;
    const Eigen::Index n = X_.rows(), d = X_.cols();
    for (size_t q = 0; q < m; ++q) {
      Eigen::RowVectorXd x = Eigen::Map<const Eigen::RowVectorXd>(Xq + q * d, d);
      Eigen::VectorXd k(n);
      for (Eigen::Index i = 0; i < n; ++i) k[i] = k_(X_.row(i), x);
      mean[q] = k.dot(alpha_);
      latent[q] = signal_ - L_.triangularView<Eigen::Lower>().solve(k).squaredNorm();
    }
  }

 private:
  double k_(const Eigen::RowVectorXd& a, const Eigen::RowVectorXd& b) const {
    double r2 = 0.0;
    for (size_t j = 0; j < dims_.size(); ++j) {
      const double diff = a[static_cast<Eigen::Index>(j)] - b[static_cast<Eigen::Index>(j)];
      r2 += (dims_[j].kind == DimensionKind::kCategorical ? (diff != 0.0 ? 1.0 : 0.0) : diff * diff) /
            (ls_[j] * ls_[j]);
    }
    return signal_ * matern52(r2);
  }
  EngineLog* log_;
  bool fail_;
  std::vector<Dimension> dims_;
  Eigen::MatrixXd X_, L_;
  Eigen::VectorXd z_, alpha_;
  std::unique_ptr<MapObjective> obj_;
  std::vector<double> ls_;
  double signal_ = 1.0;
};

TEST(GpDeviceHostSide, FitAndPredictThroughAnEngineMatchTheCpu) {
  for (bool deterministic : {false, true}) {
    const FitInput in = data(60, 51);
    GpOptions o;
    o.deterministic = deterministic;
    GpModel cpu(o), dev(o);
    EngineLog log;
    dev.set_device_engine(std::make_unique<HostEngine>(&log));
    cpu.fit(in);
    dev.fit(in);
    ASSERT_TRUE(dev.on_gpu());
    // All starts of the cold fit in one batch (the first round), several rounds, one final factorization.
    EXPECT_EQ(log.largest_batch, static_cast<size_t>(o.n_restarts));
    EXPECT_GT(log.batches, 5);
    EXPECT_EQ(log.factorizations, 1);
    EXPECT_NEAR(dev.log_posterior(), cpu.log_posterior(), 1e-3) << "deterministic " << deterministic;
    std::printf("deterministic %d: log posterior %.9f (batched, %d evaluations in %d batches) vs %.9f (NLopt, %d)\n",
                deterministic, dev.log_posterior(), dev.fit_evaluations(), log.batches, cpu.log_posterior(),
                cpu.fit_evaluations());
    // Its reported log posterior is the objective's value at its θ.
    Standardized s = standardize(in, o);
    MapObjective obj(in.dims, s.X, s.z, o);
    const std::vector<double> t = obj.pack(dev.hyper());
    EXPECT_LT(rel_err(obj.value(t.data(), nullptr), dev.log_posterior()), 1e-10);
    // Many rows: the engine; few rows: the CPU from the engine's factor; both equal a CPU model with the same
    // hyper-parameters.
    GpModel ref(o);
    ref.fit_fixed(in.dims, in.X, in.y, dev.hyper(), dev.y_mean(), dev.y_std());
    for (size_t m : {300u, 10u}) {
      const size_t before = log.predicted_rows;
      const Matrix Q = queries(m, 52);
      const Prediction a = ref.predict(Q), b = dev.predict(Q);
      EXPECT_EQ(log.predicted_rows - before, m >= 256 ? m : 0u);
      for (size_t i = 0; i < m; ++i) {
        EXPECT_LT(rel_err(a.mean[i], b.mean[i]), 1e-10) << i;
        EXPECT_LT(std::fabs(a.variance[i] - b.variance[i]), 1e-10 * std::max(1.0, a.variance[i])) << i;
      }
    }
    // A conditioned copy computes on the CPU (its factor changes) and equals the CPU model's.
    const FitInput extra = data(5, 53);
    auto c_dev = dev.condition_on(extra.X, extra.y);
    auto c_ref = ref.condition_on(extra.X, extra.y);
    EXPECT_FALSE(c_dev->on_gpu());
    const Matrix Q = queries(300, 54);
    const Prediction a = c_ref->predict(Q), b = c_dev->predict(Q);
    for (size_t i = 0; i < Q.rows; ++i) EXPECT_LT(rel_err(a.mean[i], b.mean[i]), 1e-10) << i;
    EXPECT_EQ(log.predicted_rows, 300u);
  }
}

TEST(GpDeviceHostSide, LargeColdFitPolishesThroughTheEngineAndWarmFitsBatchTheirStarts) {
  FitInput in = data(90, 61);
  GpOptions o;
  o.subset_size = 40;  // the subset stage on the CPU, the polish on all points through the engine
  GpModel cpu(o), dev(o);
  EngineLog log;
  dev.set_device_engine(std::make_unique<HostEngine>(&log));
  cpu.fit(in);
  dev.fit(in);
  EXPECT_TRUE(dev.on_gpu());
  EXPECT_GT(log.batches, 0);
  EXPECT_NEAR(dev.log_posterior(), cpu.log_posterior(), 1e-3);
  // Warm fits: the warm start and warm_restarts draws as one batch.
  o.warm_restarts = 2;
  GpModel warm(o);
  EngineLog wlog;
  warm.set_device_engine(std::make_unique<HostEngine>(&wlog));
  in.warm_start = dev.state();
  warm.fit(in);
  EXPECT_EQ(wlog.largest_batch, 3u);
  EXPECT_GE(warm.log_posterior(), dev.log_posterior() - 1e-3);
}

TEST(GpDeviceHostSide, AFailingEngineFallsBackToTheCpuFit) {
  const FitInput in = data(40, 71);
  GpModel cpu, dev;
  EngineLog log;
  dev.set_device_engine(std::make_unique<HostEngine>(&log, /*fail=*/true));
  cpu.fit(in);
  dev.fit(in);
  EXPECT_FALSE(dev.on_gpu());
  EXPECT_EQ(dev.state().dump(), cpu.state().dump());
  EXPECT_EQ(dev.log_posterior(), cpu.log_posterior());
  EXPECT_EQ(dev.fit_evaluations(), cpu.fit_evaluations());
  // Unsupported configurations never reach the engine.
  GpOptions w;
  w.warping = true;
  w.n_restarts = 1;
  GpModel warped(w);
  EngineLog wlog;
  warped.set_device_engine(std::make_unique<HostEngine>(&wlog));
  warped.fit(in);
  EXPECT_FALSE(warped.on_gpu());
  EXPECT_EQ(wlog.batches, 0);
}

// ---- GPU against CPU (needs a GPU) -----------------------------------------------------------------------

std::unique_ptr<GpDeviceEngine> engine() {
  std::string reason;
  auto factory = reinterpret_cast<GpCudaFactory>(open_cuda_backend(nullptr, kGpCudaLibrary, kGpCudaFactory, &reason));
  if (!factory) ADD_FAILURE() << "no CUDA backend: " << reason;
  GpDeviceEngine* e = factory ? factory(0, &reason) : nullptr;
  if (factory && !e) ADD_FAILURE() << "the CUDA engine did not initialise: " << reason;
  return std::unique_ptr<GpDeviceEngine>(e);
}

TEST(GpCuda, LogLikelihoodBatchEqualsMapObjective) {
  SKIP_WITHOUT_GPU();
  auto eng = engine();
  ASSERT_TRUE(eng);
  for (size_t n : {50u, 500u})
    for (bool deterministic : {false, true}) {
      GpOptions o;
      o.deterministic = deterministic;
      const FitInput in = data(n, 21 + n);
      Standardized s = standardize(in, o);
      MapObjective obj(in.dims, s.X, s.z, o);
      const size_t P = obj.size();
      std::mt19937_64 rng(3);
      std::vector<double> thetas;
      for (int k = 0; k < 5; ++k) {
        std::vector<double> t = obj.prior_start(k == 0 ? nullptr : &rng);
        thetas.insert(thetas.end(), t.begin(), t.end());
      }
      const size_t B = thetas.size() / P;
      eng->set_data(s.device);
      std::vector<double> values(B), grads(B * P);
      eng->log_likelihood_batch(thetas.data(), B, values.data(), grads.data());
      std::vector<double> values_only(B);
      eng->log_likelihood_batch(thetas.data(), B, values_only.data(), nullptr);
      for (size_t b = 0; b < B; ++b) {
        std::vector<double> g(P), gp(P);
        const double* t = thetas.data() + b * P;
        const double ll = obj.value(t, g.data()) - obj.log_prior(t, gp.data());
        EXPECT_LT(rel_err(values[b], ll), 1e-8)
            << "n " << n << " deterministic " << deterministic << " b " << b << ": " << values[b] << " vs " << ll;
        EXPECT_LT(rel_err(values_only[b], ll), 1e-8) << "n " << n << " b " << b;
        // With a tiny σ² (deterministic: 1e-6; prior draws reach it too) K's condition number reaches ~1e9 at
        // n = 500 for long lengthscales, and Q = ααᵀ − K⁻¹ cancels terms of that size: the two paths' rounding
        // then differs at ~1e-8. 1e-8 where σ² ≥ 1e-3.
        const double noise = deterministic ? o.fixed_noise : std::exp(t[in.dims.size() + 1]);
        const double tol = noise >= 1e-3 ? 1e-8 : 1e-6;
        for (size_t i = 0; i < P; ++i)
          EXPECT_LT(rel_err(grads[b * P + i], g[i] - gp[i]), tol)
              << "n " << n << " deterministic " << deterministic << " b " << b << " component " << i << ": "
              << grads[b * P + i] << " vs " << g[i] - gp[i];
      }
    }
}

TEST(GpCuda, JitterEscalationMatchesTheCpu) {
  SKIP_WITHOUT_GPU();
  auto eng = engine();
  ASSERT_TRUE(eng);
  // Duplicated points without noise: the plain factorization fails, jitter makes it succeed on both paths.
  FitInput in = data(40, 5);
  for (size_t i = 20; i < 40; ++i)
    for (size_t j = 0; j < 4; ++j) in.X(i, j) = in.X(i - 20, j);
  GpOptions o;
  o.deterministic = true;
  o.fixed_noise = 0.0;
  Standardized s = standardize(in, o);
  MapObjective obj(in.dims, s.X, s.z, o);
  std::vector<double> t = obj.prior_start(nullptr);
  eng->set_data(s.device);
  double value = 0.0;
  std::vector<double> grad(obj.size()), g(obj.size()), gp(obj.size());
  eng->log_likelihood_batch(t.data(), 1, &value, grad.data());
  const double ll = obj.value(t.data(), g.data()) - obj.log_prior(t.data(), gp.data());
  ASSERT_TRUE(std::isfinite(ll));
  // The same jitter level: one decade more or less would move log det by ~20·ln 10 (20 near-zero eigenvalues).
  EXPECT_LT(rel_err(value, ll), 1e-6) << value << " vs " << ll;
  // K + 1e-8·s² I has condition number ~1e10 and Q = ααᵀ − K⁻¹ cancels terms of that size: the gradient
  // agrees only to the rounding that this amplifies.
  for (size_t i = 0; i < obj.size(); ++i) EXPECT_LT(rel_err(grad[i], g[i] - gp[i]), 1e-3) << i;
}

TEST(GpCuda, PredictEqualsTheCpu) {
  SKIP_WITHOUT_GPU();
  for (size_t n : {50u, 500u}) {
    const FitInput in = data(n, 31);
    Hyper h;
    h.lengthscale = {0.3, 0.5, 0.8, 1.1};
    h.signal = 1.4;
    h.noise = 0.01;
    GpOptions go = on("cuda");
    go.gpu_min_predict_rows = 1;
    GpModel cpu(on("cpu")), gpu(go);
    cpu.fit_fixed(in.dims, in.X, in.y, h, 1.5, 0.7);
    gpu.fit_fixed(in.dims, in.X, in.y, h, 1.5, 0.7);
    ASSERT_TRUE(gpu.on_gpu());
    // n = 50: more rows than one query block of the engine (16,384; emulated 512), so that blocks are crossed.
    const Matrix Q = queries(n == 50 ? (emulated() ? 1300 : 20000) : (emulated() ? 600 : 3000), 32);
    const Prediction a = cpu.predict(Q), b = gpu.predict(Q);
    for (size_t i = 0; i < Q.rows; ++i) {
      EXPECT_LT(rel_err(a.mean[i], b.mean[i]), 1e-8) << i;
      EXPECT_LT(std::fabs(a.variance[i] - b.variance[i]), 1e-8 * std::max(1.0, a.variance[i])) << i;
    }
    // The factor the GPU computed serves the CPU-side members too.
    const PointPrediction pa = cpu.predict_with_gradient(Q.row(0)), pb = gpu.predict_with_gradient(Q.row(0));
    EXPECT_LT(rel_err(pa.mean, pb.mean), 1e-8);
    EXPECT_LT(rel_err(pa.variance, pb.variance), 1e-8);
  }
}

TEST(GpCuda, FullFitReachesTheCpuLogPosterior) {
  SKIP_WITHOUT_GPU();
  for (bool deterministic : {false, true}) {
    if (deterministic && emulated()) continue;  // LogLikelihoodBatchEqualsMapObjective covers it there
    const FitInput in = data(120, 41);
    GpOptions co = on("cpu"), go = on("cuda");
    co.deterministic = go.deterministic = deterministic;
    co.fit_tolerance = go.fit_tolerance = 1e-6;  // both converge tightly: the optima, not the stops, compare
    co.max_fit_evals = go.max_fit_evals = 300;
    GpModel cpu(co), gpu(go);
    cpu.fit(in);
    gpu.fit(in);
    EXPECT_TRUE(gpu.on_gpu());
    EXPECT_NEAR(gpu.log_posterior(), cpu.log_posterior(), 1e-3) << "deterministic " << deterministic;
    GpModel again(go);  // deterministic: fixed reduction order, no atomics
    again.fit(in);
    EXPECT_EQ(again.state().dump(), gpu.state().dump());
    // The reported log posterior is the CPU objective's value at the GPU's θ.
    Standardized s = standardize(in, co);
    MapObjective obj(in.dims, s.X, s.z, co);
    std::vector<double> t = obj.pack(gpu.hyper());
    EXPECT_LT(rel_err(obj.value(t.data(), nullptr), gpu.log_posterior()), 1e-8);
  }
}

}  // namespace
}  // namespace bbo::gp

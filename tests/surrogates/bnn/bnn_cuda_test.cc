// Tests of the bnn surrogate's GPU path (bnn_device.h, bnn_cuda.cu): the ensemble trained by the CUDA backend
// against the one trained on the CPU from the same initial weights and minibatches (needs a GPU, or the host
// emulation of CUDA: the ctest entry surrogates_bnn_cuda_test.emulated, docs/gpu.md; skipped with the reason
// elsewhere), and what runs anywhere: the device parameter's validation, the CPU fallback of a cuda request (one
// notice, the CPU's results; a failing backend, through the testing seam), the sghmc variant on the CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <numbers>
#include <random>
#include <string>
#include <vector>

#include "bbo/device.h"
#include "bbo/error.h"
#include "bbo/plugin.h"
#include "surrogates/bnn/bnn_core.h"
#include "surrogates/bnn/bnn_device.h"

namespace bbo::bnn {
namespace {

#define SKIP_WITHOUT_GPU()                  \
  if (bbo::cuda_info().device_count == 0) \
  GTEST_SKIP() << "no CUDA GPU: " << bbo::cuda_info().unavailable_reason

// A 2-d sine with noise: n points, seeded.
FitInput sine_input(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::normal_distribution<double> normal;
  FitInput in;
  in.X = Matrix(n, 2);
  in.y.resize(n);
  for (size_t i = 0; i < n; ++i) {
    in.X(i, 0) = u(rng);
    in.X(i, 1) = u(rng);
    in.y[i] = std::sin(2 * std::numbers::pi * in.X(i, 0)) + 0.5 * in.X(i, 1) + 0.1 * normal(rng);
  }
  in.seed = seed;
  return in;
}

Matrix query_points(size_t m) {
  std::mt19937_64 rng(99);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  Matrix Q(m, 2);
  for (double& v : Q.data) v = u(rng);
  return Q;
}

// Short training (test time) of a small ensemble.
BnnOptions short_options() {
  BnnOptions o;
  o.hidden = {16, 16};
  o.n_members = 4;
  o.min_steps = o.max_steps = 40;
  return o;
}

// GPU and CPU ensembles trained from the same weights and minibatches differ only by rounding (the GEMMs sum
// in another order; the elementwise kernels round as the CPU does). After 40 AdamW steps the weights (both
// rounded to float) must agree to 1e-6 · max(1, |w|) and the predictions to 1e-6 relative.
void expect_same_ensemble(const BnnModel& gpu, const BnnModel& cpu, const std::string& what) {
  ASSERT_EQ(gpu.nets().size(), cpu.nets().size()) << what;
  EXPECT_EQ(gpu.train_steps(), cpu.train_steps()) << what;
  for (size_t m = 0; m < cpu.nets().size(); ++m) {
    const Eigen::VectorXd& a = gpu.nets()[m].theta;
    const Eigen::VectorXd& b = cpu.nets()[m].theta;
    ASSERT_EQ(a.size(), b.size()) << what;
    for (Eigen::Index k = 0; k < a.size(); ++k)
      ASSERT_NEAR(a[k], b[k], 1e-6 * std::max(1.0, std::fabs(b[k]))) << what << ": member " << m << " parameter " << k;
  }
  const Matrix Q = query_points(25);
  const Prediction pg = gpu.predictive(Q), pc = cpu.predictive(Q);
  for (size_t i = 0; i < Q.rows; ++i) {
    EXPECT_NEAR(pg.mean[i], pc.mean[i], 1e-6 * std::max(1.0, std::fabs(pc.mean[i]))) << what << ": point " << i;
    EXPECT_NEAR(pg.variance[i], pc.variance[i], 1e-6 * std::max(1.0, pc.variance[i])) << what << ": point " << i;
  }
  EXPECT_NEAR(gpu.noise_variance(), cpu.noise_variance(), 1e-6 * std::max(1.0, cpu.noise_variance())) << what;
}

// ---- GPU against CPU (needs a GPU or the host emulation) --------------------------------------------------

// Both activations, heteroscedastic or not, fixed noise, full batch and minibatches (the host's row sequences;
// 300 steps at batch 5 cross the backend's upload chunk of 256 steps of rows), two, one or no hidden layers, each
// cold and then warm-started from the cold fit's state (fewer steps, no squared-error phase, the smaller
// learning rate). Sizes small enough for the emulation.
TEST(BnnCuda, GpuEnsembleEqualsTheCpuEnsemble) {
  SKIP_WITHOUT_GPU();
  struct Case {
    const char* activation;
    bool heteroscedastic;
    double fixed_noise;
    int batch_size;  // >= 30: full batch; smaller: minibatches
    std::vector<int> hidden;
    int steps;
  };
  const Case cases[] = {{"tanh", false, 0.0, 64, {12, 10}, 40},  {"tanh", false, 0.0, 8, {12, 10}, 40},
                        {"relu", false, 0.0, 7, {12, 10}, 40},   {"tanh", true, 0.0, 9, {12, 10}, 40},
                        {"relu", true, 0.0, 64, {6}, 40},        {"tanh", false, 0.05, 8, {12, 10}, 40},
                        {"relu", false, 0.05, 64, {12, 10}, 40}, {"tanh", false, 0.0, 64, {}, 40},
                        {"tanh", true, 0.0, 5, {4}, 300}};
  const FitInput in = sine_input(30, 12);
  for (const Case& c : cases) {
    BnnOptions o = short_options();
    o.n_members = 3;
    o.activation = c.activation;
    o.heteroscedastic = c.heteroscedastic;
    o.fixed_noise = c.fixed_noise;
    o.batch_size = c.batch_size;
    o.hidden = c.hidden;
    o.min_steps = o.max_steps = c.steps;
    const std::string what = std::string(c.activation) + (c.heteroscedastic ? " heteroscedastic" : "") +
                             " fixed_noise " + std::to_string(c.fixed_noise) + " batch " +
                             std::to_string(c.batch_size) + " layers " + std::to_string(c.hidden.size());
    BnnOptions og = o;
    og.device = Device::parse("cuda");
    BnnModel cpu(o), gpu(og);
    cpu.fit(in);
    gpu.fit(in);
    EXPECT_FALSE(cpu.trained_on_gpu());
    ASSERT_TRUE(gpu.trained_on_gpu()) << what << ": the CUDA backend did not train (see the notice above)";
    expect_same_ensemble(gpu, cpu, what);
    FitInput more = sine_input(34, 12);
    more.warm_start = json::parse(cpu.state().dump());
    og.device = Device::parse("cuda:0");
    BnnModel cpu_warm(o), gpu_warm(og);
    cpu_warm.fit(more);
    gpu_warm.fit(more);
    ASSERT_FALSE(cpu_warm.restored()) << what;
    ASSERT_TRUE(gpu_warm.trained_on_gpu()) << what << " (warm)";
    expect_same_ensemble(gpu_warm, cpu_warm, what + " (warm)");
  }
}

TEST(BnnCuda, AutoTrainsOnTheGpuFromTheThreshold) {
  SKIP_WITHOUT_GPU();
  const FitInput in = sine_input(30, 7);
  BnnOptions o = short_options();
  o.device = Device::parse("auto");
  o.auto_min_flops = 0.0;
  BnnModel above(o);
  above.fit(in);
  EXPECT_TRUE(above.trained_on_gpu());
  o.auto_min_flops = 1e30;
  BnnModel below(o);
  below.fit(in);
  EXPECT_FALSE(below.trained_on_gpu());
  expect_same_ensemble(above, below, "auto");
}

// Fits `fits` models with options o on in and exits: 0 when none trained on the GPU (in a death-test child).
[[noreturn]] void fit_and_exit(const BnnOptions& o, const FitInput& in, int fits) {
  bool gpu = false;
  for (int k = 0; k < fits; ++k) {
    BnnModel model(o);
    model.fit(in);
    gpu = gpu || model.trained_on_gpu();
  }
  std::exit(gpu ? 1 : 0);
}

// ---- Anywhere ---------------------------------------------------------------------------------------------

// Without a GPU a cuda request trains on the CPU: one line on stderr (once per process), the CPU's results
// exactly; auto is silent.
TEST(BnnCudaFallback, CudaWithoutGpuNoticesOnceAndGivesTheCpuResults) {
  if (bbo::cuda_info().device_count > 0) GTEST_SKIP() << "a CUDA GPU is present: no fallback to test";
  const FitInput in = sine_input(30, 8);
  BnnOptions o = short_options();
  o.batch_size = 8;
  BnnModel cpu(o);
  cpu.fit(in);

  BnnOptions oa = o;
  oa.device = Device::parse("auto");
  oa.auto_min_flops = 0.0;
  BnnModel automatic(oa);
  ::testing::internal::CaptureStderr();
  automatic.fit(in);
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");

  BnnOptions oc = o;
  oc.device = Device::parse("cuda");
  // The notice is printed once per process: two fits in a fresh process (a death-test child, re-executed so
  // that no earlier test of this process has printed it) print exactly one line.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(fit_and_exit(oc, in, 2), ::testing::ExitedWithCode(0), "^bbo: bnn: device 'cuda:0' unavailable \\([^\n]+\\); computing on the CPU\n$");
  BnnModel gpu1(oc), gpu2(oc);
  ::testing::internal::CaptureStderr();
  gpu1.fit(in);
  gpu2.fit(in);
  ::testing::internal::GetCapturedStderr();

  for (const BnnModel* m : {&automatic, &gpu1, &gpu2}) {
    EXPECT_FALSE(m->trained_on_gpu());
    ASSERT_EQ(m->nets().size(), cpu.nets().size());
    for (size_t k = 0; k < cpu.nets().size(); ++k) EXPECT_EQ(m->nets()[k].theta, cpu.nets()[k].theta);
    EXPECT_EQ(m->state().dump(), cpu.state().dump());
    const Prediction a = m->predictive(query_points(10)), b = cpu.predictive(query_points(10));
    EXPECT_EQ(a.mean, b.mean);
    EXPECT_EQ(a.variance, b.variance);
  }
}

// A trainer that fails after consuming minibatch rows and overwriting the weights it was handed with NaN, as a
// GPU failing mid-run may leave them (bnn_device.h: job.theta is then unspecified).
class FailingTrainer : public EnsembleTrainer {
 public:
  bool train(const EnsembleJob& job, std::string* error) override {
    if (job.source) {
      std::vector<int32_t> rows(static_cast<size_t>(job.members) * job.batch * 3);
      job.source->fill(0, 3, rows.data());
    }
    size_t P = 0;  // parameters per member: per layer out × in weights and out biases
    for (size_t l = 0; l + 1 < job.sizes.size(); ++l) P += static_cast<size_t>(job.sizes[l + 1]) * (job.sizes[l] + 1);
    std::fill(job.theta, job.theta + job.members * P, std::numeric_limits<double>::quiet_NaN());
    *error = "bnn cuda: cublasDgemmStridedBatched failed: stub";
    return false;
  }
};

// Sets the testing seam's factory while alive (the fit then takes a cuda device as available).
struct TrainerFactory {
  explicit TrainerFactory(EnsembleTrainerFactory f) { set_ensemble_trainer_factory_for_testing(f); }
  ~TrainerFactory() { set_ensemble_trainer_factory_for_testing(nullptr); }
};

// A backend that cannot make a trainer, or a trainer that fails mid-run: the fit trains on the CPU from its own
// copy of the initial weights and minibatch RNGs, identically to device cpu.
TEST(BnnCudaFallback, BackendFailureFallsBackToTheCpu) {
  const FitInput in = sine_input(20, 13);
  BnnOptions o = short_options();
  o.batch_size = 8;
  BnnModel cpu(o);
  cpu.fit(in);
  BnnOptions og = o;
  og.device = Device::parse("cuda");
  const EnsembleTrainerFactory factories[] = {
      [](int, std::string* error) -> EnsembleTrainer* {
        *error = "bnn cuda: cudaSetDevice failed: stub";
        return nullptr;
      },
      [](int, std::string*) -> EnsembleTrainer* { return new FailingTrainer; }};
  for (const EnsembleTrainerFactory factory : factories) {
    TrainerFactory seam(factory);
    BnnModel gpu(og);
    ::testing::internal::CaptureStderr();  // the fallback notice (once per process)
    gpu.fit(in);
    ::testing::internal::GetCapturedStderr();
    EXPECT_FALSE(gpu.trained_on_gpu());
    EXPECT_EQ(gpu.state().dump(), cpu.state().dump());
  }
}

// The sghmc chain is sequential: it stays on the CPU whatever the device (identical results).
TEST(BnnCudaFallback, SghmcTrainsOnTheCpuWhateverTheDevice) {
  const FitInput in = sine_input(20, 9);
  BnnOptions o;
  o.variant = "sghmc";
  o.hidden = {8};
  o.pretrain_steps = 50;
  o.burn_in = 50;
  o.n_samples = 3;
  o.thinning = 5;
  BnnOptions oc = o;
  oc.device = Device::parse("cuda");
  BnnModel cpu(o), other(oc);
  cpu.fit(in);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(fit_and_exit(oc, in, 1), ::testing::ExitedWithCode(0),
      "^bbo: bnn: device 'cuda:0' unavailable \\(the sghmc variant trains on the CPU only\\); computing on the CPU\n$");
  ::testing::internal::CaptureStderr();
  other.fit(in);
  ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(other.trained_on_gpu());
  EXPECT_EQ(other.state().dump(), cpu.state().dump());
}

TEST(BnnCudaPlugin, DeviceParameterIsValidated) {
  auto& reg = PluginRegistry::global();
  for (const char* bad : {"gpu", "cuda:", "cuda:x", "cuda:-1", "CPU", ""}) {
    try {
      reg.make_surrogate("bnn", {{"device", bad}});
      ADD_FAILURE() << "device '" << bad << "' accepted";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("parameter 'device'"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(reg.make_surrogate("bnn", {{"device", 3}}), ConfigError);
  EXPECT_THROW(reg.make_surrogate("bnn", {{"auto_min_flops", -1.0}}), ConfigError);
  for (const char* good : {"cpu", "cuda", "cuda:0", "cuda:7", "auto"})
    EXPECT_NO_THROW(reg.make_surrogate("bnn", {{"device", good}})) << good;
  EXPECT_THROW(BnnModel([] {
                 BnnOptions o;
                 o.auto_min_flops = -1.0;
                 return o;
               }()),
               ConfigError);
}

// Through the plugin: a cuda request predicts what device cpu predicts (exactly without a GPU; to rounding
// with one).
TEST(BnnCudaPlugin, CudaDeviceGivesTheCpuPredictions) {
  auto& reg = PluginRegistry::global();
  const json params = {{"hidden", {8}}, {"n_members", 2}, {"min_steps", 30}, {"max_steps", 30}};
  json pc = params, pg = params;
  pc["device"] = "cpu";
  pg["device"] = "cuda";
  auto cpu = reg.make_surrogate("bnn", pc);
  auto gpu = reg.make_surrogate("bnn", pg);
  const FitInput in = sine_input(25, 10);
  cpu->fit(in);
  ::testing::internal::CaptureStderr();  // the fallback notice, where there is no GPU
  gpu->fit(in);
  ::testing::internal::GetCapturedStderr();
  const Matrix Q = query_points(10);
  const Prediction a = gpu->predict(Q), b = cpu->predict(Q);
  const double tol = bbo::cuda_info().device_count > 0 ? 1e-6 : 0.0;
  for (size_t i = 0; i < Q.rows; ++i) {
    EXPECT_NEAR(a.mean[i], b.mean[i], tol * std::max(1.0, std::fabs(b.mean[i])));
    EXPECT_NEAR(a.variance[i], b.variance[i], tol * std::max(1.0, b.variance[i]));
  }
}

}  // namespace
}  // namespace bbo::bnn

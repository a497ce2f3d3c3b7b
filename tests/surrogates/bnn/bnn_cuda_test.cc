// Tests of the bnn surrogate's GPU path (bnn_device.h, bnn_cuda.cu): the ensemble trained by the CUDA backend
// against the one trained on the CPU from the same initial weights and minibatches (needs a GPU: skipped with
// the reason elsewhere), and what runs anywhere: the device parameter's validation, the CPU fallback of a cuda
// request (one notice, the CPU's results), the sghmc variant on the CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <vector>
#include <memory>

#include "bbo/device.h"
#include "bbo/error.h"
#include "bbo/plugin.h"
#include "surrogates/bnn/bnn_core.h"

// ---- Host emulation of the CUDA calls bnn_cuda.cu makes -------------------------------------------------
// The backend's code compiled as C++ against these (kernels run serially, cuBLAS's column-major GEMM
// semantics by definition), so that every machine checks its indexing, layouts and GEMM arguments against the
// CPU path (BnnCudaEmulated below). Internal linkage: nothing here can stand in for the real CUDA libraries.
namespace {
enum cudaError_t { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 };
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
struct EmulatedDim3 {
  unsigned x;
};
constexpr EmulatedDim3 blockIdx{0}, threadIdx{0}, blockDim{1}, gridDim{1};  // one thread: loops cover all
cudaError_t cudaMalloc(void** p, size_t bytes) {
  *p = std::malloc(bytes);
  if (*p) std::memset(*p, 0x7f, bytes);  // garbage (~1e304): a read before a write shows
  return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void* p) {
  std::free(p);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind) {
  std::memcpy(dst, src, bytes);
  return cudaSuccess;
}
cudaError_t cudaMemset(void* dst, int value, size_t bytes) {
  std::memset(dst, value, bytes);
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int) { return cudaSuccess; }
cudaError_t cudaGetLastError() { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
const char* cudaGetErrorString(cudaError_t) { return "emulated CUDA error"; }
enum cublasStatus_t { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_INVALID_VALUE = 7 };
enum cublasOperation_t { CUBLAS_OP_N, CUBLAS_OP_T };
using cublasHandle_t = int*;
int emulated_handle = 0;
cublasStatus_t cublasCreate(cublasHandle_t* h) {
  *h = &emulated_handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t) { return CUBLAS_STATUS_SUCCESS; }
// C_b = α op(A_b) op(B_b) + β C_b for b < batch; column-major, op(A) m × k, op(B) k × n, C m × n.
cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n,
                                         int k, const double* alpha, const double* A, int lda, long long sA,
                                         const double* B, int ldb, long long sB, const double* beta, double* C,
                                         int ldc, long long sC, int batch) {
  if (m < 0 || n < 0 || k < 0 || batch < 0 || lda < std::max(1, ta == CUBLAS_OP_N ? m : k) ||
      ldb < std::max(1, tb == CUBLAS_OP_N ? k : n) || ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  for (int b = 0; b < batch; ++b) {
    const double* a = A + b * sA;
    const double* bb = B + b * sB;
    double* c = C + b * sC;
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        double sum = 0.0;
        for (int l = 0; l < k; ++l) {
          const double x = ta == CUBLAS_OP_N ? a[i + static_cast<long long>(l) * lda] : a[l + static_cast<long long>(i) * lda];
          const double y = tb == CUBLAS_OP_N ? bb[l + static_cast<long long>(j) * ldb] : bb[j + static_cast<long long>(l) * ldb];
          sum += x * y;
        }
        double& out = c[i + static_cast<long long>(j) * ldc];
        out = *alpha * sum + (*beta != 0.0 ? *beta * out : 0.0);  // β = 0: C is not read (cuBLAS)
      }
  }
  return CUBLAS_STATUS_SUCCESS;
}
}  // namespace
#define __global__
#define __device__
#define BBO_BNN_CUDA_HOST_EMULATION
#include "surrogates/bnn/bnn_cuda.cu"
#undef __global__
#undef __device__

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

// ---- GPU against CPU (needs a GPU) ------------------------------------------------------------------------

TEST(BnnCuda, GpuEnsembleEqualsTheCpuEnsemble) {
  SKIP_WITHOUT_GPU();
  struct Case {
    const char* activation;
    bool heteroscedastic;
    double fixed_noise;
    int batch_size;  // 64 >= n: full batch; 8: minibatches (the host's row sequences)
  };
  const Case cases[] = {{"tanh", false, 0.0, 64}, {"tanh", false, 0.0, 8}, {"relu", false, 0.0, 8},
                        {"tanh", true, 0.0, 8},   {"relu", true, 0.0, 64}, {"tanh", false, 0.05, 8},
                        {"relu", false, 0.05, 64}};
  const FitInput in = sine_input(30, 5);
  for (const Case& c : cases) {
    BnnOptions o = short_options();
    o.activation = c.activation;
    o.heteroscedastic = c.heteroscedastic;
    o.fixed_noise = c.fixed_noise;
    o.batch_size = c.batch_size;
    const std::string what = std::string(c.activation) + (c.heteroscedastic ? " heteroscedastic" : "") +
                             " fixed_noise " + std::to_string(c.fixed_noise) + " batch " + std::to_string(c.batch_size);
    BnnOptions og = o;
    og.device = Device::parse("cuda");
    BnnModel cpu(o), gpu(og);
    cpu.fit(in);
    gpu.fit(in);
    EXPECT_FALSE(cpu.trained_on_gpu());
    ASSERT_TRUE(gpu.trained_on_gpu()) << what << ": the CUDA backend did not train (see the notice above)";
    expect_same_ensemble(gpu, cpu, what);
  }
}

TEST(BnnCuda, GpuWarmStartEqualsTheCpuWarmStart) {
  SKIP_WITHOUT_GPU();
  BnnOptions o = short_options();
  o.batch_size = 8;
  BnnModel first(o);
  first.fit(sine_input(30, 6));
  FitInput more = sine_input(36, 6);
  more.warm_start = json::parse(first.state().dump());
  BnnOptions og = o;
  og.device = Device::parse("cuda:0");
  BnnModel cpu(o), gpu(og);
  cpu.fit(more);
  gpu.fit(more);
  ASSERT_FALSE(cpu.restored());
  ASSERT_TRUE(gpu.trained_on_gpu());
  expect_same_ensemble(gpu, cpu, "warm start");
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

// ---- bnn_cuda.cu's code on the host (anywhere) -----------------------------------------------------------

EnsembleTrainer* emulated_trainer(int device, std::string* error) {
  try {
    return new CudaEnsembleTrainer(device);
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
}

// While alive, BnnModel trains device-cuda ensembles with the host-emulated backend.
struct EmulatedBackend {
  EmulatedBackend() { set_ensemble_trainer_factory_for_testing(&emulated_trainer); }
  ~EmulatedBackend() { set_ensemble_trainer_factory_for_testing(nullptr); }
};

// The backend's code, run on the host, trains what the CPU path trains: both activations, heteroscedastic
// or not, fixed noise, full batch and minibatches (the host's row sequences; 300 steps cross an upload chunk
// of rows), no hidden layer, warm starts. Same 1e-6 tolerances as on a GPU (here the GEMMs sum in another
// order than Eigen, too).
TEST(BnnCudaEmulated, HostRunOfTheBackendEqualsTheCpuEnsemble) {
  EmulatedBackend emulated;
  struct Case {
    const char* activation;
    bool heteroscedastic;
    double fixed_noise;
    int batch_size;
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
    ASSERT_TRUE(gpu.trained_on_gpu()) << what;
    expect_same_ensemble(gpu, cpu, what);
    // A warm start from the fit: fewer steps, no squared-error phase, the smaller learning rate.
    FitInput more = sine_input(34, 12);
    more.warm_start = json::parse(cpu.state().dump());
    BnnModel cpu_warm(o), gpu_warm(og);
    cpu_warm.fit(more);
    gpu_warm.fit(more);
    ASSERT_TRUE(gpu_warm.trained_on_gpu()) << what;
    expect_same_ensemble(gpu_warm, cpu_warm, what + " (warm)");
  }
}

// A GEMM argument the (emulated) cuBLAS rejects, or any failure, comes back as a one-line error, and the fit
// computes on the CPU.
TEST(BnnCudaEmulated, BackendFailureFallsBackToTheCpu) {
  EmulatedBackend emulated;
  const FitInput in = sine_input(20, 13);
  BnnOptions o = short_options();
  o.batch_size = 8;
  BnnOptions og = o;
  og.device = Device::parse("cuda");
  // An invalid job straight to the trainer: false and the reason, nothing thrown.
  std::string why;
  std::unique_ptr<EnsembleTrainer> trainer(emulated_trainer(0, &why));
  ASSERT_TRUE(trainer);
  EnsembleJob bad;
  bad.sizes = {2, 1};
  EXPECT_FALSE(trainer->train(bad, &why));
  EXPECT_EQ(why, "bnn cuda: invalid ensemble job");
  // A factory that fails: the fit trains on the CPU, identically.
  set_ensemble_trainer_factory_for_testing([](int, std::string* error) -> EnsembleTrainer* {
    *error = "bnn cuda: cudaSetDevice failed: emulated";
    return nullptr;
  });
  BnnModel cpu(o), gpu(og);
  cpu.fit(in);
  ::testing::internal::CaptureStderr();
  gpu.fit(in);
  ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(gpu.trained_on_gpu());
  EXPECT_EQ(gpu.state().dump(), cpu.state().dump());
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

// bnn_cuda.cu — the bnn surrogate's CUDA backend: AdamW training of all deep-ensemble members at once
// (bnn_device.h states the contract; bnn_core.cc's adam_train / nll_and_grad are the reference).
//
// Layout on the device (everything double, column-major as cuBLAS wants it):
//   theta, grad, Adam m and v: members × P, member m at offset m · P; within a member, layer l's W (out × in,
//     row-major, i.e. the column-major in × out matrix Wᵀ with leading dimension in) and then b (out).
//   acts[l]: members × (w_l × B), member m at m · w_l · B, column i = minibatch point i (leading dimension w_l):
//     acts[0] the gathered inputs, acts[l] the activations of hidden layer l, acts[L] the outputs.
//   delta / back: members × (w × B) for the current layer's width w (two buffers, swapped per layer).
// Per layer and step, all members share one cublasDgemmStridedBatched (batch count = members, stride P for
// the weights). The elementwise kernels are compiled with --fmad=false (CMakeLists) so that they round as the
// CPU code does; only the GEMMs' summation order differs from Eigen's.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#define BNN_LAUNCH(kernel, count) kernel<<<blocks_for(count), kThreads>>>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <exception>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "surrogates/bnn/bnn_device.h"

namespace bbo::bnn {
namespace {

void check(cudaError_t rc, const char* call) {
  if (rc != cudaSuccess) throw std::runtime_error(std::string("bnn cuda: ") + call + " failed: " + cudaGetErrorString(rc));
}

void check(cublasStatus_t rc, const char* call) {
  if (rc != CUBLAS_STATUS_SUCCESS)
    throw std::runtime_error(std::string("bnn cuda: ") + call + " failed: cublasStatus " + std::to_string(static_cast<int>(rc)));
}

// Device memory of count elements of T, freed on destruction.
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t count) {
    void* p = nullptr;
    check(cudaMalloc(&p, std::max<size_t>(count, 1) * sizeof(T)), "cudaMalloc");
    p_ = static_cast<T*>(p);
  }
  ~DeviceBuffer() {
    if (p_) cudaFree(p_);
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  T* get() const { return p_; }

 private:
  T* p_ = nullptr;
};

constexpr int kThreads = 256;

unsigned blocks_for(size_t count) {
  return static_cast<unsigned>(std::min<size_t>((count + kThreads - 1) / kThreads, 4096));
}

void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

__device__ double softplus(double r) { return r > 30.0 ? r : log1p(exp(r)); }
__device__ double sigmoid(double r) { return 1.0 / (1.0 + exp(-r)); }

// acts0[m][:, k] = U[:, rows[m · B + k]] and zb[m · B + k] = z[rows[m · B + k]] (p = input width).
__global__ void gather_kernel(const double* U, const double* z, const int32_t* rows, int p, int B, int members,
                              double* acts0, double* zb) {
  const size_t total = static_cast<size_t>(members) * B;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t m = e / B, k = e % B;
    const size_t j = static_cast<size_t>(rows[e]);
    const double* src = U + j * p;
    double* dst = acts0 + m * static_cast<size_t>(p) * B + k * p;
    for (int r = 0; r < p; ++r) dst[r] = src[r];
    zb[e] = z[j];
  }
}

// acts[m][j, k] += b_m[j], then the activation (1: tanh, 2: ReLU, 0: none — the output layer).
__global__ void bias_act_kernel(double* acts, const double* theta, size_t P, size_t bias_offset, int out, int B,
                                int members, int activation) {
  const size_t per = static_cast<size_t>(out) * B, total = per * members;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t m = e / per, j = (e % per) % out;
    double v = acts[e] + theta[m * P + bias_offset + j];
    if (activation == 1)
      v = tanh(v);
    else if (activation == 2)
      v = v > 0.0 ? v : 0.0;
    acts[e] = v;
  }
}

// The output layer's delta (∂NLL_k/∂outputs) from the outputs (o × B per member, o = 1 or 2): nll_and_grad's.
__global__ void loss_delta_kernel(const double* out, const double* zb, int o, int B, int members, double fixed_noise,
                                  int mse, double* delta) {
  const size_t total = static_cast<size_t>(members) * B;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t m = e / B, k = e % B;
    const size_t base = m * static_cast<size_t>(o) * B + k * o;
    const double mu = out[base];
    const double var = mse ? 1.0 : (fixed_noise > 0 ? fixed_noise : softplus(out[base + 1]) + 1e-4);
    const double r = zb[e] - mu;
    delta[base] = -r / var;
    if (o == 2) delta[base + 1] = mse ? 0.0 : (0.5 / var - 0.5 * r * r / (var * var)) * sigmoid(out[base + 1]);
  }
}

// grad_m[bias_offset + j] = Σ_k delta_m[j, k] (the bias gradient; delta is out × B per member).
__global__ void bias_grad_kernel(const double* delta, int out, int B, int members, double* grad, size_t P,
                                 size_t bias_offset) {
  const size_t total = static_cast<size_t>(members) * out;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t m = e / out, j = e % out;
    const double* d = delta + m * static_cast<size_t>(out) * B + j;
    double s = 0.0;
    for (int k = 0; k < B; ++k) s += d[static_cast<size_t>(k) * out];
    grad[m * P + bias_offset + j] = s;
  }
}

// back *= the activation's derivative from its output a (tanh: 1 − a², ReLU: a > 0).
__global__ void act_derivative_kernel(double* back, const double* a, size_t total, int relu) {
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const double d = relu ? (a[e] > 0.0 ? 1.0 : 0.0) : 1.0 - a[e] * a[e];
    back[e] = back[e] * d;
  }
}

// One AdamW step of every parameter of every member, adam_train's formulas term by term (g = Σ gradient / B).
__global__ void adam_kernel(double* theta, double* m1, double* m2, const double* grad, size_t P, size_t total,
                            double batch, int64_t frozen_offset, int64_t frozen_count, double rate, double decay,
                            double c1, double c2) {
  constexpr double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  for (size_t e = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; e < total;
       e += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const int64_t k = static_cast<int64_t>(e % P);
    double g = grad[e] / batch;
    if (k >= frozen_offset && k < frozen_offset + frozen_count) g = 0.0;
    const double m = b1 * m1[e] + (1 - b1) * g;
    const double v = b2 * m2[e] + (1 - b2) * (g * g);
    m1[e] = m;
    m2[e] = v;
    double t = theta[e] * decay;
    t -= rate * (m / c1) / (sqrt(v / c2) + eps);
    theta[e] = t;
  }
}

class CudaEnsembleTrainer final : public EnsembleTrainer {
 public:
  explicit CudaEnsembleTrainer(int device) : device_(device) {
    check(cudaSetDevice(device_), "cudaSetDevice");
    check(cublasCreate(&handle_), "cublasCreate");
  }
  ~CudaEnsembleTrainer() override {
    if (handle_) cublasDestroy(handle_);
  }
  CudaEnsembleTrainer(const CudaEnsembleTrainer&) = delete;
  CudaEnsembleTrainer& operator=(const CudaEnsembleTrainer&) = delete;

  bool train(const EnsembleJob& job, std::string* error) override {
    try {
      run(job);
      return true;
    } catch (const std::exception& e) {
      if (error) *error = e.what();
      (void)cudaGetLastError();  // clear a sticky launch error for the next job (a context error stays)
      return false;
    }
  }

 private:
  void run(const EnsembleJob& job) {
    const std::vector<int>& w = job.sizes;
    const int M = job.members, B = job.batch, n = job.n, p = w.front();
    const size_t L = w.size() - 1;  // layers
    if (w.size() < 2 || M < 1 || n < 1 || B < 1 || B > n || (B < n && !job.source) || job.steps < 0)
      throw std::runtime_error("bnn cuda: invalid ensemble job");
    std::vector<size_t> offset(L + 1, 0);  // offset[l]: layer l's W in a member's parameters; offset[L] = P
    for (size_t l = 0; l < L; ++l) offset[l + 1] = offset[l] + static_cast<size_t>(w[l + 1]) * (w[l] + 1);
    const size_t P = offset[L], MP = static_cast<size_t>(M) * P;
    int widest = 1;
    for (size_t l = 1; l <= L; ++l) widest = std::max(widest, w[l]);

    check(cudaSetDevice(device_), "cudaSetDevice");
    DeviceBuffer<double> dU(static_cast<size_t>(p) * n), dz(static_cast<size_t>(n));
    DeviceBuffer<double> theta(MP), grad(MP), m1(MP), m2(MP);
    std::vector<DeviceBuffer<double>> acts;
    for (size_t l = 0; l <= L; ++l) acts.emplace_back(static_cast<size_t>(M) * w[l] * B);
    DeviceBuffer<double> zb(static_cast<size_t>(M) * B);
    DeviceBuffer<double> deltaA(static_cast<size_t>(M) * widest * B), deltaB(static_cast<size_t>(M) * widest * B);
    // Minibatch rows, uploaded a chunk of steps at a time (at most ~32 MiB of them).
    const bool full = B == n;
    const size_t per_step = static_cast<size_t>(M) * B;
    const int chunk = full ? 0 : static_cast<int>(std::clamp<size_t>((size_t{8} << 20) / per_step, 1, 256));
    DeviceBuffer<int32_t> rows(full ? 1 : per_step * chunk);
    std::vector<int32_t> host_rows(full ? 0 : per_step * chunk);

    check(cudaMemcpy(dU.get(), job.U, sizeof(double) * p * static_cast<size_t>(n), cudaMemcpyHostToDevice), "cudaMemcpy");
    check(cudaMemcpy(dz.get(), job.z, sizeof(double) * static_cast<size_t>(n), cudaMemcpyHostToDevice), "cudaMemcpy");
    check(cudaMemcpy(theta.get(), job.theta, sizeof(double) * MP, cudaMemcpyHostToDevice), "cudaMemcpy");
    check(cudaMemset(m1.get(), 0, sizeof(double) * MP), "cudaMemset");
    check(cudaMemset(m2.get(), 0, sizeof(double) * MP), "cudaMemset");
    if (full) {
      // Every member sees all points in their order, every step: the inputs never change.
      for (int m = 0; m < M; ++m) {
        check(cudaMemcpy(acts[0].get() + static_cast<size_t>(m) * p * n, dU.get(), sizeof(double) * p * static_cast<size_t>(n),
                         cudaMemcpyDeviceToDevice),
              "cudaMemcpy");
        check(cudaMemcpy(zb.get() + static_cast<size_t>(m) * n, dz.get(), sizeof(double) * n, cudaMemcpyDeviceToDevice),
              "cudaMemcpy");
      }
    }

    constexpr double b1 = 0.9, b2 = 0.999;
    double b1t = 1.0, b2t = 1.0;
    const double one = 1.0, zero = 0.0;
    const double pi = 3.14159265358979323846;  // std::numbers::pi
    for (int t = 0; t < job.steps; ++t) {
      if (!full) {
        const int slot = t % chunk;
        if (slot == 0) {
          const int count = std::min(chunk, job.steps - t);
          job.source->fill(t, count, host_rows.data());
          for (size_t k = 0; k < per_step * count; ++k)
            if (host_rows[k] < 0 || host_rows[k] >= n) throw std::runtime_error("bnn cuda: minibatch row out of range");
          check(cudaMemcpy(rows.get(), host_rows.data(), sizeof(int32_t) * per_step * count, cudaMemcpyHostToDevice),
                "cudaMemcpy");
        }
        BNN_LAUNCH(gather_kernel, per_step)(dU.get(), dz.get(), rows.get() + per_step * slot, p, B, M,
                                                          acts[0].get(), zb.get());
        check_launch("gather_kernel");
      }
      // Forward: acts[l+1] (out × B) = W (out × in) · acts[l] (in × B); W's row-major storage is the column-major
      // in × out matrix Wᵀ (lda = in), hence op T.
      for (size_t l = 0; l < L; ++l) {
        const int in = w[l], out = w[l + 1];
        check(cublasDgemmStridedBatched(handle_, CUBLAS_OP_T, CUBLAS_OP_N, out, B, in, &one, theta.get() + offset[l], in,
                                        static_cast<long long>(P), acts[l].get(), in, static_cast<long long>(in) * B,
                                        &zero, acts[l + 1].get(), out, static_cast<long long>(out) * B, M),
              "cublasDgemmStridedBatched (forward)");
        const size_t count = static_cast<size_t>(M) * out * B;
        BNN_LAUNCH(bias_act_kernel, count)(acts[l + 1].get(), theta.get(), P,
                                                         offset[l] + static_cast<size_t>(out) * in, out, B, M,
                                                         l + 1 < L ? (job.relu ? 2 : 1) : 0);
        check_launch("bias_act_kernel");
      }
      const int o = w[L];
      BNN_LAUNCH(loss_delta_kernel, per_step)(acts[L].get(), zb.get(), o, B, M, job.fixed_noise,
                                                           t < job.mse_steps ? 1 : 0, deltaA.get());
      check_launch("loss_delta_kernel");
      // Backward: gW (out × in, row-major = column-major in × out, ldc = in) = delta · acts[l]ᵀ, i.e. its
      // transpose acts[l] (in × B) · deltaᵀ (delta: out × B, ld out); gb = row sums of delta;
      // back (in × B) = Wᵀ (column-major in × out, lda in) · delta.
      double* delta = deltaA.get();
      double* back = deltaB.get();
      for (size_t l = L; l-- > 0;) {
        const int in = w[l], out = w[l + 1];
        check(cublasDgemmStridedBatched(handle_, CUBLAS_OP_N, CUBLAS_OP_T, in, out, B, &one, acts[l].get(), in,
                                        static_cast<long long>(in) * B, delta, out, static_cast<long long>(out) * B,
                                        &zero, grad.get() + offset[l], in, static_cast<long long>(P), M),
              "cublasDgemmStridedBatched (weight gradient)");
        BNN_LAUNCH(bias_grad_kernel, static_cast<size_t>(M) * out)(
            delta, out, B, M, grad.get(), P, offset[l] + static_cast<size_t>(out) * in);
        check_launch("bias_grad_kernel");
        if (l > 0) {
          check(cublasDgemmStridedBatched(handle_, CUBLAS_OP_N, CUBLAS_OP_N, in, B, out, &one, theta.get() + offset[l],
                                          in, static_cast<long long>(P), delta, out, static_cast<long long>(out) * B,
                                          &zero, back, in, static_cast<long long>(in) * B, M),
                "cublasDgemmStridedBatched (backward)");
          const size_t count = static_cast<size_t>(M) * in * B;
          BNN_LAUNCH(act_derivative_kernel, count)(back, acts[l].get(), count, job.relu ? 1 : 0);
          check_launch("act_derivative_kernel");
          std::swap(delta, back);
        }
      }
      // adam_train's schedule and bias corrections, computed here exactly as there.
      const double rate =
          job.learning_rate * (0.1 + 0.45 * (1.0 + std::cos(pi * t / std::max(job.steps, 1))));
      b1t *= b1;
      b2t *= b2;
      BNN_LAUNCH(adam_kernel, MP)(theta.get(), m1.get(), m2.get(), grad.get(), P, MP,
                                                static_cast<double>(B), job.frozen_offset, job.frozen_count, rate,
                                                1.0 - rate * job.weight_decay, 1 - b1t, 1 - b2t);
      check_launch("adam_kernel");
    }
    check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    check(cudaMemcpy(job.theta, theta.get(), sizeof(double) * MP, cudaMemcpyDeviceToHost), "cudaMemcpy");
  }

  int device_;
  cublasHandle_t handle_ = nullptr;
};

}  // namespace
}  // namespace bbo::bnn

extern "C" __attribute__((visibility("default"))) bbo::bnn::EnsembleTrainer* bbo_bnn_cuda_create(int device,
                                                                                                  std::string* error) {
  try {
    return new bbo::bnn::CudaEnsembleTrainer(device);
  } catch (const std::exception& e) {
    if (error) *error = e.what();
    return nullptr;
  }
}

// gp_cuda.cu — the CUDA engine of the `gp` surrogate (interface and contract: gp_device.h), built into
// libbbo_gp_cuda.so and opened at run time by gp_core.cc.
//
// Layout conventions: the data X and queries are row-major (n × d, as the host passes them); every n × n or
// n × m matrix on the device is column-major with leading dimension n (cuBLAS/cuSOLVER's convention), and the
// symmetric ones hold only their lower triangle (element (i, k), i ≥ k, at i + k·n).
//
// log_likelihood_batch runs each θ through: kernel matrix (custom kernel, lower triangle) → cusolverDnDpotrf →
// diagonal (log det) → cusolverDnDpotrs (α = K⁻¹z) → cusolverDnDpotri (K⁻¹, lower) → a reduction kernel over
// the n(n+1)/2 entries of Q = ααᵀ − K⁻¹ for ½ tr(Q ∂K/∂θ) (per-block partial sums, added on the host in a
// fixed order: deterministic). Up to kMaxLanes θ run concurrently, each on its own stream and cuSOLVER
// handle ("lanes"); a θ whose factorization fails is requeued with the next jitter, as the CPU does.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "surrogates/gp/gp_device.h"
#include "surrogates/gp/gp_kernel_math.h"

namespace bbo::gp {
namespace {

// ---- Error checks: every failed call becomes a one-line std::runtime_error naming the call ----------------

[[noreturn]] void fail(const char* call, const std::string& detail) {
  throw std::runtime_error(std::string("gp cuda: ") + call + " failed (" + detail + ")");
}
void check(cudaError_t e, const char* call) {
  if (e != cudaSuccess) fail(call, cudaGetErrorString(e));
}
void check(cublasStatus_t s, const char* call) {
  if (s != CUBLAS_STATUS_SUCCESS) fail(call, "cuBLAS status " + std::to_string(static_cast<int>(s)));
}
void check(cusolverStatus_t s, const char* call) {
  if (s != CUSOLVER_STATUS_SUCCESS) fail(call, "cuSOLVER status " + std::to_string(static_cast<int>(s)));
}
#define BBO_CK(call) check((call), #call)

// A device array; grows on demand (contents are not preserved), freed in the destructor.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() {
    if (ptr_) cudaFree(ptr_);
  }
  void reserve(size_t count) {
    if (count <= capacity_) return;
    if (ptr_) {
      BBO_CK(cudaFree(ptr_));
      ptr_ = nullptr;
      capacity_ = 0;
    }
    BBO_CK(cudaMalloc(reinterpret_cast<void**>(&ptr_), count * sizeof(T)));
    capacity_ = count;
  }
  T* get() const { return ptr_; }

 private:
  T* ptr_ = nullptr;
  size_t capacity_ = 0;
};

// A stream with its cuSOLVER (and optionally cuBLAS) handle bound to it.
struct Queue {
  cudaStream_t stream = nullptr;
  cusolverDnHandle_t solver = nullptr;
  cublasHandle_t blas = nullptr;
  Queue() = default;
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;
  void create(bool with_blas) {
    BBO_CK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    BBO_CK(cusolverDnCreate(&solver));
    BBO_CK(cusolverDnSetStream(solver, stream));
    if (with_blas) {
      BBO_CK(cublasCreate(&blas));
      BBO_CK(cublasSetStream(blas, stream));
    }
  }
  ~Queue() {
    if (stream) cudaStreamSynchronize(stream);
    if (blas) cublasDestroy(blas);
    if (solver) cusolverDnDestroy(solver);
    if (stream) cudaStreamDestroy(stream);
  }
};

#ifndef BBO_GP_CUDA_MAX_QUERY_BLOCK  // query rows per predict() block; the host emulation (tests/cuda_emu) uses 512
#define BBO_GP_CUDA_MAX_QUERY_BLOCK 16384
#endif
constexpr int kThreads = 256;         // threads per block of the elementwise kernels (a power of two)
constexpr int kReduceThreads = 128;   // threads per block of the gradient reduction (a power of two)
constexpr int kReduceBlocks = 1024;   // blocks of the gradient reduction (fixed: deterministic partial sums)
constexpr int kChunk = 32;            // gradient components per reduction launch (32·128·8 B = 32 KiB shared)
constexpr int kMaxLanes = 4;          // θ factorized concurrently
constexpr int kJitterAttempts = 7;
constexpr double kPi = 3.14159265358979323846;    // jitter 1e-8 … 1e-2 of the mean diagonal after the plain attempt

int blocks_for(long long work) {
  return static_cast<int>(std::clamp<long long>((work + kThreads - 1) / kThreads, 1, 8192));
}

// ---- Kernels ---------------------------------------------------------------------------------------------

__device__ double r2_rows(const double* X, const double* Y, long long i, long long k, const int* cat,
                          const double* inv_l2, int d) {
  double r2 = 0.0;
  for (int j = 0; j < d; ++j) r2 += r2_contribution(X[i * d + j], Y[k * d + j], inv_l2[j], cat[j] != 0);
  return r2;
}

// K(i, k) = s² k(r²(x_i, x_k)) for i ≥ k; the diagonal gets + noise, then + jitter (the CPU's order).
__global__ void kernel_matrix_lower(const double* X, const int* cat, const double* inv_l2, int n, int d, double s2,
                                    double noise, double jitter, double* K) {
  const long long total = static_cast<long long>(n) * n;
  for (long long t = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<long long>(blockDim.x) * gridDim.x) {
    const long long i = t % n, k = t / n;
    if (i < k) continue;
    double v = matern52_k(r2_rows(X, X, i, k, cat, inv_l2, d), s2);
    if (i == k) {
      v += noise;
      if (jitter > 0) v += jitter;
    }
    K[t] = v;
  }
}

// Kq(i, c) = s² k(r²(x_i, q_c)), n × m column-major.
__global__ void kernel_cross(const double* X, int n, const double* Q, int m, const int* cat, const double* inv_l2,
                             int d, double s2, double* Kq) {
  const long long total = static_cast<long long>(n) * m;
  for (long long t = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; t < total;
       t += static_cast<long long>(blockDim.x) * gridDim.x) {
    const long long i = t % n, c = t / n;
    Kq[t] = matern52_k(r2_rows(X, Q, i, c, cat, inv_l2, d), s2);
  }
}

__global__ void extract_diagonal(const double* A, int n, double* diag) {
  for (long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<long long>(blockDim.x) * gridDim.x)
    diag[i] = A[i * n + i];
}

// out[c] = Σ_i A(i, c)², one block per column (blockDim.x == kThreads).
__global__ void column_squared_norms(const double* A, int n, int m, double* out) {
  __shared__ double s[kThreads];
  for (int c = blockIdx.x; c < m; c += gridDim.x) {
    double acc = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      const double v = A[static_cast<long long>(c) * n + i];
      acc += v * v;
    }
    s[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned step = blockDim.x / 2; step > 0; step >>= 1) {
      if (threadIdx.x < step) s[threadIdx.x] += s[threadIdx.x + step];
      __syncthreads();
    }
    if (threadIdx.x == 0) out[c] = s[0];
    __syncthreads();
  }
}

// Per-block partial sums of the gradient components c0 .. c0+nc−1 over the lower triangle (weight 2 off the
// diagonal, 1 on it) of Q = ααᵀ − K⁻¹ (Kinv: lower triangle of the inverse):
//   component j < d:  Σ w·Q·(dk/dr²)·D_j,   D_j = (x_ij − x_kj)² or 1[x_ij ≠ x_kj]  (then ∂/∂log ℓ_j = −Σ/ℓ_j²)
//   component d:      Σ w·Q·K_f            (∂/∂log s² = ½ Σ)
//   component d + 1:  Σ_i Q_ii            (∂/∂log σ² = ½ σ² Σ)
// partials[blockIdx.x · nc + c]; dynamic shared memory nc · blockDim.x doubles (blockDim.x a power of two).
__global__ void gradient_partials(const double* X, const int* cat, const double* inv_l2, int n, int d, double s2,
                                  const double* Kinv, const double* alpha, int c0, int nc, double* partials) {
  extern __shared__ double acc[];
  const int tid = threadIdx.x, bd = blockDim.x;
  for (int c = 0; c < nc; ++c) acc[c * bd + tid] = 0.0;
  const long long total = static_cast<long long>(n) * n;
  for (long long t = blockIdx.x * static_cast<long long>(bd) + tid; t < total;
       t += static_cast<long long>(bd) * gridDim.x) {
    const long long i = t % n, k = t / n;
    if (i < k) continue;
    double kf = 0.0, g = 0.0;
    matern52_k_dk(r2_rows(X, X, i, k, cat, inv_l2, d), s2, kf, g);
    const double q = alpha[i] * alpha[k] - Kinv[t];
    const double w = i == k ? 1.0 : 2.0;
    for (int c = 0; c < nc; ++c) {
      const int comp = c0 + c;
      double v;
      if (comp < d)
        v = w * q * g * r2_contribution(X[i * d + comp], X[k * d + comp], 1.0, cat[comp] != 0);
      else if (comp == d)
        v = w * q * kf;
      else
        v = i == k ? q : 0.0;
      acc[c * bd + tid] += v;
    }
  }
  __syncthreads();
  for (int step = bd / 2; step > 0; step >>= 1) {
    if (tid < step)
      for (int c = 0; c < nc; ++c) acc[c * bd + tid] += acc[c * bd + tid + step];
    __syncthreads();
  }
  if (tid == 0)
    for (int c = 0; c < nc; ++c) partials[static_cast<long long>(blockIdx.x) * nc + c] = acc[c * bd];
}

// ---- The engine ------------------------------------------------------------------------------------------

// One concurrent log-likelihood evaluation: its queue, workspace and the results it copies back.
struct Lane {
  DeviceArray<double> K, work, inv_l2, alpha, diag, partials;
  DeviceArray<int> info;  // potrf, potrs, potri
  std::vector<double> inv_l2_host;
  int lwork = 0;
  size_t item = 0;   // the θ it is computing
  double jitter = 0.0;
  Queue queue;  // last: destroyed (its stream synchronized) before the arrays are freed
};

class CudaEngine final : public GpDeviceEngine {
 public:
  explicit CudaEngine(int device) : device_(device) {
    BBO_CK(cudaSetDevice(device_));
    main_.create(true);
  }
  ~CudaEngine() override {
    // Nothing may still run on memory that the members free.
    cudaSetDevice(device_);
    for (auto& lane : lanes_) cudaStreamSynchronize(lane->queue.stream);
    if (main_.stream) cudaStreamSynchronize(main_.stream);
  }

  void set_data(const GpDeviceData& data) override {
    BBO_CK(cudaSetDevice(device_));
    if (data.n < 1 || data.d < 1 || data.X.size() != data.n * data.d || data.z.size() != data.n ||
        data.categorical.size() != data.d)
      throw std::runtime_error("gp cuda: set_data got inconsistent sizes");
    if (data.n > 46000) throw std::runtime_error("gp cuda: n > 46000 exceeds the 32-bit cuSOLVER interface");
    n_ = static_cast<int>(data.n);
    d_ = static_cast<int>(data.d);
    deterministic_ = data.deterministic;
    fixed_noise_ = data.fixed_noise;
    z_ = data.z;
    factorized_ = false;
    X_.reserve(data.X.size());
    cat_.reserve(data.categorical.size());
    BBO_CK(cudaMemcpy(X_.get(), data.X.data(), data.X.size() * sizeof(double), cudaMemcpyHostToDevice));
    BBO_CK(cudaMemcpy(cat_.get(), data.categorical.data(), data.categorical.size() * sizeof(int),
                      cudaMemcpyHostToDevice));
    // The lanes' streams do not synchronize with the legacy stream of cudaMemcpy: wait for the copies.
    BBO_CK(cudaDeviceSynchronize());
    lanes_.clear();  // their workspaces are sized for n
  }

  void log_likelihood_batch(const double* thetas, size_t B, double* values, double* grads) override {
    BBO_CK(cudaSetDevice(device_));
    if (n_ == 0) throw std::runtime_error("gp cuda: log_likelihood_batch before set_data");
    const size_t P = static_cast<size_t>(d_) + 1 + (deterministic_ ? 0 : 1);
    if (B == 0) return;
    // Lanes: at most kMaxLanes, fewer when the n × n matrices would take more than half the free memory.
    size_t free_bytes = 0, total_bytes = 0;
    BBO_CK(cudaMemGetInfo(&free_bytes, &total_bytes));
    const size_t matrix_bytes = static_cast<size_t>(n_) * n_ * sizeof(double);
    const size_t held = lanes_.size();
    const size_t affordable = held + (free_bytes / 2) / std::max<size_t>(matrix_bytes + 1, 1);
    const size_t want = std::min<size_t>({B, static_cast<size_t>(kMaxLanes), std::max<size_t>(affordable, 1)});
    while (lanes_.size() < want) lanes_.push_back(make_lane(grads != nullptr));
    for (auto& lane : lanes_) ensure_lane_workspace(*lane, grads != nullptr);

    std::vector<int> attempt(B, 0);
    std::deque<size_t> pending;
    for (size_t b = 0; b < B; ++b) pending.push_back(b);
    while (!pending.empty()) {
      const size_t used = std::min(pending.size(), lanes_.size());
      for (size_t l = 0; l < used; ++l) {
        lanes_[l]->item = pending.front();
        pending.pop_front();
        enqueue(*lanes_[l], thetas + lanes_[l]->item * P, attempt[lanes_[l]->item], grads != nullptr);
      }
      for (size_t l = 0; l < used; ++l) {
        Lane& lane = *lanes_[l];
        const size_t b = lane.item;
        double* g = grads ? grads + b * P : nullptr;
        if (collect(lane, thetas + b * P, values[b], g)) continue;
        if (++attempt[b] <= kJitterAttempts) {
          pending.push_back(b);
        } else {
          values[b] = -std::numeric_limits<double>::infinity();
          if (g) std::fill(g, g + P, 0.0);
        }
      }
    }
  }

  bool factorize(const std::vector<double>& lengthscale, double signal, double noise, double* jitter, double* L,
                 double* alpha) override {
    BBO_CK(cudaSetDevice(device_));
    if (n_ == 0) throw std::runtime_error("gp cuda: factorize before set_data");
    if (lengthscale.size() != static_cast<size_t>(d_)) throw std::runtime_error("gp cuda: factorize got a wrong d");
    factorized_ = false;
    const size_t nn = static_cast<size_t>(n_) * n_;
    L_.reserve(nn);
    alpha_.reserve(n_);
    diag_.reserve(n_);
    info_.reserve(2);
    inv_l2_.reserve(d_);
    inv_l2_host_.resize(d_);
    for (int j = 0; j < d_; ++j) inv_l2_host_[j] = 1.0 / (lengthscale[j] * lengthscale[j]);
    signal_ = signal;
    int lwork = 0;
    BBO_CK(cusolverDnDpotrf_bufferSize(main_.solver, CUBLAS_FILL_MODE_LOWER, n_, L_.get(), n_, &lwork));
    work_.reserve(static_cast<size_t>(std::max(lwork, 1)));
    BBO_CK(cudaMemcpyAsync(inv_l2_.get(), inv_l2_host_.data(), d_ * sizeof(double), cudaMemcpyHostToDevice,
                           main_.stream));
    const double mean_diag = std::max(signal + noise, 1e-300);
    std::vector<double> diag(n_);
    bool ok = false;
    for (int attempt = 0; attempt <= kJitterAttempts && !ok; ++attempt) {
      *jitter = attempt == 0 ? 0.0 : mean_diag * std::pow(10.0, -9 + attempt);
      kernel_matrix_lower<<<blocks_for(static_cast<long long>(nn)), kThreads, 0, main_.stream>>>(
          X_.get(), cat_.get(), inv_l2_.get(), n_, d_, signal, noise, *jitter, L_.get());
      BBO_CK(cudaGetLastError());
      BBO_CK(cusolverDnDpotrf(main_.solver, CUBLAS_FILL_MODE_LOWER, n_, L_.get(), n_, work_.get(), lwork,
                              info_.get()));
      extract_diagonal<<<blocks_for(n_), kThreads, 0, main_.stream>>>(L_.get(), n_, diag_.get());
      BBO_CK(cudaGetLastError());
      int info = 0;
      BBO_CK(cudaMemcpyAsync(&info, info_.get(), sizeof(int), cudaMemcpyDeviceToHost, main_.stream));
      BBO_CK(cudaMemcpyAsync(diag.data(), diag_.get(), n_ * sizeof(double), cudaMemcpyDeviceToHost, main_.stream));
      BBO_CK(cudaStreamSynchronize(main_.stream));
      if (info < 0) throw std::runtime_error("gp cuda: cusolverDnDpotrf rejected argument " + std::to_string(-info));
      ok = info == 0 && std::all_of(diag.begin(), diag.end(), [](double v) { return std::isfinite(v); });
    }
    if (!ok) return false;
    BBO_CK(cudaMemcpyAsync(alpha_.get(), z_.data(), n_ * sizeof(double), cudaMemcpyHostToDevice, main_.stream));
    BBO_CK(cusolverDnDpotrs(main_.solver, CUBLAS_FILL_MODE_LOWER, n_, 1, L_.get(), n_, alpha_.get(), n_,
                            info_.get() + 1));
    int info = 0;
    BBO_CK(cudaMemcpyAsync(&info, info_.get() + 1, sizeof(int), cudaMemcpyDeviceToHost, main_.stream));
    if (alpha)
      BBO_CK(cudaMemcpyAsync(alpha, alpha_.get(), n_ * sizeof(double), cudaMemcpyDeviceToHost, main_.stream));
    if (L) BBO_CK(cudaMemcpyAsync(L, L_.get(), nn * sizeof(double), cudaMemcpyDeviceToHost, main_.stream));
    BBO_CK(cudaStreamSynchronize(main_.stream));
    if (info != 0) throw std::runtime_error("gp cuda: cusolverDnDpotrs returned info " + std::to_string(info));
    factorized_ = true;
    return true;
  }

  void predict(const double* Xq, size_t m, double* mean, double* latent_variance) override {
    BBO_CK(cudaSetDevice(device_));
    if (!factorized_) throw std::runtime_error("gp cuda: predict before factorize");
    if (m == 0) return;
    // Query blocks bound the n × block matrix to 256 MiB.
    const size_t by_memory = (size_t{256} << 20) / (static_cast<size_t>(n_) * sizeof(double));
    const size_t block = std::clamp<size_t>(by_memory, 1, BBO_GP_CUDA_MAX_QUERY_BLOCK);
    const size_t first = std::min(block, m);
    Q_.reserve(first * d_);
    Kq_.reserve(first * static_cast<size_t>(n_));
    qmean_.reserve(first);
    qnorm_.reserve(first);
    std::vector<double> norms(first);
    const double one = 1.0, zero = 0.0;
    for (size_t start = 0; start < m; start += block) {
      const int len = static_cast<int>(std::min(block, m - start));
      BBO_CK(cudaMemcpyAsync(Q_.get(), Xq + start * d_, static_cast<size_t>(len) * d_ * sizeof(double),
                             cudaMemcpyHostToDevice, main_.stream));
      kernel_cross<<<blocks_for(static_cast<long long>(n_) * len), kThreads, 0, main_.stream>>>(
          X_.get(), n_, Q_.get(), len, cat_.get(), inv_l2_.get(), d_, signal_, Kq_.get());
      BBO_CK(cudaGetLastError());
      // mean = Kqᵀ α (Kq is n × len, column-major).
      BBO_CK(cublasDgemv(main_.blas, CUBLAS_OP_T, n_, len, &one, Kq_.get(), n_, alpha_.get(), 1, &zero,
                         qmean_.get(), 1));
      // V = L⁻¹ Kq in place; the explained variance is ‖V_c‖².
      BBO_CK(cublasDtrsm(main_.blas, CUBLAS_SIDE_LEFT, CUBLAS_FILL_MODE_LOWER, CUBLAS_OP_N, CUBLAS_DIAG_NON_UNIT, n_,
                         len, &one, L_.get(), n_, Kq_.get(), n_));
      column_squared_norms<<<std::min(len, 65535), kThreads, 0, main_.stream>>>(Kq_.get(), n_, len, qnorm_.get());
      BBO_CK(cudaGetLastError());
      BBO_CK(cudaMemcpyAsync(mean + start, qmean_.get(), len * sizeof(double), cudaMemcpyDeviceToHost,
                             main_.stream));
      BBO_CK(cudaMemcpyAsync(norms.data(), qnorm_.get(), len * sizeof(double), cudaMemcpyDeviceToHost,
                             main_.stream));
      BBO_CK(cudaStreamSynchronize(main_.stream));
      for (int c = 0; c < len; ++c) latent_variance[start + c] = signal_ - norms[c];
    }
  }

 private:
  std::unique_ptr<Lane> make_lane(bool with_inverse) {
    auto lane = std::make_unique<Lane>();
    lane->queue.create(false);
    ensure_lane_workspace(*lane, with_inverse);
    return lane;
  }

  void ensure_lane_workspace(Lane& lane, bool with_inverse) {
    const size_t nn = static_cast<size_t>(n_) * n_;
    lane.K.reserve(nn);
    lane.inv_l2.reserve(d_);
    lane.alpha.reserve(n_);
    lane.diag.reserve(n_);
    lane.info.reserve(3);
    lane.partials.reserve(static_cast<size_t>(kReduceBlocks) * (d_ + 2));
    int lwork = 0;
    BBO_CK(cusolverDnDpotrf_bufferSize(lane.queue.solver, CUBLAS_FILL_MODE_LOWER, n_, lane.K.get(), n_, &lwork));
    if (with_inverse) {
      int lwork_inv = 0;
      BBO_CK(cusolverDnDpotri_bufferSize(lane.queue.solver, CUBLAS_FILL_MODE_LOWER, n_, lane.K.get(), n_,
                                         &lwork_inv));
      lwork = std::max(lwork, lwork_inv);
    }
    lane.lwork = std::max({lane.lwork, lwork, 1});
    lane.work.reserve(static_cast<size_t>(lane.lwork));
  }

  // Queues the whole evaluation of θ on the lane (nothing waits for the GPU here).
  void enqueue(Lane& lane, const double* theta, int attempt, bool with_gradient) {
    const cudaStream_t s = lane.queue.stream;
    const size_t nn = static_cast<size_t>(n_) * n_;
    lane.inv_l2_host.resize(d_);
    for (int j = 0; j < d_; ++j) {
      const double l = std::exp(theta[j]);
      lane.inv_l2_host[j] = 1.0 / (l * l);
    }
    const double s2 = std::exp(theta[d_]);
    const double noise = deterministic_ ? fixed_noise_ : std::exp(theta[d_ + 1]);
    const double mean_diag = std::max(s2 + noise, 1e-300);
    lane.jitter = attempt == 0 ? 0.0 : mean_diag * std::pow(10.0, -9 + attempt);
    // Pageable source: the call returns once the data is staged, so inv_l2_host may change afterwards.
    BBO_CK(cudaMemcpyAsync(lane.inv_l2.get(), lane.inv_l2_host.data(), d_ * sizeof(double), cudaMemcpyHostToDevice,
                           s));
    kernel_matrix_lower<<<blocks_for(static_cast<long long>(nn)), kThreads, 0, s>>>(
        X_.get(), cat_.get(), lane.inv_l2.get(), n_, d_, s2, noise, lane.jitter, lane.K.get());
    BBO_CK(cudaGetLastError());
    BBO_CK(cusolverDnDpotrf(lane.queue.solver, CUBLAS_FILL_MODE_LOWER, n_, lane.K.get(), n_, lane.work.get(),
                            lane.lwork, lane.info.get()));
    extract_diagonal<<<blocks_for(n_), kThreads, 0, s>>>(lane.K.get(), n_, lane.diag.get());
    BBO_CK(cudaGetLastError());
    BBO_CK(cudaMemcpyAsync(lane.alpha.get(), z_.data(), n_ * sizeof(double), cudaMemcpyHostToDevice, s));
    BBO_CK(cusolverDnDpotrs(lane.queue.solver, CUBLAS_FILL_MODE_LOWER, n_, 1, lane.K.get(), n_, lane.alpha.get(),
                            n_, lane.info.get() + 1));
    if (!with_gradient) return;
    // (On a failed factorization the steps below compute garbage that collect() ignores.)
    BBO_CK(cusolverDnDpotri(lane.queue.solver, CUBLAS_FILL_MODE_LOWER, n_, lane.K.get(), n_, lane.work.get(),
                            lane.lwork, lane.info.get() + 2));
    for (int c0 = 0; c0 < d_ + 2; c0 += kChunk) {
      const int nc = std::min(kChunk, d_ + 2 - c0);
      const size_t shared = static_cast<size_t>(nc) * kReduceThreads * sizeof(double);
      gradient_partials<<<kReduceBlocks, kReduceThreads, shared, s>>>(
          X_.get(), cat_.get(), lane.inv_l2.get(), n_, d_, s2, lane.K.get(), lane.alpha.get(), c0, nc,
          lane.partials.get() + static_cast<size_t>(c0) * kReduceBlocks);
      BBO_CK(cudaGetLastError());
    }
  }

  // Waits for the lane and turns its results into log p(z | θ) and the gradient; false when the
  // factorization failed (the caller retries with more jitter).
  bool collect(Lane& lane, const double* theta, double& value, double* grad) {
    const cudaStream_t s = lane.queue.stream;
    int info[3] = {0, 0, 0};
    std::vector<double> diag(n_), alpha(n_);
    BBO_CK(cudaMemcpyAsync(info, lane.info.get(), (grad ? 3 : 2) * sizeof(int), cudaMemcpyDeviceToHost, s));
    BBO_CK(cudaMemcpyAsync(diag.data(), lane.diag.get(), n_ * sizeof(double), cudaMemcpyDeviceToHost, s));
    BBO_CK(cudaMemcpyAsync(alpha.data(), lane.alpha.get(), n_ * sizeof(double), cudaMemcpyDeviceToHost, s));
    const size_t np = static_cast<size_t>(kReduceBlocks) * (d_ + 2);
    std::vector<double> partials(grad ? np : 0);
    if (grad)
      BBO_CK(cudaMemcpyAsync(partials.data(), lane.partials.get(), np * sizeof(double), cudaMemcpyDeviceToHost, s));
    BBO_CK(cudaStreamSynchronize(s));
    if (info[0] < 0) throw std::runtime_error("gp cuda: cusolverDnDpotrf rejected argument " + std::to_string(-info[0]));
    if (info[0] != 0) return false;
    for (double v : diag)
      if (!std::isfinite(v)) return false;
    if (info[1] != 0) throw std::runtime_error("gp cuda: cusolverDnDpotrs returned info " + std::to_string(info[1]));
    if (grad && info[2] < 0)
      throw std::runtime_error("gp cuda: cusolverDnDpotri rejected argument " + std::to_string(-info[2]));
    if (grad && info[2] > 0) return false;
    double log_det = 0.0, z_alpha = 0.0;
    for (int i = 0; i < n_; ++i) {
      log_det += std::log(diag[i]);
      z_alpha += z_[i] * alpha[i];
    }
    log_det *= 2.0;
    value = -0.5 * z_alpha - 0.5 * log_det - 0.5 * static_cast<double>(n_) * std::log(2 * kPi);
    if (!grad) return true;
    // Component c of chunk c0 (nc components) lies at partials[c0·blocks + block·nc + (c − c0)].
    std::vector<double> sums(d_ + 2, 0.0);
    for (int c0 = 0; c0 < d_ + 2; c0 += kChunk) {
      const int nc = std::min(kChunk, d_ + 2 - c0);
      const double* base = partials.data() + static_cast<size_t>(c0) * kReduceBlocks;
      for (int blk = 0; blk < kReduceBlocks; ++blk)
        for (int c = 0; c < nc; ++c) sums[c0 + c] += base[static_cast<size_t>(blk) * nc + c];
    }
    for (int j = 0; j < d_; ++j) grad[j] = -sums[j] * lane.inv_l2_host[j];  // ∂/∂log ℓ_j
    grad[d_] = 0.5 * sums[d_];                                              // ∂/∂log s²
    if (!deterministic_) grad[d_ + 1] = 0.5 * std::exp(theta[d_ + 1]) * sums[d_ + 1];  // ∂/∂log σ²
    return true;
  }

  int device_;
  int n_ = 0, d_ = 0;
  bool deterministic_ = false;
  double fixed_noise_ = 1e-6;
  std::vector<double> z_;
  DeviceArray<double> X_;
  DeviceArray<int> cat_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  // factorize() / predict(): the factor, α, the lengthscales and signal of the factorized θ.
  Queue main_;
  DeviceArray<double> L_, alpha_, diag_, work_, inv_l2_, Q_, Kq_, qmean_, qnorm_;
  DeviceArray<int> info_;
  std::vector<double> inv_l2_host_;
  double signal_ = 1.0;
  bool factorized_ = false;
};

}  // namespace
}  // namespace bbo::gp

extern "C" __attribute__((visibility("default"))) bbo::gp::GpDeviceEngine* bbo_gp_cuda_create(int device,
                                                                                               std::string* error) {
  try {
    return new bbo::gp::CudaEngine(device);
  } catch (const std::exception& e) {
    if (error) *error = e.what();
  } catch (...) {
    if (error) *error = "gp cuda: unknown error while creating the engine";
  }
  return nullptr;
}

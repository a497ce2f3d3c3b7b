// pfn_cuda.cu — the CUDA backend of the `pfn` surrogate (libbbo_pfn_cuda.so): the query path of
// PfnNetwork::logits() on a GPU, in double precision (interface and math: pfn_device.h).
//
// Every matrix is row-major, as on the host. cuBLAS is column-major: a row-major (r × c) array with leading
// dimension c is, to cuBLAS, its transpose (c × r) with the same leading dimension. So the torch.nn.Linear
// product Y = X · Wᵀ (X: m × in, W: out × in, Y: m × out, all row-major) is, column-major, Yᵀ = W · Xᵀ
// = op_T(W as in × out) · op_N(X as in × m): cublasDgemm(T, N, out, m, in, W, ld in, X, ld in, Y, ld out).
// The attention products per head are the same idea with column offsets (head h reads columns h·Dh..h·Dh+Dh-1
// of a row-major m × E array: pointer + h·Dh, leading dimension E) batched over the heads; each head writes
// its own contiguous block.
//
// Small kernels (grid-stride loops, one thread per element or per row) do the bias, GELU, residual, layer
// norm and softmax steps, in the same operation order as pfn_core.cc. Everything runs on the legacy default
// stream (kernels and the cuBLAS handle), so each step sees the previous one finished, and the synchronous
// device-to-host cudaMemcpy of each chunk's logits returns only when they are computed (it also reports any
// failed kernel).
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstddef>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "surrogates/pfn/pfn_device.h"

namespace bbo::pfn {
namespace {

// Raised inside this file only; each interface method turns it into false + *error.
struct CudaFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check(cudaError_t rc, const char* call) {
  if (rc != cudaSuccess)
    throw CudaFailure(std::string("pfn cuda: ") + call + " failed: " + cudaGetErrorString(rc));
}

void check(cublasStatus_t rc, const char* call) {
  if (rc != CUBLAS_STATUS_SUCCESS)
    throw CudaFailure(std::string("pfn cuda: ") + call + " failed: " + cublasGetStatusString(rc));
}

// A device array of doubles, freed by its destructor. resize() only grows and does not keep the contents.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }

  void resize(size_t n) {
    if (n <= size_) return;
    release();
    void* p = nullptr;
    check(cudaMalloc(&p, n * sizeof(double)), "cudaMalloc");
    ptr_ = static_cast<double*>(p);
    size_ = n;
  }
  void upload(const double* host, size_t n) {
    resize(n);
    if (n > 0) check(cudaMemcpy(ptr_, host, n * sizeof(double), cudaMemcpyHostToDevice), "cudaMemcpy (host to device)");
  }
  double* get() const { return ptr_; }
  void release() {
    if (ptr_) cudaFree(ptr_);  // nothing useful to do with an error while releasing
    ptr_ = nullptr;
    size_ = 0;
  }

 private:
  double* ptr_ = nullptr;
  size_t size_ = 0;
};

// ------------------------------------------------------------------------------------------------ kernels

constexpr int kThreads = 256;

int blocks_for(size_t work) {
  const size_t b = (work + kThreads - 1) / kThreads;
  return static_cast<int>(std::max<size_t>(1, std::min<size_t>(b, 4096)));
}

__device__ double gelu(double v) { return 0.5 * v * (1.0 + erf(v / sqrt(2.0))); }  // exact (erf) GELU

// y[r, c] = act(y[r, c] + b[c]) over a rows × cols row-major array; act = GELU when `with_gelu`.
__global__ void bias_act_kernel(double* y, const double* b, size_t rows, size_t cols, int with_gelu) {
  const size_t total = rows * cols;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<size_t>(blockDim.x) * gridDim.x) {
    const double v = y[i] + b[i % cols];
    y[i] = with_gelu ? gelu(v) : v;
  }
}

// h[r, c] += t[r, c] + b[c] (the residual of a linear layer: h + (x·Wᵀ + b), as pfn_core.cc adds them).
__global__ void residual_kernel(double* h, const double* t, const double* b, size_t rows, size_t cols) {
  const size_t total = rows * cols;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<size_t>(blockDim.x) * gridDim.x)
    h[i] += t[i] + b[i % cols];
}

// out[r, :] = LayerNorm(h[r, :]) · w + b: biased variance, eps 1e-5 (torch.nn.LayerNorm). One thread a row.
__global__ void layer_norm_kernel(const double* h, const double* w, const double* b, double* out, size_t rows,
                                  size_t cols) {
  for (size_t r = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<size_t>(blockDim.x) * gridDim.x) {
    const double* x = h + r * cols;
    double* y = out + r * cols;
    double s = 0.0;
    for (size_t c = 0; c < cols; ++c) s += x[c];
    const double mu = s / static_cast<double>(cols);
    double v = 0.0;
    for (size_t c = 0; c < cols; ++c) {
      const double d = x[c] - mu;
      v += d * d;
    }
    v /= static_cast<double>(cols);
    const double inv = 1.0 / sqrt(v + 1e-5);
    for (size_t c = 0; c < cols; ++c) y[c] = (x[c] - mu) * inv * w[c] + b[c];
  }
}

// a[r, h·Dh + j] = o[h, r, j]: the per-head outputs (heads × c × Dh, each head's block contiguous) interleaved
// into the c × E row-major attention output.
__global__ void merge_heads_kernel(const double* o, double* a, size_t c, size_t E, size_t Dh) {
  const size_t total = c * E;
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<size_t>(blockDim.x) * gridDim.x) {
    const size_t r = i / E, col = i % E, h = col / Dh, j = col % Dh;
    a[i] = o[(h * c + r) * Dh + j];
  }
}

// Softmax of each row of a rows × cols row-major array, in place (max subtracted first). One thread a row.
__global__ void softmax_rows_kernel(double* s, size_t rows, size_t cols) {
  for (size_t r = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; r < rows;
       r += static_cast<size_t>(blockDim.x) * gridDim.x) {
    double* x = s + r * cols;
    double mx = x[0];
    for (size_t c = 1; c < cols; ++c) mx = fmax(mx, x[c]);
    double sum = 0.0;
    for (size_t c = 0; c < cols; ++c) {
      x[c] = exp(x[c] - mx);
      sum += x[c];
    }
    for (size_t c = 0; c < cols; ++c) x[c] /= sum;
  }
}

// ------------------------------------------------------------------------------------------------- engine

// Rows of queries processed at once: bounded by kMaxChunkRows and by kChunkDoubles of scratch memory
// (512 MB), so that 100,000 candidates (or any m) run in a few passes of fixed memory.
#ifndef BBO_PFN_CUDA_MAX_CHUNK_ROWS  // the host emulation (tests/cuda_emu) uses smaller chunks
#define BBO_PFN_CUDA_MAX_CHUNK_ROWS 16384
#endif
constexpr size_t kMaxChunkRows = BBO_PFN_CUDA_MAX_CHUNK_ROWS;
constexpr size_t kChunkDoubles = size_t{1} << 26;

int as_int(size_t v, const char* what) {
  if (v > static_cast<size_t>(INT_MAX)) throw CudaFailure(std::string("pfn cuda: ") + what + " too large for cuBLAS");
  return static_cast<int>(v);
}

class PfnCudaEngine final : public PfnDeviceEngine {
 public:
  explicit PfnCudaEngine(int device) : device_(device) {
    check(cudaSetDevice(device_), "cudaSetDevice");
    check(cublasCreate(&handle_), "cublasCreate");
    // Plain FP64 arithmetic: no FP64 emulation (CUBLAS_FP64_EMULATED_FIXEDPOINT_MATH is opt-in; be explicit).
    const cublasStatus_t rc = cublasSetMathMode(handle_, CUBLAS_DEFAULT_MATH);
    if (rc != CUBLAS_STATUS_SUCCESS) {
      cublasDestroy(handle_);
      handle_ = nullptr;
      check(rc, "cublasSetMathMode");
    }
  }
  ~PfnCudaEngine() override {
    cudaSetDevice(device_);  // the buffers (members, released after this body) live on device_
    if (handle_) cublasDestroy(handle_);
  }
  PfnCudaEngine(const PfnCudaEngine&) = delete;
  PfnCudaEngine& operator=(const PfnCudaEngine&) = delete;

  bool load_weights(const PfnDeviceWeights& w, std::string* error) override {
    return guarded(error, [&] { do_load_weights(w); });
  }
  bool set_context(size_t tokens, const std::vector<const double*>& keys, const std::vector<const double*>& values,
                   std::string* error) override {
    return guarded(error, [&] { do_set_context(tokens, keys, values); });
  }
  bool logits(const double* features, size_t m, double* out, std::string* error) override {
    return guarded(error, [&] { do_logits(features, m, out); });
  }

 private:
  struct Layer {
    DeviceBuffer ln1_w, ln1_b, q_w, q_b, out_w, out_b, ln2_w, ln2_b, ff1_w, ff1_b, ff2_w, ff2_b;
    DeviceBuffer keys, values;  // the context cache: tokens × E each
  };

  template <class F>
  bool guarded(std::string* error, F&& body) {
    try {
      check(cudaSetDevice(device_), "cudaSetDevice");
      body();
      return true;
    } catch (const std::bad_alloc&) {
      if (error) *error = "pfn cuda: out of host memory";
    } catch (const std::exception& e) {
      if (error) *error = e.what();
    }
    return false;
  }

  static void put(DeviceBuffer& dst, const std::vector<double>& src, size_t expected, const char* name) {
    if (src.size() != expected)
      throw CudaFailure(std::string("pfn cuda: weight array ") + name + " has " + std::to_string(src.size()) +
                        " values, expected " + std::to_string(expected));
    dst.upload(src.data(), src.size());
  }

  void do_load_weights(const PfnDeviceWeights& w) {
    loaded_ = false;
    tokens_ = 0;
    if (w.max_dims < 1 || w.emsize < 1 || w.heads < 1 || w.emsize % w.heads != 0 || w.ff < 1 || w.dec_hidden < 1 ||
        w.buckets < 1)
      throw CudaFailure("pfn cuda: invalid network shape");
    const size_t D = w.max_dims, E = w.emsize, F = w.ff, Hd = w.dec_hidden, K = w.buckets;
    put(xenc_w_, w.xenc_w, E * D, "xenc_w");
    put(xenc_b_, w.xenc_b, E, "xenc_b");
    layer_.clear();
    for (const PfnDeviceLayer& s : w.layer) {
      auto l = std::make_unique<Layer>();
      put(l->ln1_w, s.ln1_w, E, "ln1_w");
      put(l->ln1_b, s.ln1_b, E, "ln1_b");
      put(l->q_w, s.q_w, E * E, "q_w");
      put(l->q_b, s.q_b, E, "q_b");
      put(l->out_w, s.out_w, E * E, "out_w");
      put(l->out_b, s.out_b, E, "out_b");
      put(l->ln2_w, s.ln2_w, E, "ln2_w");
      put(l->ln2_b, s.ln2_b, E, "ln2_b");
      put(l->ff1_w, s.ff1_w, F * E, "ff1_w");
      put(l->ff1_b, s.ff1_b, F, "ff1_b");
      put(l->ff2_w, s.ff2_w, E * F, "ff2_w");
      put(l->ff2_b, s.ff2_b, E, "ff2_b");
      layer_.push_back(std::move(l));
    }
    put(lnf_w_, w.lnf_w, E, "lnf_w");
    put(lnf_b_, w.lnf_b, E, "lnf_b");
    put(dec1_w_, w.dec1_w, Hd * E, "dec1_w");
    put(dec1_b_, w.dec1_b, Hd, "dec1_b");
    put(dec2_w_, w.dec2_w, K * Hd, "dec2_w");
    put(dec2_b_, w.dec2_b, K, "dec2_b");
    D_ = D;
    E_ = E;
    heads_ = w.heads;
    F_ = F;
    Hd_ = Hd;
    K_ = K;
    loaded_ = true;
  }

  void do_set_context(size_t tokens, const std::vector<const double*>& keys, const std::vector<const double*>& values) {
    if (!loaded_) throw CudaFailure("pfn cuda: set_context() before load_weights()");
    tokens_ = 0;
    if (tokens < 1) throw CudaFailure("pfn cuda: the context needs at least the prior token");
    if (keys.size() != layer_.size() || values.size() != layer_.size())
      throw CudaFailure("pfn cuda: the context cache has " + std::to_string(keys.size()) + " key and " +
                        std::to_string(values.size()) + " value layers for a " + std::to_string(layer_.size()) +
                        "-layer network");
    for (size_t l = 0; l < layer_.size(); ++l) {
      layer_[l]->keys.upload(keys[l], tokens * E_);
      layer_[l]->values.upload(values[l], tokens * E_);
    }
    tokens_ = tokens;
  }

  // Y (m × o) = X (m × i) · Wᵀ (W: o × i), all row-major; see the file comment.
  void linear_nt(size_t m, size_t o, size_t i, const double* X, const double* W, double* Y) {
    const double one = 1.0, zero = 0.0;
    check(cublasDgemm(handle_, CUBLAS_OP_T, CUBLAS_OP_N, as_int(o, "layer width"), as_int(m, "chunk"),
                      as_int(i, "layer width"), &one, W, as_int(i, "ld"), X, as_int(i, "ld"), &zero, Y,
                      as_int(o, "ld")),
          "cublasDgemm");
  }

  void bias_act(double* y, const double* b, size_t rows, size_t cols, bool with_gelu) {
    bias_act_kernel<<<blocks_for(rows * cols), kThreads>>>(y, b, rows, cols, with_gelu ? 1 : 0);
    check(cudaGetLastError(), "bias_act_kernel launch");
  }
  void residual(double* h, const double* t, const double* b, size_t rows, size_t cols) {
    residual_kernel<<<blocks_for(rows * cols), kThreads>>>(h, t, b, rows, cols);
    check(cudaGetLastError(), "residual_kernel launch");
  }
  void layer_norm(const double* h, const DeviceBuffer& w, const DeviceBuffer& b, double* out, size_t rows) {
    layer_norm_kernel<<<blocks_for(rows), kThreads>>>(h, w.get(), b.get(), out, rows, E_);
    check(cudaGetLastError(), "layer_norm_kernel launch");
  }

  // a (c × E) = per head h: softmax(q_h · K_hᵀ / sqrt(Dh)) · V_h, with q (c × E), K and V (tokens × E),
  // S (heads × c × tokens) and O (heads × c × Dh) as scratch; see the file comment for the layouts. Each
  // head's output goes to its own contiguous block of O (no two batch entries of a cuBLAS call write into
  // the same rows), and a kernel interleaves them into a.
  void attend(const double* q, const Layer& l, double* S, double* O, double* a, size_t c) {
    const size_t E = E_, H = heads_, Dh = E / H, N = tokens_;
    const double scale = 1.0 / std::sqrt(static_cast<double>(Dh)), one = 1.0, zero = 0.0;
    // S_h (c × N row-major = N × c column-major) = K_h (N × Dh) · q_hᵀ (Dh × c).
    check(cublasDgemmStridedBatched(handle_, CUBLAS_OP_T, CUBLAS_OP_N, as_int(N, "context"), as_int(c, "chunk"),
                                    as_int(Dh, "head width"), &scale, l.keys.get(), as_int(E, "ld"),
                                    static_cast<long long>(Dh), q, as_int(E, "ld"), static_cast<long long>(Dh),
                                    &zero, S, as_int(N, "ld"), static_cast<long long>(c * N), as_int(H, "heads")),
          "cublasDgemmStridedBatched (scores)");
    softmax_rows_kernel<<<blocks_for(H * c), kThreads>>>(S, H * c, N);
    check(cudaGetLastError(), "softmax_rows_kernel launch");
    // O_h (c × Dh row-major = Dh × c column-major, ld Dh) = V_hᵀ (Dh × N) · S_hᵀ (N × c).
    check(cublasDgemmStridedBatched(handle_, CUBLAS_OP_N, CUBLAS_OP_N, as_int(Dh, "head width"), as_int(c, "chunk"),
                                    as_int(N, "context"), &one, l.values.get(), as_int(E, "ld"),
                                    static_cast<long long>(Dh), S, as_int(N, "ld"), static_cast<long long>(c * N),
                                    &zero, O, as_int(Dh, "ld"), static_cast<long long>(c * Dh), as_int(H, "heads")),
          "cublasDgemmStridedBatched (values)");
    merge_heads_kernel<<<blocks_for(c * E), kThreads>>>(O, a, c, E, Dh);
    check(cudaGetLastError(), "merge_heads_kernel launch");
  }

  void do_logits(const double* features, size_t m, double* out) {
    if (!loaded_) throw CudaFailure("pfn cuda: logits() before load_weights()");
    if (tokens_ < 1) throw CudaFailure("pfn cuda: logits() before set_context()");
    if (m == 0) return;
    const size_t D = D_, E = E_, H = heads_, N = tokens_, F = F_, Hd = Hd_, K = K_;
    const size_t wide = std::max(F, Hd);
    const size_t per_row = D + 6 * E + H * N + wide + K;
    const size_t chunk = std::max<size_t>(1, std::min({m, kMaxChunkRows, kChunkDoubles / per_row}));
    feat_.resize(chunk * D);
    h_.resize(chunk * E);
    z_.resize(chunk * E);
    q_.resize(chunk * E);
    a_.resize(chunk * E);
    o_.resize(chunk * E);
    t_.resize(chunk * E);
    s_.resize(chunk * H * N);
    wide_.resize(chunk * wide);
    lg_.resize(chunk * K);
    for (size_t r0 = 0; r0 < m; r0 += chunk) {
      const size_t c = std::min(chunk, m - r0);
      feat_.upload(features + r0 * D, c * D);
      // h = xenc(f)
      linear_nt(c, E, D, feat_.get(), xenc_w_.get(), h_.get());
      bias_act(h_.get(), xenc_b_.get(), c, E, false);
      for (const auto& lp : layer_) {
        const Layer& l = *lp;
        layer_norm(h_.get(), l.ln1_w, l.ln1_b, z_.get(), c);
        linear_nt(c, E, E, z_.get(), l.q_w.get(), q_.get());
        bias_act(q_.get(), l.q_b.get(), c, E, false);
        attend(q_.get(), l, s_.get(), o_.get(), a_.get(), c);
        linear_nt(c, E, E, a_.get(), l.out_w.get(), t_.get());
        residual(h_.get(), t_.get(), l.out_b.get(), c, E);
        layer_norm(h_.get(), l.ln2_w, l.ln2_b, z_.get(), c);
        linear_nt(c, F, E, z_.get(), l.ff1_w.get(), wide_.get());
        bias_act(wide_.get(), l.ff1_b.get(), c, F, true);
        linear_nt(c, E, F, wide_.get(), l.ff2_w.get(), t_.get());
        residual(h_.get(), t_.get(), l.ff2_b.get(), c, E);
      }
      layer_norm(h_.get(), lnf_w_, lnf_b_, z_.get(), c);
      linear_nt(c, Hd, E, z_.get(), dec1_w_.get(), wide_.get());
      bias_act(wide_.get(), dec1_b_.get(), c, Hd, true);
      linear_nt(c, K, Hd, wide_.get(), dec2_w_.get(), lg_.get());
      bias_act(lg_.get(), dec2_b_.get(), c, K, false);
      check(cudaMemcpy(out + r0 * K, lg_.get(), c * K * sizeof(double), cudaMemcpyDeviceToHost),
            "cudaMemcpy (device to host)");
    }
  }

  int device_ = 0;
  cublasHandle_t handle_ = nullptr;
  bool loaded_ = false;
  size_t D_ = 0, E_ = 0, heads_ = 0, F_ = 0, Hd_ = 0, K_ = 0, tokens_ = 0;
  DeviceBuffer xenc_w_, xenc_b_, lnf_w_, lnf_b_, dec1_w_, dec1_b_, dec2_w_, dec2_b_;
  std::vector<std::unique_ptr<Layer>> layer_;
  DeviceBuffer feat_, h_, z_, q_, a_, o_, t_, s_, wide_, lg_;  // per-chunk scratch
};

}  // namespace
}  // namespace bbo::pfn

extern "C" __attribute__((visibility("default"))) bbo::pfn::PfnDeviceEngine* bbo_pfn_cuda_create(int device,
                                                                                                 std::string* error) {
  try {
    return new bbo::pfn::PfnCudaEngine(device);
  } catch (const std::bad_alloc&) {
    if (error) *error = "pfn cuda: out of host memory";
  } catch (const std::exception& e) {
    if (error) *error = e.what();
  }
  return nullptr;
}

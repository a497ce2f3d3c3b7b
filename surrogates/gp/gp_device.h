// gp_device.h — the interface between the `gp` surrogate's CPU code (gp_core.cc) and its CUDA backend
// (gp_cuda.cu → libbbo_gp_cuda.so, opened at run time with bbo::open_cuda_backend). Plain header, std types
// only, so that g++ and nvcc both compile it.
//
// The engine computes, for the Matérn-5/2 kernel without input warping (gp_core.h's model; r², k and dk/dr²
// from gp_kernel_math.h):
//   - log p(z | θ) and its gradient for a batch of B hyper-parameter vectors at once (a batched multi-start
//     L-BFGS evaluates all its starts' trial points in one call), with MapObjective's θ layout
//     (log ℓ_0..d-1, log s², [log σ² unless deterministic]) and its jitter escalation (jitter 0, then
//     1e-8 … 1e-2 times the mean diagonal until the Cholesky factorization succeeds). The log priors are not
//     included: the caller adds MapObjective::log_prior.
//   - the Cholesky factor of K + (σ² + jitter) I at one θ, and from it the posterior mean (z units) and the
//     latent variance s² − kᵀ(K + σ²I)⁻¹k of many query rows in one call.
// Errors (a failed CUDA call, out of device memory) are thrown as std::exception with a one-line message.
// Not thread-safe: the caller serializes calls on one engine.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace bbo::gp {

struct GpDeviceData {
  size_t n = 0, d = 0;
  std::vector<double> X;         // n × d, row-major, unit cube
  std::vector<double> z;         // n, standardized targets
  std::vector<int> categorical;  // d: 1 for categorical columns (Hamming distance), 0 otherwise
  bool deterministic = false;    // θ has no log σ² entry; σ² = fixed_noise
  double fixed_noise = 1e-6;
};

class GpDeviceEngine {
 public:
  virtual ~GpDeviceEngine() = default;

  // Uploads the data; later calls refer to it. Invalidates an earlier factorize().
  virtual void set_data(const GpDeviceData& data) = 0;

  // thetas: B × P row-major, P = d + 1 + (deterministic ? 0 : 1). values[b] = log p(z | θ_b) and
  // grads[b·P .. b·P+P) its gradient; values[b] = −∞ (and a zero gradient) when no jitter makes K positive
  // definite. grads may be null.
  virtual void log_likelihood_batch(const double* thetas, size_t B, double* values, double* grads) = 0;

  // Factorizes K + (σ² + jitter) I at natural hyper-parameters (lengthscale size d) and keeps the factor for
  // predict(). Returns false when no jitter works. Fills the used jitter, and when non-null L (n × n,
  // column-major, lower triangle; the strict upper triangle is unspecified) and alpha = (K + …)⁻¹ z (n).
  virtual bool factorize(const std::vector<double>& lengthscale, double signal, double noise, double* jitter,
                         double* L, double* alpha) = 0;

  // After factorize(): for the m query rows Xq (m × d, row-major, unit cube) the posterior mean kᵀα
  // (standardized units) and s² − ‖L⁻¹k‖² (latent variance, not clamped at 0).
  virtual void predict(const double* Xq, size_t m, double* mean, double* latent_variance) = 0;
};

// The backend's factory symbol (gp_cuda.cu): an engine on CUDA device `device`, or null with *error set.
using GpCudaFactory = GpDeviceEngine* (*)(int device, std::string* error);
inline constexpr const char* kGpCudaLibrary = "libbbo_gp_cuda.so";
inline constexpr const char* kGpCudaFactory = "bbo_gp_cuda_create";

}  // namespace bbo::gp

// gp_core.h — the Gaussian-process model of the `gp` surrogate plugin, usable (and unit-tested) without the
// plugin registry.
//
// Model (on the unit cube, y standardized to mean 0 / sd 1 internally; a constant y gets sd 1):
//   f ~ GP(0, s² · Matérn52(r)),  r² = Σ_{continuous, grid j} (w_j(x_j) − w_j(x'_j))² / ℓ_j²
//                                     + Σ_{categorical j} 1[x_j ≠ x'_j] / ℓ_j²,
//   z = f + ε, ε ~ N(0, σ²).
// w_j is the identity, or with `warping` the Kumaraswamy CDF 1 − (1 − x^a_j)^b_j on continuous coordinates.
// Hyper-parameters θ = (log ℓ, log s², log σ² unless deterministic, log a, log b of the warped coordinates)
// are the MAP estimate of
//   log p(z | θ) + Σ_j log N(log ℓ_j; √2 + ½ log d, 3)       (Hvarfner, Hellsten & Nardi 2024)
//               + log N(log s²; 0, 1)                        (signal variance around the data's variance)
//               + log Gamma(σ²; 1.1, 10)                     (noise: mode 0.01, a long tail to 1)
//               + Σ log N(log a_j; 0, 0.75), log N(log b_j; 0, 0.75)  (variances; warping near identity)
// found by NLopt L-BFGS with analytic gradients inside box bounds, from several starts (the prior medians,
// then draws from the priors seeded by FitInput::seed), or from a warm start alone (see GpOptions for the
// evaluation caps and the subset used by cold fits at large n). `deterministic` fixes
// σ² = 1e-6 (standardized units). Cholesky factorizations add jitter 1e-8, 1e-7, … 1e-2 (× mean diagonal)
// when the plain factorization fails; only when all fail does fit() throw bbo::Error.
//
// Kernel `nngp` (GpOptions::kernel) replaces s² · Matérn52 by s² · K^L, the neural-network GP of an
// infinitely wide ReLU network with L = nngp_depth hidden layers (Neal 1996; Lee et al. 2018; order-1
// arc-cosine kernel of Cho & Saul 2009 when L = 1 and σ_b² = 0):
//   K^0(x, x') = σ_b² + Σ_{continuous, grid j} u_j u'_j / ℓ_j² + Σ_{categorical j} 1[x_j = x'_j] / ℓ_j²,
//                u_j = w_j(x_j) − ½  (input weight variances 1/ℓ_j², ARD; a categorical is its one-hot code),
//   K^l(x, x') = σ_b² + (σ_w²/2π) √(K^{l−1}(x,x) K^{l−1}(x',x')) (sin θ + (π − θ) cos θ),
//                cos θ = K^{l−1}(x, x') / √(K^{l−1}(x,x) K^{l−1}(x',x')),  l = 1..L,
// with hidden-layer weight variance σ_w² = 2 (He: the diagonal only grows by σ_b² per layer) and the
// readout weight variance s². It is not stationary: the prior variance s² K^L(x, x) depends on x. Its
// hyper-parameters θ = (log ℓ, log s², [log σ²], log σ_b², [warping]) are fitted by the same MAP search
// with analytic gradients (back-propagated through the recursion); log σ_b² has the prior N(0, 1) and
// ℓ_j the Matérn lengthscale prior (large ℓ_j: the coordinate does not matter).
//
// Device (GpOptions::device; docs: bbo/device.h): with "cuda[:N]", or "auto" when n >= gpu_min_n, and a usable
// GPU and CUDA backend (libbbo_gp_cuda.so, gp_device.h), a Matérn model without warping computes on the GPU:
// fit() runs its full-data L-BFGS starts as one lockstep batch (batch_lbfgs.h) whose trial points' log
// likelihoods and gradients come from one batched GPU call (the log priors are added on the host by
// MapObjective::log_prior), the final factorization is the GPU's, and predict() of at least
// gpu_min_predict_rows rows runs on the GPU. The subset stage of a large cold fit (subset_size points) stays on
// the CPU. Everything else (predict_with_gradient, sample, condition_on — whose model is CPU-only) uses the
// host copy of the factor. The nngp kernel and warping are not supported on the GPU: an explicit cuda request
// then computes on the CPU with a one-line notice, like a missing GPU or backend. Results agree with the CPU
// path up to rounding and, for the fit, the different (batched) L-BFGS: the same MAP optimum within the
// fit tolerance.
//
// Thread safety: const members (predict, sample, condition_on, state) may run concurrently; fit() may not.
#pragma once

#include <Eigen/Dense>

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "bbo/device.h"
#include "bbo/surrogate.h"

namespace bbo::gp {

using json = nlohmann::json;

struct GpOptions {
  bool deterministic = false;  // fixed tiny noise instead of a learned one
  bool warping = false;        // Kumaraswamy input warping of continuous coordinates
  int n_restarts = 4;          // L-BFGS starts of a cold fit (the first at the prior medians)
  int warm_restarts = 0;       // extra random starts when the fit has a usable warm start
  int max_fit_evals = 120;     // objective evaluations per start, at most
  // Work cap of a warm fit, in units of n³ (one evaluation costs ≈ n³ flops for the Cholesky factor and
  // inverse): max(8, min(max_fit_evals, warm_budget / n³)) evaluations. Deterministic (no clocks).
  double warm_budget = 1.2e10;
  // A cold fit with n > subset_size runs its starts on a seeded random subset of subset_size points, then
  // polishes the best on all n points (from it, and from it with a smaller noise; 3 warm budgets each).
  int subset_size = 300;
  double fixed_noise = 1e-6;   // σ² of a deterministic model (standardized units)
  double fit_tolerance = 1e-3; // L-BFGS stops when the log posterior improves by less than this
  bool nngp = false;           // kernel: the ReLU NNGP (see above) instead of Matérn-5/2
  int nngp_depth = 2;          // L, hidden layers of the NNGP (>= 1)
  Device device;               // cpu (default), cuda[:N] or auto (see above)
  // "auto" uses the GPU from this many points on. An ESTIMATE awaiting `bench/run gpu` on a device: one
  // evaluation costs ≈ n³ flops (Cholesky factor, inverse) plus n² d for the kernel matrix; at n = 1500 that is
  // ≈ 3·10⁹ flops, ≈ 0.1 s on 2 CPU cores against a few ms of GPU work plus ~50 launches (≈ 0.5 ms), so the
  // GPU should win by then even when a batch holds a single start.
  int gpu_min_n = 1500;
  // predict() of at least this many rows uses the GPU (fewer: launch latency exceeds the O(n·m) work).
  int gpu_min_predict_rows = 256;
};

// Hyper-parameters in natural units (standardized y).
struct Hyper {
  std::vector<double> lengthscale;  // size d
  double signal = 1.0;              // s²
  double noise = 1e-2;              // σ²
  std::vector<double> warp_a;       // size d (1 for unwarped coordinates), or empty without warping
  std::vector<double> warp_b;
  double bias = 1.0;                // σ_b² of the nngp kernel (unused by Matérn)
};

// Builds the kernel's input transformation and distances; exposed for tests.
double matern52(double r2);  // Matérn-5/2 correlation as a function of r²
// The nngp kernel s² K^L between the rows of A and B (inputs already warped), |A| × |B|.
Eigen::MatrixXd nngp_kernel(const std::vector<Dimension>& dims, const Hyper& h, int depth, const Eigen::MatrixXd& A,
                            const Eigen::MatrixXd& B);
// Its diagonal s² K^L(x, x) at the rows of A.
Eigen::VectorXd nngp_diagonal(const std::vector<Dimension>& dims, const Hyper& h, int depth, const Eigen::MatrixXd& A);

// The rows of X as an Eigen matrix.
Eigen::MatrixXd to_eigen(const Matrix& X);
// The standardization of every gp model (GpModel, IterativeGp): the mean and population standard deviation
// of y; sd = 1 for fewer than 2 values or a constant y.
void standardization(const std::vector<double>& y, double& mean, double& sd);
// (y − mean) / sd.
Eigen::VectorXd standardized(const std::vector<double>& y, double mean, double sd);

// NLopt L-BFGS maximizing f (f(θ, grad) returns the value and fills grad; a non-finite value is refused with a
// zero gradient, which sends the line search back) inside [lo, hi] from theta, with at most `evals`
// evaluations (enforced in the callback: L-BFGS asks again inside a line search past maxeval), stopping when
// the value improves by less than ftol. Returns the best value seen (−inf when none was finite) and sets theta
// to its point (unchanged when none); adds the evaluations made to *used when given. Shared by every gp fit.
double maximize_lbfgs(const std::function<double(const double*, double*)>& f, const std::vector<double>& lo,
                      const std::vector<double>& hi, std::vector<double>& theta, int evals, double ftol, int* used);

// The log posterior (up to a constant) of the hyper-parameters and its gradient, over the flat log-parameter
// vector θ (layout: log ℓ_0..d-1, log s², [log σ²], [log a_j, log b_j for each warped j]).
class MapObjective {
 public:
  MapObjective(const std::vector<Dimension>& dims, const Eigen::MatrixXd& X, const Eigen::VectorXd& z,
               const GpOptions& options);
  size_t size() const { return n_params_; }
  size_t rows() const { return static_cast<size_t>(X_.rows()); }
  // log p(z | θ) + log p(θ); grad (size()) filled when non-null. Returns -inf when no jitter makes K
  // positive definite.
  double value(const double* theta, double* grad);
  // log p(θ) alone (the sum of the priors above); grad (size()) overwritten with its gradient when non-null.
  double log_prior(const double* theta, double* grad) const;
  Hyper unpack(const double* theta) const;
  std::vector<double> pack(const Hyper& h) const;
  void bounds(std::vector<double>& lower, std::vector<double>& upper) const;
  // A draw from the priors (truncated to the bounds); the prior medians when rng is null.
  std::vector<double> prior_start(std::mt19937_64* rng) const;
  const std::vector<size_t>& warped() const { return warped_; }

 private:
  // log p(z | θ) of the nngp kernel with its gradient added into grad (layout as above).
  double nngp_log_likelihood(const Hyper& h, double* grad, size_t noise_index, size_t bias_index, size_t warp_index);
  const std::vector<Dimension>& dims_;
  const Eigen::MatrixXd& X_;
  const Eigen::VectorXd& z_;
  GpOptions options_;
  size_t d_, n_params_;
  std::vector<size_t> warped_;  // coordinates with warping parameters
  double ls_mu_, ls_sigma_;
  // Workspace reused across evaluations: warped inputs and their derivatives (n × d); K, then K⁻¹ (n × n,
  // lower); its Cholesky factor; dK/dr², then Q ∘ dK/dr²; a copy of the noise-free K.
  Eigen::MatrixXd Xt_, dXa_, dXb_, K_, L_, G_, Kf_;
  std::vector<Eigen::MatrixXd> layers_;  // nngp: K^0 .. K^L
};

class GpDeviceEngine;  // gp_device.h

// A warm start (a `state()` of GpModel or IterativeGp) as obj's θ, clamped to its bounds; empty when it does not
// fit the model (absent, another d or kernel, warping parameters of the wrong size, non-finite values): it is
// only a hint.
std::vector<double> warm_theta(const json& st, const MapObjective& obj, size_t d, bool warping, bool nngp);

class GpModel {
 public:
  explicit GpModel(GpOptions options = {}) : options_(options) {}

  // Validates (ValueError), standardizes y, finds the MAP hyper-parameters, factorizes.
  void fit(const FitInput& input);
  // Uses the given hyper-parameters and standardization (no optimization): the closed-form posterior.
  void fit_fixed(const std::vector<Dimension>& dims, const Matrix& X, const std::vector<double>& y,
                 const Hyper& hyper, double y_mean, double y_std);

  Prediction predict(const Matrix& X) const;
  PointPrediction predict_with_gradient(const double* x) const;
  // Posterior covariance of the latent f at the rows of X (m × m, y units).
  Eigen::MatrixXd posterior_covariance(const Matrix& X, Eigen::VectorXd* mean = nullptr) const;
  Matrix sample(const Matrix& X, size_t k, std::mt19937_64& rng) const;
  // A copy that also observed y at X (same hyper-parameters and standardization); block Cholesky update.
  std::shared_ptr<GpModel> condition_on(const Matrix& X, const std::vector<double>& y) const;
  double noise_variance() const;  // y units
  json state() const;

  const Hyper& hyper() const { return hyper_; }
  double y_mean() const { return y_mean_; }
  double y_std() const { return y_std_; }
  size_t dim() const { return d_; }
  size_t n() const { return static_cast<size_t>(X_.rows()); }
  double log_posterior() const { return log_posterior_; }  // at the fitted θ (NaN for fit_fixed / n < 2)
  int fit_evaluations() const { return fit_evals_; }        // objective evaluations of the last fit
  // Whether the last fit / fit_fixed computed on the GPU (and predict of many rows does).
  bool on_gpu() const;
  // Uses `engine` (any implementation of gp_device.h's interface) for the GPU path from the next fit on,
  // instead of opening the CUDA backend, whatever options.device says (where the configuration is supported).
  // For tests: a host implementation exercises the GPU path's host side on machines without a GPU.
  void set_device_engine(std::unique_ptr<GpDeviceEngine> engine);

 private:
  struct DeviceState;  // the CUDA engine (gp_device.h) and its lock; shared by copies, dropped by condition_on
  void factorize();  // L_, alpha_, Xt_ from X_, z_, hyper_ (on the GPU when device_ is active)
  // Resolves options_.device for n points and readies the engine with X_, z_ (device_->active), or not.
  void select_device();
  // Turns the GPU path off after a failure of the engine (one-line notice for an explicit cuda request).
  void device_failed(const std::string& why) const;
  // run_starts on the GPU: all starts as one lockstep batch (batch_lbfgs.h).
  std::vector<double> run_starts_device(MapObjective& obj, const std::vector<std::vector<double>>& starts, int evals,
                                        const std::vector<double>& fallback);
  // The cold multi-start search under options o (the `extra` starts first; the subset scheme at large n).
  std::vector<double> cold_search(const GpOptions& o, const std::vector<std::vector<double>>& extra,
                                  std::mt19937_64& rng, int warm_evals);
  // L-BFGS from each start (at most `evals` evaluations each); the best θ seen, or fallback.
  std::vector<double> run_starts(MapObjective& obj, const std::vector<std::vector<double>>& starts, int evals,
                                 const std::vector<double>& fallback);
  void warp(const Eigen::MatrixXd& X, Eigen::MatrixXd& Xt, Eigen::MatrixXd* dXt) const;
  void cross_r2(const Eigen::MatrixXd& A, const Eigen::MatrixXd& B, Eigen::MatrixXd& r2) const;
  // The kernel (Matérn or nngp) between warped inputs, and its diagonal (the prior variance).
  void kernel(const Eigen::MatrixXd& At, const Eigen::MatrixXd& Bt, Eigen::MatrixXd& K) const;
  Eigen::VectorXd prior_variance(const Eigen::MatrixXd& At) const;
  PointPrediction nngp_predict_with_gradient(const double* x) const;
  void check_query(const Matrix& X) const;

  GpOptions options_;
  std::vector<Dimension> dims_;
  size_t d_ = 0;
  bool fitted_ = false;
  Eigen::MatrixXd X_;   // n × d raw inputs
  Eigen::VectorXd z_;   // standardized y
  Eigen::MatrixXd Xt_;  // warped inputs
  Eigen::MatrixXd L_;   // lower Cholesky factor of K + (σ² + jitter) I
  Eigen::VectorXd alpha_;
  double jitter_ = 0.0;
  Hyper hyper_;
  double y_mean_ = 0.0, y_std_ = 1.0;
  double log_posterior_ = std::numeric_limits<double>::quiet_NaN();
  int fit_evals_ = 0;
  std::shared_ptr<DeviceState> device_;
};

}  // namespace bbo::gp

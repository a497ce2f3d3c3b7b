// gp_iterative.h — the `gp` model (Matérn-5/2 ARD + Hamming distance for categoricals, MAP hyper-parameters
// under MapObjective's priors) fitted and queried without any O(n³) step: BBMM (Gardner, Pleiss, Bindel,
// Weinberger & Wilson 2018, "GPyTorch: Blackbox Matrix-Matrix Gaussian Process Inference with GPU
// Acceleration") for the hyper-parameters and LOVE (Pleiss, Gardner, Weinberger & Wilson 2018) for the variance.
//
// Algorithm (standardized y → z, as GpModel; K = s² Matérn52(r), K̂ = K + σ² I):
//   * K̂ is formed once per hyper-parameter evaluation, in column blocks, and kept as a dense n × n matrix
//     (O(n²) memory: 0.2 GB at n = 5,000, 0.8 GB at 10,000, 3.2 GB at 20,000), so every product K̂ V is one
//     BLAS GEMM over all right-hand sides. Recomputing the kernel in every CG iteration would cost several
//     GEMMs' worth of exp() per iteration.
//   * Preconditioner P = L Lᵀ + σ² I with L the rank-k pivoted Cholesky factor of K (greedy largest residual
//     diagonal; k = preconditioner_rank). From a thin QR + SVD of L, L Lᵀ = U S² Uᵀ, so P^a v = σ^{2a} v +
//     U((σ² + S²)^a − σ^{2a}) Uᵀ v for a = −1, ±½, and log det P = Σ log(σ² + S²) + (n − k) log σ², in O(nk).
//   * mBCG: one preconditioned CG over the block [z, p_1..p_t] with probes p_i = P^{½} e_i ~ N(0, P)
//     (e_i standard normal, drawn once per fit from the seed: common random numbers, so the objective is a
//     deterministic function of θ). Each column stops at ‖r‖ ≤ tol ‖b‖. The CG coefficients (α_j, β_j) of
//     probe i give the Lanczos tridiagonal T_i of P^{-½} K̂ P^{-½} started at e_i, and
//       log det K̂ ≈ log det P + (1/t) Σ_i ‖e_i‖² e₁ᵀ log(T_i) e₁      (stochastic Lanczos quadrature)
//     The gradient is ∂ log p(z|θ)/∂θ = ½ αᵀ ∂K α − ½ tr(K̂⁻¹ ∂K), the trace estimated (unbiased) with the
//     same probes: BBMM's (1/t) Σ_i u_iᵀ ∂K P⁻¹ p_i, u_i = K̂⁻¹ p_i; or, when the preconditioner is good
//     (residual K − L Lᵀ with max diagonal ≤ σ²), tr(P⁻¹ ∂K) exactly plus (1/t) Σ_i (u_i − P⁻¹p_i)ᵀ ∂K P⁻¹ p_i
//     (Wenger et al. 2022), whose variance vanishes as P → K̂. All bilinear forms of all parameters come
//     from one blockwise pass over the kernel's derivative (GEMMs of width 2(t + 1 [+ k])).
//   * Fit: a multi-start L-BFGS search of the exact MapObjective on a seeded random subset of subset_size
//     points (as GpModel's cold fit; O(subset³), independent of n), the start for all n points chosen among
//     its optimum and that optimum with smaller noise by one stochastic evaluation each, then L-BFGS (NLopt)
//     on the stochastic log posterior of all n points. L-BFGS rather than Adam: with fixed probes the
//     objective is a smooth deterministic function of θ and L-BFGS needs ~20–30 evaluations where Adam needs
//     ~100 (each is tens of n² GEMMs); a line search upset by the small value/gradient mismatch of the
//     estimators ends the run at the best point seen. With n <= subset_size the exact search is the fit.
//   * Posterior: α = K̂⁻¹ z by PCG at solve_tolerance (mean k*ᵀ α). Latent variance by LOVE (Pleiss et al.
//     2018) on a block Krylov space: start block [z, U] (the mean's right-hand side as in LOVE, and the
//     preconditioner's basis U, close to K's leading eigenvectors where every k* mostly lies), multiplied by
//     K̂ until lanczos_rank directions (block Gram–Schmidt, twice: full reorthogonalization); Rayleigh–Ritz
//     on that span B gives K̂⁻¹ ≈ B (Bᵀ K̂ B)⁻¹ Bᵀ = R Rᵀ and var(x*) = k** − ‖Rᵀ k*‖², O(n · lanczos_rank)
//     per query. A Galerkin projection: the variance is never below the exact one (up to rounding).
//     (Tried and rejected: single-vector Lanczos from z as GPyTorch — 15× too large variances at n = 2,000,
//     σ² = 1e-3; P⁻¹ plus a Lanczos correction of P^{-½} K̂ P^{-½} — collapses to 0 when the residual of
//     the preconditioner exceeds σ².)
//
// Documented accuracy (measured; tests/surrogates/gp/gp_iterative_test.cc; defaults t = 16 probes, rank
// 100, cg_tolerance 1e-3, lanczos_rank 400; uniform inputs in [0,1]^d, smooth targets):
//   * PCG solves match a dense Cholesky solve to the requested tolerance (rel 1e-6 tested at tol 1e-10).
//   * SLQ log det K̂ at n = 1,000: rel error 9e-4 at σ² = 1e-2, 4e-3 at σ² = 1e-4 (tested ≤ 1%).
//   * Gradient at n = 800: ‖∇̂ − ∇‖/‖∇‖ = 1.6% at σ² = 1e-2 (split estimator), 13% at σ² = 1e-3 (BBMM's;
//     4% with 128 probes); log posterior value within 0.2% (tested 5%, 20%, 8%; 0.5%).
//   * Posterior at n = 1,000 (same θ as GpModel::fit_fixed): mean within 1e-7 of y's sd; variance within
//     2e-6 (σ² = 1e-2) / 6e-5 (σ² = 1e-4) of the prior variance, and 0.03% / 24% of itself (tested 1e-3 of
//     the prior; 1% / 50% of itself; never below the exact variance).
//   * Fit at n = 600: exact log posterior of the fitted θ within 0.05 nats of GpModel::fit's (tested 0.6).
//   * BENCHMARK (DISABLED_Benchmark; 2 shared cores, OpenBLAS; d = 4 uniform inputs, y = Σ sin + N(0, 0.1²);
//     the fitted σ² ≈ 1.1e-3, ℓ ≈ 3; accuracy against GpModel::fit_fixed at IterativeGp's θ, 2,048 queries):
//       n       IterativeGp fit / predict   GpModel fit / predict   one eval (grad): mBCG / Cholesky
//       2,000   3.5 s (31 evals) / 0.06 s   6.0–11 s / 0.13 s        0.09 s / 0.22 s
//       5,000   17.6 s (18 evals) / 0.23 s  84–108 s / 0.80 s        0.93 s / 2.6 s
//       10,000  27 s with max_fit_evals 3   (not run: ~10 min)       3.8 s / 13.8 s
//     exact log posterior of the fitted θ: 3601.19 against GpModel's 3601.29 (2,000), 9277.69 against
//     9281.40 (5,000: 0.7 nats per 1,000 points below);
//     mean RMSE vs exact 2e-8 (y sd 2.9) at every n; variance |Δ| ≤ 8e-7 (n ≤ 5,000) and 7e-6 (10,000) of
//     the prior variance; relative to the exact variance, mean / max 1.4% / 2.5% (2,000), 5.0% / 7.8%
//     (5,000), 26% / 39% (10,000) — too large, by construction never too small.
//     A harder fixed θ (ℓ = 0.5, σ² = 1e-3, n = 10,000): the rank-100 preconditioner is weak, the mean solve
//     needs 607 CG iterations (posterior 68 s against 7.7 s for the Cholesky) and the variance is off by up
//     to 3.4% of the prior (8× the exact variance on average).
// Not supported (use GpModel): input warping and the nngp kernel; joint posterior samples (the `gp` plugin's
// solver=iterative draws independent marginals, the Surrogate default).
//
// Warm start: FitInput::warm_start in GpModel::state()'s format ({"model": "gp", "d", "lengthscale", "signal",
// "noise"}, as written by state() below and by GpModel; warping parameters are ignored, an nngp state is not
// used) replaces the subset's multi-start search: L-BFGS starts at those hyper-parameters (the exact objective
// when n <= subset_size, else the stochastic one on all points).
//
// Thread safety: const members (predict, predict_with_gradient, condition_on, state) may run concurrently;
// fit() may not.
#pragma once

#include <Eigen/Dense>

#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "bbo/surrogate.h"
#include "surrogates/gp/gp_core.h"

namespace bbo::gp {

struct IterativeGpOptions {
  int probes = 16;               // t, Hutchinson / SLQ probe vectors (>= 1)
  int preconditioner_rank = 100; // k of the pivoted Cholesky preconditioner (>= 0; 0: P = σ² I)
  double cg_tolerance = 1e-3;    // relative residual of the CG solves inside the fit
  double solve_tolerance = 1e-8; // relative residual of the posterior-mean solve α = K̂⁻¹ z
  int max_cg_iterations = 1000;  // per solve (a column that has not converged by then is used as is)
  int lanczos_rank = 400;        // m, dimension of the (block) Krylov space of the LOVE variance cache (>= 1)
  uint64_t seed = 0;             // combined with FitInput::seed for the probes and the subset
  bool deterministic = false;    // σ² fixed at GpOptions::fixed_noise (1e-6) instead of learned
  int subset_size = 300;         // exact multi-start search on this many points
  int n_restarts = 4;            // starts of that search
  int max_fit_evals = 30;        // stochastic objective evaluations of the final L-BFGS on all points
  double fit_tolerance = 1e-2;   // that L-BFGS stops when the log posterior improves by less
};

// Result of one mBCG run (exposed for tests).
struct MbcgResult {
  Eigen::MatrixXd X;                       // K̂⁻¹ B, column by column
  std::vector<std::vector<double>> alpha;  // CG step sizes of each column
  std::vector<std::vector<double>> beta;   // CG β of each column (one fewer than alpha, or equal when stopped)
  std::vector<double> gamma0;              // b_jᵀ P⁻¹ b_j of each column
  std::vector<int> iterations;             // CG iterations of each column
  bool positive_definite = true;           // false when some pᵀ K̂ p <= 0 (K̂ numerically indefinite)
};

// The preconditioner P = L Lᵀ + σ² I (exposed for tests).
class PivotedCholeskyPreconditioner {
 public:
  // L = rank-k pivoted Cholesky factor of K = Khat − σ² I (Khat symmetric, only its diagonal and pivot
  // columns are read), stopping early when the largest residual diagonal drops below 1e-12 of the largest
  // diagonal.
  PivotedCholeskyPreconditioner(const Eigen::MatrixXd& Khat, int rank, double noise);
  Eigen::MatrixXd solve(const Eigen::MatrixXd& V) const;     // P⁻¹ V
  Eigen::MatrixXd sqrt(const Eigen::MatrixXd& V) const;      // P^{½} V
  Eigen::MatrixXd inv_sqrt(const Eigen::MatrixXd& V) const;  // P^{-½} V
  double log_det() const { return log_det_; }
  int rank() const { return static_cast<int>(s2_.size()); }
  // L Lᵀ = U diag(S²) Uᵀ, U orthonormal (n × rank).
  const Eigen::MatrixXd& basis() const { return U_; }
  const Eigen::VectorXd& squared_singular_values() const { return s2_; }
  // The residual K − L Lᵀ (PSD): its trace and largest diagonal entry.
  double residual_trace() const { return residual_trace_; }
  double residual_max() const { return residual_max_; }

 private:
  Eigen::MatrixXd power(const Eigen::MatrixXd& V, double a) const;
  Eigen::MatrixXd U_;   // n × k orthonormal
  Eigen::VectorXd s2_;  // squared singular values of L
  double noise_;
  double log_det_;
  double residual_trace_ = 0.0, residual_max_ = 0.0;
};

// Preconditioned block CG on K̂ X = B (K̂ symmetric positive definite, dense). Columns with a zero right-hand
// side return 0.
MbcgResult mbcg(const Eigen::MatrixXd& Khat, const Eigen::MatrixXd& B, const PivotedCholeskyPreconditioner& P,
                double tolerance, int max_iterations);

// The stochastic log posterior log p(z | θ) + log p(θ) (MapObjective's priors and θ layout, without warping)
// and its gradient, with fixed probes. Exposed for tests.
class IterativeObjective {
 public:
  IterativeObjective(const std::vector<Dimension>& dims, const Eigen::MatrixXd& X, const Eigen::VectorXd& z,
                     const IterativeGpOptions& options, uint64_t seed);
  size_t size() const { return prior_.size(); }
  double value(const double* theta, double* grad);
  // The parts of the last value(): the SLQ estimate of log det K̂ and the CG iterations of its mBCG.
  double last_log_det() const { return last_log_det_; }
  int last_cg_iterations() const { return last_iterations_; }
  MapObjective& prior() { return prior_; }

 private:
  const std::vector<Dimension>& dims_;
  const Eigen::MatrixXd& X_;
  const Eigen::VectorXd& z_;
  IterativeGpOptions options_;
  Eigen::MatrixXd empty_X_;
  Eigen::VectorXd empty_z_;
  MapObjective prior_;  // over zero points: exactly the log prior, its gradient, bounds, pack/unpack
  Eigen::MatrixXd E_;   // n × t fixed standard normal probes
  Eigen::MatrixXd K_;   // workspace: K̂
  double last_log_det_ = 0.0;
  int last_iterations_ = 0;
};

class IterativeGp {
 public:
  explicit IterativeGp(IterativeGpOptions options = {});

  // Validates (ValueError, as GpModel), standardizes y as GpModel, finds the MAP hyper-parameters with the
  // stochastic objective, then the posterior caches (α and LOVE).
  void fit(const FitInput& input);
  // The posterior at the given hyper-parameters and standardization (no optimization).
  void fit_fixed(const std::vector<Dimension>& dims, const Matrix& X, const std::vector<double>& y,
                 const Hyper& hyper, double y_mean, double y_std);
  // Mean and latent variance in y units; the prior (mean y_mean, variance s² y_std²) before a fit.
  Prediction predict(const Matrix& X) const;
  // predict() at one point x (d values) with the gradients w.r.t. x, in closed form from the caches:
  // mean = y_mean + y_std k*ᵀα, var = y_std² (s² − ‖Rᵀk*‖²), so dmean = y_std (∂k*)ᵀα and
  // dvar = −2 y_std² (R Rᵀ k*)ᵀ ∂k* (0 where the variance is clamped at 0); O(n (lanczos_rank + d)).
  // Categorical coordinates get gradient 0 (as GpModel).
  PointPrediction predict_with_gradient(const double* x) const;
  // A copy that also observed y at the rows of X (fantasies), keeping the hyper-parameters and the
  // standardization: fit_fixed on the n + m points (PCG + LOVE, no hyper-parameter search). ValueError as
  // validate_condition_input.
  std::shared_ptr<IterativeGp> condition_on(const Matrix& X, const std::vector<double>& y) const;
  // The hyper-parameters in GpModel::state()'s format plus "solver": "iterative"; null before a fit.
  nlohmann::json state() const;
  double noise_variance() const { return hyper_.noise * y_std_ * y_std_; }  // y units
  const Hyper& hyper() const { return hyper_; }
  double y_mean() const { return y_mean_; }
  double y_std() const { return y_std_; }
  int fit_evaluations() const { return fit_evals_; }  // stochastic objective evaluations of the last fit
  int mean_cg_iterations() const { return mean_iterations_; }

 private:
  void posterior();  // alpha_, LOVE cache from X_, z_, hyper_
  void check_query(const Matrix& X) const;

  IterativeGpOptions options_;
  std::vector<Dimension> dims_;
  size_t d_ = 0;
  bool fitted_ = false;
  Eigen::MatrixXd X_;
  Eigen::VectorXd z_;
  Hyper hyper_;
  double y_mean_ = 0.0, y_std_ = 1.0;
  Eigen::VectorXd alpha_;
  Eigen::MatrixXd R_;  // LOVE cache: K̂⁻¹ ≈ R Rᵀ (n × r)
  int fit_evals_ = 0;
  int mean_iterations_ = 0;
};

}  // namespace bbo::gp

#include "surrogates/gp/gp_iterative.h"


#include <algorithm>
#include <cmath>
#include <numbers>
#include <random>
#include <string>

#include "bbo/error.h"
#include "surrogates/gp/gp_kernel_math.h"

namespace bbo::gp {
namespace {

using Eigen::ArrayXd;
using Eigen::Index;
using Eigen::MatrixXd;
using Eigen::VectorXd;

constexpr double kFixedNoise = 1e-6;  // GpOptions::fixed_noise
constexpr Index kBlock = 256;         // columns per block of the blockwise kernel passes

GpOptions map_options(const IterativeGpOptions& o) {
  GpOptions g;
  g.deterministic = o.deterministic;
  g.fixed_noise = kFixedNoise;
  return g;
}

bool categorical(const std::vector<Dimension>& dims, size_t j) { return dims[j].kind == DimensionKind::kCategorical; }

// r2 = Σ_j (A_ij − b_j)² / ℓ_j² (Hamming term for categoricals; gp_kernel_math.h's contributions) for the rows
// i >= from of A against the point b (coordinate j at b[j · stride]); r2 is resized to A.rows() − from.
void r2_against(const std::vector<Dimension>& dims, const std::vector<double>& inv_l2, const MatrixXd& A, Index from,
                const double* b, Index stride, ArrayXd& r2) {
  const Index len = A.rows() - from;
  r2.setZero(len);
  for (size_t j = 0; j < dims.size(); ++j) {
    const auto a = A.col(static_cast<Index>(j)).tail(len).array();
    const double bj = b[static_cast<Index>(j) * stride], w = inv_l2[j];
    if (categorical(dims, j))
      r2 += a.unaryExpr([bj, w](double v) { return r2_categorical(v, bj, w); });
    else
      r2 += r2_continuous(a - bj, w);
  }
}

std::vector<double> inverse_sq_lengthscales(const Hyper& h) {
  std::vector<double> w(h.lengthscale.size());
  for (size_t j = 0; j < w.size(); ++j) w[j] = 1.0 / (h.lengthscale[j] * h.lengthscale[j]);
  return w;
}

// K̂ = s² Matérn52 + σ² I between the rows of X (full symmetric n × n): lower triangle column by column, then
// mirrored.
void form_khat(const std::vector<Dimension>& dims, const Hyper& h, const MatrixXd& X, MatrixXd& K) {
  const Index n = X.rows();
  K.resize(n, n);
  const std::vector<double> w = inverse_sq_lengthscales(h);
  ArrayXd r2;
  for (Index k = 0; k < n; ++k) {
    r2_against(dims, w, X, k, X.data() + k, X.rows(), r2);
    K.col(k).tail(n - k) = matern52_k(r2, h.signal).matrix();
  }
  K.triangularView<Eigen::StrictlyUpper>() = K.transpose();
  K.diagonal().array() += h.noise;
}

// s² Matérn52 between the rows of X (n × d) and of Q (m × d): n × m.
MatrixXd cross_kernel(const std::vector<Dimension>& dims, const Hyper& h, const MatrixXd& X, const MatrixXd& Q) {
  const Index n = X.rows(), m = Q.rows();
  MatrixXd K(n, m);
  const std::vector<double> w = inverse_sq_lengthscales(h);
  ArrayXd r2;
  for (Index k = 0; k < m; ++k) {
    r2_against(dims, w, X, 0, Q.data() + k, Q.rows(), r2);
    K.col(k) = matern52_k(r2, h.signal).matrix();
  }
  return K;
}

// e₁ᵀ log(T) e₁ of the symmetric tridiagonal T (Gauss quadrature of log against the Lanczos start vector).
double quadrature_log(const std::vector<double>& alpha, const std::vector<double>& beta) {
  const Index m = static_cast<Index>(alpha.size());
  if (m == 0) return 0.0;
  VectorXd diag(m), sub(std::max<Index>(m - 1, 0));
  // Lanczos coefficients from CG's (Saad, §6.7.3): T_00 = 1/α_0, T_jj = 1/α_j + β_{j−1}/α_{j−1},
  // T_{j,j−1} = √β_{j−1} / α_{j−1}.
  for (Index j = 0; j < m; ++j) {
    diag[j] = 1.0 / alpha[static_cast<size_t>(j)];
    if (j > 0) {
      const double b = beta[static_cast<size_t>(j) - 1], a = alpha[static_cast<size_t>(j) - 1];
      diag[j] += b / a;
      sub[j - 1] = std::sqrt(b) / a;
    }
  }
  Eigen::SelfAdjointEigenSolver<MatrixXd> es;
  es.computeFromTridiagonal(diag, sub, Eigen::ComputeEigenvectors);
  double q = 0.0;
  for (Index k = 0; k < m; ++k) {
    const double v = es.eigenvectors()(0, k);
    q += v * v * std::log(std::max(es.eigenvalues()[k], 1e-300));
  }
  return q;
}

Matrix to_matrix(const MatrixXd& X) {
  Matrix out(static_cast<size_t>(X.rows()), static_cast<size_t>(X.cols()));
  for (size_t i = 0; i < out.rows; ++i)
    for (size_t j = 0; j < out.cols; ++j) out(i, j) = X(static_cast<Index>(i), static_cast<Index>(j));
  return out;
}

}  // namespace

// ---- Preconditioner ----------------------------------------------------------------------------------------

PivotedCholeskyPreconditioner::PivotedCholeskyPreconditioner(const MatrixXd& Khat, int rank, double noise)
    : noise_(noise) {
  const Index n = Khat.rows();
  const Index k = std::min<Index>(std::max(rank, 0), n);
  MatrixXd L(n, k);
  VectorXd d = Khat.diagonal().array() - noise;
  const double d0 = n > 0 ? d.maxCoeff() : 0.0;
  Index used = 0;
  for (; used < k; ++used) {
    Index piv = 0;
    const double dmax = d.maxCoeff(&piv);
    if (!(dmax > 1e-12 * d0)) break;
    VectorXd col = Khat.col(piv);
    col[piv] -= noise;
    if (used > 0) col.noalias() -= L.leftCols(used) * L.row(piv).head(used).transpose();
    col /= std::sqrt(dmax);
    L.col(used) = col;
    d.array() -= col.array().square();
    d = d.cwiseMax(0.0);
    d[piv] = 0.0;
  }
  L.conservativeResize(n, used);
  residual_trace_ = d.sum();
  residual_max_ = n > 0 ? d.maxCoeff() : 0.0;
  if (used > 0) {
    // L = Q R, R = U_r S Vᵀ: L Lᵀ = (Q U_r) S² (Q U_r)ᵀ with Q U_r orthonormal (stable even when L's columns
    // are nearly dependent, unlike U = L V S⁻¹).
    Eigen::HouseholderQR<MatrixXd> qr(L);
    MatrixXd Q = qr.householderQ() * MatrixXd::Identity(n, used);
    MatrixXd R = qr.matrixQR().topRows(used).triangularView<Eigen::Upper>();
    Eigen::JacobiSVD<MatrixXd> svd(R, Eigen::ComputeFullU);
    U_ = Q * svd.matrixU();
    s2_ = svd.singularValues().array().square();
  } else {
    U_.resize(n, 0);
    s2_.resize(0);
  }
  log_det_ = (s2_.array() + noise).log().sum() + static_cast<double>(n - used) * std::log(noise);
}

MatrixXd PivotedCholeskyPreconditioner::power(const MatrixXd& V, double a) const {
  const double base = std::pow(noise_, a);
  MatrixXd out = base * V;
  if (s2_.size() == 0) return out;
  const VectorXd w = (s2_.array() + noise_).pow(a) - base;
  MatrixXd C = U_.transpose() * V;
  out.noalias() += U_ * (w.asDiagonal() * C);
  return out;
}

MatrixXd PivotedCholeskyPreconditioner::solve(const MatrixXd& V) const { return power(V, -1.0); }
MatrixXd PivotedCholeskyPreconditioner::sqrt(const MatrixXd& V) const { return power(V, 0.5); }
MatrixXd PivotedCholeskyPreconditioner::inv_sqrt(const MatrixXd& V) const { return power(V, -0.5); }

// ---- mBCG --------------------------------------------------------------------------------------------------

MbcgResult mbcg(const MatrixXd& Khat, const MatrixXd& B, const PivotedCholeskyPreconditioner& P, double tolerance,
                int max_iterations) {
  const Index n = B.rows(), c = B.cols();
  MbcgResult res;
  res.X = MatrixXd::Zero(n, c);
  res.alpha.assign(static_cast<size_t>(c), {});
  res.beta.assign(static_cast<size_t>(c), {});
  res.iterations.assign(static_cast<size_t>(c), 0);
  MatrixXd R = B;
  MatrixXd Z = P.solve(R);
  MatrixXd D = Z;  // search directions
  VectorXd gamma(c), bnorm = B.colwise().norm().transpose();
  std::vector<Index> active;
  for (Index j = 0; j < c; ++j) {
    gamma[j] = R.col(j).dot(Z.col(j));
    if (bnorm[j] > 0 && gamma[j] > 0) active.push_back(j);
  }
  res.gamma0.assign(gamma.data(), gamma.data() + c);
  MatrixXd Da, Qa, Ra;
  for (int it = 0; it < max_iterations && !active.empty(); ++it) {
    const Index na = static_cast<Index>(active.size());
    Da.resize(n, na);
    for (Index a = 0; a < na; ++a) Da.col(a) = D.col(active[static_cast<size_t>(a)]);
    Qa.noalias() = Khat * Da;  // the one GEMM of the iteration
    std::vector<Index> still;
    for (Index a = 0; a < na; ++a) {
      const Index j = active[static_cast<size_t>(a)];
      const double pq = Da.col(a).dot(Qa.col(a));
      if (!(pq > 0)) {
        res.positive_definite = false;
        continue;
      }
      const double step = gamma[j] / pq;
      res.X.col(j).noalias() += step * Da.col(a);
      R.col(j).noalias() -= step * Qa.col(a);
      res.alpha[static_cast<size_t>(j)].push_back(step);
      ++res.iterations[static_cast<size_t>(j)];
      if (R.col(j).norm() > tolerance * bnorm[j]) still.push_back(j);
    }
    active = std::move(still);
    if (active.empty()) break;
    const Index ns = static_cast<Index>(active.size());
    Ra.resize(n, ns);
    for (Index a = 0; a < ns; ++a) Ra.col(a) = R.col(active[static_cast<size_t>(a)]);
    const MatrixXd Za = P.solve(Ra);
    for (Index a = 0; a < ns; ++a) {
      const Index j = active[static_cast<size_t>(a)];
      const double g = Ra.col(a).dot(Za.col(a));
      const double beta = g / gamma[j];
      gamma[j] = g;
      res.beta[static_cast<size_t>(j)].push_back(beta);
      D.col(j) = Za.col(a) + beta * D.col(j);
    }
  }
  return res;
}

// ---- IterativeObjective ------------------------------------------------------------------------------------

IterativeObjective::IterativeObjective(const std::vector<Dimension>& dims, const MatrixXd& X, const VectorXd& z,
                                       const IterativeGpOptions& options, uint64_t seed)
    : dims_(dims),
      X_(X),
      z_(z),
      options_(options),
      empty_X_(0, X.cols()),
      empty_z_(0),
      prior_(dims, empty_X_, empty_z_, map_options(options)) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  E_.resize(X.rows(), std::max(options.probes, 1));
  for (Index k = 0; k < E_.cols(); ++k)
    for (Index i = 0; i < E_.rows(); ++i) E_(i, k) = normal(rng);
}

double IterativeObjective::value(const double* theta, double* grad) {
  // The log prior (and its gradient) of MapObjective over zero points.
  double lp = prior_.value(theta, grad);
  const Hyper h = prior_.unpack(theta);
  const Index n = X_.rows(), t = E_.cols();
  const size_t d = dims_.size();
  if (n == 0) return lp;
  form_khat(dims_, h, X_, K_);
  const PivotedCholeskyPreconditioner P(K_, options_.preconditioner_rank, h.noise);
  // Right-hand sides [z, P^{½} E]: probes ~ N(0, P), whose preconditioned Lanczos start vectors are E.
  MatrixXd B(n, t + 1);
  B.col(0) = z_;
  B.rightCols(t) = P.sqrt(E_);
  const MbcgResult cg = mbcg(K_, B, P, options_.cg_tolerance, options_.max_cg_iterations);
  last_iterations_ = *std::max_element(cg.iterations.begin(), cg.iterations.end());
  if (!cg.positive_definite) return -std::numeric_limits<double>::infinity();
  double quad = 0.0;
  for (Index i = 1; i <= t; ++i)
    quad += cg.gamma0[static_cast<size_t>(i)] *
            quadrature_log(cg.alpha[static_cast<size_t>(i)], cg.beta[static_cast<size_t>(i)]);
  const double log_det = P.log_det() + quad / static_cast<double>(t);
  last_log_det_ = log_det;
  const VectorXd alpha = cg.X.col(0);
  const double ll = -0.5 * z_.dot(alpha) - 0.5 * log_det - 0.5 * static_cast<double>(n) * std::log(2 * std::numbers::pi);
  if (!grad) return ll + lp;

  // ∂ll/∂θ = ½ αᵀ ∂K α − ½ tr(K̂⁻¹ ∂K), the trace by one of two unbiased estimators with the same probes:
  //  * BBMM's (1/t) Σ_i u_iᵀ ∂K w_i, u_i = K̂⁻¹ p_i, w_i = P⁻¹ p_i = P^{-½} e_i. Its variance is of order
  //    ‖K̂^{-½} ∂K K̂^{-½}‖²_F / t whatever the preconditioner (measured: ~7% gradient error, 16 probes, n = 800).
  //  * When the preconditioner is good (the pivoted Cholesky residual E = K − L Lᵀ has max diagonal ≤ σ²),
  //    the split tr(P⁻¹ ∂K) + tr((K̂⁻¹ − P⁻¹) ∂K) (Wenger et al. 2022, "Preconditioning for scalable GP
  //    hyperparameter optimization"): the first part exact from P⁻¹ = σ⁻² I + U diag(c) Uᵀ,
  //    c = (σ² + S²)⁻¹ − σ⁻², the second estimated as (1/t) Σ_i (u_i − w_i)ᵀ ∂K w_i, whose variance scales
  //    with ‖E‖/σ² (~1–3% at max E ≤ σ²; with larger residuals it is worse than BBMM's, hence the switch).
  // Either way ∂ll/∂θ = Σ_ik S_ik ∂K_ik [− ½ σ⁻² tr(∂K)] with S = A Bmᵀ, A = [α, u (− w), [U]],
  // Bm = ½ [α, −w/t, [−U c]]. ∂K is symmetric, so only the lower triangle of S + Sᵀ = [A Bm] [Bm A]ᵀ is
  // formed (blockwise GEMMs), weighted ½ on the diagonal.
  const MatrixXd W = P.inv_sqrt(E_);
  const bool split = P.rank() > 0 && P.residual_max() <= h.noise;
  const Index kr = split ? P.rank() : 0;
  MatrixXd A(n, t + 1 + kr), Bm(n, t + 1 + kr);
  A.col(0) = alpha;
  A.middleCols(1, t) = cg.X.rightCols(t);
  Bm.col(0) = 0.5 * alpha;
  Bm.middleCols(1, t) = (-0.5 / static_cast<double>(t)) * W;
  if (split) {
    const VectorXd c = (P.squared_singular_values().array() + h.noise).inverse() - 1.0 / h.noise;
    A.middleCols(1, t) -= W;
    A.rightCols(kr) = P.basis();
    Bm.rightCols(kr) = P.basis() * (-0.5 * c).asDiagonal();
  }
  MatrixXd C(n, 2 * A.cols()), Dm(n, 2 * A.cols());
  C << A, Bm;
  Dm << Bm, A;
  const double trace_s = (A.array() * Bm.array()).sum();
  const std::vector<double> w = inverse_sq_lengthscales(h);
  std::vector<double> ls_sum(d, 0.0);
  double signal_sum = 0.0;
  MatrixXd Sblk;
  ArrayXd r2, kf(n), g(n);
  for (Index c0 = 0; c0 < n; c0 += kBlock) {
    const Index bs = std::min(kBlock, n - c0);
    Sblk.noalias() = C.bottomRows(n - c0) * Dm.middleRows(c0, bs).transpose();  // rows c0.., columns c0..c0+bs
    for (Index k = c0; k < c0 + bs; ++k) {
      const Index len = n - k;
      auto s = Sblk.col(k - c0).tail(len).array();
      s[0] *= 0.5;
      r2_against(dims_, w, X_, k, X_.data() + k, X_.rows(), r2);
      auto kb = kf.head(len);
      auto gb = g.head(len);
      matern52_k_dk(r2, h.signal, kb, gb);  // K_f and dK/dr²
      signal_sum += (s * kb).sum();         // ∂K/∂log s² = K_f
      gb *= s;                              // S ∘ dK/dr²
      for (size_t j = 0; j < d; ++j) {
        const auto x = X_.col(static_cast<Index>(j)).tail(len).array();
        const double c = X_(k, static_cast<Index>(j));
        if (categorical(dims_, j))
          ls_sum[j] += (gb * x.unaryExpr([c](double v) { return r2_categorical(v, c, 1.0); })).sum();
        else
          ls_sum[j] += (gb * r2_continuous(x - c, 1.0)).sum();
      }
    }
  }
  for (size_t j = 0; j < d; ++j) grad[j] += -2.0 * w[j] * ls_sum[j];  // ∂r²/∂log ℓ_j = −2 D_j / ℓ_j²
  // The split's σ⁻² tr(∂K) terms: tr(∂K/∂log s²) = n s², tr(∂K̂/∂log σ²) = n σ², tr(∂K/∂log ℓ) = 0.
  const double nd = static_cast<double>(n);
  grad[d] += signal_sum - (split ? 0.5 * nd * h.signal / h.noise : 0.0);
  if (!options_.deterministic) grad[d + 1] += h.noise * trace_s - (split ? 0.5 * nd : 0.0);
  return ll + lp;
}

// ---- IterativeGp -------------------------------------------------------------------------------------------

IterativeGp::IterativeGp(IterativeGpOptions options) : options_(options) {
  if (options_.probes < 1) throw ConfigError("gp_iterative: probes must be >= 1");
  if (options_.preconditioner_rank < 0) throw ConfigError("gp_iterative: preconditioner_rank must be >= 0");
  if (!(options_.cg_tolerance > 0) || !(options_.solve_tolerance > 0))
    throw ConfigError("gp_iterative: cg_tolerance and solve_tolerance must be > 0");
  if (options_.max_cg_iterations < 1) throw ConfigError("gp_iterative: max_cg_iterations must be >= 1");
  if (options_.lanczos_rank < 1) throw ConfigError("gp_iterative: lanczos_rank must be >= 1");
  if (options_.subset_size < 2) throw ConfigError("gp_iterative: subset_size must be >= 2");
  if (options_.n_restarts < 1) throw ConfigError("gp_iterative: n_restarts must be >= 1");
  if (options_.max_fit_evals < 0) throw ConfigError("gp_iterative: max_fit_evals must be >= 0");
}

void IterativeGp::fit(const FitInput& in) {
  validate_fit_input(in, "gp_iterative");
  const size_t n = in.X.rows, d = in.X.cols;
  dims_ = in.dims.empty() ? std::vector<Dimension>(d) : in.dims;
  d_ = d;
  X_ = to_eigen(in.X);
  standardization(in.y, y_mean_, y_std_);  // as GpModel::fit
  z_ = standardized(in.y, y_mean_, y_std_);

  fit_evals_ = 0;
  const GpOptions mo = map_options(options_);
  MapObjective full(dims_, X_, z_, mo);  // only for the layout, bounds and priors (never evaluated)
  std::vector<double> theta = full.prior_start(nullptr);
  std::vector<double> lo, hi;
  full.bounds(lo, hi);
  const std::vector<double> warm = warm_theta(in.warm_start, full, d, false, false);
  if (n >= 2) {
    const uint64_t seed = options_.seed ^ (in.seed * 0x9e3779b97f4a7c15ULL) ^ 0x5851f42d4c957f2dULL;
    std::mt19937_64 rng(seed);
    // Exact multi-start search on a random subset (all points when n <= subset_size).
    const size_t m = std::min(n, static_cast<size_t>(options_.subset_size));
    std::vector<size_t> idx(n);
    for (size_t i = 0; i < n; ++i) idx[i] = i;
    if (m < n) {
      for (size_t i = 0; i < m; ++i) std::swap(idx[i], idx[i + rng() % (n - i)]);
      idx.resize(m);
      std::sort(idx.begin(), idx.end());
    }
    MatrixXd Xs(static_cast<Index>(m), static_cast<Index>(d));
    VectorXd zs(static_cast<Index>(m));
    for (size_t i = 0; i < m; ++i) {
      Xs.row(static_cast<Index>(i)) = X_.row(static_cast<Index>(idx[i]));
      zs[static_cast<Index>(i)] = z_[static_cast<Index>(idx[i])];
    }
    MapObjective sub(dims_, Xs, zs, mo);
    const std::function<double(const double*, double*)> on_subset = [&sub](const double* t, double* g) {
      return sub.value(t, g);
    };
    if (!warm.empty()) {
      // A warm start replaces the subset search; with n <= subset_size it starts the exact search instead.
      theta = warm;
      if (m == n) maximize_lbfgs(on_subset, lo, hi, theta, 120, 1e-3, nullptr);
    } else {
      std::vector<std::vector<double>> starts = {sub.prior_start(nullptr)};
      for (int k = 1; k < options_.n_restarts; ++k) starts.push_back(sub.prior_start(&rng));
      double best = -std::numeric_limits<double>::infinity();
      for (auto s : starts) {
        const double v = maximize_lbfgs(on_subset, lo, hi, s, 120, 1e-3, nullptr);
        if (v > best) {
          best = v;
          theta = s;
        }
      }
    }
    if (m < n && options_.max_fit_evals > 0 && !warm.empty()) {
      // The probes of a cold fit (its subset starts' draws skipped), so that refitting the same data from a
      // fit's own state() continues on the same stochastic objective.
      for (int k = 1; k < options_.n_restarts; ++k) sub.prior_start(&rng);
      IterativeObjective obj(dims_, X_, z_, options_, rng());
      maximize_lbfgs([&obj](const double* t, double* g) { return obj.value(t, g); }, lo, hi, theta,
                     options_.max_fit_evals, options_.fit_tolerance, &fit_evals_);
    } else if (m < n && options_.max_fit_evals > 0) {
      // All points: the subset's optimum leans to more noise than n points support (as in GpModel's cold
      // fit), so the candidates are it and it with the noise at the prior's mode; one stochastic evaluation
      // each picks the start of the L-BFGS run. (GpModel also tries the noise's lower bound, 1e-6: there CG
      // needs max_cg_iterations, ~100 s at n = 10,000, for a start L-BFGS rarely keeps.)
      IterativeObjective obj(dims_, X_, z_, options_, rng());
      std::vector<std::vector<double>> cands = {theta};
      const size_t ni = d + 1;
      if (!options_.deterministic && std::log(1e-2) < theta[ni]) {
        cands.push_back(theta);
        cands.back()[ni] = std::log(1e-2);
      }
      double cbest = -std::numeric_limits<double>::infinity();
      std::vector<double> start = theta;
      for (const auto& c : cands) {
        const double v = obj.value(c.data(), nullptr);
        ++fit_evals_;
        if (v > cbest) {
          cbest = v;
          start = c;
        }
      }
      if (std::isfinite(cbest)) {
        maximize_lbfgs([&obj](const double* t, double* g) { return obj.value(t, g); }, lo, hi, start,
                       options_.max_fit_evals, options_.fit_tolerance, &fit_evals_);
        theta = start;
      }
    }
  } else if (!warm.empty()) {
    theta = warm;
  }
  hyper_ = full.unpack(theta.data());
  posterior();
  fitted_ = true;
}

void IterativeGp::fit_fixed(const std::vector<Dimension>& dims, const Matrix& X, const std::vector<double>& y,
                            const Hyper& hyper, double y_mean, double y_std) {
  FitInput in;
  in.dims = dims;
  in.X = X;
  in.y = y;
  validate_fit_input(in, "gp_iterative");
  d_ = X.cols;
  dims_ = dims.empty() ? std::vector<Dimension>(d_) : dims;
  if (hyper.lengthscale.size() != d_)
    throw ValueError("gp_iterative: hyper-parameters have " + std::to_string(hyper.lengthscale.size()) +
                     " lengthscales, expected " + std::to_string(d_));
  if (!(hyper.signal > 0) || !(hyper.noise > 0) || !(y_std > 0))
    throw ValueError("gp_iterative: signal, noise and y_std must be > 0");
  X_ = to_eigen(X);
  y_mean_ = y_mean;
  y_std_ = y_std;
  z_ = standardized(y, y_mean_, y_std_);
  hyper_ = hyper;
  fit_evals_ = 0;
  posterior();
  fitted_ = true;
}

void IterativeGp::posterior() {
  const Index n = X_.rows();
  R_.resize(n, 0);
  alpha_ = VectorXd::Zero(n);
  mean_iterations_ = 0;
  if (n == 0) return;
  MatrixXd K;
  form_khat(dims_, hyper_, X_, K);
  const PivotedCholeskyPreconditioner P(K, options_.preconditioner_rank, hyper_.noise);
  const MbcgResult cg = mbcg(K, z_, P, options_.solve_tolerance, options_.max_cg_iterations);
  if (!cg.positive_definite)
    throw Error("gp_iterative: the kernel matrix (n = " + std::to_string(n) + ") is not positive definite in CG");
  alpha_ = cg.X.col(0);
  mean_iterations_ = cg.iterations[0];

  // LOVE (Pleiss et al. 2018) with a block Krylov space: the start block is [z, U] (the mean's right-hand
  // side, as in LOVE, and the preconditioner's orthonormal basis U: the range of the pivoted Cholesky factor,
  // close to K's leading eigenvectors, where every k* mostly lies), expanded by K̂ until lanczos_rank
  // directions, each block orthonormalized (one GEMM per block rather than one GEMV per Lanczos vector).
  // Rayleigh–Ritz on the span B (full reorthogonalization by a column-pivoted QR of all blocks):
  //   K̂⁻¹ ≈ B (Bᵀ K̂ B)⁻¹ Bᵀ = R Rᵀ,  R = B V Λ^{-½}  (Bᵀ K̂ B = V Λ Vᵀ).
  // A Galerkin projection: k*ᵀ R Rᵀ k* ≤ k*ᵀ K̂⁻¹ k* for every k*, so the variance is never below the exact one.
  const Index k = P.rank();
  const bool with_z = z_.norm() > 0;
  const Index block = k + (with_z ? 1 : 0);
  // Block Gram–Schmidt, twice (CGS2), then a column-pivoted QR of the new block that drops the directions
  // already spanned; all GEMM-shaped.
  MatrixXd Bo(n, 0);
  auto append = [&](MatrixXd Y) {
    for (int pass = 0; pass < 2 && Bo.cols() > 0; ++pass) Y.noalias() -= Bo * (Bo.transpose() * Y);
    Eigen::ColPivHouseholderQR<MatrixXd> qr(Y);
    qr.setThreshold(1e-8);
    const Index r = std::min(qr.rank(), n - Bo.cols());
    if (r == 0) return MatrixXd(n, 0);
    const MatrixXd Qy = qr.householderQ() * MatrixXd::Identity(n, r);
    Bo.conservativeResize(n, Bo.cols() + r);
    Bo.rightCols(r) = Qy;
    return Qy;
  };
  if (block > 0) {
    const Index blocks = std::max<Index>(1, (options_.lanczos_rank + block - 1) / block);
    MatrixXd Y(n, block);
    if (with_z) Y.col(0) = z_;
    Y.rightCols(k) = P.basis();
    for (Index p = 0; p < blocks && Y.cols() > 0; ++p) {
      Y = append(Y);
      if (p + 1 < blocks && Y.cols() > 0) Y = K * Y;
    }
  } else {
    append(VectorXd::Ones(n));
  }
  const MatrixXd T = Bo.transpose() * (K * Bo);
  Eigen::SelfAdjointEigenSolver<MatrixXd> es(0.5 * (T + T.transpose()));
  R_ = Bo * es.eigenvectors() * es.eigenvalues().cwiseMax(1e-300).cwiseInverse().cwiseSqrt().asDiagonal();
}

void IterativeGp::check_query(const Matrix& X) const { validate_query_input(X, fitted_ ? d_ : 0, "gp_iterative"); }

Prediction IterativeGp::predict(const Matrix& Xq) const {
  check_query(Xq);
  const size_t m = Xq.rows;
  Prediction p;
  p.mean.assign(m, y_mean_);
  p.variance.assign(m, hyper_.signal * y_std_ * y_std_);
  if (!fitted_ || m == 0 || X_.rows() == 0) return p;
  const MatrixXd Q = to_eigen(Xq);
  const double s2y = y_std_ * y_std_;
  constexpr Index kQueryBlock = 1024;
  for (Index start = 0; start < static_cast<Index>(m); start += kQueryBlock) {
    const Index len = std::min(kQueryBlock, static_cast<Index>(m) - start);
    const MatrixXd Kq = cross_kernel(dims_, hyper_, X_, Q.middleRows(start, len));  // n × len
    const VectorXd mean = Kq.transpose() * alpha_;
    const VectorXd explained = (R_.transpose() * Kq).colwise().squaredNorm().transpose();
    for (Index i = 0; i < len; ++i) {
      const size_t o = static_cast<size_t>(start + i);
      p.mean[o] = y_mean_ + y_std_ * mean[i];
      p.variance[o] = s2y * std::max(hyper_.signal - explained[i], 0.0);
    }
  }
  return p;
}

PointPrediction IterativeGp::predict_with_gradient(const double* x) const {
  PointPrediction out;
  out.dmean.assign(d_, 0.0);
  out.dvariance.assign(d_, 0.0);
  out.mean = y_mean_;
  out.variance = hyper_.signal * y_std_ * y_std_;
  if (!fitted_ || X_.rows() == 0) return out;
  const Index n = X_.rows();
  const std::vector<double> w = inverse_sq_lengthscales(hyper_);
  ArrayXd r2, k(n), g(n);
  r2_against(dims_, w, X_, 0, x, 1, r2);
  matern52_k_dk(r2, hyper_.signal, k, g);  // k* and dk*/dr²
  const VectorXd c = R_.transpose() * k.matrix();
  const double latent = hyper_.signal - c.squaredNorm();
  const VectorXd u = R_ * c;  // ≈ K̂⁻¹ k*
  const double s2y = y_std_ * y_std_;
  out.mean = y_mean_ + y_std_ * k.matrix().dot(alpha_);
  out.variance = s2y * std::max(latent, 0.0);
  for (size_t j = 0; j < d_; ++j) {
    if (categorical(dims_, j)) continue;
    // ∂k*_i/∂x_j = dk/dr² · 2 (x_j − X_ij) / ℓ_j²
    const VectorXd dk = (g * (x[j] - X_.col(static_cast<Index>(j)).array()) * (2.0 * w[j])).matrix();
    out.dmean[j] = y_std_ * dk.dot(alpha_);
    out.dvariance[j] = latent > 0 ? -2.0 * s2y * dk.dot(u) : 0.0;
  }
  return out;
}

std::shared_ptr<IterativeGp> IterativeGp::condition_on(const Matrix& X, const std::vector<double>& y) const {
  validate_condition_input(X, y, fitted_ ? d_ : 0, "gp_iterative");
  auto c = std::make_shared<IterativeGp>(options_);
  if (!fitted_) {
    // No fit yet: the prior (the priors' medians as a fit with n = 0 has them, y_mean_ and y_std_ as they are).
    const std::vector<Dimension> dims(X.cols);
    const MatrixXd none(0, static_cast<Index>(X.cols));
    const VectorXd zn(0);
    const MapObjective prior(dims, none, zn, map_options(options_));
    c->fit_fixed(dims, X, y, prior.unpack(prior.prior_start(nullptr).data()), y_mean_, y_std_);
    return c;
  }
  const Index n = X_.rows(), m = static_cast<Index>(X.rows);
  Matrix all(static_cast<size_t>(n + m), d_);
  std::vector<double> ys(static_cast<size_t>(n + m));
  const Matrix old = to_matrix(X_);
  std::copy(old.data.begin(), old.data.end(), all.data.begin());
  std::copy(X.data.begin(), X.data.end(), all.data.begin() + static_cast<std::ptrdiff_t>(old.data.size()));
  for (Index i = 0; i < n; ++i) ys[static_cast<size_t>(i)] = y_mean_ + y_std_ * z_[i];
  std::copy(y.begin(), y.end(), ys.begin() + n);
  c->fit_fixed(dims_, all, ys, hyper_, y_mean_, y_std_);
  return c;
}

nlohmann::json IterativeGp::state() const {
  if (!fitted_) return nullptr;
  return {{"model", "gp"},
          {"solver", "iterative"},
          {"d", d_},
          {"lengthscale", hyper_.lengthscale},
          {"signal", hyper_.signal},
          {"noise", hyper_.noise}};
}

}  // namespace bbo::gp

#include "surrogates/gp/gp_core.h"

#include <nlopt.hpp>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numbers>
#include <string>

#include "bbo/error.h"
#include "surrogates/gp/batch_lbfgs.h"
#include "surrogates/gp/gp_device.h"
#include "surrogates/gp/gp_kernel_math.h"

// LAPACK (OpenBLAS): the Cholesky factor and the inverse from it are most of a fit's time at large n, and
// OpenBLAS runs them blocked and on every core (Eigen's LLT is about as fast on one core, but only uses one).
extern "C" {
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info);
}

namespace bbo::gp {
namespace {

using Eigen::ArrayXd;
using Eigen::MatrixXd;
using Eigen::VectorXd;

constexpr double kWarpEps = 1e-6;          // warped coordinates are clamped into [eps, 1 - eps]
constexpr double kWarpPriorSd = 0.8660254037844386;  // sqrt(0.75)
constexpr double kSignalPriorSd = 1.0;
constexpr double kNoiseShape = 1.1, kNoiseRate = 10.0;
constexpr double kMinLengthscale = 5e-3, kMaxLengthscale = 1e4;
constexpr double kMinSignal = 1e-3, kMaxSignal = 1e2;
constexpr double kMinNoise = 1e-6, kMaxNoise = 10.0;
constexpr double kMinWarp = 0.1, kMaxWarp = 10.0;
constexpr double kMinBias = 1e-4, kMaxBias = 1e2;  // σ_b² of the nngp kernel
constexpr double kBiasPriorSd = 1.0;

bool is_categorical(const std::vector<Dimension>& dims, size_t j) {
  return dims[j].kind == DimensionKind::kCategorical;
}

// Kumaraswamy CDF of x clamped into the open interval; derivatives w.r.t. log a, log b and x.
struct Warp {
  double w, dloga, dlogb, dx;
};
Warp kumaraswamy(double x, double a, double b) {
  bool inside = x > kWarpEps && x < 1 - kWarpEps;
  double xc = std::clamp(x, kWarpEps, 1 - kWarpEps);
  double lx = std::log(xc);
  double xa = std::exp(a * lx);
  double om = 1 - xa;                 // 1 - x^a in (0, 1)
  double lom = std::log(om);
  double omb = std::exp(b * lom);     // (1 - x^a)^b
  double ombm1 = omb / om;            // (1 - x^a)^(b-1)
  Warp r;
  r.w = 1 - omb;
  r.dloga = a * b * ombm1 * xa * lx;
  r.dlogb = -b * omb * lom;
  r.dx = inside ? a * b * (xa / xc) * ombm1 : 0.0;
  return r;
}

// Warped copy of X (n × d); with dA/dB also the derivatives w.r.t. log a_j and log b_j.
void warp_matrix(const Hyper& h, const std::vector<size_t>& warped, const MatrixXd& X, MatrixXd& Xt,
                 MatrixXd* dA, MatrixXd* dB) {
  Xt = X;
  if (dA) {
    dA->setZero(X.rows(), X.cols());
    dB->setZero(X.rows(), X.cols());
  }
  for (size_t j : warped)
    for (Eigen::Index i = 0; i < X.rows(); ++i) {
      Warp w = kumaraswamy(X(i, j), h.warp_a[j], h.warp_b[j]);
      Xt(i, j) = w.w;
      if (dA) {
        (*dA)(i, j) = w.dloga;
        (*dB)(i, j) = w.dlogb;
      }
    }
}

// r2(i, k) = scaled squared distance between row i of A and row k of B (|A| × |B|).
void cross_r2(const std::vector<Dimension>& dims, const std::vector<double>& ls, const MatrixXd& A,
              const MatrixXd& B, MatrixXd& r2) {
  r2.setZero(A.rows(), B.rows());
  for (size_t j = 0; j < dims.size(); ++j) {
    const double w = 1.0 / (ls[j] * ls[j]);
    const auto a = A.col(j).array();
    if (is_categorical(dims, j)) {
      for (Eigen::Index k = 0; k < B.rows(); ++k) {
        const double b = B(k, j);
        r2.col(k).array() += a.unaryExpr([b, w](double v) { return r2_categorical(v, b, w); });
      }
    } else {
      for (Eigen::Index k = 0; k < B.rows(); ++k) r2.col(k).array() += r2_continuous(a - B(k, j), w);
    }
  }
}

// K = s² · Matérn52(r2) elementwise; G = dK/d(r²) = -(5/6) s² (1 + ρ) e^{-ρ}, ρ = √(5 r²) (optional).
void matern_from_r2(const MatrixXd& r2, double s2, MatrixXd& K, MatrixXd* G) {
  K.resize(r2.rows(), r2.cols());
  if (G) G->resize(r2.rows(), r2.cols());
  const Eigen::Index total = r2.size();
  const double* r = r2.data();
  double* k = K.data();
  double* g = G ? G->data() : nullptr;
  constexpr Eigen::Index kBlock = 1024;
  ArrayXd rs;
  for (Eigen::Index start = 0; start < total; start += kBlock) {
    Eigen::Index len = std::min(kBlock, total - start);
    rs = Eigen::Map<const ArrayXd>(r + start, len);
    if (g)
      matern52_k_dk(rs, s2, Eigen::Map<ArrayXd>(k + start, len), Eigen::Map<ArrayXd>(g + start, len));
    else
      Eigen::Map<ArrayXd>(k + start, len) = matern52_k(rs, s2);
  }
}

// Lower Cholesky factor of A + jitter·I in L (upper triangle left as garbage), trying jitter 0 and then
// 1e-8, 1e-7, …, 1e-2 times the mean diagonal. Returns false when every try fails.
bool cholesky_with_jitter(const MatrixXd& A, MatrixXd& L, double& jitter) {
  const int n = static_cast<int>(A.rows());
  if (n == 0) {
    L.resize(0, 0);
    jitter = 0.0;
    return true;
  }
  const double mean_diag = std::max(A.diagonal().mean(), 1e-300);
  for (int attempt = 0; attempt <= 7; ++attempt) {
    jitter = attempt == 0 ? 0.0 : mean_diag * std::pow(10.0, -9 + attempt);
    L = A;
    if (jitter > 0) L.diagonal().array() += jitter;
    int info = 0;
    dpotrf_("L", &n, L.data(), &n, &info);
    if (info == 0 && L.diagonal().allFinite()) return true;
  }
  return false;
}

// Inverse from the lower factor (dpotri): only the lower triangle of inv is meaningful.
void inverse_from_cholesky_lower(const MatrixXd& L, MatrixXd& inv) {
  const int n = static_cast<int>(L.rows());
  inv = L;
  int info = 0;
  dpotri_("L", &n, inv.data(), &n, &info);
}

std::vector<size_t> warped_coordinates(const std::vector<Dimension>& dims, bool warping) {
  std::vector<size_t> w;
  if (warping)
    for (size_t j = 0; j < dims.size(); ++j)
      if (dims[j].kind == DimensionKind::kContinuous) w.push_back(j);
  return w;
}

// nngp: K^0 between the (warped) rows of A and B, and its diagonal.
MatrixXd nngp_base(const std::vector<Dimension>& dims, const Hyper& h, const MatrixXd& A, const MatrixXd& B) {
  MatrixXd K = MatrixXd::Constant(A.rows(), B.rows(), h.bias);
  for (size_t j = 0; j < dims.size(); ++j) {
    const double w = 1.0 / (h.lengthscale[j] * h.lengthscale[j]);
    if (is_categorical(dims, j)) {
      for (Eigen::Index k = 0; k < B.rows(); ++k) K.col(k).array() += w * (A.col(j).array() == B(k, j)).cast<double>();
    } else {
      K.noalias() += w * (A.col(j).array() - 0.5).matrix() * (B.col(j).array() - 0.5).matrix().transpose();
    }
  }
  return K;
}

VectorXd nngp_base_diagonal(const std::vector<Dimension>& dims, const Hyper& h, const MatrixXd& A) {
  VectorXd k = VectorXd::Constant(A.rows(), h.bias);
  for (size_t j = 0; j < dims.size(); ++j) {
    const double w = 1.0 / (h.lengthscale[j] * h.lengthscale[j]);
    if (is_categorical(dims, j))
      k.array() += w;
    else
      k.array() += w * (A.col(j).array() - 0.5).square();
  }
  return k;
}

// One ReLU layer of the NNGP recursion with σ_w² = 2: F = (√(k_aa k_bb − k_ab²) + (π − θ) k_ab) / π, and its
// partial derivatives (finite everywhere: the 1/sin θ terms of the chain rule cancel).
struct ArcCos {
  double value, d_ab, d_aa, d_bb;
};
inline ArcCos arccos_layer(double kab, double kaa, double kbb) {
  const double nn = std::sqrt(kaa * kbb);
  const double c = nn > 0 ? std::clamp(kab / nn, -1.0, 1.0) : 1.0;
  const double theta = std::acos(c);
  const double S = nn * std::sqrt(std::max(1.0 - c * c, 0.0));
  ArcCos r;
  r.value = (S + (std::numbers::pi - theta) * kab) / std::numbers::pi;
  r.d_ab = (std::numbers::pi - theta) / std::numbers::pi;
  r.d_aa = kaa > 0 ? S / (2 * std::numbers::pi * kaa) : 0.0;
  r.d_bb = kbb > 0 ? S / (2 * std::numbers::pi * kbb) : 0.0;
  return r;
}

}  // namespace

MatrixXd nngp_kernel(const std::vector<Dimension>& dims, const Hyper& h, int depth, const MatrixXd& A,
                     const MatrixXd& B) {
  MatrixXd K = nngp_base(dims, h, A, B);
  VectorXd da = nngp_base_diagonal(dims, h, A), db = nngp_base_diagonal(dims, h, B);
  for (int l = 0; l < depth; ++l) {
    for (Eigen::Index k = 0; k < K.cols(); ++k)
      for (Eigen::Index i = 0; i < K.rows(); ++i) K(i, k) = h.bias + arccos_layer(K(i, k), da[i], db[k]).value;
    da.array() += h.bias;  // F(k, k, k) = k: each layer adds σ_b² to the diagonal
    db.array() += h.bias;
  }
  return h.signal * K;
}

VectorXd nngp_diagonal(const std::vector<Dimension>& dims, const Hyper& h, int depth, const MatrixXd& A) {
  return h.signal * (nngp_base_diagonal(dims, h, A).array() + depth * h.bias).matrix();
}

double matern52(double r2) { return matern52_k(r2, 1.0); }

// ---- MapObjective ----------------------------------------------------------------------------------------

MapObjective::MapObjective(const std::vector<Dimension>& dims, const MatrixXd& X, const VectorXd& z,
                           const GpOptions& options)
    : dims_(dims), X_(X), z_(z), options_(options), d_(dims.size()) {
  warped_ = warped_coordinates(dims, options.warping);
  n_params_ = d_ + 1 + (options.deterministic ? 0 : 1) + (options.nngp ? 1 : 0) + 2 * warped_.size();
  ls_mu_ = std::numbers::sqrt2 + 0.5 * std::log(static_cast<double>(std::max<size_t>(d_, 1)));
  ls_sigma_ = std::sqrt(3.0);
}

Hyper MapObjective::unpack(const double* t) const {
  Hyper h;
  h.lengthscale.resize(d_);
  for (size_t j = 0; j < d_; ++j) h.lengthscale[j] = std::exp(t[j]);
  size_t p = d_;
  h.signal = std::exp(t[p++]);
  h.noise = options_.deterministic ? options_.fixed_noise : std::exp(t[p++]);
  if (options_.nngp) h.bias = std::exp(t[p++]);
  if (options_.warping) {
    h.warp_a.assign(d_, 1.0);
    h.warp_b.assign(d_, 1.0);
    for (size_t j : warped_) {
      h.warp_a[j] = std::exp(t[p++]);
      h.warp_b[j] = std::exp(t[p++]);
    }
  }
  return h;
}

std::vector<double> MapObjective::pack(const Hyper& h) const {
  std::vector<double> t;
  for (size_t j = 0; j < d_; ++j) t.push_back(std::log(h.lengthscale[j]));
  t.push_back(std::log(h.signal));
  if (!options_.deterministic) t.push_back(std::log(h.noise));
  if (options_.nngp) t.push_back(std::log(h.bias));
  for (size_t j : warped_) {
    t.push_back(std::log(h.warp_a.empty() ? 1.0 : h.warp_a[j]));
    t.push_back(std::log(h.warp_b.empty() ? 1.0 : h.warp_b[j]));
  }
  return t;
}

void MapObjective::bounds(std::vector<double>& lo, std::vector<double>& hi) const {
  lo.clear();
  hi.clear();
  for (size_t j = 0; j < d_; ++j) {
    lo.push_back(std::log(kMinLengthscale));
    hi.push_back(std::log(kMaxLengthscale));
  }
  lo.push_back(std::log(kMinSignal));
  hi.push_back(std::log(kMaxSignal));
  if (!options_.deterministic) {
    lo.push_back(std::log(kMinNoise));
    hi.push_back(std::log(kMaxNoise));
  }
  if (options_.nngp) {
    lo.push_back(std::log(kMinBias));
    hi.push_back(std::log(kMaxBias));
  }
  for (size_t k = 0; k < 2 * warped_.size(); ++k) {
    lo.push_back(std::log(kMinWarp));
    hi.push_back(std::log(kMaxWarp));
  }
}

std::vector<double> MapObjective::prior_start(std::mt19937_64* rng) const {
  std::normal_distribution<double> normal;
  auto draw = [&](double mu, double sd) { return rng ? mu + sd * normal(*rng) : mu; };
  std::vector<double> t;
  for (size_t j = 0; j < d_; ++j) t.push_back(draw(ls_mu_, ls_sigma_));
  t.push_back(draw(0.0, kSignalPriorSd));
  if (!options_.deterministic) {
    // Noise: the prior's mode (0.01) or log-uniform over [1e-6, 0.1].
    t.push_back(rng ? std::log(1e-6) + std::uniform_real_distribution<double>(0.0, 1.0)(*rng) * std::log(1e5)
                    : std::log(1e-2));
  }
  if (options_.nngp) t.push_back(draw(0.0, kBiasPriorSd));
  for (size_t k = 0; k < 2 * warped_.size(); ++k) t.push_back(draw(0.0, kWarpPriorSd));
  std::vector<double> lo, hi;
  bounds(lo, hi);
  for (size_t k = 0; k < t.size(); ++k) t[k] = std::clamp(t[k], lo[k], hi[k]);
  return t;
}

double MapObjective::log_prior(const double* theta, double* grad) const {
  const bool want_grad = grad != nullptr;
  const double noise = options_.deterministic ? options_.fixed_noise : std::exp(theta[d_ + 1]);
  double lp = 0.0;
  if (want_grad) std::fill(grad, grad + n_params_, 0.0);
  for (size_t j = 0; j < d_; ++j) {
    double u = (theta[j] - ls_mu_) / ls_sigma_;
    lp += -0.5 * u * u;
    if (want_grad) grad[j] += -u / ls_sigma_;
  }
  size_t p = d_;
  {
    double u = theta[p] / kSignalPriorSd;
    lp += -0.5 * u * u;
    if (want_grad) grad[p] += -u / kSignalPriorSd;
    ++p;
  }
  if (!options_.deterministic) {
    // Gamma(σ²; shape, rate) density at σ² (as a density of σ², like BoTorch's priors on raw values).
    lp += (kNoiseShape - 1) * theta[p] - kNoiseRate * noise;
    if (want_grad) grad[p] += (kNoiseShape - 1) - kNoiseRate * noise;
    ++p;
  }
  if (options_.nngp) {
    double u = theta[p] / kBiasPriorSd;
    lp += -0.5 * u * u;
    if (want_grad) grad[p] += -u / kBiasPriorSd;
    ++p;
  }
  for (size_t k = 0; k < 2 * warped_.size(); ++k) {
    double u = theta[p + k] / kWarpPriorSd;
    lp += -0.5 * u * u;
    if (want_grad) grad[p + k] += -u / kWarpPriorSd;
  }
  return lp;
}

double MapObjective::value(const double* theta, double* grad) {
  const Hyper h = unpack(theta);
  const Eigen::Index n = X_.rows();
  const bool want_grad = grad != nullptr;
  const bool warp_grad = want_grad && !warped_.empty();

  // Log prior (and its gradient) first: it does not need the factorization.
  const double lp = log_prior(theta, grad);
  const size_t noise_index = d_ + 1;
  const size_t bias_index = noise_index + (options_.deterministic ? 0 : 1);
  const size_t warp_index = bias_index + (options_.nngp ? 1 : 0);
  if (n == 0) return lp;
  if (options_.nngp) return lp + nngp_log_likelihood(h, grad, noise_index, bias_index, warp_index);

  // Everything below works on the lower triangle only (all matrices are symmetric), one column at a time:
  // half the work of full matrices, and each column segment stays in cache across the coordinates.
  warp_matrix(h, warped_, X_, Xt_, warp_grad ? &dXa_ : nullptr, warp_grad ? &dXb_ : nullptr);
  std::vector<double> inv_l2(d_);
  for (size_t j = 0; j < d_; ++j) inv_l2[j] = 1.0 / (h.lengthscale[j] * h.lengthscale[j]);
  K_.resize(n, n);  // K_f + σ² I, then its Cholesky factor (lower)
  if (want_grad) G_.resize(n, n);
  ArrayXd rs;  // r² of column k's lower segment
  for (Eigen::Index k = 0; k < n; ++k) {
    const Eigen::Index len = n - k;
    rs.setZero(len);
    for (size_t j = 0; j < d_; ++j) {
      const auto x = Xt_.col(j).tail(len).array();
      const double c = Xt_(k, j), w = inv_l2[j];
      if (is_categorical(dims_, j))
        rs += x.unaryExpr([c, w](double v) { return r2_categorical(v, c, w); });
      else
        rs += r2_continuous(x - c, w);
    }
    if (want_grad)
      matern52_k_dk(rs, h.signal, K_.col(k).tail(len).array(), G_.col(k).tail(len).array());
    else
      K_.col(k).tail(len) = matern52_k(rs, h.signal).matrix();
  }
  // The signal gradient needs Σ Q ∘ K_f: keep a copy of K_f (lower).
  if (want_grad) Kf_ = K_;
  K_.diagonal().array() += h.noise;
  MatrixXd& L = L_;
  double jitter = 0.0;
  if (!cholesky_with_jitter(K_, L, jitter)) return -std::numeric_limits<double>::infinity();
  VectorXd alpha = L.triangularView<Eigen::Lower>().solve(z_);
  L.triangularView<Eigen::Lower>().transpose().solveInPlace(alpha);
  const double log_det = 2.0 * L.diagonal().array().log().sum();
  const double ll = -0.5 * z_.dot(alpha) - 0.5 * log_det - 0.5 * static_cast<double>(n) * std::log(2 * std::numbers::pi);
  if (!want_grad) return ll + lp;

  // ∂ll/∂θ = ½ tr(Q ∂K/∂θ) with Q = α αᵀ − K⁻¹ (lower triangle in K_ after the inverse).
  inverse_from_cholesky_lower(L, K_);
  double sum_qk = 0.0, trace_q = 0.0;
  std::vector<double> ls_sum(d_, 0.0);
  for (Eigen::Index k = 0; k < n; ++k) {
    const Eigen::Index len = n - k;
    auto q = K_.col(k).tail(len).array();
    q = alpha.tail(len).array() * alpha[k] - q;  // Q (lower)
    trace_q += q[0];
    // Off-diagonal entries count twice in the full sums.
    auto kf = Kf_.col(k).tail(len).array();
    sum_qk += 2.0 * (q * kf).sum() - q[0] * kf[0];
    auto m = G_.col(k).tail(len).array();
    m *= q;  // M = Q ∘ G (lower); its diagonal multiplies D = 0 below
    for (size_t j = 0; j < d_; ++j) {
      const auto x = Xt_.col(j).tail(len).array();
      const double c = Xt_(k, j);
      if (is_categorical(dims_, j))
        ls_sum[j] += 2.0 * (m * x.unaryExpr([c](double v) { return r2_categorical(v, c, 1.0); })).sum();
      else
        ls_sum[j] += 2.0 * (m * r2_continuous(x - c, 1.0)).sum();
    }
  }
  grad[d_] += 0.5 * sum_qk;  // ∂K/∂log s² = K_f
  if (!options_.deterministic) grad[noise_index] += 0.5 * h.noise * trace_q;
  for (size_t j = 0; j < d_; ++j) grad[j] += -ls_sum[j] * inv_l2[j];  // ∂ll/∂log ℓ_j = −(1/ℓ²) Σ_ik M_ik D_j,ik
  // Warping: ∂ll/∂x̃_pj = (2/ℓ_j²) (x̃_pj Σ_k M_pk − (M x̃_j)_p), chained through ∂x̃/∂log a, ∂x̃/∂log b.
  if (warp_grad) {
    // One symmetric product for all warped coordinates (M is read once: at large n this is memory-bound).
    const Eigen::Index nw = static_cast<Eigen::Index>(warped_.size());
    MatrixXd B(n, nw + 1), P(n, nw + 1);
    B.col(0).setOnes();
    for (Eigen::Index w = 0; w < nw; ++w) B.col(w + 1) = Xt_.col(static_cast<Eigen::Index>(warped_[w]));
    P.noalias() = G_.selfadjointView<Eigen::Lower>() * B;
    for (size_t w = 0; w < warped_.size(); ++w) {
      const size_t j = warped_[w];
      VectorXd dx = (2.0 * inv_l2[j]) * (Xt_.col(j).cwiseProduct(P.col(0)) - P.col(static_cast<Eigen::Index>(w) + 1));
      grad[warp_index + 2 * w] += dx.dot(dXa_.col(j));
      grad[warp_index + 2 * w + 1] += dx.dot(dXb_.col(j));
    }
  }
  return ll + lp;
}

double MapObjective::nngp_log_likelihood(const Hyper& h, double* grad, size_t noise_index, size_t bias_index,
                                         size_t warp_index) {
  const Eigen::Index n = X_.rows();
  const bool want_grad = grad != nullptr;
  const bool warp_grad = want_grad && !warped_.empty();
  const int depth = options_.nngp_depth;
  warp_matrix(h, warped_, X_, Xt_, warp_grad ? &dXa_ : nullptr, warp_grad ? &dXb_ : nullptr);
  layers_.resize(static_cast<size_t>(depth) + 1);
  layers_[0] = nngp_base(dims_, h, Xt_, Xt_);
  for (int l = 1; l <= depth; ++l) {
    const MatrixXd& P = layers_[static_cast<size_t>(l) - 1];
    MatrixXd& K = layers_[static_cast<size_t>(l)];
    K.resize(n, n);
    for (Eigen::Index k = 0; k < n; ++k)
      for (Eigen::Index i = 0; i < n; ++i) K(i, k) = h.bias + arccos_layer(P(i, k), P(i, i), P(k, k)).value;
  }
  K_ = h.signal * layers_.back();
  K_.diagonal().array() += h.noise;
  double jitter = 0.0;
  if (!cholesky_with_jitter(K_, L_, jitter)) return -std::numeric_limits<double>::infinity();
  VectorXd alpha = L_.triangularView<Eigen::Lower>().solve(z_);
  L_.triangularView<Eigen::Lower>().transpose().solveInPlace(alpha);
  const double log_det = 2.0 * L_.diagonal().array().log().sum();
  const double ll =
      -0.5 * z_.dot(alpha) - 0.5 * log_det - 0.5 * static_cast<double>(n) * std::log(2 * std::numbers::pi);
  if (!want_grad) return ll;

  // ∂ll/∂θ = ½ tr(Q ∂K/∂θ), Q = α αᵀ − K⁻¹, back-propagated through the layers: A is the adjoint of K^l.
  inverse_from_cholesky_lower(L_, K_);
  MatrixXd Q = alpha * alpha.transpose();
  Q -= K_.selfadjointView<Eigen::Lower>().toDenseMatrix();
  grad[d_] += 0.5 * h.signal * Q.cwiseProduct(layers_.back()).sum();  // ∂K/∂log s² = s² K^L
  if (!options_.deterministic) grad[noise_index] += 0.5 * h.noise * Q.trace();
  MatrixXd A = (0.5 * h.signal) * Q;
  double bias_sum = 0.0;
  for (int l = depth; l >= 1; --l) {
    const MatrixXd& P = layers_[static_cast<size_t>(l) - 1];
    bias_sum += A.sum();
    MatrixXd next(n, n);
    VectorXd diag = VectorXd::Zero(n);
    for (Eigen::Index k = 0; k < n; ++k)
      for (Eigen::Index i = 0; i < n; ++i) {
        ArcCos a = arccos_layer(P(i, k), P(i, i), P(k, k));
        next(i, k) = A(i, k) * a.d_ab;
        diag[i] += A(i, k) * a.d_aa;
        diag[k] += A(i, k) * a.d_bb;
      }
    next.diagonal() += diag;
    A = std::move(next);
  }
  bias_sum += A.sum();
  grad[bias_index] += h.bias * bias_sum;
  for (size_t j = 0; j < d_; ++j) {
    const double w = 1.0 / (h.lengthscale[j] * h.lengthscale[j]);
    double s = 0.0;
    if (is_categorical(dims_, j)) {
      for (Eigen::Index k = 0; k < n; ++k)
        s += (A.col(k).array() * (Xt_.col(j).array() == Xt_(k, j)).cast<double>()).sum();
    } else {
      const VectorXd u = Xt_.col(j).array() - 0.5;
      s = u.dot(A * u);
    }
    grad[j] += -2.0 * w * s;  // ∂/∂log ℓ_j of w = 1/ℓ_j² is −2w
  }
  if (warp_grad) {
    for (size_t wi = 0; wi < warped_.size(); ++wi) {
      const size_t j = warped_[wi];
      const double w = 1.0 / (h.lengthscale[j] * h.lengthscale[j]);
      const VectorXd u = Xt_.col(j).array() - 0.5;
      const VectorXd dx = 2.0 * w * (A * u);  // ∂ll/∂x̃_·j (A symmetric)
      grad[warp_index + 2 * wi] += dx.dot(dXa_.col(j));
      grad[warp_index + 2 * wi + 1] += dx.dot(dXb_.col(j));
    }
  }
  return ll;
}

// ---- GpModel -----------------------------------------------------------------------------------------------

std::vector<double> warm_theta(const json& st, const MapObjective& obj, size_t d, bool warping, bool nngp) {
  try {
    if (!st.is_object() || st.value("model", "") != "gp" || st.at("d").get<size_t>() != d) return {};
    if (st.value("kernel", std::string("matern52")) != (nngp ? "nngp" : "matern52")) return {};
    Hyper h;
    if (nngp) h.bias = st.at("bias").get<double>();
    h.lengthscale = st.at("lengthscale").get<std::vector<double>>();
    h.signal = st.at("signal").get<double>();
    h.noise = st.at("noise").get<double>();
    if (h.lengthscale.size() != d) return {};
    if (warping && st.contains("warp_a") && st.contains("warp_b")) {
      h.warp_a = st.at("warp_a").get<std::vector<double>>();
      h.warp_b = st.at("warp_b").get<std::vector<double>>();
      if (h.warp_a.size() != d || h.warp_b.size() != d) return {};
    }
    std::vector<double> t = obj.pack(h);
    std::vector<double> lo, hi;
    obj.bounds(lo, hi);
    for (size_t k = 0; k < t.size(); ++k) {
      if (!std::isfinite(t[k])) return {};
      t[k] = std::clamp(t[k], lo[k], hi[k]);
    }
    return t;
  } catch (const std::exception&) {
    return {};
  }
}

namespace {

struct LbfgsContext {
  const std::function<double(const double*, double*)>* f = nullptr;
  nlopt::opt* opt = nullptr;
  int limit = 0;
  int evals = 0;
  double best = -std::numeric_limits<double>::infinity();
  std::vector<double> best_theta;
};

double lbfgs_callback(unsigned n, const double* x, double* grad, void* data) {
  auto* ctx = static_cast<LbfgsContext*>(data);
  if (ctx->evals >= ctx->limit) {
    // Past the budget (L-BFGS asks again inside its line search before it sees the forced stop): refuse
    // without computing anything; the best point seen is kept in ctx.
    ctx->opt->force_stop();
    if (grad) std::fill(grad, grad + n, 0.0);
    return -1e300;
  }
  ++ctx->evals;
  const double v = (*ctx->f)(x, grad);
  if (!std::isfinite(v)) {
    // E.g. no jitter made K positive definite here: a very low value with a zero gradient sends the line
    // search back.
    if (grad) std::fill(grad, grad + n, 0.0);
    return -1e300;
  }
  if (v > ctx->best) {
    ctx->best = v;
    ctx->best_theta.assign(x, x + n);
  }
  return v;
}

}  // namespace

double maximize_lbfgs(const std::function<double(const double*, double*)>& f, const std::vector<double>& lo,
                      const std::vector<double>& hi, std::vector<double>& theta, int evals, double ftol, int* used) {
  LbfgsContext ctx;
  ctx.f = &f;
  ctx.limit = evals;
  nlopt::opt opt(nlopt::LD_LBFGS, static_cast<unsigned>(theta.size()));
  ctx.opt = &opt;
  opt.set_lower_bounds(lo);
  opt.set_upper_bounds(hi);
  opt.set_max_objective(lbfgs_callback, &ctx);
  opt.set_maxeval(evals);
  opt.set_ftol_abs(ftol);
  opt.set_xtol_rel(1e-7);
  std::vector<double> x = theta;
  double value = 0.0;
  try {
    opt.optimize(x, value);
  } catch (const std::exception&) {
    // roundoff_limited, forced stop and friends: the best point seen is kept.
  }
  if (used) *used += ctx.evals;
  if (!ctx.best_theta.empty()) theta = ctx.best_theta;
  return ctx.best;
}

// ---- The GPU path ------------------------------------------------------------------------------------------

struct GpModel::DeviceState {
  std::unique_ptr<GpDeviceEngine> engine;
  int index = -1;           // the CUDA device of engine
  bool injected = false;    // engine came from set_device_engine (used whatever options.device says)
  bool active = false;      // the current fit computes on the GPU
  bool factorized = false;  // engine holds the factor of the current hyper-parameters
  std::mutex mutex;         // serializes engine calls (predict is const and may run concurrently)
};

namespace {
void anchor() {}  // an address inside this plugin, for open_cuda_backend
constexpr const char* kUnsupported = "the GPU path of gp supports the matern52 kernel without warping";
}  // namespace

bool GpModel::on_gpu() const { return device_ && device_->active; }

void GpModel::set_device_engine(std::unique_ptr<GpDeviceEngine> engine) {
  device_ = std::make_shared<DeviceState>();
  device_->engine = std::move(engine);
  device_->injected = device_->engine != nullptr;
}

void GpModel::device_failed(const std::string& why) const {
  if (options_.device.kind == Device::Kind::Cuda) notice_cpu_fallback("gp", options_.device, why);
  if (device_) {
    device_->active = false;
    device_->factorized = false;
  }
}

void GpModel::select_device() {
  if (device_) {
    device_->active = false;
    device_->factorized = false;
  }
  const size_t n = static_cast<size_t>(X_.rows());
  const bool injected = device_ && device_->injected;
  if (n < 2 || (!injected && options_.device.kind == Device::Kind::Cpu)) return;
  const Device dev = injected ? Device{Device::Kind::Cuda, 0}
                              : resolve_device(options_.device,
                                               n >= static_cast<size_t>(std::max(options_.gpu_min_n, 0)), "gp");
  if (dev.kind != Device::Kind::Cuda) return;
  if (options_.nngp || options_.warping) {
    device_failed(kUnsupported);
    return;
  }
  if (!injected && (!device_ || !device_->engine || device_->index != dev.index)) {
    std::string reason;
    auto factory = reinterpret_cast<GpCudaFactory>(
        open_cuda_backend(reinterpret_cast<const void*>(&anchor), kGpCudaLibrary, kGpCudaFactory, &reason));
    GpDeviceEngine* engine = factory ? factory(dev.index, &reason) : nullptr;
    if (!engine) {
      device_failed(reason.empty() ? std::string("the CUDA backend did not initialise") : reason);
      return;
    }
    device_ = std::make_shared<DeviceState>();
    device_->engine.reset(engine);
    device_->index = dev.index;
  }
  GpDeviceData data;
  data.n = n;
  data.d = d_;
  data.X.resize(n * d_);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < d_; ++j)
      data.X[i * d_ + j] = X_(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j));
  data.z.assign(z_.data(), z_.data() + n);
  data.categorical.resize(d_);
  for (size_t j = 0; j < d_; ++j) data.categorical[j] = is_categorical(dims_, j) ? 1 : 0;
  data.deterministic = options_.deterministic;
  data.fixed_noise = options_.fixed_noise;
  std::lock_guard lock(device_->mutex);
  try {
    device_->engine->set_data(data);
    device_->active = true;
  } catch (const std::exception& e) {
    device_failed(e.what());
  }
}

std::vector<double> GpModel::run_starts_device(MapObjective& obj, const std::vector<std::vector<double>>& starts,
                                               int evals, const std::vector<double>& fallback) {
  std::vector<double> lo, hi;
  obj.bounds(lo, hi);
  const size_t P = obj.size();
  GpDeviceEngine& engine = *device_->engine;
  // Minimizes −(log likelihood + log prior); the priors come from MapObjective (one copy of their code).
  auto objective = [&](const double* X, size_t B, double* values, double* grads) {
    engine.log_likelihood_batch(X, B, values, grads);
    std::vector<double> g(P);
    for (size_t b = 0; b < B; ++b) {
      if (!std::isfinite(values[b])) {
        values[b] = std::numeric_limits<double>::infinity();
        continue;
      }
      values[b] = -(values[b] + obj.log_prior(X + b * P, g.data()));
      for (size_t i = 0; i < P; ++i) grads[b * P + i] = -(grads[b * P + i] + g[i]);
    }
  };
  BatchLbfgsOptions bo;
  bo.max_evals = evals;
  bo.ftol_abs = options_.fit_tolerance;  // as the CPU path's NLopt ftol_abs / xtol_rel
  bo.xtol_rel = 1e-7;
  std::vector<BatchLbfgsResult> results;
  {
    std::lock_guard lock(device_->mutex);
    device_->factorized = false;
    results = batch_lbfgs_minimize(objective, starts, lo, hi, bo);
  }
  double best = -std::numeric_limits<double>::infinity();
  std::vector<double> best_theta;
  for (const auto& r : results) {
    fit_evals_ += r.evals;
    if (!r.x.empty() && -r.f > best) {
      best = -r.f;
      best_theta = r.x;
    }
  }
  if (best_theta.empty()) return fallback;
  log_posterior_ = best;
  return best_theta;
}

void GpModel::fit(const FitInput& in) {
  validate_fit_input(in, "gp");
  const size_t n = in.X.rows, d = in.X.cols;
  dims_ = in.dims.empty() ? std::vector<Dimension>(d) : in.dims;
  d_ = d;
  X_ = to_eigen(in.X);
  standardization(in.y, y_mean_, y_std_);
  z_ = standardized(in.y, y_mean_, y_std_);
  select_device();

  MapObjective obj(dims_, X_, z_, options_);
  std::vector<double> theta = obj.prior_start(nullptr);
  log_posterior_ = std::numeric_limits<double>::quiet_NaN();
  fit_evals_ = 0;
  if (n >= 2) {
    std::mt19937_64 rng(in.seed ^ 0x9e3779b97f4a7c15ULL);
    std::vector<double> warm = warm_theta(in.warm_start, obj, d, options_.warping, options_.nngp);
    const double n3 = std::pow(static_cast<double>(n), 3.0);
    const int warm_evals =
        std::max(8, static_cast<int>(std::min<double>(options_.max_fit_evals, options_.warm_budget / n3 + 1e-9)));
    if (!warm.empty()) {
      std::vector<std::vector<double>> starts = {warm};
      for (int k = 0; k < options_.warm_restarts; ++k) starts.push_back(obj.prior_start(&rng));
      theta = run_starts(obj, starts, warm_evals, theta);
    } else if (options_.warping && !obj.warped().empty()) {
      // Continuation: the warped posterior's low-noise mode is narrow and multi-start L-BFGS in the larger
      // space often misses it. Fit without warping first and start the warped search also from that optimum
      // with the identity warp (a = b = 1), so warping never ends below the unwarped fit.
      GpOptions plain = options_;
      plain.warping = false;
      MapObjective plain_obj(dims_, X_, z_, plain);
      Hyper h = plain_obj.unpack(cold_search(plain, {}, rng, warm_evals).data());
      h.warp_a.assign(d, 1.0);
      h.warp_b.assign(d, 1.0);
      theta = cold_search(options_, {obj.pack(h)}, rng, warm_evals);
    } else {
      theta = cold_search(options_, {}, rng, warm_evals);
    }
  }
  hyper_ = obj.unpack(theta.data());
  factorize();
  fitted_ = true;
}

std::vector<double> GpModel::cold_search(const GpOptions& o, const std::vector<std::vector<double>>& extra,
                                         std::mt19937_64& rng, int warm_evals) {
  const size_t n = static_cast<size_t>(X_.rows()), d = d_;
  MapObjective obj(dims_, X_, z_, o);
  const std::vector<double> median = obj.prior_start(nullptr);
  std::vector<std::vector<double>> starts = {median};
  for (int k = 1; k < std::max(o.n_restarts, 1); ++k) starts.push_back(obj.prior_start(&rng));
  const size_t subset = static_cast<size_t>(std::max(o.subset_size, 2));
  if (n <= subset) {
    starts.insert(starts.begin(), extra.begin(), extra.end());
    return run_starts(obj, starts, o.max_fit_evals, median);
  }
  // Large, with a good start already on all points (the unwarped optimum of a warped fit): polish it.
  if (!extra.empty()) return run_starts(obj, extra, std::min(o.max_fit_evals, 3 * warm_evals), extra.front());
  // Cold and large: the multi-start search runs on a seeded random subset (each evaluation costs
  // (subset/n)³ of a full one), then polishing runs on all points from its best optimum.
  std::vector<size_t> idx(n);
  for (size_t i = 0; i < n; ++i) idx[i] = i;
  for (size_t i = 0; i < subset; ++i) std::swap(idx[i], idx[i + rng() % (n - i)]);
  idx.resize(subset);
  std::sort(idx.begin(), idx.end());
  MatrixXd Xs(static_cast<Eigen::Index>(subset), static_cast<Eigen::Index>(d));
  VectorXd zs(static_cast<Eigen::Index>(subset));
  for (size_t i = 0; i < subset; ++i) {
    Xs.row(static_cast<Eigen::Index>(i)) = X_.row(static_cast<Eigen::Index>(idx[i]));
    zs[static_cast<Eigen::Index>(i)] = z_[static_cast<Eigen::Index>(idx[i])];
  }
  MapObjective sub(dims_, Xs, zs, o);
  std::vector<double> coarse = run_starts(sub, starts, o.max_fit_evals, median);
  // The subset's optimum leans to more noise and longer lengthscales than all n points support (fewer
  // points to interpolate), and from there L-BFGS on all points can stay in that mode: the polish also
  // starts from the same point with the noise at the prior's mode and at its lower bound, and each
  // polishing run gets three warm budgets (a cold fit happens once per study; later fits are warm).
  std::vector<std::vector<double>> polish = {coarse};
  if (!o.deterministic) {
    std::vector<double> lo, hi;
    obj.bounds(lo, hi);
    const size_t ni = d + 1;
    for (double v : {std::log(1e-2), lo[ni]})
      if (v < coarse[ni]) {
        polish.push_back(coarse);
        polish.back()[ni] = v;
      }
  }
  return run_starts(obj, polish, std::min(o.max_fit_evals, 3 * warm_evals), coarse);
}

std::vector<double> GpModel::run_starts(MapObjective& obj, const std::vector<std::vector<double>>& starts,
                                        int evals, const std::vector<double>& fallback) {
  if (on_gpu() && obj.rows() == static_cast<size_t>(X_.rows())) {
    const int evals_before = fit_evals_;
    try {
      return run_starts_device(obj, starts, evals, fallback);
    } catch (const std::exception& e) {
      device_failed(e.what());  // and search on the CPU below
      fit_evals_ = evals_before;
    }
  }
  std::vector<double> lo, hi;
  obj.bounds(lo, hi);
  const std::function<double(const double*, double*)> f = [&obj](const double* t, double* g) { return obj.value(t, g); };
  double best = -std::numeric_limits<double>::infinity();
  std::vector<double> best_theta;
  for (const auto& start : starts) {
    std::vector<double> x = start;
    // Converged when the log posterior changes by < fit_tolerance: differences that small do not change
    // the model in any way that matters, and a warm fit mostly spends its evaluations below them.
    const double v = maximize_lbfgs(f, lo, hi, x, evals, options_.fit_tolerance, &fit_evals_);
    if (v > best) {
      best = v;
      best_theta = std::move(x);
    }
  }
  if (best_theta.empty()) return fallback;
  log_posterior_ = best;
  return best_theta;
}

void GpModel::fit_fixed(const std::vector<Dimension>& dims, const Matrix& X, const std::vector<double>& y,
                        const Hyper& hyper, double y_mean, double y_std) {
  FitInput in;
  in.dims = dims;
  in.X = X;
  in.y = y;
  validate_fit_input(in, "gp");
  d_ = X.cols;
  dims_ = dims.empty() ? std::vector<Dimension>(d_) : dims;
  if (hyper.lengthscale.size() != d_) throw ValueError("gp: hyper-parameters have the wrong number of lengthscales");
  X_ = to_eigen(X);
  y_mean_ = y_mean;
  y_std_ = y_std;
  z_ = standardized(y, y_mean_, y_std_);
  select_device();
  hyper_ = hyper;
  if (options_.warping && hyper_.warp_a.empty()) {
    hyper_.warp_a.assign(d_, 1.0);
    hyper_.warp_b.assign(d_, 1.0);
  }
  log_posterior_ = std::numeric_limits<double>::quiet_NaN();
  fit_evals_ = 0;
  factorize();
  fitted_ = true;
}

void GpModel::warp(const MatrixXd& X, MatrixXd& Xt, MatrixXd* dXt) const {
  std::vector<size_t> w = warped_coordinates(dims_, options_.warping);
  Xt = X;
  if (dXt) dXt->setOnes(X.rows(), X.cols());
  for (size_t j : w)
    for (Eigen::Index i = 0; i < X.rows(); ++i) {
      Warp r = kumaraswamy(X(i, j), hyper_.warp_a[j], hyper_.warp_b[j]);
      Xt(i, j) = r.w;
      if (dXt) (*dXt)(i, j) = r.dx;
    }
}

void GpModel::cross_r2(const MatrixXd& A, const MatrixXd& B, MatrixXd& r2) const {
  ::bbo::gp::cross_r2(dims_, hyper_.lengthscale, A, B, r2);
}

void GpModel::kernel(const MatrixXd& At, const MatrixXd& Bt, MatrixXd& K) const {
  if (options_.nngp) {
    K = nngp_kernel(dims_, hyper_, options_.nngp_depth, At, Bt);
    return;
  }
  MatrixXd r2;
  cross_r2(At, Bt, r2);
  matern_from_r2(r2, hyper_.signal, K, nullptr);
}

VectorXd GpModel::prior_variance(const MatrixXd& At) const {
  if (options_.nngp) return nngp_diagonal(dims_, hyper_, options_.nngp_depth, At);
  return VectorXd::Constant(At.rows(), hyper_.signal);
}

void GpModel::factorize() {
  if (on_gpu()) {
    const Eigen::Index n = X_.rows();
    std::lock_guard lock(device_->mutex);
    bool ok = false, failed = false;
    try {
      device_->factorized = false;
      L_.resize(n, n);
      alpha_.resize(n);
      ok = device_->engine->factorize(hyper_.lengthscale, hyper_.signal, hyper_.noise, &jitter_, L_.data(),
                                      alpha_.data());
    } catch (const std::exception& e) {
      device_failed(e.what());  // factorize on the CPU below
      failed = true;
    }
    if (!failed) {
      if (!ok)
        throw Error("gp: the kernel matrix (n = " + std::to_string(n) +
                    ") is not positive definite even with jitter 1e-2 of its diagonal");
      L_.triangularView<Eigen::StrictlyUpper>().setZero();
      Xt_ = X_;  // no warping on the GPU path
      device_->factorized = true;
      return;
    }
  }
  warp(X_, Xt_, nullptr);
  MatrixXd K;
  kernel(Xt_, Xt_, K);
  K.diagonal().array() += hyper_.noise;
  if (!cholesky_with_jitter(K, L_, jitter_))
    throw Error("gp: the kernel matrix (n = " + std::to_string(X_.rows()) +
                ") is not positive definite even with jitter 1e-2 of its diagonal");
  L_.triangularView<Eigen::StrictlyUpper>().setZero();
  alpha_ = L_.triangularView<Eigen::Lower>().solve(z_);
  L_.triangularView<Eigen::Lower>().transpose().solveInPlace(alpha_);
}

MatrixXd to_eigen(const Matrix& X) {
  MatrixXd out(static_cast<Eigen::Index>(X.rows), static_cast<Eigen::Index>(X.cols));
  for (size_t i = 0; i < X.rows; ++i)
    for (size_t j = 0; j < X.cols; ++j) out(i, j) = X(i, j);
  return out;
}

void standardization(const std::vector<double>& y, double& mean, double& sd) {
  const size_t n = y.size();
  mean = 0.0;
  for (double v : y) mean += v;
  if (n > 0) mean /= static_cast<double>(n);
  double var = 0.0;
  for (double v : y) var += (v - mean) * (v - mean);
  sd = n > 1 ? std::sqrt(var / static_cast<double>(n)) : 1.0;
  if (!(sd > 1e-12 * std::max(1.0, std::fabs(mean)))) sd = 1.0;  // constant y
}

Eigen::VectorXd standardized(const std::vector<double>& y, double mean, double sd) {
  Eigen::VectorXd z(static_cast<Eigen::Index>(y.size()));
  for (size_t i = 0; i < y.size(); ++i) z[static_cast<Eigen::Index>(i)] = (y[i] - mean) / sd;
  return z;
}

void GpModel::check_query(const Matrix& X) const { validate_query_input(X, fitted_ ? d_ : 0, "gp"); }

Prediction GpModel::predict(const Matrix& Xq) const {
  check_query(Xq);
  const size_t m = Xq.rows;
  Prediction p;
  p.mean.assign(m, y_mean_);
  p.variance.assign(m, hyper_.signal * y_std_ * y_std_);
  if (!fitted_ || m == 0) return p;
  MatrixXd Xt, Kq;
  warp(to_eigen(Xq), Xt, nullptr);
  const VectorXd prior = prior_variance(Xt);
  if (X_.rows() == 0) {
    for (size_t i = 0; i < m; ++i) p.variance[i] = y_std_ * y_std_ * prior[static_cast<Eigen::Index>(i)];
    return p;
  }
  if (device_ && m >= static_cast<size_t>(std::max(options_.gpu_min_predict_rows, 0))) {
    std::lock_guard lock(device_->mutex);
    if (device_->active && device_->factorized) {
      std::vector<double> mean(m), latent(m);
      try {
        device_->engine->predict(Xq.data.data(), m, mean.data(), latent.data());
        for (size_t i = 0; i < m; ++i) {
          p.mean[i] = y_mean_ + y_std_ * mean[i];
          p.variance[i] = y_std_ * y_std_ * std::max(latent[i], 0.0);
        }
        return p;
      } catch (const std::exception& e) {
        device_failed(e.what());  // predict on the CPU below
      }
    }
  }
  // Blocks of queries bound the n × block work matrices (scoring 100k candidates at n = 1000 would
  // otherwise hold 1.6 GB); 1024 columns keep the triangular solve efficient.
  constexpr Eigen::Index kBlock = 1024;
  for (Eigen::Index start = 0; start < static_cast<Eigen::Index>(m); start += kBlock) {
    const Eigen::Index len = std::min(kBlock, static_cast<Eigen::Index>(m) - start);
    kernel(Xt_, Xt.middleRows(start, len), Kq);  // n × len
    VectorXd mean = Kq.transpose() * alpha_;
    L_.triangularView<Eigen::Lower>().solveInPlace(Kq);
    VectorXd explained = Kq.colwise().squaredNorm().transpose();
    for (Eigen::Index i = 0; i < len; ++i) {
      p.mean[static_cast<size_t>(start + i)] = y_mean_ + y_std_ * mean[i];
      p.variance[static_cast<size_t>(start + i)] = y_std_ * y_std_ * std::max(prior[start + i] - explained[i], 0.0);
    }
  }
  return p;
}

PointPrediction GpModel::predict_with_gradient(const double* x) const {
  PointPrediction out;
  out.dmean.assign(d_, 0.0);
  out.dvariance.assign(d_, 0.0);
  out.mean = y_mean_;
  out.variance = hyper_.signal * y_std_ * y_std_;
  if (!fitted_) return out;
  if (options_.nngp) return nngp_predict_with_gradient(x);
  if (X_.rows() == 0) return out;
  MatrixXd xq(1, d_), xt, dxt, r2, k;
  for (size_t j = 0; j < d_; ++j) xq(0, j) = x[j];
  warp(xq, xt, &dxt);
  cross_r2(Xt_, xt, r2);
  MatrixXd G;
  matern_from_r2(r2, hyper_.signal, k, &G);
  // v = L⁻¹k as in predict() (so both report the same variance; s² − kᵀK⁻¹k from an explicit inverse
  // cancels badly when the variance is small), then w = K⁻¹k = L⁻ᵀv for the gradient.
  VectorXd v = L_.triangularView<Eigen::Lower>().solve(k.col(0));
  const double latent = hyper_.signal - v.squaredNorm();
  VectorXd w = L_.triangularView<Eigen::Lower>().transpose().solve(v);
  out.mean = y_mean_ + y_std_ * k.col(0).dot(alpha_);
  out.variance = y_std_ * y_std_ * std::max(latent, 0.0);
  for (size_t j = 0; j < d_; ++j) {
    if (is_categorical(dims_, j)) continue;
    // dk_i/dx_j = G_i · 2 (x̃_j − X̃_ij) / ℓ_j² · dx̃_j/dx_j
    VectorXd dk = G.col(0).cwiseProduct((xt(0, j) - Xt_.col(j).array()).matrix()) *
                  (2.0 * dxt(0, j) / (hyper_.lengthscale[j] * hyper_.lengthscale[j]));
    out.dmean[j] = y_std_ * dk.dot(alpha_);
    out.dvariance[j] = latent > 0 ? -2.0 * y_std_ * y_std_ * dk.dot(w) : 0.0;
  }
  return out;
}

PointPrediction GpModel::nngp_predict_with_gradient(const double* x) const {
  // Forward-mode derivatives of k(x, X_i) and of the prior variance s² K^L(x, x) through the recursion.
  PointPrediction out;
  out.dmean.assign(d_, 0.0);
  out.dvariance.assign(d_, 0.0);
  const Eigen::Index n = X_.rows(), d = static_cast<Eigen::Index>(d_);
  MatrixXd xq(1, d), xt, dxt;
  for (Eigen::Index j = 0; j < d; ++j) xq(0, j) = x[j];
  warp(xq, xt, &dxt);
  VectorXd kb = nngp_base(dims_, hyper_, Xt_, xt).col(0);
  VectorXd db = nngp_base_diagonal(dims_, hyper_, Xt_);
  double kq = nngp_base_diagonal(dims_, hyper_, xt)[0];
  MatrixXd dK = MatrixXd::Zero(n, d);
  Eigen::RowVectorXd dkq = Eigen::RowVectorXd::Zero(d);
  for (Eigen::Index j = 0; j < d; ++j) {
    if (is_categorical(dims_, static_cast<size_t>(j))) continue;
    const double w = 1.0 / (hyper_.lengthscale[static_cast<size_t>(j)] * hyper_.lengthscale[static_cast<size_t>(j)]);
    dK.col(j) = (w * dxt(0, j)) * (Xt_.col(j).array() - 0.5).matrix();
    dkq[j] = 2.0 * w * (xt(0, j) - 0.5) * dxt(0, j);
  }
  for (int l = 0; l < options_.nngp_depth; ++l) {
    for (Eigen::Index i = 0; i < n; ++i) {
      ArcCos a = arccos_layer(kb[i], db[i], kq);
      kb[i] = hyper_.bias + a.value;
      dK.row(i) = a.d_ab * dK.row(i) + a.d_bb * dkq;
    }
    db.array() += hyper_.bias;
    kq += hyper_.bias;  // the diagonal's derivative is unchanged by a layer
  }
  const double s = hyper_.signal, s2y = y_std_ * y_std_;
  const VectorXd k = s * kb;
  const MatrixXd dk = s * dK;
  const double prior = s * kq;
  const Eigen::RowVectorXd dprior = s * dkq;
  if (n == 0) {
    out.mean = y_mean_;
    out.variance = s2y * prior;
    for (Eigen::Index j = 0; j < d; ++j) out.dvariance[static_cast<size_t>(j)] = s2y * dprior[j];
    return out;
  }
  VectorXd v = L_.triangularView<Eigen::Lower>().solve(k);
  const double latent = prior - v.squaredNorm();
  VectorXd w = L_.triangularView<Eigen::Lower>().transpose().solve(v);
  out.mean = y_mean_ + y_std_ * k.dot(alpha_);
  out.variance = s2y * std::max(latent, 0.0);
  for (Eigen::Index j = 0; j < d; ++j) {
    out.dmean[static_cast<size_t>(j)] = y_std_ * dk.col(j).dot(alpha_);
    out.dvariance[static_cast<size_t>(j)] = latent > 0 ? s2y * (dprior[j] - 2.0 * dk.col(j).dot(w)) : 0.0;
  }
  return out;
}

MatrixXd GpModel::posterior_covariance(const Matrix& Xq, VectorXd* mean) const {
  check_query(Xq);
  const Eigen::Index m = static_cast<Eigen::Index>(Xq.rows);
  MatrixXd Xt, Kmm;
  warp(to_eigen(Xq), Xt, nullptr);
  kernel(Xt, Xt, Kmm);
  if (mean) mean->setConstant(m, y_mean_);
  if (fitted_ && X_.rows() > 0 && m > 0) {
    MatrixXd Kq;
    kernel(Xt_, Xt, Kq);
    if (mean) *mean = (Kq.transpose() * alpha_ * y_std_).array() + y_mean_;
    L_.triangularView<Eigen::Lower>().solveInPlace(Kq);
    Kmm.noalias() -= Kq.transpose() * Kq;
  }
  return Kmm * (y_std_ * y_std_);
}

Matrix GpModel::sample(const Matrix& Xq, size_t k, std::mt19937_64& rng) const {
  VectorXd mean;
  MatrixXd cov = posterior_covariance(Xq, &mean);
  const Eigen::Index m = cov.rows();
  Matrix out(k, static_cast<size_t>(m));
  if (m == 0) return out;
  MatrixXd factor;
  double jitter = 0.0;
  if (cholesky_with_jitter(cov, factor, jitter)) {
    factor.triangularView<Eigen::StrictlyUpper>().setZero();
  } else {
    // Numerically indefinite beyond any jitter (e.g. near-duplicate query points with a tiny variance): a
    // symmetric square root with the negative eigenvalues clipped.
    Eigen::SelfAdjointEigenSolver<MatrixXd> es(cov);
    factor = es.eigenvectors() * es.eigenvalues().cwiseMax(0.0).cwiseSqrt().asDiagonal();
  }
  std::normal_distribution<double> normal;
  VectorXd e(m);
  for (size_t s = 0; s < k; ++s) {
    for (Eigen::Index i = 0; i < m; ++i) e[i] = normal(rng);
    VectorXd f = mean + factor * e;
    for (Eigen::Index i = 0; i < m; ++i) out(s, static_cast<size_t>(i)) = f[i];
  }
  return out;
}

std::shared_ptr<GpModel> GpModel::condition_on(const Matrix& Xn, const std::vector<double>& yn) const {
  validate_condition_input(Xn, yn, fitted_ ? d_ : 0, "gp");
  auto c = std::make_shared<GpModel>(*this);
  c->device_.reset();  // the copy's factor changes: it computes on the CPU
  if (!fitted_) {
    c->d_ = Xn.cols;
    c->dims_.assign(c->d_, Dimension{});
    c->X_.resize(0, static_cast<Eigen::Index>(c->d_));
    MapObjective prior(c->dims_, c->X_, c->z_, options_);
    c->hyper_ = prior.unpack(prior.prior_start(nullptr).data());
    c->z_.resize(0);
    c->fitted_ = true;
  }
  const Eigen::Index n = X_.rows(), p = static_cast<Eigen::Index>(Xn.rows);
  if (p == 0) return c;
  MatrixXd Xnew = to_eigen(Xn);
  VectorXd znew(p);
  for (Eigen::Index i = 0; i < p; ++i) znew[i] = (yn[i] - y_mean_) / y_std_;
  c->X_.conservativeResize(n + p, Eigen::NoChange);
  c->X_.bottomRows(p) = Xnew;
  c->z_.conservativeResize(n + p);
  c->z_.tail(p) = znew;
  if (n == 0) {
    c->factorize();
    return c;
  }
  // Block Cholesky: [L 0; Bᵀ S] with B = L⁻¹ K12 and S = chol(K22 + (σ² + jitter) I − BᵀB), O(n² p).
  MatrixXd Xt_new, K12, K22;
  c->warp(Xnew, Xt_new, nullptr);
  c->kernel(Xt_, Xt_new, K12);
  c->kernel(Xt_new, Xt_new, K22);
  L_.triangularView<Eigen::Lower>().solveInPlace(K12);  // B
  K22.diagonal().array() += hyper_.noise + jitter_;
  K22.noalias() -= K12.transpose() * K12;
  Eigen::LLT<MatrixXd> llt(K22);
  if (llt.info() != Eigen::Success || !llt.matrixL().toDenseMatrix().diagonal().allFinite()) {
    c->factorize();  // the update is ill-conditioned: refactorize with jitter escalation
    return c;
  }
  c->Xt_.conservativeResize(n + p, Eigen::NoChange);
  c->Xt_.bottomRows(p) = Xt_new;
  c->L_.conservativeResize(n + p, n + p);
  c->L_.topRightCorner(n, p).setZero();
  c->L_.bottomLeftCorner(p, n) = K12.transpose();
  c->L_.bottomRightCorner(p, p) = llt.matrixL();
  c->alpha_ = c->L_.triangularView<Eigen::Lower>().solve(c->z_);
  c->L_.triangularView<Eigen::Lower>().transpose().solveInPlace(c->alpha_);
  c->log_posterior_ = std::numeric_limits<double>::quiet_NaN();
  return c;
}

double GpModel::noise_variance() const { return hyper_.noise * y_std_ * y_std_; }

json GpModel::state() const {
  if (!fitted_) return nullptr;
  json s = {{"model", "gp"},
            {"d", d_},
            {"lengthscale", hyper_.lengthscale},
            {"signal", hyper_.signal},
            {"noise", hyper_.noise}};
  if (options_.warping) {
    s["warp_a"] = hyper_.warp_a;
    s["warp_b"] = hyper_.warp_b;
  }
  if (options_.nngp) {
    s["kernel"] = "nngp";
    s["depth"] = options_.nngp_depth;
    s["bias"] = hyper_.bias;
  }
  return s;
}

}  // namespace bbo::gp

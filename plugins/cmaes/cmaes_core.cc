// cmaes_core.cc — CMA-ES update equations (Hansen 2016 tutorial, Table 1 / Appendix A), with margin and IPOP.
#include "plugins/cmaes/cmaes_core.h"

#include <boost/math/distributions/normal.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace bbo::cmaes {
namespace {

// Normal deviates by Box–Muller on 53-bit uniforms: the same numbers on every standard library (the
// distributions of <random> are implementation-defined), so states and seeds reproduce across platforms.
class Normals {
 public:
  explicit Normals(std::mt19937_64& rng) : rng_(rng) {}
  double operator()() {
    if (have_spare_) {
      have_spare_ = false;
      return spare_;
    }
    const double u1 = (static_cast<double>(rng_() >> 11) + 0.5) * 0x1.0p-53;  // in (0,1): log is finite
    const double u2 = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double t = 2.0 * 3.14159265358979323846 * u2;
    spare_ = r * std::sin(t);
    have_spare_ = true;
    return r * std::cos(t);
  }

 private:
  std::mt19937_64& rng_;
  double spare_ = 0.0;
  bool have_spare_ = false;
};

double uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }


std::vector<double> to_vector(const Eigen::VectorXd& v) { return {v.data(), v.data() + v.size()}; }

Eigen::VectorXd from_vector(const std::vector<double>& v) {
  return Eigen::Map<const Eigen::VectorXd>(v.data(), static_cast<Eigen::Index>(v.size()));
}

constexpr double kConditionMax = 1e14;
constexpr double kSigmaMax = 1e30;

}  // namespace

double mirror_into_cube(double x) {
  if (x >= 0.0 && x <= 1.0) return x;
  if (!std::isfinite(x)) return 0.5;
  double u = std::fmod(x, 2.0);
  if (u < 0.0) u += 2.0;
  return u > 1.0 ? 2.0 - u : u;
}

std::vector<double> mirror_into_cube(std::vector<double> x) {
  for (double& v : x) v = mirror_into_cube(v);
  return x;
}

int default_popsize(int dim) { return 4 + static_cast<int>(std::floor(3.0 * std::log(static_cast<double>(dim)))); }

CmaEs::CmaEs(const CmaOptions& options, std::vector<double> mean, std::vector<bool> discrete)
    : options_(options), dim_(static_cast<int>(mean.size())), discrete_(std::move(discrete)) {
  if (dim_ < 1) throw std::invalid_argument("cmaes: dimension must be >= 1");
  if (!(options.sigma0 > 0.0) || !std::isfinite(options.sigma0))
    throw std::invalid_argument("cmaes: sigma0 must be > 0, got " + std::to_string(options.sigma0));
  if (options.popsize < 0 || options.popsize == 1)
    throw std::invalid_argument("cmaes: popsize must be 0 (default) or >= 2, got " + std::to_string(options.popsize));
  if (!(options.inc_popsize >= 1.0))
    throw std::invalid_argument("cmaes: inc_popsize must be >= 1, got " + std::to_string(options.inc_popsize));
  if (options.margin >= 0.5) throw std::invalid_argument("cmaes: margin must be < 0.5 (or < 0 for the default)");
  if (discrete_.empty()) discrete_.assign(static_cast<size_t>(dim_), false);
  if (discrete_.size() != mean.size()) throw std::invalid_argument("cmaes: discrete flags of the wrong size");
  for (double& m : mean) m = mirror_into_cube(m);
  mean_ = from_vector(mean);
  lambda_ = options.popsize > 0 ? options.popsize : default_popsize(dim_);
  sigma_ = options.sigma0;
  pc_ = ps_ = Eigen::VectorXd::Zero(dim_);
  a_ = Eigen::VectorXd::Ones(dim_);
  cov_ = Eigen::MatrixXd::Identity(dim_, dim_);
  set_strategy_parameters();
}

void CmaEs::set_strategy_parameters() {
  const double n = dim_;
  mu_ = lambda_ / 2;
  Eigen::VectorXd w(lambda_);
  for (int i = 0; i < lambda_; ++i) w[i] = std::log((lambda_ + 1) / 2.0) - std::log(i + 1.0);
  const double sum_pos = w.head(mu_).sum();
  mueff_ = sum_pos * sum_pos / w.head(mu_).squaredNorm();
  const int n_neg = lambda_ - mu_;
  double mueff_neg = 0.0, sum_neg = 0.0;
  if (n_neg > 0) {
    sum_neg = -w.tail(n_neg).sum();
    const double sq = w.tail(n_neg).squaredNorm();
    mueff_neg = sq > 0 ? sum_neg * sum_neg / sq : 0.0;
  }
  cc_ = (4.0 + mueff_ / n) / (n + 4.0 + 2.0 * mueff_ / n);
  cs_ = (mueff_ + 2.0) / (n + mueff_ + 5.0);
  c1_ = 2.0 / ((n + 1.3) * (n + 1.3) + mueff_);
  cmu_ = std::min(1.0 - c1_, 2.0 * (mueff_ - 2.0 + 1.0 / mueff_) / ((n + 2.0) * (n + 2.0) + mueff_));
  if (options_.separable) {
    // Ros & Hansen (2008): a diagonal C learns (d + 2) / 3 times faster.
    c1_ = std::min(1.0, c1_ * (n + 2.0) / 3.0);
    cmu_ = std::min(1.0 - c1_, cmu_ * (n + 2.0) / 3.0);
  }
  ds_ = 1.0 + 2.0 * std::max(0.0, std::sqrt((mueff_ - 1.0) / (n + 1.0)) - 1.0) + cs_;
  chin_ = std::sqrt(n) * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n));
  // Active weights, scaled so that C stays positive definite (tutorial eq. 53).
  const double alpha_mu = 1.0 + c1_ / cmu_;
  const double alpha_mueff = 1.0 + 2.0 * mueff_neg / (mueff_ + 2.0);
  const double alpha_posdef = (1.0 - c1_ - cmu_) / (n * cmu_);
  const double neg_scale = std::min({alpha_mu, alpha_mueff, alpha_posdef});
  weights_ = w;
  for (int i = 0; i < lambda_; ++i)
    weights_[i] = i < mu_ ? w[i] / sum_pos : (sum_neg > 0 ? neg_scale * w[i] / sum_neg : 0.0);
}

void CmaEs::set_sigma(double sigma) {
  if (!(sigma > 0.0) || !std::isfinite(sigma)) throw std::invalid_argument("cmaes: sigma must be > 0");
  sigma_ = sigma;
}

void CmaEs::decompose(Eigen::MatrixXd& b, Eigen::VectorXd& d) const {
  if (options_.separable) {
    b = Eigen::MatrixXd::Identity(dim_, dim_);
    d = cov_.diagonal().cwiseMax(1e-300).cwiseSqrt();
    return;
  }
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(cov_);
  b = es.eigenvectors();
  d = es.eigenvalues().cwiseMax(1e-300).cwiseSqrt();
}

std::vector<std::vector<double>> CmaEs::ask(std::mt19937_64& rng) const {
  Eigen::MatrixXd b;
  Eigen::VectorXd d;
  decompose(b, d);
  Normals normal(rng);
  std::vector<std::vector<double>> out(static_cast<size_t>(lambda_), std::vector<double>(dim_));
  Eigen::MatrixXd zs(dim_, lambda_);
  for (int k = 0; k < lambda_; ++k)
    for (int j = 0; j < dim_; ++j) zs(j, k) = normal();
  if (options_.orthogonal && dim_ > 1) {
    for (int start = 0; start < lambda_; start += dim_) {
      const int cols = std::min(dim_, lambda_ - start);
      Eigen::MatrixXd g = zs.middleCols(start, cols);
      Eigen::HouseholderQR<Eigen::MatrixXd> qr(g);
      Eigen::MatrixXd q = qr.householderQ() * Eigen::MatrixXd::Identity(dim_, cols);
      const Eigen::MatrixXd r = qr.matrixQR().topRows(cols).triangularView<Eigen::Upper>();
      for (int c = 0; c < cols; ++c) {
        // Sign fix (diag(R) > 0) makes Q Haar-distributed; Q is independent of R, whose column norms are
        // the chi_d lengths of g's columns.
        const double sign = r(c, c) < 0 ? -1.0 : 1.0;
        zs.col(start + c) = sign * q.col(c) * g.col(c).norm();
      }
    }
  }
  Eigen::VectorXd z(dim_);
  for (int k = 0; k < lambda_; ++k) {
    z = zs.col(k);
    const Eigen::VectorXd y = options_.separable ? Eigen::VectorXd(d.cwiseProduct(z)) : Eigen::VectorXd(b * d.cwiseProduct(z));
    for (int j = 0; j < dim_; ++j) out[k][j] = mean_[j] + sigma_ * a_[j] * y[j];
    if (!options_.resample) continue;
    auto inside = [](const std::vector<double>& p) {
      return std::all_of(p.begin(), p.end(), [](double v) { return v >= 0.0 && v <= 1.0; });
    };
    for (int attempt = 0; attempt < 10 * dim_ && !inside(out[k]); ++attempt) {
      for (int j = 0; j < dim_; ++j) z[j] = normal();
      const Eigen::VectorXd y2 = options_.separable ? Eigen::VectorXd(d.cwiseProduct(z)) : Eigen::VectorXd(b * d.cwiseProduct(z));
      for (int j = 0; j < dim_; ++j) out[k][j] = mean_[j] + sigma_ * a_[j] * y2[j];
    }
  }
  return out;
}

void CmaEs::tell(const std::vector<std::vector<double>>& x, const std::vector<double>& f, std::mt19937_64& rng,
                 const BinFunction& bins) {
  if (x.size() != static_cast<size_t>(lambda_) || f.size() != x.size())
    throw std::invalid_argument("cmaes: tell expects " + std::to_string(lambda_) + " points and values");
  const double n = dim_;
  std::vector<double> fv(f);
  for (double& v : fv)
    if (std::isnan(v)) v = std::numeric_limits<double>::infinity();
  std::vector<int> order(static_cast<size_t>(lambda_));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return fv[a] < fv[b]; });

  Eigen::MatrixXd b;
  Eigen::VectorXd d;
  decompose(b, d);
  // y_i = (x_i - m) / (sigma A): steps in the space where y ~ N(0, C).
  Eigen::MatrixXd y(dim_, lambda_);
  for (int k = 0; k < lambda_; ++k) {
    const auto& xi = x[static_cast<size_t>(order[k])];
    if (xi.size() != static_cast<size_t>(dim_)) throw std::invalid_argument("cmaes: point of the wrong dimension");
    for (int j = 0; j < dim_; ++j) y(j, k) = (xi[j] - mean_[j]) / (sigma_ * a_[j]);
  }
  const Eigen::VectorXd yw = y.leftCols(mu_) * weights_.head(mu_);
  mean_ += sigma_ * a_.cwiseProduct(yw);

  // C^(-1/2) v = B D^-1 B^T v.
  auto inv_sqrt = [&](const Eigen::VectorXd& v) -> Eigen::VectorXd {
    if (options_.separable) return v.cwiseQuotient(d);
    return b * (b.transpose() * v).cwiseQuotient(d);
  };
  ps_ = (1.0 - cs_) * ps_ + std::sqrt(cs_ * (2.0 - cs_) * mueff_) * inv_sqrt(yw);
  const double ps_norm = ps_.norm();
  const double gen = static_cast<double>(generation_ + 1);
  const bool hsig = ps_norm / std::sqrt(1.0 - std::pow(1.0 - cs_, 2.0 * gen)) < (1.4 + 2.0 / (n + 1.0)) * chin_;
  pc_ = (1.0 - cc_) * pc_ + (hsig ? std::sqrt(cc_ * (2.0 - cc_) * mueff_) : 0.0) * yw;

  Eigen::VectorXd w0 = weights_;
  for (int k = mu_; k < lambda_; ++k) {
    const double norm2 = inv_sqrt(y.col(k)).squaredNorm();
    w0[k] = norm2 > 0 ? weights_[k] * n / norm2 : 0.0;
  }
  const double delta_h = hsig ? 0.0 : cc_ * (2.0 - cc_);
  const double decay = 1.0 + c1_ * delta_h - c1_ - cmu_ * weights_.sum();
  if (options_.separable) {
    Eigen::VectorXd diag = decay * cov_.diagonal() + c1_ * pc_.cwiseAbs2();
    for (int k = 0; k < lambda_; ++k) diag += cmu_ * w0[k] * y.col(k).cwiseAbs2();
    cov_ = diag.cwiseMax(1e-300).asDiagonal();
  } else {
    Eigen::MatrixXd rank_mu = y * w0.asDiagonal() * y.transpose();
    cov_ = decay * cov_ + c1_ * pc_ * pc_.transpose() + cmu_ * rank_mu;
    cov_ = (0.5 * (cov_ + cov_.transpose())).eval();  // eval: no aliasing of cov_
  }
  sigma_ *= std::exp(std::min(1.0, (cs_ / ds_) * (ps_norm / chin_ - 1.0)));
  sigma_ = std::min(sigma_, kSigmaMax);

  // Histories for TolFun.
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  for (double v : fv)
    if (std::isfinite(v)) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  // Finite stand-ins for "no finite value": JSON has no infinity.
  last_range_ = std::isfinite(lo) ? hi - lo : std::numeric_limits<double>::max();
  best_history_.push_back(std::isfinite(lo) ? lo : std::numeric_limits<double>::max());
  const size_t hist_len = 10 + static_cast<size_t>(std::ceil(30.0 * n / lambda_));
  if (best_history_.size() > hist_len) best_history_.erase(best_history_.begin());

  ++generation_;
  ++total_generations_;
  if (options_.ipop) {
    const std::string why = stop_reason();
    if (!why.empty()) {
      last_stop_ = why;
      restart(rng);
    }
  }
  apply_margin(bins);
}

std::string CmaEs::stop_reason() const {
  const double n = dim_;
  const size_t hist_len = 10 + static_cast<size_t>(std::ceil(30.0 * n / lambda_));
  if (best_history_.size() >= hist_len) {
    const auto [lo, hi] = std::minmax_element(best_history_.begin(), best_history_.end());
    if (*hi - *lo < options_.tol_fun && last_range_ < options_.tol_fun) return "tol_fun";
  }
  bool tiny = true;
  for (int j = 0; j < dim_ && tiny; ++j)
    tiny = sigma_ * std::max(std::abs(pc_[j]), std::sqrt(cov_(j, j))) < options_.tol_x * options_.sigma0;
  if (tiny) return "tol_x";
  Eigen::MatrixXd b;
  Eigen::VectorXd d;
  decompose(b, d);
  const double dmax = d.maxCoeff(), dmin = d.minCoeff();
  if (dmax * dmax > kConditionMax * dmin * dmin) return "condition_cov";
  if (sigma_ / options_.sigma0 > 1e20 * dmax) return "tol_upsigma";
  const int axis = static_cast<int>(generation_ % dim_);
  bool no_effect = true;
  for (int j = 0; j < dim_ && no_effect; ++j)
    no_effect = mean_[j] == mean_[j] + 0.1 * sigma_ * d[axis] * b(j, axis);
  if (no_effect) return "no_effect_axis";
  for (int j = 0; j < dim_; ++j)
    if (!discrete_[j] && mean_[j] == mean_[j] + 0.2 * sigma_ * std::sqrt(cov_(j, j))) return "no_effect_coord";
  return "";
}

void CmaEs::restart(std::mt19937_64& rng) {
  ++restarts_;
  if (options_.inc_popsize > 1.0)
    lambda_ = std::max(lambda_ + 1, static_cast<int>(std::lround(lambda_ * options_.inc_popsize)));
  for (int j = 0; j < dim_; ++j) mean_[j] = uniform01(rng);
  sigma_ = options_.sigma0;
  pc_.setZero();
  ps_.setZero();
  a_.setOnes();
  cov_ = Eigen::MatrixXd::Identity(dim_, dim_);
  generation_ = 0;
  best_history_.clear();
  last_range_ = 0.0;
  set_strategy_parameters();
}

void CmaEs::apply_margin(const BinFunction& bins) {
  bool any = false;
  for (bool b : discrete_) any = any || b;
  if (!any) return;
  if (!bins) throw std::invalid_argument("cmaes: discrete dimensions need a bin function");
  const double alpha = options_.margin >= 0 ? options_.margin : 1.0 / (dim_ * static_cast<double>(lambda_));
  if (alpha <= 0.0) {
    a_.setOnes();
    return;
  }
  boost::math::normal_distribution<double> normal;
  const double z = boost::math::quantile(normal, 1.0 - alpha);  // P(N(0,1) > z) = alpha
  for (int j = 0; j < dim_; ++j) {
    a_[j] = 1.0;
    if (!discrete_[j]) continue;
    // Mirroring is an isometry away from the faces, and a face is no boundary of a bin (crossing it reflects
    // back into the same bin): only interior bin boundaries count, measured from the mirrored mean.
    const double u = mirror_into_cube(mean_[j]);
    const auto [lo, hi] = bins(static_cast<size_t>(j), u);
    double dist = std::numeric_limits<double>::infinity();
    if (lo > 0.0) dist = std::min(dist, u - lo);
    if (hi < 1.0) dist = std::min(dist, hi - u);
    if (!std::isfinite(dist)) continue;  // a single bin: nothing to leave for
    // The marginal std sigma * A_j * sqrt(C_jj) reaches the nearest other bin with probability >= alpha.
    const double needed = std::max(dist, 0.0) / z;
    const double have = sigma_ * std::sqrt(cov_(j, j));
    if (have > 0 && needed > have) a_[j] = needed / have;
  }
}

json CmaEs::to_json() const {
  json j;
  j["options"] = {{"sigma0", options_.sigma0},       {"popsize", options_.popsize},
                  {"ipop", options_.ipop},           {"inc_popsize", options_.inc_popsize},
                  {"separable", options_.separable}, {"margin", options_.margin},
                  {"tol_fun", options_.tol_fun},     {"tol_x", options_.tol_x},
                  {"orthogonal", options_.orthogonal}, {"resample", options_.resample}};
  j["discrete"] = discrete_;
  j["mean"] = to_vector(mean_);
  j["pc"] = to_vector(pc_);
  j["ps"] = to_vector(ps_);
  j["a"] = to_vector(a_);
  if (options_.separable) {
    j["cov_diag"] = to_vector(cov_.diagonal());
  } else {
    std::vector<double> upper;  // row-major upper triangle
    for (int r = 0; r < dim_; ++r)
      for (int c = r; c < dim_; ++c) upper.push_back(cov_(r, c));
    j["cov_upper"] = upper;
  }
  j["sigma"] = sigma_;
  j["lambda"] = lambda_;
  j["generation"] = generation_;
  j["total_generations"] = total_generations_;
  j["restarts"] = restarts_;
  j["best_history"] = best_history_;
  j["last_range"] = last_range_;
  j["last_stop"] = last_stop_;
  return j;
}

CmaEs CmaEs::from_json(const json& j) {
  CmaEs s;
  const json& o = j.at("options");
  s.options_.sigma0 = o.at("sigma0").get<double>();
  s.options_.popsize = o.at("popsize").get<int>();
  s.options_.ipop = o.at("ipop").get<bool>();
  s.options_.inc_popsize = o.at("inc_popsize").get<double>();
  s.options_.separable = o.at("separable").get<bool>();
  s.options_.margin = o.at("margin").get<double>();
  s.options_.tol_fun = o.at("tol_fun").get<double>();
  s.options_.tol_x = o.at("tol_x").get<double>();
  s.options_.orthogonal = o.at("orthogonal").get<bool>();
  s.options_.resample = o.at("resample").get<bool>();
  s.discrete_ = j.at("discrete").get<std::vector<bool>>();
  s.dim_ = static_cast<int>(s.discrete_.size());
  auto vec = [&](const char* key) {
    auto v = j.at(key).get<std::vector<double>>();
    if (v.size() != static_cast<size_t>(s.dim_)) throw std::invalid_argument(std::string("cmaes state: bad ") + key);
    return from_vector(v);
  };
  s.mean_ = vec("mean");
  s.pc_ = vec("pc");
  s.ps_ = vec("ps");
  s.a_ = vec("a");
  if (s.options_.separable) {
    s.cov_ = vec("cov_diag").asDiagonal();
  } else {
    auto upper = j.at("cov_upper").get<std::vector<double>>();
    if (upper.size() != static_cast<size_t>(s.dim_ * (s.dim_ + 1) / 2))
      throw std::invalid_argument("cmaes state: bad cov_upper");
    s.cov_.resize(s.dim_, s.dim_);
    size_t k = 0;
    for (int r = 0; r < s.dim_; ++r)
      for (int c = r; c < s.dim_; ++c) s.cov_(r, c) = s.cov_(c, r) = upper[k++];
  }
  s.sigma_ = j.at("sigma").get<double>();
  s.lambda_ = j.at("lambda").get<int>();
  if (s.dim_ < 1 || s.lambda_ < 2) throw std::invalid_argument("cmaes state: bad dimension or lambda");
  s.generation_ = j.at("generation").get<int64_t>();
  s.total_generations_ = j.at("total_generations").get<int64_t>();
  s.restarts_ = j.at("restarts").get<int>();
  s.best_history_ = j.at("best_history").get<std::vector<double>>();
  s.last_range_ = j.at("last_range").get<double>();
  s.last_stop_ = j.at("last_stop").get<std::string>();
  s.set_strategy_parameters();
  return s;
}

}  // namespace bbo::cmaes

#include "surrogates/cqr/cqr_core.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "bbo/error.h"

namespace bbo::cqr {
namespace {

// The k-th order statistic with k = ⌈τ n⌉: an exact minimizer of the pinball loss over the values (linear
// interpolation between order statistics, numpy's default, can fall outside the minimizing interval).
double order_quantile(std::vector<double>& v, double tau) {
  size_t n = v.size();
  double kk = std::ceil(tau * static_cast<double>(n) - 1e-9);
  size_t k = static_cast<size_t>(std::clamp(kk, 1.0, static_cast<double>(n)));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k - 1), v.end());
  return v[k - 1];
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

int category_index(double encoded, int levels) {
  if (!(encoded > 0)) return 0;  // also NaN
  double c = std::floor(encoded * levels);
  return static_cast<int>(std::min(c, static_cast<double>(levels - 1)));
}

Dataset::Dataset(const Matrix& X, const std::vector<Dimension>& dims, const std::vector<double>& y) : y_(y) {
  if (X.rows != y.size())
    throw ValueError("cqr: X has " + std::to_string(X.rows) + " rows but y has " + std::to_string(y.size()) +
                     " values");
  if (!dims.empty() && dims.size() != X.cols)
    throw ValueError("cqr: " + std::to_string(dims.size()) + " dimensions given for " + std::to_string(X.cols) +
                     " columns of X");
  size_t n = X.rows, d = X.cols;
  x_.resize(n * d);
  rows_ = X.data;
  kinds_.assign(d, false);
  levels_.assign(d, 0);
  order_.resize(d);
  cat_.resize(d);
  for (size_t j = 0; j < d; ++j) {
    for (size_t i = 0; i < n; ++i) x_[j * n + i] = X(i, j);
    if (!dims.empty() && dims[j].kind == DimensionKind::kCategorical && dims[j].levels >= 1) {
      kinds_[j] = true;
      levels_[j] = static_cast<int>(dims[j].levels);
      cat_[j].resize(n);
      for (size_t i = 0; i < n; ++i) cat_[j][i] = category_index(X(i, j), levels_[j]);
    } else {
      auto& o = order_[j];
      o.resize(n);
      std::iota(o.begin(), o.end(), 0u);
      const double* col = x_.data() + j * n;
      std::stable_sort(o.begin(), o.end(), [col](uint32_t a, uint32_t b) { return col[a] < col[b]; });
    }
  }
}

double pinball_loss(const std::vector<double>& y, const std::vector<double>& q, double tau) {
  if (y.empty()) return 0.0;
  double s = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    double r = y[i] - q[i];
    s += r >= 0 ? tau * r : (tau - 1) * r;
  }
  return s / static_cast<double>(y.size());
}

double conformal_margin(std::vector<double> scores, double coverage) {
  size_t n = scores.size();
  if (n == 0) return 0.0;
  double kk = std::ceil(coverage * static_cast<double>(n + 1) - 1e-9);
  size_t k = static_cast<size_t>(std::clamp(kk, 1.0, static_cast<double>(n)));
  std::nth_element(scores.begin(), scores.begin() + static_cast<std::ptrdiff_t>(k - 1), scores.end());
  return scores[k - 1];
}

uint32_t QuantileGbrt::leaf_of(uint32_t id, const double* x) const {
  while (nodes_[id].feature >= 0) {
    const Node& nd = nodes_[id];
    bool left;
    if (nd.categorical) {
      int c = category_index(x[nd.feature], levels_[static_cast<size_t>(nd.feature)]);
      left = (cat_bits_[nd.cat_offset + static_cast<size_t>(c) / 64] >> (c % 64)) & 1u;
    } else {
      left = x[nd.feature] <= nd.threshold;
    }
    id = nd.left + (left ? 0u : 1u);
  }
  return id;
}

void QuantileGbrt::predict_rows(const Matrix& X, double* out, size_t stride) const {
  for (size_t i = 0; i < X.rows; ++i) out[i * stride] = init_;
  for (uint32_t root : roots_) {
    if (nodes_[root].feature < 0) {
      double v = nodes_[root].value;
      for (size_t i = 0; i < X.rows; ++i) out[i * stride] += v;
      continue;
    }
    for (size_t i = 0; i < X.rows; ++i) out[i * stride] += nodes_[leaf_of(root, X.row(i))].value;
  }
}

double QuantileGbrt::predict(const double* x, size_t n_trees) const {
  double f = init_;
  size_t t_end = std::min(n_trees, roots_.size());
  for (size_t t = 0; t < t_end; ++t) f += nodes_[leaf_of(roots_[t], x)].value;
  return f;
}

void QuantileGbrt::fit(const Dataset& data, double tau, const GbrtParams& params, std::mt19937_64& rng) {
  const size_t n = data.rows(), d = data.cols();
  if (n == 0) throw ValueError("cqr: cannot fit a quantile model to 0 rows");
  tau_ = tau;
  nodes_.clear();
  roots_.clear();
  cat_bits_.clear();
  round_losses_.clear();
  levels_ = data.levels_;
  const auto& y = data.y_;
  const size_t msl = static_cast<size_t>(std::max(1, params.min_samples_leaf));

  {
    std::vector<double> tmp = y;
    init_ = order_quantile(tmp, tau);
  }
  std::vector<double> F(n, init_);
  round_losses_.push_back(pinball_loss(y, F, tau));

  const size_t n_inbag =
      params.subsample < 1.0
          ? std::max<size_t>(1, static_cast<size_t>(std::floor(params.subsample * static_cast<double>(n))))
          : n;
  std::vector<uint32_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0u);
  std::vector<char> inbag(n, 1);
  std::vector<double> g(n);
  std::vector<int> node_of(n);
  std::vector<uint32_t> leaf_global(n);

  // Per local node of the tree being grown.
  std::vector<double> nsum;
  std::vector<size_t> ncnt;
  std::vector<int> slot_of;
  // Per frontier slot: best split found.
  struct Best {
    double gain = 0;
    int feature = -1;
    double threshold = 0;
    std::vector<int> left_cats;
  };
  std::vector<double> lsum, last;
  std::vector<size_t> lcnt;
  std::vector<double> csum;
  std::vector<size_t> ccnt;
  std::vector<std::vector<double>> leaf_res;

  for (int round = 0; round < params.n_estimators; ++round) {
    if (n_inbag < n) {
      for (size_t i = 0; i < n_inbag; ++i) {
        std::uniform_int_distribution<size_t> pick(i, n - 1);
        std::swap(perm[i], perm[pick(rng)]);
      }
      std::fill(inbag.begin(), inbag.end(), 0);
      for (size_t i = 0; i < n_inbag; ++i) inbag[perm[i]] = 1;
    }
    const uint32_t root = static_cast<uint32_t>(nodes_.size());
    nodes_.push_back(Node{});
    nsum.assign(1, 0.0);
    ncnt.assign(1, 0);
    for (size_t i = 0; i < n; ++i) {
      g[i] = y[i] > F[i] ? tau : tau - 1;
      node_of[i] = inbag[i] ? 0 : -1;
      if (inbag[i]) {
        nsum[0] += g[i];
        ++ncnt[0];
      }
    }
    std::vector<int> frontier = {0};
    for (int depth = 0; depth < params.max_depth && !frontier.empty(); ++depth) {
      size_t S = frontier.size();
      slot_of.assign(nsum.size(), -1);
      bool any = false;
      for (size_t s = 0; s < S; ++s) {
        if (ncnt[static_cast<size_t>(frontier[s])] >= 2 * msl) {
          slot_of[static_cast<size_t>(frontier[s])] = static_cast<int>(s);
          any = true;
        }
      }
      if (!any) break;
      std::vector<Best> best(S);
      for (size_t j = 0; j < d; ++j) {
        if (data.kinds_[j]) {
          const int L = data.levels_[j];
          const auto& cj = data.cat_[j];
          csum.assign(S * static_cast<size_t>(L), 0.0);
          ccnt.assign(S * static_cast<size_t>(L), 0);
          for (size_t i = 0; i < n; ++i) {
            if (node_of[i] < 0) continue;
            int s = slot_of[static_cast<size_t>(node_of[i])];
            if (s < 0) continue;
            size_t k = static_cast<size_t>(s) * L + static_cast<size_t>(cj[i]);
            csum[k] += g[i];
            ++ccnt[k];
          }
          std::vector<int> present;
          for (size_t s = 0; s < S; ++s) {
            if (slot_of[static_cast<size_t>(frontier[s])] < 0) continue;
            const double* cs = csum.data() + s * L;
            const size_t* cc = ccnt.data() + s * L;
            present.clear();
            for (int c = 0; c < L; ++c)
              if (cc[c] > 0) present.push_back(c);
            if (present.size() < 2) continue;
            std::sort(present.begin(), present.end(), [&](int a, int b) {
              double ma = cs[a] / static_cast<double>(cc[a]), mb = cs[b] / static_cast<double>(cc[b]);
              return ma < mb || (ma == mb && a < b);
            });
            const double tot = nsum[static_cast<size_t>(frontier[s])];
            const size_t cnt = ncnt[static_cast<size_t>(frontier[s])];
            double ls = 0;
            size_t lc = 0;
            for (size_t p = 0; p + 1 < present.size(); ++p) {
              ls += cs[present[p]];
              lc += cc[present[p]];
              size_t rc = cnt - lc;
              if (lc < msl || rc < msl) continue;
              double rs = tot - ls;
              double gain = ls * ls / lc + rs * rs / rc - tot * tot / cnt;
              if (gain > best[s].gain + 1e-12) {
                best[s].gain = gain;
                best[s].feature = static_cast<int>(j);
                best[s].left_cats.assign(present.begin(), present.begin() + static_cast<std::ptrdiff_t>(p + 1));
              }
            }
          }
        } else {
          const double* col = data.x_.data() + j * n;
          lsum.assign(S, 0.0);
          lcnt.assign(S, 0);
          last.assign(S, 0.0);
          for (uint32_t i : data.order_[j]) {
            if (node_of[i] < 0) continue;
            int si = slot_of[static_cast<size_t>(node_of[i])];
            if (si < 0) continue;
            size_t s = static_cast<size_t>(si);
            double v = col[i];
            size_t lc = lcnt[s];
            if (lc >= msl && v > last[s]) {
              size_t ln = static_cast<size_t>(node_of[i]);
              size_t rc = ncnt[ln] - lc;
              if (rc >= msl) {
                double ls = lsum[s], tot = nsum[ln], rs = tot - ls;
                double gain = ls * ls / lc + rs * rs / rc - tot * tot / ncnt[ln];
                if (gain > best[s].gain + 1e-12) {
                  best[s].gain = gain;
                  best[s].feature = static_cast<int>(j);
                  double mid = 0.5 * (last[s] + v);
                  best[s].threshold = mid < v ? mid : last[s];
                }
              }
            }
            lsum[s] += g[i];
            ++lcnt[s];
            last[s] = v;
          }
        }
      }
      // Commit the splits.
      std::vector<int> next;
      std::vector<int> split_left(nsum.size(), -1);
      for (size_t s = 0; s < S; ++s) {
        if (best[s].feature < 0) continue;
        size_t ln = static_cast<size_t>(frontier[s]);
        uint32_t gl = root + static_cast<uint32_t>(ln);
        Node nd;
        nd.feature = best[s].feature;
        nd.threshold = best[s].threshold;
        if (data.kinds_[static_cast<size_t>(nd.feature)]) {
          nd.categorical = true;
          int L = data.levels_[static_cast<size_t>(nd.feature)];
          nd.cat_offset = static_cast<uint32_t>(cat_bits_.size());
          cat_bits_.resize(cat_bits_.size() + static_cast<size_t>(L + 63) / 64, 0);
          for (int c : best[s].left_cats) cat_bits_[nd.cat_offset + static_cast<size_t>(c) / 64] |= 1ull << (c % 64);
        }
        size_t left_local = nsum.size();
        nd.left = root + static_cast<uint32_t>(left_local);
        nodes_[gl] = nd;
        nodes_.push_back(Node{});
        nodes_.push_back(Node{});
        nsum.push_back(0.0);
        nsum.push_back(0.0);
        ncnt.push_back(0);
        ncnt.push_back(0);
        split_left[ln] = static_cast<int>(left_local);
        next.push_back(static_cast<int>(left_local));
        next.push_back(static_cast<int>(left_local + 1));
      }
      if (next.empty()) break;
      for (size_t i = 0; i < n; ++i) {
        if (node_of[i] < 0) continue;
        size_t ln = static_cast<size_t>(node_of[i]);
        if (ln >= split_left.size() || split_left[ln] < 0) continue;
        uint32_t child = leaf_of(root + static_cast<uint32_t>(ln), data.rows_.data() + i * d);
        // leaf_of descends to the new (leaf) child in one step.
        int cl = static_cast<int>(child - root);
        node_of[i] = cl;
        nsum[static_cast<size_t>(cl)] += g[i];
        ++ncnt[static_cast<size_t>(cl)];
      }
      frontier = std::move(next);
    }
    // Leaf values: the τ-quantile of the in-bag residuals in each leaf, shrunk by the learning rate.
    leaf_res.assign(nsum.size(), {});
    for (size_t i = 0; i < n; ++i)
      if (node_of[i] >= 0) leaf_res[static_cast<size_t>(node_of[i])].push_back(y[i] - F[i]);
    for (size_t ln = 0; ln < leaf_res.size(); ++ln) {
      Node& nd = nodes_[root + ln];
      if (nd.feature >= 0) continue;
      nd.value = leaf_res[ln].empty() ? 0.0 : params.learning_rate * order_quantile(leaf_res[ln], tau);
    }
    roots_.push_back(root);
    for (size_t i = 0; i < n; ++i) {
      uint32_t leaf = node_of[i] >= 0 ? root + static_cast<uint32_t>(node_of[i])
                                      : leaf_of(root, data.rows_.data() + i * d);
      F[i] += nodes_[leaf].value;
    }
    round_losses_.push_back(pinball_loss(y, F, tau));
  }
}

CqrModel::CqrModel(CqrParams params) : params_(std::move(params)) {
  levels_ = params_.levels;
  if (levels_.empty()) throw ValueError("cqr: the list of quantile levels is empty");
  for (double l : levels_)
    if (!(l > 0 && l < 1)) throw ValueError("cqr: quantile level " + std::to_string(l) + " is not in (0, 1)");
  std::sort(levels_.begin(), levels_.end());
  for (size_t i = 1; i < levels_.size(); ++i)
    if (levels_[i] - levels_[i - 1] < 1e-9)
      throw ValueError("cqr: quantile level " + std::to_string(levels_[i]) + " is given twice");
  margins_.assign(levels_.size(), 0.0);
}

void CqrModel::fit(const Matrix& X, const std::vector<Dimension>& dims, const std::vector<double>& y,
                   uint64_t seed) {
  const size_t n = X.rows, d = X.cols, L = levels_.size();
  if (n != y.size())
    throw ValueError("cqr: X has " + std::to_string(n) + " rows but y has " + std::to_string(y.size()) + " values");
  if (n == 0) throw ValueError("cqr: cannot fit to 0 rows");
  std::mt19937_64 rng(splitmix64(seed));
  std::vector<uint32_t> perm(n);
  std::iota(perm.begin(), perm.end(), 0u);
  n_cal_ = 0;
  if (params_.conformalize && n > params_.min_samples_to_conformalize && n >= 2) {
    double c = std::ceil(params_.calibration_fraction * static_cast<double>(n) - 1e-9);
    n_cal_ = static_cast<size_t>(std::clamp(c, 1.0, static_cast<double>(n - 1)));
    for (size_t i = 0; i < n_cal_; ++i) {
      std::uniform_int_distribution<size_t> pick(i, n - 1);
      std::swap(perm[i], perm[pick(rng)]);
    }
  }
  cal_index_.assign(perm.begin(), perm.begin() + static_cast<std::ptrdiff_t>(n_cal_));
  size_t n_train = n - n_cal_;
  Matrix Xt(n_train, d), Xc(n_cal_, d);
  std::vector<double> yt(n_train), yc(n_cal_);
  for (size_t r = 0; r < n; ++r) {
    size_t i = perm[r];
    bool cal = r < n_cal_;
    size_t k = cal ? r : r - n_cal_;
    double* dst = cal ? Xc.row(k) : Xt.row(k);
    std::copy(X.row(i), X.row(i) + d, dst);
    (cal ? yc : yt)[k] = y[i];
  }
  Dataset data(Xt, dims, yt);
  models_.assign(L, QuantileGbrt{});
  for (size_t l = 0; l < L; ++l) {
    std::mt19937_64 lrng(splitmix64(seed ^ splitmix64(l + 1)));
    models_[l].fit(data, levels_[l], params_.gbrt, lrng);
  }
  margins_.assign(L, 0.0);
  if (n_cal_ == 0) return;
  Matrix q = predict_uncalibrated(Xc);
  std::vector<bool> done(L, false);
  std::vector<double> scores(n_cal_);
  for (size_t a = 0; a < L; ++a) {
    double tau = levels_[a];
    if (done[a] || std::abs(tau - 0.5) < 1e-9) continue;
    size_t b = L;
    for (size_t k = 0; k < L; ++k)
      if (k != a && std::abs(levels_[k] - (1 - tau)) < 1e-9) b = k;
    if (b < L) {
      size_t lo = tau < 0.5 ? a : b, hi = tau < 0.5 ? b : a;
      for (size_t i = 0; i < n_cal_; ++i) scores[i] = std::max(q(i, lo) - yc[i], yc[i] - q(i, hi));
      double m = conformal_margin(scores, 1 - 2 * std::min(tau, 1 - tau));
      margins_[lo] = -m;
      margins_[hi] = m;
      done[a] = done[b] = true;
    } else {
      // One-sided: the level's own coverage P(y <= q) = τ (upper) or P(y >= q) = 1 − τ (lower).
      for (size_t i = 0; i < n_cal_; ++i) scores[i] = tau > 0.5 ? yc[i] - q(i, a) : q(i, a) - yc[i];
      double m = conformal_margin(scores, std::max(tau, 1 - tau));
      margins_[a] = tau > 0.5 ? m : -m;
      done[a] = true;
    }
  }
}

Matrix CqrModel::predict_uncalibrated(const Matrix& X) const {
  Matrix out(X.rows, levels_.size());
  if (X.rows == 0) return out;
  for (size_t l = 0; l < models_.size(); ++l) models_[l].predict_rows(X, out.data.data() + l, levels_.size());
  return out;
}

Matrix CqrModel::predict_levels(const Matrix& X) const {
  Matrix out = predict_uncalibrated(X);
  for (size_t i = 0; i < X.rows; ++i) {
    double* r = out.row(i);
    for (size_t l = 0; l < levels_.size(); ++l) r[l] += margins_[l];
    std::sort(r, r + levels_.size());
  }
  return out;
}

}  // namespace bbo::cqr

namespace bbo::cqr {

CqrSurrogate::CqrSurrogate(CqrParams params, bool use_fidelity) : model_(std::move(params)), use_fidelity_(use_fidelity) {
  for (double l : model_.levels()) z_.push_back(normal_quantile(l));
}

void CqrSurrogate::fit(const FitInput& in) {
  const size_t n = in.X.rows, d = in.X.cols;
  if (in.y.size() != n)
    throw ValueError("cqr: X has " + std::to_string(n) + " rows but y has " + std::to_string(in.y.size()) + " values");
  if (!in.dims.empty() && in.dims.size() != d)
    throw ValueError("cqr: " + std::to_string(in.dims.size()) + " dimensions given for " + std::to_string(d) +
                     " columns of X");
  if (in.X.data.size() != n * d) throw ValueError("cqr: X holds " + std::to_string(in.X.data.size()) + " values, not rows × cols");
  if (!in.fidelity.empty() && in.fidelity.size() != n)
    throw ValueError("cqr: " + std::to_string(in.fidelity.size()) + " fidelity values for " + std::to_string(n) + " rows");
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(in.y[i])) throw ValueError("cqr: y[" + std::to_string(i) + "] is not finite");
  any_fit_ = true;
  d_ = d;
  has_fidelity_ = use_fidelity_ && !in.fidelity.empty();
  fitted_ = false;
  if (n == 0) return;
  Matrix X = in.X;
  std::vector<Dimension> dims = in.dims;
  if (has_fidelity_) {
    double fmax = 0;
    for (double f : in.fidelity) {
      if (!std::isfinite(f) || f < 0) throw ValueError("cqr: fidelity values must be finite and >= 0");
      fmax = std::max(fmax, f);
    }
    X = Matrix(n, d + 1);
    for (size_t i = 0; i < n; ++i) {
      std::copy(in.X.row(i), in.X.row(i) + d, X.row(i));
      X(i, d) = fmax > 0 ? in.fidelity[i] / fmax : 1.0;
    }
    if (!dims.empty()) dims.push_back(Dimension{});
  }
  model_.fit(X, dims, in.y, in.seed);
  fitted_ = true;
}

Matrix CqrSurrogate::augment(const Matrix& X) const {
  if (any_fit_ && X.cols != d_)
    throw ValueError("cqr: X has " + std::to_string(X.cols) + " columns but the model was fitted with " +
                     std::to_string(d_));
  if (!has_fidelity_) return X;
  Matrix A(X.rows, d_ + 1, 1.0);
  for (size_t i = 0; i < X.rows; ++i) std::copy(X.row(i), X.row(i) + d_, A.row(i));
  return A;
}

double CqrSurrogate::interpolate(const double* q, double z) const {
  const size_t L = z_.size();
  if (L == 1) return q[0];
  const double sigma = (q[L - 1] - q[0]) / (z_[L - 1] - z_[0]);
  if (z <= z_[0]) return q[0] - (z_[0] - z) * sigma;
  if (z >= z_[L - 1]) return q[L - 1] + (z - z_[L - 1]) * sigma;
  size_t k = static_cast<size_t>(std::upper_bound(z_.begin(), z_.end(), z) - z_.begin());  // z_[k-1] <= z < z_[k]
  double t = (z - z_[k - 1]) / (z_[k] - z_[k - 1]);
  return q[k - 1] + t * (q[k] - q[k - 1]);
}

Matrix CqrSurrogate::quantiles(const Matrix& X, const std::vector<double>& levels) const {
  for (double p : levels)
    if (!(p > 0 && p < 1)) throw ValueError("cqr: quantile level " + std::to_string(p) + " is not in (0, 1)");
  Matrix A = augment(X);
  if (!fitted_) return Surrogate::quantiles(X, levels);
  Matrix q = model_.predict_levels(A);
  Matrix out(X.rows, levels.size());
  std::vector<double> zs;
  for (double p : levels) zs.push_back(normal_quantile(p));
  for (size_t i = 0; i < X.rows; ++i)
    for (size_t j = 0; j < levels.size(); ++j) out(i, j) = interpolate(q.row(i), zs[j]);
  return out;
}

Prediction CqrSurrogate::predict(const Matrix& X) const {
  Matrix A = augment(X);
  Prediction p;
  if (!fitted_) {
    p.mean.assign(X.rows, 0.0);
    p.variance.assign(X.rows, 1.0);
    return p;
  }
  Matrix q = model_.predict_levels(A);
  const size_t L = z_.size();
  p.mean.resize(X.rows);
  p.variance.resize(X.rows);
  for (size_t i = 0; i < X.rows; ++i) {
    p.mean[i] = interpolate(q.row(i), 0.0);
    double sigma = L > 1 ? (q(i, L - 1) - q(i, 0)) / (z_[L - 1] - z_[0]) : 0.0;
    p.variance[i] = sigma * sigma;
  }
  return p;
}

nlohmann::json CqrSurrogate::state() const {
  if (!fitted_) return nullptr;
  return {{"levels", model_.levels()}, {"margins", model_.margins()}, {"calibration_rows", model_.calibration_rows()}};
}

}  // namespace bbo::cqr

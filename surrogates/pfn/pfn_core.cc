#include "surrogates/pfn/pfn_core.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <numeric>

#include "bbo/error.h"

// The weights compiled into the plugin: surrogates/pfn/weights/pfn_weights.bin, embedded by the assembler
// (.incbin) so that the library works wherever it is installed. BBO_PFN_WEIGHTS_FILE comes from CMake.
asm(".section .rodata\n"
    ".balign 16\n"
    ".global bbo_pfn_weights_begin\n"
    ".hidden bbo_pfn_weights_begin\n"
    "bbo_pfn_weights_begin:\n"
    ".incbin \"" BBO_PFN_WEIGHTS_FILE "\"\n"
    ".global bbo_pfn_weights_end\n"
    ".hidden bbo_pfn_weights_end\n"
    "bbo_pfn_weights_end:\n"
    ".previous\n");
extern "C" const unsigned char bbo_pfn_weights_begin[];
extern "C" const unsigned char bbo_pfn_weights_end[];

namespace bbo::pfn {
namespace {

constexpr double kHalfNormalMedian = 0.6744897501960817;  // median of |N(0,1)|
constexpr double kSqrt2OverPi = 0.7978845608028654;

double phi(double z) { return 0.3989422804014327 * std::exp(-0.5 * z * z); }
double Phi(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

}  // namespace

// ------------------------------------------------------------------------------------------ BarDistribution

BarDistribution::BarDistribution(std::vector<double> borders) : borders_(std::move(borders)) {
  if (borders_.size() < 4) throw ValueError("pfn: a bar distribution needs at least 3 buckets");
  for (size_t i = 1; i < borders_.size(); ++i)
    if (!(borders_[i] > borders_[i - 1])) throw ValueError("pfn: bucket borders must be strictly increasing");
  left_scale_ = (borders_[1] - borders_[0]) / kHalfNormalMedian;
  const size_t K = buckets();
  right_scale_ = (borders_[K] - borders_[K - 1]) / kHalfNormalMedian;
}

double BarDistribution::mean(const double* p) const {
  const size_t K = buckets();
  double m = p[0] * (borders_[1] - left_scale_ * kSqrt2OverPi) + p[K - 1] * (borders_[K - 1] + right_scale_ * kSqrt2OverPi);
  for (size_t k = 1; k + 1 < K; ++k) m += p[k] * 0.5 * (borders_[k] + borders_[k + 1]);
  return m;
}

double BarDistribution::variance(const double* p) const {
  const size_t K = buckets();
  const double mu = mean(p);
  // E[(y - mu)^2] bucket by bucket (centred first, so that no large terms cancel).
  auto tail = [&](double edge, double s, double sign) {  // y = edge + sign * Z
    const double c = edge - mu;
    return c * c + 2.0 * sign * c * s * kSqrt2OverPi + s * s;
  };
  double v = p[0] * tail(borders_[1], left_scale_, -1.0) + p[K - 1] * tail(borders_[K - 1], right_scale_, 1.0);
  for (size_t k = 1; k + 1 < K; ++k) {
    const double a = borders_[k] - mu, b = borders_[k + 1] - mu;
    v += p[k] * (a * a + a * b + b * b) / 3.0;
  }
  return std::max(v, 0.0);
}

double BarDistribution::cdf(const double* p, double y) const {
  const size_t K = buckets();
  if (y <= borders_[1]) return p[0] * 2.0 * (1.0 - Phi((borders_[1] - y) / left_scale_));
  double c = p[0];
  size_t k = 1;
  for (; k + 1 < K && y >= borders_[k + 1]; ++k) c += p[k];
  if (k + 1 < K) return c + p[k] * (y - borders_[k]) / (borders_[k + 1] - borders_[k]);
  return c + p[K - 1] * (2.0 * Phi((y - borders_[K - 1]) / right_scale_) - 1.0);
}

double BarDistribution::pdf(const double* p, double y) const {
  const size_t K = buckets();
  if (y <= borders_[1]) return p[0] * 2.0 * phi((borders_[1] - y) / left_scale_) / left_scale_;
  if (y >= borders_[K - 1]) return p[K - 1] * 2.0 * phi((y - borders_[K - 1]) / right_scale_) / right_scale_;
  const size_t k = static_cast<size_t>(std::upper_bound(borders_.begin(), borders_.end(), y) - borders_.begin()) - 1;
  return p[k] / (borders_[k + 1] - borders_[k]);
}

double BarDistribution::quantile(const double* p, double level) const {
  const size_t K = buckets();
  if (level <= p[0]) {  // 2 p0 (1 - Phi((b1 - y)/s)) = level
    const double u = std::min(std::max(1.0 - level / (2.0 * p[0]), 0.5), 1.0 - 1e-16);
    return borders_[1] - left_scale_ * normal_quantile(u);
  }
  double c = p[0];
  for (size_t k = 1; k + 1 < K; ++k) {
    if (level <= c + p[k] && p[k] > 0) return borders_[k] + (level - c) / p[k] * (borders_[k + 1] - borders_[k]);
    c += p[k];
  }
  if (!(p[K - 1] > 0)) return borders_[K - 1];
  const double u = std::min(std::max(0.5 + (level - c) / (2.0 * p[K - 1]), 0.5), 1.0 - 1e-16);
  return borders_[K - 1] + right_scale_ * normal_quantile(u);
}

double BarDistribution::expected_improvement(const double* p, double best) const {
  const size_t K = buckets();
  double ei = 0.0;
  {  // left tail y = b1 - Z: E[(best - b1 + Z)+]
    const double c = best - borders_[1], s = left_scale_;
    if (c >= 0) {
      ei += p[0] * (c + s * kSqrt2OverPi);
    } else {
      const double t = -c;  // E[(Z - t)+] = 2 (s phi(t/s) - t (1 - Phi(t/s)))
      ei += p[0] * 2.0 * (s * phi(t / s) - t * (1.0 - Phi(t / s)));
    }
  }
  for (size_t k = 1; k + 1 < K; ++k) {
    const double a = borders_[k], b = borders_[k + 1];
    if (best >= b) ei += p[k] * (best - 0.5 * (a + b));
    else if (best > a) ei += p[k] * (best - a) * (best - a) / (2.0 * (b - a));
    else break;
  }
  {  // right tail y = b_{K-1} + Z: E[(u - Z)+], u = best - b_{K-1}
    const double u = best - borders_[K - 1], s = right_scale_;
    if (u > 0) ei += p[K - 1] * (u * (2.0 * Phi(u / s) - 1.0) - 2.0 * s * (phi(0.0) - phi(u / s)));
  }
  return std::max(ei, 0.0);
}

// ------------------------------------------------------------------------------------------------ weights

std::shared_ptr<const PfnWeights> PfnWeights::parse(const unsigned char* data, size_t size, const std::string& what) {
  size_t pos = 0;
  auto need = [&](size_t bytes) {
    if (size - pos < bytes || pos > size) throw ValueError("pfn: weight file " + what + " is truncated");
  };
  need(8);
  if (std::memcmp(data, "BBOPFN01", 8) != 0) throw ValueError("pfn: " + what + " is not a BBOPFN01 weight file");
  pos = 8;
  need(32);
  uint32_t h[8];
  std::memcpy(h, data + pos, 32);  // little-endian hosts only (x86-64, aarch64)
  pos += 32;
  auto w = std::make_shared<PfnWeights>();
  w->max_dims = h[0];
  w->max_context = h[1];
  w->emsize = h[2];
  w->heads = h[3];
  w->layers = h[4];
  w->ff = h[5];
  w->dec_hidden = h[6];
  w->buckets = h[7];
  if (w->max_dims < 1 || w->max_dims > 1024 || w->emsize < 1 || w->emsize > 8192 || w->heads < 1 ||
      w->emsize % w->heads != 0 || w->layers > 64 || w->ff < 1 || w->ff > 65536 || w->dec_hidden < 1 ||
      w->dec_hidden > 65536 || w->buckets < 3 || w->buckets > 100000)
    throw ValueError("pfn: weight file " + what + " has an invalid header");
  need(8 * (w->buckets + 1));
  w->borders.resize(w->buckets + 1);
  std::memcpy(w->borders.data(), data + pos, 8 * (w->buckets + 1));
  pos += 8 * (w->buckets + 1);
  auto mat = [&](size_t r, size_t c) {
    need(4 * r * c);
    RowMatrix m(r, c);
    for (size_t i = 0; i < r * c; ++i) {
      float f;
      std::memcpy(&f, data + pos + 4 * i, 4);
      m.data()[i] = f;
    }
    pos += 4 * r * c;
    return m;
  };
  auto vec = [&](size_t r) -> Eigen::VectorXd { return mat(1, r).transpose(); };
  const size_t E = w->emsize;
  w->xenc_w = mat(E, w->max_dims);
  w->xenc_b = vec(E);
  w->yenc_w = mat(E, 1);
  w->yenc_b = vec(E);
  w->prior_token = vec(E);
  w->layer.resize(w->layers);
  for (auto& l : w->layer) {
    l.ln1_w = vec(E);
    l.ln1_b = vec(E);
    l.qkv_w = mat(3 * E, E);
    l.qkv_b = vec(3 * E);
    l.out_w = mat(E, E);
    l.out_b = vec(E);
    l.ln2_w = vec(E);
    l.ln2_b = vec(E);
    l.ff1_w = mat(w->ff, E);
    l.ff1_b = vec(w->ff);
    l.ff2_w = mat(E, w->ff);
    l.ff2_b = vec(E);
  }
  w->lnf_w = vec(E);
  w->lnf_b = vec(E);
  w->dec1_w = mat(w->dec_hidden, E);
  w->dec1_b = vec(w->dec_hidden);
  w->dec2_w = mat(w->buckets, w->dec_hidden);
  w->dec2_b = vec(w->buckets);
  if (pos != size) throw ValueError("pfn: weight file " + what + " has " + std::to_string(size - pos) + " trailing bytes");
  return w;
}

std::shared_ptr<const PfnWeights> PfnWeights::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ValueError("pfn: cannot open weight file '" + path + "'");
  std::vector<unsigned char> buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return parse(buf.data(), buf.size(), "'" + path + "'");
}

std::shared_ptr<const PfnWeights> PfnWeights::builtin() {
  static const std::shared_ptr<const PfnWeights> w =
      parse(bbo_pfn_weights_begin, static_cast<size_t>(bbo_pfn_weights_end - bbo_pfn_weights_begin), "(built in)");
  return w;
}

// ------------------------------------------------------------------------------------------------ network
namespace {

void layer_norm(RowMatrix& h, const Eigen::VectorXd& w, const Eigen::VectorXd& b, RowMatrix& out) {
  out.resize(h.rows(), h.cols());
  for (Eigen::Index i = 0; i < h.rows(); ++i) {
    const double mu = h.row(i).mean();
    const double var = (h.row(i).array() - mu).square().mean();
    const double inv = 1.0 / std::sqrt(var + 1e-5);  // torch.nn.LayerNorm's eps
    out.row(i) = ((h.row(i).array() - mu) * inv * w.transpose().array() + b.transpose().array()).matrix();
  }
}

void gelu(RowMatrix& m) {  // exact (erf) GELU, torch's default
  m = m.unaryExpr([](double v) { return 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))); });
}

// out = in · Wᵀ + b (torch.nn.Linear)
RowMatrix linear(const RowMatrix& in, const RowMatrix& W, const Eigen::VectorXd& b) {
  RowMatrix out = in * W.transpose();
  out.rowwise() += b.transpose();
  return out;
}

// Multi-head attention of queries q (m × E) over keys/values (n × E); returns m × E (before the out-proj).
RowMatrix attend(const RowMatrix& q, const RowMatrix& k, const RowMatrix& v, size_t heads) {
  const Eigen::Index E = q.cols(), Dh = E / static_cast<Eigen::Index>(heads);
  const double scale = 1.0 / std::sqrt(static_cast<double>(Dh));
  RowMatrix out(q.rows(), E);
  for (Eigen::Index h = 0; h < static_cast<Eigen::Index>(heads); ++h) {
    RowMatrix s = (q.middleCols(h * Dh, Dh) * k.middleCols(h * Dh, Dh).transpose()) * scale;
    for (Eigen::Index i = 0; i < s.rows(); ++i) {
      const double mx = s.row(i).maxCoeff();
      s.row(i) = (s.row(i).array() - mx).exp().matrix();
      s.row(i) /= s.row(i).sum();
    }
    out.middleCols(h * Dh, Dh) = s * v.middleCols(h * Dh, Dh);
  }
  return out;
}

}  // namespace

RowMatrix PfnNetwork::features(const Matrix& X, const std::vector<size_t>& columns) const {
  const size_t D = w_->max_dims;
  RowMatrix f = RowMatrix::Zero(static_cast<Eigen::Index>(X.rows), static_cast<Eigen::Index>(D));
  if (columns.empty()) return f;
  const double s = std::sqrt(static_cast<double>(D) / static_cast<double>(columns.size()));
  for (size_t i = 0; i < X.rows; ++i)
    for (size_t j = 0; j < columns.size(); ++j) f(i, j) = (X(i, columns[j]) - 0.5) * s;
  return f;
}

void PfnNetwork::set_context(const RowMatrix& features, const std::vector<double>& ys) {
  const PfnWeights& w = *w_;
  const Eigen::Index n = features.rows(), E = static_cast<Eigen::Index>(w.emsize);
  RowMatrix h(n + 1, E);
  h.row(0) = w.prior_token.transpose();
  if (n > 0) {
    Eigen::Map<const Eigen::VectorXd> y(ys.data(), n);
    RowMatrix t = linear(features, w.xenc_w, w.xenc_b);
    t += y * w.yenc_w.col(0).transpose();
    t.rowwise() += w.yenc_b.transpose();
    h.bottomRows(n) = t;
  }
  {
    std::lock_guard lock(cuda_.mutex);
    cuda_.context_current = false;  // the engine's copy of the cache is stale
  }
  tokens_ = static_cast<size_t>(n) + 1;
  keys_.assign(w.layers, RowMatrix());
  values_.assign(w.layers, RowMatrix());
  RowMatrix z;
  for (size_t l = 0; l < w.layers; ++l) {
    const auto& L = w.layer[l];
    layer_norm(h, L.ln1_w, L.ln1_b, z);
    RowMatrix qkv = linear(z, L.qkv_w, L.qkv_b);
    keys_[l] = qkv.middleCols(E, E);
    values_[l] = qkv.middleCols(2 * E, E);
    h += linear(attend(qkv.leftCols(E), keys_[l], values_[l], w.heads), L.out_w, L.out_b);
    layer_norm(h, L.ln2_w, L.ln2_b, z);
    RowMatrix f = linear(z, L.ff1_w, L.ff1_b);
    gelu(f);
    h += linear(f, L.ff2_w, L.ff2_b);
  }
}

void PfnNetwork::set_device(const Device& requested, size_t auto_min_rows) {
  device_ = requested;
  auto_min_rows_ = auto_min_rows;
  std::lock_guard lock(cuda_.mutex);
  cuda_.failed = false;  // a new request gets a new chance
}

Device PfnNetwork::last_device() const {
  std::lock_guard lock(cuda_.mutex);
  return cuda_.last;
}

RowMatrix PfnNetwork::logits(const RowMatrix& query_features) const {
  const PfnWeights& w = *w_;
  if (keys_.size() != w.layers) throw Error("pfn: logits() before set_context()");
  if (static_cast<size_t>(query_features.cols()) != w.max_dims)
    throw ValueError("pfn: query features have " + std::to_string(query_features.cols()) + " columns, the network " +
                     std::to_string(w.max_dims));
  const size_t m = static_cast<size_t>(query_features.rows());
  const Device dev = resolve_device(device_, m >= auto_min_rows_, "pfn");
  if (dev.kind == Device::Kind::Cuda && m > 0) {
    std::lock_guard lock(cuda_.mutex);
    if (!cuda_.failed) {
      RowMatrix out(query_features.rows(), static_cast<Eigen::Index>(w.buckets));
      std::string why;
      if (cuda_logits(dev.index, query_features, out, &why)) {
        cuda_.last = dev;
        return out;
      }
      cuda_.failed = true;
      cuda_.engine.reset();
      if (device_.kind == Device::Kind::Cuda) notice_cpu_fallback("pfn", device_, why);
    }
  }
  {
    std::lock_guard lock(cuda_.mutex);
    cuda_.last = Device{};
  }
  return cpu_logits(query_features);
}

namespace {
void pfn_backend_anchor() {}  // an address inside this library, for open_cuda_backend()
}  // namespace

// Called with cuda_.mutex held.
bool PfnNetwork::cuda_logits(int index, const RowMatrix& query_features, RowMatrix& out, std::string* why) const {
  const PfnWeights& w = *w_;
  if (!cuda_.engine || cuda_.index != index) {
    cuda_.engine.reset();
    cuda_.context_current = false;
    void* symbol =
        open_cuda_backend(reinterpret_cast<const void*>(&pfn_backend_anchor), kPfnCudaLibrary, kPfnCudaFactory, why);
    if (!symbol) return false;
    const auto create = reinterpret_cast<PfnCudaFactory>(symbol);
    std::unique_ptr<PfnDeviceEngine> engine(create(index, why));
    if (!engine) return false;
    // The weights in the backend's plain layout (row-major arrays; the query rows of the QKV projection).
    const size_t E = w.emsize;
    auto flat = [](const auto& m) { return std::vector<double>(m.data(), m.data() + m.size()); };
    PfnDeviceWeights dw;
    dw.max_dims = w.max_dims;
    dw.emsize = E;
    dw.heads = w.heads;
    dw.ff = w.ff;
    dw.dec_hidden = w.dec_hidden;
    dw.buckets = w.buckets;
    dw.xenc_w = flat(w.xenc_w);
    dw.xenc_b = flat(w.xenc_b);
    for (const auto& L : w.layer) {
      PfnDeviceLayer d;
      d.ln1_w = flat(L.ln1_w);
      d.ln1_b = flat(L.ln1_b);
      d.q_w.assign(L.qkv_w.data(), L.qkv_w.data() + E * E);  // row-major: the first E rows
      d.q_b.assign(L.qkv_b.data(), L.qkv_b.data() + E);
      d.out_w = flat(L.out_w);
      d.out_b = flat(L.out_b);
      d.ln2_w = flat(L.ln2_w);
      d.ln2_b = flat(L.ln2_b);
      d.ff1_w = flat(L.ff1_w);
      d.ff1_b = flat(L.ff1_b);
      d.ff2_w = flat(L.ff2_w);
      d.ff2_b = flat(L.ff2_b);
      dw.layer.push_back(std::move(d));
    }
    dw.lnf_w = flat(w.lnf_w);
    dw.lnf_b = flat(w.lnf_b);
    dw.dec1_w = flat(w.dec1_w);
    dw.dec1_b = flat(w.dec1_b);
    dw.dec2_w = flat(w.dec2_w);
    dw.dec2_b = flat(w.dec2_b);
    if (!engine->load_weights(dw, why)) return false;
    cuda_.engine = std::move(engine);
    cuda_.index = index;
  }
  if (!cuda_.context_current) {
    std::vector<const double*> keys, values;
    for (size_t l = 0; l < w.layers; ++l) {
      keys.push_back(keys_[l].data());
      values.push_back(values_[l].data());
    }
    if (!cuda_.engine->set_context(tokens_, keys, values, why)) return false;
    cuda_.context_current = true;
  }
  return cuda_.engine->logits(query_features.data(), static_cast<size_t>(query_features.rows()), out.data(), why);
}

RowMatrix PfnNetwork::cpu_logits(const RowMatrix& query_features) const {
  const PfnWeights& w = *w_;
  const Eigen::Index E = static_cast<Eigen::Index>(w.emsize);
  RowMatrix h = linear(query_features, w.xenc_w, w.xenc_b), z;
  for (size_t l = 0; l < w.layers; ++l) {
    const auto& L = w.layer[l];
    layer_norm(h, L.ln1_w, L.ln1_b, z);
    RowMatrix q = z * L.qkv_w.topRows(E).transpose();
    q.rowwise() += L.qkv_b.head(E).transpose();
    h += linear(attend(q, keys_[l], values_[l], w.heads), L.out_w, L.out_b);
    layer_norm(h, L.ln2_w, L.ln2_b, z);
    RowMatrix f = linear(z, L.ff1_w, L.ff1_b);
    gelu(f);
    h += linear(f, L.ff2_w, L.ff2_b);
  }
  layer_norm(h, w.lnf_w, w.lnf_b, z);
  RowMatrix d1 = linear(z, w.dec1_w, w.dec1_b);
  gelu(d1);
  return linear(d1, w.dec2_w, w.dec2_b);
}

// ---------------------------------------------------------------------------------------------- surrogate

PfnSurrogate::PfnSurrogate(const PfnOptions& options)
    : weights_(options.weights_path.empty() ? PfnWeights::builtin() : PfnWeights::load(options.weights_path)),
      gradient_(options.gradient),
      robust_(options.robust_moments),
      bar_(weights_->borders),
      net_(weights_) {
  net_.set_device(options.device, options.auto_min_rows);
  net_.set_context(RowMatrix(0, static_cast<Eigen::Index>(weights_->max_dims)), {});
}

namespace {

// Ranks with ties averaged (for Spearman correlations).
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < idx.size();) {
    size_t j = i;
    while (j + 1 < idx.size() && v[idx[j + 1]] == v[idx[i]]) ++j;
    for (size_t k = i; k <= j; ++k) r[idx[k]] = 0.5 * static_cast<double>(i + j);
    i = j + 1;
  }
  return r;
}

double abs_correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const size_t n = a.size();
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; ++i) ma += a[i], mb += b[i];
  ma /= static_cast<double>(n);
  mb /= static_cast<double>(n);
  double sab = 0, saa = 0, sbb = 0;
  for (size_t i = 0; i < n; ++i) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  if (saa <= 0 || sbb <= 0) return 0.0;
  return std::fabs(sab) / std::sqrt(saa * sbb);
}

}  // namespace

void PfnSurrogate::fit(const FitInput& in) {
  const size_t n = in.X.rows, d = in.X.cols;
  if (in.X.data.size() < n * d) throw ValueError("pfn: X data shorter than rows × cols");
  if (in.y.size() != n)
    throw ValueError("pfn: X has " + std::to_string(n) + " rows but y has " + std::to_string(in.y.size()) + " values");
  if (!in.dims.empty() && in.dims.size() != d)
    throw ValueError("pfn: X has " + std::to_string(d) + " columns but dims has " + std::to_string(in.dims.size()));
  if (!in.fidelity.empty() && in.fidelity.size() != n)
    throw ValueError("pfn: X has " + std::to_string(n) + " rows but fidelity has " + std::to_string(in.fidelity.size()));
  const size_t D = weights_->max_dims, N = weights_->max_context;
  d_ = d;

  // Duplicate rows are merged into one context point with the mean of their y: the prior never produces
  // repeated inputs, and the network's prediction at a point observed many times drifted away from the
  // observed value as copies accumulated (a BO run proposing the same corner again and again).
  std::vector<size_t> first;  // first input row of each distinct x
  std::vector<double> ybar;
  {
    std::map<std::vector<double>, size_t> seen;
    std::vector<size_t> count;
    for (size_t i = 0; i < n; ++i) {
      std::vector<double> key(in.X.row(i), in.X.row(i) + d);
      auto [it, inserted] = seen.emplace(std::move(key), first.size());
      if (inserted) {
        first.push_back(i);
        ybar.push_back(0.0);
        count.push_back(0);
      }
      ybar[it->second] += in.y[i];
      count[it->second] += 1;
    }
    for (size_t k = 0; k < ybar.size(); ++k) ybar[k] /= static_cast<double>(count[k]);
  }
  // Context: every distinct point, or the N/2 best plus N - N/2 others drawn with the seed.
  const size_t u = first.size();
  std::vector<size_t> keep(u);
  std::iota(keep.begin(), keep.end(), 0);
  if (u > N) {
    std::stable_sort(keep.begin(), keep.end(), [&](size_t a, size_t b) { return ybar[a] < ybar[b]; });
    std::vector<size_t> rest(keep.begin() + static_cast<long>(N / 2), keep.end());
    std::mt19937_64 rng(in.seed ^ 0x9f0e5a1c3d2b4e67ULL);
    for (size_t i = 0; i < N - N / 2; ++i) {  // partial Fisher-Yates
      std::uniform_int_distribution<size_t> pick(i, rest.size() - 1);
      std::swap(rest[i], rest[pick(rng)]);
    }
    keep.resize(N / 2);
    keep.insert(keep.end(), rest.begin(), rest.begin() + static_cast<long>(N - N / 2));
    std::sort(keep.begin(), keep.end());
  }
  const size_t m = keep.size();
  rows_.resize(m);
  ctx_x_ = Matrix(m, d);
  ctx_y_.resize(m);
  for (size_t i = 0; i < m; ++i) {
    rows_[i] = first[keep[i]];
    std::copy(in.X.row(rows_[i]), in.X.row(rows_[i]) + d, ctx_x_.row(i));
    ctx_y_[i] = ybar[keep[i]];
  }

  // Columns: all, or the D with the largest |Spearman correlation| with y.
  columns_.resize(d);
  std::iota(columns_.begin(), columns_.end(), 0);
  if (d > D) {
    std::vector<double> score(d, 0.0);
    if (m >= 2) {
      const std::vector<double> ry = ranks(ctx_y_);
      std::vector<double> col(m);
      for (size_t j = 0; j < d; ++j) {
        for (size_t i = 0; i < m; ++i) col[i] = ctx_x_(i, j);
        score[j] = abs_correlation(ranks(col), ry);
      }
    }
    std::stable_sort(columns_.begin(), columns_.end(), [&](size_t a, size_t b) { return score[a] > score[b]; });
    columns_.resize(D);
    std::sort(columns_.begin(), columns_.end());
  }

  // Standardization, exactly as the trainer's standardize().
  y_mean_ = 0.0;
  y_scale_ = 1.0;
  constant_ = false;
  if (m == 1) y_mean_ = ctx_y_[0];
  if (m >= 2) {
    for (double v : ctx_y_) y_mean_ += v;
    y_mean_ /= static_cast<double>(m);
    double ss = 0;
    for (double v : ctx_y_) ss += (v - y_mean_) * (v - y_mean_);
    const double sd = std::sqrt(ss / static_cast<double>(m - 1));
    if (sd <= 1e-12 * std::max(1.0, std::fabs(y_mean_))) constant_ = true;
    else y_scale_ = sd;
  }
  std::vector<double> ys(m);
  for (size_t i = 0; i < m; ++i) ys[i] = constant_ ? 0.0 : (ctx_y_[i] - y_mean_) / y_scale_;
  net_.set_context(net_.features(ctx_x_, columns_), ys);
  fitted_ = true;
}

void PfnSurrogate::check_cols(const Matrix& X) const { validate_query_input(X, fitted_ ? d_ : 0, "pfn"); }

RowMatrix PfnSurrogate::probabilities(const Matrix& X) const {
  check_cols(X);
  std::vector<size_t> cols = columns_;
  if (!fitted_) {  // the prior: every given column is used (up to max_dims)
    cols.resize(std::min(X.cols, weights_->max_dims));
    std::iota(cols.begin(), cols.end(), 0);
  }
  RowMatrix p = net_.logits(net_.features(X, cols));
  for (Eigen::Index i = 0; i < p.rows(); ++i) {
    const double mx = p.row(i).maxCoeff();
    p.row(i) = (p.row(i).array() - mx).exp().matrix();
    p.row(i) /= p.row(i).sum();
  }
  return p;
}

Prediction PfnSurrogate::predict(const Matrix& X) const {
  const RowMatrix p = probabilities(X);
  Prediction out;
  out.mean.resize(X.rows);
  out.variance.resize(X.rows);
  for (size_t i = 0; i < X.rows; ++i) {
    const double* pi = p.row(static_cast<Eigen::Index>(i)).data();
    if (robust_) {
      const double half = 0.5 * (bar_.quantile(pi, 0.8413447460685429) - bar_.quantile(pi, 0.15865525393145707));
      out.mean[i] = constant_ ? y_mean_ : y_mean_ + y_scale_ * bar_.quantile(pi, 0.5);
      out.variance[i] = y_scale_ * y_scale_ * half * half;
      continue;
    }
    out.mean[i] = constant_ ? y_mean_ : y_mean_ + y_scale_ * bar_.mean(pi);
    out.variance[i] = y_scale_ * y_scale_ * bar_.variance(pi);
  }
  return out;
}

PointPrediction PfnSurrogate::predict_with_gradient(const double* x) const {
  const size_t d = fitted_ ? d_ : 0;
  if (!fitted_) throw Error("pfn: predict_with_gradient() before fit()");
  constexpr double h = 1e-6;
  Matrix Q(2 * d + 1, d);
  for (size_t r = 0; r < Q.rows; ++r) std::copy(x, x + d, Q.row(r));
  for (size_t j = 0; j < d; ++j) {
    Q(1 + 2 * j, j) += h;
    Q(2 + 2 * j, j) -= h;
  }
  const Prediction p = predict(Q);
  PointPrediction out;
  out.mean = p.mean[0];
  out.variance = p.variance[0];
  out.dmean.resize(d);
  out.dvariance.resize(d);
  for (size_t j = 0; j < d; ++j) {
    out.dmean[j] = (p.mean[1 + 2 * j] - p.mean[2 + 2 * j]) / (2 * h);
    out.dvariance[j] = (p.variance[1 + 2 * j] - p.variance[2 + 2 * j]) / (2 * h);
  }
  return out;
}

Matrix PfnSurrogate::quantiles(const Matrix& X, const std::vector<double>& levels) const {
  for (double l : levels)
    if (!(l > 0 && l < 1)) throw ValueError("pfn: quantile levels must be in (0, 1)");
  const RowMatrix p = probabilities(X);
  Matrix q(X.rows, levels.size());
  for (size_t i = 0; i < X.rows; ++i)
    for (size_t j = 0; j < levels.size(); ++j) {
      const double v = bar_.quantile(p.row(static_cast<Eigen::Index>(i)).data(), levels[j]);
      q(i, j) = constant_ ? y_mean_ + (v - bar_.mean(p.row(static_cast<Eigen::Index>(i)).data())) : y_mean_ + y_scale_ * v;
    }
  return q;
}

Matrix PfnSurrogate::sample(const Matrix& X, size_t k, std::mt19937_64& rng) const {
  const RowMatrix p = probabilities(X);
  Matrix s(k, X.rows);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::vector<double> mu(X.rows);
  for (size_t i = 0; i < X.rows; ++i) mu[i] = bar_.mean(p.row(static_cast<Eigen::Index>(i)).data());
  for (size_t r = 0; r < k; ++r)
    for (size_t i = 0; i < X.rows; ++i) {
      const double v = bar_.draw(p.row(static_cast<Eigen::Index>(i)).data(), u(rng));
      s(r, i) = constant_ ? y_mean_ + (v - mu[i]) : y_mean_ + y_scale_ * v;
    }
  return s;
}

std::vector<double> PfnSurrogate::expected_improvement(const Matrix& X, double best) const {
  const RowMatrix p = probabilities(X);
  std::vector<double> out(X.rows);
  for (size_t i = 0; i < X.rows; ++i) {
    const double* pi = p.row(static_cast<Eigen::Index>(i)).data();
    out[i] = constant_ ? bar_.expected_improvement(pi, best - y_mean_ + bar_.mean(pi))
                       : y_scale_ * bar_.expected_improvement(pi, (best - y_mean_) / y_scale_);
  }
  return out;
}

std::vector<double> PfnSurrogate::probability_of_improvement(const Matrix& X, double best) const {
  const RowMatrix p = probabilities(X);
  std::vector<double> out(X.rows);
  for (size_t i = 0; i < X.rows; ++i) {
    const double* pi = p.row(static_cast<Eigen::Index>(i)).data();
    out[i] = constant_ ? bar_.cdf(pi, best - y_mean_ + bar_.mean(pi)) : bar_.cdf(pi, (best - y_mean_) / y_scale_);
  }
  return out;
}

}  // namespace bbo::pfn

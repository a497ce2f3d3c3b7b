#include "surrogates/bnn/bnn_core.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <string>
#include <utility>

#include "bbo/device.h"
#include "bbo/error.h"
#include "surrogates/bnn/bnn_device.h"

namespace bbo::bnn {
namespace {

using Eigen::MatrixXd;
using Eigen::VectorXd;
using RowMap = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
using RowMapMut = Eigen::Map<Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;

constexpr double kVarFloor = 1e-4;  // σ² = softplus(r) + floor (standardized units): the NLL stays bounded
const double kVarBiasInit = std::log(std::numbers::e - 1.0);  // softplus⁻¹(1): σ² starts at the data's variance

double softplus(double r) { return r > 30.0 ? r : std::log1p(std::exp(r)); }
double sigmoid(double r) { return 1.0 / (1.0 + std::exp(-r)); }

size_t n_params(const std::vector<int>& sizes) {
  size_t p = 0;
  for (size_t l = 0; l + 1 < sizes.size(); ++l) p += static_cast<size_t>(sizes[l + 1]) * (sizes[l] + 1);
  return p;
}

// Offset of layer l's weights in theta.
size_t layer_offset(const std::vector<int>& sizes, size_t l) {
  size_t p = 0;
  for (size_t k = 0; k < l; ++k) p += static_cast<size_t>(sizes[k + 1]) * (sizes[k] + 1);
  return p;
}

// The variance head's weights (not its bias) in theta: [offset, offset + count); count 0 without the head.
std::pair<Eigen::Index, Eigen::Index> variance_weights(const std::vector<int>& sizes) {
  if (sizes.back() != 2) return {0, 0};
  const size_t l = sizes.size() - 2;
  return {static_cast<Eigen::Index>(layer_offset(sizes, l)) + sizes[l], sizes[l]};
}

struct Activation {
  bool relu = false;
  void apply(MatrixXd& Z) const {
    if (relu)
      Z = Z.cwiseMax(0.0);
    else
      Z = Z.array().tanh().matrix();
  }
  // Derivative from the activation's output A.
  MatrixXd derivative(const MatrixXd& A) const {
    if (relu) return (A.array() > 0.0).cast<double>().matrix();
    return (1.0 - A.array().square()).matrix();
  }
  double derivative(double a) const { return relu ? (a > 0.0 ? 1.0 : 0.0) : 1.0 - a * a; }
};

// Forward pass of a batch (columns of U): the activations of every layer (acts[0] = U, last = outputs).
void forward(const Net& net, const Activation& act, const MatrixXd& U, std::vector<MatrixXd>& acts) {
  const size_t layers = net.sizes.size() - 1;
  acts.resize(layers + 1);
  acts[0] = U;
  for (size_t l = 0; l < layers; ++l) {
    const int in = net.sizes[l], out = net.sizes[l + 1];
    const double* p = net.theta.data() + layer_offset(net.sizes, l);
    RowMap W(p, out, in);
    Eigen::Map<const VectorXd> b(p + static_cast<size_t>(out) * in, out);
    acts[l + 1].noalias() = W * acts[l];
    acts[l + 1].colwise() += b;
    if (l + 1 < layers) act.apply(acts[l + 1]);
  }
}

// Noise variance from the network's outputs (column i).
double noise_of(const MatrixXd& out, Eigen::Index i, double fixed_noise) {
  return fixed_noise > 0 ? fixed_noise : softplus(out(1, i)) + kVarFloor;
}

// Σ_i NLL_i over the columns of U (targets z), and its gradient w.r.t. theta in grad (overwritten).
// With mse, the loss is ½ (z − μ)² (the variance head gets no gradient): the warm-up of a cold fit.
double nll_and_grad(const Net& net, const Activation& act, const MatrixXd& U, const VectorXd& z, double fixed_noise,
                    VectorXd& grad, std::vector<MatrixXd>& acts, bool mse = false) {
  forward(net, act, U, acts);
  const size_t layers = net.sizes.size() - 1;
  const MatrixXd& out = acts[layers];
  const Eigen::Index B = U.cols();
  MatrixXd delta(out.rows(), B);
  double nll = 0.0;
  for (Eigen::Index i = 0; i < B; ++i) {
    const double mu = out(0, i), var = mse ? 1.0 : noise_of(out, i, fixed_noise), r = z[i] - mu;
    nll += 0.5 * std::log(var) + 0.5 * r * r / var;
    delta(0, i) = -r / var;
    if (fixed_noise <= 0) delta(1, i) = mse ? 0.0 : (0.5 / var - 0.5 * r * r / (var * var)) * sigmoid(out(1, i));
  }
  grad.resize(net.theta.size());
  for (size_t l = layers; l-- > 0;) {
    const int in = net.sizes[l], out_w = net.sizes[l + 1];
    const size_t off = layer_offset(net.sizes, l);
    RowMapMut gW(grad.data() + off, out_w, in);
    Eigen::Map<VectorXd> gb(grad.data() + off + static_cast<size_t>(out_w) * in, out_w);
    gW.noalias() = delta * acts[l].transpose();
    gb = delta.rowwise().sum();
    if (l > 0) {
      RowMap W(net.theta.data() + off, out_w, in);
      MatrixXd back = W.transpose() * delta;
      delta = back.cwiseProduct(act.derivative(acts[l]));
    }
  }
  return nll;
}

// Seeded Glorot (tanh) or He (ReLU) uniform weights, zero biases; the variance head's bias at softplus⁻¹(1).
Net init_net(const std::vector<int>& sizes, bool relu, std::mt19937_64& rng) {
  Net net;
  net.sizes = sizes;
  net.theta = VectorXd::Zero(static_cast<Eigen::Index>(n_params(sizes)));
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    const int in = sizes[l], out = sizes[l + 1];
    const bool last = l + 2 == sizes.size();
    const double a = (relu && !last) ? std::sqrt(6.0 / in) : std::sqrt(6.0 / (in + out));
    double* p = net.theta.data() + layer_offset(sizes, l);
    for (int k = 0; k < out * in; ++k) p[k] = a * u(rng);
    if (last && out == 2) p[static_cast<size_t>(out) * in + 1] = kVarBiasInit;
  }
  return net;
}

// Columns idx of U (and entries of z).
void gather(const MatrixXd& U, const VectorXd& z, const std::vector<size_t>& idx, size_t start, size_t len,
            MatrixXd& Ub, VectorXd& zb) {
  Ub.resize(U.rows(), static_cast<Eigen::Index>(len));
  zb.resize(static_cast<Eigen::Index>(len));
  for (size_t k = 0; k < len; ++k) {
    Ub.col(static_cast<Eigen::Index>(k)) = U.col(static_cast<Eigen::Index>(idx[start + k]));
    zb[static_cast<Eigen::Index>(k)] = z[static_cast<Eigen::Index>(idx[start + k])];
  }
}

// Minibatches over a seeded permutation, reshuffled each epoch (full batch when n <= batch).
class Batcher {
 public:
  Batcher(size_t n, size_t batch, std::mt19937_64& rng) : n_(n), batch_(std::min(batch, n)), rng_(rng) {
    idx_.resize(n);
    for (size_t i = 0; i < n; ++i) idx_[i] = i;
    pos_ = n_;  // shuffle on first use
  }
  void next(const MatrixXd& U, const VectorXd& z, MatrixXd& Ub, VectorXd& zb) {
    if (batch_ == n_) {
      if (!full_) {
        Ub = U;
        zb = z;
        full_ = true;
      }
      return;
    }
    const size_t* rows = next_rows();
    gather(U, z, idx_, static_cast<size_t>(rows - idx_.data()), batch_, Ub, zb);
  }
  // The next minibatch's batch() rows (when batch() < n): the same RNG calls as next(), for the GPU path,
  // which gathers the rows itself. Valid until the next call.
  const size_t* next_rows() {
    if (pos_ + batch_ > n_) {
      for (size_t i = n_; i > 1; --i) std::swap(idx_[i - 1], idx_[rng_() % i]);
      pos_ = 0;
    }
    const size_t* rows = idx_.data() + pos_;
    pos_ += batch_;
    return rows;
  }
  size_t batch() const { return batch_; }

 private:
  size_t n_, batch_, pos_;
  bool full_ = false;
  std::vector<size_t> idx_;
  std::mt19937_64& rng_;
};

// The parameters adam_train holds at zero: the variance head's weights unless heteroscedastic.
std::pair<Eigen::Index, Eigen::Index> frozen_weights(const std::vector<int>& sizes, const BnnOptions& o) {
  return o.heteroscedastic ? std::pair<Eigen::Index, Eigen::Index>{0, 0} : variance_weights(sizes);
}

// Adam with decoupled weight decay on the mean NLL, cosine learning-rate decay from lr to lr/10. The first
// mse_steps minimize the squared error instead: a variance head trained from the start can settle on
// explaining the data as noise (a wide, flat NLL optimum) before the mean has fitted anything.
void adam_train(Net& net, const Activation& act, const MatrixXd& U, const VectorXd& z, int steps, double lr,
                const BnnOptions& o, std::mt19937_64& rng, int mse_steps) {
  const Eigen::Index P = net.theta.size();
  VectorXd m = VectorXd::Zero(P), v = VectorXd::Zero(P), g;
  Batcher batcher(static_cast<size_t>(U.cols()), static_cast<size_t>(std::max(o.batch_size, 1)), rng);
  MatrixXd Ub;
  VectorXd zb;
  std::vector<MatrixXd> acts;
  constexpr double b1 = 0.9, b2 = 0.999, eps = 1e-8;
  double b1t = 1.0, b2t = 1.0;
  const auto [vw, vn] = frozen_weights(net.sizes, o);
  net.theta.segment(vw, vn).setZero();  // homoscedastic: σ² is the head's bias alone
  for (int t = 0; t < steps; ++t) {
    batcher.next(U, z, Ub, zb);
    nll_and_grad(net, act, Ub, zb, o.fixed_noise, g, acts, t < mse_steps);
    g /= static_cast<double>(Ub.cols());
    g.segment(vw, vn).setZero();
    const double rate = lr * (0.1 + 0.45 * (1.0 + std::cos(std::numbers::pi * t / std::max(steps, 1))));
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g.cwiseAbs2();
    b1t *= b1;
    b2t *= b2;
    net.theta *= 1.0 - rate * o.weight_decay;
    net.theta.array() -= rate * (m.array() / (1 - b1t)) / ((v.array() / (1 - b2t)).sqrt() + eps);
  }
}

// The minibatch rows of every member for the CUDA backend: one Batcher per member on a copy of that member's
// RNG, so that the rows are the ones adam_train would draw, and the caller's RNGs stay as they were (a CPU
// fallback after a GPU failure starts from them).
class MemberBatches final : public BatchSource {
 public:
  MemberBatches(size_t n, size_t batch, const std::vector<std::mt19937_64>& rngs) : rngs_(rngs) {
    batchers_.reserve(rngs_.size());
    for (std::mt19937_64& rng : rngs_) batchers_.emplace_back(n, batch, rng);
  }
  void fill(int /*first*/, int count, int32_t* rows) override {
    for (int s = 0; s < count; ++s)
      for (Batcher& b : batchers_) {
        const size_t* r = b.next_rows();
        for (size_t k = 0; k < b.batch(); ++k) *rows++ = static_cast<int32_t>(r[k]);
      }
  }

 private:
  std::vector<std::mt19937_64> rngs_;
  std::vector<Batcher> batchers_;  // each refers to its element of rngs_ (never reallocated)
};

EnsembleTrainerFactory g_testing_factory = nullptr;  // set_ensemble_trainer_factory_for_testing

// Loads the CUDA backend (once per process) and makes a trainer on GPU `device`; nullptr with *why otherwise.
std::unique_ptr<EnsembleTrainer> open_trainer(int device, std::string* why) {
  if (g_testing_factory) return std::unique_ptr<EnsembleTrainer>(g_testing_factory(device, why));
  static const char anchor = 0;  // an address inside this library: the backend is looked for beside it
  void* symbol = open_cuda_backend(&anchor, "libbbo_bnn_cuda.so", "bbo_bnn_cuda_create", why);
  if (!symbol) return nullptr;
  return std::unique_ptr<EnsembleTrainer>(reinterpret_cast<EnsembleTrainerFactory>(symbol)(device, why));
}

// adam_train for all members at once on GPU `device` (members[m] trained as adam_train(members[m], ...,
// rngs[m], mse_steps) would, up to rounding). False with *why, members and rngs untouched, when the backend is
// missing or fails.
bool adam_train_gpu(int device, std::vector<Net>& members, const std::vector<std::mt19937_64>& rngs,
                    const Activation& act, const MatrixXd& U, const VectorXd& z, int steps, double lr,
                    const BnnOptions& o, int mse_steps, std::string* why) {
  std::unique_ptr<EnsembleTrainer> trainer = open_trainer(device, why);
  if (!trainer) return false;
  const std::vector<int>& sizes = members.front().sizes;
  const Eigen::Index P = members.front().theta.size();
  const auto [vw, vn] = frozen_weights(sizes, o);
  std::vector<double> theta(members.size() * static_cast<size_t>(P));
  for (size_t m = 0; m < members.size(); ++m) {
    Eigen::Map<VectorXd> t(theta.data() + m * static_cast<size_t>(P), P);
    t = members[m].theta;
    t.segment(vw, vn).setZero();  // as adam_train does before its first step
  }
  const size_t n = static_cast<size_t>(U.cols());
  MemberBatches batches(n, static_cast<size_t>(std::max(o.batch_size, 1)), rngs);
  EnsembleJob job;
  job.sizes = sizes;
  job.members = static_cast<int>(members.size());
  job.relu = act.relu;
  job.fixed_noise = o.fixed_noise;
  job.n = static_cast<int>(n);
  job.U = U.data();
  job.z = z.data();
  job.batch = static_cast<int>(std::min(n, static_cast<size_t>(std::max(o.batch_size, 1))));
  job.source = &batches;
  job.steps = steps;
  job.mse_steps = mse_steps;
  job.learning_rate = lr;
  job.weight_decay = o.weight_decay;
  job.frozen_offset = vw;
  job.frozen_count = vn;
  job.theta = theta.data();
  if (!trainer->train(job, why)) return false;
  for (size_t m = 0; m < members.size(); ++m)
    members[m].theta = Eigen::Map<const VectorXd>(theta.data() + m * static_cast<size_t>(P), P);
  return true;
}

// Prior standard deviations of the parameters (sghmc).
VectorXd prior_sd(const std::vector<int>& sizes, double scale) {
  VectorXd s(static_cast<Eigen::Index>(n_params(sizes)));
  for (size_t l = 0; l + 1 < sizes.size(); ++l) {
    const int in = sizes[l], out = sizes[l + 1];
    const size_t off = layer_offset(sizes, l);
    s.segment(static_cast<Eigen::Index>(off), out * in).setConstant(scale / std::sqrt(static_cast<double>(in)));
    s.segment(static_cast<Eigen::Index>(off) + out * in, out).setConstant(scale);
  }
  return s;
}

// SGHMC from net's weights; appends n_samples thinned states to samples. Returns the steps run.
int sghmc(Net net, const Activation& act, const MatrixXd& U, const VectorXd& z, int burn, const BnnOptions& o,
          std::mt19937_64& rng, std::vector<Net>& samples) {
  const Eigen::Index P = net.theta.size();
  const double n = static_cast<double>(U.cols());
  VectorXd prior_prec = prior_sd(net.sizes, o.prior_scale).array().square().inverse();
  // Homoscedastic noise: the variance head's weights stay at zero (mask), only its bias (the noise level) is
  // sampled, under a nearly flat N(0, 10²) prior. A heteroscedastic head under SGHMC drifts to explaining the
  // data as noise (that region of weight space has the larger posterior volume).
  VectorXd mask = VectorXd::Ones(P);
  const auto [vw, vn] = variance_weights(net.sizes);
  if (vn > 0) {
    mask.segment(vw, vn).setZero();
    net.theta.segment(vw, vn).setZero();
    prior_prec[vw + vn + 1] = 1e-2;  // the head's bias: after its vn weights and the mean's bias
  }
  VectorXd v = VectorXd::Zero(P), vhat = VectorXd::Zero(P), minv = VectorXd::Ones(P), g, noise(P);
  Batcher batcher(static_cast<size_t>(U.cols()), static_cast<size_t>(std::max(o.batch_size, 1)), rng);
  MatrixXd Ub;
  VectorXd zb;
  std::vector<MatrixXd> acts;
  std::normal_distribution<double> normal;
  const double eps2 = o.step_size * o.step_size, alpha = o.momentum_decay;
  const int total = burn + o.n_samples * o.thinning;
  for (int t = 0; t < total; ++t) {
    batcher.next(U, z, Ub, zb);
    nll_and_grad(net, act, Ub, zb, o.fixed_noise, g, acts);
    g *= n / static_cast<double>(Ub.cols());
    g += prior_prec.cwiseProduct(net.theta);
    g = g.cwiseProduct(mask);
    if (t < burn || t == 0) {
      // Running mean of g² (window growing to 100 steps), frozen after the burn-in.
      const double w = 1.0 / std::min(t + 1, 100);
      vhat = (1 - w) * vhat + w * g.cwiseAbs2();
      // The prior precision floors E g²: where the likelihood is flat (a saturated unit, the softplus noise
      // far below its floor) 1/√(E g²) would be huge and the injected noise would throw the weight away.
      minv = (vhat + prior_prec).array().sqrt().inverse();
    }
    for (Eigen::Index k = 0; k < P; ++k) noise[k] = normal(rng);
    v = (1 - alpha) * v - eps2 * minv.cwiseProduct(g) +
        (2 * eps2 * alpha * o.temperature * minv.array()).sqrt().matrix().cwiseProduct(noise).cwiseProduct(mask);
    net.theta += v;
    if (!net.theta.allFinite()) throw Error("bnn: the SGHMC chain diverged (lower step_size)");
    if (t >= burn && (t - burn + 1) % o.thinning == 0) samples.push_back(net);
  }
  return total;
}

uint64_t fnv(uint64_t h, const void* p, size_t len) {
  const unsigned char* c = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < len; ++i) h = (h ^ c[i]) * 1099511628211ULL;
  return h;
}

std::string hex(uint64_t h) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) s[static_cast<size_t>(i)] = digits[h & 15];
  return s;
}

bool categorical(const Dimension& dim) { return dim.kind == DimensionKind::kCategorical && dim.levels > 0; }

}  // namespace

void set_ensemble_trainer_factory_for_testing(EnsembleTrainerFactory factory) { g_testing_factory = factory; }

// ---- base64 float32 ------------------------------------------------------------------------------------

std::string encode_floats(const VectorXd& v) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::vector<unsigned char> bytes(static_cast<size_t>(v.size()) * 4);
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    float f = static_cast<float>(v[i]);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    for (int b = 0; b < 4; ++b) bytes[static_cast<size_t>(i) * 4 + b] = static_cast<unsigned char>(u >> (8 * b));
  }
  std::string s;
  s.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t chunk = static_cast<uint32_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) chunk |= static_cast<uint32_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) chunk |= bytes[i + 2];
    s += table[(chunk >> 18) & 63];
    s += table[(chunk >> 12) & 63];
    s += i + 1 < bytes.size() ? table[(chunk >> 6) & 63] : '=';
    s += i + 2 < bytes.size() ? table[chunk & 63] : '=';
  }
  return s;
}

VectorXd decode_floats(const std::string& s) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (s.size() % 4 != 0) throw ValueError("bnn: state weights are not base64");
  std::vector<unsigned char> bytes;
  for (size_t i = 0; i < s.size(); i += 4) {
    int pad = 0;
    uint32_t chunk = 0;
    for (int k = 0; k < 4; ++k) {
      char c = s[i + static_cast<size_t>(k)];
      int v = 0;
      if (c == '=') {
        ++pad;
      } else {
        v = value(c);
        if (v < 0 || pad > 0) throw ValueError("bnn: state weights are not base64");
      }
      chunk = (chunk << 6) | static_cast<uint32_t>(v);
    }
    bytes.push_back(static_cast<unsigned char>(chunk >> 16));
    if (pad < 2) bytes.push_back(static_cast<unsigned char>(chunk >> 8));
    if (pad < 1) bytes.push_back(static_cast<unsigned char>(chunk));
  }
  if (bytes.size() % 4 != 0) throw ValueError("bnn: state weights are not whole float32 values");
  VectorXd v(static_cast<Eigen::Index>(bytes.size() / 4));
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    uint32_t u = 0;
    for (int b = 0; b < 4; ++b) u |= static_cast<uint32_t>(bytes[static_cast<size_t>(i) * 4 + b]) << (8 * b);
    float f;
    std::memcpy(&f, &u, 4);
    v[i] = f;
  }
  return v;
}

// ---- BnnModel ---------------------------------------------------------------------------------------------

BnnModel::BnnModel(BnnOptions o) : options_(std::move(o)) {
  if (options_.variant != "ensemble" && options_.variant != "sghmc")
    throw ConfigError("bnn: variant must be ensemble or sghmc, got '" + options_.variant + "'");
  if (options_.activation != "tanh" && options_.activation != "relu")
    throw ConfigError("bnn: activation must be tanh or relu, got '" + options_.activation + "'");
  for (int h : options_.hidden)
    if (h < 1 || h > 4096) throw ConfigError("bnn: hidden layer widths must be in [1, 4096]");
  if (options_.n_members < 1) throw ConfigError("bnn: n_members must be >= 1");
  if (options_.n_samples < 1) throw ConfigError("bnn: n_samples must be >= 1");
  if (options_.thinning < 1) throw ConfigError("bnn: thinning must be >= 1");
  if (options_.batch_size < 1) throw ConfigError("bnn: batch_size must be >= 1");
  if (options_.epochs < 0 || options_.min_steps < 0 || options_.max_steps < options_.min_steps)
    throw ConfigError("bnn: need epochs >= 0 and 0 <= min_steps <= max_steps");
  if (options_.pretrain_steps < 0 || options_.burn_in < 0) throw ConfigError("bnn: pretrain_steps and burn_in must be >= 0");
  if (!(options_.learning_rate > 0)) throw ConfigError("bnn: learning_rate must be > 0");
  if (!(options_.weight_decay >= 0)) throw ConfigError("bnn: weight_decay must be >= 0");
  if (!(options_.warm_fraction > 0 && options_.warm_fraction <= 1)) throw ConfigError("bnn: warm_fraction must be in (0, 1]");
  if (!(options_.step_size > 0)) throw ConfigError("bnn: step_size must be > 0");
  if (!(options_.momentum_decay > 0 && options_.momentum_decay <= 1)) throw ConfigError("bnn: momentum_decay must be in (0, 1]");
  if (!(options_.prior_scale > 0)) throw ConfigError("bnn: prior_scale must be > 0");
  if (!(options_.fixed_noise >= 0)) throw ConfigError("bnn: fixed_noise must be >= 0");
  if (!(options_.auto_min_flops >= 0)) throw ConfigError("bnn: auto_min_flops must be >= 0");
}

MatrixXd BnnModel::encode(const Matrix& X) const {
  MatrixXd U(enc_width_, static_cast<Eigen::Index>(X.rows));
  for (size_t i = 0; i < X.rows; ++i) {
    Eigen::Index r = 0;
    auto col = U.col(static_cast<Eigen::Index>(i));
    for (size_t j = 0; j < d_; ++j) {
      const double x = X(i, j);
      if (categorical(dims_[j])) {
        const double L = static_cast<double>(dims_[j].levels);
        const size_t level = static_cast<size_t>(std::clamp(std::floor(std::clamp(x, 0.0, 1.0) * L), 0.0, L - 1.0));
        for (size_t k = 0; k < dims_[j].levels; ++k) col[r++] = k == level ? 1.0 : 0.0;
      } else {
        col[r++] = 2.0 * x - 1.0;
      }
    }
  }
  return U;
}

void BnnModel::fit(const FitInput& in) {
  validate_fit_input(in, "bnn");
  const size_t n = in.X.rows;
  d_ = in.X.cols;
  dims_ = in.dims.empty() ? std::vector<Dimension>(d_) : in.dims;
  enc_width_ = 0;
  for (const Dimension& dim : dims_) enc_width_ += categorical(dim) ? static_cast<int>(dim.levels) : 1;
  nets_.clear();
  noise_ = 0.0;
  cond_U_.resize(0, 0);
  cond_z_.resize(0);
  train_steps_ = 0;
  restored_ = false;
  trained_on_gpu_ = false;
  fitted_ = true;

  y_mean_ = 0.0;
  for (double v : in.y) y_mean_ += v;
  if (n > 0) y_mean_ /= static_cast<double>(n);
  double var = 0.0;
  for (double v : in.y) var += (v - y_mean_) * (v - y_mean_);
  y_std_ = n > 1 ? std::sqrt(var / static_cast<double>(n)) : 1.0;
  const bool constant = !(y_std_ > 1e-12 * std::max(1.0, std::fabs(y_mean_)));
  if (constant) y_std_ = 1.0;

  // The data (and everything about the options that shapes the fit) as a hash, for warm starts.
  uint64_t h = 1469598103934665603ULL;
  const std::string fingerprint = json{{"variant", options_.variant}, {"hidden", options_.hidden},
                                       {"activation", options_.activation}, {"fixed_noise", options_.fixed_noise},
                                       {"members", options_.n_members}, {"samples", options_.n_samples}}
                                      .dump();
  h = fnv(h, fingerprint.data(), fingerprint.size());
  h = fnv(h, &d_, sizeof d_);
  for (const Dimension& dim : dims_) {
    int kind = static_cast<int>(dim.kind);
    h = fnv(h, &kind, sizeof kind);
    h = fnv(h, &dim.levels, sizeof dim.levels);
  }
  h = fnv(h, in.X.data.data(), in.X.data.size() * sizeof(double));
  h = fnv(h, in.y.data(), in.y.size() * sizeof(double));
  data_hash_ = h;
  if (n < 2 || constant) return;  // the prior (around ȳ)

  std::vector<int> sizes = {enc_width_};
  for (int w : options_.hidden) sizes.push_back(w);
  sizes.push_back(options_.fixed_noise > 0 ? 1 : 2);
  const bool ensemble = options_.variant == "ensemble";
  const size_t want = static_cast<size_t>(ensemble ? options_.n_members : options_.n_samples);

  // Warm start: networks of the same shape (and variant) from an earlier fit.
  std::vector<Net> warm;
  bool same_data = false;
  try {
    const json& st = in.warm_start;
    if (st.is_object() && st.value("model", "") == "bnn" && st.value("variant", "") == options_.variant &&
        st.value("d", size_t{0}) == d_ && st.at("sizes").get<std::vector<int>>() == sizes) {
      for (const auto& s : st.at("nets")) {
        Net net{sizes, decode_floats(s.get<std::string>())};
        if (net.theta.size() != static_cast<Eigen::Index>(n_params(sizes)) || !net.theta.allFinite()) {
          warm.clear();
          break;
        }
        warm.push_back(std::move(net));
      }
      same_data = st.value("hash", "") == hex(data_hash_);
      if (warm.size() != want) warm.clear();
    }
  } catch (const std::exception&) {
    warm.clear();
  }
  if (same_data && !warm.empty()) {
    nets_ = std::move(warm);
    restored_ = true;
    noise_ = mean_training_noise(in.X);
    return;
  }

  MatrixXd U = encode(in.X);
  VectorXd z(static_cast<Eigen::Index>(n));
  for (size_t i = 0; i < n; ++i) z[static_cast<Eigen::Index>(i)] = (in.y[i] - y_mean_) / y_std_;
  const Activation act{options_.activation == "relu"};
  const double batches = std::ceil(static_cast<double>(n) / std::max(options_.batch_size, 1));
  const int cold_steps = static_cast<int>(
      std::clamp(options_.epochs * batches, static_cast<double>(options_.min_steps), static_cast<double>(options_.max_steps)));
  if (ensemble) {
    const int steps = warm.empty() ? cold_steps : std::max(1, static_cast<int>(std::ceil(options_.warm_fraction * cold_steps)));
    // A warm run starts at a smaller step: it refines, it should not shake the weights out of their basin.
    const double lr = warm.empty() ? options_.learning_rate : 0.3 * options_.learning_rate;
    const int mse_steps = warm.empty() ? steps / 3 : 0;
    // Each member's RNG draws its initial weights, then its minibatch order (in adam_train, or on the host
    // for the GPU): both paths draw the same numbers.
    std::vector<std::mt19937_64> rngs;
    std::vector<Net> members;
    rngs.reserve(want);
    for (size_t m = 0; m < want; ++m) {
      rngs.emplace_back(in.seed * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL * (m + 1));
      members.push_back(warm.empty() ? init_net(sizes, act.relu, rngs.back()) : warm[m]);
    }
    const double rows = static_cast<double>(std::min(n, static_cast<size_t>(std::max(options_.batch_size, 1))));
    const double flops = 6.0 * static_cast<double>(n_params(sizes)) * rows * static_cast<double>(want) * steps;
    const Device device = g_testing_factory && options_.device.kind == Device::Kind::Cuda
                              ? options_.device
                              : resolve_device(options_.device, flops >= options_.auto_min_flops, "bnn");
    if (device.kind == Device::Kind::Cuda) {
      std::string why;
      trained_on_gpu_ = adam_train_gpu(device.index, members, rngs, act, U, z, steps, lr, options_, mse_steps, &why);
      if (!trained_on_gpu_ && options_.device.kind == Device::Kind::Cuda) notice_cpu_fallback("bnn", options_.device, why);
    }
    if (!trained_on_gpu_)
      for (size_t m = 0; m < want; ++m) adam_train(members[m], act, U, z, steps, lr, options_, rngs[m], mse_steps);
    nets_ = std::move(members);
    train_steps_ += steps * static_cast<int>(want);
  } else {
    if (options_.device.kind == Device::Kind::Cuda)
      notice_cpu_fallback("bnn", options_.device, "the sghmc variant trains on the CPU only");
    std::mt19937_64 rng(in.seed ^ 0xd1b54a32d192ed03ULL);
    Net start;
    int burn = options_.burn_in;
    if (warm.empty()) {
      start = init_net(sizes, act.relu, rng);
      adam_train(start, act, U, z, options_.pretrain_steps, options_.learning_rate, options_, rng,
                 options_.pretrain_steps / 3);
      train_steps_ += options_.pretrain_steps;
    } else {
      start = warm.back();
      burn = static_cast<int>(std::ceil(options_.warm_fraction * burn));
    }
    train_steps_ += sghmc(start, act, U, z, burn, options_, rng, nets_);
  }
  // Float precision, so that state() (float32) restores exactly this model.
  for (Net& net : nets_)
    for (Eigen::Index k = 0; k < net.theta.size(); ++k) net.theta[k] = static_cast<float>(net.theta[k]);
  noise_ = mean_training_noise(in.X);
}

double BnnModel::mean_training_noise(const Matrix& X) const {
  MatrixXd mu, var;
  net_outputs(X, mu, var);
  return var.size() > 0 ? var.mean() : 0.0;
}

void BnnModel::check_query(const Matrix& X) const { validate_query_input(X, fitted_ ? d_ : 0, "bnn"); }

void BnnModel::net_outputs(const Matrix& X, MatrixXd& mu, MatrixXd& var) const {
  check_query(X);
  const MatrixXd U = encode(X);
  const Activation act{options_.activation == "relu"};
  mu.resize(static_cast<Eigen::Index>(nets_.size()), U.cols());
  var.resize(mu.rows(), U.cols());
  std::vector<MatrixXd> acts;
  for (size_t m = 0; m < nets_.size(); ++m) {
    forward(nets_[m], act, U, acts);
    const MatrixXd& out = acts.back();
    for (Eigen::Index i = 0; i < U.cols(); ++i) {
      mu(static_cast<Eigen::Index>(m), i) = out(0, i);
      var(static_cast<Eigen::Index>(m), i) = noise_of(out, i, options_.fixed_noise);
    }
  }
}

MatrixXd BnnModel::cross_cov(const MatrixXd& mu) const {
  const MatrixXd D = mu.rowwise() - mu.colwise().mean();  // M × m
  return D.transpose() * cond_D_ / static_cast<double>(mu.rows());
}

Prediction BnnModel::predict(const Matrix& X) const { return moments(X, false); }
Prediction BnnModel::predictive(const Matrix& X) const { return moments(X, true); }

Prediction BnnModel::moments(const Matrix& X, bool with_noise) const {
  check_query(X);
  const size_t m = X.rows;
  Prediction p;
  p.mean.assign(m, y_mean_);
  p.variance.assign(m, y_std_ * y_std_);
  if (trivial() || m == 0) return p;
  MatrixXd mu, var;
  net_outputs(X, mu, var);
  const double M = static_cast<double>(mu.rows());
  const VectorXd mean = mu.colwise().mean().transpose();
  const VectorXd alea = var.colwise().mean().transpose();
  VectorXd epi = (mu.rowwise() - mean.transpose()).array().square().colwise().sum().transpose() / M;
  VectorXd cmean = mean;
  if (cond_z_.size() > 0) {
    const MatrixXd c = cross_cov(mu);  // m × q
    cmean += c * cond_alpha_;
    epi -= (c * cond_Kinv_).cwiseProduct(c).rowwise().sum();
  }
  for (size_t i = 0; i < m; ++i) {
    const Eigen::Index k = static_cast<Eigen::Index>(i);
    p.mean[i] = y_mean_ + y_std_ * cmean[k];
    p.variance[i] = y_std_ * y_std_ * ((with_noise ? alea[k] : 0.0) + std::max(epi[k], 0.0));
  }
  return p;
}

PointPrediction BnnModel::predict_with_gradient(const double* x) const {
  PointPrediction out;
  out.dmean.assign(d_, 0.0);
  out.dvariance.assign(d_, 0.0);
  out.mean = y_mean_;
  out.variance = y_std_ * y_std_;
  if (trivial()) return out;
  Matrix X1(1, d_);
  for (size_t j = 0; j < d_; ++j) X1(0, j) = x[j];
  const MatrixXd u = encode(X1);
  const Eigen::Index d = static_cast<Eigen::Index>(d_);
  // du/dx (enc_width × d): 2 on continuous coordinates, 0 on one-hot columns (piecewise constant).
  MatrixXd J0 = MatrixXd::Zero(enc_width_, d);
  {
    Eigen::Index r = 0;
    for (size_t j = 0; j < d_; ++j) {
      if (categorical(dims_[j])) {
        r += static_cast<Eigen::Index>(dims_[j].levels);
      } else {
        J0(r++, static_cast<Eigen::Index>(j)) = 2.0;
      }
    }
  }
  const Activation act{options_.activation == "relu"};
  const Eigen::Index M = static_cast<Eigen::Index>(nets_.size());
  VectorXd mu(M), var(M);
  MatrixXd dmu(M, d), dvar(M, d);
  for (Eigen::Index m = 0; m < M; ++m) {
    const Net& net = nets_[static_cast<size_t>(m)];
    const size_t layers = net.sizes.size() - 1;
    VectorXd a = u.col(0);
    MatrixXd J = J0;  // d a / d x
    for (size_t l = 0; l < layers; ++l) {
      const int in = net.sizes[l], o = net.sizes[l + 1];
      const double* p = net.theta.data() + layer_offset(net.sizes, l);
      RowMap W(p, o, in);
      Eigen::Map<const VectorXd> b(p + static_cast<size_t>(o) * in, o);
      VectorXd zl = W * a + b;
      MatrixXd Jz = W * J;
      if (l + 1 < layers) {
        a = act.relu ? VectorXd(zl.cwiseMax(0.0)) : VectorXd(zl.array().tanh().matrix());
        for (int k = 0; k < o; ++k) Jz.row(k) *= act.derivative(a[k]);
      } else {
        a = zl;
      }
      J = std::move(Jz);
    }
    mu[m] = a[0];
    dmu.row(m) = J.row(0);
    if (options_.fixed_noise > 0) {
      var[m] = options_.fixed_noise;
      dvar.row(m).setZero();
    } else {
      var[m] = softplus(a[1]) + kVarFloor;
      dvar.row(m) = sigmoid(a[1]) * J.row(1);
    }
  }
  const double Md = static_cast<double>(M);
  const double mean = mu.mean();
  const Eigen::RowVectorXd dmean = dmu.colwise().mean();
  const VectorXd D = mu.array() - mean;
  const MatrixXd dD = dmu.rowwise() - dmean;
  double epi = D.squaredNorm() / Md;
  Eigen::RowVectorXd depi = 2.0 * D.transpose() * dD / Md;
  double cmean = mean;
  Eigen::RowVectorXd dcmean = dmean;
  if (cond_z_.size() > 0) {
    const Eigen::RowVectorXd c = D.transpose() * cond_D_ / Md;  // 1 × q
    const MatrixXd dc = dD.transpose() * cond_D_ / Md;          // d × q
    const Eigen::RowVectorXd cK = c * cond_Kinv_;
    cmean += c.dot(cond_alpha_.transpose());
    dcmean += (dc * cond_alpha_).transpose();
    epi -= cK.dot(c);
    depi -= 2.0 * (dc * cK.transpose()).transpose();
  }
  out.mean = y_mean_ + y_std_ * cmean;
  const double s2 = y_std_ * y_std_;
  out.variance = s2 * std::max(epi, 0.0);
  for (Eigen::Index j = 0; j < d; ++j) {
    out.dmean[static_cast<size_t>(j)] = y_std_ * dcmean[j];
    out.dvariance[static_cast<size_t>(j)] = s2 * (epi > 0 ? depi[j] : 0.0);
  }
  return out;
}

Matrix BnnModel::sample(const Matrix& X, size_t k, std::mt19937_64& rng) const {
  check_query(X);
  const size_t m = X.rows;
  Matrix out(k, m);
  std::normal_distribution<double> normal;
  if (trivial()) {
    for (double& v : out.data) v = y_mean_ + y_std_ * normal(rng);
    return out;
  }
  if (m == 0) return out;
  MatrixXd mu, var;
  net_outputs(X, mu, var);
  const Eigen::Index M = mu.rows(), q = cond_z_.size();
  MatrixXd CK, shift;
  VectorXd base;
  if (q > 0) {
    const MatrixXd c = cross_cov(mu);  // m × q
    CK = c * cond_Kinv_;
    base = c * cond_alpha_;
  }
  VectorXd e(q);
  for (size_t s = 0; s < k; ++s) {
    const Eigen::Index pick = static_cast<Eigen::Index>(rng() % static_cast<uint64_t>(M));
    VectorXd f = mu.row(pick).transpose();
    if (q > 0) {
      // Matheron: g + C(x,P)(C_PP + A_P)⁻¹(z_P − g(P) − e_P) with g(P) − μ̄(P) = cond_D_ row.
      for (Eigen::Index j = 0; j < q; ++j) e[j] = std::sqrt(cond_noise_[j]) * normal(rng);
      f += base - CK * (cond_D_.row(pick).transpose() + e);
    }
    for (size_t i = 0; i < m; ++i) out(s, i) = y_mean_ + y_std_ * f[static_cast<Eigen::Index>(i)];
  }
  return out;
}

Matrix BnnModel::quantiles(const Matrix& X, const std::vector<double>& levels) const {
  for (double l : levels)
    if (!(l > 0 && l < 1)) throw ValueError("bnn: quantile levels must be in (0, 1)");
  Prediction p = predictive(X);
  Matrix q(X.rows, levels.size());
  for (size_t i = 0; i < X.rows; ++i)
    for (size_t j = 0; j < levels.size(); ++j)
      q(i, j) = p.mean[i] + std::sqrt(p.variance[i]) * normal_quantile(levels[j]);
  return q;
}

std::shared_ptr<BnnModel> BnnModel::condition_on(const Matrix& X, const std::vector<double>& y) const {
  validate_condition_input(X, y, fitted_ ? d_ : 0, "bnn");
  if (trivial()) return nullptr;  // no members to take a covariance from
  auto c = std::make_shared<BnnModel>(*this);
  const Eigen::Index q0 = cond_z_.size(), q1 = static_cast<Eigen::Index>(X.rows), q = q0 + q1;
  if (q1 == 0) return c;
  // All fantasies so far (Gaussian conditioning is order-free: redo it on the union).
  const MatrixXd Unew = encode(X);
  c->cond_U_.resize(enc_width_, q);
  c->cond_z_.resize(q);
  if (q0 > 0) {
    c->cond_U_.leftCols(q0) = cond_U_;
    c->cond_z_.head(q0) = cond_z_;
  }
  c->cond_U_.rightCols(q1) = Unew;
  for (Eigen::Index j = 0; j < q1; ++j) c->cond_z_[q0 + j] = (y[static_cast<size_t>(j)] - y_mean_) / y_std_;
  const Activation act{options_.activation == "relu"};
  const Eigen::Index M = static_cast<Eigen::Index>(nets_.size());
  MatrixXd mu(M, q), var(M, q);
  std::vector<MatrixXd> acts;
  for (Eigen::Index m = 0; m < M; ++m) {
    forward(nets_[static_cast<size_t>(m)], act, c->cond_U_, acts);
    for (Eigen::Index j = 0; j < q; ++j) {
      mu(m, j) = acts.back()(0, j);
      var(m, j) = noise_of(acts.back(), j, options_.fixed_noise);
    }
  }
  const Eigen::RowVectorXd mean = mu.colwise().mean();
  c->cond_D_ = mu.rowwise() - mean;
  c->cond_noise_ = var.colwise().mean().transpose();
  MatrixXd K = c->cond_D_.transpose() * c->cond_D_ / static_cast<double>(M);
  K.diagonal() += c->cond_noise_;
  K.diagonal().array() += 1e-10;
  c->cond_Kinv_ = K.llt().solve(MatrixXd::Identity(q, q));
  c->cond_alpha_ = c->cond_Kinv_ * (c->cond_z_ - mean.transpose());
  return c;
}

json BnnModel::state() const {
  if (!fitted_) return nullptr;
  json nets = json::array();
  for (const Net& net : nets_) nets.push_back(encode_floats(net.theta));
  json sizes = nets_.empty() ? json::array() : json(nets_.front().sizes);
  return {{"model", "bnn"}, {"variant", options_.variant}, {"d", d_}, {"hash", hex(data_hash_)},
          {"sizes", sizes}, {"nets", nets}};
}

}  // namespace bbo::bnn

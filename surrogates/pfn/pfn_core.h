// pfn_core.h — the `pfn` surrogate: a prior-data fitted network (PFNs4BO, Müller et al. 2023) run in C++.
//
// The network (trained by surrogates/pfn/train/pfn_train.py on datasets drawn from a GP prior; the weights
// are surrogates/pfn/weights/pfn_weights.bin, format in docs/surrogates.md "## pfn") reads the observations
// as a context and predicts, for any query x, a bar distribution of y: K buckets between fixed borders with
// half-normal tails. No gradient training happens at fit time: fit() standardizes y, encodes the context once
// (keys and values of every layer), and each query is a cheap cross-attention pass over that cache.
//
// Duplicate x rows are merged (mean y) before anything else. Limits of the trained network: d <= max_dims
// (8) input coordinates and n <= max_context (60) distinct observations. Beyond them the surrogate falls back
// (documented in docs/surrogates.md):
//  - d > max_dims: the max_dims coordinates with the largest |Spearman rank correlation| with y are used
//    (ties → lower index; with n < 2, the first max_dims); the others are ignored;
//  - n > max_context: the max_context/2 best observations (lowest y) plus max_context/2 others drawn
//    uniformly (seeded by FitInput::seed) form the context.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "bbo/device.h"
#include "bbo/surrogate.h"
#include "surrogates/pfn/pfn_device.h"

namespace bbo::pfn {

using RowMatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// A bar (Riemann) distribution: probabilities p_k over K buckets with borders b_0 < ... < b_K. Buckets
// 1..K-2 are uniform on [b_k, b_{k+1}]; bucket 0 is b_1 - Z and bucket K-1 is b_{K-1} + Z with Z half-normal,
// its scale chosen so that half of the tail's mass lies within the bucket's width (as PFNs'
// FullSupportBarDistribution). Everything below is closed form (quantile: exact inversion of the CDF).
class BarDistribution {
 public:
  explicit BarDistribution(std::vector<double> borders);  // K + 1 increasing borders, K >= 3
  size_t buckets() const { return borders_.size() - 1; }
  const std::vector<double>& borders() const { return borders_; }
  double left_scale() const { return left_scale_; }
  double right_scale() const { return right_scale_; }

  // p: K probabilities (summing to 1).
  double mean(const double* p) const;
  double variance(const double* p) const;
  double cdf(const double* p, double y) const;
  double pdf(const double* p, double y) const;
  double quantile(const double* p, double level) const;  // level in (0, 1)
  // E[max(best - y, 0)] and P(y < best) (minimization).
  double expected_improvement(const double* p, double best) const;
  double probability_of_improvement(const double* p, double best) const { return cdf(p, best); }
  // A draw from the distribution given u ~ U(0,1) (inverse CDF).
  double draw(const double* p, double u) const { return quantile(p, std::min(std::max(u, 1e-12), 1 - 1e-12)); }

 private:
  std::vector<double> borders_;
  double left_scale_ = 1.0, right_scale_ = 1.0;
};

// The network's weights (float32 on disk, double in memory) and its bucket borders.
struct PfnWeights {
  size_t max_dims = 8, max_context = 60, emsize = 0, heads = 0, layers = 0, ff = 0, dec_hidden = 0, buckets = 0;
  std::vector<double> borders;
  RowMatrix xenc_w, yenc_w;  // (E × max_dims), (E × 1)
  Eigen::VectorXd xenc_b, yenc_b, prior_token;
  struct Layer {
    Eigen::VectorXd ln1_w, ln1_b, qkv_b, out_b, ln2_w, ln2_b, ff1_b, ff2_b;
    RowMatrix qkv_w, out_w, ff1_w, ff2_w;  // (out × in), as torch.nn.Linear
  };
  std::vector<Layer> layer;
  Eigen::VectorXd lnf_w, lnf_b, dec1_b, dec2_b;
  RowMatrix dec1_w, dec2_w;

  // Parses the weight file format (docs/surrogates.md "## pfn"); throws ValueError naming what is wrong.
  static std::shared_ptr<const PfnWeights> parse(const unsigned char* data, size_t size, const std::string& what);
  static std::shared_ptr<const PfnWeights> load(const std::string& path);
  // The weights compiled into the plugin (surrogates/pfn/weights/pfn_weights.bin).
  static std::shared_ptr<const PfnWeights> builtin();
};

// The network on standardized data: the context (features already scaled, see features()) is encoded once;
// logits() then scores any number of queries.
//
// Device: logits() runs on the CPU (Eigen) by default. With set_device(cuda[:N]) it scores the queries on
// that GPU through the CUDA backend (pfn_device.h, libbbo_pfn_cuda.so: the weights uploaded once per
// network, the context cache once per set_context(), all m query rows in one call, chunked internally);
// with "auto" it does so when m >= auto_min_rows. The context itself is always encoded on the CPU (at most
// 61 tokens). When the GPU cannot be used (no driver or GPU, backend not built or not loadable, a CUDA error)
// logits() computes on the CPU: an explicit cuda request prints one line on stderr (once per process), auto
// stays silent, and after a CUDA failure the network stays on the CPU. The GPU result equals the CPU result
// up to rounding (same operations; tests: 1e-9).
class PfnNetwork {
 public:
  explicit PfnNetwork(std::shared_ptr<const PfnWeights> w) : w_(std::move(w)) {}
  const PfnWeights& weights() const { return *w_; }
  // The trainer's input features: (x - 0.5) * sqrt(max_dims / d), zero-padded to max_dims columns.
  RowMatrix features(const Matrix& X, const std::vector<size_t>& columns) const;
  // Encodes n context tokens (features n × max_dims, standardized y) plus the learned prior token.
  void set_context(const RowMatrix& features, const std::vector<double>& ys);
  // Logits (m × K) of the bar distribution at m query feature rows (m × max_dims), on the device chosen by
  // set_device(). ValueError when the rows do not have max_dims columns.
  RowMatrix logits(const RowMatrix& query_features) const;

  // Where logits() computes (see the class comment); the default is the CPU.
  void set_device(const Device& requested, size_t auto_min_rows);
  const Device& device() const { return device_; }
  // The device the latest logits() call computed on (cpu or cuda:N): tests and diagnostics.
  Device last_device() const;

 private:
  RowMatrix cpu_logits(const RowMatrix& query_features) const;
  // Scores on GPU `index` through the backend into out; false with *why on any failure.
  bool cuda_logits(int index, const RowMatrix& query_features, RowMatrix& out, std::string* why) const;

  // The GPU engine and its bookkeeping; a copy of the network starts without an engine.
  struct CudaSlot {
    CudaSlot() = default;
    CudaSlot(const CudaSlot&) {}
    CudaSlot& operator=(const CudaSlot&) {
      std::lock_guard lock(mutex);
      engine.reset();
      context_current = failed = false;
      return *this;
    }
    std::mutex mutex;
    std::unique_ptr<PfnDeviceEngine> engine;
    int index = -1;                // the GPU the engine lives on
    bool context_current = false;  // the engine holds keys_/values_
    bool failed = false;           // a GPU attempt failed: stay on the CPU
    Device last;                   // last_device()
  };

  std::shared_ptr<const PfnWeights> w_;
  std::vector<RowMatrix> keys_, values_;  // per layer: (n + 1) × E
  size_t tokens_ = 0;                     // n + 1
  Device device_;
  size_t auto_min_rows_ = 1024;
  mutable CudaSlot cuda_;
};

struct PfnOptions {
  std::string weights_path;  // empty: the compiled-in weights
  // has_gradient(): central finite differences (2d + 1 queries per gradient). Off by default: the acquisition
  // optimizer's derivative-free local search needs fewer network passes than L-BFGS with these gradients.
  bool gradient = false;
  // predict(): false → the bar distribution's exact mean and variance; true → a robust Gaussian summary,
  // median and ((q_0.8413 − q_0.1587)/2)², which ignores the rare, very wide tail buckets (they hold the
  // prior's extreme standardized values and dominate the exact variance at small n).
  bool robust_moments = false;
  // Where the network scores queries (PfnNetwork::set_device): cpu (default), cuda[:N], or auto = the GPU
  // for calls with at least auto_min_rows query rows. The threshold is an estimate awaiting `bench/run gpu`
  // on a device: a query row costs ~0.25 Mflop (E = 64, 3 layers, up to 61 context tokens), measured ~50 µs
  // per row on one core of the 2-core development machine (Eigen, n = 10..60, m = 64..16384), against a
  // GPU call of ~45 kernel/cuBLAS launches and two transfers (estimated < 2 ms up to a few thousand rows) and
  // a one-time CUDA/cuBLAS start (~0.5 s per process). Break-even per call is a few dozen rows; 1024 (CPU
  // ~50 ms a call) leaves small batches (local searches, gradients, single predictions) on the CPU and
  // sends the acquisition optimizer's 2,048-candidate passes and larger sets to the GPU, which repays the
  // start within about ten such calls.
  Device device;
  size_t auto_min_rows = 1024;
};

// The Surrogate (see bbo/surrogate.h). Predictions describe the noisy observation y (the network is trained
// on noisy data and does not separate the noise): variance() is the bar distribution's variance and
// noise_variance() is 0. condition_on() is not offered (nullptr): adding a fantasy to the context re-reads
// the whole context, and the trained network does not reliably pull its prediction at the fantasy toward the
// fantasy's value nor shrink its variance there, so pending points get the acquisition's local penalty.
// Gradients (only with PfnOptions::gradient): central finite differences of predict()
// (h = 1e-6), evaluated as one batch of 2d + 1 queries.
class PfnSurrogate : public Surrogate {
 public:
  explicit PfnSurrogate(const PfnOptions& options);
  void fit(const FitInput& input) override;
  Prediction predict(const Matrix& X) const override;
  bool has_gradient() const override { return gradient_; }
  PointPrediction predict_with_gradient(const double* x) const override;
  Matrix sample(const Matrix& X, size_t k, std::mt19937_64& rng) const override;
  Matrix quantiles(const Matrix& X, const std::vector<double>& levels) const override;

  // Bucket probabilities (m × K, in standardized units) at the rows of X, and the y scaling.
  RowMatrix probabilities(const Matrix& X) const;
  // Closed-form EI / PI of the bar distribution (minimization, best in y units) at the rows of X.
  std::vector<double> expected_improvement(const Matrix& X, double best) const;
  std::vector<double> probability_of_improvement(const Matrix& X, double best) const;
  const BarDistribution& bar() const { return bar_; }
  // What fit() kept: the input columns used (size <= max_dims) and the context rows (indices into the fit's
  // rows, the first of each group of duplicates).
  const std::vector<size_t>& used_columns() const { return columns_; }
  const std::vector<size_t>& context_rows() const { return rows_; }

 private:
  void check_cols(const Matrix& X) const;
  std::shared_ptr<const PfnWeights> weights_;
  bool gradient_ = false;
  bool robust_ = false;
  BarDistribution bar_;
  PfnNetwork net_;
  size_t d_ = 0;
  bool fitted_ = false;
  std::vector<size_t> columns_, rows_;
  double y_mean_ = 0.0, y_scale_ = 1.0;
  bool constant_ = false;  // all context y equal (n >= 2): predict that constant
  Matrix ctx_x_;           // the context kept, in the fit's d columns
  std::vector<double> ctx_y_;
};

}  // namespace bbo::pfn

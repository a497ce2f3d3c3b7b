// bnn_core.h — the neural-network surrogate of the `bnn` plugin (deep ensemble or SGHMC posterior samples),
// usable (and unit-tested) without the plugin registry.
//
// Network: an MLP on the encoded inputs (continuous and grid coordinates u = 2x − 1; a categorical with L
// choices becomes L one-hot columns), `hidden` layers of tanh or ReLU units, and two linear outputs: the
// mean μ(x) and the noise variance σ²(x) = softplus(r(x)) + 1e-4 of the standardized y (z = (y − ȳ)/sd(y)).
// Unless `heteroscedastic`, the variance head's weights are held at zero, so σ² = softplus(bias) + 1e-4 is
// one learned level per network: on noiseless objectives an input-dependent head explained badly fitted
// points as noise and the mean never fitted them (Branin: `bo` proposed its worst observation again and
// again). With fixed_noise > 0 the variance head is dropped and σ² = fixed_noise (standardized units).
//
// Variants (BnnOptions::variant):
//  - "ensemble" (Lakshminarayanan et al. 2017): n_members networks, each from its own seeded Glorot
//    initialisation and minibatch order, trained with Adam (decoupled weight decay, cosine learning-rate decay
//    to a tenth) on the mean Gaussian NLL ½ log σ² + ½ (z − μ)²/σ²; the first third of a cold fit's steps
//    minimize the squared error instead (a variance head trained from the start can settle on calling the
//    data noise before the mean fits anything: 1 of 3 seeds of a 1-d sine did).
//  - "sghmc" (Chen et al. 2014, with the preconditioning of Springenberg et al. 2016): one chain over the
//    weights of the network, potential U(θ) = Σ_i NLL_i(θ) (estimated on minibatches, scaled by n/|B|)
//    + Σ_k θ_k²/(2 s_k²) with s_k = prior_scale/√fan_in for weights and prior_scale for biases. The noise
//    is homoscedastic: the variance head's weights are held at zero and only its bias (the noise level,
//    prior N(0, 10²)) is sampled — a heteroscedastic head lets the chain drift into explaining the data as
//    noise. prior_scale = 3 because with the He/Glorot scale (1) the posterior of a 2 × 50 net at n ≈ 30 is
//    dominated by the prior and the chain settles on a near-constant function. The chain
//    starts from an Adam fit (pretrain steps), adapts a diagonal preconditioner M⁻¹ = 1/√(E g² + 1/s²) during
//    burn_in steps and then freezes it, and keeps every `thinning`-th state for n_samples samples:
//        v ← v − ε² M⁻¹ ∇U − α v + N(0, 2 ε² α T M⁻¹),   θ ← θ + v   (ε = step_size, α = momentum_decay,
//    T = temperature, 1 by default: the Bayesian posterior).
//    The preconditioner makes the step scale with n (M⁻¹ ∝ 1/|∇U| ∝ 1/n).
// Either way the model is a set of networks {μ_m, σ²_m} (members or posterior samples) and predictions are
// the moments of their equal-weight mixture: mean μ̄ = avg μ_m, predictive variance avg σ²_m + avg (μ_m − μ̄)²
// (aleatoric + epistemic). As the Surrogate contract asks, predict() returns the latent part, the epistemic
// avg (μ_m − μ̄)², and quantiles() the whole mixture (Gaussian with its moments, σ²(x) heteroscedastic);
// noise_variance() is avg σ² over the training points. (Acquisitions on the mixture variance chase points
// the variance heads call noisy: on Branin the ensemble then proposed its worst observation again and again.)
// sample() draws the latent function jointly: a member chosen uniformly, its mean at every row.
// Weights are rounded to float precision after training, so state() (the weights in base64 float32)
// restores the model exactly.
//
// Fewer than 2 observations or a constant y: no network is trained; the model predicts ȳ (0 without data)
// with variance sd², sd = 1 (the prior of the standardized model).
//
// condition_on (fantasies of pending points) is an ensemble Kalman update, not a refit: the members' means
// are treated as draws of a Gaussian process with the empirical covariance
// C(x, x') = avg_m (μ_m(x) − μ̄(x))(μ_m(x') − μ̄(x')), observed with noise avg σ²_m at the new points; the
// conditioned mean and latent variance are the Gaussian update of μ̄ and C (so the variance never grows),
// and sample() applies the same update to each draw (Matheron's rule). Deterministic and O(m·M·q); with
// kriging-believer fantasies (y = the mean) it keeps the mean and shrinks the variance near them.
//
// Warm start: state() holds the fitted networks and a hash of the data. A fit on the same data (same X, y,
// dims, options) restores them without training; a fit on other data starts every member (or the chain,
// from its last sample) at the stored weights and trains warm_fraction of the cold steps (the sghmc chain
// skips the Adam pretraining and runs warm_fraction of the burn-in).
//
// Thread safety: const members may run concurrently; fit() may not.
#pragma once

#include <Eigen/Dense>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bbo/device.h"
#include "bbo/surrogate.h"
#include "surrogates/bnn/bnn_device.h"

namespace bbo::bnn {

using json = nlohmann::json;

struct BnnOptions {
  std::string variant = "ensemble";  // ensemble | sghmc
  std::vector<int> hidden = {50, 50};
  std::string activation = "tanh";  // tanh | relu
  double fixed_noise = 0.0;         // > 0: homoscedastic noise variance (standardized units), no variance head
  bool heteroscedastic = false;     // ensemble: σ²(x) from the variance head; false: one learned σ² (its bias)
  // ensemble
  int n_members = 5;
  double learning_rate = 1e-2;  // Adam's initial step (cosine decay to a tenth)
  double weight_decay = 1e-4;   // decoupled (AdamW), per step × learning rate
  int batch_size = 64;          // minibatch rows (full batch when n <= batch_size)
  int epochs = 200;             // training length: clamp(epochs × ceil(n / batch_size), min_steps, max_steps) steps
  int min_steps = 600;
  int max_steps = 2000;
  double warm_fraction = 0.25;  // share of the steps (and of the sghmc burn-in) a warm-started fit runs
  // sghmc
  int n_samples = 20;
  int pretrain_steps = 500;  // Adam steps before the chain starts (cold fits only)
  int burn_in = 1000;
  int thinning = 50;
  double step_size = 1e-2;       // ε
  double momentum_decay = 0.05;  // α
  double prior_scale = 3.0;
  double temperature = 1.0;  // the chain samples exp(−U/T)
  // Where the ensemble trains (bbo/device.h): cpu, cuda[:N] or auto. On a GPU all members train at once
  // (bnn_device.h; the same steps, minibatches and formulas as on the CPU, equal up to rounding); prediction
  // stays on the CPU. The sghmc chain (sequential) always runs on the CPU (explicit cuda: a one-line notice).
  bbo::Device device;
  // auto uses the GPU when the fit's estimated flops 6 · P · B · M · steps (P parameters per net, B rows per
  // step, M members) reach this. An estimate awaiting `bench/run gpu` on a device: the CPU path runs at ~6
  // GFLOP/s (measured, one core, default 2 × 50 nets: 3.4e9 flops in 0.55 s), a GPU step is launch-bound at
  // these sizes (~20 launches, ~0.1 ms), and the first GPU fit of a process pays ~0.5 s of context and cuBLAS
  // set-up; 1e10 flops (~1.7 s of CPU) keeps the default fits (n <= a few hundred) on the CPU.
  double auto_min_flops = 1e10;
};

// One network: layer sizes and all parameters in one flat vector (per layer: W row-major out × in, then b).
struct Net {
  std::vector<int> sizes;  // input width, hidden widths, outputs (1 or 2)
  Eigen::VectorXd theta;
};

class BnnModel {
 public:
  explicit BnnModel(BnnOptions options = {});

  void fit(const FitInput& input);
  // Mean and latent (epistemic) variance: the spread of the members' means.
  Prediction predict(const Matrix& X) const;
  // Mean and predictive variance of y: the mixture's (epistemic + the members' average noise σ²(x)).
  Prediction predictive(const Matrix& X) const;
  // Gaussian quantiles of predictive() (heteroscedastic).
  Matrix quantiles(const Matrix& X, const std::vector<double>& levels) const;
  // The average noise variance over the training points (y units): noise_variance() of the surrogate.
  double noise_variance() const { return noise_ * y_std_ * y_std_; }
  PointPrediction predict_with_gradient(const double* x) const;
  Matrix sample(const Matrix& X, size_t k, std::mt19937_64& rng) const;
  // The ensemble Kalman update on (X, y) (added to any earlier conditioning of this model).
  std::shared_ptr<BnnModel> condition_on(const Matrix& X, const std::vector<double>& y) const;
  json state() const;
  bool has_gradient() const { return true; }

  // Inspection (tests).
  const std::vector<Net>& nets() const { return nets_; }
  double y_mean() const { return y_mean_; }
  double y_std() const { return y_std_; }
  int train_steps() const { return train_steps_; }  // optimizer / sampler steps of the last fit, all nets
  bool restored() const { return restored_; }       // the last fit reused the warm start's networks as they were
  bool trained_on_gpu() const { return trained_on_gpu_; }  // the last fit's networks were trained by the CUDA backend
  // Per-net standardized means and noise variances at the rows of X (nets × m each).
  void net_outputs(const Matrix& X, Eigen::MatrixXd& mu, Eigen::MatrixXd& var) const;

 private:
  Eigen::MatrixXd encode(const Matrix& X) const;  // p × m (columns are points)
  void check_query(const Matrix& X) const;
  bool trivial() const { return nets_.empty(); }
  // Kalman-update terms at points with member means mu (M × m): c = C(x, P) (m × q).
  Eigen::MatrixXd cross_cov(const Eigen::MatrixXd& mu) const;
  Prediction moments(const Matrix& X, bool with_noise) const;
  double mean_training_noise(const Matrix& X) const;  // standardized

  BnnOptions options_;
  std::vector<Dimension> dims_;
  size_t d_ = 0;
  bool fitted_ = false;
  int enc_width_ = 0;
  std::vector<Net> nets_;
  double y_mean_ = 0.0, y_std_ = 1.0;
  uint64_t data_hash_ = 0;
  double noise_ = 0.0;  // mean σ² at the training points (standardized)
  int train_steps_ = 0;
  bool restored_ = false;
  bool trained_on_gpu_ = false;
  // Conditioning (empty when q = 0): the pending points' encoding, their fantasy z, the members' centred
  // means there (M × q), (C_PP + A_P)⁻¹ and its product with z_P − μ̄_P.
  Eigen::MatrixXd cond_U_;
  Eigen::VectorXd cond_z_;
  Eigen::MatrixXd cond_D_;
  Eigen::MatrixXd cond_Kinv_;
  Eigen::VectorXd cond_alpha_;
  Eigen::VectorXd cond_noise_;  // A_P
};

// Testing seam (bnn_cuda_test): while a factory is set, fit() takes device cuda[:N] as available and trains
// the ensemble with trainers from it instead of the CUDA backend's (the test injects failing trainers to check
// the CPU fallback). Not thread-safe; nullptr restores the normal behaviour.
void set_ensemble_trainer_factory_for_testing(EnsembleTrainerFactory factory);

// Base64 of float32 little-endian values (state blobs), and back; exposed for tests.
std::string encode_floats(const Eigen::VectorXd& v);
Eigen::VectorXd decode_floats(const std::string& s);

}  // namespace bbo::bnn

// The `bnn` surrogate plugin: a thin Surrogate adapter over bbo::bnn::BnnModel (bnn_core.h holds the model).
#include <memory>
#include <string>

#include "bbo/device.h"
#include "bbo/error.h"
#include "bbo/plugin.h"
#include "bbo/surrogate.h"
#include "surrogates/bnn/bnn_core.h"

namespace bbo {
namespace {

class BnnSurrogate final : public Surrogate {
 public:
  explicit BnnSurrogate(const PluginParams& p) : model_(std::make_shared<bnn::BnnModel>(options(p))) {}
  explicit BnnSurrogate(std::shared_ptr<bnn::BnnModel> m) : model_(std::move(m)) {}

  void fit(const FitInput& input) override { model_->fit(input); }
  Prediction predict(const Matrix& X) const override { return model_->predict(X); }
  double noise_variance() const override { return model_->noise_variance(); }
  Matrix quantiles(const Matrix& X, const std::vector<double>& levels) const override {
    return model_->quantiles(X, levels);
  }
  bool has_gradient() const override { return true; }
  PointPrediction predict_with_gradient(const double* x) const override { return model_->predict_with_gradient(x); }
  Matrix sample(const Matrix& X, size_t k, std::mt19937_64& rng) const override { return model_->sample(X, k, rng); }
  bool has_joint_samples() const override { return true; }
  std::shared_ptr<Surrogate> condition_on(const Matrix& X, const std::vector<double>& y) const override {
    auto c = model_->condition_on(X, y);
    return c ? std::make_shared<BnnSurrogate>(std::move(c)) : nullptr;
  }
  nlohmann::json state() const override { return model_->state(); }

 private:
  static bnn::BnnOptions options(const PluginParams& p) {
    auto bad = [](const std::string& key, const std::string& why) {
      return ConfigError("plugin 'bnn': parameter '" + key + "' " + why);
    };
    auto int_in = [&](const char* key, int64_t lo, int64_t hi) {
      int64_t v = p.get_int(key);
      if (v < lo || v > hi) throw bad(key, "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      return static_cast<int>(v);
    };
    bnn::BnnOptions o;
    o.variant = p.get_string("variant");
    if (o.variant != "ensemble" && o.variant != "sghmc") throw bad("variant", "must be ensemble or sghmc");
    o.activation = p.get_string("activation");
    if (o.activation != "tanh" && o.activation != "relu") throw bad("activation", "must be tanh or relu");
    json hidden = p.get_json("hidden");
    if (!hidden.is_array()) throw bad("hidden", "must be a list of layer widths");
    o.hidden.clear();
    for (const auto& w : hidden) {
      if (!w.is_number_integer() || w.get<int64_t>() < 1 || w.get<int64_t>() > 4096)
        throw bad("hidden", "must be a list of layer widths in [1, 4096]");
      o.hidden.push_back(static_cast<int>(w.get<int64_t>()));
    }
    o.n_members = int_in("n_members", 1, 1000);
    o.learning_rate = p.get_float("learning_rate");
    if (!(o.learning_rate > 0 && o.learning_rate < 10)) throw bad("learning_rate", "must be in (0, 10)");
    o.weight_decay = p.get_float("weight_decay");
    if (!(o.weight_decay >= 0 && o.weight_decay < 1e3)) throw bad("weight_decay", "must be >= 0");
    o.batch_size = int_in("batch_size", 1, 1 << 20);
    o.epochs = int_in("epochs", 0, 1 << 20);
    o.min_steps = int_in("min_steps", 0, 1 << 24);
    o.max_steps = int_in("max_steps", 1, 1 << 24);
    if (o.max_steps < o.min_steps) throw bad("max_steps", "must be >= min_steps");
    o.warm_fraction = p.get_float("warm_fraction");
    if (!(o.warm_fraction > 0 && o.warm_fraction <= 1)) throw bad("warm_fraction", "must be in (0, 1]");
    o.n_samples = int_in("n_samples", 1, 10000);
    o.pretrain_steps = int_in("pretrain_steps", 0, 1 << 24);
    o.burn_in = int_in("burn_in", 0, 1 << 24);
    o.thinning = int_in("thinning", 1, 1 << 20);
    o.step_size = p.get_float("step_size");
    if (!(o.step_size > 0 && o.step_size < 1)) throw bad("step_size", "must be in (0, 1)");
    o.momentum_decay = p.get_float("momentum_decay");
    if (!(o.momentum_decay > 0 && o.momentum_decay <= 1)) throw bad("momentum_decay", "must be in (0, 1]");
    o.prior_scale = p.get_float("prior_scale");
    if (!(o.prior_scale > 0 && o.prior_scale < 1e6)) throw bad("prior_scale", "must be > 0");
    o.temperature = p.get_float("temperature");
    if (!(o.temperature > 0 && o.temperature < 1e6)) throw bad("temperature", "must be > 0");
    o.heteroscedastic = p.get_bool("heteroscedastic");
    o.fixed_noise = p.get_float("fixed_noise");
    if (!(o.fixed_noise >= 0 && o.fixed_noise < 1e6)) throw bad("fixed_noise", "must be >= 0");
    const std::string device = p.get_string("device");
    try {
      o.device = Device::parse(device);
    } catch (const ConfigError&) {
      throw bad("device", "must be cpu, cuda, cuda:N or auto, got '" + device + "'");
    }
    o.auto_min_flops = p.get_float("auto_min_flops");
    if (!(o.auto_min_flops >= 0)) throw bad("auto_min_flops", "must be >= 0");
    return o;
  }
  std::shared_ptr<bnn::BnnModel> model_;
};

}  // namespace
}  // namespace bbo

BBO_PLUGIN(bbo::surrogate_entry<bbo::BnnSurrogate>(
    "bnn", {"bayesian_neural_network"},
    "Bayesian neural network: a deep ensemble of MLPs with mean and variance heads (Gaussian NLL, AdamW), or "
    "SGHMC samples of one MLP's weights; predictions are the moments of the members' mixture",
    {{"variant", "string", "ensemble", "ensemble (deep ensemble) | sghmc (stochastic-gradient HMC posterior samples)"},
     {"hidden", "json", bbo::json::array({50, 50}), "hidden layer widths"},
     {"activation", "string", "tanh", "tanh | relu"},
     {"n_members", "int", 5, "ensemble: networks, each from its own initialisation"},
     {"learning_rate", "float", 1e-2, "Adam's initial step (cosine decay to a tenth)"},
     {"weight_decay", "float", 1e-4, "decoupled weight decay (AdamW), per unit of learning rate"},
     {"batch_size", "int", 64, "minibatch rows (full batch when n <= batch_size)"},
     {"epochs", "int", 200, "training steps = clamp(epochs * ceil(n / batch_size), min_steps, max_steps)"},
     {"min_steps", "int", 600, "fewest Adam steps of a cold fit"},
     {"max_steps", "int", 2000, "most Adam steps of a cold fit"},
     {"warm_fraction", "float", 0.25, "share of the steps (sghmc: of the burn-in) a warm-started fit runs"},
     {"n_samples", "int", 20, "sghmc: posterior samples kept"},
     {"pretrain_steps", "int", 500, "sghmc: Adam steps that start a cold chain"},
     {"burn_in", "int", 1000, "sghmc: steps before the first sample (the preconditioner adapts here)"},
     {"thinning", "int", 50, "sghmc: steps between kept samples"},
     {"step_size", "float", 1e-2, "sghmc: epsilon (the update uses epsilon^2 times the preconditioned gradient)"},
     {"momentum_decay", "float", 0.05, "sghmc: friction alpha per step"},
     {"prior_scale", "float", 3.0, "sghmc: weight prior sd = prior_scale / sqrt(fan_in); bias prior sd = prior_scale"},
     {"temperature", "float", 1.0, "sghmc: the chain samples exp(-U / temperature) (1: the posterior)"},
     {"heteroscedastic", "bool", false,
      "ensemble: input-dependent noise from the variance head (false: one learned noise level per member)"},
     {"fixed_noise", "float", 0.0, "> 0: homoscedastic noise variance (standardized y) instead of a variance head"},
     {"device", "string", "cpu",
      "ensemble training: cpu | cuda | cuda:N | auto (all members at once on the GPU; sghmc always on the CPU)"},
     {"auto_min_flops", "float", 1e10,
      "device auto: train on the GPU from this estimated work (6 * params * batch rows * members * steps)"}}))

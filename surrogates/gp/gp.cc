// The `gp` surrogate plugin: thin Surrogate adapters over bbo::gp::GpModel (solver=cholesky, gp_core.h) and
// bbo::gp::IterativeGp (solver=iterative, gp_iterative.h). The plugin's factory builds one GpPlugin, which
// holds one of the two (the registry makes one class per plugin name).
#include <memory>
#include <string>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "bbo/surrogate.h"
#include "surrogates/gp/gp_core.h"
#include "surrogates/gp/gp_iterative.h"

namespace bbo {
namespace {

class GpSurrogate final : public Surrogate {
 public:
  explicit GpSurrogate(const PluginParams& p) : model_(std::make_shared<gp::GpModel>(options(p))) {}
  explicit GpSurrogate(std::shared_ptr<gp::GpModel> m) : model_(std::move(m)) {}

  void fit(const FitInput& input) override { model_->fit(input); }
  Prediction predict(const Matrix& X) const override { return model_->predict(X); }
  double noise_variance() const override { return model_->noise_variance(); }
  bool has_gradient() const override { return true; }
  PointPrediction predict_with_gradient(const double* x) const override { return model_->predict_with_gradient(x); }
  Matrix sample(const Matrix& X, size_t k, std::mt19937_64& rng) const override { return model_->sample(X, k, rng); }
  bool has_joint_samples() const override { return true; }
  std::shared_ptr<Surrogate> condition_on(const Matrix& X, const std::vector<double>& y) const override {
    return std::make_shared<GpSurrogate>(model_->condition_on(X, y));
  }
  nlohmann::json state() const override { return model_->state(); }

 private:
  static gp::GpOptions options(const PluginParams& p) {
    gp::GpOptions o;
    o.deterministic = p.get_bool("deterministic");
    o.warping = p.get_bool("warping");
    o.n_restarts = static_cast<int>(p.get_int("n_restarts"));
    o.warm_restarts = static_cast<int>(p.get_int("warm_restarts"));
    o.max_fit_evals = static_cast<int>(p.get_int("max_fit_evals"));
    o.warm_budget = p.get_float("warm_budget");
    o.subset_size = static_cast<int>(p.get_int("subset_size"));
    o.fit_tolerance = p.get_float("fit_tolerance");
    const std::string kernel = p.get_string("kernel");
    if (kernel != "matern52" && kernel != "nngp")
      throw ConfigError("plugin 'gp': parameter 'kernel' must be matern52 or nngp, got '" + kernel + "'");
    o.nngp = kernel == "nngp";
    const int64_t depth = p.get_int("nngp_depth");
    if (depth < 1 || depth > 16) throw ConfigError("plugin 'gp': parameter 'nngp_depth' must be in [1, 16]");
    o.nngp_depth = static_cast<int>(depth);
    const std::string device = p.get_string("device");
    try {
      o.device = Device::parse(device);
    } catch (const ConfigError&) {
      throw ConfigError("plugin 'gp': parameter 'device' must be cpu, cuda, cuda:N or auto, got '" + device + "'");
    }
    const int64_t gpu_min_n = p.get_int("gpu_min_n");
    if (gpu_min_n < 0 || gpu_min_n > 1000000000)
      throw ConfigError("plugin 'gp': parameter 'gpu_min_n' must be in [0, 1e9], got " + std::to_string(gpu_min_n));
    o.gpu_min_n = static_cast<int>(gpu_min_n);
    if (o.n_restarts < 1) throw ConfigError("plugin 'gp': parameter 'n_restarts' must be >= 1");
    if (o.warm_restarts < 0) throw ConfigError("plugin 'gp': parameter 'warm_restarts' must be >= 0");
    if (o.max_fit_evals < 1) throw ConfigError("plugin 'gp': parameter 'max_fit_evals' must be >= 1");
    if (!(o.warm_budget >= 0)) throw ConfigError("plugin 'gp': parameter 'warm_budget' must be >= 0");
    if (!(o.fit_tolerance > 0)) throw ConfigError("plugin 'gp': parameter 'fit_tolerance' must be > 0");
    if (o.subset_size < 2) throw ConfigError("plugin 'gp': parameter 'subset_size' must be >= 2");
    return o;
  }
  std::shared_ptr<gp::GpModel> model_;
};

// solver=iterative: BBMM fit and LOVE variance (no O(n³) step). Gradients from the caches; independent
// marginal samples (the Surrogate default); fantasies by re-solving with the same hyper-parameters.
class IterativeGpSurrogate final : public Surrogate {
 public:
  explicit IterativeGpSurrogate(std::shared_ptr<gp::IterativeGp> m) : model_(std::move(m)) {}

  void fit(const FitInput& input) override { model_->fit(input); }
  Prediction predict(const Matrix& X) const override { return model_->predict(X); }
  double noise_variance() const override { return model_->noise_variance(); }
  bool has_gradient() const override { return true; }
  PointPrediction predict_with_gradient(const double* x) const override { return model_->predict_with_gradient(x); }
  std::shared_ptr<Surrogate> condition_on(const Matrix& X, const std::vector<double>& y) const override {
    return std::make_shared<IterativeGpSurrogate>(model_->condition_on(X, y));
  }
  nlohmann::json state() const override { return model_->state(); }

 private:
  std::shared_ptr<gp::IterativeGp> model_;
};

// What the plugin's factory makes: the parameter `solver` picks the adapter, every call is forwarded.
class GpPlugin final : public Surrogate {
 public:
  explicit GpPlugin(const PluginParams& p) : impl_(make(p)) {}

  void fit(const FitInput& input) override { impl_->fit(input); }
  Prediction predict(const Matrix& X) const override { return impl_->predict(X); }
  double noise_variance() const override { return impl_->noise_variance(); }
  bool has_gradient() const override { return impl_->has_gradient(); }
  PointPrediction predict_with_gradient(const double* x) const override { return impl_->predict_with_gradient(x); }
  Matrix sample(const Matrix& X, size_t k, std::mt19937_64& rng) const override { return impl_->sample(X, k, rng); }
  bool has_joint_samples() const override { return impl_->has_joint_samples(); }
  std::shared_ptr<Surrogate> condition_on(const Matrix& X, const std::vector<double>& y) const override {
    return impl_->condition_on(X, y);
  }
  Matrix quantiles(const Matrix& X, const std::vector<double>& levels) const override {
    return impl_->quantiles(X, levels);
  }
  nlohmann::json state() const override { return impl_->state(); }

 private:
  static std::unique_ptr<Surrogate> make(const PluginParams& p) {
    const std::string solver = p.get_string("solver");
    if (solver == "cholesky") return std::make_unique<GpSurrogate>(p);
    if (solver != "iterative")
      throw ConfigError("plugin 'gp': parameter 'solver' must be cholesky or iterative, got '" + solver + "'");
    return std::make_unique<IterativeGpSurrogate>(std::make_shared<gp::IterativeGp>(iterative_options(p)));
  }

  static gp::IterativeGpOptions iterative_options(const PluginParams& p) {
    if (p.get_string("kernel") != "matern52")
      throw ConfigError("plugin 'gp': solver=iterative supports only kernel=matern52, got kernel='" +
                        p.get_string("kernel") + "'");
    if (p.get_bool("warping"))
      throw ConfigError("plugin 'gp': solver=iterative does not support warping=true (use solver=cholesky)");
    const std::string device = p.get_string("device");
    if (device != "cpu" && device != "auto")
      throw ConfigError("plugin 'gp': solver=iterative runs on the CPU only: parameter 'device' must be cpu or auto, got '" +
                        device + "'");
    gp::IterativeGpOptions o;
    o.deterministic = p.get_bool("deterministic");
    o.n_restarts = static_cast<int>(p.get_int("n_restarts"));
    o.subset_size = static_cast<int>(p.get_int("subset_size"));
    const int64_t probes = p.get_int("probes"), rank = p.get_int("preconditioner_rank"),
                  lanczos = p.get_int("lanczos_rank"), evals = p.get_int("iterative_fit_evals");
    if (probes < 1 || probes > 4096) throw ConfigError("plugin 'gp': parameter 'probes' must be in [1, 4096]");
    if (rank < 0 || rank > 100000)
      throw ConfigError("plugin 'gp': parameter 'preconditioner_rank' must be in [0, 100000]");
    if (lanczos < 1 || lanczos > 100000) throw ConfigError("plugin 'gp': parameter 'lanczos_rank' must be in [1, 100000]");
    if (evals < 0 || evals > 100000)
      throw ConfigError("plugin 'gp': parameter 'iterative_fit_evals' must be in [0, 100000]");
    if (o.n_restarts < 1) throw ConfigError("plugin 'gp': parameter 'n_restarts' must be >= 1");
    if (o.subset_size < 2) throw ConfigError("plugin 'gp': parameter 'subset_size' must be >= 2");
    o.probes = static_cast<int>(probes);
    o.preconditioner_rank = static_cast<int>(rank);
    o.lanczos_rank = static_cast<int>(lanczos);
    o.max_fit_evals = static_cast<int>(evals);
    return o;
  }

  std::unique_ptr<Surrogate> impl_;
};

}  // namespace
}  // namespace bbo

BBO_PLUGIN(bbo::surrogate_entry<bbo::GpPlugin>(
    "gp", {}, "Gaussian process: Matérn-5/2 ARD (+ Hamming for categoricals), MAP hyper-parameters, learned noise",
    {{"deterministic", "bool", false, "fixed tiny noise (1e-6 of the standardized variance) instead of a learned one"},
     {"warping", "bool", false, "Kumaraswamy input warping of continuous coordinates, learned jointly"},
     {"n_restarts", "int", 4, "L-BFGS starts of a cold hyper-parameter fit (first at the prior medians)"},
     {"warm_restarts", "int", 0, "extra random starts when warm-started from an earlier fit's state"},
     {"max_fit_evals", "int", 120, "log-posterior evaluations per start, at most"},
     {"warm_budget", "float", 1.2e10, "warm fit: per-start evaluations capped at warm_budget / n^3 (min 8)"},
     {"subset_size", "int", 300, "a cold fit with more points searches on a random subset of this size, then polishes on all"},
     {"fit_tolerance", "float", 1e-3, "L-BFGS stops when the log posterior improves by less than this"},
     {"kernel", "string", "matern52",
      "matern52 | nngp (infinite-width ReLU network: arc-cosine recursion, ARD input weight variances, bias variance)"},
     {"nngp_depth", "int", 2, "hidden layers of the nngp kernel"},
     {"device", "string", "cpu",
      "cpu | cuda | cuda:N | auto: where a matern52 model without warping fits and predicts (GPU: batched "
      "hyper-parameter starts; no GPU or other settings: the CPU, with a notice for an explicit cuda)"},
     {"gpu_min_n", "int", 1500, "device=auto uses the GPU from this many points on (an estimate; see docs)"},
     {"solver", "string", "cholesky",
      "cholesky (exact, O(n³) per fit evaluation) | iterative (BBMM: preconditioned CG + stochastic log det, LOVE "
      "variances; CPU; for n in the thousands; matern52 without warping)"},
     {"probes", "int", 16, "solver=iterative: probe vectors of the stochastic log-det / trace estimates"},
     {"preconditioner_rank", "int", 100, "solver=iterative: rank of the pivoted-Cholesky preconditioner (0: none)"},
     {"lanczos_rank", "int", 400, "solver=iterative: Krylov dimension of the LOVE variance cache"},
     {"iterative_fit_evals", "int", 30,
      "solver=iterative: stochastic log-posterior evaluations on all points after the subset search (0: subset only)"}}))

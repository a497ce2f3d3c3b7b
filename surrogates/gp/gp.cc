// The `gp` surrogate plugin: a thin Surrogate adapter over bbo::gp::GpModel (gp_core.h holds the model).
#include <memory>
#include <string>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "bbo/surrogate.h"
#include "surrogates/gp/gp_core.h"

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

}  // namespace
}  // namespace bbo

BBO_PLUGIN(bbo::surrogate_entry<bbo::GpSurrogate>(
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
     {"nngp_depth", "int", 2, "hidden layers of the nngp kernel"}}))

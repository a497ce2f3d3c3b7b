// The `cqr` surrogate plugin: conformalized quantile regression with gradient-boosted trees
// (surrogates/cqr/cqr_core.h has the model; this file maps plugin parameters onto it).
#include <string>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "surrogates/cqr/cqr_core.h"

namespace {

bbo::cqr::CqrParams params_from(const bbo::PluginParams& p) {
  auto bad = [](const std::string& key, const std::string& why) {
    return bbo::ConfigError("plugin 'cqr': parameter '" + key + "' " + why);
  };
  bbo::cqr::CqrParams c;
  bbo::json levels = p.get_json("levels");
  if (!levels.is_array() || levels.empty()) throw bad("levels", "must be a non-empty list of numbers in (0, 1)");
  c.levels.clear();
  for (const auto& v : levels) {
    if (!v.is_number() || !(v.get<double>() > 0 && v.get<double>() < 1))
      throw bad("levels", "must be a non-empty list of numbers in (0, 1)");
    c.levels.push_back(v.get<double>());
  }
  int64_t n_est = p.get_int("n_estimators"), depth = p.get_int("max_depth"), msl = p.get_int("min_samples_leaf");
  if (n_est < 0 || n_est > 100000) throw bad("n_estimators", "must be in [0, 100000]");
  if (depth < 0 || depth > 20) throw bad("max_depth", "must be in [0, 20]");
  if (msl < 1) throw bad("min_samples_leaf", "must be >= 1");
  c.gbrt.n_estimators = static_cast<int>(n_est);
  c.gbrt.max_depth = static_cast<int>(depth);
  c.gbrt.min_samples_leaf = static_cast<int>(std::min<int64_t>(msl, 1 << 30));
  c.gbrt.learning_rate = p.get_float("learning_rate");
  if (!(c.gbrt.learning_rate > 0 && c.gbrt.learning_rate <= 1)) throw bad("learning_rate", "must be in (0, 1]");
  c.gbrt.subsample = p.get_float("subsample");
  if (!(c.gbrt.subsample > 0 && c.gbrt.subsample <= 1)) throw bad("subsample", "must be in (0, 1]");
  int64_t mc = p.get_int("min_samples_to_conformalize");
  if (mc < 1) throw bad("min_samples_to_conformalize", "must be >= 1");
  c.min_samples_to_conformalize = static_cast<size_t>(mc);
  c.calibration_fraction = p.get_float("calibration_fraction");
  if (!(c.calibration_fraction > 0 && c.calibration_fraction < 1)) throw bad("calibration_fraction", "must be in (0, 1)");
  c.conformalize = p.get_bool("conformalize");
  try {
    bbo::cqr::CqrModel check(c);  // distinct levels
  } catch (const bbo::ValueError& e) {
    throw bad("levels", std::string("is invalid: ") + e.what());
  }
  return c;
}

class CqrPlugin final : public bbo::cqr::CqrSurrogate {
 public:
  explicit CqrPlugin(const bbo::PluginParams& p) : CqrSurrogate(params_from(p), p.get_bool("use_fidelity")) {}
};

}  // namespace

BBO_PLUGIN(bbo::surrogate_entry<CqrPlugin>(
    "cqr", {"conformal_quantile_regression"},
    "Conformalized quantile regression: gradient-boosted trees with the pinball loss, one per quantile level, "
    "calibrated by split conformal prediction (Salinas et al., ICML 2023)",
    {{"levels", "json", bbo::json::array({0.17, 0.33, 0.5, 0.67, 0.83}), "quantile levels fitted (in (0, 1))"},
     {"n_estimators", "int", 100, "boosting rounds per level"},
     {"learning_rate", "float", 0.1, "shrinkage of each tree"},
     {"max_depth", "int", 3, "depth of each tree"},
     {"min_samples_leaf", "int", 5, "rows a leaf must hold"},
     {"subsample", "float", 1.0, "fraction of rows drawn (seeded) for each tree"},
     {"min_samples_to_conformalize", "int", 32, "calibrate only when there are more rows than this"},
     {"calibration_fraction", "float", 0.1, "share of rows held out for conformal calibration"},
     {"conformalize", "bool", true, "apply conformal calibration"},
     {"use_fidelity", "bool", false,
      "add FitInput::fidelity (when given) as a feature column (the paper's ASHA-CQR uses none)"}}))

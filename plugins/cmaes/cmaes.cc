// cmaes.cc — the `cmaes` strategy: CmaEs (cmaes_core.h) driven by PopulationStrategy, one generation per
// batch of lambda trials, the whole CMA-ES state in the study's plugin-state blob.
//
// Every dimension of the relative space is one unit-cube coordinate (a categorical is its index bin, see
// space.h); ints, stepped floats and categoricals are the discrete dimensions that get the margin.
// Warm start: when the space first appears and at least lambda COMPLETE trials already cover it, the mean
// starts at the best of them and sigma at the root-mean-square spread of the best tenth (at least 2 points)
// around their centre, clamped to [min(0.02, sigma0), sigma0]; otherwise the mean is the centre of the cube (as Optuna's
// CmaEsSampler and Hansen's default) and sigma = sigma0.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <optional>
#include <utility>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "bbo/population.h"
#include "plugins/cmaes/cmaes_core.h"

namespace bbo {
namespace {

bool is_discrete(const Distribution& d) {
  if (is_single(d)) return false;
  if (std::holds_alternative<FloatDistribution>(d)) return std::get<FloatDistribution>(d).step.has_value();
  return true;
}

// The unit interval of the bin around u: from_unit is monotone non-decreasing for every distribution, so
// each end is found by bisection on "decodes to the same value".
std::pair<double, double> bin_of(const Distribution& d, double u) {
  const double v = from_unit(d, u);
  std::pair<double, double> out{0.0, 1.0};
  if (from_unit(d, 0.0) != v) {
    double a = 0.0, b = u;  // from_unit(a) != v, from_unit(b) == v
    for (int k = 0; k < 60 && b - a > 1e-15; ++k) {
      const double c = 0.5 * (a + b);
      (from_unit(d, c) == v ? b : a) = c;
    }
    out.first = b;
  }
  if (from_unit(d, 1.0) != v) {
    double a = u, b = 1.0;  // from_unit(a) == v, from_unit(b) != v
    for (int k = 0; k < 60 && b - a > 1e-15; ++k) {
      const double c = 0.5 * (a + b);
      (from_unit(d, c) == v ? a : b) = c;
    }
    out.second = a;
  }
  return out;
}

class CmaesStrategy final : public PopulationStrategy {
 public:
  explicit CmaesStrategy(const PluginParams& p) : PopulationStrategy("cmaes") {
    auto fail = [](const std::string& what) { throw ConfigError("plugin 'cmaes': " + what); };
    options_.sigma0 = p.get_float("sigma0");
    options_.popsize = static_cast<int>(p.get_int("popsize"));
    options_.inc_popsize = p.get_float("inc_popsize");
    options_.separable = p.get_bool("separable");
    const std::string restart = p.get_string("restart");
    if (restart != "ipop" && restart != "none") fail("parameter 'restart' must be \"ipop\" or \"none\", got \"" + restart + "\"");
    options_.ipop = restart == "ipop";
    if (p.has("margin")) options_.margin = p.get_float("margin");
    warm_start_ = p.get_bool("warm_start");
    options_.orthogonal = p.get_bool("orthogonal");
    const std::string bounds = p.get_string("bounds");
    if (bounds != "resample" && bounds != "mirror") fail("parameter 'bounds' must be \"resample\" or \"mirror\", got \"" + bounds + "\"");
    options_.resample = bounds == "resample";
    if (!(options_.sigma0 > 0.0) || !std::isfinite(options_.sigma0)) fail("parameter 'sigma0' must be > 0");
    if (p.get_int("popsize") < 0 || p.get_int("popsize") == 1 || p.get_int("popsize") > 1000000)
      fail("parameter 'popsize' must be 0 (default) or in [2, 1e6]");
    if (!(options_.inc_popsize >= 1.0) || options_.inc_popsize > 100) fail("parameter 'inc_popsize' must be in [1, 100]");
    if (p.has("margin") && !(options_.margin >= 0.0 && options_.margin < 0.5))
      fail("parameter 'margin' must be in [0, 0.5)");
  }

 protected:
  json initial_state(const SearchSpace& space, const std::vector<std::vector<double>>& completed_x,
                     const std::vector<double>& completed_y, std::mt19937_64& /*rng*/) override {
    const size_t d = space.size();
    std::vector<bool> discrete(d);
    for (size_t j = 0; j < d; ++j) discrete[j] = is_discrete(space.distributions()[j]);
    std::vector<double> mean(d, 0.5);
    const int lambda = options_.popsize > 0 ? options_.popsize : cmaes::default_popsize(static_cast<int>(d));
    std::optional<double> sigma;
    if (warm_start_ && completed_x.size() >= static_cast<size_t>(lambda)) {
      std::vector<size_t> order(completed_x.size());
      std::iota(order.begin(), order.end(), 0);
      auto value = [&](size_t i) { return std::isnan(completed_y[i]) ? HUGE_VAL : completed_y[i]; };
      std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return value(a) < value(b); });
      mean = completed_x[order[0]];
      const size_t top = std::max<size_t>(2, completed_x.size() / 10);
      std::vector<double> centre(d, 0.0);
      for (size_t k = 0; k < top; ++k)
        for (size_t j = 0; j < d; ++j) centre[j] += completed_x[order[k]][j] / static_cast<double>(top);
      double ss = 0.0;
      for (size_t k = 0; k < top; ++k)
        for (size_t j = 0; j < d; ++j) ss += std::pow(completed_x[order[k]][j] - centre[j], 2);
      sigma = std::clamp(std::sqrt(ss / static_cast<double>(top * d)), std::min(0.02, options_.sigma0), options_.sigma0);
    }
    try {
      cmaes::CmaEs es(options_, mean, discrete);
      if (sigma) es.set_sigma(*sigma);
      return es.to_json();
    } catch (const std::invalid_argument& e) {
      throw ConfigError(std::string("plugin 'cmaes': ") + e.what());
    }
  }

  std::vector<std::vector<double>> next_generation(const SearchSpace& /*space*/, json& state,
                                                   std::mt19937_64& rng) override {
    // Raw samples that differ from their points (drawn outside the cube, evaluated at their mirror) stay in
    // the state for tell_generation: the update needs them. Only those: the state is parsed on every ask.
    std::vector<std::vector<double>> points = cmaes::CmaEs::from_json(state).ask(rng);
    json raw = json::object();
    for (size_t k = 0; k < points.size(); ++k) {
      std::vector<double> inside = cmaes::mirror_into_cube(points[k]);
      if (inside != points[k]) raw[std::to_string(k)] = std::exchange(points[k], std::move(inside));
    }
    state["raw"] = std::move(raw);
    return points;
  }

  void tell_generation(const SearchSpace& space, json& state, const std::vector<std::vector<double>>& x,
                       const std::vector<double>& y, std::mt19937_64& rng) override {
    cmaes::CmaEs es = cmaes::CmaEs::from_json(state);
    std::vector<std::vector<double>> raw = x;
    for (const auto& [k, v] : state.at("raw").items()) raw.at(std::stoul(k)) = v.get<std::vector<double>>();
    es.tell(raw, y, rng, [&space](size_t j, double u) { return bin_of(space.distributions()[j], u); });
    state = es.to_json();
  }

 private:
  cmaes::CmaOptions options_;
  bool warm_start_ = true;
};

}  // namespace
}  // namespace bbo

BBO_PLUGIN(bbo::strategy_entry<bbo::CmaesStrategy>(
    "cmaes", {"cma", "cma-es"},
    "CMA-ES (Hansen's defaults, active rank-mu + rank-one, CSA) in the unit cube with mirrored bounds, "
    "margin for discrete dims, IPOP restarts, separable variant, warm start from completed trials",
    {{"sigma0", "float", 1.0 / 6, "initial step size in the unit cube (Optuna's range / 6)"},
     {"popsize", "int", 0, "population size lambda; 0: 4 + floor(3 ln d)"},
     {"restart", "string", "ipop", "\"ipop\": restart with inc_popsize x lambda on Hansen's stop criteria; \"none\""},
     {"inc_popsize", "float", 2.0, "population multiplier per IPOP restart"},
     {"separable", "bool", false, "sep-CMA-ES: diagonal covariance, learning rates x (d+2)/3 (for high d)"},
     {"warm_start", "bool", true, "start at the best completed trial (needs >= lambda of them), sigma from the top tenth's spread"},
     {"bounds", "string", "resample", "\"resample\": redraw samples outside the cube (10 d tries, then clip); \"mirror\": periodic reflection"},
     {"orthogonal", "bool", true, "orthogonal sampling: each block of d samples has orthogonal directions"},
     {"margin", "float", nullptr, "min probability of leaving a discrete dim's bin; default 1/(d lambda)"}}))

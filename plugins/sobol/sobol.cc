// sobol.cc — the `sobol` strategy: scrambled Sobol quasi-Monte Carlo points.
//
// Stateless: trial number n (+ skip) is the index of the point in the Sobol sequence, so any process
// proposes the same point for the same trial without keeping state. Direction numbers are Joe & Kuo's
// new-joe-kuo-6.21201 and the nested uniform (Owen) scramble of bbo/qmc.h (shared with the acquisition
// optimizer), seeded per dimension from the study seed.
#include <cstdint>
#include <random>

#include "bbo/plugin.h"
#include "bbo/qmc.h"
#include "bbo/strategy.h"

namespace bbo {
namespace {

constexpr uint64_t kScrambleSalt = 0x50b01u;     // separates the scramble seeds from other streams
constexpr uint64_t kIndependentSalt = 0x1d3e9u;  // per-parameter streams outside the Sobol space

class SobolStrategy final : public Strategy {
 public:
  explicit SobolStrategy(const PluginParams& p) : scramble_(p.get_bool("scramble")), skip_(p.get_int("skip")) {
    if (skip_ < 0) throw ConfigError("plugin 'sobol': parameter 'skip' must be >= 0, got " + std::to_string(skip_));
  }

  SearchSpace relative_space(const StudyView& study) override { return intersection_space(study); }

  std::map<std::string, double> sample_relative(const SampleContext& ctx, const SearchSpace& space) override {
    if (space.empty()) return {};
    // Dimensions past the direction table fall back to sample_independent (they are left out of the result).
    size_t dim = std::min<size_t>(space.size(), sobol_max_dimension());
    uint64_t index = static_cast<uint64_t>(ctx.trial.number) + static_cast<uint64_t>(skip_);
    std::vector<uint32_t> point = sobol_point(dim, index);
    std::vector<double> unit(space.size(), 0.0);
    for (size_t k = 0; k < dim; ++k) {
      uint32_t x = point[k];
      if (scramble_) {
        auto seed = static_cast<uint32_t>(trial_seed(ctx.study.seed(), static_cast<int64_t>(k), kScrambleSalt));
        x = nested_uniform_scramble(x, seed);
      }
      unit[k] = static_cast<double>(x) * 0x1.0p-32;
    }
    std::map<std::string, double> decoded = space.decode(unit);
    std::map<std::string, double> out;
    for (size_t k = 0; k < dim; ++k) out[space.names()[k]] = decoded[space.names()[k]];
    return out;
  }

  double sample_independent(const SampleContext& ctx, const std::string& name, const Distribution& d) override {
    return independent_uniform(ctx, name, d, kIndependentSalt);
  }

 private:
  bool scramble_;
  int64_t skip_;
};

}  // namespace
}  // namespace bbo

BBO_PLUGIN(bbo::strategy_entry<bbo::SobolStrategy>(
    "sobol", {"qmc"}, "Scrambled Sobol quasi-Monte Carlo points (point index = trial number + skip)",
    {{"scramble", "bool", true, "Owen (nested uniform) scrambling seeded from the study seed"},
     {"skip", "int", 0, "offset added to the trial number to index the sequence"}}))

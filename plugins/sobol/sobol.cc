// sobol.cc — the `sobol` strategy: scrambled Sobol quasi-Monte Carlo points.
//
// Stateless: trial number n (+ skip) is the index of the point in the Sobol sequence, so any process
// proposes the same point for the same trial without keeping state. Direction numbers are Joe & Kuo's
// new-joe-kuo-6.21201 as shipped by Boost.Random (up to 3667 dimensions). Scrambling is a nested uniform
// (Owen) scramble implemented with Burley's hash (Laine–Karras permutation on bit-reversed coordinates,
// "Practical Hash-based Owen Scrambling", JCGT 2020), seeded per dimension from the study seed: it keeps
// every (t, m, s)-net property of the unscrambled sequence while making each point uniformly distributed.
#include <boost/random/sobol.hpp>

#include <cstdint>
#include <random>

#include "bbo/plugin.h"
#include "bbo/strategy.h"

namespace bbo {
namespace {

uint32_t reverse_bits(uint32_t x) {
  x = ((x >> 1) & 0x55555555u) | ((x & 0x55555555u) << 1);
  x = ((x >> 2) & 0x33333333u) | ((x & 0x33333333u) << 2);
  x = ((x >> 4) & 0x0F0F0F0Fu) | ((x & 0x0F0F0F0Fu) << 4);
  x = ((x >> 8) & 0x00FF00FFu) | ((x & 0x00FF00FFu) << 8);
  return (x >> 16) | (x << 16);
}

// Each step changes bit k only as a function of bits below k (addition carries upward, multiplication by
// an even constant shifts information upward), so on reversed bits it is a nested scramble.
uint32_t laine_karras_permutation(uint32_t x, uint32_t seed) {
  x += seed;
  x ^= x * 0x6c50b47cu;
  x ^= x * 0xb82f1e52u;
  x ^= x * 0xc7afe638u;
  x ^= x * 0x8d22f6e6u;
  return x;
}

uint32_t nested_uniform_scramble(uint32_t x, uint32_t seed) {
  return reverse_bits(laine_karras_permutation(reverse_bits(x), seed));
}

constexpr uint64_t kScrambleSalt = 0x50b01u;      // separates the scramble seeds from other streams
constexpr uint64_t kIndependentSalt = 0x1d3e9u;   // per-parameter streams outside the Sobol space

class SobolStrategy final : public Strategy {
 public:
  explicit SobolStrategy(const PluginParams& p) : scramble_(p.get_bool("scramble")), skip_(p.get_int("skip")) {
    if (skip_ < 0) throw ConfigError("plugin 'sobol': parameter 'skip' must be >= 0, got " + std::to_string(skip_));
  }

  SearchSpace relative_space(const StudyView& study) override { return intersection_space(study); }

  std::map<std::string, double> sample_relative(const SampleContext& ctx, const SearchSpace& space) override {
    if (space.empty()) return {};
    // Dimensions past Boost's table fall back to sample_independent (they are left out of the result).
    size_t dim = std::min<size_t>(space.size(), boost::random::default_sobol_table::max_dimension);
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
  // Point `index` of the Sobol sequence (index 0 is the origin, as in scipy.stats.qmc.Sobol). Boost's engine
  // starts at index 1 and its seed(n) jumps straight to position n through the Gray code.
  static std::vector<uint32_t> sobol_point(size_t dim, uint64_t index) {
    std::vector<uint32_t> x(dim, 0);
    if (index == 0) return x;
    if (index > 0xFFFFFFFFull)
      throw ValueError("sobol: point index " + std::to_string(index) + " exceeds the 2^32 points of the sequence");
    boost::random::sobol_engine<uint32_t, 32> engine(dim);
    engine.seed(static_cast<uint32_t>(index - 1));
    for (size_t k = 0; k < dim; ++k) x[k] = engine();
    return x;
  }

  bool scramble_;
  int64_t skip_;
};

}  // namespace
}  // namespace bbo

BBO_PLUGIN(bbo::strategy_entry<bbo::SobolStrategy>(
    "sobol", {"qmc"}, "Scrambled Sobol quasi-Monte Carlo points (point index = trial number + skip)",
    {{"scramble", "bool", true, "Owen (nested uniform) scrambling seeded from the study seed"},
     {"skip", "int", 0, "offset added to the trial number to index the sequence"}}))

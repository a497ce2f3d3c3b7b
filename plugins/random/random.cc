// random.cc — the `random` strategy: every parameter drawn independently and uniformly.
//
// Each parameter has its own stream, seeded from (study seed, trial number, hash of the parameter name), so
// the value of a parameter does not depend on which other parameters were suggested before it or in which
// order (conditional search spaces stay reproducible).
#include "bbo/plugin.h"
#include "bbo/strategy.h"

namespace bbo {
namespace {

class RandomStrategy final : public Strategy {
 public:
  explicit RandomStrategy(const PluginParams& p) : offset_(static_cast<uint64_t>(p.get_int("seed_offset"))) {}

  double sample_independent(const SampleContext& ctx, const std::string& name, const Distribution& d) override {
    // The stream's first draw is the hash itself (splitmix64 output, 53 bits to [0, 1)): seeding a
    // mt19937_64 per parameter would cost more than the rest of ask + tell.
    uint64_t bits = trial_seed(ctx.study.seed() + offset_, ctx.trial.number, hash_string(name));
    return from_unit(d, static_cast<double>(bits >> 11) * 0x1.0p-53);
  }

 private:
  uint64_t offset_;
};

}  // namespace
}  // namespace bbo

BBO_PLUGIN(bbo::strategy_entry<bbo::RandomStrategy>(
    "random", {"rand"}, "Independent uniform sampling (log-uniform for log parameters)",
    {{"seed_offset", "int", 0, "added to the study seed: a different stream for the same study seed"}}))

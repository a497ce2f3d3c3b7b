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
    return independent_uniform(ctx, name, d, 0, offset_);
  }

 private:
  uint64_t offset_;
};

}  // namespace
}  // namespace bbo

BBO_PLUGIN(bbo::strategy_entry<bbo::RandomStrategy>(
    "random", {"rand"}, "Independent uniform sampling (log-uniform for log parameters)",
    {{"seed_offset", "int", 0, "added to the study seed: a different stream for the same study seed"}}))

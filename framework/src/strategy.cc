// strategy.cc — Strategy defaults and the helpers strategies share.
#include "bbo/strategy.h"

#include <map>
#include <optional>

namespace bbo {

SearchSpace Strategy::relative_space(const StudyView&) { return {}; }

std::map<std::string, double> Strategy::sample_relative(const SampleContext&, const SearchSpace&) { return {}; }

void Strategy::on_trial_finished(const StudyView&, const FrozenTrial&) {}

SearchSpace intersection_space(const StudyView& study) {
  if (!study.declared_space().empty()) return study.declared_space();
  return study.complete_intersection();
}

double independent_uniform(const SampleContext& ctx, const std::string& name, const Distribution& d,
                           uint64_t salt, uint64_t seed_offset) {
  uint64_t bits = trial_seed(ctx.study.seed() + seed_offset, ctx.trial.number, hash_string(name) ^ salt);
  return from_unit(d, static_cast<double>(bits >> 11) * 0x1.0p-53);
}

double sample_uniform(const Distribution& d, std::mt19937_64& rng) {
  // 53 random bits mapped to [0, 1) by hand: std::uniform_real_distribution is not specified bit-for-bit,
  // and proposals must be reproducible across standard libraries. from_unit gives log-uniform values for
  // log distributions and equal probability to every grid point and choice.
  double u = static_cast<double>(rng() >> 11) * 0x1.0p-53;
  return from_unit(d, u);
}

}  // namespace bbo

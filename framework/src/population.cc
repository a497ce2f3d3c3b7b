// population.cc — generations handed out one point per ask, with all state in the plugin-state blob.
#include "bbo/population.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "bbo/error.h"

namespace bbo {
namespace {

constexpr uint64_t kInitSalt = 0x5eed0001;
constexpr uint64_t kProposeSalt = 0x5eed0002;
constexpr uint64_t kTellSalt = 0x5eed0003;
constexpr uint64_t kIndependentSalt = 0x5eed0004;
constexpr int kMaxCasAttempts = 1000;

std::mt19937_64 stream(const StudyView& study, int64_t generation, uint64_t key_hash, uint64_t salt) {
  return std::mt19937_64(trial_seed(study.seed(), generation, key_hash ^ salt));
}

// Minimisation value of a finished trial for the population: failed and pruned points are the worst.
std::optional<double> result_of(const StudyView& study, int64_t number) {
  const auto& trials = study.trials();
  if (number < 0 || static_cast<size_t>(number) >= trials.size()) return std::nullopt;
  const FrozenTrial& t = trials[static_cast<size_t>(number)];
  if (t.number != number || !is_finished(t.state)) return std::nullopt;
  if (t.state != TrialState::kComplete || t.values.empty()) return std::numeric_limits<double>::infinity();
  double v = study.directions()[0] == Direction::kMaximize ? -t.values[0] : t.values[0];
  return std::isnan(v) ? std::numeric_limits<double>::infinity() : v;
}

}  // namespace

PopulationStrategy::PopulationStrategy(std::string name) : key_("population:" + std::move(name)) {}

SearchSpace PopulationStrategy::relative_space(const StudyView& study) {
  if (study.multi_objective())
    throw ValueError("strategy '" + key_.substr(11) + "' supports single-objective studies only");
  return intersection_space(study);
}

double PopulationStrategy::sample_independent(const SampleContext& ctx, const std::string& name,
                                              const Distribution& d) {
  return independent_uniform(ctx, name, d, kIndependentSalt);
}

namespace {

// The blob is "<assignments>\n<generation JSON>": the assignments (trial numbers per point, a line of
// integers separated by ' ' and ';') change on every ask, the generation JSON (space, generation index,
// strategy state, points) only once per generation. Keeping them apart lets an ask skip parsing and
// re-serialising the strategy state (a d x d covariance for CMA-ES) whenever the generation is unchanged.
using Assignments = std::vector<std::vector<int64_t>>;

std::string assignments_to_text(const Assignments& a) {
  std::string out;
  for (size_t i = 0; i < a.size(); ++i) {
    if (i) out += ';';
    for (size_t k = 0; k < a[i].size(); ++k) {
      if (k) out += ' ';
      out += std::to_string(a[i][k]);
    }
  }
  return out;
}

std::optional<Assignments> assignments_from_text(std::string_view text, size_t n_points) {
  Assignments a(1);
  int64_t value = 0;
  bool in_number = false;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      value = value * 10 + (c - '0');
      in_number = true;
      continue;
    }
    if (in_number) a.back().push_back(value);
    value = 0;
    in_number = false;
    if (c == ';') a.emplace_back();
    else if (c != ' ') return std::nullopt;
  }
  if (in_number) a.back().push_back(value);
  if (a.size() != n_points) return std::nullopt;
  return a;
}

}  // namespace

std::map<std::string, double> PopulationStrategy::sample_relative(const SampleContext& ctx, const SearchSpace& space) {
  const StudyView& study = ctx.study;
  const uint64_t key_hash = hash_string(key_);
  const std::string fingerprint = space.to_ordered_json().dump();
  for (int attempt = 0; attempt < kMaxCasAttempts; ++attempt) {
    PluginState ps = study.plugin_state(key_);
    // Parse the stored generation unless it is the one this object parsed last time.
    std::optional<Assignments> assigned;
    const size_t nl = ps.blob.find('\n');
    if (nl != std::string::npos) {
      std::string_view gen_text(ps.blob.data() + nl + 1, ps.blob.size() - nl - 1);
      if (gen_text != cached_text_) {
        json parsed = json::parse(gen_text, nullptr, /*allow_exceptions=*/false);
        cached_text_ = gen_text;
        cached_ = parsed.is_object() ? std::move(parsed) : json();
      }
      if (cached_.is_object() && cached_.value("space", "") == fingerprint)
        assigned = assignments_from_text(std::string_view(ps.blob.data(), nl), cached_["points"].size());
    }
    bool generation_changed = false;
    if (!assigned) {
      // Fresh start (or the space changed): warm-start data are the complete trials covering the space.
      std::vector<std::vector<double>> xs;
      std::vector<double> ys;
      for (const FrozenTrial* t : study.trials({TrialState::kComplete})) {
        bool covers = true;
        for (size_t i = 0; i < space.size() && covers; ++i) {
          auto it = t->distributions.find(space.names()[i]);
          covers = it != t->distributions.end() && same_distribution(it->second, space.distributions()[i]);
        }
        if (!covers || t->values.empty()) continue;
        xs.push_back(space.encode(t->params));
        ys.push_back(study.directions()[0] == Direction::kMaximize ? -t->values[0] : t->values[0]);
      }
      auto init_rng = stream(study, -1, key_hash, kInitSalt);
      json state = initial_state(space, xs, ys, init_rng);
      auto gen_rng = stream(study, 0, key_hash, kProposeSalt);
      std::vector<std::vector<double>> points = next_generation(space, state, gen_rng);
      if (points.empty()) throw Error(key_ + ": next_generation returned no points");
      cached_ = {{"space", fingerprint}, {"generation", 0}, {"state", std::move(state)}, {"points", points}};
      assigned = Assignments(points.size());
      generation_changed = true;
    }
    // Close the generation when every point has a finished trial.
    while (true) {
      std::vector<double> ys;
      for (const auto& numbers : *assigned) {
        std::optional<double> y;
        for (int64_t n : numbers)
          if ((y = result_of(study, n))) break;  // the first finished trial of the point counts
        if (!y) break;
        ys.push_back(*y);
      }
      if (ys.size() != assigned->size()) break;
      const int64_t gen = cached_["generation"].get<int64_t>();
      auto points = cached_["points"].get<std::vector<std::vector<double>>>();
      auto tell_rng = stream(study, gen, key_hash, kTellSalt);
      tell_generation(space, cached_["state"], points, ys, tell_rng);
      auto gen_rng = stream(study, gen + 1, key_hash, kProposeSalt);
      points = next_generation(space, cached_["state"], gen_rng);
      if (points.empty()) throw Error(key_ + ": next_generation returned no points");
      cached_["generation"] = gen + 1;
      cached_["points"] = points;
      assigned = Assignments(points.size());
      generation_changed = true;
    }
    // The first unassigned point; when all are handed out, re-issue an unfinished one (its worker may
    // have died): the one handed out least often (lowest index on ties), so that a batch larger than the
    // rest of the generation spreads its re-issues instead of repeating one point.
    size_t pick = assigned->size();
    for (size_t i = 0; i < assigned->size() && pick == assigned->size(); ++i)
      if ((*assigned)[i].empty()) pick = i;
    if (pick == assigned->size()) {
      size_t fewest = SIZE_MAX;
      for (size_t i = 0; i < assigned->size(); ++i) {
        bool finished = false;
        for (int64_t n : (*assigned)[i]) finished = finished || result_of(study, n).has_value();
        if (!finished && (*assigned)[i].size() < fewest) {
          fewest = (*assigned)[i].size();
          pick = i;
        }
      }
    }
    if (pick == assigned->size()) pick = 0;  // unreachable: a fully finished generation was closed above
    (*assigned)[pick].push_back(ctx.trial.number);
    std::vector<double> point = cached_["points"][pick].get<std::vector<double>>();
    if (point.size() != space.size()) throw Error(key_ + ": a proposed point has the wrong dimension");
    if (generation_changed) cached_text_ = cached_.dump();
    std::string blob = assignments_to_text(*assigned);
    blob += '\n';
    blob += cached_text_;
    if (study.compare_and_swap_plugin_state(key_, ps.version, blob)) return space.decode(point);
    // Another worker changed the state first: read it again (the cache is re-validated against its text).
    cached_text_.clear();
    cached_ = json();
  }
  throw StorageError(key_ + ": could not update the strategy state after " + std::to_string(kMaxCasAttempts) +
                     " attempts (heavy contention)");
}

}  // namespace bbo

// de_core.h — the differential-evolution engine of the `de` strategy, usable (and unit-tested) without a study.
//
// DifferentialEvolution minimises over the unit cube [0,1]^d with a population of N points. One generation is
// one batch: first the initial population (Latin hypercube, or warm-start points that already have values),
// then one trial vector per member, each compared with its parent (greedy one-to-one selection, ties go to
// the trial as in SHADE). Variants:
//  - "shade" (default): SHADE (Tanabe & Fukunaga, CEC 2013): current-to-pbest/1/bin with an external archive
//    of replaced parents; F and CR per trial drawn from a success-history memory of H entries
//    (F ~ Cauchy(M_F, 0.1) truncated to (0, 1], CR ~ N(M_CR, 0.1) clipped to [0, 1]); after a generation one
//    memory slot gets the improvement-weighted Lehmer mean of the successful F and the weighted mean of the
//    successful CR. p (the pbest fraction) is uniform in [2/N, p_max] per trial. The memory starts at 0.5.
//  - "rand1bin": the classic DE/rand/1/bin of Storn & Price with fixed F and CR.
// Bounds: a mutant coordinate outside [0,1] is repaired either to the midpoint between the parent's
// coordinate and the violated bound ("midpoint", SHADE's rule) or by mirroring ("reflect").
// Mixed spaces: the engine keeps continuous coordinates (the caller decodes by rounding). When a caller gives
// a `Canonical` map (unit point -> the representative of the decoded point) and discrete flags, a trial that
// would decode to its parent's point gets one random discrete coordinate redrawn uniformly, so no evaluation
// is spent on a point the population already holds.
//
// The whole state round-trips through JSON (doubles exactly; ±inf and NaN as strings), and ask() is a pure
// function of the state and the generator, so a state restored in another process proposes the same
// generation. Not thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace bbo::de {

using json = nlohmann::json;

struct DeOptions {
  int popsize = 0;                  // N >= 4; 0: clamp(5 d, 10, 50)
  std::string variant = "shade";    // "shade" | "rand1bin"
  double f = 0.5;                   // rand1bin: the mutation factor F in (0, 2]
  double cr = 0.9;                  // rand1bin: the crossover rate CR in [0, 1]
  int memory_size = 6;              // shade: H >= 1 (L-SHADE's 6)
  double p_max = 0.2;               // shade: the pbest fraction is uniform in [2/N, p_max], p_max in (0, 1]
  double archive_rate = 1.0;        // shade: archive capacity = round(archive_rate * N), >= 0
  std::string bounds = "midpoint";  // "midpoint" | "reflect"
};

// Maps a unit point to the representative of the point it decodes to (e.g. encode(decode(u))).
using Canonical = std::function<std::vector<double>(const std::vector<double>&)>;

class DifferentialEvolution {
 public:
  // A fresh search in dimension `dim` (>= 1). Up to N of the warm-start points (unit points with their
  // values; the lowest finite values first) join the initial population already evaluated; the remaining
  // members are a Latin hypercube sample drawn from `rng`. Throws std::invalid_argument on bad options.
  DifferentialEvolution(const DeOptions& options, int dim, std::mt19937_64& rng,
                        const std::vector<std::vector<double>>& warm_x = {}, const std::vector<double>& warm_f = {});
  // Restores a state written by to_json(); throws std::invalid_argument / nlohmann errors on malformed input.
  static DifferentialEvolution from_json(const json& j);
  json to_json() const;

  // The points of the next generation, each in [0,1]^d: the unevaluated members of the initial population,
  // else one trial vector per member. Remembers what it proposed (with F and CR) for tell().
  // `discrete` marks coordinates that a Canonical map rounds (both may be empty).
  std::vector<std::vector<double>> ask(std::mt19937_64& rng, const Canonical& canonical = {},
                                       const std::vector<bool>& discrete = {});
  // Values (to minimise; NaN counts as +inf) of the points of the last ask(), in order. Throws
  // std::invalid_argument when the sizes do not match the pending generation.
  void tell(const std::vector<double>& values, std::mt19937_64& rng);

  int dim() const { return dim_; }
  int popsize() const { return static_cast<int>(x_.size()); }
  const std::vector<std::vector<double>>& population() const { return x_; }
  const std::vector<double>& fitness() const { return fx_; }  // NaN: not evaluated yet
  const std::vector<double>& memory_f() const { return m_f_; }
  const std::vector<double>& memory_cr() const { return m_cr_; }
  size_t archive_size() const { return archive_.size(); }
  int64_t generation() const { return generation_; }  // generations told so far
  const std::vector<double>& best_x() const { return best_x_; }  // empty before any value
  double best_f() const { return best_f_; }

 private:
  DifferentialEvolution() = default;
  void validate() const;
  double repair(double mutant, double parent) const;

  DeOptions options_;
  int dim_ = 0;
  std::vector<std::vector<double>> x_;
  std::vector<double> fx_;
  std::vector<std::vector<double>> archive_;
  std::vector<double> m_f_, m_cr_;
  int memory_pos_ = 0;
  int64_t generation_ = 0;
  std::vector<double> best_x_;
  double best_f_ = 0.0;
  // The pending generation: member index per point, the points, and their F and CR (trials only).
  bool pending_init_ = false;
  std::vector<int> pending_index_;
  std::vector<std::vector<double>> pending_x_;
  std::vector<double> pending_f_, pending_cr_;
};

// clamp(5 d, 10, 50).
int default_popsize(int dim);

}  // namespace bbo::de

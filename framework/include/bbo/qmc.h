// bbo/qmc.h — quasi-Monte Carlo points: the Sobol sequence with nested uniform (Owen) scrambling.
//
// One implementation shared by the `sobol` strategy and the acquisition optimizer / Monte-Carlo acquisitions.
// Direction numbers are Joe & Kuo's new-joe-kuo-6.21201 as shipped by Boost.Random (up to
// sobol_max_dimension() coordinates). Scrambling is a nested uniform (Owen) scramble implemented with Burley's
// hash (Laine–Karras permutation on bit-reversed coordinates, "Practical Hash-based Owen Scrambling", JCGT
// 2020): it keeps every (t, m, s)-net property of the unscrambled sequence while making each point uniformly
// distributed. Coordinates are 32-bit fixed point: x / 2^32 lies in [0, 1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "bbo/surrogate.h"

namespace bbo {

// Largest number of coordinates of the direction-number table.
size_t sobol_max_dimension();

// Point `index` of the unscrambled Sobol sequence in `dim` coordinates (index 0 is the origin, as in
// scipy.stats.qmc.Sobol). Throws ValueError when dim > sobol_max_dimension() or index >= 2^32.
std::vector<uint32_t> sobol_point(size_t dim, uint64_t index);

// Nested uniform scramble of one 32-bit coordinate with a per-coordinate seed.
uint32_t nested_uniform_scramble(uint32_t x, uint32_t seed);

// Consecutive points of a (possibly scrambled) Sobol sequence, from point `start` on. Cheaper than calling
// sobol_point() per index (one Gray-code step per point).
class SobolSequence {
 public:
  // `scramble_seeds`: empty → unscrambled; otherwise one seed per coordinate (size dim).
  SobolSequence(size_t dim, std::vector<uint32_t> scramble_seeds = {}, uint64_t start = 0);
  ~SobolSequence();
  SobolSequence(const SobolSequence&) = delete;
  SobolSequence& operator=(const SobolSequence&) = delete;
  // Writes the next point's 32-bit coordinates to out (size dim).
  void next(uint32_t* out);
  // The next point as doubles in [0, 1): (x + offset) / 2^32 (offset 0.5 keeps them strictly inside (0, 1)).
  void next(double* out, double offset = 0.0);
  size_t dim() const { return dim_; }

 private:
  struct Engine;
  size_t dim_;
  std::vector<uint32_t> seeds_;
  uint64_t index_;
  Engine* engine_ = nullptr;
};

// n × d scrambled Sobol points in [0, 1) (the first n points of the sequence, scramble seeds drawn from rng;
// coordinates past sobol_max_dimension() are uniform draws from rng).
Matrix sobol_points(size_t n, size_t d, std::mt19937_64& rng);

// n × d quasi-random standard normals: normal_quantile of scrambled Sobol points (offset half a unit of the
// last bit so no coordinate is 0). Used as fixed base samples of Monte-Carlo acquisitions.
Matrix sobol_normals(size_t n, size_t d, std::mt19937_64& rng);

}  // namespace bbo

#include "bbo/qmc.h"

#include <boost/random/sobol.hpp>
#include <string>

#include "bbo/error.h"

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

void check_dim(size_t dim) {
  if (dim == 0 || dim > boost::random::default_sobol_table::max_dimension)
    throw ValueError("sobol: dimension must lie in [1, " +
                     std::to_string(boost::random::default_sobol_table::max_dimension) + "], got " +
                     std::to_string(dim));
}

void check_index(uint64_t index) {
  if (index > 0xFFFFFFFFull)
    throw ValueError("sobol: point index " + std::to_string(index) + " exceeds the 2^32 points of the sequence");
}

}  // namespace

size_t sobol_max_dimension() { return boost::random::default_sobol_table::max_dimension; }

uint32_t nested_uniform_scramble(uint32_t x, uint32_t seed) {
  return reverse_bits(laine_karras_permutation(reverse_bits(x), seed));
}

// Boost's engine starts at index 1 and its seed(n) jumps straight to position n through the Gray code.
std::vector<uint32_t> sobol_point(size_t dim, uint64_t index) {
  check_dim(dim);
  check_index(index);
  std::vector<uint32_t> x(dim, 0);
  if (index == 0) return x;
  boost::random::sobol_engine<uint32_t, 32> engine(dim);
  engine.seed(static_cast<uint32_t>(index - 1));
  for (size_t k = 0; k < dim; ++k) x[k] = engine();
  return x;
}

struct SobolSequence::Engine {
  explicit Engine(size_t dim) : e(dim) {}
  boost::random::sobol_engine<uint32_t, 32> e;
};

SobolSequence::SobolSequence(size_t dim, std::vector<uint32_t> scramble_seeds, uint64_t start)
    : dim_(dim), seeds_(std::move(scramble_seeds)), index_(start) {
  check_dim(dim);
  check_index(start);
  if (!seeds_.empty() && seeds_.size() != dim)
    throw ValueError("sobol: " + std::to_string(seeds_.size()) + " scramble seeds for " + std::to_string(dim) +
                     " coordinates");
  engine_ = new Engine(dim);
  if (start > 0) engine_->e.seed(static_cast<uint32_t>(start - 1));
}

SobolSequence::~SobolSequence() { delete engine_; }

void SobolSequence::next(uint32_t* out) {
  check_index(index_);
  if (index_ == 0) {
    for (size_t k = 0; k < dim_; ++k) out[k] = 0;
  } else {
    for (size_t k = 0; k < dim_; ++k) out[k] = engine_->e();
  }
  ++index_;
  if (!seeds_.empty())
    for (size_t k = 0; k < dim_; ++k) out[k] = nested_uniform_scramble(out[k], seeds_[k]);
}

void SobolSequence::next(double* out, double offset) {
  std::vector<uint32_t> bits(dim_);
  next(bits.data());
  for (size_t k = 0; k < dim_; ++k) out[k] = (static_cast<double>(bits[k]) + offset) * 0x1.0p-32;
}

namespace {
Matrix scrambled(size_t n, size_t d, std::mt19937_64& rng, double offset) {
  Matrix out(n, d);
  if (n == 0 || d == 0) return out;
  size_t ds = std::min(d, sobol_max_dimension());
  std::vector<uint32_t> seeds(ds);
  for (auto& s : seeds) s = static_cast<uint32_t>(rng() >> 32);
  SobolSequence seq(ds, seeds);
  std::vector<double> p(ds);
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  for (size_t i = 0; i < n; ++i) {
    seq.next(p.data(), offset);
    for (size_t k = 0; k < ds; ++k) out(i, k) = p[k];
    for (size_t k = ds; k < d; ++k) {
      double u = unif(rng);
      out(i, k) = offset > 0 ? std::max(u, 0x1.0p-33) : u;
    }
  }
  return out;
}
}  // namespace

Matrix sobol_points(size_t n, size_t d, std::mt19937_64& rng) { return scrambled(n, d, rng, 0.0); }

Matrix sobol_normals(size_t n, size_t d, std::mt19937_64& rng) {
  Matrix u = scrambled(n, d, rng, 0.5);
  for (double& v : u.data) v = normal_quantile(v);
  return u;
}

}  // namespace bbo

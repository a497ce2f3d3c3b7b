// gp_kernel_math.h — the per-element Matérn-5/2 arithmetic of the `gp` surrogate, the one copy shared by the
// CPU code (gp_core.cc, with doubles and with Eigen arrays) and the CUDA kernels (gp_cuda.cu, doubles on the
// device). Plain header: no Eigen, no CUDA types; BBO_HD marks the functions __host__ __device__ under nvcc.
//
//   r² = Σ_j c_j(x_j, x'_j),  c_j = (x_j − x'_j)² / ℓ_j² (continuous and grid) or 1[x_j ≠ x'_j] / ℓ_j² (categorical)
//   k(r²) = s² (1 + ρ + ρ²/3) e^{−ρ},  ρ = √(5 r²)
//   dk/dr² = −(5/6) s² (1 + ρ) e^{−ρ}
#pragma once

#include <cmath>

#ifdef __CUDACC__
#define BBO_HD __host__ __device__
#else
#define BBO_HD
#endif

namespace bbo::gp {

// Contribution of a continuous (or grid) coordinate to r²: inv_l2 · diff², diff = x_j − x'_j. Generic so that
// the CPU code can pass an Eigen array expression (the result is then an expression, used within the caller's
// statement).
template <class T>
BBO_HD inline auto r2_continuous(const T& diff, double inv_l2) {
  return inv_l2 * (diff * diff);
}

// Contribution of a categorical coordinate to r² (the Hamming distance of that coordinate, scaled).
BBO_HD inline double r2_categorical(double a, double b, double inv_l2) { return a != b ? inv_l2 : 0.0; }

// One coordinate's contribution, by kind (the device kernels' form).
BBO_HD inline double r2_contribution(double a, double b, double inv_l2, bool categorical) {
  return categorical ? r2_categorical(a, b, inv_l2) : r2_continuous(a - b, inv_l2);
}

// k(r²) = s² · Matérn52(r²); T is double or an Eigen array.
template <class T>
BBO_HD inline T matern52_k(const T& r2, double s2) {
  using std::exp;
  using std::sqrt;
  const T rho = sqrt(5.0 * r2);
  return s2 * (1.0 + rho + rho * rho * (1.0 / 3.0)) * exp(-rho);
}

// k(r²) and dk/dr² together (one square root and one exponential), written to k and dk (for Eigen: any
// writable array expressions of r2's size, e.g. a column segment, so that nothing is copied).
template <class T, class K, class D>
BBO_HD inline void matern52_k_dk(const T& r2, double s2, K&& k, D&& dk) {
  using std::exp;
  using std::sqrt;
  const T rho = sqrt(5.0 * r2);
  const T e = exp(-rho);
  k = s2 * (1.0 + rho + rho * rho * (1.0 / 3.0)) * e;
  dk = (-5.0 / 6.0 * s2) * (1.0 + rho) * e;
}

}  // namespace bbo::gp

// bbo/surrogate.h — the Surrogate plugin contract (models used by the `bo` strategy).
//
// Inputs are points of the unit cube [0,1]^d (SearchSpace::encode), one row per point, stored row-major.
// Outputs are for minimization of the standardized objective as given (the caller flips signs).
#pragma once

#include <cstddef>
#include <vector>

namespace bbo {

// A dense row-major matrix of doubles.
struct Matrix {
  size_t rows = 0;
  size_t cols = 0;
  std::vector<double> data;
  Matrix() = default;
  Matrix(size_t r, size_t c, double fill = 0.0) : rows(r), cols(c), data(r * c, fill) {}
  double& operator()(size_t r, size_t c) { return data[r * cols + c]; }
  double operator()(size_t r, size_t c) const { return data[r * cols + c]; }
};

struct Prediction {
  std::vector<double> mean;
  std::vector<double> variance;  // predictive variance of the latent function
};

class Surrogate {
 public:
  virtual ~Surrogate() = default;
  // Fits the model to observations y at X (X.rows == y.size()). Throws ValueError for mismatched sizes.
  virtual void fit(const Matrix& X, const std::vector<double>& y) = 0;
  virtual Prediction predict(const Matrix& X) const = 0;
};

}  // namespace bbo

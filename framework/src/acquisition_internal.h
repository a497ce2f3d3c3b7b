// acquisition_internal.h — pieces shared by acquisition.cc, hypervolume.cc and acquisition_optimizer.cc.
#pragma once

#include <cstddef>
#include <vector>

#include "bbo/surrogate.h"

namespace bbo::internal {

// A Pareto front (minimized, 2 or 3 objectives) with a reference point, prepared for many hypervolume-
// improvement queries: only the points strictly inside the reference box are kept, dominated ones dropped.
class HypervolumeFront {
 public:
  HypervolumeFront(const Matrix& points, std::vector<double> reference);
  // HV(front ∪ {y}) - HV(front) (>= 0; 0 when y is weakly dominated or outside the reference box).
  double improvement(const double* y) const;
  size_t size() const { return front_.rows; }
  const Matrix& front() const { return front_; }
  const std::vector<double>& reference() const { return ref_; }

 private:
  Matrix front_;  // non-dominated points inside the box, sorted by the first coordinate
  std::vector<double> ref_;
  std::vector<size_t> by_z_;  // 3 objectives: front rows by increasing third coordinate
};

// The non-dominated rows of `points` (minimized); duplicates kept once.
Matrix pareto_front(const Matrix& points);

}  // namespace bbo::internal

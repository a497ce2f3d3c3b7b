// tests/storage/postgres/multihost_objective.h — the objective of the multi-host test, shared by the workers
// and the test's in-memory reference run.
#pragma once

#include "bbo/study.h"

namespace bbo::testing {

// A shifted quadratic over a float, a log-scaled float and an int: minimum 0 at x = 1, y = 0.01, k = 3.
inline double multihost_objective(Trial& t) {
  const double x = t.suggest_float("x", -5.0, 5.0);
  const double y = t.suggest_float("y", 1e-4, 1.0, /*log=*/true);
  const int64_t k = t.suggest_int("k", 0, 6);
  const double dy = y - 0.01;
  return (x - 1.0) * (x - 1.0) + 100.0 * dy * dy + 0.25 * static_cast<double>((k - 3) * (k - 3));
}

}  // namespace bbo::testing

// plugins/common/pruning_objective.h — which objective's learning curve a pruner judges (shared by the
// percentile and rung pruners; header-only, compiled into each plugin).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "bbo/error.h"

namespace bbo::pruners {

// The index of the objective to prune on: `objective` when given (ValueError when the study has no such
// objective), else 0 in a single-objective study; a multi-objective study without `objective` is a ValueError
// naming the parameter, because no objective is a safe default there.
inline int pruning_objective(const std::string& pruner, const std::optional<int64_t>& objective,
                             size_t n_objectives) {
  if (!objective) {
    if (n_objectives > 1)
      throw ValueError(pruner + " pruner: multi-objective study: set parameter 'objective' to the index of the "
                                "objective to prune on");
    return 0;
  }
  if (*objective < 0 || static_cast<size_t>(*objective) >= n_objectives)
    throw ValueError(pruner + " pruner: parameter 'objective' is " + std::to_string(*objective) +
                     " but the study has " + std::to_string(n_objectives) + " objective(s)");
  return static_cast<int>(*objective);
}

}  // namespace bbo::pruners

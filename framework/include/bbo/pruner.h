// bbo/pruner.h — the Pruner plugin contract.
//
// should_prune is asked after a trial reported intermediate values (Trial::should_prune, `bbo should-prune`).
// A pruner decides from the stored study only (trials, intermediate values, plugin state), so a fresh process
// answers the same as the one that runs the trial. Pruners are used by one thread at a time.
#pragma once

#include "bbo/study_view.h"
#include "bbo/trial.h"

namespace bbo {

class Pruner {
 public:
  virtual ~Pruner() = default;
  virtual bool should_prune(const StudyView& study, const FrozenTrial& trial) = 0;
};

// The default: never prunes.
class NopPruner final : public Pruner {
 public:
  bool should_prune(const StudyView&, const FrozenTrial&) override { return false; }
};

}  // namespace bbo

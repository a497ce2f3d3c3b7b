// bbo_multihost_worker URL STUDY N JOURNAL — one worker of the multi-host test (multihost_test.cc).
//
// Loads the study and repeats ask → suggest (x, y, k) → tell until it is handed a trial numbered N or more:
// that trial is beyond the study's budget, so it is told FAIL and the worker stops. Trial numbers are
// gap-free, so every number below N is completed by exactly one worker and each worker ends with exactly one
// FAIL trial: the study holds N + (number of workers) trials at the end. After each tell that returned
// COMPLETE, "number value" (value with 17 significant digits) is appended to JOURNAL.
// Exit status: 0 when the budget is reached, 1 on any error (printed), 2 on bad arguments.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "bbo/study.h"
#include "tests/storage/postgres/multihost_objective.h"

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: bbo_multihost_worker URL STUDY N JOURNAL\n");
    return 2;
  }
  const std::string url = argv[1], name = argv[2];
  const long long budget = std::atoll(argv[3]);
  std::FILE* journal = std::fopen(argv[4], "a");
  if (!journal) {
    std::perror(argv[4]);
    return 2;
  }
  try {
    bbo::Study study = bbo::Study::load(name, url);
    for (;;) {
      bbo::Trial trial = study.ask();
      if (trial.number() >= budget) {
        study.tell(trial, bbo::TrialState::kFail);
        break;
      }
      const double value = bbo::testing::multihost_objective(trial);
      if (study.tell(trial, value) != bbo::TrialState::kComplete) {
        std::fprintf(stderr, "bbo_multihost_worker: trial %lld was not COMPLETE after tell\n",
                     static_cast<long long>(trial.number()));
        return 1;
      }
      std::fprintf(journal, "%lld %.17g\n", static_cast<long long>(trial.number()), value);
      std::fflush(journal);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bbo_multihost_worker: %s\n", e.what());
    return 1;
  }
  return std::fclose(journal) == 0 ? 0 : 1;
}

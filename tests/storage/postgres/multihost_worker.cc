// bbo_multihost_worker URL STUDY N JOURNAL — one worker of the multi-host test (multihost_test.cc).
//
// Loads the study and repeats ask → suggest (x, y, k) → tell until it is handed a trial numbered N or more:
// that trial is beyond the study's budget, so it is told FAIL and the worker stops. Trial numbers are
// gap-free, so every number below N is completed by exactly one worker and each worker ends with exactly one
// FAIL trial: the study holds N + (number of workers) trials at the end. After each tell that returned
// COMPLETE, "number value" (value with 17 significant digits) is appended to JOURNAL.
// Start barrier: once the study is loaded the worker creates JOURNAL.ready and waits (up to 120 s) for a file
// "go" in JOURNAL's folder, so that no group can finish the budget before the other has connected (a loaded
// machine may start one group's processes seconds late).
// Exit status: 0 when the budget is reached, 1 on any error (printed), 2 on bad arguments.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

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
    const std::filesystem::path journal_path(argv[4]);
    std::ofstream(journal_path.string() + ".ready").put('1');
    const auto go = journal_path.parent_path() / "go";
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!std::filesystem::exists(go)) {
      if (std::chrono::steady_clock::now() > give_up) {
        std::fprintf(stderr, "bbo_multihost_worker: no start signal (%s) within 120 s\n", go.c_str());
        return 1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
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

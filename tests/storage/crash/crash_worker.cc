// bbo_crash_worker URL STUDY JOURNAL SEED — a worker for the crash tests (crash_test.cc).
//
// Loops forever: Study::load → ask → three suggest_float → report at steps 0..2 → tell. After each tell that
// returned COMPLETE it appends "number value\n" to JOURNAL with one write() on an O_APPEND descriptor followed
// by fsync, so that whoever kills this process with SIGKILL knows every tell that had succeeded before the
// kill. A killed process can leave at most a last line without its newline; readers ignore it.
//
// Errors from the storage (a lock held by a process that is being killed, a trial failed as stale by another
// worker) are written to stderr and the loop goes on: only SIGKILL ends this program. Exit status 2 means bad
// arguments or an unwritable journal.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "bbo/study.h"

namespace {

void append_line(int fd, int64_t number, double value) {
  char buf[96];
  int n = std::snprintf(buf, sizeof buf, "%lld %.17g\n", static_cast<long long>(number), value);
  // One write() for the whole line: with O_APPEND, lines of concurrent writers never interleave and a kill
  // leaves either the whole line or a prefix of it.
  if (::write(fd, buf, static_cast<size_t>(n)) != n || ::fsync(fd) != 0) {
    std::fprintf(stderr, "bbo_crash_worker: cannot append to the journal: %s\n", std::strerror(errno));
    std::exit(2);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: bbo_crash_worker URL STUDY JOURNAL SEED\n");
    return 2;
  }
  const std::string url = argv[1], name = argv[2];
  int fd = ::open(argv[3], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "bbo_crash_worker: cannot open %s: %s\n", argv[3], std::strerror(errno));
    return 2;
  }
  for (;;) {
    try {
      bbo::Study study = bbo::Study::load(name, url);
      bbo::Trial trial = study.ask();
      double x = trial.suggest_float("x", -5.0, 5.0);
      double y = trial.suggest_float("y", -5.0, 5.0);
      double z = trial.suggest_float("z", 1e-3, 1e3, /*log=*/true);
      double value = x * x + y * y + std::log10(z);
      for (int step = 0; step < 3; ++step) trial.report(step, value + (2 - step));
      if (study.tell(trial, value) == bbo::TrialState::kComplete) append_line(fd, trial.number(), value);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bbo_crash_worker: %s\n", e.what());
    }
  }
}

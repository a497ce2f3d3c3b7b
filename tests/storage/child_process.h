// tests/storage/child_process.h — forked children for the multi-process storage tests.
#pragma once

#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>
#include <functional>

namespace bbo::testing {

// Forks a child that runs `body` and exits 0, or 1 (printing the error) when it throws.
inline pid_t spawn(const std::function<void()>& body) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    int code = 0;
    try {
      body();
    } catch (const std::exception& e) {
      fprintf(stderr, "child %d: %s\n", getpid(), e.what());
      code = 1;
    }
    _exit(code);
  }
  return pid;
}

// The child's exit code, 128 + signal when it was killed, -1 when it cannot be waited for.
inline int wait_exit_code(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace bbo::testing

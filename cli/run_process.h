// cli/run_process.h — one child process of `bbo run`: spawned in its own process group with its stdout on a
// pipe read here line by line, its stderr appended to a log file and its stdin on /dev/null; stopped with
// SIGTERM to the whole group, then SIGKILL after a grace period.
//
// Not thread-safe: one Child is driven by one thread. Pipes and the log descriptor are close-on-exec, so
// children spawned by other threads at the same time never inherit them (a leaked write end would keep a
// pipe open past its child's exit).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace bbo::cli {

class Child {
 public:
  using Clock = std::chrono::steady_clock;

  // Spawns argv[0] (searched in PATH when it has no '/') with exactly the environment `env` ("K=V"), in a new
  // process group, with default signal dispositions and an empty signal mask. `log_fd` receives the child's
  // stderr (and, through write_log, the stdout lines this side reads). Throws bbo::Error naming the command
  // when it cannot be started.
  Child(const std::vector<std::string>& argv, const std::vector<std::string>& env, int log_fd);
  ~Child();  // a child still running is killed (SIGKILL to its group) and reaped
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  enum class Event {
    kLine,     // `line` holds one line of stdout (without its '\n')
    kExited,   // the child has exited and been reaped (wait_status() is valid); its output is drained
    kTimeout,  // `deadline` passed
    kWake,     // `wake_fd` became readable
  };
  // Waits for the next line of stdout, the child's exit, the deadline or `wake_fd` (-1: none). After the child
  // exits, output still buffered is returned line by line first (a last line without '\n' included); then
  // what remains of its process group is killed and the child reaped.
  Event next(std::string& line, Clock::time_point deadline, int wake_fd = -1);

  // Sends SIGTERM to the process group, waits up to `grace_seconds` for the child to exit (its further stdout
  // goes to the log, unparsed), then SIGKILLs the group; returns once the child is reaped. `hurry_fd`
  // readable cuts the grace period short.
  void terminate(double grace_seconds, int hurry_fd = -1);

  bool exited() const { return reaped_; }
  int wait_status() const { return status_; }
  pid_t pid() const { return pid_; }
  // Appends `line` and '\n' to the log.
  void write_log(const std::string& line);

 private:
  bool poll_once(Clock::time_point deadline, int wake_fd, bool* woke);
  void read_some();
  void finish_exit();
  bool child_has_exited();

  pid_t pid_ = -1;
  int out_fd_ = -1;   // read end of the stdout pipe
  int pid_fd_ = -1;   // pidfd of the child, -1 where the kernel has none
  int log_fd_ = -1;
  std::string buffer_;
  bool eof_ = false;
  bool exit_seen_ = false;  // the child has exited (not yet reaped)
  bool reaped_ = false;
  int status_ = 0;
  Clock::time_point drain_deadline_{};
};

// "exited with status 3", "killed by signal 9 (SIGKILL)".
std::string describe_wait_status(int status);

// The path a command name resolves to (PATH search as execvp does for a name without '/'), or "" when no
// executable file is found.
std::string find_executable(const std::string& name, const std::string& path_env);

}  // namespace bbo::cli

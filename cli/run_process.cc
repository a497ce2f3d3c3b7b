#include "run_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "bbo/error.h"

namespace bbo::cli {
namespace {

// Output after the child's exit is read for this long at most: a grandchild that inherited stdout and keeps
// it open must not hold the trial forever (it is killed with the rest of the group).
constexpr auto kDrainAfterExit = std::chrono::milliseconds(200);
// Without a pidfd, the child's exit is polled at this interval.
constexpr auto kExitPollInterval = std::chrono::milliseconds(10);
// A "line" longer than this is cut (a script printing binary data without newlines).
constexpr size_t kMaxLine = 1 << 20;

std::string errno_text(int e) { return std::strerror(e); }

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd >= 0) fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
#else
  (void)pid;
  return -1;
#endif
}

}  // namespace

Child::Child(const std::vector<std::string>& argv, const std::vector<std::string>& env, int log_fd)
    : log_fd_(log_fd) {
  if (argv.empty()) throw ValueError("bbo run: empty command");
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw Error("bbo run: cannot create a pipe: " + errno_text(errno));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, p[1], 1);
  posix_spawn_file_actions_adddup2(&actions, log_fd, 2);

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group: a prune or a timeout stops the whole tree the command starts (data loaders, shells),
  // and the terminal's Ctrl-C reaches bbo only, which then stops its children in order.
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);  // bbo's threads block SIGINT/SIGTERM; the child must not
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> cargv, cenv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : env) cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  int rc = posix_spawnp(&pid_, cargv[0], &actions, &attr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(p[1]);
  if (rc != 0) {
    close(p[0]);
    pid_ = -1;
    throw Error("cannot run '" + argv[0] + "': " + errno_text(rc));
  }
  out_fd_ = p[0];
  fcntl(out_fd_, F_SETFL, fcntl(out_fd_, F_GETFL) | O_NONBLOCK);
  pid_fd_ = open_pidfd(pid_);
}

Child::~Child() {
  if (pid_ > 0 && !reaped_) {
    killpg(pid_, SIGKILL);
    while (waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
  }
  if (out_fd_ >= 0) close(out_fd_);
  if (pid_fd_ >= 0) close(pid_fd_);
}

void Child::write_log(const std::string& line) {
  if (log_fd_ < 0) return;
  std::string s = line + '\n';
  const char* p = s.data();
  size_t left = s.size();
  while (left > 0) {
    ssize_t n = write(log_fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk must not stop the trial; the log is best effort
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void Child::read_some() {
  char buf[65536];
  for (;;) {
    ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n > 0) {
      buffer_.append(buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof buf) return;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    eof_ = true;  // 0: every writer closed it; an error: nothing more can come
    return;
  }
}

bool Child::child_has_exited() {
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno == ECHILD;
  return info.si_pid != 0;
}

void Child::finish_exit() {
  // The leader is a zombie until reaped, so its process group id cannot be reused yet: kill what is left of
  // the group (orphaned helpers), then reap.
  killpg(pid_, SIGKILL);
  while (waitpid(pid_, &status_, 0) < 0) {
    if (errno != EINTR) break;
  }
  reaped_ = true;
  if (!eof_) read_some();  // what was written before the group died
  eof_ = true;
}

Child::Event Child::next(std::string& line, Clock::time_point deadline, int wake_fd) {
  for (;;) {
    if (auto pos = buffer_.find('\n'); pos != std::string::npos) {
      line.assign(buffer_, 0, pos);
      buffer_.erase(0, pos + 1);
      return Event::kLine;
    }
    if (buffer_.size() > kMaxLine || (reaped_ && !buffer_.empty())) {
      line = std::move(buffer_);
      buffer_.clear();
      return Event::kLine;
    }
    if (reaped_) return Event::kExited;
    auto now = Clock::now();
    if (exit_seen_ && (eof_ || now >= drain_deadline_)) {
      finish_exit();
      continue;
    }
    if (!exit_seen_ && pid_fd_ < 0 && child_has_exited()) {
      exit_seen_ = true;
      drain_deadline_ = now + kDrainAfterExit;
      continue;
    }
    if (now >= deadline) return Event::kTimeout;

    auto until = deadline;
    if (exit_seen_) until = std::min(until, drain_deadline_);
    if (!exit_seen_ && pid_fd_ < 0) until = std::min(until, now + kExitPollInterval);
    int timeout_ms = -1;
    if (until != Clock::time_point::max()) {
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(until - now).count();
      timeout_ms = static_cast<int>(std::min<long long>(std::max<long long>(ms, 0), INT_MAX));
    }
    pollfd fds[3];
    int n = 0, i_out = -1, i_pid = -1, i_wake = -1;
    if (!eof_) {
      i_out = n;
      fds[n++] = {out_fd_, POLLIN, 0};
    }
    if (!exit_seen_ && pid_fd_ >= 0) {
      i_pid = n;
      fds[n++] = {pid_fd_, POLLIN, 0};
    }
    if (wake_fd >= 0) {
      i_wake = n;
      fds[n++] = {wake_fd, POLLIN, 0};
    }
    int r = poll(fds, static_cast<nfds_t>(n), timeout_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw Error("bbo run: poll failed: " + errno_text(errno));
    }
    if (i_wake >= 0 && fds[i_wake].revents != 0) return Event::kWake;
    if (i_out >= 0 && fds[i_out].revents != 0) read_some();
    if (i_pid >= 0 && fds[i_pid].revents != 0) {
      exit_seen_ = true;
      drain_deadline_ = Clock::now() + kDrainAfterExit;
    }
  }
}

void Child::terminate(double grace_seconds, int hurry_fd) {
  if (reaped_ || pid_ <= 0) return;
  killpg(pid_, SIGTERM);
  auto kill_at = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(std::max(grace_seconds, 0.0)));
  bool killed = false;
  std::string line;
  for (;;) {
    Event e = next(line, killed ? Clock::time_point::max() : kill_at, killed ? -1 : hurry_fd);
    if (e == Event::kLine) {
      write_log(line);
    } else if (e == Event::kExited) {
      return;
    } else {  // grace period over, or told to hurry
      killpg(pid_, SIGKILL);
      killed = true;
    }
  }
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : "");
  }
  return "ended with wait status " + std::to_string(status);
}

std::string find_executable(const std::string& name, const std::string& path_env) {
  auto runnable = [](const std::string& p) {
    struct stat st{};
    return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
  };
  if (name.empty()) return "";
  if (name.find('/') != std::string::npos) return runnable(name) ? name : "";
  size_t start = 0;
  for (;;) {
    size_t end = path_env.find(':', start);
    std::string dir = path_env.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (runnable(candidate)) return candidate;
    if (end == std::string::npos) return "";
    start = end + 1;
  }
}

}  // namespace bbo::cli

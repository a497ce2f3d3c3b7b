// bench/bench_util.h — small helpers shared by the benchmark drivers: argument lookup, running a child
// process and capturing its stdout, and parsing the peers' "key=value" output.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace bbo::bench {

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// "--name value" or "--name=value" in argv.
inline std::optional<std::string> arg_value(int argc, char** argv, const std::string& name) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == name && i + 1 < argc) return std::string(argv[i + 1]);
    if (a.rfind(name + "=", 0) == 0) return a.substr(name.size() + 1);
  }
  return std::nullopt;
}

inline bool has_flag(int argc, char** argv, const std::string& name) {
  for (int i = 1; i < argc; ++i) {
    if (name == argv[i]) return true;
  }
  return false;
}

// A child started with fork/exec whose stdout is read through a pipe.
struct Child {
  pid_t pid = -1;
  int out_fd = -1;
};

inline Child spawn(const std::vector<std::string>& args) {
  int fds[2];
  if (pipe(fds) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "exec %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  return {pid, fds[0]};
}

// Reads the child's stdout to the end and waits for it. Returns (exit status, output); a child killed by a
// signal reports 128 + signal.
inline std::pair<int, std::string> finish(Child c) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(c.out_fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(c.out_fd);
  int status = 0;
  waitpid(c.pid, &status, 0);
  const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return {rc, out};
}

inline std::pair<int, std::string> run_capture(const std::vector<std::string>& args) {
  return finish(spawn(args));
}

// Parses "a=1 b=2.5 c=x" (the last line containing '=') into a map.
// "a,b,,c" -> {"a", "b", "c"} (empty items dropped), and the same as integers.
inline std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}
inline std::vector<int> split_ints(const std::string& s) {
  std::vector<int> out;
  for (const auto& item : split(s)) out.push_back(std::stoi(item));
  return out;
}

inline std::map<std::string, std::string> parse_kv(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string w;
    while (words >> w) {
      const auto eq = w.find('=');
      if (eq != std::string::npos && eq > 0) kv[w.substr(0, eq)] = w.substr(eq + 1);
    }
  }
  return kv;
}

inline double kv_double(const std::map<std::string, std::string>& kv, const std::string& key) {
  auto it = kv.find(key);
  if (it == kv.end()) throw std::runtime_error("peer output lacks " + key);
  return std::stod(it->second);
}

}  // namespace bbo::bench

// child_harness.h — runs a program as a child process with stdout/stderr captured in files (the CLI tests
// drive the built `bbo` binary this way). Header-only; test code.
#pragma once

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

extern char** environ;

namespace bbo::testing {

struct ChildResult {
  int code = -1;  // exit status, or 128 + signal
  std::string out;
  std::string err;
};

inline std::string read_text_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Starts argv (argv[0] an absolute path) with stdout and stderr written to the files `out` and `err`. The
// environment is the caller's without the entries ("K=V") for which `drop` returns true, plus `extra_env`
// (later entries win). Returns the pid, or -1 when posix_spawn fails.
inline pid_t spawn_captured(std::vector<std::string> argv_s, const std::function<bool(const std::string&)>& drop,
                            const std::vector<std::string>& extra_env, const std::filesystem::path& out,
                            const std::filesystem::path& err) {
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e != nullptr; ++e)
    if (!drop || !drop(*e)) env_s.emplace_back(*e);
  env_s.insert(env_s.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// Waits for `pid` and reads what it wrote to `out` and `err`. pid <= 0 gives code -1.
inline ChildResult wait_captured(pid_t pid, const std::filesystem::path& out, const std::filesystem::path& err) {
  ChildResult r;
  if (pid <= 0) return r;
  int status = 0;
  waitpid(pid, &status, 0);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_text_file(out);
  r.err = read_text_file(err);
  return r;
}

// A fixture with a fresh temporary directory (dir_, removed after the test) and an SQLite URL in it (url_).
class TempDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bbo_cli_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    url_ = "sqlite:///" + (dir_ / "study.db").string();
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path dir_;
  std::string url_;
};

}  // namespace bbo::testing

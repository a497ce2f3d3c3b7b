// bbo run: hyperparameter optimization of an external command (docs/cli.md, "run"). K worker threads each
// loop ask → launch the command with the trial's parameters → read its report lines (recording each and
// asking the pruner) → tell; a heartbeat thread keeps their trials alive; the main thread draws the progress
// and turns SIGINT/SIGTERM/SIGHUP into an orderly stop (children terminated, their trials FAIL).
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "bbo/config.h"
#include "bbo/plugin.h"
#include "run_cmd.h"
#include "run_process.h"
#include "run_report.h"

extern char** environ;

namespace bbo::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The command after "--", taken out of argv by take_run_command before CLI11 sees it.
struct CommandTail {
  bool given = false;
  std::vector<std::string> argv;
};
CommandTail& command_tail() {
  static CommandTail tail;
  return tail;
}

struct RunOptions {
  StorageOption storage;
  std::string config;
  std::string study;
  int64_t trials = 0;
  int64_t total_trials = 0;
  double timeout_per_trial = 0;
  int workers = 1;
  std::string gpus;
  std::string log_dir;
  double kill_grace = 10.0;
  double heartbeat_interval = 0;
  CLI::Option* trials_opt = nullptr;
  CLI::Option* total_trials_opt = nullptr;
  CLI::Option* timeout_opt = nullptr;
  CLI::Option* workers_opt = nullptr;
  CLI::Option* gpus_opt = nullptr;
  CLI::Option* log_dir_opt = nullptr;
  CLI::Option* kill_grace_opt = nullptr;
  CLI::Option* heartbeat_opt = nullptr;
};

// Everything a run needs, from the flags over the study file's `run:` section over the defaults.
struct RunSettings {
  std::vector<std::string> command;
  std::optional<int64_t> trials;        // trials started by this invocation
  std::optional<int64_t> total_trials;  // stop once the study holds this many trials (any state)
  std::optional<double> timeout;        // per trial, seconds
  int workers = 1;
  std::vector<std::string> gpus;
  std::string log_dir;
  double kill_grace = 10.0;
  std::optional<double> heartbeat_interval;
};

// ---- reading the settings

// This machine's name ("localhost" when it has none).
std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "localhost";
  return buf;
}

std::vector<std::string> split_gpus(const std::string& text, const std::string& where) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == ',') {
      while (!cur.empty() && std::isspace(static_cast<unsigned char>(cur.back()))) cur.pop_back();
      size_t b = 0;
      while (b < cur.size() && std::isspace(static_cast<unsigned char>(cur[b]))) ++b;
      cur = cur.substr(b);
      if (cur.empty()) throw ValueError(where + ": empty GPU id in '" + text + "' (expected e.g. 0,1)");
      out.push_back(cur);
      cur.clear();
    } else {
      cur += text[i];
    }
  }
  return out;
}

double positive_number(const json& v, const std::string& key, bool allow_zero) {
  if (!v.is_number()) throw ConfigError("run." + key + ": expected a number, got " + v.dump());
  double d = v.get<double>();
  if (!(allow_zero ? d >= 0 : d > 0))
    throw ConfigError("run." + key + ": must be " + (allow_zero ? ">= 0" : "> 0") + ", got " + v.dump());
  return d;
}

int64_t count_value(const json& v, const std::string& key, int64_t min) {
  if (!v.is_number_integer() || v.get<int64_t>() < min)
    throw ConfigError("run." + key + ": expected an integer >= " + std::to_string(min) + ", got " + v.dump());
  return v.get<int64_t>();
}

void apply_run_section(const json& run, const std::string& source, RunSettings& s) {
  for (const auto& [key, v] : run.items()) {
    if (key == "command") {
      if (v.is_string()) {
        // A string is a shell command line: the user asked for a shell.
        s.command = {"/bin/sh", "-c", v.get<std::string>()};
      } else if (v.is_array() && !v.empty()) {
        s.command.clear();
        for (const auto& a : v) {
          if (a.is_string()) {
            s.command.push_back(a.get<std::string>());
          } else if (a.is_number() || a.is_boolean()) {
            s.command.push_back(a.dump());
          } else {
            throw ConfigError(source + ": run.command: arguments must be strings, got " + a.dump());
          }
        }
      } else {
        throw ConfigError(source + ": run.command: expected a list of arguments or a shell command string");
      }
    } else if (key == "trials") {
      s.trials = count_value(v, key, 0);
    } else if (key == "total_trials") {
      s.total_trials = count_value(v, key, 0);
    } else if (key == "workers") {
      s.workers = static_cast<int>(count_value(v, key, 1));
    } else if (key == "timeout_per_trial") {
      s.timeout = positive_number(v, key, false);
    } else if (key == "gpus") {
      if (v.is_string()) {
        s.gpus = split_gpus(v.get<std::string>(), source + ": run.gpus");
      } else if (v.is_array()) {
        s.gpus.clear();
        for (const auto& g : v) s.gpus.push_back(g.is_string() ? g.get<std::string>() : g.dump());
      } else if (v.is_number_integer()) {
        s.gpus = {v.dump()};
      } else {
        throw ConfigError(source + ": run.gpus: expected a list of GPU ids or \"0,1\"");
      }
    } else if (key == "log_dir") {
      if (!v.is_string()) throw ConfigError(source + ": run.log_dir: expected a path");
      s.log_dir = v.get<std::string>();
    } else if (key == "kill_grace") {
      s.kill_grace = positive_number(v, key, true);
    } else if (key == "heartbeat_interval") {
      s.heartbeat_interval = positive_number(v, key, true);
    } else {
      throw ConfigError(source + ": run: unknown key '" + key +
                        "' (command, trials, total_trials, workers, timeout_per_trial, gpus, log_dir, "
                        "kill_grace, heartbeat_interval)");
    }
  }
}

// ---- per-trial helpers

std::string param_text(const ParamValue& v) {
  if (std::holds_alternative<std::monostate>(v)) return "null";
  if (const auto* b = std::get_if<bool>(&v)) return *b ? "true" : "false";
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return format_double(*d);
  return std::get<std::string>(v);
}

// BBO_PARAM_<NAME>: upper case, every character other than a letter or digit replaced by '_'.
std::string param_env_name(const std::string& name) {
  std::string s = "BBO_PARAM_";
  for (unsigned char c : name) s += std::isalnum(c) ? static_cast<char>(std::toupper(c)) : '_';
  return s;
}

// Replaces each {name} whose name is a parameter; any other brace text is left as it is.
std::string substitute(const std::string& arg, const std::map<std::string, std::string>& values) {
  std::string out;
  size_t i = 0;
  while (i < arg.size()) {
    size_t open = arg.find('{', i);
    if (open == std::string::npos) break;
    size_t close = arg.find('}', open + 1);
    if (close == std::string::npos) break;
    out.append(arg, i, open - i);
    auto it = values.find(arg.substr(open + 1, close - open - 1));
    if (it != values.end()) {
      out += it->second;
      i = close + 1;
    } else {
      out += '{';
      i = open + 1;
    }
  }
  out.append(arg, i, std::string::npos);
  return out;
}

// Names in {braces} that look like placeholders but name no parameter (likely typos).
std::set<std::string> unknown_placeholders(const std::vector<std::string>& argv, const SearchSpace& space) {
  std::set<std::string> out;
  for (const auto& arg : argv) {
    size_t i = 0;
    while ((i = arg.find('{', i)) != std::string::npos) {
      size_t close = arg.find('}', i + 1);
      if (close == std::string::npos) break;
      std::string name = arg.substr(i + 1, close - i - 1);
      bool ident = !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '_' || c == '-' || c == '.';
      });
      if (ident && !space.has(name)) out.insert(name);
      i = close;
    }
  }
  return out;
}

std::string safe_file_name(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += (std::isalnum(c) || c == '.' || c == '-' || c == '_') ? static_cast<char>(c) : '_';
  if (out.empty() || out == "." || out == "..") out = "study";
  return out;
}

std::string hms(double seconds) {
  long s = static_cast<long>(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%02ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}

// Values in progress output: 6 significant digits (the stored values keep full precision).
std::string short_number(double v) {
  if (!std::isfinite(v)) return format_double(v);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string seconds_text(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", s);
  return buf;
}

// ---- the run

struct WakePipe {
  int r = -1, w = -1;
  WakePipe() {
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) throw Error("bbo run: cannot create a pipe");
    r = p[0];
    w = p[1];
  }
  ~WakePipe() {
    close(r);
    close(w);
  }
  // Level-triggered: once signalled it stays readable, so every waiting worker sees it.
  void signal() const { [[maybe_unused]] auto n = write(w, "x", 1); }
};

class Runner {
 public:
  Runner(Study& study, RunSettings settings, SearchSpace space, std::string storage_url)
      : study_(study), s_(std::move(settings)), space_(std::move(space)), storage_url_(std::move(storage_url)) {
    n_objectives_ = study_.directions().size();
    StudyInfo info = study_.storage().get_study(study_.id());
    const json& sys = info.system_attrs;
    has_pruner_ = sys.contains("pruner") && sys["pruner"].is_object() &&
                  !(sys["pruner"].value("name", "none") == "none" || sys["pruner"].value("name", "none") == "nop" ||
                    sys["pruner"].value("name", "none").empty());
    double grace = sys.value("heartbeat_grace_seconds", 0.0);
    heartbeat_interval_ = s_.heartbeat_interval ? *s_.heartbeat_interval : (grace > 0 ? std::min(10.0, grace / 3) : 10.0);
    gpu_load_.assign(s_.gpus.size(), 0);
    // The children's environment: ours, less the variables bbo sets per trial.
    for (char** e = environ; *e != nullptr; ++e) {
      std::string kv = *e;
      std::string key = kv.substr(0, kv.find('='));
      if (key.rfind("BBO_PARAM_", 0) == 0 || key == "BBO_PARAMS_FILE" || key == "BBO_TRIAL_NUMBER" ||
          key == "BBO_STUDY" || key == "BBO_STORAGE")
        continue;
      if (!s_.gpus.empty() && key == "CUDA_VISIBLE_DEVICES") continue;
      base_env_.push_back(std::move(kv));
    }
    // Report lines must arrive as they are printed for the pruner to act in time; Python block-buffers a pipe.
    if (std::getenv("PYTHONUNBUFFERED") == nullptr) base_env_.push_back("PYTHONUNBUFFERED=1");
    tty_ = isatty(STDOUT_FILENO) == 1;
    if (n_objectives_ == 1) {
      if (auto best = best_trials(study_.storage(), info); !best.empty()) {
        best_ = best[0].values[0];
        best_number_ = best[0].number;
      }
    }
  }

  // Runs to the end (or to a signal); returns the exit code.
  int run();

 private:
  enum class Outcome { kComplete, kPruned, kFail };

  void worker(int slot);
  void run_trial(Trial& trial, int slot);
  void heartbeat_loop();
  void finish_trial(Trial& trial, Outcome outcome, const std::vector<double>& values, const std::string& reason,
                    double seconds);
  int acquire_gpu();
  void release_gpu(int g);
  std::string status_text(bool bar);
  void draw(bool final);
  void request_stop(int level, const std::string& reason);

  Study& study_;
  RunSettings s_;
  SearchSpace space_;
  std::string storage_url_;
  std::string worker_prefix_ = host_name() + ":" + std::to_string(getpid()) + "/";  // + slot
  size_t n_objectives_ = 1;
  bool has_pruner_ = false;
  double heartbeat_interval_ = 10.0;
  std::vector<std::string> base_env_;
  bool tty_ = false;

  WakePipe stop_pipe_;  // first signal: stop children, start nothing new
  WakePipe kill_pipe_;  // second signal: no grace period
  std::atomic<int> stop_level_{0};

  std::mutex mu_;  // guards everything below and stdout
  std::string stop_reason_;
  int64_t launched_ = 0;
  int running_ = 0, complete_ = 0, pruned_ = 0, failed_ = 0;
  std::optional<double> best_;
  int64_t best_number_ = -1;
  std::map<int64_t, int64_t> running_ids_;  // trial id -> number
  std::vector<int> gpu_load_;
  size_t gpu_next_ = 0;
  std::exception_ptr error_;
  bool bar_drawn_ = false;
  Clock::time_point start_ = Clock::now();
  std::condition_variable hb_cv_;
  bool done_ = false;
  std::mutex ask_mu_;  // --total-trials: count and ask as one step within this process
  pthread_t main_thread_{};
  std::atomic<int> workers_left_{0};
};


constexpr int kWakeMain = SIGUSR1;  // a worker that ends wakes the main thread's sigtimedwait

int Runner::run() {
  sigset_t sigs, old;
  sigemptyset(&sigs);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, kWakeMain}) sigaddset(&sigs, sig);
  // Blocked in every thread (the workers inherit the mask) and taken by sigtimedwait below, so a signal is a
  // request to stop, handled in order, never an interruption in the middle of a storage write.
  pthread_sigmask(SIG_BLOCK, &sigs, &old);
  main_thread_ = pthread_self();
  start_ = Clock::now();
  workers_left_ = s_.workers;

  std::thread hb([this] { heartbeat_loop(); });
  std::vector<std::thread> workers;
  for (int i = 0; i < s_.workers; ++i) {
    workers.emplace_back([this, i] {
      try {
        worker(i);
      } catch (const std::exception& e) {
        {
          std::lock_guard lk(mu_);
          if (!error_) error_ = std::current_exception();
        }
        request_stop(1, std::string("bbo run stopped by an error: ") + e.what());
      }
      if (--workers_left_ == 0) pthread_kill(main_thread_, kWakeMain);
    });
  }

  int got_signal = 0;
  while (workers_left_ > 0) {
    timespec ts{0, 250'000'000};
    int sig = sigtimedwait(&sigs, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
      if (got_signal == 0) got_signal = sig;
      const char* abbrev = sigabbrev_np(sig);
      std::string name = std::string("SIG") + (abbrev ? abbrev : "?");
      int level = stop_level_.load() + 1;
      {
        std::lock_guard lk(mu_);
        if (bar_drawn_) std::cout << "\r\x1b[K" << std::flush;
        bar_drawn_ = false;
        if (level == 1)
          std::cerr << "bbo run: " << name << ": stopping " << running_
                    << " running trial(s); they are marked FAIL (send it again to kill them at once)" << std::endl;
        else if (level == 2)
          std::cerr << "bbo run: " << name << ": killing the running trials now" << std::endl;
      }
      request_stop(level, "bbo run was interrupted by " + name);
    }
    if (tty_) draw(false);
  }
  for (auto& w : workers) w.join();
  {
    std::lock_guard lk(mu_);
    done_ = true;
  }
  hb_cv_.notify_all();
  hb.join();
  // Take what is still pending before restoring the mask, so a late signal is counted, not fatal.
  timespec zero{0, 0};
  for (int sig; (sig = sigtimedwait(&sigs, nullptr, &zero)) > 0;)
    if (sig != kWakeMain && got_signal == 0) got_signal = sig;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);

  draw(true);
  if (error_) std::rethrow_exception(error_);
  return got_signal ? 128 + got_signal : kExitOk;
}

void Runner::request_stop(int level, const std::string& reason) {
  std::lock_guard lk(mu_);
  int cur = stop_level_.load();
  if (cur < 1 && level >= 1) {
    stop_reason_ = reason;
    stop_level_ = 1;
    stop_pipe_.signal();
  }
  if (cur < 2 && level >= 2) {
    stop_level_ = 2;
    kill_pipe_.signal();
  }
}

void Runner::worker(int slot) {
  for (;;) {
    {
      std::lock_guard lk(mu_);
      if (stop_level_ > 0) return;
      if (s_.trials && launched_ >= *s_.trials) return;
      ++launched_;
    }
    std::optional<Trial> trial;
    {
      std::lock_guard ask_lock(ask_mu_);
      if (s_.total_trials && study_.storage().count_trials(study_.id()) >= *s_.total_trials) {
        std::lock_guard lk(mu_);
        --launched_;
        return;
      }
      trial.emplace(study_.ask());
    }
    // Suggested here rather than through ask(space), so a space that conflicts with the study's earlier
    // trials fails this one trial with the reason before the error stops the run.
    try {
      for (size_t i = 0; i < space_.size(); ++i) trial->suggest(space_.names()[i], space_.distributions()[i]);
    } catch (const ValueError& e) {
      finish_trial(*trial, Outcome::kFail, {}, std::string("cannot suggest the parameters: ") + e.what(), 0.0);
      throw;
    }
    if (stop_level_ > 0) {
      std::string reason;
      {
        std::lock_guard lk(mu_);
        reason = stop_reason_;
      }
      finish_trial(*trial, Outcome::kFail, {}, reason + " before the trial started", 0.0);
      return;
    }
    run_trial(*trial, slot);
  }
}

int Runner::acquire_gpu() {
  std::lock_guard lk(mu_);
  if (gpu_load_.empty()) return -1;
  // The least loaded GPU, round-robin among equals: one GPU per running trial while there are enough.
  size_t n = gpu_load_.size(), best = n;
  for (size_t k = 0; k < n; ++k) {
    size_t g = (gpu_next_ + k) % n;
    if (best == n || gpu_load_[g] < gpu_load_[best]) best = g;
  }
  ++gpu_load_[best];
  gpu_next_ = (best + 1) % n;
  return static_cast<int>(best);
}

void Runner::release_gpu(int g) {
  if (g < 0) return;
  std::lock_guard lk(mu_);
  --gpu_load_[static_cast<size_t>(g)];
}

void Runner::run_trial(Trial& trial, int slot) {
  const int64_t number = trial.number();
  const auto t0 = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - t0).count(); };

  std::map<std::string, std::string> texts;
  json params_json = json::object();
  for (const auto& [k, v] : trial.params()) {
    texts[k] = param_text(v);
    params_json[k] = param_value_to_json(v);
  }
  const std::string stem = s_.log_dir + "/trial_" + std::to_string(number);
  const std::string log_path = stem + ".log", params_path = stem + ".params.json";
  {
    std::ofstream f(params_path, std::ios::trunc);
    f << params_json.dump() << '\n';
    if (!f) {
      finish_trial(trial, Outcome::kFail, {}, "cannot write the parameters file " + params_path, elapsed());
      return;
    }
  }
  int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    finish_trial(trial, Outcome::kFail, {}, "cannot open the log file " + log_path, elapsed());
    return;
  }
  study_.storage().set_trial_system_attr(trial.id(), "log_file", log_path);
  // Which worker ran it (host, process, slot): `bbo plot timeline` and the dashboard draw one row per worker.
  study_.storage().set_trial_system_attr(trial.id(), "worker", worker_prefix_ + std::to_string(slot));

  std::vector<std::string> argv;
  for (const auto& a : s_.command) argv.push_back(substitute(a, texts));
  std::vector<std::string> env = base_env_;
  for (const auto& [k, text] : texts) env.push_back(param_env_name(k) + "=" + text);
  env.push_back("BBO_PARAMS_FILE=" + params_path);
  env.push_back("BBO_TRIAL_NUMBER=" + std::to_string(number));
  env.push_back("BBO_STUDY=" + study_.name());
  env.push_back("BBO_STORAGE=" + storage_url_);
  const int gpu = acquire_gpu();
  if (gpu >= 0) {
    env.push_back("CUDA_VISIBLE_DEVICES=" + s_.gpus[static_cast<size_t>(gpu)]);
    study_.storage().set_trial_system_attr(trial.id(), "cuda_visible_devices", s_.gpus[static_cast<size_t>(gpu)]);
  }
  {
    std::lock_guard lk(mu_);
    ++running_;
    running_ids_[trial.id()] = number;
  }

  Outcome outcome = Outcome::kComplete;
  std::string reason;
  std::optional<std::vector<double>> final_values;
  int status = 0;
  try {
    Child child(argv, env, log_fd);
    const auto deadline = s_.timeout ? Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                          std::chrono::duration<double>(*s_.timeout))
                                     : Clock::time_point::max();
    std::string line;
    int64_t line_no = 0;
    bool stopping = false;
    while (!stopping) {
      switch (child.next(line, deadline, stop_pipe_.r)) {
        case Child::Event::kLine: {
          ++line_no;
          child.write_log(line);
          std::optional<RunReport> report;
          try {
            report = parse_report_line(line);
            if (report && report->values.size() != 1 && report->values.size() != n_objectives_)
              throw ValueError("report line: " + std::to_string(report->values.size()) +
                               " values for a study with " + std::to_string(n_objectives_) + " objective(s)");
          } catch (const ValueError& e) {
            outcome = Outcome::kFail;
            reason = "stdout line " + std::to_string(line_no) + ": " + e.what();
            stopping = true;
            break;
          }
          if (!report) break;
          if (!report->step) {
            final_values = report->values;  // the last final report wins
            break;
          }
          for (size_t i = 0; i < report->values.size(); ++i)
            trial.report(*report->step, report->values[i], static_cast<int>(i));
          if (has_pruner_ && trial.should_prune()) {
            outcome = Outcome::kPruned;
            stopping = true;
          }
          break;
        }
        case Child::Event::kExited:
          stopping = true;
          break;
        case Child::Event::kTimeout:
          outcome = Outcome::kFail;
          reason = "timed out after " + format_double(*s_.timeout) + " s (--timeout-per-trial); the command was stopped";
          stopping = true;
          break;
        case Child::Event::kWake: {
          outcome = Outcome::kFail;
          std::lock_guard lk(mu_);
          reason = stop_reason_ + "; the command was stopped";
          stopping = true;
          break;
        }
      }
    }
    if (!child.exited()) child.terminate(stop_level_ >= 2 ? 0.0 : s_.kill_grace, kill_pipe_.r);
    status = child.wait_status();
    if (outcome == Outcome::kComplete) {
      if (status != 0) {
        outcome = Outcome::kFail;
        reason = "the command " + describe_wait_status(status);
      } else if (!final_values) {
        outcome = Outcome::kFail;
        reason = "the command exited without reporting a final value (print a line 'bbo: {\"value\": V}')";
      } else if (final_values->size() != n_objectives_) {
        outcome = Outcome::kFail;
        reason = "the final report has " + std::to_string(final_values->size()) + " value(s); the study has " +
                 std::to_string(n_objectives_) + " objective(s)";
      }
    }
  } catch (const StorageError&) {
    close(log_fd);
    {
      std::lock_guard lk(mu_);
      --running_;
      running_ids_.erase(trial.id());
    }
    release_gpu(gpu);
    throw;  // the child was killed by ~Child; the run cannot go on without its storage
  } catch (const Error& e) {
    // Could not start the command, or the pruner/report rejected something: this trial fails, the run goes on.
    outcome = Outcome::kFail;
    reason = e.what();
  }
  if (outcome == Outcome::kFail) {
    std::string note = "bbo: trial " + std::to_string(number) + " FAIL: " + reason + "\n";
    [[maybe_unused]] auto n = write(log_fd, note.data(), note.size());
  }
  close(log_fd);
  {
    std::lock_guard lk(mu_);
    --running_;
    running_ids_.erase(trial.id());
  }
  release_gpu(gpu);
  finish_trial(trial, outcome, final_values ? *final_values : std::vector<double>{}, reason, elapsed());
}

void Runner::finish_trial(Trial& trial, Outcome outcome, const std::vector<double>& values,
                          const std::string& reason, double seconds) {
  TrialState state = TrialState::kFail;
  std::string why = reason;
  try {
    if (outcome == Outcome::kComplete) {
      state = study_.tell(trial, values);
      if (state == TrialState::kFail) why = trial.frozen().system_attrs.value("fail_reason", "told FAIL");
    } else if (outcome == Outcome::kPruned) {
      state = study_.tell(trial, TrialState::kPruned);
    } else {
      study_.storage().set_trial_system_attr(trial.id(), "fail_reason", reason);
      state = study_.tell(trial, TrialState::kFail);
    }
  } catch (const TrialStateError& e) {
    // Failed meanwhile by another worker (a stale heartbeat): what it recorded stands.
    state = TrialState::kFail;
    why = std::string("the result could not be recorded: ") + e.what();
  }

  std::lock_guard lk(mu_);
  if (state == TrialState::kComplete) {
    ++complete_;
    if (n_objectives_ == 1 && !values.empty()) {
      bool maximize = study_.directions()[0] == Direction::kMaximize;
      if (!best_ || (maximize ? values[0] > *best_ : values[0] < *best_)) {
        best_ = values[0];
        best_number_ = trial.number();
      }
    }
  } else if (state == TrialState::kPruned) {
    ++pruned_;
  } else {
    ++failed_;
  }
  std::ostringstream line;
  line << "trial " << trial.number() << " " << to_string(state);
  if (state == TrialState::kComplete) {
    line << (values.size() == 1 ? " value " : " values ");
    for (size_t i = 0; i < values.size(); ++i) line << (i ? "," : "") << short_number(values[i]);
  } else if (state == TrialState::kPruned) {
    if (auto last = trial.frozen().last_step()) line << " at step " << last->first;
  } else {
    line << ": " << why;
  }
  line << " (" << seconds_text(seconds) << ")";
  if (tty_) {
    // Above the bar, only what needs attention.
    if (state == TrialState::kFail) {
      std::cout << "\r\x1b[K" << line.str() << '\n';
      bar_drawn_ = false;
    }
    std::cout << "\r\x1b[K" << status_text(true) << std::flush;
    bar_drawn_ = true;
  } else {
    std::cout << line.str() << " | " << status_text(false) << '\n' << std::flush;
  }
}

std::string Runner::status_text(bool bar) {
  const int64_t done = complete_ + pruned_ + failed_;
  std::ostringstream s;
  if (bar && s_.trials && *s_.trials > 0) {
    const int width = 20;
    int filled = static_cast<int>(width * std::min<int64_t>(done, *s_.trials) / *s_.trials);
    s << "[" << std::string(static_cast<size_t>(filled), '#') << std::string(static_cast<size_t>(width - filled), '-')
      << "] ";
  }
  s << "done " << done;
  if (s_.trials) s << "/" << *s_.trials;
  s << ", running " << running_ << ", pruned " << pruned_ << ", failed " << failed_;
  if (best_) s << " | best " << short_number(*best_) << " (trial " << best_number_ << ")";
  s << " | " << hms(std::chrono::duration<double>(Clock::now() - start_).count());
  return s.str();
}

void Runner::draw(bool final) {
  std::lock_guard lk(mu_);
  if (!final) {
    std::cout << "\r\x1b[K" << status_text(true) << std::flush;
    bar_drawn_ = true;
    return;
  }
  if (tty_ && bar_drawn_) std::cout << "\r\x1b[K";
  bar_drawn_ = false;
  const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
  std::cout << "bbo run: " << (complete_ + pruned_ + failed_) << " trial(s) in " << hms(secs) << ": " << complete_
            << " complete, " << pruned_ << " pruned, " << failed_ << " failed";
  if (stop_level_ > 0) std::cout << " (" << stop_reason_ << ")";
  if (best_) std::cout << "; best value " << format_double(*best_) << " (trial " << best_number_ << ")";
  std::cout << '\n' << std::flush;
}

void Runner::heartbeat_loop() {
  std::unique_lock lk(mu_);
  while (!done_) {
    if (heartbeat_interval_ <= 0) {
      hb_cv_.wait(lk, [&] { return done_; });
      break;
    }
    if (hb_cv_.wait_for(lk, std::chrono::duration<double>(heartbeat_interval_), [&] { return done_; })) break;
    std::vector<int64_t> ids;
    for (const auto& [id, number] : running_ids_) ids.push_back(id);
    lk.unlock();
    for (int64_t id : ids) {
      try {
        study_.storage().heartbeat(id);
      } catch (const std::exception&) {
        // Finished meanwhile, or failed as stale by another worker: its own worker finds out at tell.
      }
    }
    lk.lock();
  }
}

// ---- the command

std::string file_storage_of(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  json raw = yaml_to_json(text.str(), path);
  if (raw.is_object() && raw.contains("storage") && raw["storage"].is_string()) return raw["storage"].get<std::string>();
  return "";
}

int run_command(const RunOptions& o) {
  // Everything is read and checked before the storage is opened: a rejected command writes nothing.
  RunSettings s;
  StudyConfig cfg;
  const bool have_cfg = !o.config.empty();
  std::string file_storage;
  if (have_cfg) {
    cfg = load_study_config(o.config);
    file_storage = file_storage_of(o.config);
    apply_run_section(cfg.run, o.config, s);
  }
  const CommandTail& tail = command_tail();
  if (tail.given) {
    if (tail.argv.empty()) throw UsageError("no command after '--'");
    s.command = tail.argv;
  }
  if (s.command.empty())
    throw UsageError("no command to run: give it after '--' (bbo run [options] -- COMMAND ARGS...) or as "
                     "run: command: in the --config file");

  if (o.trials_opt->count() > 0) {
    if (o.trials < 0) throw ValueError("--trials: must be >= 0, got " + std::to_string(o.trials));
    s.trials = o.trials;
  }
  if (o.total_trials_opt->count() > 0) {
    if (o.total_trials < 0) throw ValueError("--total-trials: must be >= 0, got " + std::to_string(o.total_trials));
    s.total_trials = o.total_trials;
  }
  if (!s.trials && !s.total_trials)
    throw UsageError("--trials N is required (or --total-trials N, or run: trials: in the --config file)");
  if (o.timeout_opt->count() > 0) {
    if (!(o.timeout_per_trial > 0))
      throw ValueError("--timeout-per-trial: must be > 0 seconds, got " + format_double(o.timeout_per_trial));
    s.timeout = o.timeout_per_trial;
  }
  if (o.gpus_opt->count() > 0) s.gpus = split_gpus(o.gpus, "--gpus");
  if (o.workers_opt->count() > 0) {
    if (o.workers < 1) throw ValueError("--workers: must be >= 1, got " + std::to_string(o.workers));
    s.workers = o.workers;
  } else if (!s.gpus.empty() && !(have_cfg && cfg.run.contains("workers"))) {
    s.workers = static_cast<int>(s.gpus.size());  // one trial per GPU unless told otherwise
  }
  if (o.kill_grace_opt->count() > 0) {
    if (!(o.kill_grace >= 0)) throw ValueError("--kill-grace: must be >= 0 seconds");
    s.kill_grace = o.kill_grace;
  }
  if (o.heartbeat_opt->count() > 0) {
    if (!(o.heartbeat_interval >= 0)) throw ValueError("--heartbeat-interval: must be >= 0 seconds");
    s.heartbeat_interval = o.heartbeat_interval;
  }
  const std::string name = !o.study.empty() ? o.study : cfg.options.name;
  if (name.empty()) throw UsageError("--study NAME is required (or name: in the --config file)");
  if (o.log_dir_opt->count() > 0) s.log_dir = o.log_dir;
  if (s.log_dir.empty()) s.log_dir = "bbo_logs/" + safe_file_name(name);

  const std::string& program = s.command[0];
  if (program.find('{') == std::string::npos) {
    const char* path = std::getenv("PATH");
    if (find_executable(program, path ? path : "/bin:/usr/bin").empty())
      throw NotFoundError("command '" + program + "' not found" +
                          (program.find('/') == std::string::npos ? " in PATH" : " or not executable"));
  }

  const std::string url = o.storage.resolve(file_storage);
  if (have_cfg) {
    // Constructing the plugins checks their names and parameters, as create-study does.
    auto& registry = PluginRegistry::global();
    registry.make_strategy(cfg.options.strategy, cfg.options.strategy_params);
    if (!cfg.options.pruner.empty() && cfg.options.pruner != "none")
      registry.make_pruner(cfg.options.pruner, cfg.options.pruner_params);
  }

  std::shared_ptr<Storage> storage = open_storage(url);
  std::optional<Study> study;
  SearchSpace space;
  if (storage->find_study(name)) {
    study.emplace(Study::load(name, storage));
    space = have_cfg && !cfg.options.search_space.empty() ? cfg.options.search_space : study->search_space();
    const SearchSpace& declared = study->search_space();
    for (const auto& p : space.names())
      if (declared.has(p) && !(declared.at(p) == space.at(p)))
        throw ConfigError(o.config + ": search_space." + p +
                          ": differs from the distribution study '" + name + "' declares for it");
    if (space.empty())
      throw ConfigError("study '" + name + "' declares no search space; give one with --config study.yaml "
                        "(bbo run cannot use define-by-run)");
  } else {
    if (!have_cfg)
      throw NotFoundError("study '" + name + "' not found in " + url + " (pass --config study.yaml to create it)");
    space = cfg.options.search_space;
    if (space.empty())
      throw ConfigError(o.config + ": no search_space (bbo run needs the parameters to suggest)");
  }
  for (const auto& p : unknown_placeholders(s.command, space))
    std::cerr << "bbo run: warning: {" << p << "} in the command names no parameter; it is passed as it is\n";

  std::error_code ec;
  fs::create_directories(s.log_dir, ec);
  if (ec) throw Error("--log-dir: cannot create '" + s.log_dir + "': " + ec.message());
  s.log_dir = fs::absolute(s.log_dir).lexically_normal().string();
  if (!s.log_dir.empty() && s.log_dir.back() == '/') s.log_dir.pop_back();

  if (!study) {
    StudyOptions options = cfg.options;
    options.name = name;
    options.storage = url;
    options.load_if_exists = true;  // another `bbo run` may have created it meanwhile
    study.emplace(Study::create(options, storage));
  }
  // The budget, for strategies that plan by it (`auto`): this run's trials, or the study's total.
  const int64_t budget = s.total_trials ? *s.total_trials
                                        : storage->count_trials(study->id()) + s.trials.value_or(0);
  storage->set_study_system_attr(study->id(), "budget", {{"n_trials", budget}, {"workers", s.workers}});
  Runner runner(*study, std::move(s), std::move(space), url);
  return runner.run();
}

}  // namespace

void take_run_command(std::vector<std::string>& args) {
  if (args.empty() || args[0] != "run") return;
  auto it = std::find(args.begin(), args.end(), std::string("--"));
  if (it == args.end()) return;
  CommandTail& tail = command_tail();
  tail.given = true;
  tail.argv.assign(it + 1, args.end());
  args.erase(it, args.end());
}

Command register_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand(
      "run", "Optimize an external command: bbo run --study NAME [options] -- COMMAND ARGS... ({name} in ARGS "
             "is replaced by the parameter's value; see docs/cli.md)");
  add_storage_option(cmd, o->storage);
  cmd->add_option("--config", o->config,
                  "YAML study file: search space, strategy, pruner and run: settings; creates the study when "
                  "it does not exist")
      ->check(CLI::ExistingFile);
  cmd->add_option("--study", o->study, "Study name (default: name: in the --config file)");
  o->trials_opt = cmd->add_option("--trials", o->trials, "Number of trials this invocation runs");
  o->total_trials_opt = cmd->add_option(
      "--total-trials", o->total_trials, "Stop starting trials once the study holds this many (any state)");
  o->timeout_opt = cmd->add_option("--timeout-per-trial", o->timeout_per_trial,
                                   "Seconds a trial may run before it is stopped and marked FAIL");
  o->workers_opt = cmd->add_option("--workers", o->workers,
                                   "Trials run in parallel (default: 1, or the number of --gpus)");
  o->gpus_opt = cmd->add_option("--gpus", o->gpus,
                                "Comma-separated GPU ids, one per running trial through CUDA_VISIBLE_DEVICES");
  o->log_dir_opt = cmd->add_option("--log-dir", o->log_dir,
                                   "Directory of the per-trial logs and parameter files (default: bbo_logs/STUDY)");
  o->kill_grace_opt = cmd->add_option("--kill-grace", o->kill_grace,
                                      "Seconds between SIGTERM and SIGKILL when a trial is stopped (default: 10)");
  o->heartbeat_opt = cmd->add_option(
      "--heartbeat-interval", o->heartbeat_interval,
      "Seconds between heartbeats of running trials (default: 10, or a third of the study's grace period)");
  return {cmd, [o] { return run_command(*o); }};
}

}  // namespace bbo::cli

// multihost_test — two groups of worker processes on "different hosts" share one PostgreSQL study to its end.
//
// Each group runs in its own network namespace, joined to this one by a veth pair, the way two machines on a
// LAN reach a database server: its workers see no loopback of ours and reach the server only over the veth
// link, through the address of our end (198.18.0.0/15, the range reserved for network tests). The fixture's
// throwaway server listens on 127.0.0.1 only, so this test forwards a port on those addresses to it (a plain
// TCP relay, like a port forward on the database host); the relay records where each connection came from,
// which proves that every group's traffic crossed its own link. Namespaces need root and `ip` (iproute2);
// without them, or when creating them fails, the groups are plain processes connecting over TCP on loopback
// (the message says which). The test skips only when no PostgreSQL server is reachable.
//
// The study has a budget of kBudget trials; each worker (bbo_multihost_worker) asks and tells until it is
// handed a trial numbered kBudget or more, which it tells FAIL. Checks: every worker succeeds; the study holds
// exactly kBudget + workers trials numbered 0..kBudget+workers-1 (no duplicate, no gap), COMPLETE below the
// budget and FAIL above it; every told (number, value) pair is stored exactly, each number told once; both
// groups did work; and, since the random strategy draws a trial's parameters from (seed, number) alone, the
// stored values and the best trial equal those of a single-process in-memory run with the same seed.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "bbo/storage.h"
#include "bbo/study.h"
#include "tests/storage/postgres/multihost_objective.h"

namespace fs = std::filesystem;

namespace {

constexpr int kGroups = 2;
constexpr int kWorkersPerGroup = 4;
constexpr int64_t kBudget = 160;
constexpr uint64_t kSeed = 20261124;
constexpr auto kDeadline = std::chrono::seconds(150);

// Runs a shell command quietly; true when it exits 0.
bool sh(const std::string& cmd, std::string* error = nullptr) {
  std::string full = cmd + " 2>&1";
  std::FILE* p = popen(full.c_str(), "r");
  if (!p) return false;
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  int status = pclose(p);
  bool ok = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!ok && error) *error = cmd + ": " + (out.empty() ? "failed" : out.substr(0, out.find('\n')));
  return ok;
}

// host and port of the fixture's URL, postgresql://user@HOST:PORT/db.
bool host_port(const std::string& url, std::string& host, int& port) {
  size_t at = url.find('@');
  size_t start = at == std::string::npos ? url.find("://") + 3 : at + 1;
  size_t colon = url.find(':', start);
  size_t slash = url.find('/', start);
  if (colon == std::string::npos || slash == std::string::npos || colon > slash) return false;
  host = url.substr(start, colon - start);
  port = std::atoi(url.substr(colon + 1, slash - colon - 1).c_str());
  return port > 0;
}

std::string with_host_port(const std::string& url, const std::string& host, int port) {
  size_t at = url.find('@');
  size_t start = at == std::string::npos ? url.find("://") + 3 : at + 1;
  size_t slash = url.find('/', start);
  return url.substr(0, start) + host + ":" + std::to_string(port) + url.substr(slash);
}

// A TCP port forward: accepts on 0.0.0.0:<ephemeral> and copies bytes both ways to 127.0.0.1:`target`, one
// thread per connection. Records each client's address.
class Relay {
 public:
  explicit Relay(int target) : target_(target) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_fd_, 64) != 0)
      throw std::runtime_error("relay: cannot listen");
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    if (::pipe2(stop_, O_CLOEXEC) != 0) throw std::runtime_error("relay: pipe");
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~Relay() {
    char c = 1;
    (void)!::write(stop_[1], &c, 1);
    acceptor_.join();
    for (auto& t : pumps_) t.join();
    ::close(listen_fd_);
    ::close(stop_[0]);
    ::close(stop_[1]);
  }
  int port() const { return port_; }
  std::map<std::string, int> clients() {
    std::lock_guard<std::mutex> l(mu_);
    return clients_;
  }

 private:
  void accept_loop() {
    for (;;) {
      pollfd p[2] = {{listen_fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) continue;
      if (p[1].revents) return;
      sockaddr_in from{};
      socklen_t len = sizeof from;
      int c = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&from), &len, SOCK_CLOEXEC);
      if (c < 0) continue;
      char ip[INET_ADDRSTRLEN] = {};
      ::inet_ntop(AF_INET, &from.sin_addr, ip, sizeof ip);
      {
        std::lock_guard<std::mutex> l(mu_);
        ++clients_[ip];
      }
      int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      to.sin_port = htons(static_cast<uint16_t>(target_));
      if (::connect(s, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
        ::close(s);
        ::close(c);
        continue;
      }
      pumps_.emplace_back([this, c, s] { pump(c, s); });
    }
  }
  // Copies both ways until either side closes (or the relay stops), then closes both.
  void pump(int a, int b) {
    char buf[65536];
    for (;;) {
      pollfd p[3] = {{a, POLLIN, 0}, {b, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (::poll(p, 3, -1) < 0) continue;
      if (p[2].revents) break;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (!p[i].revents) continue;
        int from = i == 0 ? a : b, to = i == 0 ? b : a;
        ssize_t n = ::read(from, buf, sizeof buf);
        if (n <= 0) {
          done = true;
          break;
        }
        for (ssize_t off = 0; off < n;) {
          ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
          if (w <= 0) {
            done = true;
            break;
          }
          off += w;
        }
      }
      if (done) break;
    }
    ::close(a);
    ::close(b);
  }

  int target_;
  int port_ = 0;
  int listen_fd_ = -1;
  int stop_[2] = {-1, -1};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;  // touched by the acceptor thread only, joined after it ends
  std::mutex mu_;
  std::map<std::string, int> clients_;
};

// Network namespaces "<prefix>g<G>", each with a veth link to this namespace: our end A.B.C.(4G+1)/30, theirs
// .(4G+2). Removed (with their links) on destruction.
class Namespaces {
 public:
  // Empty `error` after construction: usable.
  Namespaces() {
    const unsigned pid = static_cast<unsigned>(::getpid());
    if (::geteuid() != 0) {
      error = "not running as root";
      return;
    }
    for (int g = 0; g < kGroups; ++g) {
      // Slot of this (pid, group) in 198.18.0.0/15: 32768 /30 subnets.
      const unsigned slot = (pid * kGroups + static_cast<unsigned>(g)) % 32768u;
      const unsigned base = (198u << 24) | (18u << 16) | (slot * 4u);
      auto ip = [](unsigned v) {
        return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 255) + "." +
               std::to_string((v >> 8) & 255) + "." + std::to_string(v & 255);
      };
      Group grp;
      grp.ns = "bbomh" + std::to_string(pid) + "g" + std::to_string(g);
      grp.outer_if = "bmh" + std::to_string(pid % 100000) + "r" + std::to_string(g);
      grp.inner_if = "bmh" + std::to_string(pid % 100000) + "n" + std::to_string(g);
      grp.outer_ip = ip(base + 1);
      grp.inner_ip = ip(base + 2);
      if (!sh("ip netns add " + grp.ns, &error)) return;
      groups.push_back(grp);
      const std::string n = "ip -n " + grp.ns + " ";
      if (!sh("ip link add " + grp.outer_if + " type veth peer name " + grp.inner_if + " netns " + grp.ns, &error) ||
          !sh("ip addr add " + grp.outer_ip + "/30 dev " + grp.outer_if, &error) ||
          !sh("ip link set " + grp.outer_if + " up", &error) ||
          !sh(n + "addr add " + grp.inner_ip + "/30 dev " + grp.inner_if, &error) ||
          !sh(n + "link set " + grp.inner_if + " up", &error) || !sh(n + "link set lo up", &error))
        return;
    }
  }
  ~Namespaces() {
    for (const auto& g : groups) {
      sh("ip link del " + g.outer_if);
      sh("ip netns del " + g.ns);
    }
  }
  struct Group {
    std::string ns, outer_if, inner_if, outer_ip, inner_ip;
  };
  std::vector<Group> groups;
  std::string error;
};

// Forks and execs `argv`, first entering the network namespace at `netns_path` when it is not empty.
pid_t spawn_in(const std::string& netns_path, const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    if (!netns_path.empty()) {
      int fd = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
        std::perror("setns");
        ::_exit(3);
      }
      ::close(fd);
    }
    ::execv(args[0], args.data());
    std::perror("execv");
    ::_exit(3);
  }
  return pid;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Multihost, TwoGroupsFinishOnePostgresStudy) {
  const char* env_url = std::getenv("BBO_TEST_POSTGRES_URL");
  if (!env_url || !*env_url) {
    GTEST_SKIP() << "PostgreSQL tests skipped: BBO_TEST_POSTGRES_URL is not set (ctest sets it with the "
                    "bbo_postgres fixture when the PostgreSQL server binaries are installed)";
  }
  const std::string url = env_url;
  std::shared_ptr<bbo::Storage> storage;
  try {
    storage = bbo::open_storage(url);
  } catch (const std::exception& e) {
    GTEST_SKIP() << "PostgreSQL tests skipped: no server reachable at " << url << ": " << e.what();
  }
  std::string host;
  int pg_port = 0;
  ASSERT_TRUE(host_port(url, host, pg_port)) << "cannot read host:port from " << url;

  const std::string study_name = "multihost_" + std::to_string(::getpid());
  {
    bbo::StudyOptions o;
    o.name = study_name;
    o.strategy = "random";
    o.seed = kSeed;
    bbo::Study::create(o, storage);
  }

  // The groups' view of the server: through their namespace's link, or plain TCP on loopback.
  auto ns = std::make_unique<Namespaces>();
  std::unique_ptr<Relay> relay;
  std::vector<std::string> group_url(kGroups), group_netns(kGroups);
  if (ns->error.empty() && (host == "127.0.0.1" || host == "localhost")) {
    relay = std::make_unique<Relay>(pg_port);
    for (int g = 0; g < kGroups; ++g) {
      group_url[g] = with_host_port(url, ns->groups[g].outer_ip, relay->port());
      group_netns[g] = "/run/netns/" + ns->groups[g].ns;
    }
    std::printf("multihost: %d groups in network namespaces, reaching the server over veth links at", kGroups);
    for (int g = 0; g < kGroups; ++g) std::printf(" %s", ns->groups[g].outer_ip.c_str());
    std::printf(" (port %d, forwarded to 127.0.0.1:%d)\n", relay->port(), pg_port);
  } else {
    const std::string why = ns->error.empty() ? "the server is not on this host's loopback" : ns->error;
    ns.reset();
    for (int g = 0; g < kGroups; ++g) group_url[g] = url;
    std::printf("multihost: network namespaces unavailable (%s); the %d groups connect over TCP to %s:%d\n",
                why.c_str(), kGroups, host.c_str(), pg_port);
  }

  const fs::path dir = fs::temp_directory_path() / ("bbo_multihost_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  struct Worker {
    pid_t pid;
    int group;
    fs::path journal;
    int status = -1;
  };
  std::vector<Worker> workers;
  const auto t0 = std::chrono::steady_clock::now();
  for (int g = 0; g < kGroups; ++g) {
    for (int w = 0; w < kWorkersPerGroup; ++w) {
      fs::path journal = dir / ("g" + std::to_string(g) + "_w" + std::to_string(w) + ".txt");
      pid_t pid = spawn_in(group_netns[g], {BBO_MULTIHOST_WORKER, group_url[g], study_name,
                                            std::to_string(kBudget), journal.string()});
      ASSERT_GT(pid, 0);
      workers.push_back({pid, g, journal});
    }
  }
  // Start barrier (multihost_worker.cc): once every worker has loaded the study (or died), let them all go.
  for (auto& w : workers) {
    const fs::path ready = w.journal.string() + ".ready";
    while (!fs::exists(ready) && std::chrono::steady_clock::now() - t0 < kDeadline) {
      int st = 0;
      if (::waitpid(w.pid, &st, WNOHANG) == w.pid) {
        w.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  std::ofstream(dir / "go").put('1');
  // Wait for all of them, killing everything left at the deadline.
  size_t running = 0;
  for (const auto& w : workers) running += w.status == -1 ? 1 : 0;
  while (running > 0) {
    for (auto& w : workers) {
      if (w.status != -1) continue;
      int st = 0;
      if (::waitpid(w.pid, &st, WNOHANG) == w.pid) {
        w.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        --running;
      }
    }
    if (running > 0 && std::chrono::steady_clock::now() - t0 > kDeadline) {
      for (auto& w : workers) {
        if (w.status == -1) {
          ::kill(w.pid, SIGKILL);
          ::waitpid(w.pid, nullptr, 0);
          w.status = 128 + SIGKILL;
        }
      }
      ADD_FAILURE() << "workers still running after " << kDeadline.count() << " s; killed";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (const auto& w : workers) EXPECT_EQ(w.status, 0) << "worker " << w.pid << " of group " << w.group;

  // Every told trial, from the journals.
  std::map<int64_t, double> told;
  std::vector<int> told_per_group(kGroups, 0);
  int64_t told_twice = 0;
  for (const auto& w : workers) {
    std::istringstream in(read_file(w.journal));
    long long number;
    double value;
    while (in >> number >> value) {
      if (!told.emplace(number, value).second) ++told_twice;
      ++told_per_group[w.group];
    }
  }
  EXPECT_EQ(told_twice, 0) << "trial numbers told by two workers";
  for (int g = 0; g < kGroups; ++g) EXPECT_GT(told_per_group[g], 0) << "group " << g << " told no trial";

  // What the study holds.
  const auto info = storage->find_study(study_name);
  ASSERT_TRUE(info.has_value());
  const auto trials = storage->get_trials(info->id);
  const int64_t n_workers = kGroups * kWorkersPerGroup;
  EXPECT_EQ(static_cast<int64_t>(trials.size()), kBudget + n_workers);
  std::set<int64_t> numbers;
  int64_t complete = 0, failed = 0, missing_told = 0, wrong_value = 0;
  for (const auto& t : trials) {
    numbers.insert(t.number);
    if (t.number < kBudget) {
      EXPECT_EQ(t.state, bbo::TrialState::kComplete) << "trial " << t.number;
      if (t.state == bbo::TrialState::kComplete) ++complete;
      auto it = told.find(t.number);
      if (it == told.end()) {
        ++missing_told;
      } else if (t.values.size() != 1 || t.values[0] != it->second) {
        ++wrong_value;
      }
    } else {
      EXPECT_EQ(t.state, bbo::TrialState::kFail) << "trial " << t.number << " is beyond the budget";
      if (t.state == bbo::TrialState::kFail) ++failed;
    }
  }
  EXPECT_EQ(static_cast<int64_t>(numbers.size()), static_cast<int64_t>(trials.size())) << "duplicate numbers";
  EXPECT_EQ(numbers.empty() ? -1 : *numbers.rbegin(), kBudget + n_workers - 1) << "gaps in the numbering";
  EXPECT_EQ(static_cast<int64_t>(told.size()), kBudget) << "told trials";
  EXPECT_EQ(missing_told, 0) << "COMPLETE trials no worker reported telling";
  EXPECT_EQ(wrong_value, 0) << "stored values that differ from the told ones";
  for (const auto& [number, value] : told) EXPECT_LT(number, kBudget) << "told a trial beyond the budget";

  // Reference: the same study run in one process in memory. Parameters depend on (seed, number) only, so
  // each number's value, and the best trial, must be the same.
  bbo::StudyOptions ro;
  ro.name = "reference";
  ro.strategy = "random";
  ro.seed = kSeed;
  bbo::Study reference = bbo::Study::create(ro);
  std::map<int64_t, double> expected;
  for (int64_t i = 0; i < kBudget; ++i) {
    bbo::Trial t = reference.ask();
    const double v = bbo::testing::multihost_objective(t);
    reference.tell(t, v);
    expected[t.number()] = v;
  }
  int64_t differs = 0;
  for (const auto& [number, value] : told) {
    if (expected.count(number) && expected[number] != value) ++differs;
  }
  EXPECT_EQ(differs, 0) << "values that differ from the single-process reference with the same seed";
  const bbo::FrozenTrial ref_best = reference.best_trial();
  bbo::Study shared = bbo::Study::load(study_name, storage);
  const bbo::FrozenTrial best = shared.best_trial();
  EXPECT_EQ(best.number, ref_best.number);
  ASSERT_EQ(best.values.size(), 1u);
  EXPECT_EQ(best.values[0], ref_best.values[0]);

  // In namespaces, every connection came from a group's own address (so crossed that group's link).
  if (relay) {
    const auto clients = relay->clients();
    std::set<std::string> allowed;
    for (const auto& g : ns->groups) allowed.insert(g.inner_ip);
    for (const auto& [ip, n] : clients) EXPECT_TRUE(allowed.count(ip)) << "connection from unexpected " << ip;
    for (const auto& g : ns->groups) EXPECT_TRUE(clients.count(g.inner_ip)) << "no connection from " << g.inner_ip;
    std::printf("multihost: connections per group address:");
    for (const auto& [ip, n] : clients) std::printf(" %s=%d", ip.c_str(), n);
    std::printf("\n");
  }
  std::printf("multihost: %lld trials (%lld COMPLETE, %lld FAIL beyond the budget) by %lld workers in %.2f s; "
              "told per group:",
              static_cast<long long>(trials.size()), static_cast<long long>(complete),
              static_cast<long long>(failed), static_cast<long long>(n_workers), seconds);
  for (int g = 0; g < kGroups; ++g) std::printf(" %d", told_per_group[g]);
  std::printf("; best #%lld = %.6g\n", static_cast<long long>(best.number), best.values[0]);

  storage->delete_study(info->id);
  if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace

// `bbo dashboard` end to end over HTTP: the built binary is started with --port 0 on a temporary SQLite
// study written through the storage API, and its API is checked with a minimal HTTP client: paging, sorting
// and filtering against a brute-force order computed here from the stored trials, trial details with the
// `bbo run` log tail (and its safety rules), the read-only default (403), writes with --allow-write, error
// statuses for bad requests, ETag revalidation, bad command lines, a clean stop on SIGTERM/SIGINT, and a
// 100k-trial study served quickly.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include "bbo/error.h"
#include "bbo/storage.h"
#include "tests/cli/child_harness.h"

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  json j() const { return json::parse(body); }
};

// Sends one raw request (Connection: close) and reads the whole answer.
HttpResult http_raw(int port, const std::string& request) {
  HttpResult r;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    ADD_FAILURE() << "cannot connect to port " << port;
    return r;
  }
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = write(fd, request.data() + sent, request.size() - sent);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  std::string data;
  char buf[65536];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) data.append(buf, static_cast<size_t>(n));
  close(fd);
  size_t head_end = data.find("\r\n\r\n");
  if (data.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) {
    ADD_FAILURE() << "not an HTTP answer: " << data.substr(0, 200);
    return r;
  }
  r.status = std::stoi(data.substr(9, 3));
  std::string head = data.substr(0, head_end);
  for (size_t pos = head.find("\r\n"); pos != std::string::npos;) {
    size_t next = head.find("\r\n", pos + 2);
    std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    if (size_t colon = line.find(':'); colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    pos = next;
  }
  r.body = data.substr(head_end + 4);
  return r;
}

HttpResult http(int port, const std::string& method, const std::string& target, const std::string& body = "",
                const std::string& extra_headers = "") {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra_headers;
  if (!body.empty() || method == "POST") req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return http_raw(port, req + "\r\n" + body);
}

HttpResult post_json(int port, const std::string& target, const json& body) {
  return http(port, "POST", target, body.dump(), "Content-Type: application/json\r\n");
}

// ---- the study the tests serve

const std::vector<std::string> kActs = {"relu", "tanh", "gelu"};

bbo::SearchSpace space() {
  bbo::SearchSpace s;
  s.add("x", bbo::FloatDistribution{-5.0, 5.0, false, std::nullopt});
  s.add("k", bbo::IntDistribution{1, 10});
  s.add("act", bbo::CategoricalDistribution{{std::string("relu"), std::string("tanh"), std::string("gelu")}});
  return s;
}

// A study of n trials in every state, with ties, ±inf values, a parameter some trials lack and times, written
// directly through the storage (no plugin is involved). Deterministic.
int64_t make_study(bbo::Storage& storage, const std::string& name, int n, int n_objectives = 1) {
  bbo::SearchSpace sp = space();
  std::vector<bbo::Direction> dirs(static_cast<size_t>(n_objectives), bbo::Direction::kMinimize);
  if (n_objectives > 1) dirs[1] = bbo::Direction::kMaximize;
  int64_t id = storage.create_study(
      name, dirs, {{"strategy", {{"name", "random"}, {"params", json::object()}}},
                   {"seed", 1},
                   {"search_space", sp.to_ordered_json()},
                   {"strategy_choice", {{"strategy", "tpe"}, {"params", json::object()}, {"reason", "test"}}}});
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(0, 1);
  const int64_t t0 = 1'700'000'000'000'000;
  for (int i = 0; i < n; ++i) {
    bbo::FrozenTrial t;
    const int r = i % 20;
    t.state = r == 3 ? bbo::TrialState::kPruned
              : r == 7 ? bbo::TrialState::kFail
              : r == 11 ? bbo::TrialState::kRunning
              : r == 13 ? bbo::TrialState::kWaiting
                        : bbo::TrialState::kComplete;
    if (t.state != bbo::TrialState::kWaiting) {
      t.params["x"] = std::round((u(rng) * 10 - 5) * 100) / 100;  // two decimals: ties happen
      t.distributions["x"] = sp.at("x");
      if (i % 9 != 0) {  // "k" missing on some trials
        t.params["k"] = static_cast<double>(1 + static_cast<int>(u(rng) * 10));
        t.distributions["k"] = sp.at("k");
      }
      t.params["act"] = static_cast<double>(static_cast<int>(u(rng) * 3));
      t.distributions["act"] = sp.at("act");
      t.datetime_start_us = t0 + int64_t{i} * 1'000'000;
    }
    if (bbo::is_finished(t.state)) t.datetime_complete_us = *t.datetime_start_us + 1000 + (i * 7919) % 500'000;
    if (t.state == bbo::TrialState::kComplete) {
      for (int k = 0; k < n_objectives; ++k)
        t.values.push_back(i % 50 == 1 ? INFINITY : std::round(u(rng) * 50) / 10.0);  // ties and +inf
    }
    if (i % 5 == 0 && t.state != bbo::TrialState::kWaiting)
      for (int s = 0; s < 3; ++s) t.intermediate_values[{s, 0}] = 10.0 - s - i * 0.01;
    storage.create_trial(id, &t);
  }
  return id;
}

// The documented order, computed independently: missing keys last, numbers before strings, ties by number.
std::vector<int64_t> brute_force(const std::vector<bbo::FrozenTrial>& trials, const std::string& sort,
                                 bool desc, const std::set<bbo::TrialState>& states, const std::string& filter) {
  struct Row {
    int64_t number;
    std::optional<std::pair<int, std::pair<double, std::string>>> key;  // (0 number | 1 string, value)
  };
  std::vector<Row> rows;
  for (const bbo::FrozenTrial& t : trials) {
    if (!states.empty() && states.count(t.state) == 0) continue;
    if (!filter.empty()) {
      std::string text = "#" + std::to_string(t.number) + " " + bbo::to_string(t.state);
      for (const auto& [name, v] : t.external_params()) text += " " + name + "=" + bbo::param_value_to_string(v);
      std::transform(text.begin(), text.end(), text.begin(), ::tolower);
      if (text.find(filter) == std::string::npos) continue;
    }
    Row row{t.number, std::nullopt};
    if (sort == "number") {
      row.key = {{0, {static_cast<double>(t.number), ""}}};
    } else if (sort == "state") {
      row.key = {{1, {0, bbo::to_string(t.state)}}};
    } else if (sort == "value") {
      if (t.state == bbo::TrialState::kComplete) row.key = {{0, {t.values[0], ""}}};
    } else if (sort == "duration") {
      if (t.datetime_start_us && t.datetime_complete_us)
        row.key = {{0, {static_cast<double>(*t.datetime_complete_us - *t.datetime_start_us) / 1e6, ""}}};
    } else {
      const std::string name = sort.substr(6);
      if (t.params.count(name)) {
        bbo::ParamValue v = bbo::to_external(t.distributions.at(name), t.params.at(name));
        if (auto* s = std::get_if<std::string>(&v)) row.key = {{1, {0, *s}}};
        else if (auto* d = std::get_if<double>(&v)) row.key = {{0, {*d, ""}}};
        else row.key = {{0, {static_cast<double>(std::get<int64_t>(v)), ""}}};
      }
    }
    rows.push_back(row);
  }
  std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
    if (a.key.has_value() != b.key.has_value()) return a.key.has_value();
    if (a.key && *a.key != *b.key) return desc ? *a.key > *b.key : *a.key < *b.key;
    return a.number < b.number;
  });
  std::vector<int64_t> out;
  for (const Row& r : rows) out.push_back(r.number);
  return out;
}

class DashboardTest : public bbo::testing::TempDirTest {
 protected:
  void TearDown() override {
    stop(SIGTERM);
    bbo::testing::TempDirTest::TearDown();
  }

  // Starts `bbo dashboard --port 0` with `extra` arguments; returns false (with a failure) when it does not
  // print its URL within 10 s.
  bool start(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {BBO_CLI_BINARY, "dashboard", "--storage", url_, "--port", "0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    out_ = dir_ / "dashboard.out";
    err_ = dir_ / "dashboard.err";
    pid_ = bbo::testing::spawn_captured(argv, nullptr, {}, out_, err_);
    auto until = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < until) {
      std::string out = bbo::testing::read_text_file(out_);
      if (size_t nl = out.find('\n'); nl != std::string::npos) {
        std::string url = out.substr(0, nl);
        EXPECT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << url;
        port_ = std::stoi(url.substr(url.rfind(':') + 1));
        EXPECT_EQ(url.back(), '/');
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ADD_FAILURE() << "no URL; stderr: " << bbo::testing::read_text_file(err_);
    return false;
  }

  // Stops the server with `sig`; returns its exit code (-1 when none ran).
  int stop(int sig) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    bbo::testing::ChildResult r = bbo::testing::wait_captured(pid_, out_, err_);
    pid_ = -1;
    return r.code;
  }

  std::unique_ptr<bbo::Storage> storage() { return bbo::open_storage(url_); }

  pid_t pid_ = -1;
  int port_ = 0;
  fs::path out_, err_;
};

TEST_F(DashboardTest, ServesThePageAndListsStudies) {
  make_study(*storage(), "alpha", 10);
  make_study(*storage(), "beta", 3, 2);
  ASSERT_TRUE(start());
  HttpResult page = http(port_, "GET", "/");
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("<title>bbo dashboard</title>"), std::string::npos);
  EXPECT_EQ(http(port_, "GET", "/app.js").status, 200);
  EXPECT_EQ(http(port_, "GET", "/app.css").headers["content-type"], "text/css; charset=utf-8");
  EXPECT_EQ(http(port_, "GET", "/nothing.html").status, 404);

  json studies = http(port_, "GET", "/api/studies").j();
  EXPECT_EQ(studies["allow_write"], false);
  ASSERT_EQ(studies["studies"].size(), 2u);
  EXPECT_EQ(studies["studies"][0]["name"], "alpha");
  EXPECT_EQ(studies["studies"][0]["n_trials"], 10);
  EXPECT_EQ(studies["studies"][1]["directions"], json({"minimize", "maximize"}));

  json s = http(port_, "GET", "/api/studies/1").j();
  EXPECT_EQ(s["name"], "alpha");
  EXPECT_EQ(s["strategy"]["name"], "random");
  EXPECT_EQ(s["strategy_choice"]["strategy"], "tpe");
  EXPECT_EQ(s["counts"]["COMPLETE"], 8);  // trials 3 and 7 are PRUNED and FAIL; 0..9 has no RUNNING/WAITING
  EXPECT_EQ(s["counts"]["PRUNED"], 1);
  EXPECT_EQ(s["param_names"], json({"act", "k", "x"}));
  // The best trial: the lowest value among COMPLETE trials, brute force.
  auto trials = storage()->get_trials(1, {bbo::TrialState::kComplete});
  auto best = std::min_element(trials.begin(), trials.end(),
                               [](const auto& a, const auto& b) { return a.values[0] < b.values[0]; });
  EXPECT_EQ(s["best"][0]["number"], best->number);
  EXPECT_EQ(stop(SIGINT), 0) << "SIGINT stops the server cleanly";
}

TEST_F(DashboardTest, PagingSortingAndFilteringMatchBruteForce) {
  make_study(*storage(), "s", 240);
  ASSERT_TRUE(start());
  std::vector<bbo::FrozenTrial> all = storage()->get_trials(1);
  for (std::string sort : {"number", "value", "state", "duration", "param:x", "param:k", "param:act"})
    for (bool desc : {false, true})
      for (std::string states : {"", "COMPLETE,pruned"})
        for (std::string filter : {"", "act=relu", "RUNNING"}) {
          std::set<bbo::TrialState> st;
          if (!states.empty()) st = {bbo::TrialState::kComplete, bbo::TrialState::kPruned};
          std::string low = filter;
          std::transform(low.begin(), low.end(), low.begin(), ::tolower);
          std::vector<int64_t> expected = brute_force(all, sort, desc, st, low);
          std::vector<int64_t> got;
          const int limit = 37;
          for (int offset = 0;; offset += limit) {
            std::string target = "/api/studies/1/trials?offset=" + std::to_string(offset) +
                                 "&limit=" + std::to_string(limit) + "&sort=" + sort +
                                 "&order=" + (desc ? "desc" : "asc") + "&state=" + states + "&filter=" + filter;
            HttpResult r = http(port_, "GET", target);
            ASSERT_EQ(r.status, 200) << target << ": " << r.body;
            json page = r.j();
            EXPECT_EQ(page["total"], 240);
            EXPECT_EQ(page["matched"], expected.size()) << target;
            for (const json& t : page["trials"]) got.push_back(t["number"].get<int64_t>());
            if (page["trials"].size() < static_cast<size_t>(limit)) break;
          }
          EXPECT_EQ(got, expected) << "sort=" << sort << " desc=" << desc << " states=" << states
                                   << " filter=" << filter;
        }
  // A row carries the trial's values and external params.
  json row = http(port_, "GET", "/api/studies/1/trials?offset=1&limit=1").j()["trials"][0];
  EXPECT_EQ(row["number"], 1);  // the default order: by number, ascending
}

TEST_F(DashboardTest, RowsCarryTheStoredRecord) {
  make_study(*storage(), "s", 60);
  ASSERT_TRUE(start());
  json page = http(port_, "GET", "/api/studies/1/trials?offset=50&limit=5").j();
  ASSERT_EQ(page["trials"].size(), 5u);
  auto store = storage();
  for (const json& row : page["trials"]) {
    bbo::FrozenTrial t = store->get_trial_by_number(1, row["number"].get<int64_t>());
    EXPECT_EQ(row["state"], bbo::to_string(t.state));
    EXPECT_EQ(row["params"], bbo::params_to_json(t));
    if (t.state == bbo::TrialState::kComplete) {
      ASSERT_TRUE(row["values"].is_array());
      if (std::isinf(t.values[0])) EXPECT_EQ(row["values"][0], "inf");
      else EXPECT_DOUBLE_EQ(row["values"][0].get<double>(), t.values[0]);
    } else {
      EXPECT_TRUE(row["values"].is_null());
    }
  }
  EXPECT_EQ(page["trials"][0]["number"], 50);
}

TEST_F(DashboardTest, TrialDetailServesTheLogTailSafely) {
  auto store = storage();
  make_study(*store, "s", 12);
  fs::create_directories(dir_ / "logs");
  std::string log;
  for (int i = 0; i < 400; ++i) log += "line " + std::to_string(i) + "\n";
  std::ofstream(dir_ / "logs" / "trial_11.log") << log;  // trial 11 is RUNNING (i % 20 == 11)
  bbo::FrozenTrial t11 = store->get_trial_by_number(1, 11);
  store->set_trial_system_attr(t11.id, "log_file", (dir_ / "logs" / "trial_11.log").string());
  store->set_trial_intermediate_value(t11.id, 4, 0, 0.5);
  // Trial 2 (COMPLETE) cannot be written; make a new RUNNING trial point at a file bbo did not write.
  bbo::FrozenTrial evil = store->create_trial(1);
  store->set_trial_system_attr(evil.id, "log_file", "/etc/passwd");
  bbo::FrozenTrial link = store->create_trial(1);
  fs::create_symlink("/etc/passwd", dir_ / "logs" / ("trial_" + std::to_string(link.number) + ".log"));
  store->set_trial_system_attr(link.id, "log_file",
                               (dir_ / "logs" / ("trial_" + std::to_string(link.number) + ".log")).string());
  ASSERT_TRUE(start());

  json d = http(port_, "GET", "/api/studies/1/trials/11").j();
  EXPECT_EQ(d["number"], 11);
  EXPECT_EQ(d["state"], "RUNNING");
  EXPECT_EQ(d["params"], bbo::params_to_json(store->get_trial_by_number(1, 11)));
  EXPECT_EQ(d["curves"]["0"].back(), json({4, 0.5}));
  EXPECT_EQ(d["log"]["text"], log);
  EXPECT_EQ(d["log"]["truncated"], false);

  json tail = http(port_, "GET", "/api/studies/1/trials/11?log_bytes=100").j();
  EXPECT_EQ(tail["log"]["text"], log.substr(log.size() - 100));
  EXPECT_EQ(tail["log"]["truncated"], true);
  EXPECT_EQ(tail["log"]["size"], log.size());
  EXPECT_EQ(http(port_, "GET", "/api/studies/1/trials/11?log_bytes=99999999").status, 400);

  for (int64_t n : {evil.number, link.number}) {
    json e = http(port_, "GET", "/api/studies/1/trials/" + std::to_string(n)).j();
    EXPECT_TRUE(e["log"].contains("error")) << e["log"];
    EXPECT_FALSE(e["log"].contains("text")) << "trial " << n << " must not serve " << e["log"]["path"];
  }
  EXPECT_TRUE(http(port_, "GET", "/api/studies/1/trials/0").j()["log"].is_null());
}

TEST_F(DashboardTest, ReadOnlyByDefault) {
  make_study(*storage(), "s", 20);
  ASSERT_TRUE(start());
  HttpResult r = post_json(port_, "/api/studies/1/enqueue", {{"params", {{"x", 1.0}}}});
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.j()["error"].get<std::string>().find("--allow-write"), std::string::npos);
  EXPECT_EQ(post_json(port_, "/api/studies/1/trials/11/stop", json::object()).status, 403);
  EXPECT_EQ(storage()->count_trials(1), 20);
  EXPECT_EQ(storage()->get_trial_by_number(1, 11).state, bbo::TrialState::kRunning);
}

TEST_F(DashboardTest, AllowWriteEnqueuesAndStops) {
  make_study(*storage(), "s", 20);
  ASSERT_TRUE(start({"--allow-write"}));
  EXPECT_EQ(http(port_, "GET", "/api/studies").j()["allow_write"], true);

  HttpResult r = post_json(port_, "/api/studies/1/enqueue", {{"params", {{"x", 1.5}, {"act", "gelu"}}}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.j()["number"], 20);
  bbo::FrozenTrial w = storage()->get_trial_by_number(1, 20);
  EXPECT_EQ(w.state, bbo::TrialState::kWaiting);
  EXPECT_EQ(w.system_attrs["fixed_params"], json({{"x", 1.5}, {"act", "gelu"}}));
  // Seen by the next listing (the cache refreshes).
  EXPECT_EQ(http(port_, "GET", "/api/studies/1/trials?state=WAITING").j()["matched"], 2);

  for (const json& bad : {json{{"params", {{"x", 7.0}}}}, json{{"params", {{"act", "elu"}}}},
                          json{{"params", {{"nope", 1}}}}, json{{"params", json::object()}}, json::array(),
                          json{{"params", {{"k", 2.5}}}}}) {
    HttpResult b = post_json(port_, "/api/studies/1/enqueue", bad);
    EXPECT_EQ(b.status, 400) << bad << " -> " << b.body;
  }
  EXPECT_EQ(http(port_, "POST", "/api/studies/1/enqueue", "{not json", "Content-Type: application/json\r\n").status,
            400);
  EXPECT_EQ(http(port_, "POST", "/api/studies/1/enqueue", R"({"params":{"x":1}})",
                 "Content-Type: application/x-www-form-urlencoded\r\n").status,
            415);
  EXPECT_EQ(storage()->count_trials(1), 21) << "rejected requests write nothing";

  // Stop: RUNNING trial 11 → FAIL with a reason; again → 409; a COMPLETE trial → 409.
  HttpResult s = post_json(port_, "/api/studies/1/trials/11/stop", json::object());
  ASSERT_EQ(s.status, 200) << s.body;
  bbo::FrozenTrial t = storage()->get_trial_by_number(1, 11);
  EXPECT_EQ(t.state, bbo::TrialState::kFail);
  EXPECT_EQ(t.system_attrs["fail_reason"], "stopped from the dashboard");
  EXPECT_EQ(post_json(port_, "/api/studies/1/trials/11/stop", json::object()).status, 409);
  EXPECT_EQ(post_json(port_, "/api/studies/1/trials/0/stop", json::object()).status, 409);
  EXPECT_EQ(post_json(port_, "/api/studies/1/trials/99/stop", json::object()).status, 404);
  // PRUNED keeps the last intermediate value as the value (single objective, as Study::tell does).
  bbo::FrozenTrial running = storage()->create_trial(1);
  storage()->set_trial_intermediate_value(running.id, 3, 0, 0.25);
  EXPECT_EQ(post_json(port_, "/api/studies/1/trials/" + std::to_string(running.number) + "/stop",
                      {{"state", "PRUNED"}}).status, 200);
  bbo::FrozenTrial p = storage()->get_trial_by_number(1, running.number);
  EXPECT_EQ(p.state, bbo::TrialState::kPruned);
  EXPECT_EQ(p.values, std::vector<double>{0.25});
  bbo::FrozenTrial other = storage()->create_trial(1);
  EXPECT_EQ(post_json(port_, "/api/studies/1/trials/" + std::to_string(other.number) + "/stop",
                      {{"state", "COMPLETE"}}).status, 400);
}

TEST_F(DashboardTest, BadRequestsGetJsonErrors) {
  make_study(*storage(), "s", 5);
  ASSERT_TRUE(start());
  const std::vector<std::pair<std::string, int>> cases = {
      {"/api/studies/99", 404},
      {"/api/studies/abc", 404},
      {"/api/studies/1/trials/77", 404},
      {"/api/studies/1/trials/x", 404},
      {"/api/nothing", 404},
      {"/api/studies/1/somewhere", 404},
      {"/api/studies/1/trials?sort=bogus", 400},
      {"/api/studies/1/trials?sort=value:1", 400},  // one objective
      {"/api/studies/1/trials?sort=param:", 400},
      {"/api/studies/1/trials?order=up", 400},
      {"/api/studies/1/trials?state=DONE", 400},
      {"/api/studies/1/trials?limit=abc", 400},
      {"/api/studies/1/trials?limit=100000", 400},
      {"/api/studies/1/trials?offset=-1", 400},
      {"/api/studies/1/plot/nope", 404},
  };
  for (const auto& [target, status] : cases) {
    HttpResult r = http(port_, "GET", target);
    EXPECT_EQ(r.status, status) << target << ": " << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/json") << target;
    EXPECT_TRUE(r.j()["error"].is_string()) << target;
  }
  EXPECT_EQ(http(port_, "DELETE", "/api/studies/1").status, 405);
  EXPECT_EQ(http(port_, "POST", "/").status, 405);
  // Garbage instead of HTTP: 400, and the server keeps serving.
  EXPECT_EQ(http_raw(port_, "NOT HTTP AT ALL\r\n\r\n").status, 400);
  EXPECT_EQ(http(port_, "GET", "/api/studies").status, 200);
  // An offset past the end is an empty page, not an error.
  json empty = http(port_, "GET", "/api/studies/1/trials?offset=100").j();
  EXPECT_EQ(empty["trials"].size(), 0u);
  EXPECT_EQ(empty["matched"], 5);
}

TEST_F(DashboardTest, EtagRevalidatesUntilTheStudyChanges) {
  make_study(*storage(), "s", 30);
  ASSERT_TRUE(start());
  const std::string target = "/api/studies/1/trials?sort=value&limit=10";
  HttpResult first = http(port_, "GET", target);
  ASSERT_EQ(first.status, 200);
  const std::string etag = first.headers["etag"];
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(first.headers["cache-control"], "no-cache");
  HttpResult again = http(port_, "GET", target, "", "If-None-Match: " + etag + "\r\n");
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  // Another query, or a change to the study, gives a new answer.
  EXPECT_EQ(http(port_, "GET", target + "&offset=1", "", "If-None-Match: " + etag + "\r\n").status, 200);
  storage()->create_trial(1);
  HttpResult changed = http(port_, "GET", target, "", "If-None-Match: " + etag + "\r\n");
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(changed.j()["total"], 31);
}

TEST_F(DashboardTest, PlotsAreSvg) {
  make_study(*storage(), "s", 40);
  make_study(*storage(), "mo", 40, 2);
  ASSERT_TRUE(start());
  json kinds = http(port_, "GET", "/api/studies").j()["plot_kinds"];
  if (kinds.empty()) GTEST_SKIP() << "built without cli/viz";
  for (const json& kind : kinds) {
    const std::string k = kind.get<std::string>();
    HttpResult r = http(port_, "GET", "/api/studies/" + std::string(k == "pareto" ? "2" : "1") + "/plot/" + k);
    EXPECT_EQ(r.status, 200) << k << ": " << r.body.substr(0, 300);
    EXPECT_EQ(r.headers["content-type"], "image/svg+xml") << k;
    EXPECT_NE(r.body.find("<svg"), std::string::npos) << k;
  }
  HttpResult slice = http(port_, "GET", "/api/studies/1/plot/slice?params=x,act");
  EXPECT_EQ(slice.status, 200) << slice.body.substr(0, 300);
  // What the plot library rejects is a 400 with its message.
  HttpResult bad = http(port_, "GET", "/api/studies/1/plot/pareto");
  EXPECT_EQ(bad.status, 400);
  EXPECT_TRUE(bad.j()["error"].is_string());
  EXPECT_EQ(http(port_, "GET", "/api/studies/1/plot/slice?params=nope").status, 400);
}

TEST_F(DashboardTest, BadCommandLines) {
  auto run = [&](const std::vector<std::string>& args) {
    std::vector<std::string> argv = {BBO_CLI_BINARY, "dashboard"};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_t pid = bbo::testing::spawn_captured(
        argv, [](const std::string& kv) { return kv.rfind("BBO_STORAGE=", 0) == 0; }, {}, dir_ / "o", dir_ / "e");
    return bbo::testing::wait_captured(pid, dir_ / "o", dir_ / "e");
  };
  auto r = run({"--storage", url_, "--port", "70000"});
  EXPECT_EQ(r.code, bbo::kExitUsage) << r.err;
  r = run({"--port", "0"});
  EXPECT_EQ(r.code, bbo::kExitUsage) << r.err;  // no storage
  r = run({"--storage", url_, "--port", "0", "--host", "localhost-ish"});
  EXPECT_EQ(r.code, bbo::kExitConfig) << r.err;
  EXPECT_NE(r.err.find("--host"), std::string::npos);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run({"--storage", "nosuch://x", "--port", "0"});
  EXPECT_EQ(r.code, bbo::kExitConfig) << r.err;
  // A port in use.
  ASSERT_TRUE(start());
  r = run({"--storage", url_, "--port", std::to_string(port_)});
  EXPECT_EQ(r.code, bbo::kExitError) << r.err;
  EXPECT_NE(r.err.find("cannot listen"), std::string::npos) << r.err;
  EXPECT_EQ(stop(SIGTERM), 0);
}

// Writing 100k trials through the storage API takes ~20 s (one transaction each), so the big study is one
// trial written by the storage, copied 99,999 times in a single SQL transaction with varied values, params
// and times (only the SQLite column names are assumed; every encoded field is the storage's own).
void replicate_trial_zero(const fs::path& db_path, int64_t study_id, int n) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  const std::string id = std::to_string(study_id), last = std::to_string(n - 1);
  const std::string sql =
      "BEGIN IMMEDIATE;"
      "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < " + last + ") "
      "INSERT INTO trials (study_id, number, state, objective_values, constraint_values, user_attrs, "
      "  system_attrs, datetime_start, datetime_complete, heartbeat, version) "
      "SELECT t.study_id, seq.i, t.state, '[' || (((seq.i * 7919) % 100003) / 100003.0) || ']', "
      "  t.constraint_values, t.user_attrs, t.system_attrs, t.datetime_start + seq.i * 1000, "
      "  t.datetime_complete + seq.i * 1000 + seq.i % 977, t.heartbeat, t.version + seq.i "
      "FROM seq, trials t WHERE t.study_id = " + id + " AND t.number = 0;"
      "INSERT INTO trial_params (trial_id, name, internal, distribution) "
      "SELECT c.id, p.name, CASE p.name WHEN 'x' THEN ((c.number * 104729) % 10007) / 1000.7 - 5 "
      "  ELSE c.number % 3 END, p.distribution "
      "FROM trials c, trials t JOIN trial_params p ON p.trial_id = t.id "
      "WHERE c.study_id = " + id + " AND c.number > 0 AND t.study_id = " + id + " AND t.number = 0;"
      "UPDATE studies SET n_trials = " + std::to_string(n) +
      ", trials_version = (SELECT MAX(version) FROM trials WHERE study_id = " + id + ") WHERE id = " + id + ";"
      "COMMIT;";
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

TEST_F(DashboardTest, HundredThousandTrialsPageFast) {
  const int n = 100'000;
  {
    auto store = storage();
    bbo::SearchSpace sp = space();
    int64_t id = store->create_study("big", {bbo::Direction::kMinimize}, {{"search_space", sp.to_ordered_json()}});
    bbo::FrozenTrial t;
    t.state = bbo::TrialState::kComplete;
    t.params = {{"x", 0.5}, {"act", 0.0}};
    t.distributions = {{"x", sp.at("x")}, {"act", sp.at("act")}};
    t.values = {0.25};
    t.datetime_start_us = 1'700'000'000'000'000;
    t.datetime_complete_us = *t.datetime_start_us + 500;
    store->create_trial(id, &t);
    replicate_trial_zero(dir_ / "study.db", id, n);
    ASSERT_EQ(store->count_trials(id), n);
    bbo::FrozenTrial copy = store->get_trial_by_number(id, 4);
    ASSERT_EQ(copy.params.size(), 2u);
    ASSERT_EQ(copy.param("act"), bbo::ParamValue(std::string("tanh")));  // 4 % 3 == 1
  }
  ASSERT_TRUE(start());
  auto timed = [&](const std::string& target) {
    auto t0 = Clock::now();
    HttpResult r = http(port_, "GET", target);
    EXPECT_EQ(r.status, 200) << r.body.substr(0, 200);
    return std::pair{std::chrono::duration<double>(Clock::now() - t0).count(), r};
  };
  auto [first, r0] = timed("/api/studies/1/trials?limit=50");  // loads the cache
  EXPECT_EQ(r0.j()["total"], n);
  auto [sorted, r1] = timed("/api/studies/1/trials?limit=50&sort=value&order=desc");
  auto [filtered, r2] = timed("/api/studies/1/trials?limit=50&sort=param:x&filter=act=tanh");
  EXPECT_EQ(r2.j()["matched"], n / 3);
  auto [paged, r3] = timed("/api/studies/1/trials?limit=50&offset=30000&sort=param:x&filter=act=tanh");
  EXPECT_EQ(r3.j()["trials"].size(), 50u);
  std::printf("100k trials: first page %.3f s (cache load), sorted %.3f s, filtered+sorted %.3f s, "
              "next page %.3f s\n", first, sorted, filtered, paged);
  // Measured ~0.05 s, ~0.05 s and ~1 ms on an idle machine; the bounds leave room for a loaded CI.
  EXPECT_LT(sorted, 2.0);
  EXPECT_LT(filtered, 2.0);
  EXPECT_LT(paged, 0.5);
  // Sorted by value descending: the first row has the largest value.
  // The copies' values are (7919 i mod 100003) / 100003: the largest is 100002 / 100003.
  double top = r1.j()["trials"][0]["values"][0].get<double>();
  double second = r1.j()["trials"][1]["values"][0].get<double>();
  EXPECT_NEAR(top, 100002.0 / 100003, 1e-12);
  EXPECT_GT(top, second);
}

}  // namespace

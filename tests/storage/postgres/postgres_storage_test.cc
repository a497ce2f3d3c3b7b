// The PostgreSQL backend against a real server: the storage conformance suite plus multi-process numbering
// and claiming, schema versioning and connection loss.
//
// The server URL comes from BBO_TEST_POSTGRES_URL (ctest sets it and starts a throwaway cluster through the
// postgres_cluster fixture, see pg_cluster.sh). Every storage gets a fresh database on that server. When no
// server is reachable, every test skips with a message saying why.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/storage/child_process.h"
#include "tests/storage/multiprocess_checks.h"
#include "bbo/error.h"
#include "bbo/storage.h"
#include "storage/postgres/postgres_storage.h"
#include "storage_conformance.h"

namespace {

std::string base_url() {
  const char* u = std::getenv("BBO_TEST_POSTGRES_URL");
  return u ? u : "";
}

// Why the server cannot be used, or "" when it can.
std::string unavailable_reason() {
  static const std::string reason = [] {
    std::string url = base_url();
    if (url.empty()) {
      return std::string("BBO_TEST_POSTGRES_URL is not set (ctest sets it and starts a throwaway server through "
                         "the postgres_cluster fixture; it needs the PostgreSQL server: apt-get install "
                         "postgresql)");
    }
    PGconn* c = PQconnectdb(url.c_str());
    std::string r;
    if (PQstatus(c) != CONNECTION_OK) {
      r = "no PostgreSQL server reachable at " + url + ": " + PQerrorMessage(c);
    }
    PQfinish(c);
    return r;
  }();
  return reason;
}

// Runs SQL on the database at `url` and returns the first column of the first row ("<none>" without rows).
std::string query_one(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  EXPECT_EQ(PQstatus(c), CONNECTION_OK) << PQerrorMessage(c);
  PGresult* r = PQexec(c, sql.c_str());
  std::string out;
  if (PQresultStatus(r) == PGRES_TUPLES_OK) {
    out = PQntuples(r) > 0 ? (PQgetisnull(r, 0, 0) ? "<null>" : PQgetvalue(r, 0, 0)) : "<none>";
  } else if (PQresultStatus(r) == PGRES_COMMAND_OK) {
    out = "<ok>";
  } else {
    out = std::string("<error: ") + PQresultErrorMessage(r) + ">";
  }
  PQclear(r);
  PQfinish(c);
  return out;
}

// The URL of database `db` on the test server.
std::string url_for_database(const std::string& db) {
  std::string base = base_url();
  std::string query;
  if (auto q = base.find('?'); q != std::string::npos) {
    query = base.substr(q);
    base = base.substr(0, q);
  }
  size_t slash = base.find('/', base.find("://") + 3);
  return (slash == std::string::npos ? base : base.substr(0, slash)) + "/" + db + query;
}

// Creates an empty database and returns its URL. The databases are dropped when the test binary ends.
std::vector<std::string>& created_databases() {
  static std::vector<std::string> dbs;
  return dbs;
}

std::string fresh_url() {
  static std::atomic<int> counter{0};
  static std::mutex mu;
  std::string db = "bbo_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  std::string out = query_one(base_url(), "CREATE DATABASE " + db);
  if (out != "<ok>") throw std::runtime_error("cannot create test database " + db + ": " + out);
  std::lock_guard lock(mu);
  created_databases().push_back(db);
  return url_for_database(db);
}

class PostgresEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (std::string why = unavailable_reason(); !why.empty()) GTEST_SKIP() << "PostgreSQL tests skipped: " << why;
  }
  void TearDown() override {
    if (!unavailable_reason().empty()) return;
    for (const std::string& db : created_databases()) query_one(base_url(), "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
  }
};

const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new PostgresEnvironment);

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const bbo::StorageError& e) {
    return std::string("StorageError: ") + e.what();
  } catch (const std::exception& e) {
    return std::string("other: ") + e.what();
  }
  return "no error";
}

using bbo::testing::spawn;
using bbo::testing::wait_exit_code;

const bbo::FloatDistribution kUnit{0.0, 1.0, false, std::nullopt};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Postgres, StorageConformanceTest,
                         ::testing::Values(bbo::conformance::StorageFactory([] {
                           return bbo::open_storage(fresh_url());
                         })));

TEST(PostgresStorage, BothSchemesOpenTheSameDatabaseAndDataPersists) {
  std::string url = fresh_url();
  int64_t study_id = 0;
  bbo::FrozenTrial finished;
  {
    auto s = bbo::open_storage(url);
    EXPECT_EQ(s->url(), url);
    study_id = s->create_study("persist", {bbo::Direction::kMaximize}, {{"seed", 3}});
    auto t = s->create_trial(study_id);
    s->set_trial_param(t.id, "x", 0.5, kUnit);
    s->set_trial_intermediate_value(t.id, 2, 0, -std::numeric_limits<double>::infinity());
    s->finish_trial(t.id, bbo::TrialState::kComplete, {std::nan("")}, {0.5});
    ASSERT_TRUE(s->compare_and_swap_plugin_state(study_id, "p", 0, std::string("st\0ate", 6)));
    finished = s->get_trial(t.id);
  }
  ASSERT_EQ(url.rfind("postgresql://", 0), 0u);
  auto s = bbo::open_storage("postgres://" + url.substr(std::string("postgresql://").size()));
  auto info = s->find_study("persist");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->id, study_id);
  EXPECT_EQ(info->system_attrs["seed"], 3);
  EXPECT_TRUE(bbo::conformance::same_trial(finished, s->get_trial(finished.id)));
  EXPECT_EQ(s->get_plugin_state(study_id, "p").blob, std::string("st\0ate", 6));
  EXPECT_EQ(s->create_trial(study_id).number, 1);
}

TEST(PostgresStorage, SchemaVersionIsOneAndNewerSchemasAreRefused) {
  std::string url = fresh_url();
  {
    auto s = bbo::open_storage(url);
    auto* pg = dynamic_cast<bbo::PostgresStorage*>(s.get());
    ASSERT_NE(pg, nullptr);
    EXPECT_EQ(pg->schema_version(), 1);
  }
  bbo::open_storage(url);  // reopening adds no second version row
  EXPECT_EQ(query_one(url, "SELECT COUNT(*) FROM schema_version"), "1");
  EXPECT_EQ(query_one(url, "UPDATE schema_version SET version = 99"), "<ok>");
  std::string err = error_of([&] { bbo::open_storage(url); });
  EXPECT_NE(err.find("StorageError"), std::string::npos) << err;
  EXPECT_NE(err.find("99"), std::string::npos) << err;
  EXPECT_NE(err.find(url), std::string::npos) << err;
}

TEST(PostgresStorage, NonFiniteDoublesAreStoredNatively) {
  std::string url = fresh_url();
  auto s = bbo::open_storage(url);
  int64_t id = s->create_study("s", {bbo::Direction::kMinimize}, {});
  auto t = s->create_trial(id);
  s->set_trial_param(t.id, "x", std::numeric_limits<double>::infinity(), kUnit);
  s->set_trial_intermediate_value(t.id, 0, 0, std::nan(""));
  s->set_trial_intermediate_value(t.id, 1, 0, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(query_one(url, "SELECT internal::text FROM trial_params"), "Infinity");
  EXPECT_EQ(query_one(url, "SELECT value::text FROM trial_intermediate WHERE step = 0"), "NaN");
  EXPECT_EQ(query_one(url, "SELECT value::text FROM trial_intermediate WHERE step = 1"), "-Infinity");
}

TEST(PostgresStorage, UnreachableServerIsAStorageErrorThatHidesThePassword) {
  std::string url = "postgresql://bbo:secret@127.0.0.1:1/postgres?connect_timeout=5";
  std::string err = error_of([&] { bbo::open_storage(url); });
  EXPECT_EQ(err.rfind("StorageError", 0), 0u) << err;
  EXPECT_NE(err.find("postgresql://bbo:***@127.0.0.1:1/postgres"), std::string::npos) << err;
  EXPECT_EQ(err.find("secret"), std::string::npos) << err;
}

TEST(PostgresStorage, ReconnectsAndRetriesAfterTheServerDropsTheConnection) {
  std::string url = fresh_url();
  auto s = bbo::open_storage(url);
  auto* pg = dynamic_cast<bbo::PostgresStorage*>(s.get());
  ASSERT_NE(pg, nullptr);
  int64_t id = s->create_study("s", {bbo::Direction::kMinimize}, {});
  auto t0 = s->create_trial(id);
  std::string db = url.substr(url.rfind('/') + 1);
  // Terminates the storage's server process and waits until it is gone (as after a server restart).
  auto kill_backend = [&] {
    std::string where = "FROM pg_stat_activity WHERE datname = '" + db + "' AND pid <> pg_backend_pid()";
    std::string killed = query_one(base_url(), "SELECT COUNT(pg_terminate_backend(pid)) " + where);
    for (int i = 0; i < 500 && query_one(base_url(), "SELECT COUNT(*) " + where) != "0"; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return killed;
  };
  ASSERT_EQ(kill_backend(), "1");
  // A read on the dead connection: reconnected.
  EXPECT_EQ(s->get_trial(t0.id).number, 0);
  EXPECT_EQ(pg->reconnects(), 1);
  ASSERT_EQ(kill_backend(), "1");
  // A write that is not idempotent (one autocommit statement): the dead connection is noticed before anything
  // is sent, so reconnecting is safe and exactly one trial is created.
  EXPECT_EQ(s->create_trial(id).number, 1);
  EXPECT_EQ(pg->reconnects(), 2);
  ASSERT_EQ(kill_backend(), "1");
  // A multi-statement write (a template with params).
  bbo::FrozenTrial tmpl;
  tmpl.state = bbo::TrialState::kWaiting;
  tmpl.params["x"] = 0.5;
  tmpl.distributions["x"] = kUnit;
  EXPECT_EQ(s->create_trial(id, &tmpl).number, 2);
  EXPECT_EQ(pg->reconnects(), 3);
  s->finish_trial(t0.id, bbo::TrialState::kComplete, {1.0}, {});
  EXPECT_EQ(s->count_trials(id), 3);
  EXPECT_EQ(query_one(url, "SELECT COUNT(*) FROM trials"), "3");
}

TEST(PostgresStorage, LosingTheServerIsAStorageErrorNamingTheUrl) {
  // A throwaway server of our own would be needed to stop the real one; instead the storage's connection is
  // cut on every attempt by a role that cannot log in again.
  std::string url = fresh_url();
  std::string db = url.substr(url.rfind('/') + 1);
  std::string user = "bbo_lost_" + std::to_string(getpid());
  ASSERT_EQ(query_one(base_url(), "CREATE ROLE " + user + " LOGIN"), "<ok>");
  ASSERT_EQ(query_one(base_url(), "GRANT ALL ON DATABASE " + db + " TO " + user), "<ok>");
  ASSERT_EQ(query_one(url, "GRANT ALL ON SCHEMA public TO " + user), "<ok>");
  std::string user_url = url;
  user_url.replace(user_url.find("://") + 3, user_url.find('@') - user_url.find("://") - 3, user);
  auto s = bbo::open_storage(user_url);
  int64_t id = s->create_study("s", {bbo::Direction::kMinimize}, {});
  ASSERT_EQ(query_one(base_url(), "ALTER ROLE " + user + " NOLOGIN"), "<ok>");
  std::string where = "FROM pg_stat_activity WHERE usename = '" + user + "'";
  query_one(base_url(), "SELECT pg_terminate_backend(pid) " + where);
  for (int i = 0; i < 500 && query_one(base_url(), "SELECT COUNT(*) " + where) != "0"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string err = error_of([&] { s->count_trials(id); });
  EXPECT_EQ(err.rfind("StorageError", 0), 0u) << err;
  EXPECT_NE(err.find(user_url), std::string::npos) << err;
  // Once the server accepts the role again, the same object works again.
  ASSERT_EQ(query_one(base_url(), "ALTER ROLE " + user + " LOGIN"), "<ok>");
  EXPECT_EQ(s->count_trials(id), 0);
  s.reset();
  query_one(base_url(), "SELECT pg_terminate_backend(pid) " + where);
  for (int i = 0; i < 500 && query_one(base_url(), "SELECT COUNT(*) " + where) != "0"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  query_one(url, "DROP OWNED BY " + user);
  query_one(base_url(), "DROP OWNED BY " + user);
  EXPECT_EQ(query_one(base_url(), "DROP ROLE " + user), "<ok>");
}

TEST(PostgresStorage, ProcessesOpeningAFreshDatabaseAtOnceCreateTheSchemaOnce) {
  std::string url = fresh_url();
  std::vector<pid_t> children;
  for (int p = 0; p < 4; ++p) {
    children.push_back(spawn([&] { bbo::open_storage(url)->list_studies(); }));
  }
  for (pid_t c : children) EXPECT_EQ(wait_exit_code(c), 0);
  EXPECT_EQ(query_one(url, "SELECT COUNT(*) FROM schema_version"), "1");
}

TEST(PostgresStorage, ProcessesNumberTrialsWithoutGapsOrDuplicates) {
  bbo::testing::expect_processes_number_trials_without_gaps(fresh_url(), 4, 40);
}

TEST(PostgresStorage, ProcessesClaimEachWaitingTrialOnce) {
  bbo::testing::expect_processes_claim_each_waiting_trial_once(fresh_url(), 40);
}

TEST(PostgresStorage, ProcessesFailEachStaleTrialOnce) {
  std::string url = fresh_url();
  int64_t study_id = 0;
  constexpr int kStale = 30;
  {
    auto s = bbo::open_storage(url);
    study_id = s->create_study("stale", {bbo::Direction::kMinimize}, {});
    bbo::FrozenTrial old;
    old.state = bbo::TrialState::kRunning;
    old.heartbeat_us = bbo::now_us() - 3'600'000'000LL;
    for (int i = 0; i < kStale; ++i) s->create_trial(study_id, &old);
  }
  // Each child writes the numbers it failed to a pipe; the union must be every trial exactly once.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::vector<pid_t> children;
  for (int p = 0; p < 4; ++p) {
    children.push_back(spawn([&] {
      close(fds[0]);
      auto s = bbo::open_storage(url);
      for (int r = 0; r < 3; ++r) {
        for (int64_t n : s->fail_stale_trials(study_id, 10.0)) {
          if (write(fds[1], &n, sizeof n) != sizeof n) throw std::runtime_error("pipe write failed");
        }
      }
    }));
  }
  close(fds[1]);
  std::multiset<int64_t> all;
  int64_t n = 0;
  while (read(fds[0], &n, sizeof n) == sizeof n) all.insert(n);
  close(fds[0]);
  for (pid_t c : children) EXPECT_EQ(wait_exit_code(c), 0);
  EXPECT_EQ(all.size(), static_cast<size_t>(kStale));
  EXPECT_EQ(std::set<int64_t>(all.begin(), all.end()).size(), static_cast<size_t>(kStale));
  EXPECT_EQ(bbo::open_storage(url)->count_trials(study_id, {bbo::TrialState::kFail}), kStale);
}

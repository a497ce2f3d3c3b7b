#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/storage/child_process.h"
#include "tests/storage/multiprocess_checks.h"
#include "bbo/error.h"
#include "bbo/storage.h"
#include "storage_conformance.h"

namespace fs = std::filesystem;

namespace {

// One temp directory per test process, removed at exit; every database gets a fresh file in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "bbo_sqlite_test_XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string fresh_file() { return (path_ / ("db" + std::to_string(counter_++) + ".db")).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  std::atomic<int> counter_{0};
};

TempDir& temp_dir() {
  static TempDir dir;
  return dir;
}

std::string url_of(const std::string& path) { return "sqlite://" + path; }  // path is absolute

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

// Runs a raw SQL query on the file and returns the first column of the first row as text.
std::string query_one(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  std::string out = "<no row>";
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char* p = sqlite3_column_text(st, 0);
    out = p ? reinterpret_cast<const char*>(p) : "<null>";
  } else {
    out = std::string("<error: ") + sqlite3_errmsg(db) + ">";
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

void exec_sql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

using bbo::testing::spawn;
using bbo::testing::wait_exit_code;

const bbo::FloatDistribution kUnit{0.0, 1.0, false, std::nullopt};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Sqlite, StorageConformanceTest,
                         ::testing::Values(bbo::conformance::StorageFactory([] {
                           return bbo::open_storage(url_of(temp_dir().fresh_file()));
                         })));

TEST(SqliteStorage, DataPersistsAfterReopening) {
  std::string path = temp_dir().fresh_file();
  bbo::FrozenTrial finished;
  int64_t study_id = 0;
  {
    auto s = bbo::open_storage(url_of(path));
    study_id = s->create_study("persist", {bbo::Direction::kMaximize}, {{"seed", 3}});
    s->set_study_user_attr(study_id, "owner", "me");
    auto t = s->create_trial(study_id);
    s->set_trial_param(t.id, "x", 0.5, kUnit);
    s->set_trial_param(t.id, "c", 1.0, bbo::CategoricalDistribution{{std::string("a"), 2.5}});
    s->set_trial_intermediate_value(t.id, 2, 0, -std::numeric_limits<double>::infinity());
    s->finish_trial(t.id, bbo::TrialState::kComplete, {std::nan("")}, {0.5});
    ASSERT_TRUE(s->compare_and_swap_plugin_state(study_id, "p", 0, "state"));
    s->create_trial(study_id);
    finished = s->get_trial(t.id);
  }
  auto s = bbo::open_storage(url_of(path));
  auto info = s->find_study("persist");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->id, study_id);
  EXPECT_EQ(info->directions, std::vector<bbo::Direction>{bbo::Direction::kMaximize});
  EXPECT_EQ(info->user_attrs["owner"], "me");
  EXPECT_EQ(info->system_attrs["seed"], 3);
  EXPECT_EQ(info->n_trials, 2);
  EXPECT_TRUE(bbo::conformance::same_trial(finished, s->get_trial(finished.id)));
  EXPECT_TRUE(std::isnan(s->get_trial(finished.id).values.at(0)));
  EXPECT_EQ(s->get_plugin_state(study_id, "p").blob, "state");
  EXPECT_EQ(s->create_trial(study_id).number, 2);
}

TEST(SqliteStorage, AllUrlFormsOpenTheSameFile) {
  std::string path = temp_dir().fresh_file();
  bbo::open_storage("sqlite://" + path)->create_study("shared", {bbo::Direction::kMinimize}, {});
  std::string rel = fs::relative(path, fs::current_path()).string();
  ASSERT_FALSE(rel.empty());
  ASSERT_NE(rel[0], '/');
  for (const std::string& url : {"sqlite://" + path, "sqlite://" + rel, "sqlite:" + rel,
                                 "sqlite://" + path + "?synchronous=FULL&timeout_ms=1000"}) {
    auto s = bbo::open_storage(url);
    EXPECT_EQ(s->url(), url);
    EXPECT_TRUE(s->find_study("shared").has_value()) << url;
  }
}

TEST(SqliteStorage, FileHasSchemaVersionOneAndWalJournal) {
  std::string path = temp_dir().fresh_file();
  bbo::open_storage(url_of(path));
  EXPECT_EQ(query_one(path, "SELECT version FROM schema_version"), "1");
  EXPECT_EQ(query_one(path, "PRAGMA journal_mode"), "wal");
  for (const char* table : {"studies", "trials", "trial_params", "trial_intermediate", "plugin_state"}) {
    EXPECT_EQ(query_one(path, std::string("SELECT name FROM sqlite_master WHERE name='") + table + "'"), table);
  }
  // Reopening does not add a second version row.
  bbo::open_storage(url_of(path));
  EXPECT_EQ(query_one(path, "SELECT COUNT(*) FROM schema_version"), "1");
}

TEST(SqliteStorage, NaNIsStoredExplicitlyInTheFile) {
  std::string path = temp_dir().fresh_file();
  {
    auto s = bbo::open_storage(url_of(path));
    int64_t id = s->create_study("s", {bbo::Direction::kMinimize}, {});
    auto t = s->create_trial(id);
    s->finish_trial(t.id, bbo::TrialState::kComplete, {std::nan(""), std::numeric_limits<double>::infinity()},
                    {});
  }
  EXPECT_EQ(query_one(path, "SELECT objective_values FROM trials"), R"(["nan","inf"])");
}

TEST(SqliteStorage, NewerSchemaIsRefused) {
  std::string path = temp_dir().fresh_file();
  bbo::open_storage(url_of(path));
  exec_sql(path, "UPDATE schema_version SET version = 99");
  std::string err = error_of([&] { bbo::open_storage(url_of(path)); });
  EXPECT_NE(err.find("StorageError"), std::string::npos) << err;
  EXPECT_NE(err.find("99"), std::string::npos) << err;
  EXPECT_NE(err.find(url_of(path)), std::string::npos) << err;
}

TEST(SqliteStorage, MissingDirectoryIsAStorageErrorNamingTheUrl) {
  std::string url = url_of((temp_dir().path() / "no_such_dir" / "x.db").string());
  std::string err = error_of([&] { bbo::open_storage(url); });
  EXPECT_NE(err.find("StorageError"), std::string::npos) << err;
  EXPECT_NE(err.find(url), std::string::npos) << err;
}

TEST(SqliteStorage, GarbageFileIsAStorageErrorNamingTheUrl) {
  std::string path = temp_dir().fresh_file();
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 512; ++i) out << "this is not a database file, just text. ";
  }
  std::string err = error_of([&] { bbo::open_storage(url_of(path)); });
  EXPECT_NE(err.find("StorageError"), std::string::npos) << err;
  EXPECT_NE(err.find(url_of(path)), std::string::npos) << err;
}

TEST(SqliteStorage, TwoConnectionsInOneProcessSeeEachOthersWrites) {
  std::string path = temp_dir().fresh_file();
  auto a = bbo::open_storage(url_of(path));
  auto b = bbo::open_storage(url_of(path));
  int64_t id = a->create_study("s", {bbo::Direction::kMinimize}, {});
  auto t0 = a->create_trial(id);
  auto t1 = b->create_trial(id);
  EXPECT_EQ(t0.number, 0);
  EXPECT_EQ(t1.number, 1);
  a->finish_trial(t1.id, bbo::TrialState::kComplete, {1.0}, {});
  EXPECT_EQ(b->get_trial(t1.id).state, bbo::TrialState::kComplete);
  EXPECT_THROW(b->finish_trial(t1.id, bbo::TrialState::kComplete, {2.0}, {}), bbo::TrialStateError);
  auto delta = b->get_trials_since(id, 0);
  EXPECT_EQ(delta.trials.size(), 2u);
  EXPECT_TRUE(a->get_trials_since(id, delta.version).trials.empty());
}

TEST(SqliteStorage, DeletingAStudyRemovesItsRows) {
  std::string path = temp_dir().fresh_file();
  {
    auto s = bbo::open_storage(url_of(path));
    int64_t id = s->create_study("s", {bbo::Direction::kMinimize}, {});
    auto t = s->create_trial(id);
    s->set_trial_param(t.id, "x", 0.1, kUnit);
    s->set_trial_intermediate_value(t.id, 0, 0, 1.0);
    s->compare_and_swap_plugin_state(id, "k", 0, "v");
    s->delete_study(id);
  }
  for (const char* table : {"trials", "trial_params", "trial_intermediate", "plugin_state"}) {
    EXPECT_EQ(query_one(path, std::string("SELECT COUNT(*) FROM ") + table), "0") << table;
  }
}

TEST(SqliteStorage, ProcessesSharingOneFileNumberTrialsWithoutGapsOrDuplicates) {
  bbo::testing::expect_processes_number_trials_without_gaps(url_of(temp_dir().fresh_file()), 4, 40);
}

TEST(SqliteStorage, ProcessesClaimEachWaitingTrialOnce) {
  bbo::testing::expect_processes_claim_each_waiting_trial_once(url_of(temp_dir().fresh_file()), 24);
}

TEST(SqliteStorage, ReopensCleanlyAfterAWriterIsKilled) {
  std::string path = temp_dir().fresh_file();
  int64_t study_id = bbo::open_storage(url_of(path))->create_study("kill", {bbo::Direction::kMinimize}, {});
  pid_t child = spawn([&] {
    auto s = bbo::open_storage(url_of(path));
    for (;;) {  // runs until killed
      auto t = s->create_trial(study_id);
      s->set_trial_param(t.id, "x", 0.25, kUnit);
      s->set_trial_intermediate_value(t.id, 0, 0, 1.0);
      s->finish_trial(t.id, bbo::TrialState::kComplete, {static_cast<double>(t.number)}, {});
    }
  });
  {
    auto s = bbo::open_storage(url_of(path));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (s->count_trials(study_id, {bbo::TrialState::kComplete}) < 30 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  ASSERT_EQ(kill(child, SIGKILL), 0);
  EXPECT_EQ(wait_exit_code(child), 128 + SIGKILL);

  auto s = bbo::open_storage(url_of(path));
  EXPECT_EQ(query_one(path, "PRAGMA integrity_check"), "ok");
  auto trials = s->get_trials(study_id);
  ASSERT_GE(trials.size(), 30u);
  int64_t complete = 0;
  for (size_t i = 0; i < trials.size(); ++i) {
    EXPECT_EQ(trials[i].number, static_cast<int64_t>(i));
    if (trials[i].state == bbo::TrialState::kComplete) {
      ++complete;
      EXPECT_EQ(trials[i].values, std::vector<double>{static_cast<double>(i)});
      EXPECT_EQ(trials[i].params.at("x"), 0.25);
    } else {
      // Only the trial the child was working on when it died can still be running.
      EXPECT_EQ(trials[i].state, bbo::TrialState::kRunning);
      EXPECT_EQ(i, trials.size() - 1);
    }
  }
  EXPECT_GE(complete, 30);
  // The storage is writable again and numbering continues.
  EXPECT_EQ(s->create_trial(study_id).number, static_cast<int64_t>(trials.size()));
}

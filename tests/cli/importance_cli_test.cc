// `bbo importance` end to end: the built binary runs as a child process against a temporary SQLite study
// whose trials are written directly through the storage API (f = 10x + y, z unused; analytic main-effect
// shares 100/101, 1/101, 0), and its output formats, options and errors are checked.
#include <sys/wait.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bbo/error.h"
#include "bbo/storage.h"
#include "bbo/trial.h"
#include "tests/cli/child_harness.h"

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;
using Result = bbo::testing::ChildResult;

class ImportanceCliTest : public bbo::testing::TempDirTest {
 protected:
  Result bbo(std::vector<std::string> args) {
    std::vector<std::string> argv = {BBO_CLI_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--storage");
    argv.push_back(url_);
    fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    pid_t pid = bbo::testing::spawn_captured(
        argv, [](const std::string& kv) { return kv.rfind("BBO_STORAGE=", 0) == 0; }, {}, out, err);
    if (pid < 0) ADD_FAILURE() << "posix_spawn failed";
    return bbo::testing::wait_captured(pid, out, err);
  }

  json ok_json(std::vector<std::string> args) {
    Result r = bbo(std::move(args));
    EXPECT_EQ(r.code, 0) << r.err;
    try {
      return json::parse(r.out);
    } catch (const std::exception&) {
      ADD_FAILURE() << "not JSON: " << r.out;
      return json::array();
    }
  }

  // A rejected command: the code, one line on stderr starting "bbo: error: " and containing `part`, no stdout.
  void expect_error(const std::vector<std::string>& args, int code, const std::string& part) {
    Result r = bbo(args);
    EXPECT_EQ(r.code, code) << r.err;
    EXPECT_EQ(r.err.rfind("bbo: error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find(part), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
  }

  // Study `name` with n COMPLETE trials of f = 10x + y (objective 0) and, for two objectives, 10y + x as
  // objective 1; plus one FAIL and one RUNNING trial that must be ignored.
  void make_study(const std::string& name, int n, int n_objectives = 1) {
    auto storage = bbo::open_storage(url_);
    std::vector<bbo::Direction> dirs(static_cast<size_t>(n_objectives), bbo::Direction::kMinimize);
    int64_t id = storage->create_study(name, dirs, json::object());
    std::mt19937_64 rng(42);
    std::uniform_real_distribution<double> u(0, 1);
    bbo::Distribution unit = bbo::FloatDistribution{0.0, 1.0, false, std::nullopt};
    for (int i = 0; i < n + 2; ++i) {
      bbo::FrozenTrial t;
      double x = u(rng), y = u(rng), z = u(rng);
      t.params = {{"x", x}, {"y", y}, {"z", z}};
      t.distributions = {{"x", unit}, {"y", unit}, {"z", unit}};
      t.state = i == n ? bbo::TrialState::kFail : i == n + 1 ? bbo::TrialState::kRunning : bbo::TrialState::kComplete;
      if (t.state == bbo::TrialState::kComplete) {
        t.values = {10 * x + y};
        if (n_objectives == 2) t.values.push_back(10 * y + x);
      }
      storage->create_trial(id, &t);
    }
  }
};

TEST_F(ImportanceCliTest, JsonMatchesAnalyticSharesAndIsSorted) {
  make_study("s", 400);
  json j = ok_json({"importance", "--study", "s", "--format", "json"});
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["param"], "x");
  EXPECT_EQ(j[1]["param"], "y");
  EXPECT_EQ(j[2]["param"], "z");
  double sum = 0;
  for (const auto& e : j) sum += e["importance"].get<double>();
  EXPECT_NEAR(sum, 1.0, 1e-12);
  // Step-function fit of a linear function at n = 400: measured x = 0.993 vs 100/101 = 0.990.
  EXPECT_NEAR(j[0]["importance"].get<double>(), 100.0 / 101, 0.01);
  EXPECT_NEAR(j[1]["importance"].get<double>(), 1.0 / 101, 0.006);
  EXPECT_LT(j[2]["importance"].get<double>(), 0.003);
  EXPECT_GE(j[0]["std"].get<double>(), 0.0);
}

TEST_F(ImportanceCliTest, TableAndCsvCarryTheSameRanking) {
  make_study("s", 200);
  Result table = bbo({"importance", "--study", "s"});
  ASSERT_EQ(table.code, 0) << table.err;
  std::istringstream lines(table.out);
  std::string header, first, second;
  std::getline(lines, header);
  EXPECT_NE(header.find("param"), std::string::npos);
  EXPECT_NE(header.find("importance"), std::string::npos);
  EXPECT_NE(header.find("std"), std::string::npos);
  std::string rule;
  std::getline(lines, rule);  // the dashes under the header
  EXPECT_EQ(rule.rfind("-----", 0), 0u) << table.out;
  std::getline(lines, first);
  std::getline(lines, second);
  EXPECT_EQ(first.rfind("x ", 0), 0u) << table.out;
  EXPECT_EQ(second.rfind("y ", 0), 0u) << table.out;

  Result csv = bbo({"importance", "--study", "s", "--format", "csv"});
  ASSERT_EQ(csv.code, 0) << csv.err;
  json j = ok_json({"importance", "--study", "s", "--format", "json"});
  std::istringstream rows(csv.out);
  std::string line;
  std::getline(rows, line);
  EXPECT_EQ(line, "param,importance,std");
  for (const auto& e : j) {
    ASSERT_TRUE(std::getline(rows, line));
    std::string name = line.substr(0, line.find(','));
    double imp = std::stod(line.substr(line.find(',') + 1));
    EXPECT_EQ(name, e["param"].get<std::string>());
    EXPECT_EQ(imp, e["importance"].get<double>());  // CSV is full precision
  }
}

TEST_F(ImportanceCliTest, ParamsObjectiveAndSeedOptions) {
  make_study("m", 300, 2);
  // The forest sees only the requested parameters (as in Optuna), so x must be among them for y to stand
  // out from z: with x left out, 10x is noise that the trees split on y and z alike.
  json only = ok_json({"importance", "--study", "m", "--params", "z,x", "--format", "json"});
  ASSERT_EQ(only.size(), 2u);
  EXPECT_EQ(only[0]["param"], "x");
  EXPECT_EQ(only[1]["param"], "z");
  EXPECT_GT(only[0]["importance"].get<double>(), 0.99);

  json second = ok_json({"importance", "--study", "m", "--objective", "1", "--format", "json"});
  EXPECT_EQ(second[0]["param"], "y");

  json a = ok_json({"importance", "--study", "m", "--format", "json"});
  json again = ok_json({"importance", "--study", "m", "--format", "json"});
  json other = ok_json({"importance", "--study", "m", "--format", "json", "--seed", "5", "--n-trees", "8"});
  EXPECT_EQ(a, again);  // deterministic
  EXPECT_NE(a, other);
  EXPECT_EQ(other[0]["param"], "x");
}

TEST_F(ImportanceCliTest, ErrorsAreOneLineWithDocumentedCodes) {
  make_study("s", 50);
  make_study("tiny", 1);
  expect_error({"importance", "--study", "nope"}, bbo::kExitNotFound, "nope");
  expect_error({"importance", "--study", "tiny"}, bbo::kExitConfig, "at least 2");
  expect_error({"importance", "--study", "s", "--params", "x,w"}, bbo::kExitConfig, "'w'");
  expect_error({"importance", "--study", "s", "--objective", "1"}, bbo::kExitConfig, "--objective");
  expect_error({"importance", "--study", "s", "--n-trees", "0"}, bbo::kExitConfig, "--n-trees");
  expect_error({"importance", "--study", "s", "--format", "xml"}, bbo::kExitUsage, "format");
  expect_error({"importance"}, bbo::kExitUsage, "--study");
}

}  // namespace

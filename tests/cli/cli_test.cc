// Runs the built `bbo` binary as a child process (posix_spawn) against a temporary SQLite file and checks its
// output, exit codes and that rejected commands leave the storage unchanged.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "bbo/error.h"
#include "tests/cli/child_harness.h"

extern char** environ;

namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

using Result = bbo::testing::ChildResult;
const auto& read_file = bbo::testing::read_text_file;

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  if (!s.empty() && s.back() != '\n') ++n;
  return n;
}

class CliTest : public bbo::testing::TempDirTest {
 protected:

  // Runs `bbo args...` with `extra_env` ("K=V") added to (or overriding) the environment. BBO_STORAGE is
  // removed unless given, so the test never depends on the caller's shell.
  Result run(const std::vector<std::string>& args, const std::vector<std::string>& extra_env = {}) {
    std::vector<std::string> argv = {BBO_CLI_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    pid_t pid = bbo::testing::spawn_captured(
        argv, [](const std::string& kv) { return kv.rfind("BBO_STORAGE=", 0) == 0; }, extra_env, out, err);
    if (pid < 0) ADD_FAILURE() << "posix_spawn failed";
    return bbo::testing::wait_captured(pid, out, err);
  }

  // Runs with --storage <this test's database>.
  Result bbo(std::vector<std::string> args) {
    args.push_back("--storage");
    args.push_back(url_);
    return run(args);
  }

  Result ok(std::vector<std::string> args) {
    Result r = bbo(std::move(args));
    EXPECT_EQ(r.code, 0) << "stderr: " << r.err;
    return r;
  }

  json ok_json(std::vector<std::string> args) {
    Result r = ok(std::move(args));
    try {
      return json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << "not JSON: " << r.out;
      return nullptr;
    }
  }

  void create(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"create-study", "--study", name, "--seed", "7"};
    args.insert(args.end(), extra.begin(), extra.end());
    ok(args);
  }

  std::string trials_snapshot(const std::string& study) {
    Result r = bbo({"trials", "--study", study, "--format", "json"});
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }

  // A rejected command: the expected exit code, exactly one line on stderr starting "bbo: error: ", nothing
  // on stdout, and the study's trials exactly as before.
  void expect_rejected(const std::vector<std::string>& args, int code, const std::string& study = "s") {
    std::string before = trials_snapshot(study);
    Result r = bbo(args);
    EXPECT_EQ(r.code, code) << "stderr: " << r.err << " stdout: " << r.out;
    EXPECT_EQ(count_lines(r.err), 1u) << r.err;
    EXPECT_EQ(r.err.rfind("bbo: error: ", 0), 0u) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(trials_snapshot(study), before);
  }

};

const char* kShortSpace = R"({"x": {"type": "float", "low": -2, "high": 3}, "n": {"type": "int", "low": 1, "high": 4}})";

TEST_F(CliTest, CreateAskReportTellRoundTripsThroughTrialsJson) {
  create("s", {"--search-space", kShortSpace});
  json asked = ok_json({"ask", "--study", "s"});
  ASSERT_EQ(asked["number"], 0);
  double x = asked["params"]["x"].get<double>();
  int64_t n = asked["params"]["n"].get<int64_t>();
  EXPECT_GE(x, -2.0);
  EXPECT_LE(x, 3.0);
  EXPECT_GE(n, 1);
  EXPECT_LE(n, 4);

  ok({"report", "--study", "s", "--trial", "0", "--step", "1", "--value", "0.75"});
  ok({"report", "--study", "s", "--trial", "0", "--step", "2", "--value", "-0.5"});
  Result prune = bbo({"should-prune", "--study", "s", "--trial", "0"});
  EXPECT_EQ(prune.code, 0) << prune.err;
  EXPECT_EQ(json::parse(prune.out), json({{"prune", false}}));
  ok({"tell", "--study", "s", "--trial", "0", "--value", "1.25"});

  json trials = ok_json({"trials", "--study", "s", "--format", "json"});
  ASSERT_TRUE(trials.is_array());
  ASSERT_EQ(trials.size(), 1u);
  const json& t = trials[0];
  EXPECT_EQ(t["number"], 0);
  EXPECT_EQ(t["state"], "COMPLETE");
  EXPECT_EQ(t["values"], json::array({1.25}));
  EXPECT_EQ(t["params"]["x"].get<double>(), x);
  EXPECT_EQ(t["params"]["n"].get<int64_t>(), n);
  EXPECT_EQ(t["intermediate_values"]["1"], 0.75);
  EXPECT_EQ(t["intermediate_values"]["2"], -0.5);
  std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)");
  EXPECT_TRUE(std::regex_match(t["datetime_start"].get<std::string>(), iso)) << t["datetime_start"];
  EXPECT_TRUE(std::regex_match(t["datetime_complete"].get<std::string>(), iso)) << t["datetime_complete"];

  json best = ok_json({"best", "--study", "s", "--format", "json"});
  EXPECT_EQ(best["number"], 0);
  EXPECT_EQ(best["values"], json::array({1.25}));
}

// The default strategy is `auto`: with a declared space it chooses at the first ask, and `bbo best` says what
// it chose and why.
TEST_F(CliTest, BestShowsWhatTheAutoStrategyChose) {
  create("s", {"--search-space", kShortSpace});
  ok({"ask", "--study", "s"});
  ok({"tell", "--study", "s", "--trial", "0", "--value", "2"});
  Result table = ok({"best", "--study", "s"});
  EXPECT_NE(table.out.find("strategy auto chose gp (trials 0-199), then cmaes: 2 dims (1 continuous, 1 integer"),
            std::string::npos) << table.out;
  json best = ok_json({"best", "--study", "s", "--format", "json"});
  EXPECT_EQ(best["strategy_choice"]["phases"][0]["strategy"], "gp");
  EXPECT_EQ(best["strategy_choice"]["phases"][1]["strategy"], "cmaes");
}

TEST_F(CliTest, AskAcceptsOptunaDistributionJson) {
  create("s");
  std::string space = R"({
    "lr": {"name": "FloatDistribution", "attributes": {"low": 1e-5, "high": 0.1, "log": true, "step": null}},
    "layers": {"name": "IntDistribution", "attributes": {"low": 1, "high": 8, "log": false, "step": 1}},
    "act": {"name": "CategoricalDistribution", "attributes": {"choices": ["relu", "tanh"]}}})";
  json asked = ok_json({"ask", "--study", "s", "--search-space", space});
  double lr = asked["params"]["lr"].get<double>();
  EXPECT_GE(lr, 1e-5);
  EXPECT_LE(lr, 0.1);
  int64_t layers = asked["params"]["layers"].get<int64_t>();
  EXPECT_GE(layers, 1);
  EXPECT_LE(layers, 8);
  std::string act = asked["params"]["act"].get<std::string>();
  EXPECT_TRUE(act == "relu" || act == "tanh") << act;

  json trials = ok_json({"trials", "--study", "s", "--format", "json"});
  ASSERT_EQ(trials.size(), 1u);
  EXPECT_EQ(trials[0]["state"], "RUNNING");
  EXPECT_EQ(trials[0]["distributions"]["lr"]["name"], "FloatDistribution");
  EXPECT_EQ(trials[0]["distributions"]["act"]["name"], "CategoricalDistribution");
}

TEST_F(CliTest, AskWithCountPrintsAnArrayOfDistinctTrials) {
  create("s", {"--search-space", kShortSpace});
  json asked = ok_json({"ask", "--study", "s", "-n", "3"});
  ASSERT_TRUE(asked.is_array());
  ASSERT_EQ(asked.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(asked[i]["number"], i);
    EXPECT_TRUE(asked[i]["params"].contains("x"));
  }
  json running = ok_json({"trials", "--study", "s", "--state", "running", "--format", "json"});
  EXPECT_EQ(running.size(), 3u);
}

TEST_F(CliTest, TellParsesInfinityAndNegativeNumbers) {
  create("s", {"--search-space", kShortSpace});
  ok({"ask", "--study", "s", "-n", "2"});
  ok({"tell", "--study", "s", "--trial", "0", "--value", "-inf"});
  ok({"tell", "--study", "s", "--trial", "1", "--value", "-2.5e-1"});
  json trials = ok_json({"trials", "--study", "s", "--format", "json"});
  EXPECT_EQ(trials[0]["values"], json::array({"-inf"}));
  EXPECT_EQ(trials[1]["values"], json::array({-0.25}));
  EXPECT_EQ(ok_json({"best", "--study", "s", "--format", "json"})["number"], 0);
}

TEST_F(CliTest, NanValueRecordsFailAndExitsNonZero) {
  create("s", {"--search-space", kShortSpace});
  ok({"ask", "--study", "s"});
  Result r = bbo({"tell", "--study", "s", "--trial", "0", "--value", "nan"});
  EXPECT_EQ(r.code, bbo::kExitConfig);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("bbo: error: ", 0), 0u) << r.err;
  json trials = ok_json({"trials", "--study", "s", "--format", "json"});
  EXPECT_EQ(trials[0]["state"], "FAIL");
}

TEST_F(CliTest, TellWithStateFailOrPruned) {
  create("s", {"--search-space", kShortSpace});
  ok({"ask", "--study", "s", "-n", "2"});
  ok({"tell", "--study", "s", "--trial", "0", "--state", "fail"});
  ok({"report", "--study", "s", "--trial", "1", "--step", "0", "--value", "3"});
  ok({"tell", "--study", "s", "--trial", "1", "--state", "pruned"});
  json trials = ok_json({"trials", "--study", "s", "--format", "json"});
  EXPECT_EQ(trials[0]["state"], "FAIL");
  EXPECT_EQ(trials[1]["state"], "PRUNED");
  json pruned = ok_json({"trials", "--study", "s", "--state", "pruned", "--format", "json"});
  ASSERT_EQ(pruned.size(), 1u);
  EXPECT_EQ(pruned[0]["number"], 1);
}

TEST_F(CliTest, ShouldPruneExitsTenWhenTheMedianPrunerSaysSo) {
  create("s", {"--search-space", kShortSpace, "--pruner", "median", "--pruner-params",
               R"({"n_startup_trials": 1, "n_min_trials": 1})"});
  ok({"ask", "--study", "s"});
  ok({"report", "--study", "s", "--trial", "0", "--step", "0", "--value", "1"});
  ok({"tell", "--study", "s", "--trial", "0", "--value", "1"});
  ok({"ask", "--study", "s"});
  ok({"report", "--study", "s", "--trial", "1", "--step", "0", "--value", "100"});
  Result r = bbo({"should-prune", "--study", "s", "--trial", "1"});
  EXPECT_EQ(r.code, bbo::kExitPruned) << r.err;
  EXPECT_EQ(json::parse(r.out), json({{"prune", true}}));
  EXPECT_EQ(r.err, "");
}

TEST_F(CliTest, MultiObjectiveBestIsTheParetoFront) {
  create("s", {"--search-space", kShortSpace, "--direction", "minimize", "--direction", "maximize"});
  ok({"ask", "--study", "s", "-n", "4"});
  ok({"tell", "--study", "s", "--trial", "0", "--value", "1", "5"});
  ok({"tell", "--study", "s", "--trial", "3", "--value", "-1", "-inf"});  // best first objective: on the front
  ok({"tell", "--study", "s", "--trial", "1", "--value", "2", "1"});  // dominated by trial 0
  ok({"tell", "--study", "s", "--trial", "2", "--value", "0", "0"});
  json best = ok_json({"best", "--study", "s", "--format", "json"});
  ASSERT_TRUE(best.is_array());
  std::vector<int> numbers;
  for (const auto& t : best) numbers.push_back(t["number"].get<int>());
  EXPECT_EQ(numbers, (std::vector<int>{0, 2, 3}));
  Result csv = ok({"trials", "--study", "s", "--format", "csv"});
  EXPECT_EQ(csv.out.substr(0, csv.out.find('\n')),
            "number,state,values_0,values_1,params_n,params_x,datetime_start,datetime_complete,duration_s");
  EXPECT_EQ(count_lines(csv.out), 5u);
  json trials = ok_json({"trials", "--study", "s", "--format", "json"});
  EXPECT_EQ(trials[3]["values"], json::array({-1.0, "-inf"}));
}

TEST_F(CliTest, RejectedCommandsChangeNothing) {
  create("s", {"--search-space", kShortSpace});
  ok({"ask", "--study", "s", "-n", "2"});
  ok({"tell", "--study", "s", "--trial", "0", "--value", "1"});

  expect_rejected({"ask", "--study", "s", "--search-space", "{\"x\": "}, bbo::kExitConfig);
  expect_rejected({"ask", "--study", "s", "--search-space", R"({"y": {"type": "float", "low": 2, "high": 1}})"},
                  bbo::kExitConfig);
  expect_rejected({"ask", "--study", "s", "--search-space", R"({"x": {"type": "float", "low": 0, "high": 9}})"},
                  bbo::kExitConfig);  // x already has another distribution in this study
  expect_rejected({"ask", "--study", "nope"}, bbo::kExitNotFound);
  expect_rejected({"tell", "--study", "s", "--trial", "0", "--value", "2"}, bbo::kExitTrialState);
  expect_rejected({"tell", "--study", "s", "--trial", "1", "--value", "1", "2"}, bbo::kExitConfig);
  expect_rejected({"tell", "--study", "s", "--trial", "1", "--value", "abc"}, bbo::kExitConfig);
  expect_rejected({"tell", "--study", "s", "--trial", "9", "--value", "1"}, bbo::kExitNotFound);
  expect_rejected({"tell", "--study", "s", "--trial", "1", "--value", "1", "--state", "fail"}, bbo::kExitUsage);
  expect_rejected({"tell", "--study", "s", "--trial", "1"}, bbo::kExitUsage);
  expect_rejected({"tell", "--study", "s", "--trial", "1", "--state", "complete"}, bbo::kExitConfig);
  expect_rejected({"report", "--study", "s", "--trial", "0", "--step", "1", "--value", "1"},
                  bbo::kExitTrialState);
  expect_rejected({"report", "--study", "s", "--trial", "1", "--step", "-1", "--value", "1"}, bbo::kExitConfig);
  expect_rejected({"frobnicate", "--study", "s"}, bbo::kExitUsage);
  expect_rejected({"tell", "--study", "s", "--value", "1"}, bbo::kExitUsage);  // --trial missing
  expect_rejected({"trials", "--study", "s", "--format", "xml"}, bbo::kExitUsage);
  expect_rejected({"trials", "--study", "s", "--state", "sleeping"}, bbo::kExitConfig);
  expect_rejected({"ask", "--study", "s", "-n", "0"}, bbo::kExitConfig);
}

TEST_F(CliTest, CreateStudyValidatesPluginsBeforeWriting) {
  create("s");
  auto expect_create_rejected = [&](std::vector<std::string> extra, int code) {
    std::vector<std::string> args = {"create-study", "--study", "new"};
    args.insert(args.end(), extra.begin(), extra.end());
    expect_rejected(args, code);
    json studies = ok_json({"studies", "--format", "json"});
    ASSERT_EQ(studies.size(), 1u) << studies.dump();
    EXPECT_EQ(studies[0]["name"], "s");
  };
  expect_create_rejected({"--strategy", "no-such-strategy"}, bbo::kExitPlugin);
  expect_create_rejected({"--strategy", "random", "--strategy-params", R"({"no_such_param": 1})"},
                         bbo::kExitConfig);
  expect_create_rejected({"--strategy-params", "{not json"}, bbo::kExitConfig);
  expect_create_rejected({"--strategy-params", "[1, 2]"}, bbo::kExitConfig);
  expect_create_rejected({"--pruner", "no-such-pruner"}, bbo::kExitPlugin);
  expect_create_rejected({"--pruner", "median", "--pruner-params", R"({"n_min_trials": "three"})"},
                         bbo::kExitConfig);
  expect_create_rejected({"--direction", "sideways"}, bbo::kExitConfig);
  expect_create_rejected({"--search-space", R"({"x": {"type": "float", "low": 1, "high": 0}})"}, bbo::kExitConfig);
  expect_rejected({"create-study", "--study", "s"}, bbo::kExitDuplicate);
}

TEST_F(CliTest, MalformedJsonErrorNamesTheOption) {
  create("s");
  Result r = bbo({"ask", "--study", "s", "--search-space", "{oops"});
  EXPECT_NE(r.err.find("--search-space"), std::string::npos) << r.err;
  r = bbo({"create-study", "--study", "t", "--strategy-params", "{oops"});
  EXPECT_NE(r.err.find("--strategy-params"), std::string::npos) << r.err;
}

TEST_F(CliTest, IfExistsOpensTheExistingStudy) {
  create("s");
  Result r = ok({"create-study", "--study", "s", "--if-exists", "--format", "json"});
  json j = json::parse(r.out);
  EXPECT_EQ(j["name"], "s");
  EXPECT_EQ(j["created"], false);
  EXPECT_EQ(ok_json({"studies", "--format", "json"}).size(), 1u);
}

TEST_F(CliTest, StorageThatCannotBeOpenedIsAStorageError) {
  Result r = run({"studies", "--storage", "sqlite:///nonexistent_dir/x.db"});
  EXPECT_EQ(r.code, bbo::kExitStorage);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("bbo: error: ", 0), 0u) << r.err;
}

TEST_F(CliTest, MissingStorageIsAUsageError) {
  Result r = run({"studies"});
  EXPECT_EQ(r.code, bbo::kExitUsage);
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
}

TEST_F(CliTest, StorageComesFromTheEnvironment) {
  create("s");
  Result r = run({"studies", "--format", "json"}, {"BBO_STORAGE=" + url_});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)[0]["name"], "s");
}

TEST_F(CliTest, EmptyStudyBestFailsButTrialsDoesNot) {
  create("s");
  Result best = bbo({"best", "--study", "s"});
  EXPECT_EQ(best.code, bbo::kExitNotFound);
  EXPECT_EQ(count_lines(best.err), 1u) << best.err;
  Result table = ok({"trials", "--study", "s"});
  EXPECT_NE(table.out.find("no trials"), std::string::npos) << table.out;
  EXPECT_EQ(ok_json({"trials", "--study", "s", "--format", "json"}), json::array());
}

TEST_F(CliTest, StudiesListsCountsAndBestValues) {
  create("a", {"--search-space", kShortSpace});
  create("b", {"--direction", "maximize"});
  ok({"ask", "--study", "a", "-n", "2"});
  ok({"tell", "--study", "a", "--trial", "0", "--value", "3"});
  ok({"tell", "--study", "a", "--trial", "1", "--value", "2"});
  json studies = ok_json({"studies", "--format", "json"});
  ASSERT_EQ(studies.size(), 2u);
  EXPECT_EQ(studies[0]["name"], "a");
  EXPECT_EQ(studies[0]["n_trials"], 2);
  EXPECT_EQ(studies[0]["best_value"], 2.0);
  EXPECT_EQ(studies[0]["best_trial"], 1);
  EXPECT_EQ(studies[1]["directions"], json::array({"maximize"}));
  EXPECT_TRUE(studies[1]["best_value"].is_null());
  Result table = ok({"studies"});
  EXPECT_NE(table.out.find("best_value"), std::string::npos);
}

TEST_F(CliTest, DeleteStudyRemovesIt) {
  create("a");
  create("b");
  ok({"delete-study", "--study", "a"});
  json studies = ok_json({"studies", "--format", "json"});
  ASSERT_EQ(studies.size(), 1u);
  EXPECT_EQ(studies[0]["name"], "b");
  expect_rejected({"delete-study", "--study", "a"}, bbo::kExitNotFound, "b");
}

TEST_F(CliTest, ExportWritesFullRecords) {
  create("s", {"--search-space", kShortSpace});
  ok({"ask", "--study", "s", "-n", "2"});
  ok({"report", "--study", "s", "--trial", "0", "--step", "3", "--value", "0.5"});
  ok({"tell", "--study", "s", "--trial", "0", "--value", "0.25", "--constraint", "-1"});

  fs::path json_file = dir_ / "out.json", csv_file = dir_ / "out.csv";
  ok({"export", "--study", "s", "--format", "json", "-o", json_file.string()});
  json doc = json::parse(read_file(json_file));
  EXPECT_EQ(doc["study"]["name"], "s");
  ASSERT_EQ(doc["trials"].size(), 2u);
  EXPECT_EQ(doc["trials"][0]["constraints"], json::array({-1.0}));
  EXPECT_EQ(doc["trials"][0]["intermediate_values"]["3"], 0.5);
  EXPECT_EQ(doc["trials"][1]["state"], "RUNNING");

  ok({"export", "--study", "s", "--format", "csv", "-o", csv_file.string()});
  std::string csv = read_file(csv_file);
  std::string header = csv.substr(0, csv.find('\n'));
  EXPECT_NE(header.find("params_x"), std::string::npos) << header;
  EXPECT_NE(header.find("constraints_0"), std::string::npos) << header;
  EXPECT_NE(header.find("intermediate_values"), std::string::npos) << header;
  EXPECT_EQ(count_lines(csv), 3u);

  Result to_stdout = ok({"export", "--study", "s"});
  EXPECT_EQ(json::parse(to_stdout.out)["trials"].size(), 2u);
}

TEST_F(CliTest, CreateStudyFromConfigFileWithOverrides) {
  fs::path cfg = dir_ / "study.yaml";
  std::ofstream(cfg) << "name: from-file\n"
                        "storage: " << url_ << "\n"
                        "directions: [maximize]\n"
                        "seed: 3\n"
                        "search_space:\n"
                        "  lr: {type: float, low: 0.001, high: 0.1, log: true}\n"
                        "  act: {type: categorical, choices: [relu, tanh]}\n"
                        "strategy: random\n";
  Result r = run({"create-study", "--config", cfg.string()});  // storage from the file
  ASSERT_EQ(r.code, 0) << r.err;
  r = run({"create-study", "--config", cfg.string(), "--study", "overridden", "--direction", "minimize"});
  ASSERT_EQ(r.code, 0) << r.err;
  json studies = ok_json({"studies", "--format", "json"});
  ASSERT_EQ(studies.size(), 2u);
  EXPECT_EQ(studies[0]["name"], "from-file");
  EXPECT_EQ(studies[0]["directions"], json::array({"maximize"}));
  EXPECT_EQ(studies[1]["name"], "overridden");
  EXPECT_EQ(studies[1]["directions"], json::array({"minimize"}));

  json asked = ok_json({"ask", "--study", "from-file"});  // the declared space from the file
  EXPECT_TRUE(asked["params"].contains("lr"));
  EXPECT_TRUE(asked["params"].contains("act"));
}

TEST_F(CliTest, PluginsListsBuiltPlugins) {
  Result r = run({"plugins", "--format", "json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  bool random = false, median = false;
  for (const auto& p : j["plugins"]) {
    if (p["name"] == "random" && p["kind"] == "strategy") random = true;
    if (p["name"] == "median" && p["kind"] == "pruner") {
      median = true;
      EXPECT_FALSE(p["parameters"].empty());
    }
  }
  EXPECT_TRUE(random) << j.dump();
  EXPECT_TRUE(median) << j.dump();
  EXPECT_TRUE(j["failures"].is_array());
  Result table = run({"plugins"});
  EXPECT_EQ(table.code, 0);
  EXPECT_NE(table.out.find("random"), std::string::npos);
}

TEST_F(CliTest, HelpExitsZero) {
  Result r = run({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("create-study"), std::string::npos);
  r = run({"ask", "--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--search-space"), std::string::npos);
}

TEST_F(CliTest, HeartbeatAndFailStaleWithRetry) {
  // A long grace period, so asks fail nothing on their own; fail-stale is given a short one.
  create("s", {"--search-space", kShortSpace, "--heartbeat-grace", "30", "--retry-failed-trials"});
  json first = ok_json({"ask", "--study", "s"});
  ASSERT_EQ(first["number"], 0);
  ok_json({"ask", "--study", "s"});
  // Margins of seconds: each command is a new process, which a loaded machine running a sanitizer build can
  // take a second or more to start (with a 1 s grace, trial 1 went stale between two commands there).
  std::this_thread::sleep_for(std::chrono::milliseconds(5500));
  Result hb = ok({"heartbeat", "--study", "s", "--trial", "1"});  // trial 1 stays alive, trial 0 is stale
  EXPECT_EQ(hb.out, "");

  json failed = ok_json({"fail-stale", "--study", "s", "--grace", "5"});
  EXPECT_EQ(failed, json({{"failed", {0}}}));
  json trials = ok_json({"trials", "--study", "s", "--format", "json"});
  ASSERT_EQ(trials.size(), 3u);
  EXPECT_EQ(trials[0]["state"], "FAIL");
  EXPECT_EQ(trials[1]["state"], "RUNNING");
  EXPECT_EQ(trials[2]["state"], "WAITING");
  EXPECT_EQ(trials[2]["system_attrs"]["retry_of"], 0) << trials[2].dump();
  ok({"heartbeat", "--study", "s", "--trial", "1"});
  EXPECT_EQ(ok_json({"fail-stale", "--study", "s", "--grace", "5"}), json({{"failed", json::array()}}));

  json retry = ok_json({"ask", "--study", "s"});  // claims the retry, with trial 0's params
  EXPECT_EQ(retry["number"], 2);
  EXPECT_EQ(retry["params"], first["params"]);

  expect_rejected({"heartbeat", "--study", "s", "--trial", "0"}, bbo::kExitTrialState);  // failed
  ok({"tell", "--study", "s", "--trial", "1", "--value", "1.5"});
  expect_rejected({"heartbeat", "--study", "s", "--trial", "1"}, bbo::kExitTrialState);  // complete
  expect_rejected({"heartbeat", "--study", "s", "--trial", "9"}, bbo::kExitNotFound);
  expect_rejected({"fail-stale", "--study", "s", "--grace", "-1"}, bbo::kExitConfig);
}

}  // namespace

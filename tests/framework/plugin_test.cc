// Tests of the plugin loader and registry: the built plugins, deliberately broken ones, parameter checks.
#include "bbo/plugin.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include <unistd.h>

#include "bbo/pruner.h"
#include "bbo/storage.h"
#include "bbo/strategy.h"
#include "bbo/study_view.h"

namespace bbo {
namespace {

namespace fs = std::filesystem;

const std::string kPluginDir = BBO_TEST_PLUGIN_DIR;
const std::string kBrokenDir = std::string(BBO_TEST_BINARY_DIR) + "/tests/plugins/broken/out";

std::string broken(const std::string& name) { return kBrokenDir + "/libbbo_" + name + ".so"; }

bool contains_text(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The failure recorded for `path` (fails the test when there is none).
PluginLoadFailure failure_for(PluginRegistry& reg, const std::string& path) {
  for (const auto& f : reg.failures())
    if (fs::path(f.path).filename() == fs::path(path).filename()) return f;
  ADD_FAILURE() << "no failure recorded for " << path;
  return {};
}

std::vector<std::string> names(PluginRegistry& reg, PluginKind kind) {
  std::vector<std::string> out;
  for (const auto& d : reg.list())
    if (d.kind == kind) out.push_back(d.name);
  return out;
}

TEST(PluginKind, NamesEachKind) {
  EXPECT_EQ(to_string(PluginKind::kStrategy), "strategy");
  EXPECT_EQ(to_string(PluginKind::kSurrogate), "surrogate");
  EXPECT_EQ(to_string(PluginKind::kPruner), "pruner");
}

TEST(PluginLoadFailure, MessageNamesPathSymbolAndReason) {
  EXPECT_EQ((PluginLoadFailure{"/p/libbbo_x.so", "bbo_plugin_manifest", "bad"}.message()),
            "plugin /p/libbbo_x.so: bbo_plugin_manifest: bad");
  EXPECT_EQ((PluginLoadFailure{"/p/libbbo_x.so", "", "bad"}.message()), "plugin /p/libbbo_x.so: bad");
}

TEST(PluginRegistry, LoadsTheBuiltPlugins) {
  PluginRegistry reg({kPluginDir});
  EXPECT_TRUE(reg.failures().empty()) << reg.failures().front().message();
  auto strategies = names(reg, PluginKind::kStrategy);
  EXPECT_NE(std::find(strategies.begin(), strategies.end(), "random"), strategies.end());
  EXPECT_NE(std::find(strategies.begin(), strategies.end(), "sobol"), strategies.end());
  auto pruners = names(reg, PluginKind::kPruner);
  EXPECT_NE(std::find(pruners.begin(), pruners.end(), "median"), pruners.end());

  PluginDescription sobol = reg.describe(PluginKind::kStrategy, "qmc");  // by alias
  EXPECT_EQ(sobol.name, "sobol");
  EXPECT_EQ(fs::path(sobol.path).filename(), "libbbo_sobol.so");
  ASSERT_EQ(sobol.params.size(), 2u);
  EXPECT_EQ(sobol.params[0].name, "scramble");
  EXPECT_EQ(sobol.params[0].type, "bool");
  EXPECT_EQ(sobol.params[0].default_value, true);
  EXPECT_FALSE(sobol.description.empty());

  EXPECT_NE(reg.make_strategy("random"), nullptr);
  EXPECT_NE(reg.make_strategy("rand", nullptr), nullptr);
  EXPECT_NE(reg.make_pruner("median", {{"n_startup_trials", 2}}), nullptr);
}

TEST(PluginRegistry, GlobalRegistrySearchesTheBuildTree) {
  auto dirs = PluginRegistry::default_search_dirs();
  ASSERT_FALSE(dirs.empty());
  EXPECT_EQ(fs::weakly_canonical(dirs.front()), fs::weakly_canonical(kPluginDir));
  EXPECT_EQ(PluginRegistry::global().describe(PluginKind::kPruner, "median").name, "median");
  EXPECT_NE(PluginRegistry::global().make_strategy("sobol"), nullptr);
}

TEST(PluginRegistry, DefaultSearchDirsEndWithPluginPath) {
  const char* old = std::getenv("BBO_PLUGIN_PATH");
  std::string saved = old ? old : "";
  setenv("BBO_PLUGIN_PATH", "/nonexistent/a::/nonexistent/b", 1);
  auto dirs = PluginRegistry::default_search_dirs();
  if (old)
    setenv("BBO_PLUGIN_PATH", saved.c_str(), 1);
  else
    unsetenv("BBO_PLUGIN_PATH");
  ASSERT_GE(dirs.size(), 3u);
  EXPECT_EQ(dirs[dirs.size() - 2], "/nonexistent/a");
  EXPECT_EQ(dirs.back(), "/nonexistent/b");
  // libbbo's own <libdir>/bbo/plugins comes before the environment's folders.
  EXPECT_TRUE(contains_text(dirs[dirs.size() - 3], "bbo/plugins")) << dirs[dirs.size() - 3];
}

TEST(PluginRegistry, UnknownNameListsKnownNamesOfThatKind) {
  PluginRegistry reg({kPluginDir});
  try {
    reg.make_strategy("nope");
    FAIL() << "no error";
  } catch (const PluginError& e) {
    std::string m = e.what();
    EXPECT_TRUE(contains_text(m, "unknown strategy plugin 'nope'")) << m;
    EXPECT_TRUE(contains_text(m, "random")) << m;
    EXPECT_TRUE(contains_text(m, "sobol")) << m;
    EXPECT_FALSE(contains_text(m, "median")) << m;
  }
  EXPECT_THROW(reg.make_pruner("random"), PluginError);  // a strategy is not a pruner
  EXPECT_THROW(reg.describe(PluginKind::kSurrogate, "random"), PluginError);
}

TEST(PluginRegistry, ValidatesParameters) {
  PluginRegistry reg({kPluginDir});
  auto message = [&](const json& params) -> std::string {
    try {
      reg.make_strategy("sobol", params);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "no error";
  };
  EXPECT_EQ(message({{"foo", 1}}), "plugin 'sobol': unknown parameter 'foo' (known: scramble, skip)");
  EXPECT_EQ(message({{"skip", "3"}}), "plugin 'sobol': parameter 'skip' must be int, got string \"3\"");
  EXPECT_EQ(message({{"skip", 2.5}}), "plugin 'sobol': parameter 'skip' must be int, got float 2.5");
  EXPECT_EQ(message({{"scramble", 1}}), "plugin 'sobol': parameter 'scramble' must be bool, got int 1");
  EXPECT_EQ(message(json::array({1})), "plugin 'sobol': parameters must be a JSON object, got array");
  EXPECT_EQ(message(json("x")), "plugin 'sobol': parameters must be a JSON object, got string");
  EXPECT_EQ(message({{"skip", 2.0}}), "no error");  // an integral float is an int
  EXPECT_EQ(message(nullptr), "no error");
  EXPECT_EQ(message({{"skip", nullptr}}), "no error");  // null: the default
}

TEST(PluginParams, TypedGettersAndDefaults) {
  std::vector<ParamSpec> specs{{"n", "int", 3, ""},       {"x", "float", 0.5, ""},   {"b", "bool", false, ""},
                               {"s", "string", "a", ""},  {"j", "json", nullptr, ""}, {"opt", "float", nullptr, ""}};
  PluginParams p("demo", {{"x", 2}, {"j", {{"k", {1, 2}}}}}, specs);
  EXPECT_EQ(p.plugin(), "demo");
  EXPECT_EQ(p.get_int("n"), 3);
  EXPECT_EQ(p.get_float("x"), 2.0);  // an int where a float is expected
  EXPECT_FALSE(p.get_bool("b"));
  EXPECT_EQ(p.get_string("s"), "a");
  EXPECT_EQ(p.get_json("j"), json({{"k", {1, 2}}}));
  EXPECT_TRUE(p.has("n"));
  EXPECT_FALSE(p.has("opt"));
  EXPECT_THROW(p.get_float("opt"), ConfigError);    // optional and absent
  EXPECT_THROW(p.get_int("missing"), ConfigError);  // not in the schema
  EXPECT_THROW(p.get_bool("n"), ConfigError);       // wrong type asked
  EXPECT_EQ(p.values()["x"], 2.0);

  PluginParams empty;
  EXPECT_FALSE(empty.has("x"));
  EXPECT_THROW(empty.get_int("x"), ConfigError);
}

TEST(PluginRegistry, ObjectsKeepTheirLibraryAlive) {
  auto storage = open_storage("memory:");
  int64_t id = storage->create_study("alive", {Direction::kMinimize}, {{"seed", 3}});
  StudyView view(*storage, storage->get_study(id));
  std::shared_ptr<Strategy> s;
  {
    PluginRegistry reg({kPluginDir});
    s = reg.make_strategy("random");
  }  // the registry is gone; the strategy still holds libbbo_random.so
  FrozenTrial t;
  t.number = 0;
  std::mt19937_64 rng(1);
  SampleContext ctx{view, t, rng};
  double v = s->sample_independent(ctx, "x", FloatDistribution{0, 1, false, std::nullopt});
  EXPECT_GE(v, 0.0);
  EXPECT_LT(v, 1.0);
  s.reset();
}

TEST(PluginRegistry, SameFileNameInTwoFoldersFirstWins) {
  fs::path root = fs::path(::testing::TempDir()) / ("bbo_plugin_dirs_" + std::to_string(::getpid()));
  fs::create_directories(root / "a");
  fs::create_directories(root / "b");
  fs::copy_file(kPluginDir + "/libbbo_random.so", root / "a" / "libbbo_random.so",
                fs::copy_options::overwrite_existing);
  fs::copy_file(kPluginDir + "/libbbo_random.so", root / "b" / "libbbo_random.so",
                fs::copy_options::overwrite_existing);
  {
    PluginRegistry reg({(root / "a").string(), (root / "b").string()});
    EXPECT_TRUE(reg.failures().empty());
    ASSERT_EQ(reg.list().size(), 1u);
    EXPECT_EQ(fs::path(reg.list()[0].path).parent_path().filename(), "a");
  }
  fs::remove_all(root);
}

TEST(PluginRegistry, ScanRecordsEveryBrokenLibraryAndKeepsTheRest) {
  PluginRegistry reg({kBrokenDir});
  std::vector<PluginLoadFailure> failures = reg.failures();  // the scan never throws
  std::vector<std::string> failed;
  for (const auto& f : failures) failed.push_back(fs::path(f.path).filename().string());
  std::sort(failed.begin(), failed.end());
  EXPECT_EQ(failed, (std::vector<std::string>{"libbbo_broken_dup_b.so", "libbbo_broken_dup_c.so",
                                              "libbbo_broken_empty_name.so", "libbbo_broken_no_symbol.so",
                                              "libbbo_broken_null_factory.so", "libbbo_broken_null_manifest.so",
                                              "libbbo_broken_wrong_abi.so", "libbbo_broken_wrong_tag.so",
                                              "libbbo_garbage.so"}));
  auto strategies = names(reg, PluginKind::kStrategy);
  std::sort(strategies.begin(), strategies.end());
  // dup_a and throwing load; nothing of the refused libraries is registered (not even dup_b's fresh name or
  // empty_name's valid first entry).
  EXPECT_EQ(strategies, (std::vector<std::string>{"dup", "throwing"}));
  EXPECT_TRUE(names(reg, PluginKind::kPruner).empty());
}

TEST(PluginRegistry, MissingEntrySymbol) {
  PluginRegistry reg({});
  try {
    reg.load_library(broken("broken_no_symbol"));
    FAIL() << "no error";
  } catch (const PluginError& e) {
    EXPECT_TRUE(contains_text(e.what(), "libbbo_broken_no_symbol.so: bbo_plugin_manifest: entry symbol not found"))
        << e.what();
  }
  PluginLoadFailure f = failure_for(reg, broken("broken_no_symbol"));
  EXPECT_EQ(f.symbol, "bbo_plugin_manifest");
  EXPECT_TRUE(contains_text(f.reason, "entry symbol not found"));
  EXPECT_TRUE(fs::path(f.path).is_absolute());
}

TEST(PluginRegistry, NullManifest) {
  PluginRegistry reg({});
  EXPECT_THROW(reg.load_library(broken("broken_null_manifest")), PluginError);
  EXPECT_TRUE(contains_text(failure_for(reg, broken("broken_null_manifest")).reason, "returned no manifest"));
}

TEST(PluginRegistry, WrongAbiVersion) {
  PluginRegistry reg({});
  EXPECT_THROW(reg.load_library(broken("broken_wrong_abi")), PluginError);
  PluginLoadFailure f = failure_for(reg, broken("broken_wrong_abi"));
  EXPECT_EQ(f.reason, "ABI version 999 differs from the host's 1");
  EXPECT_TRUE(reg.list().empty());
}

TEST(PluginRegistry, WrongBuildTag) {
  PluginRegistry reg({});
  EXPECT_THROW(reg.load_library(broken("broken_wrong_tag")), PluginError);
  PluginLoadFailure f = failure_for(reg, broken("broken_wrong_tag"));
  EXPECT_TRUE(contains_text(f.reason, "build tag 'bbo0/clang99.0/other' differs from the host's 'bbo0/gcc"))
      << f.reason;
  EXPECT_TRUE(reg.list().empty());
}

TEST(PluginRegistry, DuplicateNameRefusesTheWholeLaterLibrary) {
  PluginRegistry reg({});
  reg.load_library(broken("broken_dup_a"));
  try {
    reg.load_library(broken("broken_dup_b"));
    FAIL() << "no error";
  } catch (const PluginError& e) {
    EXPECT_TRUE(contains_text(e.what(), "duplicate strategy name 'dup': already registered by ")) << e.what();
    EXPECT_TRUE(contains_text(e.what(), "libbbo_broken_dup_a.so")) << e.what();
  }
  EXPECT_THROW(reg.load_library(broken("broken_dup_c")), PluginError);  // through an alias
  EXPECT_TRUE(contains_text(failure_for(reg, broken("broken_dup_c")).reason, "'dup_alias'"));
  EXPECT_EQ(names(reg, PluginKind::kStrategy), std::vector<std::string>{"dup"});
  EXPECT_THROW(reg.make_strategy("dup_b_only"), PluginError);
  EXPECT_NE(reg.make_strategy("dup_alias"), nullptr);
  // Loading an accepted library again is a no-op, not a duplicate.
  EXPECT_NO_THROW(reg.load_library(broken("broken_dup_a")));
}

TEST(PluginRegistry, DuplicateOfABuiltPluginIsRefused) {
  PluginRegistry reg({kPluginDir});
  fs::path root = fs::path(::testing::TempDir()) / ("bbo_plugin_dup_" + std::to_string(::getpid()));
  fs::create_directories(root);
  fs::copy_file(kPluginDir + "/libbbo_random.so", root / "libbbo_random_copy.so",
                fs::copy_options::overwrite_existing);
  EXPECT_THROW(reg.load_library((root / "libbbo_random_copy.so").string()), PluginError);
  EXPECT_TRUE(contains_text(failure_for(reg, (root / "libbbo_random_copy.so").string()).reason,
                            "duplicate strategy name 'random'"));
  EXPECT_NE(reg.make_strategy("random"), nullptr);
  fs::remove_all(root);
}

TEST(PluginRegistry, MalformedManifests) {
  PluginRegistry reg({});
  EXPECT_THROW(reg.load_library(broken("broken_empty_name")), PluginError);
  EXPECT_EQ(failure_for(reg, broken("broken_empty_name")).reason, "malformed manifest: entry 1 has an empty name");
  EXPECT_THROW(reg.load_library(broken("broken_null_factory")), PluginError);
  EXPECT_EQ(failure_for(reg, broken("broken_null_factory")).reason,
            "malformed manifest: entry 0 'null_factory' has no factory");
  EXPECT_TRUE(reg.list().empty());
}

TEST(PluginRegistry, NotASharedLibrary) {
  PluginRegistry reg({});
  try {
    reg.load_library(kBrokenDir + "/libbbo_garbage.so");
    FAIL() << "no error";
  } catch (const PluginError& e) {
    EXPECT_TRUE(contains_text(e.what(), "libbbo_garbage.so: cannot load library: ")) << e.what();
  }
  PluginLoadFailure f = failure_for(reg, kBrokenDir + "/libbbo_garbage.so");
  EXPECT_EQ(f.symbol, "");
  EXPECT_THROW(reg.load_library(kBrokenDir + "/libbbo_does_not_exist.so"), PluginError);
}

TEST(PluginRegistry, ThrowingFactoryBecomesPluginError) {
  PluginRegistry reg({});
  reg.load_library(broken("broken_throwing"));
  try {
    reg.make_strategy("throwing");
    FAIL() << "no error";
  } catch (const PluginError& e) {
    std::string m = e.what();
    EXPECT_TRUE(contains_text(m, "plugin 'throwing' (")) << m;
    EXPECT_TRUE(contains_text(m, "libbbo_broken_throwing.so): factory failed: boom")) << m;
  }
  // A ConfigError from the factory (a parameter value it rejects) stays a ConfigError.
  EXPECT_THROW(reg.make_strategy("throwing", {{"config_error", true}}), ConfigError);
}

TEST(PluginRegistry, ConcurrentFirstUseScansOnce) {
  PluginRegistry reg({kPluginDir, kBrokenDir});
  std::vector<std::thread> threads;
  std::vector<size_t> counts(8);
  for (size_t k = 0; k < counts.size(); ++k)
    threads.emplace_back([&, k] {
      auto s = reg.make_strategy(k % 2 ? "random" : "sobol");
      counts[k] = reg.list().size();
    });
  for (auto& t : threads) t.join();
  for (size_t c : counts) EXPECT_EQ(c, counts[0]);
  size_t n_failures = reg.failures().size();
  EXPECT_EQ(n_failures, 9u);
}

}  // namespace
}  // namespace bbo

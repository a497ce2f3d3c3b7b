// `bbo plot` end to end: the built binary against an SQLite study written through the storage API; SVG and
// PNG files, SVG on stdout, and the one-line errors with their exit codes (docs/cli.md).
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "bbo/error.h"
#include "bbo/storage.h"
#include "tests/cli/child_harness.h"

namespace {

namespace fs = std::filesystem;
using bbo::testing::ChildResult;

class PlotCliTest : public bbo::testing::TempDirTest {
 protected:
  ChildResult bbo(std::vector<std::string> args) {
    std::vector<std::string> argv = {BBO_CLI_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--storage");
    argv.push_back(url_);
    const fs::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    const pid_t pid = bbo::testing::spawn_captured(
        argv, [](const std::string& kv) { return kv.rfind("BBO_STORAGE=", 0) == 0; }, {}, out, err);
    if (pid < 0) ADD_FAILURE() << "posix_spawn failed";
    return bbo::testing::wait_captured(pid, out, err);
  }

  // A study `name` with n COMPLETE trials over x in [-5, 5] and lr (log) and a learning curve each.
  void make_study(const std::string& name, std::vector<bbo::Direction> dirs, int n) {
    auto storage = bbo::open_storage(url_);
    const int64_t id = storage->create_study(name, dirs, bbo::json::object());
    const int64_t t0 = 1'700'000'000'000'000;
    for (int i = 0; i < n; ++i) {
      bbo::FrozenTrial t;
      t.state = bbo::TrialState::kComplete;
      const double x = -5 + 10.0 * ((i * 37) % 100) / 100.0, lr = std::pow(10.0, -5 + 4.0 * ((i * 61) % 100) / 100.0);
      t.params = {{"x", x}, {"lr", lr}};
      t.distributions = {{"x", bbo::FloatDistribution{-5, 5, false, std::nullopt}},
                         {"lr", bbo::FloatDistribution{1e-5, 0.1, true, std::nullopt}}};
      for (std::size_t k = 0; k < dirs.size(); ++k) t.values.push_back(k == 0 ? (x - 1) * (x - 1) : std::fabs(x + 2));
      for (int64_t s = 0; s < 5; ++s) t.intermediate_values[{s, 0}] = t.values[0] + 1.0 / static_cast<double>(s + 1);
      t.datetime_start_us = t0 + i * 1'000'000;
      t.datetime_complete_us = t0 + i * 1'000'000 + 800'000;
      storage->create_trial(id, &t);
    }
  }

  static void expect_one_line_error(const ChildResult& r, int code, const std::string& needle) {
    EXPECT_EQ(r.code, code) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(r.err.rfind("bbo: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << r.err;
    ASSERT_FALSE(r.err.empty());
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  }
};

TEST_F(PlotCliTest, WritesEveryKindAsSvg) {
  make_study("mo", {bbo::Direction::kMinimize, bbo::Direction::kMaximize}, 25);
  for (const char* kind : {"history", "slice", "contour", "parallel", "importance", "pareto", "intermediate", "timeline"}) {
    SCOPED_TRACE(kind);
    const fs::path out = dir_ / (std::string(kind) + ".svg");
    const ChildResult r = bbo({"plot", kind, "--study", "mo", "-o", out.string()});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("Wrote the " + std::string(kind) + " plot of study 'mo' (25 trials)"), std::string::npos) << r.err;
    const std::string svg = bbo::testing::read_text_file(out);
    EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
    EXPECT_NE(svg.find("<svg xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
    EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  }
}

TEST_F(PlotCliTest, OptionsReachThePlot) {
  make_study("s", {bbo::Direction::kMinimize, bbo::Direction::kMaximize}, 12);
  ChildResult r = bbo({"plot", "history", "--study", "s", "-o", "-", "--objective", "1", "--width", "640", "--height", "300"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("width=\"640\" height=\"300\""), std::string::npos);
  EXPECT_NE(r.out.find(">objective 1 (maximize)<"), std::string::npos);
  r = bbo({"plot", "slice", "--study", "s", "-o", "-", "--params", "lr"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find(">lr (log)<"), std::string::npos);
  EXPECT_EQ(r.out.find(">x<"), std::string::npos);  // only the requested param
  r = bbo({"plot", "contour", "--study", "s", "-o", "-", "--params", "lr,x"});
  ASSERT_EQ(r.code, 0) << r.err;
}

TEST_F(PlotCliTest, WritesPng) {
  make_study("s", {bbo::Direction::kMinimize}, 15);
  const fs::path out = dir_ / "history.PNG";
  const ChildResult r = bbo({"plot", "history", "--study", "s", "-o", out.string()});
  if (r.code != 0 && r.err.find("without PNG support") != std::string::npos) GTEST_SKIP() << r.err;
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string png = bbo::testing::read_text_file(out);
  ASSERT_GT(png.size(), 100u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST_F(PlotCliTest, Errors) {
  make_study("single", {bbo::Direction::kMinimize}, 5);
  const std::string svg = (dir_ / "x.svg").string();
  expect_one_line_error(bbo({"plot", "histogram", "--study", "single", "-o", svg}), bbo::kExitUsage,
                        "unknown plot kind 'histogram' (kinds: history, slice, contour, parallel, importance, pareto, "
                        "intermediate, timeline)");
  expect_one_line_error(bbo({"plot", "history", "--study", "single", "-o", (dir_ / "x.pdf").string()}),
                        bbo::kExitUsage, "must end in .svg or .png");
  expect_one_line_error(bbo({"plot", "history", "--study", "nope", "-o", svg}), bbo::kExitNotFound, "nope");
  expect_one_line_error(bbo({"plot", "slice", "--study", "single", "-o", svg, "--params", "x,zz"}), bbo::kExitConfig,
                        "unknown param 'zz' in study 'single' (params: lr, x)");
  expect_one_line_error(bbo({"plot", "pareto", "--study", "single", "-o", svg}), bbo::kExitConfig,
                        "pareto needs a study with 2 or 3 objectives");
  expect_one_line_error(bbo({"plot", "history", "--study", "single", "-o", svg, "--objective", "2"}), bbo::kExitConfig,
                        "objective 2 is out of range");
  expect_one_line_error(bbo({"plot", "history", "--study", "single"}), bbo::kExitUsage, "--output");
  expect_one_line_error(bbo({"plot", "history", "--study", "single", "-o", (dir_ / "no_dir" / "x.svg").string()}),
                        bbo::kExitConfig, "cannot write");
  EXPECT_FALSE(fs::exists(svg));  // no failed command wrote the file
}

}  // namespace

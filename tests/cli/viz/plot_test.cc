// bbo_viz's plot kinds on studies built in memory: every kind renders a well-formed SVG with its expected
// elements; best-so-far is monotone and ends at the brute-force best; log params get log axes; the Pareto
// front matches a brute-force front; 50,000 trials render quickly into a bounded SVG; errors are one-line
// ValueErrors; output is deterministic; PNG bytes carry the PNG signature.
#include "viz/plot.h"

#include <chrono>
#include <cmath>
#include <random>
#include <set>

#include <gtest/gtest.h>

#include "bbo/error.h"
#include "tests/cli/viz/svg_check.h"

namespace bbo::viz {
namespace {

using bbo::testing::parse_svg;
using bbo::testing::polyline_points;
using bbo::testing::SvgParse;

StudyInfo make_study(std::vector<Direction> dirs, const std::string& name = "demo") {
  StudyInfo s;
  s.id = 1;
  s.name = name;
  s.directions = std::move(dirs);
  return s;
}

const Distribution kX = FloatDistribution{-5, 5, false, std::nullopt};
const Distribution kLr = FloatDistribution{1e-5, 1e-1, true, std::nullopt};
const Distribution kAct = CategoricalDistribution{{std::string("relu"), std::string("tanh"), std::string("gelu")}};
const Distribution kLayers = IntDistribution{1, 8, false, 1};

// n trials over x, lr, act, layers; value = (x-1)^2 + 0.1*|log10(lr)+3| + act bonus; every 7th PRUNED with a
// learning curve, every 11th FAIL; `n_obj` objectives (the second and third conflict with the first).
std::vector<FrozenTrial> make_trials(std::size_t n, std::size_t n_obj = 1, uint64_t seed = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  std::vector<FrozenTrial> out;
  out.reserve(n);
  const int64_t t0 = 1'700'000'000'000'000;
  for (std::size_t i = 0; i < n; ++i) {
    FrozenTrial t;
    t.id = static_cast<int64_t>(i) + 1;
    t.study_id = 1;
    t.number = static_cast<int64_t>(i);
    const double x = -5 + 10 * u(rng), lr = std::pow(10.0, -5 + 4 * u(rng));
    const double act = std::floor(3 * u(rng)), layers = 1 + std::floor(8 * u(rng));
    t.params = {{"x", x}, {"lr", lr}, {"act", act}, {"layers", layers}};
    t.distributions = {{"x", kX}, {"lr", kLr}, {"act", kAct}, {"layers", kLayers}};
    const double f = (x - 1) * (x - 1) + 0.1 * std::fabs(std::log10(lr) + 3) + 0.5 * act;
    t.state = i % 11 == 10 ? TrialState::kFail : i % 7 == 6 ? TrialState::kPruned : TrialState::kComplete;
    if (t.state == TrialState::kComplete) {
      t.values = {f};
      if (n_obj >= 2) t.values.push_back(std::fabs(x + 2) + 0.2 * u(rng));
      if (n_obj >= 3) t.values.push_back(layers + u(rng));
    }
    if (i % 3 == 0 || t.state == TrialState::kPruned)
      for (int64_t s = 0; s < (t.state == TrialState::kPruned ? 3 : 10); ++s)
        t.intermediate_values[{s, 0}] = f + 5.0 / static_cast<double>(s + 1);
    t.datetime_start_us = t0 + static_cast<int64_t>(i) * 400'000;  // 4 workers' worth of overlap
    t.datetime_complete_us = *t.datetime_start_us + 1'500'000 + static_cast<int64_t>(u(rng) * 300'000);
    out.push_back(std::move(t));
  }
  return out;
}

PlotOptions objective_opt(int k) {
  PlotOptions o;
  o.objective = k;
  return o;
}

PlotOptions size_opt(int w, int h) {
  PlotOptions o;
  o.width = w, o.height = h;
  return o;
}

SvgParse render_ok(const std::string& kind, const StudyInfo& s, const std::vector<FrozenTrial>& trials,
                   const PlotOptions& o = {}) {
  const std::string svg = render_svg(kind, s, trials, o);
  SvgParse p = parse_svg(svg);
  EXPECT_TRUE(p.ok) << kind << ": " << p.error;
  return p;
}

bool has_text(const SvgParse& p, const std::string& t) {
  for (const auto& s : p.texts())
    if (s == t) return true;
  return false;
}

bool has_text_containing(const SvgParse& p, const std::string& t) {
  for (const auto& s : p.texts())
    if (s.find(t) != std::string::npos) return true;
  return false;
}

TEST(VizPlotKinds, ListsTheEightKinds) {
  EXPECT_EQ(plot_kinds(), (std::vector<std::string>{"history", "slice", "contour", "parallel", "importance", "pareto",
                                                    "intermediate", "timeline"}));
}

TEST(VizPlotKinds, EverySingleObjectiveKindRendersWellFormedSvg) {
  const auto s = make_study({Direction::kMinimize});
  const auto trials = make_trials(60);
  for (const auto& kind : plot_kinds()) {
    if (kind == "pareto") continue;
    SCOPED_TRACE(kind);
    const SvgParse p = render_ok(kind, s, trials);
    EXPECT_GT(p.count("text"), 3u);
    EXPECT_TRUE(has_text_containing(p, "demo"));  // the title names the study
  }
}

TEST(VizHistory, BestSoFarIsMonotoneAndEndsAtTheBest) {
  for (Direction d : {Direction::kMinimize, Direction::kMaximize}) {
    const auto s = make_study({d});
    const auto trials = make_trials(200);
    const SvgParse p = render_ok("history", s, trials);
    const auto lines = p.with("polyline", "class", "best-so-far");
    ASSERT_EQ(lines.size(), 1u);
    const auto pts = polyline_points(*lines[0]);
    ASSERT_GE(pts.size(), 2u);
    for (std::size_t i = 1; i < pts.size(); ++i) {
      EXPECT_GE(pts[i].first, pts[i - 1].first);  // trial numbers ascend
      // SVG y grows downwards: a falling minimum moves down, a rising maximum up.
      if (d == Direction::kMinimize) EXPECT_GE(pts[i].second, pts[i - 1].second);
      else EXPECT_LE(pts[i].second, pts[i - 1].second);
    }
    double best = d == Direction::kMinimize ? INFINITY : -INFINITY;
    int64_t best_n = -1;
    for (const auto& t : trials)
      if (t.state == TrialState::kComplete &&
          (d == Direction::kMinimize ? t.values[0] < best : t.values[0] > best))
        best = t.values[0], best_n = t.number;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", best);
    EXPECT_TRUE(has_text_containing(p, std::string("best ") + buf + " (trial " + std::to_string(best_n) + ")"));
    // One circle per COMPLETE trial.
    std::size_t complete = 0;
    for (const auto& t : trials) complete += t.state == TrialState::kComplete;
    EXPECT_EQ(p.inside("trials", "circle").size(), complete);
  }
}

TEST(VizHistory, UsesTheStudysMetricNames) {
  auto s = make_study({Direction::kMaximize});
  s.system_attrs["metric_names"] = json::array({"accuracy"});
  const SvgParse p = render_ok("history", s, make_trials(20));
  EXPECT_TRUE(has_text(p, "accuracy (maximize)"));
}

TEST(VizSlice, LogParamGetsALogAxis) {
  const auto s = make_study({Direction::kMinimize});
  const SvgParse p = render_ok("slice", s, make_trials(80), {.params = {"lr"}});
  EXPECT_TRUE(has_text(p, "lr (log)"));
  // Decade ticks 1e-5 .. 0.1; a linear axis over [0, 0.1] would have none of the small ones.
  for (const char* t : {"1e-05", "0.0001", "0.001", "0.01", "0.1"}) EXPECT_TRUE(has_text(p, t)) << t;
  // The linear param's axis has linear ticks.
  const SvgParse q = render_ok("slice", s, make_trials(80), {.params = {"x"}});
  EXPECT_TRUE(has_text(q, "x"));
  for (const char* t : {"-4", "-2", "0", "2", "4"}) EXPECT_TRUE(has_text(q, t)) << t;
}

TEST(VizSlice, OnePanelPerParamAndCategoricalBands) {
  const auto s = make_study({Direction::kMinimize});
  const auto trials = make_trials(50);
  const SvgParse p = render_ok("slice", s, trials);
  std::set<std::string> panels;
  for (const auto& e : p.elements)
    if (e.name == "g" && e.attrs.count("data-param")) panels.insert(e.attrs.at("data-param"));
  EXPECT_EQ(panels, (std::set<std::string>{"act", "layers", "lr", "x"}));
  for (const char* c : {"relu", "tanh", "gelu"}) EXPECT_TRUE(has_text(p, c)) << c;
}

TEST(VizContour, GridOfCellsWithTrialsAndBest) {
  const auto s = make_study({Direction::kMinimize});
  const SvgParse p = render_ok("contour", s, make_trials(120), {.params = {"x", "lr"}});
  EXPECT_EQ(p.inside("grid", "rect").size(), 48u * 48u);
  EXPECT_GT(p.inside("trials", "circle").size(), 50u);
  EXPECT_EQ(p.with("circle", "class", "best").size(), 1u);
  EXPECT_TRUE(has_text(p, "lr (log)"));
  // A categorical axis has one band of cells per choice.
  const SvgParse q = render_ok("contour", s, make_trials(120), {.params = {"act", "x"}});
  EXPECT_EQ(q.inside("grid", "rect").size(), 3u * 48u);
}

TEST(VizParallel, OneLinePerTrialAndAnAxisPerParam) {
  const auto s = make_study({Direction::kMinimize});
  const auto trials = make_trials(70);
  const SvgParse p = render_ok("parallel", s, trials, {.params = {"x", "act"}});
  std::size_t complete = 0;
  for (const auto& t : trials) complete += t.state == TrialState::kComplete;
  EXPECT_EQ(p.inside("lines", "polyline").size(), complete);
  for (const auto* e : p.inside("lines", "polyline")) EXPECT_EQ(polyline_points(*e).size(), 3u);
  EXPECT_TRUE(has_text(p, "value"));
  EXPECT_TRUE(has_text(p, "act"));
}

TEST(VizImportance, RanksTheParamThatMatters) {
  const auto s = make_study({Direction::kMinimize});
  const SvgParse p = render_ok("importance", s, make_trials(300));
  const auto bars = p.inside("bars", "rect");
  ASSERT_EQ(bars.size(), 4u);
  // The value depends mostly on x: its bar comes first (top) and is the longest.
  EXPECT_EQ(bars[0]->attrs.at("data-param"), "x");
  for (const auto* b : bars) EXPECT_LE(std::stod(b->attrs.at("width")), std::stod(bars[0]->attrs.at("width")));
}

TEST(VizIntermediate, OneCurvePerTrialWithValues) {
  const auto s = make_study({Direction::kMinimize});
  const auto trials = make_trials(40);
  std::size_t with = 0;
  for (const auto& t : trials) with += !t.intermediate_values.empty();
  const SvgParse p = render_ok("intermediate", s, trials);
  EXPECT_EQ(p.inside("curves", "polyline").size(), with);
  EXPECT_TRUE(has_text_containing(p, "PRUNED ("));
}

TEST(VizTimeline, RowsPerWorkerWhenRecordedElseSlots) {
  const auto s = make_study({Direction::kMinimize});
  auto trials = make_trials(100);
  // Without worker attrs: packed into concurrent slots (starts every 0.4 s, ~1.65 s long: at most 5 at once).
  SvgParse p = render_ok("timeline", s, trials);
  EXPECT_TRUE(has_text(p, "concurrent slot"));
  EXPECT_TRUE(has_text(p, "slot 0"));
  EXPECT_FALSE(has_text(p, "slot 5"));
  EXPECT_EQ(p.inside("bars", "rect").size(), trials.size());
  for (auto& t : trials) t.system_attrs["hostname"] = t.number % 2 ? "alpha" : "beta";
  p = render_ok("timeline", s, trials);
  EXPECT_TRUE(has_text(p, "worker"));
  EXPECT_TRUE(has_text(p, "alpha"));
  EXPECT_TRUE(has_text(p, "beta"));
  // Few trials: one row per trial.
  p = render_ok("timeline", s, make_trials(10));
  EXPECT_TRUE(has_text(p, "#9"));
}

// Brute-force non-domination (all objectives minimized after flipping maximized ones).
std::size_t brute_front_size(const std::vector<FrozenTrial>& trials, const std::vector<Direction>& dirs) {
  std::vector<std::vector<double>> pts;
  for (const auto& t : trials) {
    if (t.state != TrialState::kComplete) continue;
    std::vector<double> p;
    for (std::size_t j = 0; j < dirs.size(); ++j) p.push_back(dirs[j] == Direction::kMaximize ? -t.values[j] : t.values[j]);
    pts.push_back(p);
  }
  std::size_t n = 0;
  for (std::size_t i = 0; i < pts.size(); ++i) {
    bool dominated = false;
    for (std::size_t j = 0; j < pts.size() && !dominated; ++j) {
      bool le = true, lt = false;
      for (std::size_t k = 0; k < pts[i].size(); ++k) le = le && pts[j][k] <= pts[i][k], lt = lt || pts[j][k] < pts[i][k];
      dominated = le && lt;
    }
    n += !dominated;
  }
  return n;
}

TEST(VizPareto, FrontMatchesBruteForceForTwoAndThreeObjectives) {
  for (std::size_t n_obj : {2u, 3u}) {
    for (Direction d : {Direction::kMinimize, Direction::kMaximize}) {
      std::vector<Direction> dirs(n_obj, Direction::kMinimize);
      dirs[1] = d;
      const auto s = make_study(dirs);
      const auto trials = make_trials(300, n_obj, 5 + n_obj);
      const SvgParse p = render_ok("pareto", s, trials);
      const std::size_t panels = n_obj == 2 ? 1 : 3;
      const std::size_t front = brute_front_size(trials, dirs);
      EXPECT_EQ(p.inside("front", "circle").size(), panels * front) << n_obj << " objectives";
      EXPECT_TRUE(has_text_containing(p, "Pareto front (" + std::to_string(front) + ")"));
    }
  }
}

TEST(VizPareto, DuplicatePointsAreAllOnTheFront) {
  const auto s = make_study({Direction::kMinimize, Direction::kMinimize});
  auto trials = make_trials(3, 2);
  for (auto& t : trials) t.state = TrialState::kComplete, t.values = {1, 2};
  const SvgParse p = render_ok("pareto", s, trials);
  EXPECT_EQ(p.inside("front", "circle").size(), 3u);
}

TEST(VizErrors, OneLineValueErrors) {
  const auto s1 = make_study({Direction::kMinimize});
  const auto trials = make_trials(30);
  auto expect_error = [&](const std::string& kind, const StudyInfo& s, const std::vector<FrozenTrial>& ts,
                          const PlotOptions& o, const std::string& needle) {
    try {
      render_svg(kind, s, ts, o);
      ADD_FAILURE() << kind << ": no error (expected '" << needle << "')";
    } catch (const ValueError& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(needle), std::string::npos) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
  };
  expect_error("histogram", s1, trials, {}, "unknown plot kind 'histogram' (kinds: history, slice");
  expect_error("pareto", s1, trials, {}, "pareto needs a study with 2 or 3 objectives; study 'demo' has 1");
  const auto s4 = make_study(std::vector<Direction>(4, Direction::kMinimize));
  expect_error("pareto", s4, trials, {}, "has 4");
  expect_error("contour", s1, trials, {.params = {"x"}}, "contour needs exactly two params (got 1: x)");
  expect_error("slice", s1, trials, {.params = {"nope"}}, "unknown param 'nope' in study 'demo' (params: act, layers, lr, x)");
  expect_error("history", s1, trials, objective_opt(1), "objective 1 is out of range");
  std::vector<FrozenTrial> failed = trials;
  for (auto& t : failed) t.state = TrialState::kFail, t.values.clear();
  for (const char* kind : {"history", "slice", "contour", "parallel", "importance"})
    expect_error(kind, s1, failed, {}, "has no COMPLETE trial");
  expect_error("history", s1, {}, {}, "has no COMPLETE trial");
  std::vector<FrozenTrial> no_curves = trials;
  for (auto& t : no_curves) t.intermediate_values.clear();
  expect_error("intermediate", s1, no_curves, {}, "has no intermediate values");
  std::vector<FrozenTrial> one_param = trials;
  for (auto& t : one_param) {
    t.params = {{"x", t.params.at("x")}};
    t.distributions = {{"x", kX}};
  }
  expect_error("contour", s1, one_param, {}, "contour needs two params; study 'demo' has 1 (x)");
  expect_error("timeline", s1, {}, {}, "has no started trial");
  expect_error("history", s1, trials, size_opt(-3, 0), "plot size must be positive");
}

TEST(VizRender, DeterministicAndSized) {
  const auto s = make_study({Direction::kMinimize, Direction::kMaximize});
  const auto trials = make_trials(150, 2);
  for (const auto& kind : plot_kinds()) {
    SCOPED_TRACE(kind);
    EXPECT_EQ(render_svg(kind, s, trials), render_svg(kind, s, trials));
    const SvgParse p = render_ok(kind, s, trials, size_opt(500, 333));
    ASSERT_FALSE(p.elements.empty());
    EXPECT_EQ(p.elements[0].attrs.at("width"), "500");
    EXPECT_EQ(p.elements[0].attrs.at("height"), "333");
  }
}

TEST(VizRender, TinyBudgetsAndSizesStillDraw) {
  const auto s = make_study({Direction::kMinimize, Direction::kMinimize});
  const auto trials = make_trials(120, 2);
  for (const auto& kind : plot_kinds()) {
    SCOPED_TRACE(kind);
    for (std::size_t m : {0u, 1u, 10u}) {
      PlotOptions o;
      o.max_points = m;
      const SvgParse p = render_ok(kind, s, trials, o);
      EXPECT_LT(p.elements.size(), 3000u);
    }
    render_ok(kind, s, trials, size_opt(1, 1));
  }
}

TEST(VizRender, FiftyThousandTrialsAreFastAndBounded) {
  const auto s = make_study({Direction::kMinimize, Direction::kMinimize});
  const auto trials = make_trials(50'000, 2);
  for (const auto& kind : plot_kinds()) {
    SCOPED_TRACE(kind);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string svg = render_svg(kind, s, trials);
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Well under a second on one core; generous for a loaded CI machine.
    EXPECT_LT(secs, 2.0);
    const SvgParse p = parse_svg(svg);
    ASSERT_TRUE(p.ok) << p.error;
    EXPECT_LT(p.elements.size(), 13'000u);
    EXPECT_LT(svg.size(), 2'500'000u);
    if (kind != "timeline") {
      EXPECT_TRUE(has_text_containing(p, "evenly subsampled"));
    } else {
      EXPECT_TRUE(has_text_containing(p, "each pixel column shows its most common state"));
    }
  }
}

TEST(VizPng, SignatureAndSize) {
  if (!png_supported()) {
    EXPECT_THROW(svg_to_png("<svg/>"), Error);
    GTEST_SKIP() << "built without librsvg";
  }
  const auto s = make_study({Direction::kMinimize});
  const std::string svg = render_svg("history", s, make_trials(30));
  const std::string png = svg_to_png(svg);
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  auto be32 = [](const std::string& bytes, std::size_t at) {
    unsigned v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(bytes[at + i]);
    return v;
  };
  EXPECT_EQ(be32(png, 16), 820u);  // IHDR width and height: the history default
  EXPECT_EQ(be32(png, 20), 460u);
  const std::string half = svg_to_png(svg, 410);  // the height follows the aspect ratio
  EXPECT_EQ(be32(half, 16), 410u);
  EXPECT_EQ(be32(half, 20), 230u);
  EXPECT_THROW(svg_to_png("not svg at all"), ValueError);
}

}  // namespace
}  // namespace bbo::viz

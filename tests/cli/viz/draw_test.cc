// The drawing layer of bbo_viz: nice ticks (against hand-worked d3 results and a brute-force property check),
// log ticks, tick labels, scale mapping, colours, escaping and the even subsample.
#include "viz/draw.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace bbo::viz {
namespace {

using V = std::vector<double>;

TEST(VizNiceTicks, MatchesHandWorkedExamples) {
  // Exact decimals: 0.6 is the double nearest 0.6, not 3 * 0.2.
  EXPECT_EQ(nice_ticks(0, 1, 5), (V{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  EXPECT_EQ(nice_ticks(0, 10, 10), (V{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  // span 15.9 / 5 = 3.18 >= sqrt(10): step 5.
  EXPECT_EQ(nice_ticks(-3.7, 12.2, 5), (V{0, 5, 10}));
  // 0.0085 / 4 = 0.002125: step 0.002.
  EXPECT_EQ(nice_ticks(0.001, 0.0095, 4), (V{0.002, 0.004, 0.006, 0.008}));
  EXPECT_EQ(nice_ticks(-1, 1, 4), (V{-1, -0.5, 0, 0.5, 1}));
  EXPECT_EQ(nice_ticks(1000, 5000, 4), (V{1000, 2000, 3000, 4000, 5000}));
  EXPECT_EQ(nice_ticks(3, 3, 5), (V{3}));
  EXPECT_EQ(nice_ticks(1, 0, 5), nice_ticks(0, 1, 5));  // reversed bounds
  EXPECT_TRUE(nice_ticks(0, INFINITY, 5).empty());
}

TEST(VizNiceTicks, PropertiesOnRandomRanges) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> mag(-6, 6), u(0, 1);
  for (int rep = 0; rep < 2000; ++rep) {
    const double scale = std::pow(10.0, mag(rng));
    const double lo = (u(rng) - 0.5) * scale, hi = lo + u(rng) * scale + 1e-300;
    const int count = 2 + static_cast<int>(u(rng) * 10);
    const V t = nice_ticks(lo, hi, count);
    const double step = nice_step(lo, hi, count);
    // The step is 1, 2 or 5 times a power of ten.
    const double mant = step / std::pow(10.0, std::floor(std::log10(step)));
    EXPECT_TRUE(std::fabs(mant - 1) < 1e-9 || std::fabs(mant - 2) < 1e-9 || std::fabs(mant - 5) < 1e-9) << step;
    ASSERT_FALSE(t.empty()) << lo << " " << hi;
    // Inside the range, evenly spaced by step, every tick a multiple of the step; about `count` of them.
    for (double v : t) {
      EXPECT_GE(v, lo);
      EXPECT_LE(v, hi);
      EXPECT_NEAR(v / step, std::round(v / step), 1e-6);
    }
    for (std::size_t i = 1; i < t.size(); ++i) EXPECT_NEAR(t[i] - t[i - 1], step, step * 1e-9);
    EXPECT_LE(t.size(), static_cast<std::size_t>(2.5 * count) + 1);
    EXPECT_GE(t.size() + 1, static_cast<std::size_t>(count / 2.5));
  }
}

TEST(VizNiceDomain, WidensToTicks) {
  EXPECT_EQ(nice_domain(0.13, 0.97, 5), (std::pair<double, double>{0, 1}));
  EXPECT_EQ(nice_domain(-3.7, 12.2, 5), (std::pair<double, double>{-5, 15}));
  EXPECT_EQ(nice_domain(2, 2, 5), (std::pair<double, double>{2, 2}));
}

TEST(VizLogTicks, DecadesAndOneTwoFive) {
  EXPECT_EQ(log_ticks(1e-5, 1e2, 10), (V{1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10, 100}));
  // 8 decades for 3 ticks: every third decade.
  EXPECT_EQ(log_ticks(1e-5, 1e2, 3), (V{1e-5, 1e-2, 10}));
  EXPECT_EQ(log_ticks(0.5, 2000, 10), (V{1, 10, 100, 1000}));
  // Less than two decades inside: 1-2-5 multiples.
  EXPECT_EQ(log_ticks(2, 30, 5), (V{2, 5, 10, 20}));
  EXPECT_EQ(log_ticks(0.003, 0.03, 5), (V{0.005, 0.01, 0.02}));
  // Too narrow even for those: linear nice ticks.
  EXPECT_EQ(log_ticks(1.1, 1.4, 3), nice_ticks(1.1, 1.4, 3));
}

TEST(VizFormatTick, DigitsFollowTheStep) {
  EXPECT_EQ(format_tick(0.6, 0.2), "0.6");
  EXPECT_EQ(format_tick(0.25, 0.05), "0.25");
  EXPECT_EQ(format_tick(1500, 500), "1500");
  EXPECT_EQ(format_tick(0, 0.1), "0");
  EXPECT_EQ(format_tick(-2, 1), "-2");
  EXPECT_EQ(format_tick(1e-5, 1e-5), "1e-05");
  EXPECT_EQ(format_tick(0.001, 0.001), "0.001");
  EXPECT_EQ(format_tick(2.5e6, 5e5), "2.5e+06");
  EXPECT_EQ(format_number(INFINITY), "inf");
  EXPECT_EQ(format_number(NAN), "nan");
  EXPECT_EQ(format_number(3.14159), "3.142");
}

TEST(VizScale, MapsLinearLogAndBand) {
  const Scale lin = Scale::linear(0, 10, 100, 200);
  EXPECT_DOUBLE_EQ(lin(5), 150);
  EXPECT_DOUBLE_EQ(lin(0), 100);
  EXPECT_DOUBLE_EQ(Scale::linear(0, 10, 200, 100)(2), 180);  // inverted (y axes)
  const Scale lg = Scale::log(1, 100, 0, 200);
  EXPECT_DOUBLE_EQ(lg(10), 100);
  EXPECT_DOUBLE_EQ(lg(100), 200);
  EXPECT_NEAR(lg(std::sqrt(10.0)), 50, 1e-9);
  EXPECT_EQ(lg.ticks(5), (V{1, 10, 100}));
  EXPECT_EQ(lg.tick_label(0.001, 5), "0.001");
  const Scale band = Scale::band({"a", "b", "c", "d"}, 0, 100);
  EXPECT_DOUBLE_EQ(band(1), 37.5);
  EXPECT_DOUBLE_EQ(band.bandwidth(), 25);
  EXPECT_EQ(band.ticks(10), (V{0, 1, 2, 3}));
  EXPECT_EQ(band.ticks(2), (V{0, 2}));
  EXPECT_EQ(band.tick_label(2, 10), "c");
  const Scale n = Scale::linear(0.13, 0.97, 0, 1).nice(5);
  EXPECT_EQ(n.d0(), 0);
  EXPECT_EQ(n.d1(), 1);
  const Scale nl = Scale::log(2e-5, 0.08, 0, 1).nice(5);
  EXPECT_DOUBLE_EQ(nl.d0(), 1e-5);
  EXPECT_DOUBLE_EQ(nl.d1(), 0.1);
}

TEST(VizAutoScale, PadsAndPicksLog) {
  const Scale s = auto_scale(0, 10, false, 0, 100, 6);
  EXPECT_EQ(s.kind(), Scale::Kind::kLinear);
  EXPECT_DOUBLE_EQ(s.d0(), -0.5);
  EXPECT_DOUBLE_EQ(s.d1(), 10.5);
  const Scale l = auto_scale(1e-4, 1, true, 0, 100, 6);
  EXPECT_EQ(l.kind(), Scale::Kind::kLog);
  EXPECT_NEAR(std::log10(l.d0()), -4.2, 1e-12);
  EXPECT_NEAR(std::log10(l.d1()), 0.2, 1e-12);
  const Scale d = auto_scale(3, 3, false, 0, 100, 6);  // degenerate: still a usable range
  EXPECT_LT(d.d0(), 3);
  EXPECT_GT(d.d1(), 3);
}

TEST(VizColours, ViridisEndsAndClamping) {
  EXPECT_EQ(viridis(0), "#440154");
  EXPECT_EQ(viridis(1), "#fde725");
  EXPECT_EQ(viridis(-3), "#440154");
  EXPECT_EQ(viridis(7), "#fde725");
  EXPECT_EQ(viridis(NAN), "#440154");
  EXPECT_EQ(palette(0), palette(10));
  EXPECT_NE(palette(0), palette(1));
}

TEST(VizSvgWriter, EscapesAndCountsElements) {
  EXPECT_EQ(xml_escape("<a & 'b' \"c\">"), "&lt;a &amp; &apos;b&apos; &quot;c&quot;&gt;");
  EXPECT_EQ(fmt_px(NAN), "0");
  EXPECT_EQ(fmt_px(12.34), "12.3");
  EXPECT_EQ(fmt_px(3.0), "3");
  EXPECT_EQ(fmt_px(-0.04), "0");
  Svg svg(100, 50);
  svg.open_group("class=\"x\"");
  svg.text(1, 2, "a<b");
  svg.circle(1, 2, 3, "red", "", "tip & more");
  svg.finish();  // closes the group
  EXPECT_EQ(svg.elements(), 3u);  // background rect, text, circle
  Svg s2(10, 10);
  s2.text(0, 0, "x<y");
  const std::string doc = s2.finish();
  EXPECT_NE(doc.find(">x&lt;y</text>"), std::string::npos);
  EXPECT_NE(doc.find("width=\"10\""), std::string::npos);
}

TEST(VizEvenSubsample, SpreadsDeterministically) {
  EXPECT_EQ(even_subsample(10, 4), (std::vector<std::size_t>{0, 3, 6, 9}));
  EXPECT_EQ(even_subsample(3, 10), (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_TRUE(even_subsample(5, 0).empty());
  EXPECT_EQ(even_subsample(5, 1), (std::vector<std::size_t>{0}));
  std::mt19937_64 rng(3);
  for (int rep = 0; rep < 500; ++rep) {
    const std::size_t n = rng() % 100000 + 1, m = rng() % 6000 + 2;
    const auto s = even_subsample(n, m);
    ASSERT_EQ(s.size(), std::min(n, m));
    EXPECT_EQ(s.front(), 0u);
    EXPECT_EQ(s.back(), n - 1);
    for (std::size_t i = 1; i < s.size(); ++i) ASSERT_LT(s[i - 1], s[i]);
  }
}

}  // namespace
}  // namespace bbo::viz

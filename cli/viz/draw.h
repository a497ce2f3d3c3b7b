// cli/viz/draw.h — the small SVG drawing layer under the plots: tick generation, scales (linear, log, band),
// colour maps, an SVG writer with escaping, axes, colour bars and legends. Pure functions and value types;
// nothing here knows about studies.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

namespace bbo::viz {

// ---- ticks

// "Nice" ticks covering [lo, hi] with about `count` of them, like d3's ticks(): multiples of 1, 2 or 5 times
// a power of ten, inside [lo, hi], ascending. lo == hi gives {lo}; lo > hi is swapped. Values are exact
// decimal multiples (0.1 * 3 gives 0.3, not 0.30000000000000004).
std::vector<double> nice_ticks(double lo, double hi, int count);
// The step nice_ticks uses for [lo, hi] and count.
double nice_step(double lo, double hi, int count);
// [lo, hi] widened outwards to multiples of nice_step (a domain whose ends are ticks).
std::pair<double, double> nice_domain(double lo, double hi, int count);
// Ticks of a log axis over [lo, hi] (0 < lo <= hi): the powers of ten inside, every k-th decade when there are
// more than `count`; with fewer than two decades inside, 1-2-5 multiples; with fewer than two of those, the
// linear nice ticks.
std::vector<double> log_ticks(double lo, double hi, int count);

// A tick label: as few digits as the step needs ("0.25", "1500", "1e-05", "2.5e+06" for tiny or huge values).
std::string format_tick(double v, double step);
// A short label for any number (legend values, tooltips): up to 4 significant digits.
std::string format_number(double v);

// ---- scales

// Maps a data domain onto a pixel range. Linear, log10 (domain > 0) or band (categorical: n equal bands,
// value i maps to the centre of band i).
class Scale {
 public:
  enum class Kind { kLinear, kLog, kBand };
  static Scale linear(double d0, double d1, double r0, double r1);
  static Scale log(double d0, double d1, double r0, double r1);
  static Scale band(std::vector<std::string> labels, double r0, double r1);

  Kind kind() const { return kind_; }
  double operator()(double v) const;  // log: v <= 0 maps below the range start; band: v is the index
  double d0() const { return d0_; }
  double d1() const { return d1_; }
  double r0() const { return r0_; }
  double r1() const { return r1_; }
  const std::vector<std::string>& labels() const { return labels_; }
  double bandwidth() const;  // band: the width of one band in pixels; others 0

  // Tick positions in domain units (band: every index, thinned to at most `count`) and their labels.
  std::vector<double> ticks(int count) const;
  std::string tick_label(double v, int count) const;

  // Domain widened to nice ends (linear: nice_domain; log: whole decades when that at most doubles the span).
  Scale nice(int count) const;
  // A copy mapping onto another pixel range.
  Scale with_range(double r0, double r1) const;

 private:
  Kind kind_ = Kind::kLinear;
  double d0_ = 0, d1_ = 1, r0_ = 0, r1_ = 1;
  std::vector<std::string> labels_;
};

// A linear scale over [lo, hi] padded by 5% each side (a degenerate range gets +-1 or +-5%), or a log scale when
// `log` (lo > 0), padded by 5% in log space; both made nice.
Scale auto_scale(double lo, double hi, bool log, double r0, double r1, int ticks);

// ---- colours

// Viridis at t in [0, 1] (clamped), as "#rrggbb".
std::string viridis(double t);
// A categorical palette (Tableau 10), cycling.
std::string palette(std::size_t i);

// ---- SVG writer

// XML text escaping for element content and attribute values.
std::string xml_escape(const std::string& s);
// A coordinate with one decimal ("12.5", "-3", never "nan": non-finite values write 0).
std::string fmt_px(double v);

struct Rect {
  double x = 0, y = 0, w = 0, h = 0;
  double right() const { return x + w; }
  double bottom() const { return y + h; }
};

// Appends SVG elements to a document string; finish() closes it. Element counting lets tests bound sizes.
class Svg {
 public:
  Svg(int width, int height);
  int width() const { return width_; }
  int height() const { return height_; }

  void line(double x1, double y1, double x2, double y2, const std::string& stroke, double stroke_width = 1,
            const std::string& extra = "");
  void rect(const Rect& r, const std::string& fill, const std::string& extra = "", const std::string& tooltip = "");
  // A circle with an optional tooltip (<title>).
  void circle(double cx, double cy, double r, const std::string& fill, const std::string& extra = "",
              const std::string& tooltip = "");
  void polyline(const std::vector<std::pair<double, double>>& pts, const std::string& stroke,
                double stroke_width = 1.5, const std::string& extra = "");
  // anchor: "start", "middle" or "end"; rotate: degrees about (x, y).
  void text(double x, double y, const std::string& s, const std::string& anchor = "start", double size = 12,
            const std::string& extra = "", double rotate = 0);
  void open_group(const std::string& attrs);
  void close_group();
  void raw(const std::string& s);

  std::size_t elements() const { return elements_; }
  std::string finish();

 private:
  int width_, height_;
  std::string out_;
  std::size_t elements_ = 0;
  int open_groups_ = 0;
};

// ---- chart furniture

// Bottom axis of `plot` with ticks, light grid lines across the plot and a label under it.
void draw_x_axis(Svg& svg, const Scale& x, const Rect& plot, const std::string& label, int ticks = 6,
                 bool grid = true);
// Left axis with ticks, grid lines and a rotated label.
void draw_y_axis(Svg& svg, const Scale& y, const Rect& plot, const std::string& label, int ticks = 6,
                 bool grid = true);
// A vertical colour bar (viridis) for values in [lo, hi] at `area` (a narrow rectangle), labelled. `reversed`:
// lo is yellow and hi purple; `log`: ticks on a log scale (lo > 0; the colours are then uniform in log10).
void draw_colorbar(Svg& svg, const Rect& area, double lo, double hi, const std::string& label,
                   bool reversed = false, bool log = false);
// A legend of coloured markers and names, one per row, starting at (x, y).
void draw_legend(Svg& svg, double x, double y, const std::vector<std::pair<std::string, std::string>>& items);
// A title and an optional grey subtitle (e.g. "showing 5000 of 50000 trials") at the top.
void draw_title(Svg& svg, const std::string& title, const std::string& subtitle);

// ---- sampling

// m indices in [0, n) evenly spread (first and last kept), ascending; all of them when n <= m.
std::vector<std::size_t> even_subsample(std::size_t n, std::size_t m);

}  // namespace bbo::viz

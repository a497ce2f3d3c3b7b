// cli/viz/draw.cc — ticks, scales, colours, the SVG writer and chart furniture (see draw.h).
#include "viz/draw.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace bbo::viz {
namespace {

// d3's tick increment: the tick at index i is i * inc when inc > 0 (steps >= 1), i / -inc when inc < 0 (steps
// below 1, so that decimal ticks are the closest doubles to their decimal value).
double tick_increment(double lo, double hi, int count) {
  const double step = (hi - lo) / std::max(1, count);
  const double power = std::floor(std::log10(step));
  const double error = step / std::pow(10.0, power);
  const double factor = error >= std::sqrt(50.0) ? 10 : error >= std::sqrt(10.0) ? 5 : error >= std::sqrt(2.0) ? 2 : 1;
  return power >= 0 ? factor * std::pow(10.0, power) : -std::pow(10.0, -power) / factor;
}

double tick_value(double i, double inc) { return inc > 0 ? i * inc : i / -inc; }
double tick_index(double v, double inc) { return inc > 0 ? v / inc : v * -inc; }

double pow10i(int k) { return k >= 0 ? std::pow(10.0, k) : 1.0 / std::pow(10.0, -k); }

std::string printf_str(const char* fmt, int prec, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, prec, v);
  return buf;
}

}  // namespace

double nice_step(double lo, double hi, int count) {
  if (lo > hi) std::swap(lo, hi);
  if (!(hi > lo) || !std::isfinite(hi - lo)) return 0;
  const double inc = tick_increment(lo, hi, count);
  return inc > 0 ? inc : 1.0 / -inc;
}

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (lo > hi) std::swap(lo, hi);
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {};
  if (lo == hi) return {lo};
  const double inc = tick_increment(lo, hi, count);
  if (!std::isfinite(inc) || inc == 0) return {lo, hi};
  double i0 = std::round(tick_index(lo, inc)), i1 = std::round(tick_index(hi, inc));
  if (tick_value(i0, inc) < lo) ++i0;
  if (tick_value(i1, inc) > hi) --i1;
  std::vector<double> out;
  for (double i = i0; i <= i1 && out.size() < 1000; ++i) out.push_back(tick_value(i, inc));
  return out;
}

std::pair<double, double> nice_domain(double lo, double hi, int count) {
  if (lo > hi) std::swap(lo, hi);
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo, hi};
  double prev = 0;
  for (int iter = 0; iter < 10; ++iter) {
    const double inc = tick_increment(lo, hi, count);
    if (inc == prev || !std::isfinite(inc) || inc == 0) break;
    lo = tick_value(std::floor(tick_index(lo, inc)), inc);
    hi = tick_value(std::ceil(tick_index(hi, inc)), inc);
    prev = inc;
  }
  return {lo, hi};
}

std::vector<double> log_ticks(double lo, double hi, int count) {
  if (lo > hi) std::swap(lo, hi);
  if (!(lo > 0) || !std::isfinite(hi)) return nice_ticks(lo, hi, count);
  const double eps = 1e-9;
  const int k0 = static_cast<int>(std::ceil(std::log10(lo) - eps));
  const int k1 = static_cast<int>(std::floor(std::log10(hi) + eps));
  const int decades = k1 - k0 + 1;
  std::vector<double> out;
  if (decades >= 2) {
    const int stride = std::max(1, (decades + std::max(1, count) - 1) / std::max(1, count));
    for (int k = k0; k <= k1; k += stride) out.push_back(pow10i(k));
    return out;
  }
  const int f0 = static_cast<int>(std::floor(std::log10(lo))) - 1, f1 = static_cast<int>(std::ceil(std::log10(hi)));
  for (int k = f0; k <= f1; ++k)
    for (int m : {1, 2, 5}) {
      const double v = k >= 0 ? m * pow10i(k) : m / pow10i(-k);
      if (v >= lo * (1 - eps) && v <= hi * (1 + eps)) out.push_back(v);
    }
  if (out.size() >= 2) return out;
  return nice_ticks(lo, hi, count);
}

std::string format_tick(double v, double step) {
  if (!std::isfinite(v)) return format_number(v);
  if (v == 0) return "0";
  const double a = std::fabs(v);
  if (!(step > 0) || !std::isfinite(step)) step = a;
  if (a >= 1e6 || a < 1e-4) {
    int digits = static_cast<int>(std::floor(std::log10(a)) - std::floor(std::log10(step) + 1e-9)) + 1;
    digits = std::clamp(digits, 1, 6);
    return printf_str("%.*g", digits, v);
  }
  const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(step) + 1e-9)), 0, 10);
  std::string s = printf_str("%.*f", decimals, v);
  if (s == "-0") s = "0";
  return s;
}

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return printf_str("%.*g", 4, v);
}

// ---- Scale

Scale Scale::linear(double d0, double d1, double r0, double r1) {
  Scale s;
  s.kind_ = Kind::kLinear;
  s.d0_ = d0, s.d1_ = d1, s.r0_ = r0, s.r1_ = r1;
  return s;
}

Scale Scale::log(double d0, double d1, double r0, double r1) {
  Scale s = linear(d0, d1, r0, r1);
  s.kind_ = Kind::kLog;
  return s;
}

Scale Scale::band(std::vector<std::string> labels, double r0, double r1) {
  Scale s = linear(0, static_cast<double>(labels.size()), r0, r1);
  s.kind_ = Kind::kBand;
  s.labels_ = std::move(labels);
  return s;
}

double Scale::bandwidth() const {
  if (kind_ != Kind::kBand || labels_.empty()) return 0;
  return std::fabs(r1_ - r0_) / static_cast<double>(labels_.size());
}

double Scale::operator()(double v) const {
  switch (kind_) {
    case Kind::kBand: {
      const double n = std::max<double>(1, static_cast<double>(labels_.size()));
      return r0_ + (v + 0.5) / n * (r1_ - r0_);
    }
    case Kind::kLog: {
      const double l0 = std::log10(d0_), l1 = std::log10(d1_);
      const double lv = v > 0 ? std::log10(v) : l0 - (l1 - l0);
      return l1 == l0 ? (r0_ + r1_) / 2 : r0_ + (lv - l0) / (l1 - l0) * (r1_ - r0_);
    }
    case Kind::kLinear:
    default:
      return d1_ == d0_ ? (r0_ + r1_) / 2 : r0_ + (v - d0_) / (d1_ - d0_) * (r1_ - r0_);
  }
}

std::vector<double> Scale::ticks(int count) const {
  switch (kind_) {
    case Kind::kBand: {
      std::vector<double> out;
      const std::size_t n = labels_.size();
      const std::size_t stride = std::max<std::size_t>(1, (n + std::max(1, count) - 1) / std::max(1, count));
      for (std::size_t i = 0; i < n; i += stride) out.push_back(static_cast<double>(i));
      return out;
    }
    case Kind::kLog:
      return log_ticks(d0_, d1_, count);
    case Kind::kLinear:
    default:
      return nice_ticks(d0_, d1_, count);
  }
}

std::string Scale::tick_label(double v, int count) const {
  switch (kind_) {
    case Kind::kBand: {
      const auto i = static_cast<std::size_t>(std::llround(v));
      if (i >= labels_.size()) return "";
      const std::string& l = labels_[i];
      return l.size() <= 14 ? l : l.substr(0, 13) + "~";
    }
    case Kind::kLog: {
      // Decade and 1-2-5 ticks need only their leading digit; the linear fallback's ticks need its step.
      const double power = v > 0 ? pow10i(static_cast<int>(std::floor(std::log10(v) + 1e-9))) : 1;
      const double m = v / power;
      if (std::fabs(m - 1) < 1e-9 || std::fabs(m - 2) < 1e-9 || std::fabs(m - 5) < 1e-9) return format_tick(v, power);
      return format_tick(v, nice_step(d0_, d1_, count));
    }
    case Kind::kLinear:
    default:
      return format_tick(v, nice_step(d0_, d1_, count));
  }
}

Scale Scale::nice(int count) const {
  Scale s = *this;
  if (kind_ == Kind::kLinear) {
    auto [a, b] = nice_domain(std::min(d0_, d1_), std::max(d0_, d1_), count);
    if (d0_ <= d1_) s.d0_ = a, s.d1_ = b;
    else s.d0_ = b, s.d1_ = a;
  } else if (kind_ == Kind::kLog && d0_ > 0 && d1_ > 0) {
    const double l0 = std::log10(std::min(d0_, d1_)), l1 = std::log10(std::max(d0_, d1_));
    const double a = std::floor(l0 + 1e-9), b = std::ceil(l1 - 1e-9);
    if (b - a <= 2 * (l1 - l0)) {
      s.d0_ = pow10i(static_cast<int>(a));
      s.d1_ = pow10i(static_cast<int>(b));
      if (d0_ > d1_) std::swap(s.d0_, s.d1_);
    }
  }
  return s;
}

Scale Scale::with_range(double r0, double r1) const {
  Scale s = *this;
  s.r0_ = r0, s.r1_ = r1;
  return s;
}

Scale auto_scale(double lo, double hi, bool log, double r0, double r1, int /*ticks*/) {
  if (lo > hi) std::swap(lo, hi);
  if (log && lo > 0) {
    double l0 = std::log10(lo), l1 = std::log10(hi);
    const double pad = l1 > l0 ? (l1 - l0) * 0.05 : 0.05;
    return Scale::log(std::pow(10.0, l0 - pad), std::pow(10.0, l1 + pad), r0, r1);
  }
  double pad = hi > lo ? (hi - lo) * 0.05 : (lo == 0 ? 1.0 : std::fabs(lo) * 0.05);
  return Scale::linear(lo - pad, hi + pad, r0, r1);
}

// ---- colours

std::string viridis(double t) {
  static const unsigned char kStops[10][3] = {{0x44, 0x01, 0x54}, {0x48, 0x28, 0x78}, {0x3e, 0x4a, 0x89},
                                              {0x31, 0x68, 0x8e}, {0x26, 0x82, 0x8e}, {0x1f, 0x9e, 0x89},
                                              {0x35, 0xb7, 0x79}, {0x6d, 0xcd, 0x59}, {0xb4, 0xde, 0x2c},
                                              {0xfd, 0xe7, 0x25}};
  if (!std::isfinite(t)) t = 0;
  t = std::clamp(t, 0.0, 1.0) * 9;
  const int i = std::min(8, static_cast<int>(t));
  const double f = t - i;
  char buf[8];
  int c[3];
  for (int k = 0; k < 3; ++k) c[k] = static_cast<int>(std::lround(kStops[i][k] * (1 - f) + kStops[i + 1][k] * f));
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c[0], c[1], c[2]);
  return buf;
}

std::string palette(std::size_t i) {
  static const char* kColors[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                  "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
  return kColors[i % 10];
}

// ---- SVG

std::string xml_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        // Control characters are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') out += ' ';
        else out += c;
    }
  }
  return out;
}

std::string fmt_px(double v) {
  if (!std::isfinite(v)) v = 0;
  v = std::clamp(v, -1e6, 1e6);
  char buf[32];
  const long tenths = std::lround(v * 10);
  if (tenths % 10 == 0) std::snprintf(buf, sizeof buf, "%ld", tenths / 10);
  else std::snprintf(buf, sizeof buf, "%.1f", static_cast<double>(tenths) / 10);
  return buf;
}

Svg::Svg(int width, int height) : width_(width), height_(height) {
  out_.reserve(1 << 16);
  out_ += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out_ += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
          std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
          "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n";
  rect({0, 0, static_cast<double>(width), static_cast<double>(height)}, "#ffffff");
}

void Svg::line(double x1, double y1, double x2, double y2, const std::string& stroke, double stroke_width,
               const std::string& extra) {
  out_ += "<line x1=\"" + fmt_px(x1) + "\" y1=\"" + fmt_px(y1) + "\" x2=\"" + fmt_px(x2) + "\" y2=\"" +
          fmt_px(y2) + "\" stroke=\"" + stroke + "\" stroke-width=\"" + fmt_px(stroke_width) + "\"" +
          (extra.empty() ? "" : " " + extra) + "/>\n";
  ++elements_;
}

void Svg::rect(const Rect& r, const std::string& fill, const std::string& extra, const std::string& tooltip) {
  out_ += "<rect x=\"" + fmt_px(r.x) + "\" y=\"" + fmt_px(r.y) + "\" width=\"" + fmt_px(std::max(0.0, r.w)) +
          "\" height=\"" + fmt_px(std::max(0.0, r.h)) + "\" fill=\"" + fill + "\"" +
          (extra.empty() ? "" : " " + extra);
  out_ += tooltip.empty() ? "/>\n" : "><title>" + xml_escape(tooltip) + "</title></rect>\n";
  ++elements_;
}

void Svg::circle(double cx, double cy, double r, const std::string& fill, const std::string& extra,
                 const std::string& tooltip) {
  out_ += "<circle cx=\"" + fmt_px(cx) + "\" cy=\"" + fmt_px(cy) + "\" r=\"" + fmt_px(r) + "\" fill=\"" + fill +
          "\"" + (extra.empty() ? "" : " " + extra);
  if (tooltip.empty()) {
    out_ += "/>\n";
  } else {
    out_ += "><title>" + xml_escape(tooltip) + "</title></circle>\n";
  }
  ++elements_;
}

void Svg::polyline(const std::vector<std::pair<double, double>>& pts, const std::string& stroke,
                   double stroke_width, const std::string& extra) {
  if (pts.empty()) return;
  out_ += "<polyline fill=\"none\" stroke=\"" + stroke + "\" stroke-width=\"" + fmt_px(stroke_width) + "\"" +
          (extra.empty() ? "" : " " + extra) + " points=\"";
  for (std::size_t i = 0; i < pts.size(); ++i) {
    if (i) out_ += ' ';
    out_ += fmt_px(pts[i].first);
    out_ += ',';
    out_ += fmt_px(pts[i].second);
  }
  out_ += "\"/>\n";
  ++elements_;
}

void Svg::text(double x, double y, const std::string& s, const std::string& anchor, double size,
               const std::string& extra, double rotate) {
  out_ += "<text x=\"" + fmt_px(x) + "\" y=\"" + fmt_px(y) + "\" font-size=\"" + fmt_px(size) + "\"";
  if (anchor != "start") out_ += " text-anchor=\"" + anchor + "\"";
  if (rotate != 0) out_ += " transform=\"rotate(" + fmt_px(rotate) + " " + fmt_px(x) + " " + fmt_px(y) + ")\"";
  if (!extra.empty()) out_ += " " + extra;
  out_ += ">" + xml_escape(s) + "</text>\n";
  ++elements_;
}

void Svg::open_group(const std::string& attrs) {
  out_ += "<g" + (attrs.empty() ? std::string() : " " + attrs) + ">\n";
  ++open_groups_;
}

void Svg::close_group() {
  if (open_groups_ == 0) return;
  out_ += "</g>\n";
  --open_groups_;
}

void Svg::raw(const std::string& s) { out_ += s; }

std::string Svg::finish() {
  while (open_groups_ > 0) close_group();
  out_ += "</svg>\n";
  return std::move(out_);
}

// ---- furniture

namespace {
const char* kAxisColor = "#444444";
const char* kGridColor = "#e8e8e8";
}  // namespace

void draw_x_axis(Svg& svg, const Scale& x, const Rect& plot, const std::string& label, int ticks, bool grid) {
  const double y0 = plot.bottom();
  const bool band = x.kind() == Scale::Kind::kBand;
  // Long category names under narrow bands are written at an angle.
  const bool slant = band && x.bandwidth() < 60;
  for (double v : x.ticks(ticks)) {
    const double px = x(v);
    if (px < plot.x - 0.5 || px > plot.right() + 0.5) continue;
    if (grid) svg.line(px, plot.y, px, y0, kGridColor, 1);
    svg.line(px, y0, px, y0 + 5, kAxisColor, 1);
    if (slant)
      svg.text(px, y0 + 16, x.tick_label(v, ticks), "end", 10, "fill=\"#333\"", -30);
    else
      svg.text(px, y0 + 18, x.tick_label(v, ticks), "middle", 11, "fill=\"#333\"");
  }
  svg.line(plot.x, y0, plot.right(), y0, kAxisColor, 1);
  if (!label.empty()) svg.text(plot.x + plot.w / 2, y0 + (slant ? 46 : 38), label, "middle", 12, "fill=\"#222\"");
}

void draw_y_axis(Svg& svg, const Scale& y, const Rect& plot, const std::string& label, int ticks, bool grid) {
  const double x0 = plot.x;
  for (double v : y.ticks(ticks)) {
    const double py = y(v);
    if (py < plot.y - 0.5 || py > plot.bottom() + 0.5) continue;
    if (grid) svg.line(x0, py, plot.right(), py, kGridColor, 1);
    svg.line(x0 - 5, py, x0, py, kAxisColor, 1);
    svg.text(x0 - 8, py + 4, y.tick_label(v, ticks), "end", 11, "fill=\"#333\"");
  }
  svg.line(x0, plot.y, x0, plot.bottom(), kAxisColor, 1);
  if (!label.empty()) svg.text(x0 - 56, plot.y + plot.h / 2, label, "middle", 12, "fill=\"#222\"", -90);
}

void draw_colorbar(Svg& svg, const Rect& area, double lo, double hi, const std::string& label, bool reversed,
                   bool log) {
  const int n = 32;
  for (int i = 0; i < n; ++i) {
    const double t = (i + 0.5) / n;  // bottom (lo) to top (hi)
    const double y = area.bottom() - (i + 1) * area.h / n;
    svg.rect({area.x, y, area.w, area.h / n + 0.6}, viridis(reversed ? 1 - t : t));
  }
  svg.rect(area, "none", "stroke=\"#888\" stroke-width=\"0.5\"");
  Scale s = log && lo > 0 && hi > lo ? Scale::log(lo, hi, area.bottom(), area.y) : Scale::linear(lo, hi, area.bottom(), area.y);
  if (lo == hi) s = Scale::linear(lo - 1, hi + 1, area.bottom(), area.y);
  for (double v : s.ticks(5)) {
    const double py = s(v);
    svg.line(area.right(), py, area.right() + 4, py, kAxisColor, 1);
    svg.text(area.right() + 6, py + 4, s.tick_label(v, 5), "start", 10, "fill=\"#333\"");
  }
  if (!label.empty()) svg.text(area.right() + 52, area.y + area.h / 2, label, "middle", 11, "fill=\"#222\"", 90);
}

void draw_legend(Svg& svg, double x, double y, const std::vector<std::pair<std::string, std::string>>& items) {
  for (std::size_t i = 0; i < items.size(); ++i) {
    const double yy = y + 16.0 * static_cast<double>(i);
    svg.circle(x + 5, yy - 4, 5, items[i].second);
    svg.text(x + 14, yy, items[i].first, "start", 11, "fill=\"#222\"");
  }
}

void draw_title(Svg& svg, const std::string& title, const std::string& subtitle) {
  svg.text(14, 22, title, "start", 15, "font-weight=\"bold\" fill=\"#111\"");
  if (subtitle.empty()) return;
  // A long subtitle is split at "; " onto a second line (about 6 pixels a character at this size).
  const auto max_chars = static_cast<std::size_t>(std::max(20.0, (svg.width() - 28) / 6.2));
  std::string first = subtitle, second;
  if (subtitle.size() > max_chars) {
    std::size_t cut = std::string::npos;
    for (std::size_t p = subtitle.find("; "); p != std::string::npos && p <= max_chars; p = subtitle.find("; ", p + 1)) cut = p;
    if (cut != std::string::npos) first = subtitle.substr(0, cut), second = subtitle.substr(cut + 2);
  }
  svg.text(14, second.empty() ? 39 : 36, first, "start", 11, "fill=\"#666\"");
  if (!second.empty()) svg.text(14, 49, second, "start", 11, "fill=\"#666\"");
}

std::vector<std::size_t> even_subsample(std::size_t n, std::size_t m) {
  std::vector<std::size_t> out;
  if (m == 0 || n == 0) return out;
  if (n <= m) {
    out.resize(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = i;
    return out;
  }
  if (m == 1) return {0};
  out.reserve(m);
  for (std::size_t i = 0; i < m; ++i) out.push_back(static_cast<std::size_t>((static_cast<unsigned __int128>(i) * (n - 1)) / (m - 1)));
  return out;
}

}  // namespace bbo::viz

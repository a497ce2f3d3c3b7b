// cli/viz/plots_multi.cc — the kinds that relate several quantities: contour of two params, parallel
// coordinates, parameter importance and the Pareto front.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "bbo/error.h"
#include "viz/plot_common.h"

namespace bbo::viz::detail {
namespace {

const char* kBestColor = "#e15759";
const char* kInfeasibleColor = "#b0b0b0";

double value_of(const FrozenTrial* t, int k) { return t->values[static_cast<std::size_t>(k)]; }

bool has_params(const FrozenTrial* t, const std::vector<ParamInfo>& ps) {
  for (const auto& p : ps)
    if (t->params.count(p.name) == 0) return false;
  return true;
}

std::string names_of(const std::vector<ParamInfo>& ps) {
  std::string s;
  for (const auto& p : ps) s += (s.empty() ? "" : ", ") + p.name;
  return s;
}

// Position of t in [0, 1] between lo and hi (log10 when `log`), 0.5 for an empty range.
double unit_pos(double v, double lo, double hi, bool log) {
  if (log) v = std::log10(v), lo = std::log10(lo), hi = std::log10(hi);
  return hi > lo ? std::clamp((v - lo) / (hi - lo), 0.0, 1.0) : 0.5;
}

// Deterministic jitter in [-0.5, 0.5) from a trial number.
double jitter(int64_t number) {
  uint64_t h = static_cast<uint64_t>(number) * 0x9E3779B97F4A7C15ULL;
  h ^= h >> 29;
  return static_cast<double>(h % 1000) / 1000.0 - 0.5;
}

std::string importance_label(double v) {
  if (v == 0) return "0";
  if (v < 0.005) return "<0.01";
  return format_tick(v, 0.01);
}

}  // namespace

// ---- contour

std::string render_contour(const Input& in) {
  const int k = in.options.objective;
  const auto done = value_trials(in.study, in.trials, k);
  const auto all = collect_params(done);
  std::vector<ParamInfo> two;
  std::string how;
  if (!in.options.params.empty()) {
    two = select_params(all, in.options.params, in.study);
    if (two.size() != 2)
      throw ValueError("contour needs exactly two params (got " + std::to_string(two.size()) + ": " + names_of(two) + ")");
  } else {
    if (all.size() < 2)
      throw ValueError("contour needs two params; study '" + in.study.name + "' has " + std::to_string(all.size()) +
                       (all.empty() ? "" : " (" + names_of(all) + ")"));
    two = {all[0], all[1]};
    if (all.size() > 2) {
      try {
        const auto imp = importances(subsample(done, 2000), k, {});
        if (imp.size() >= 2) {
          two = select_params(all, {imp[0].name, imp[1].name}, in.study);
          how = "the two most important params";
        }
      } catch (const ValueError&) {
        // Too few trials for a forest, or no common params: fall back on the first two by name.
      }
    }
  }
  std::vector<const FrozenTrial*> pair;
  for (const FrozenTrial* t : done)
    if (has_params(t, two)) pair.push_back(t);
  if (pair.empty())
    throw ValueError("no COMPLETE trial of study '" + in.study.name + "' has both " + two[0].name + " and " + two[1].name);

  const Layout L = make_layout(in.options, 700, 600, 120);
  const Rect& P = L.plot;
  Svg svg(L.width, L.height);
  const Scale x = param_scale(two[0], P.x, P.right());
  const Scale y = param_scale(two[1], P.bottom(), P.y);

  // Values on a grid by inverse-distance weighting of the 8 nearest trials, in plot coordinates (so log axes
  // and categorical bands interpolate as drawn). Categorical axes get one cell per choice.
  const auto interp = subsample(pair, 2000);
  struct Pt { double u, v, value; };
  std::vector<Pt> pts;
  double lo = INFINITY, hi = -INFINITY;
  for (const FrozenTrial* t : interp) {
    pts.push_back({(x(t->params.at(two[0].name)) - P.x) / P.w, (y(t->params.at(two[1].name)) - P.y) / P.h, value_of(t, k)});
    lo = std::min(lo, value_of(t, k)), hi = std::max(hi, value_of(t, k));
  }
  const bool log_color = lo > 0 && hi / lo >= 1e3;
  const int gx = two[0].categorical ? static_cast<int>(two[0].labels.size()) : 48;
  const int gy = two[1].categorical ? static_cast<int>(two[1].labels.size()) : 48;
  const std::size_t kn = std::min<std::size_t>(8, pts.size());
  std::vector<std::pair<double, std::size_t>> dist(pts.size());
  svg.open_group("class=\"grid\"");
  for (int j = 0; j < gy; ++j) {
    for (int i = 0; i < gx; ++i) {
      const double u = (i + 0.5) / gx, v = (j + 0.5) / gy;
      for (std::size_t p = 0; p < pts.size(); ++p) {
        const double du = pts[p].u - u, dv = pts[p].v - v;
        dist[p] = {du * du + dv * dv, p};
      }
      std::partial_sort(dist.begin(), dist.begin() + static_cast<std::ptrdiff_t>(kn), dist.end());
      double num = 0, den = 0;
      for (std::size_t q = 0; q < kn; ++q) {
        const double w = 1.0 / (dist[q].first + 1e-9);
        num += w * pts[dist[q].second].value;
        den += w;
      }
      const double value = num / den;
      const Rect cell{P.x + P.w * i / gx, P.y + P.h * j / gy, P.w / gx + 0.6, P.h / gy + 0.6};
      svg.rect(cell, viridis(unit_pos(value, lo, hi, log_color)));
    }
  }
  svg.close_group();
  draw_x_axis(svg, x, P, two[0].name + (two[0].log ? " (log)" : ""), 6, false);
  draw_y_axis(svg, y, P, two[1].name + (two[1].log ? " (log)" : ""), 6, false);

  const auto shown = subsample(pair, std::min<std::size_t>(in.options.max_points, 2000));
  const FrozenTrial* best = nullptr;
  for (const FrozenTrial* t : pair)
    if (t->feasible() && (best == nullptr || (maximizing(in.study, k) ? value_of(t, k) > value_of(best, k)
                                                                      : value_of(t, k) < value_of(best, k))))
      best = t;
  // Inside a categorical band the points are spread by a deterministic jitter, so that they do not pile up.
  const auto jx = [&](const FrozenTrial* t) {
    return x(t->params.at(two[0].name)) + (two[0].categorical ? jitter(t->number) * x.bandwidth() * 0.5 : 0.0);
  };
  const auto jy = [&](const FrozenTrial* t) {
    return y(t->params.at(two[1].name)) + (two[1].categorical ? jitter(t->number * 7919) * y.bandwidth() * 0.5 : 0.0);
  };
  svg.open_group("class=\"trials\"");
  for (const FrozenTrial* t : shown)
    svg.circle(jx(t), jy(t), 2.2, "#111111",
               "fill-opacity=\"0.6\" stroke=\"#ffffff\" stroke-width=\"0.5\"", trial_tooltip(*t, k));
  svg.close_group();
  if (best != nullptr)
    svg.circle(jx(best), jy(best), 5.5, kBestColor,
               "stroke=\"#ffffff\" stroke-width=\"1.5\" class=\"best\"", "best: " + trial_tooltip(*best, k));
  draw_colorbar(svg, {P.right() + 18, P.y, 14, std::min(P.h, 300.0)}, lo, hi, objective_label(in.study, k), false,
                log_color);
  std::string subtitle = with_commas(pair.size()) + " COMPLETE trials; colour interpolated from the nearest trials";
  if (!how.empty()) subtitle += "; " + how;
  if (shown.size() < pair.size()) subtitle += "; " + subsample_note(shown.size(), pair.size());
  draw_title(svg, "Contour: " + in.study.name, subtitle);
  return svg.finish();
}

// ---- parallel coordinates

std::string render_parallel(const Input& in) {
  const int k = in.options.objective;
  const auto done = value_trials(in.study, in.trials, k);
  const auto params = select_params(collect_params(done), in.options.params, in.study);
  if (params.empty()) throw ValueError("study '" + in.study.name + "' has no params to plot");
  std::vector<const FrozenTrial*> usable;
  for (const FrozenTrial* t : done)
    if (has_params(t, params)) usable.push_back(t);
  if (usable.empty())
    throw ValueError("no COMPLETE trial of study '" + in.study.name + "' has all of the params " + names_of(params) +
                     " (choose some with --params)");
  const bool maxi = maximizing(in.study, k);
  // More than 2,000 lines only thicken the tangle (and slow PNG rendering); the subsample keeps its shape.
  auto shown = subsample(usable, std::min<std::size_t>(in.options.max_points, 2000));
  // Worst first, so that the best lines are drawn on top.
  std::stable_sort(shown.begin(), shown.end(), [&](const FrozenTrial* a, const FrozenTrial* b) {
    return maxi ? value_of(a, k) < value_of(b, k) : value_of(a, k) > value_of(b, k);
  });

  const std::size_t m = params.size() + 1;
  const int default_w = static_cast<int>(std::clamp(200.0 + 130.0 * static_cast<double>(m), 560.0, 1600.0));
  Layout L = make_layout(in.options, default_w, 500, 130, 70);
  L.plot.y += 14, L.plot.h -= 14;  // room for the axis names
  const Rect& P = L.plot;
  Svg svg(L.width, L.height);
  std::vector<double> values;
  for (const FrozenTrial* t : usable) values.push_back(value_of(t, k));
  double lo = *std::min_element(values.begin(), values.end()), hi = *std::max_element(values.begin(), values.end());
  std::vector<Scale> scales;
  std::vector<std::string> names;
  scales.push_back(value_scale(values, P.bottom(), P.y));
  names.push_back(objective_name(in.study, k));
  for (const auto& p : params) {
    scales.push_back(param_scale(p, P.bottom(), P.y));
    names.push_back(p.name + (p.log ? " (log)" : ""));
  }
  const auto axis_x = [&](std::size_t i) { return m == 1 ? P.x : P.x + P.w * static_cast<double>(i) / static_cast<double>(m - 1); };

  const bool log_color = scales[0].kind() == Scale::Kind::kLog;
  const std::string opacity = shown.size() > 300 ? "stroke-opacity=\"0.3\"" : "stroke-opacity=\"0.75\"";
  svg.open_group("class=\"lines\"");
  for (const FrozenTrial* t : shown) {
    std::vector<std::pair<double, double>> pts;
    pts.emplace_back(axis_x(0), scales[0](value_of(t, k)));
    for (std::size_t i = 0; i < params.size(); ++i) pts.emplace_back(axis_x(i + 1), scales[i + 1](t->params.at(params[i].name)));
    const double u = unit_pos(value_of(t, k), lo, hi, log_color);
    svg.polyline(pts, viridis(maxi ? u : 1 - u), 1.2, opacity);
  }
  svg.close_group();

  const double spacing = m > 1 ? P.w / static_cast<double>(m - 1) : P.w;
  for (std::size_t i = 0; i < m; ++i) {
    const double ax = axis_x(i);
    const Scale& s = scales[i];
    svg.line(ax, P.y, ax, P.bottom(), "#333333", 1.2);
    for (double v : s.ticks(6)) {
      const double py = s(v);
      if (py < P.y - 0.5 || py > P.bottom() + 0.5) continue;
      svg.line(ax - 4, py, ax, py, "#333333", 1);
      svg.text(ax - 6, py + 4, s.tick_label(v, 6), "end", 10, "fill=\"#333\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\"");
    }
    std::string name = names[i];
    const auto max_chars = static_cast<std::size_t>(std::max(4.0, spacing / 7.5));
    if (name.size() > max_chars) name = name.substr(0, max_chars - 1) + "~";
    svg.text(ax, P.y - 12, name, "middle", 12, std::string("font-weight=\"") + (i == 0 ? "bold" : "normal") + "\" fill=\"#222\"");
  }
  draw_colorbar(svg, {P.right() + 40, P.y, 14, std::min(P.h, 300.0)}, lo, hi, objective_label(in.study, k), !maxi,
                log_color);
  std::string subtitle = with_commas(usable.size()) + " COMPLETE trials; the best drawn on top in yellow";
  if (shown.size() < usable.size()) subtitle += "; " + subsample_note(shown.size(), usable.size());
  if (usable.size() < done.size()) subtitle += "; " + with_commas(done.size() - usable.size()) + " trials without all these params left out";
  draw_title(svg, "Parallel coordinates: " + in.study.name, subtitle);
  return svg.finish();
}

// ---- importance

std::string render_importance(const Input& in) {
  const int k = in.options.objective;
  const auto done = value_trials(in.study, in.trials, k);
  std::vector<std::string> requested;
  for (const auto& p : select_params(collect_params(done), in.options.params, in.study)) requested.push_back(p.name);
  if (in.options.params.empty()) requested.clear();  // the analysis picks the params common to all trials
  // The forest's cost grows with the trials; 2,000 evenly spread ones rank params as well as 50,000 would.
  const auto used = subsample(done, 2000);
  const auto imp = importances(used, k, requested);
  if (imp.empty()) throw ValueError("study '" + in.study.name + "' has no params to rank");

  std::size_t longest = 0;
  std::vector<std::string> labels;
  for (const auto& p : imp) longest = std::max(longest, p.name.size()), labels.push_back(p.name);
  const double left = std::clamp(24.0 + 7.0 * static_cast<double>(longest), 90.0, 240.0);
  const int default_h = static_cast<int>(std::max(220.0, 120.0 + 30.0 * static_cast<double>(imp.size())));
  const Layout L = make_layout(in.options, 760, default_h, 60, left);
  const Rect& P = L.plot;
  Svg svg(L.width, L.height);
  double top = 0;
  for (const auto& p : imp) top = std::max(top, p.importance + p.std_dev);
  const Scale x = Scale::linear(0, std::max(top, 1e-9) * 1.12, P.x, P.right()).nice(5);
  const Scale y = Scale::band(labels, P.y, P.bottom());
  draw_x_axis(svg, x, P, "importance (fANOVA, share of the variance of " + objective_name(in.study, k) + ")", 5);
  // Names are the bars' labels; the band axis writes them at the left.
  for (std::size_t i = 0; i < labels.size(); ++i)
    svg.text(P.x - 8, y(static_cast<double>(i)) + 4, labels[i], "end", 12, "fill=\"#222\"");
  svg.line(P.x, P.y, P.x, P.bottom(), "#444444", 1);
  const double bh = std::min(24.0, y.bandwidth() * 0.7);
  svg.open_group("class=\"bars\"");
  for (std::size_t i = 0; i < imp.size(); ++i) {
    const double cy = y(static_cast<double>(i));
    const double x1 = x(imp[i].importance);
    svg.rect({P.x, cy - bh / 2, x1 - P.x, bh}, palette(0), "data-param=\"" + xml_escape(imp[i].name) + "\"",
             imp[i].name + ": " + format_number(imp[i].importance) + " +- " + format_number(imp[i].std_dev));
    if (imp[i].std_dev > 0) {
      const double a = x(std::max(0.0, imp[i].importance - imp[i].std_dev)), b = x(imp[i].importance + imp[i].std_dev);
      svg.line(a, cy, b, cy, "#333333", 1);
      svg.line(b, cy - 4, b, cy + 4, "#333333", 1);
    }
    svg.text(std::max(x1, x(imp[i].importance + imp[i].std_dev)) + 6, cy + 4, importance_label(imp[i].importance),
             "start", 11, "fill=\"#222\"");
  }
  svg.close_group();
  std::string subtitle = "fANOVA over " + with_commas(used.size()) + " COMPLETE trials; whiskers: +-1 std over the trees";
  if (used.size() < done.size()) subtitle += "; " + subsample_note(used.size(), done.size());
  draw_title(svg, "Parameter importance: " + in.study.name, subtitle);
  return svg.finish();
}

// ---- Pareto front

namespace {

// Indices of the non-dominated points (all objectives minimized; up to 3 of them) in O(n log n): a sweep in
// lexicographic order keeping the staircase of the (k1, k2) minima seen so far. Identical points are all kept.
std::vector<bool> non_dominated(const std::vector<std::array<double, 3>>& p) {
  std::vector<std::size_t> order(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return p[a] < p[b]; });
  std::vector<bool> front(p.size(), false);
  // k1 -> (k2, index of the point): k2 strictly decreasing as k1 increases.
  std::map<double, std::pair<double, std::size_t>> stair;
  for (std::size_t i : order) {
    const auto& q = p[i];
    auto it = stair.upper_bound(q[1]);
    bool dominated = false;
    if (it != stair.begin()) {
      const auto& [k2, j] = std::prev(it)->second;
      dominated = k2 <= q[2] && p[j] != q;
    }
    if (dominated) continue;
    front[i] = true;
    // Drop the staircase entries that q dominates (k1 >= q1 and k2 >= q2), then add q.
    for (auto e = stair.lower_bound(q[1]); e != stair.end() && e->second.first >= q[2];) e = stair.erase(e);
    auto prev = stair.upper_bound(q[1]);
    if (prev == stair.begin() || std::prev(prev)->second.first > q[2]) stair[q[1]] = {q[2], i};
  }
  return front;
}

}  // namespace

std::string render_pareto(const Input& in) {
  const std::size_t n_obj = in.study.directions.size();
  if (n_obj < 2 || n_obj > 3)
    throw ValueError("pareto needs a study with 2 or 3 objectives; study '" + in.study.name + "' has " + std::to_string(n_obj));
  std::vector<const FrozenTrial*> done;
  for (const auto& t : in.trials) {
    if (t.state != TrialState::kComplete || t.values.size() != n_obj) continue;
    bool finite = true;
    for (double v : t.values) finite = finite && std::isfinite(v);
    if (finite) done.push_back(&t);
  }
  if (done.empty())
    throw ValueError("study '" + in.study.name + "' has no COMPLETE trial with finite values of every objective to plot");
  std::stable_sort(done.begin(), done.end(), [](const FrozenTrial* a, const FrozenTrial* b) { return a->number < b->number; });

  std::vector<const FrozenTrial*> feasible, infeasible;
  for (const FrozenTrial* t : done) (t->feasible() ? feasible : infeasible).push_back(t);
  std::vector<std::array<double, 3>> keys;
  for (const FrozenTrial* t : feasible) {
    std::array<double, 3> key{0, 0, 0};
    for (std::size_t j = 0; j < n_obj; ++j)
      key[j] = in.study.directions[j] == Direction::kMaximize ? -t->values[j] : t->values[j];
    keys.push_back(key);
  }
  const auto is_front = non_dominated(keys);
  std::vector<const FrozenTrial*> front, dominated;
  for (std::size_t i = 0; i < feasible.size(); ++i) (is_front[i] ? front : dominated).push_back(feasible[i]);

  // The front is always drawn (up to max_points); the rest share what is left of the budget.
  const std::size_t budget = std::max<std::size_t>(in.options.max_points, 1);
  const auto front_shown = subsample(front, budget);
  const std::size_t rest = budget > front_shown.size() ? budget - front_shown.size() : 0;
  const std::size_t n_other = dominated.size() + infeasible.size();
  const auto dom_shown = subsample(dominated, n_other == 0 ? 0 : rest * dominated.size() / n_other + (rest > 0 && !dominated.empty() ? 1 : 0));
  const auto inf_shown = subsample(infeasible, n_other == 0 ? 0 : rest * infeasible.size() / n_other);

  std::vector<std::pair<int, int>> pairs = {{0, 1}};
  if (n_obj == 3) pairs = {{0, 1}, {0, 2}, {1, 2}};
  const double legend_w = 170;
  const double cell_w = n_obj == 3 ? 400 : 600, cell_h = n_obj == 3 ? 400 : 520, top = 50;
  const int W = in.options.width > 0 ? in.options.width : static_cast<int>(cell_w * static_cast<double>(pairs.size()) + legend_w);
  const int H = in.options.height > 0 ? in.options.height : static_cast<int>(cell_h + top);
  const double cw = (W - legend_w) / static_cast<double>(pairs.size()), ch = H - top;
  Svg svg(W, H);
  std::vector<std::vector<double>> all_values(n_obj);
  for (const FrozenTrial* t : done)
    for (std::size_t j = 0; j < n_obj; ++j) all_values[j].push_back(t->values[j]);

  for (std::size_t pi = 0; pi < pairs.size(); ++pi) {
    const auto [a, b] = pairs[pi];
    const Rect P{cw * static_cast<double>(pi) + 78, top + 14, std::max(20.0, cw - 78 - 18), std::max(20.0, ch - 14 - 56)};
    const Scale x = value_scale(all_values[static_cast<std::size_t>(a)], P.x, P.right());
    const Scale y = value_scale(all_values[static_cast<std::size_t>(b)], P.bottom(), P.y);
    draw_x_axis(svg, x, P, objective_label(in.study, a), 5);
    draw_y_axis(svg, y, P, objective_label(in.study, b), 5);
    const double r = dom_shown.size() > 1000 ? 2 : 3;
    svg.open_group("class=\"infeasible\"");
    for (const FrozenTrial* t : inf_shown)
      svg.circle(x(t->values[static_cast<std::size_t>(a)]), y(t->values[static_cast<std::size_t>(b)]), r, kInfeasibleColor,
                 "fill-opacity=\"0.6\"", "trial " + std::to_string(t->number) + " (infeasible)");
    svg.close_group();
    svg.open_group("class=\"dominated\"");
    for (const FrozenTrial* t : dom_shown)
      svg.circle(x(t->values[static_cast<std::size_t>(a)]), y(t->values[static_cast<std::size_t>(b)]), r, palette(0),
                 "fill-opacity=\"0.5\"", "trial " + std::to_string(t->number));
    svg.close_group();
    if (n_obj == 2 && front_shown.size() > 1) {
      std::vector<std::pair<double, double>> line;
      for (const FrozenTrial* t : front_shown) line.emplace_back(x(t->values[0]), y(t->values[1]));
      std::sort(line.begin(), line.end());
      svg.polyline(line, kBestColor, 1.5, "stroke-opacity=\"0.7\" class=\"front-line\"");
    }
    svg.open_group("class=\"front\"");
    for (const FrozenTrial* t : front_shown) {
      std::string tip = "trial " + std::to_string(t->number) + ":";
      for (double v : t->values) tip += " " + format_number(v);
      svg.circle(x(t->values[static_cast<std::size_t>(a)]), y(t->values[static_cast<std::size_t>(b)]), 4, kBestColor,
                 "stroke=\"#ffffff\" stroke-width=\"0.8\"", tip);
    }
    svg.close_group();
  }
  std::vector<std::pair<std::string, std::string>> legend = {
      {"Pareto front (" + with_commas(front.size()) + ")", kBestColor},
      {"dominated (" + with_commas(dominated.size()) + ")", palette(0)}};
  if (!infeasible.empty()) legend.emplace_back("infeasible (" + with_commas(infeasible.size()) + ")", kInfeasibleColor);
  draw_legend(svg, W - legend_w + 12, top + 24, legend);
  std::string subtitle = with_commas(done.size()) + " COMPLETE trials";
  const std::size_t shown_n = front_shown.size() + dom_shown.size() + inf_shown.size();
  if (shown_n < done.size()) subtitle += "; " + subsample_note(shown_n, done.size()) + ", the front kept";
  draw_title(svg, "Pareto front: " + in.study.name, subtitle);
  return svg.finish();
}

}  // namespace bbo::viz::detail

// cli/viz/plots_single.cc — the kinds about one objective over trials and time: optimization history, slice,
// intermediate values (learning curves) and the timeline of trials.
#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <queue>
#include <set>

#include "bbo/error.h"
#include "viz/plot_common.h"

namespace bbo::viz::detail {
namespace {

const char* kBestColor = "#e15759";
const char* kInfeasibleColor = "#b0b0b0";

std::string state_color(TrialState s) {
  switch (s) {
    case TrialState::kComplete: return palette(0);
    case TrialState::kPruned: return palette(1);
    case TrialState::kFail: return palette(2);
    case TrialState::kRunning: return palette(4);
    case TrialState::kWaiting:
    default: return "#9a9a9a";
  }
}

double value_of(const FrozenTrial* t, int k) { return t->values[static_cast<std::size_t>(k)]; }

// Deterministic jitter in [-0.5, 0.5) from a trial number (spreads points inside a categorical band).
double jitter(int64_t number) {
  uint64_t h = static_cast<uint64_t>(number) * 0x9E3779B97F4A7C15ULL;
  h ^= h >> 29;
  return static_cast<double>(h % 1000) / 1000.0 - 0.5;
}

}  // namespace

// ---- history

std::string render_history(const Input& in) {
  const int k = in.options.objective;
  const auto done = value_trials(in.study, in.trials, k);
  const bool maxi = maximizing(in.study, k);

  // Best so far among feasible trials; the trials that improved it are always drawn.
  std::vector<const FrozenTrial*> improvers;
  bool any_infeasible = false;
  for (const FrozenTrial* t : done) {
    if (!t->feasible()) {
      any_infeasible = true;
      continue;
    }
    const double v = value_of(t, k);
    if (improvers.empty() || (maxi ? v > value_of(improvers.back(), k) : v < value_of(improvers.back(), k)))
      improvers.push_back(t);
  }
  std::vector<const FrozenTrial*> shown = subsample(done, in.options.max_points);
  if (shown.size() < done.size()) {
    std::set<const FrozenTrial*> have(shown.begin(), shown.end());
    for (const FrozenTrial* t : improvers)
      if (have.insert(t).second) shown.push_back(t);
    std::sort(shown.begin(), shown.end(), [](const FrozenTrial* a, const FrozenTrial* b) { return a->number < b->number; });
  }

  const Layout L = make_layout(in.options, 820, 460, 150);
  const Rect& P = L.plot;
  Svg svg(L.width, L.height);
  std::string subtitle = with_commas(done.size()) + " COMPLETE trials";
  if (!improvers.empty())
    subtitle += "; best " + format_number(value_of(improvers.back(), k)) + " (trial " +
                std::to_string(improvers.back()->number) + ")";
  const std::string note = subsample_note(shown.size(), done.size());
  if (!note.empty()) subtitle += "; " + note;
  draw_title(svg, "Optimization history: " + in.study.name, subtitle);

  const Scale x = auto_scale(static_cast<double>(done.front()->number), static_cast<double>(done.back()->number),
                             false, P.x, P.right(), 6);
  std::vector<double> values;
  values.reserve(done.size());
  for (const FrozenTrial* t : done) values.push_back(value_of(t, k));
  const Scale y = value_scale(values, P.bottom(), P.y);
  draw_x_axis(svg, x, P, "trial number");
  draw_y_axis(svg, y, P, objective_label(in.study, k));

  const double r = shown.size() > 1000 ? 2 : shown.size() > 100 ? 3 : 4;
  svg.open_group("class=\"trials\"");
  for (const FrozenTrial* t : shown) {
    const bool ok = t->feasible();
    svg.circle(x(static_cast<double>(t->number)), y(value_of(t, k)), r, ok ? palette(0) : kInfeasibleColor,
               "fill-opacity=\"0.65\"", trial_tooltip(*t, k) + (ok ? "" : " (infeasible)"));
  }
  svg.close_group();

  if (!improvers.empty()) {
    std::vector<std::pair<double, double>> pts;
    for (std::size_t i = 0; i < improvers.size(); ++i) {
      const double px = x(static_cast<double>(improvers[i]->number));
      if (i > 0) pts.emplace_back(px, y(value_of(improvers[i - 1], k)));
      pts.emplace_back(px, y(value_of(improvers[i], k)));
    }
    pts.emplace_back(x(static_cast<double>(done.back()->number)), y(value_of(improvers.back(), k)));
    svg.polyline(pts, kBestColor, 2, "class=\"best-so-far\" stroke-linejoin=\"round\"");
  }
  std::vector<std::pair<std::string, std::string>> legend = {{"objective value", palette(0)},
                                                             {maxi ? "best so far (max)" : "best so far (min)", kBestColor}};
  if (any_infeasible) legend.emplace_back("infeasible", kInfeasibleColor);
  draw_legend(svg, P.right() + 16, P.y + 10, legend);
  return svg.finish();
}

// ---- slice

std::string render_slice(const Input& in) {
  const int k = in.options.objective;
  const auto done = value_trials(in.study, in.trials, k);
  const auto params = select_params(collect_params(done), in.options.params, in.study);
  if (params.empty()) throw ValueError("study '" + in.study.name + "' has no params to plot");

  const std::size_t n = params.size();
  const std::size_t cols = std::min<std::size_t>(n, 3), rows = (n + cols - 1) / cols;
  const double bar = 96, top = 50;  // colour bar on the right, title above
  double cell_w = 340, cell_h = 300;
  if (in.options.width > 0) cell_w = std::max(80.0, (in.options.width - bar) / static_cast<double>(cols));
  if (in.options.height > 0) cell_h = std::max(80.0, (in.options.height - top) / static_cast<double>(rows));
  const int W = in.options.width > 0 ? in.options.width : static_cast<int>(cell_w * cols + bar);
  const int H = in.options.height > 0 ? in.options.height : static_cast<int>(cell_h * rows + top);

  // Every panel draws the same trials; the budget is shared between panels.
  const std::size_t budget = std::max(std::min<std::size_t>(done.size(), 200), in.options.max_points / n);
  const auto shown = subsample(done, budget);
  Svg svg(W, H);
  draw_title(svg, "Slice: " + in.study.name, with_commas(done.size()) + " COMPLETE trials" +
                                                  (shown.size() < done.size() ? "; " + subsample_note(shown.size(), done.size()) : ""));
  std::vector<double> values;
  for (const FrozenTrial* t : done) values.push_back(value_of(t, k));
  const Scale y_proto = value_scale(values, 1, 0);
  const double n0 = static_cast<double>(done.front()->number), n1 = static_cast<double>(done.back()->number);
  const double r = shown.size() > 1000 ? 2 : 2.8;

  for (std::size_t i = 0; i < n; ++i) {
    const ParamInfo& p = params[i];
    const double cx = cell_w * static_cast<double>(i % cols), cy = top + cell_h * static_cast<double>(i / cols);
    const Rect P{cx + 74, cy + 14, std::max(10.0, cell_w - 74 - 14), std::max(10.0, cell_h - 14 - 58)};
    const Scale x = param_scale(p, P.x, P.right());
    const Scale y = y_proto.with_range(P.bottom(), P.y);
    draw_x_axis(svg, x, P, p.name + (p.log ? " (log)" : ""), 5);
    draw_y_axis(svg, y, P, i % cols == 0 ? objective_label(in.study, k) : "", 5);
    svg.open_group("class=\"slice\" data-param=\"" + xml_escape(p.name) + "\"");
    for (const FrozenTrial* t : shown) {
      auto it = t->params.find(p.name);
      if (it == t->params.end()) continue;
      double px = x(it->second);
      if (p.categorical) px += jitter(t->number) * x.bandwidth() * 0.6;
      const double c = n1 > n0 ? (static_cast<double>(t->number) - n0) / (n1 - n0) : 0.5;
      svg.circle(px, y(value_of(t, k)), r, viridis(c), "fill-opacity=\"0.75\"", trial_tooltip(*t, k));
    }
    svg.close_group();
  }
  draw_colorbar(svg, {W - bar + 14, top + 20, 14, std::max(40.0, std::min(260.0, H - top - 80))}, n0, n1,
                "trial number");
  return svg.finish();
}

// ---- intermediate values

std::string render_intermediate(const Input& in) {
  const int k = in.options.objective;
  check_objective(in.study, k);
  std::vector<const FrozenTrial*> with_curve;
  for (const auto& t : in.trials) {
    bool any = false;
    for (const auto& [key, v] : t.intermediate_values)
      if (key.objective == k && std::isfinite(v)) any = true;
    if (any) with_curve.push_back(&t);
  }
  if (with_curve.empty())
    throw ValueError("study '" + in.study.name + "' has no intermediate values for " + objective_name(in.study, k) +
                     " (trials report them with report / bbo report)");
  std::stable_sort(with_curve.begin(), with_curve.end(),
                   [](const FrozenTrial* a, const FrozenTrial* b) { return a->number < b->number; });
  // At most max_points / 10 curves of at most 200 vertices each.
  const std::size_t max_curves = std::max<std::size_t>(20, in.options.max_points / 10);
  const auto shown = subsample(with_curve, max_curves);

  std::map<int64_t, std::vector<std::pair<int64_t, double>>> curves;  // by trial number
  double s0 = INFINITY, s1 = -INFINITY;
  std::vector<double> values;
  std::map<TrialState, std::size_t> counts;
  for (const FrozenTrial* t : with_curve) ++counts[t->state];
  for (const FrozenTrial* t : shown) {
    std::vector<std::pair<int64_t, double>> c;
    for (const auto& [key, v] : t->intermediate_values)
      if (key.objective == k && std::isfinite(v)) c.emplace_back(key.step, v);
    std::vector<std::pair<int64_t, double>> thin;
    for (std::size_t i : even_subsample(c.size(), 200)) thin.push_back(c[i]);
    for (const auto& [s, v] : thin) {
      s0 = std::min(s0, static_cast<double>(s)), s1 = std::max(s1, static_cast<double>(s));
      values.push_back(v);
    }
    curves[t->number] = std::move(thin);
  }

  const Layout L = make_layout(in.options, 820, 460, 150);
  const Rect& P = L.plot;
  Svg svg(L.width, L.height);
  std::string subtitle = with_commas(with_curve.size()) + " trials with learning curves";
  if (shown.size() < with_curve.size()) subtitle += "; " + subsample_note(shown.size(), with_curve.size(), "curves");
  draw_title(svg, "Intermediate values: " + in.study.name, subtitle);
  const Scale x = auto_scale(s0, s1, false, P.x, P.right(), 6);
  const Scale y = value_scale(values, P.bottom(), P.y);
  draw_x_axis(svg, x, P, "step");
  draw_y_axis(svg, y, P, objective_name(in.study, k));
  const std::string opacity = shown.size() > 100 ? "stroke-opacity=\"0.35\"" : "stroke-opacity=\"0.8\"";
  svg.open_group("class=\"curves\"");
  for (const FrozenTrial* t : shown) {
    const auto& c = curves[t->number];
    const std::string color = state_color(t->state);
    if (c.size() == 1) {
      svg.circle(x(static_cast<double>(c[0].first)), y(c[0].second), 2.5, color, "", trial_tooltip(*t, -1));
      continue;
    }
    std::vector<std::pair<double, double>> pts;
    for (const auto& [s, v] : c) pts.emplace_back(x(static_cast<double>(s)), y(v));
    svg.polyline(pts, color, 1.3, opacity + " data-trial=\"" + std::to_string(t->number) + "\"");
  }
  svg.close_group();
  std::vector<std::pair<std::string, std::string>> legend;
  for (const auto& [state, count] : counts) legend.emplace_back(to_string(state) + " (" + with_commas(count) + ")", state_color(state));
  draw_legend(svg, P.right() + 16, P.y + 10, legend);
  return svg.finish();
}

// ---- timeline

namespace {

struct Bar {
  const FrozenTrial* trial;
  int64_t start, end;
};

// The worker that ran a trial, from its system attrs, when the runner recorded one.
std::optional<std::string> worker_of(const FrozenTrial& t) {
  if (!t.system_attrs.is_object()) return std::nullopt;
  for (const char* key : {"worker", "worker_id", "hostname", "host"}) {
    if (!t.system_attrs.contains(key)) continue;
    const json& v = t.system_attrs[key];
    std::string s = v.is_string() ? v.get<std::string>() : v.dump();
    if (t.system_attrs.contains("pid") && std::string(key) != "worker" && std::string(key) != "worker_id")
      s += ":" + (t.system_attrs["pid"].is_string() ? t.system_attrs["pid"].get<std::string>() : t.system_attrs["pid"].dump());
    return s;
  }
  return std::nullopt;
}

}  // namespace

std::string render_timeline(const Input& in) {
  std::vector<Bar> bars;
  int64_t t0 = INT64_MAX, t1 = INT64_MIN;
  for (const auto& t : in.trials) {
    if (!t.datetime_start_us) continue;
    t0 = std::min(t0, *t.datetime_start_us);
    t1 = std::max(t1, *t.datetime_start_us);
    if (t.datetime_complete_us) t1 = std::max(t1, *t.datetime_complete_us);
    if (t.heartbeat_us) t1 = std::max(t1, *t.heartbeat_us);
  }
  for (const auto& t : in.trials) {
    if (!t.datetime_start_us) continue;
    int64_t end = t.datetime_complete_us ? *t.datetime_complete_us : t1;  // unfinished: up to the latest time seen
    bars.push_back({&t, *t.datetime_start_us, std::max(end, *t.datetime_start_us)});
  }
  if (bars.empty()) throw ValueError("study '" + in.study.name + "' has no started trial to plot");
  std::stable_sort(bars.begin(), bars.end(), [](const Bar& a, const Bar& b) {
    return a.start != b.start ? a.start < b.start : a.trial->number < b.trial->number;
  });

  // Rows: the recorded worker when there is one; otherwise one row per trial for few trials, else the trials
  // packed greedily into the fewest rows without overlap (the concurrency the study actually had).
  std::vector<std::string> row_names;
  std::vector<std::size_t> row_of(bars.size());
  std::string row_axis;
  bool any_worker = false;
  for (const Bar& b : bars) any_worker = any_worker || worker_of(*b.trial).has_value();
  if (any_worker) {
    std::map<std::string, std::size_t> index;
    for (const Bar& b : bars) index.emplace(worker_of(*b.trial).value_or("(unknown)"), 0);
    for (auto& [name, i] : index) i = row_names.size(), row_names.push_back(name);
    for (std::size_t i = 0; i < bars.size(); ++i) row_of[i] = index[worker_of(*bars[i].trial).value_or("(unknown)")];
    row_axis = "worker";
  } else if (bars.size() <= 40) {
    std::vector<std::size_t> order(bars.size());
    for (std::size_t i = 0; i < bars.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return bars[a].trial->number < bars[b].trial->number; });
    for (std::size_t r = 0; r < order.size(); ++r) {
      row_of[order[r]] = r;
      row_names.push_back("#" + std::to_string(bars[order[r]].trial->number));
    }
    row_axis = "trial";
  } else {
    using Busy = std::pair<int64_t, std::size_t>;  // (end, row)
    std::priority_queue<Busy, std::vector<Busy>, std::greater<>> busy;
    std::set<std::size_t> free_rows;
    for (std::size_t i = 0; i < bars.size(); ++i) {
      while (!busy.empty() && busy.top().first <= bars[i].start) {
        free_rows.insert(busy.top().second);
        busy.pop();
      }
      std::size_t r;
      if (!free_rows.empty()) {
        r = *free_rows.begin();
        free_rows.erase(free_rows.begin());
      } else {
        r = row_names.size();
        row_names.push_back("slot " + std::to_string(r));
      }
      row_of[i] = r;
      busy.emplace(bars[i].end, r);
    }
    row_axis = "concurrent slot";
  }
  const std::size_t max_rows = 200;
  const std::size_t n_rows = std::min(row_names.size(), max_rows);

  const int default_h = static_cast<int>(std::clamp(120.0 + 20.0 * static_cast<double>(n_rows), 260.0, 900.0));
  std::size_t longest = 0;
  for (std::size_t r = 0; r < n_rows; ++r) longest = std::max(longest, std::min<std::size_t>(row_names[r].size(), 14));
  const double left = std::clamp(40.0 + 7.0 * static_cast<double>(longest), 80.0, 150.0);
  const Layout L = make_layout(in.options, 920, default_h, 140, left);
  const Rect& P = L.plot;
  Svg svg(L.width, L.height);

  const double span_s = static_cast<double>(t1 - t0) / 1e6;
  double unit = 1;
  std::string unit_name = "s";
  if (span_s > 2 * 3600) unit = 3600, unit_name = "h";
  else if (span_s > 120) unit = 60, unit_name = "min";
  const auto to_x = [&](int64_t us) { return static_cast<double>(us - t0) / 1e6 / unit; };
  const Scale x = Scale::linear(0, std::max(to_x(t1), 1e-9), P.x, P.right());
  std::vector<std::string> labels(row_names.begin(), row_names.begin() + static_cast<std::ptrdiff_t>(n_rows));
  const Scale y = Scale::band(labels, P.y, P.bottom());
  draw_x_axis(svg, x, P, "time since the first trial started (" + unit_name + ")");
  draw_y_axis(svg, y, P, "", static_cast<int>(std::max(2.0, P.h / 14)), false);
  svg.text(18, P.y + P.h / 2, row_axis, "middle", 12, "fill=\"#222\"", -90);

  // A row with fewer bars than pixel columns draws each bar. A denser row is aggregated per pixel column:
  // each column is coloured by the state that covers most of it (difference arrays, O(1) per bar), and
  // runs of columns of one state become one rectangle, so a row costs at most one rectangle per column.
  const double bh = std::max(1.0, y.bandwidth() * 0.72);
  const bool tooltips = bars.size() <= 2000;
  const auto n_cols = static_cast<std::size_t>(std::max(1.0, std::ceil(P.w)));
  std::size_t aggregated_rows = 0, dropped_rows = 0;
  std::map<TrialState, std::size_t> counts;
  std::vector<std::vector<std::size_t>> by_row(n_rows);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    ++counts[bars[i].trial->state];
    if (row_of[i] < n_rows) by_row[row_of[i]].push_back(i);
    else ++dropped_rows;
  }
  constexpr std::size_t kStates = 5;  // TrialState values
  svg.open_group("class=\"bars\"");
  for (std::size_t r = 0; r < n_rows; ++r) {
    const double cy = y(static_cast<double>(r));
    if (by_row[r].size() <= n_cols / 2) {
      for (std::size_t i : by_row[r]) {
        const double a = x(to_x(bars[i].start)), b = x(to_x(bars[i].end));
        std::string tip;
        if (tooltips)
          tip = "trial " + std::to_string(bars[i].trial->number) + " " + to_string(bars[i].trial->state) + ", " +
                format_number(static_cast<double>(bars[i].end - bars[i].start) / 1e6) + " s";
        svg.rect({a, cy - bh / 2, std::max(1.0, b - a), bh}, state_color(bars[i].trial->state),
                 b - a > 3 ? "stroke=\"#ffffff\" stroke-width=\"0.6\"" : "", tip);
      }
      continue;
    }
    ++aggregated_rows;
    std::vector<std::array<int64_t, kStates>> diff(n_cols + 1, std::array<int64_t, kStates>{});
    for (std::size_t i : by_row[r]) {
      const auto col = [&](int64_t us) {
        return static_cast<std::size_t>(std::clamp(x(to_x(us)) - P.x, 0.0, static_cast<double>(n_cols - 1)));
      };
      const std::size_t c0 = col(bars[i].start), c1 = col(bars[i].end);
      const auto st = static_cast<std::size_t>(bars[i].trial->state);
      ++diff[c0][st];
      --diff[c1 + 1][st];
    }
    std::array<int64_t, kStates> cover{};
    int run_state = -1;
    std::size_t run_start = 0;
    const auto flush = [&](std::size_t end_col) {
      if (run_state >= 0)
        svg.rect({P.x + static_cast<double>(run_start), cy - bh / 2, static_cast<double>(end_col - run_start), bh},
                 state_color(static_cast<TrialState>(run_state)));
    };
    for (std::size_t c = 0; c <= n_cols; ++c) {
      int state = -1;
      if (c < n_cols) {
        for (std::size_t s = 0; s < kStates; ++s) cover[s] += diff[c][s];
        int64_t most = 0;
        for (std::size_t s = 0; s < kStates; ++s)
          if (cover[s] > most) most = cover[s], state = static_cast<int>(s);
      }
      if (state != run_state) {
        flush(c);
        run_state = state;
        run_start = c;
      }
    }
  }
  svg.close_group();

  std::string subtitle = with_commas(bars.size()) + " started trials over " + format_number(to_x(t1)) + " " + unit_name;
  if (aggregated_rows > 0) subtitle += "; dense rows: each pixel column shows its most common state";
  if (dropped_rows > 0) subtitle += "; " + with_commas(dropped_rows) + " trials on rows beyond the first 200 left out";
  draw_title(svg, "Timeline: " + in.study.name, subtitle);
  std::vector<std::pair<std::string, std::string>> legend;
  for (const auto& [state, count] : counts) legend.emplace_back(to_string(state) + " (" + with_commas(count) + ")", state_color(state));
  draw_legend(svg, P.right() + 16, P.y + 10, legend);
  return svg.finish();
}

}  // namespace bbo::viz::detail

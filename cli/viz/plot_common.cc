// cli/viz/plot_common.cc — render_svg's dispatch and the helpers the kinds share (see plot_common.h).
#include "viz/plot_common.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "bbo/error.h"
#include "bbo/importance.h"

namespace bbo::viz {

std::vector<std::string> plot_kinds() {
  return {"history", "slice", "contour", "parallel", "importance", "pareto", "intermediate", "timeline"};
}

std::string render_svg(const std::string& kind, const StudyInfo& study, const std::vector<FrozenTrial>& trials,
                       const PlotOptions& options) {
  using namespace detail;
  if (options.width < 0 || options.height < 0)
    throw ValueError("plot size must be positive (got " + std::to_string(options.width) + "x" +
                     std::to_string(options.height) + ")");
  if (options.width > 20000 || options.height > 20000)
    throw ValueError("plot size " + std::to_string(options.width) + "x" + std::to_string(options.height) +
                     " is too large (at most 20000 pixels a side)");
  PlotOptions o = options;
  o.max_points = std::max<std::size_t>(o.max_points, 1);  // 0 would leave nothing to draw or interpolate from
  const Input in{study, trials, o};
  if (kind == "history") return render_history(in);
  if (kind == "slice") return render_slice(in);
  if (kind == "contour") return render_contour(in);
  if (kind == "parallel") return render_parallel(in);
  if (kind == "importance") return render_importance(in);
  if (kind == "pareto") return render_pareto(in);
  if (kind == "intermediate") return render_intermediate(in);
  if (kind == "timeline") return render_timeline(in);
  std::string list;
  for (const auto& k : plot_kinds()) list += (list.empty() ? "" : ", ") + k;
  throw ValueError("unknown plot kind '" + kind + "' (kinds: " + list + ")");
}

namespace detail {

void check_objective(const StudyInfo& study, int k) {
  const auto n = static_cast<int>(study.directions.size());
  if (k < 0 || k >= n)
    throw ValueError("objective " + std::to_string(k) + " is out of range: study '" + study.name + "' has " +
                     std::to_string(n) + (n == 1 ? " objective (0)" : " objectives (0.." + std::to_string(n - 1) + ")"));
}

bool maximizing(const StudyInfo& study, int k) {
  return k >= 0 && static_cast<std::size_t>(k) < study.directions.size() &&
         study.directions[static_cast<std::size_t>(k)] == Direction::kMaximize;
}

std::string objective_name(const StudyInfo& study, int k) {
  for (const char* key : {"metric_names", "study:metric_names"}) {
    const json& sys = study.system_attrs;
    if (sys.is_object() && sys.contains(key) && sys[key].is_array() && k >= 0 &&
        static_cast<std::size_t>(k) < sys[key].size() && sys[key][static_cast<std::size_t>(k)].is_string())
      return sys[key][static_cast<std::size_t>(k)].get<std::string>();
  }
  return study.directions.size() <= 1 ? "value" : "objective " + std::to_string(k);
}

std::string objective_label(const StudyInfo& study, int k) {
  return objective_name(study, k) + (maximizing(study, k) ? " (maximize)" : " (minimize)");
}

std::vector<const FrozenTrial*> complete_trials(const std::vector<FrozenTrial>& trials, int k) {
  std::vector<const FrozenTrial*> out;
  for (const auto& t : trials)
    if (t.state == TrialState::kComplete && k >= 0 && static_cast<std::size_t>(k) < t.values.size() &&
        std::isfinite(t.values[static_cast<std::size_t>(k)]))
      out.push_back(&t);
  std::stable_sort(out.begin(), out.end(), [](const FrozenTrial* a, const FrozenTrial* b) { return a->number < b->number; });
  return out;
}

void require_some(const std::vector<const FrozenTrial*>& v, const StudyInfo& study, int k) {
  if (v.empty())
    throw ValueError("study '" + study.name + "' has no COMPLETE trial with a finite value of " +
                     objective_name(study, k) + " to plot");
}

std::vector<const FrozenTrial*> value_trials(const StudyInfo& study, const std::vector<FrozenTrial>& trials, int k) {
  check_objective(study, k);
  auto done = complete_trials(trials, k);
  require_some(done, study, k);
  return done;
}

std::vector<ParamInfo> collect_params(const std::vector<const FrozenTrial*>& trials) {
  std::map<std::string, const Distribution*> latest;
  for (const FrozenTrial* t : trials)
    for (const auto& [name, d] : t->distributions) latest[name] = &d;
  std::vector<ParamInfo> out;
  for (const auto& [name, d] : latest) {
    ParamInfo p;
    p.name = name;
    p.dist = *d;
    if (const auto* f = std::get_if<FloatDistribution>(d)) p.log = f->log;
    if (const auto* i = std::get_if<IntDistribution>(d)) p.log = i->log;
    if (const auto* c = std::get_if<CategoricalDistribution>(d)) {
      p.categorical = true;
      for (const auto& choice : c->choices) p.labels.push_back(param_value_to_string(choice));
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<ParamInfo> select_params(const std::vector<ParamInfo>& all, const std::vector<std::string>& requested,
                                     const StudyInfo& study) {
  if (requested.empty()) return all;
  std::vector<ParamInfo> out;
  std::set<std::string> seen;
  for (const auto& name : requested) {
    auto it = std::find_if(all.begin(), all.end(), [&](const ParamInfo& p) { return p.name == name; });
    if (it == all.end()) {
      std::string list;
      for (const auto& p : all) list += (list.empty() ? "" : ", ") + p.name;
      throw ValueError("unknown param '" + name + "' in study '" + study.name + "' (params: " +
                       (list.empty() ? "none" : list) + ")");
    }
    if (seen.insert(name).second) out.push_back(*it);
  }
  return out;
}

Scale param_scale(const ParamInfo& p, double r0, double r1) {
  if (p.categorical) return Scale::band(p.labels, r0, r1);
  double lo = 0, hi = 1;
  if (const auto* f = std::get_if<FloatDistribution>(&p.dist)) lo = f->low, hi = f->high;
  if (const auto* i = std::get_if<IntDistribution>(&p.dist))
    lo = static_cast<double>(i->low), hi = static_cast<double>(i->high);
  return auto_scale(lo, hi, p.log && lo > 0, r0, r1, 6);
}

Scale value_scale(const std::vector<double>& values, double r0, double r1) {
  double lo = INFINITY, hi = -INFINITY;
  for (double v : values)
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(lo <= hi)) lo = 0, hi = 1;
  const bool log = lo > 0 && hi / lo >= 1e3;
  return auto_scale(lo, hi, log, r0, r1, 6);
}

Layout make_layout(const PlotOptions& o, int default_w, int default_h, double right, double left) {
  Layout l;
  l.width = o.width > 0 ? o.width : default_w;
  l.height = o.height > 0 ? o.height : default_h;
  const double top = 58, bottom = 56;
  l.plot = {left, top, std::max(20.0, l.width - left - right), std::max(20.0, l.height - top - bottom)};
  return l;
}

std::vector<const FrozenTrial*> subsample(const std::vector<const FrozenTrial*>& v, std::size_t m) {
  std::vector<const FrozenTrial*> out;
  for (std::size_t i : even_subsample(v.size(), m)) out.push_back(v[i]);
  return out;
}

std::string with_commas(std::size_t n) {
  std::string s = std::to_string(n), out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

std::string subsample_note(std::size_t shown, std::size_t total, const std::string& what) {
  if (shown >= total) return "";
  return "showing " + with_commas(shown) + " of " + with_commas(total) + " " + what + " (evenly subsampled)";
}

std::string trial_tooltip(const FrozenTrial& t, int k) {
  std::string s = "trial " + std::to_string(t.number);
  if (k >= 0 && static_cast<std::size_t>(k) < t.values.size()) s += ": " + format_number(t.values[static_cast<std::size_t>(k)]);
  return s;
}

std::vector<Importance> importances(const std::vector<const FrozenTrial*>& trials, int k,
                                    const std::vector<std::string>& params) {
  std::vector<FrozenTrial> copies;
  copies.reserve(trials.size());
  for (const FrozenTrial* t : trials) copies.push_back(*t);
  ImportanceOptions o;
  o.objective = k;
  o.params = params;
  std::vector<Importance> out;
  for (const auto& p : param_importances(copies, o)) out.push_back({p.name, p.importance, p.std_dev});
  std::stable_sort(out.begin(), out.end(), [](const Importance& a, const Importance& b) { return a.importance > b.importance; });
  return out;
}

}  // namespace detail
}  // namespace bbo::viz

// cli/viz/plot_common.h — what the plot kinds share: picking the trials and params to draw, objective names
// and directions, the scale of a parameter or of objective values, subsampling notes. Internal to bbo_viz.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "viz/draw.h"
#include "viz/plot.h"

namespace bbo::viz::detail {

// Everything a kind gets.
struct Input {
  const StudyInfo& study;
  const std::vector<FrozenTrial>& trials;
  const PlotOptions& options;
};

// Throws ValueError unless 0 <= k < the study's number of objectives.
void check_objective(const StudyInfo& study, int k);
bool maximizing(const StudyInfo& study, int k);
// The study's name for objective k: its "metric_names" (or Optuna's "study:metric_names") system attr, else
// "value" for a single objective and "objective k" for several.
std::string objective_name(const StudyInfo& study, int k);
// objective_name plus the direction: "value (minimize)".
std::string objective_label(const StudyInfo& study, int k);

// COMPLETE trials with a finite value for objective k, in number order.
std::vector<const FrozenTrial*> complete_trials(const std::vector<FrozenTrial>& trials, int k);
// Throws ValueError ("study 'S' has no COMPLETE trial with a finite value ...") when `v` is empty.
void require_some(const std::vector<const FrozenTrial*>& v, const StudyInfo& study, int k);
// What every value plot starts with: check_objective, then the complete trials, required to be some.
std::vector<const FrozenTrial*> value_trials(const StudyInfo& study, const std::vector<FrozenTrial>& trials, int k);

// A parameter as drawn: its distribution (from the latest trial that has it) and axis kind.
struct ParamInfo {
  std::string name;
  Distribution dist;
  bool log = false;
  bool categorical = false;
  std::vector<std::string> labels;  // categorical choices as text
};
// The params of `trials`, sorted by name.
std::vector<ParamInfo> collect_params(const std::vector<const FrozenTrial*>& trials);
// The requested params in the requested order (all when `requested` is empty); throws ValueError naming an
// unknown param and listing the study's params.
std::vector<ParamInfo> select_params(const std::vector<ParamInfo>& all, const std::vector<std::string>& requested,
                                     const StudyInfo& study);
// A scale over the param's distribution bounds (log for log distributions, bands for categoricals).
Scale param_scale(const ParamInfo& p, double r0, double r1);
// A scale for objective values: log when they are all positive and span three decades or more.
Scale value_scale(const std::vector<double>& values, double r0, double r1);

// `v` subsampled to at most m evenly spread entries (deterministic), in order.
std::vector<const FrozenTrial*> subsample(const std::vector<const FrozenTrial*>& v, std::size_t m);
// "showing 5,000 of 50,000 trials (evenly subsampled)"; "" when shown == total.
std::string subsample_note(std::size_t shown, std::size_t total, const std::string& what = "trials");
// "50,000"
std::string with_commas(std::size_t n);
// The value of objective k as a short label.
std::string trial_tooltip(const FrozenTrial& t, int k);

// The figure size (the options' or the default) and the plot area inside it, with room for the title above,
// the axis labels left and below and `right` pixels on the right (legends, colour bars).
struct Layout {
  int width = 0, height = 0;
  Rect plot;
};
Layout make_layout(const PlotOptions& o, int default_w, int default_h, double right = 24, double left = 78);

// The kinds (plots_*.cc).
std::string render_history(const Input& in);
std::string render_slice(const Input& in);
std::string render_contour(const Input& in);
std::string render_parallel(const Input& in);
std::string render_importance(const Input& in);
std::string render_pareto(const Input& in);
std::string render_intermediate(const Input& in);
std::string render_timeline(const Input& in);

// Importances of the selected params for objective k over `trials` (bbo::param_importances), most important
// first.
struct Importance {
  std::string name;
  double importance = 0, std_dev = 0;
};
std::vector<Importance> importances(const std::vector<const FrozenTrial*>& trials, int k,
                                    const std::vector<std::string>& params);

}  // namespace bbo::viz::detail

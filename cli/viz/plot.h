// cli/viz/plot.h — plots of a study as self-contained SVG documents (and PNG through librsvg), for
// `bbo plot` and the dashboard.
//
// Every kind reads only the study record and its trials, so no plugin is needed. Output is deterministic:
// the same trials and options give the same bytes. Above `max_points` trials a plot shows an even,
// deterministic subsample (keeping the trials that matter: the best-so-far steps, the Pareto front) or
// aggregates (a dense timeline row is coloured per pixel column), and says so under its title; a 50,000-trial
// study renders in well under a second into an SVG of bounded size. Parallel draws and contour overlays at
// most 2,000 trials; contour interpolates from, and importance fits its forest on, an even 2,000 whatever
// max_points says (they draw no point per trial).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "bbo/storage.h"
#include "bbo/trial.h"

namespace bbo::viz {

struct PlotOptions {
  std::vector<std::string> params;  // slice/contour/parallel/importance: which params (empty: all; contour: the
                                    // two most important or first two)
  int objective = 0;
  int width = 0, height = 0;        // 0: the kind's default size
  std::size_t max_points = 5000;    // above this, subsample (deterministically) or aggregate
};

// Kinds: "history", "slice", "contour", "parallel", "importance", "pareto", "intermediate", "timeline".
std::vector<std::string> plot_kinds();

// A self-contained SVG document. Throws bbo::ValueError with a one-line message for an unknown kind or a plot
// the study cannot make (pareto on a single-objective study, contour with < 2 params, no complete trials, an
// unknown param, an objective out of range...).
std::string render_svg(const std::string& kind, const StudyInfo& study, const std::vector<FrozenTrial>& trials,
                       const PlotOptions& options = {});

// PNG bytes rendered from an SVG (librsvg + cairo), scaled to width x height when given (one of them: the
// other keeps the aspect ratio; neither: the SVG's own size). Throws bbo::Error when built without PNG
// support, bbo::ValueError when the SVG cannot be parsed.
std::string svg_to_png(const std::string& svg, int width = 0, int height = 0);
bool png_supported();

}  // namespace bbo::viz

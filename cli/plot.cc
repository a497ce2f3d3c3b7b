// bbo plot: one plot of a study (history, slice, contour, parallel, importance, pareto, intermediate,
// timeline) written as SVG, or PNG through librsvg. The drawing is cli/viz/ (bbo_viz).
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "common.h"
#include "viz/plot.h"

namespace bbo::cli {
namespace {

struct PlotCmdOptions {
  StorageOption storage;
  std::string kind;
  std::string study;
  std::string output;
  std::vector<std::string> params;
  int objective = 0;
  int width = 0, height = 0;
  std::size_t max_points = 5000;
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int run(const PlotCmdOptions& o) {
  // Everything that the command line alone decides is checked before the storage is opened.
  const auto kinds = viz::plot_kinds();
  if (std::find(kinds.begin(), kinds.end(), o.kind) == kinds.end()) {
    std::string list;
    for (const auto& k : kinds) list += (list.empty() ? "" : ", ") + k;
    throw UsageError("unknown plot kind '" + o.kind + "' (kinds: " + list + ")");
  }
  const std::string ext = o.output == "-" ? ".svg" : lower(std::filesystem::path(o.output).extension().string());
  if (ext != ".svg" && ext != ".png")
    throw UsageError("-o '" + o.output + "': the file name must end in .svg or .png (or be - for SVG on stdout)");
  if (ext == ".png" && !viz::png_supported())
    throw Error("this bbo was built without PNG support (librsvg2-dev); write an .svg instead");

  OpenStudy s = open_study(o.storage.resolve(), o.study);
  const std::vector<FrozenTrial> trials = s.storage->get_trials(s.info.id);
  viz::PlotOptions po;
  po.params = o.params;
  po.objective = o.objective;
  po.width = o.width;
  po.height = o.height;
  po.max_points = o.max_points;
  const std::string svg = viz::render_svg(o.kind, s.info, trials, po);
  const std::string bytes = ext == ".png" ? viz::svg_to_png(svg) : svg;

  if (o.output == "-") {
    std::cout << bytes;
    return kExitOk;
  }
  std::ofstream out(o.output, std::ios::binary | std::ios::trunc);
  if (!out) throw ValueError("'" + o.output + "': cannot write: " + std::strerror(errno));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw ValueError("'" + o.output + "': cannot write: " + std::strerror(errno));
  std::cerr << "Wrote the " << o.kind << " plot of study '" << o.study << "' (" << trials.size() << " trials) to "
            << o.output << "\n";
  return kExitOk;
}

}  // namespace

Command register_plot(CLI::App& app) {
  auto o = std::make_shared<PlotCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "plot", "Plot a study as SVG or PNG: history, slice, contour, parallel, importance, pareto, intermediate, timeline");
  add_storage_option(cmd, o->storage);
  cmd->add_option("kind", o->kind,
                  "history | slice | contour | parallel | importance | pareto | intermediate | timeline")
      ->required();
  cmd->add_option("--study", o->study, "Study name")->required();
  cmd->add_option("-o,--output", o->output, "Output file: FILE.svg, FILE.png, or - for SVG on stdout")->required();
  cmd->add_option("--params", o->params, "Params to plot, comma-separated (slice, contour, parallel, importance)")
      ->delimiter(',');
  cmd->add_option("--objective", o->objective, "Objective index (default 0)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--width", o->width, "Width in pixels (default: the kind's)")->check(CLI::Range(1, 20000));
  cmd->add_option("--height", o->height, "Height in pixels (default: the kind's)")->check(CLI::Range(1, 20000));
  cmd->add_option("--max-points", o->max_points, "Above this many trials, subsample or aggregate (default 5000)")
      ->check(CLI::Range(1, 10000000));
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli

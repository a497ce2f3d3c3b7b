// bbo importance: how much of an objective's variation each parameter explains (fANOVA, bbo/importance.h).
#include <cstdio>
#include <iostream>

#include "bbo/importance.h"
#include "common.h"

namespace bbo::cli {
namespace {

struct ImportanceCmdOptions {
  StorageOption storage;
  FormatOption format;
  std::string study;
  int objective = 0;
  std::vector<std::string> params;
  int n_trees = ImportanceOptions{}.n_trees;
  int max_depth = ImportanceOptions{}.max_depth;
  uint64_t seed = 0;
};

// Tables show four decimals (shares of variance: more digits are noise); CSV and JSON keep full precision.
std::string fixed4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

int run(const ImportanceCmdOptions& o) {
  // Everything is checked before the storage is read; nothing is written.
  if (o.n_trees < 1) throw ValueError("--n-trees must be >= 1 (got " + std::to_string(o.n_trees) + ")");
  if (o.max_depth < 1) throw ValueError("--max-depth must be >= 1 (got " + std::to_string(o.max_depth) + ")");
  OpenStudy s = open_study(o.storage.resolve(), o.study);
  size_t n_objectives = s.info.directions.size();
  if (o.objective < 0 || static_cast<size_t>(o.objective) >= n_objectives)
    throw ValueError("--objective " + std::to_string(o.objective) + " is out of range: study '" + o.study +
                     "' has " + std::to_string(n_objectives) + " objective" + (n_objectives == 1 ? "" : "s") +
                     " (0-based)");
  std::vector<FrozenTrial> trials = s.storage->get_trials(s.info.id, {TrialState::kComplete});

  ImportanceOptions opt;
  opt.objective = o.objective;
  opt.params = o.params;
  opt.n_trees = o.n_trees;
  opt.max_depth = o.max_depth;
  opt.seed = o.seed;
  std::vector<ParamImportance> result;
  try {
    result = param_importances(trials, opt);
  } catch (const ValueError& e) {
    // Drop the library's function-name prefix and say which study.
    std::string msg = e.what();
    const std::string prefix = "param_importances: ";
    if (msg.rfind(prefix, 0) == 0) msg = msg.substr(prefix.size());
    throw ValueError("study '" + o.study + "': " + msg);
  }

  Format f = o.format.format();
  if (f == Format::kJson) {
    json arr = json::array();
    for (const auto& p : result)
      arr.push_back({{"param", p.name}, {"importance", number_json(p.importance)}, {"std", number_json(p.std_dev)}});
    std::cout << arr.dump(2) << '\n';
    return kExitOk;
  }
  Table t;
  t.header = {"param", "importance", "std"};
  for (const auto& p : result)
    t.rows.push_back(f == Format::kCsv ? std::vector<std::string>{p.name, format_double(p.importance),
                                                                  format_double(p.std_dev)}
                                       : std::vector<std::string>{p.name, fixed4(p.importance), fixed4(p.std_dev)});
  if (f == Format::kCsv)
    print_csv(std::cout, t);
  else
    print_table(std::cout, t);
  return kExitOk;
}

}  // namespace

Command register_importance(CLI::App& app) {
  auto o = std::make_shared<ImportanceCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "importance", "Parameter importance (fANOVA on a random forest fitted to the COMPLETE trials)");
  add_storage_option(cmd, o->storage);
  add_format_option(cmd, o->format);
  cmd->add_option("--study", o->study, "Study name")->required();
  cmd->add_option("--objective", o->objective, "Which objective to explain (0-based; default 0)");
  cmd->add_option("--params", o->params,
                  "Only these parameters, comma-separated (default: those present in every COMPLETE trial)")
      ->delimiter(',');
  cmd->add_option("--n-trees", o->n_trees, "Trees in the random forest (default 64)");
  cmd->add_option("--max-depth", o->max_depth, "Maximum depth of each tree (default 64)");
  cmd->add_option("--seed", o->seed, "Seed of the forest (default 0); the same seed gives the same output");
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli

// A tiny application that optimizes with the out-of-tree strategy. The plugin is found through
// BBO_PLUGIN_PATH (the folder holding libbbo_my_strategy.so).
//
// usage: BBO_PLUGIN_PATH=<dir> app [STORAGE_URL]
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "bbo/error.h"
#include "bbo/plugin.h"
#include "bbo/study.h"

int main(int argc, char** argv) {
  const std::string storage = argc > 1 ? argv[1] : "memory:";
  try {
    const bbo::PluginDescription desc = bbo::PluginRegistry::global().describe(bbo::PluginKind::kStrategy, "my_strategy");
    std::cout << "strategy my_strategy from " << desc.path << "\n";

    bbo::StudyOptions study_options;
    study_options.name = "out-of-tree";
    study_options.storage = storage;
    study_options.strategy = "my_strategy";
    study_options.strategy_params = {{"n_startup", 5}, {"sigma", 0.15}};
    study_options.seed = 1;
    study_options.load_if_exists = true;
    auto study = bbo::Study::create(study_options);
    bbo::OptimizeOptions options;
    options.n_trials = 20;
    study.optimize(
        [](bbo::Trial& t) {
          const double x = t.suggest_float("x", -4, 4);
          const double y = t.suggest_float("y", -4, 4);
          const std::string c = t.suggest_categorical("c", std::vector<std::string>{"a", "b"});
          return (x - 1) * (x - 1) + (y + 0.5) * (y + 0.5) + (c == "a" ? 0.0 : 1.0);
        },
        options);
    const bbo::FrozenTrial best = study.best_trial();
    std::cout << "trials " << study.trials().size() << ", best #" << best.number << " value " << best.values.at(0)
              << "\n";
  } catch (const bbo::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

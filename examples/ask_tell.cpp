// The ask/tell loop of DESIGN §1: the application owns the loop, bbo proposes parameters and stores results.
//
// usage: bbo_example_ask_tell [STORAGE_URL] [STRATEGY] [N_TRIALS]
//   STORAGE_URL  memory: (default) or sqlite:///path/to/demo.db (the study is reopened if it exists)
//   STRATEGY     random (default) or sobol
//
// The search space is define-by-run: a float (log scale), an int, a categorical, and a parameter that only
// exists when act == "leaky_relu" (a conditional parameter).
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "bbo/error.h"
#include "bbo/study.h"

namespace {

// A stand-in for "train a model and return its validation loss". Minimum near lr = 10^-2.5, layers = 3,
// act = leaky_relu with slope 0.1, x = 1.
double objective(double x, double lr, int64_t layers, const std::string& act, double slope) {
  double loss = (x - 1.0) * (x - 1.0) + std::pow(std::log10(lr) + 2.5, 2) + 0.1 * std::pow(layers - 3.0, 2);
  if (act == "tanh") loss += 0.5;
  if (act == "relu") loss += 0.2;
  if (act == "leaky_relu") loss += 10.0 * std::pow(slope - 0.1, 2);
  return loss;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string storage = argc > 1 ? argv[1] : "memory:";
  const std::string strategy = argc > 2 ? argv[2] : "random";
  const int n_trials = argc > 3 ? std::atoi(argv[3]) : 60;
  try {
    bbo::StudyOptions options;
    options.name = "ask-tell-demo";
    options.storage = storage;
    options.directions = {bbo::Direction::kMinimize};
    options.strategy = strategy;
    options.seed = 42;
    options.load_if_exists = true;  // a second run on the same SQLite file continues the study
    auto study = bbo::Study::create(options);
    for (int i = 0; i < n_trials; ++i) {
      bbo::Trial trial = study.ask();
      const double x = trial.suggest_float("x", -5, 5);
      const double lr = trial.suggest_float("lr", 1e-5, 1e-1, /*log=*/true);
      const int64_t layers = trial.suggest_int("layers", 1, 8);
      const std::string act = trial.suggest_categorical("act", std::vector<std::string>{"relu", "tanh", "leaky_relu"});
      double slope = 0.0;
      if (act == "leaky_relu") {  // conditional: only these trials have a "slope" parameter
        slope = trial.suggest_float("slope", 0.0, 0.3, false, 0.01);
      }
      study.tell(trial, objective(x, lr, layers, act, slope));
    }

    const bbo::FrozenTrial best = study.best_trial();
    std::cout << "study " << study.name() << " (" << strategy << ", " << storage << "): "
              << study.trials().size() << " trials\n";
    std::cout << "best trial #" << best.number << " value " << best.values.at(0) << "\n";
    for (const auto& [name, value] : best.external_params()) {
      std::cout << "  " << name << " = " << bbo::param_value_to_string(value) << "\n";
    }
  } catch (const bbo::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

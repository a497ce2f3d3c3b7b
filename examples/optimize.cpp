// Study::optimize: bbo runs the loop, calls the objective, and records every outcome.
//
// usage: bbo_example_optimize [STORAGE_URL] [N_TRIALS]
//
// The objective trains a pretend model for up to 20 epochs, reporting the loss after each epoch; the median
// pruner stops trials whose curve is worse than the median of earlier trials at the same epoch (the
// objective throws bbo::TrialPruned). Some configurations "diverge" and throw: with catch_failures the trial
// is stored as FAIL with its reason and the optimization goes on. A callback prints progress and could stop
// the run by returning false.
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>

#include "bbo/error.h"
#include "bbo/study.h"

int main(int argc, char** argv) {
  const std::string storage = argc > 1 ? argv[1] : "memory:";
  const int64_t n_trials = argc > 2 ? std::atoll(argv[2]) : 60;
  try {
    bbo::StudyOptions study_options;
    study_options.name = "optimize-demo";
    study_options.storage = storage;
    study_options.strategy = "random";
    study_options.pruner = "median";
    study_options.seed = 7;
    auto study = bbo::Study::create(study_options);

    auto objective = [](bbo::Trial& trial) -> double {
      const double lr = trial.suggest_float("lr", 1e-4, 1.0, /*log=*/true);
      const double width = static_cast<double>(trial.suggest_int("width", 8, 256, /*log=*/true));
      if (lr > 0.5) throw std::runtime_error("loss diverged (lr too high)");
      // The final loss depends on lr and width; the curve decays towards it.
      const double final_loss = std::pow(std::log10(lr) + 2.0, 2) + 10.0 / width;
      double loss = 0.0;
      for (int64_t epoch = 0; epoch < 20; ++epoch) {
        loss = final_loss + 5.0 * std::exp(-0.3 * static_cast<double>(epoch));
        trial.report(epoch, loss);
        if (trial.should_prune()) throw bbo::TrialPruned();
      }
      return loss;
    };

    bbo::OptimizeOptions options;
    options.n_trials = n_trials;
    options.catch_failures = true;
    options.callbacks.push_back([](bbo::Study&, const bbo::FrozenTrial& t) {
      if ((t.number + 1) % 10 == 0) std::cout << "finished trial #" << t.number << "\n";
      return true;  // false would stop the optimization
    });
    study.optimize(objective, options);

    std::map<bbo::TrialState, int> counts;
    for (const auto& t : study.trials()) ++counts[t.state];
    std::cout << "complete=" << counts[bbo::TrialState::kComplete] << " pruned=" << counts[bbo::TrialState::kPruned]
              << " failed=" << counts[bbo::TrialState::kFail] << "\n";
    for (const auto& t : study.trials({bbo::TrialState::kFail})) {
      std::cout << "trial #" << t.number << " failed: " << t.system_attrs.value("fail_reason", std::string()) << "\n";
      break;  // one is enough to show where the reason is kept
    }
    const bbo::FrozenTrial best = study.best_trial();
    std::cout << "best trial #" << best.number << " value " << best.values.at(0) << " lr "
              << bbo::param_value_to_string(best.param("lr")) << " width "
              << bbo::param_value_to_string(best.param("width")) << "\n";
  } catch (const bbo::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

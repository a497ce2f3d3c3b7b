// Runs a study file end to end: reads the YAML (DESIGN §1 schema), creates or resumes the study, optimizes a
// simulated training job over the study's search space and prints the best trial.
//
// usage: bbo_example_run_study STUDY.yaml [--storage URL] [--trials N]
//
// The simulated job: each parameter of the space has a hidden best value (in the unit cube); the final
// validation loss grows with the distance to it, and the job "trains" for 27 epochs with a loss curve that
// decays towards that final loss, reporting after each epoch so that the study's pruner can stop it early.
// Without --storage the study lives in the storage named by the file, else in memory.
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>

#include "bbo/config.h"
#include "bbo/error.h"
#include "bbo/study.h"

namespace {

double hidden_optimum(const std::string& name) {
  return static_cast<double>(bbo::hash_string(name) % 1000) / 1000.0 * 0.8 + 0.1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: " << argv[0] << " STUDY.yaml [--storage URL] [--trials N]\n";
    return 2;
  }
  try {
    bbo::StudyConfig cfg = bbo::load_study_config(argv[1]);
    int64_t n_trials = 40;
    for (int i = 2; i < argc; ++i) {
      std::string a = argv[i];
      if (a == "--storage" && i + 1 < argc) cfg.options.storage = argv[++i];
      else if (a == "--trials" && i + 1 < argc) n_trials = std::atoll(argv[++i]);
      else throw bbo::ConfigError("unknown argument '" + a + "'");
    }
    if (cfg.options.search_space.empty()) throw bbo::ConfigError(std::string(argv[1]) + ": search_space is empty");
    cfg.options.load_if_exists = true;
    bbo::Study study = bbo::Study::create(cfg.options);
    const bbo::SearchSpace space = study.search_space();

    auto objective = [&](bbo::Trial& trial) -> std::vector<double> {
      std::map<std::string, double> internal;
      for (const auto& [name, value] : trial.frozen().params) internal[name] = value;
      std::vector<double> u = space.encode(internal);
      double final_loss = 0.0;
      for (size_t i = 0; i < u.size(); ++i) final_loss += std::pow(u[i] - hidden_optimum(space.names()[i]), 2);
      double loss = final_loss;
      for (int64_t epoch = 1; epoch <= 27; ++epoch) {
        loss = final_loss + 2.0 / std::sqrt(static_cast<double>(epoch));
        trial.report(epoch, loss);
        if (trial.should_prune()) throw bbo::TrialPruned();
      }
      return std::vector<double>(study.directions().size(), loss);
    };
    bbo::OptimizeOptions options;
    options.n_trials = n_trials;
    study.optimize(objective, options);

    auto all = study.trials();
    int complete = 0, pruned = 0;
    for (const auto& t : all) {
      complete += t.state == bbo::TrialState::kComplete;
      pruned += t.state == bbo::TrialState::kPruned;
    }
    std::cout << "study '" << study.name() << "': " << all.size() << " trials (" << complete << " complete, "
              << pruned << " pruned)\n";
    for (const auto& best : study.best_trials()) {
      std::cout << "best trial " << best.number << ": value";
      for (double v : best.values) std::cout << " " << v;
      std::cout << "  params " << bbo::params_to_json(best).dump() << "\n";
    }
    return 0;
  } catch (const bbo::Error& e) {
    std::cerr << "bbo_example_run_study: error: " << e.what() << "\n";
    return bbo::exit_code(e);
  }
}

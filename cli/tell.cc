// bbo tell: finishes a trial with its objective values, or as FAIL / PRUNED.
#include <cmath>
#include <iostream>

#include "common.h"

namespace bbo::cli {
namespace {

struct TellOptions {
  StorageOption storage;
  FormatOption format;
  std::string study;
  int64_t trial = -1;
  std::vector<std::string> values;
  std::string state;
  std::vector<std::string> constraints;
};

int run(const TellOptions& o) {
  if (o.values.empty() && o.state.empty()) throw UsageError("give the result: --value V... or --state fail|pruned");
  std::vector<double> values, constraints;
  for (const auto& v : o.values) values.push_back(parse_double(v, "--value"));
  for (const auto& c : o.constraints) constraints.push_back(parse_double(c, "--constraint"));
  TrialState state = TrialState::kComplete;
  if (!o.state.empty()) {
    state = trial_state_from_string(o.state);
    if (state != TrialState::kFail && state != TrialState::kPruned)
      throw ValueError("--state: expected fail or pruned (give --value for a complete trial), got '" + o.state + "'");
  }

  OpenStudy s = open_study(o.storage.resolve(), o.study);
  if (state == TrialState::kComplete && values.size() != s.info.directions.size())
    throw ValueError("--value: study '" + o.study + "' has " + std::to_string(s.info.directions.size()) +
                     " direction(s), got " + std::to_string(values.size()) + " value(s)");
  FrozenTrial t = s.storage->get_trial_by_number(s.info.id, o.trial);
  if (t.state != TrialState::kRunning)
    throw TrialStateError("trial " + std::to_string(o.trial) + " of study '" + o.study + "' is " +
                          to_string(t.state) + ", only a RUNNING trial can be told");

  Study study = Study::load(o.study, s.storage);
  TrialState result = study.tell(o.trial, state, values, constraints);

  if (o.format.format() == Format::kJson) {
    std::cout << json{{"number", o.trial}, {"state", to_string(result)}}.dump() << '\n';
  } else {
    std::cout << "Trial " << o.trial << " finished: " << to_string(result) << '\n';
  }
  if (state == TrialState::kComplete && result == TrialState::kFail) {
    // A NaN objective is recorded (the trial is FAIL, as Study::tell defines) but is not a success.
    std::cerr << "bbo: error: trial " << o.trial << " recorded as FAIL: an objective value is NaN" << std::endl;
    return kExitConfig;
  }
  return kExitOk;
}

}  // namespace

Command register_tell(CLI::App& app) {
  auto o = std::make_shared<TellOptions>();
  CLI::App* cmd = app.add_subcommand("tell", "Finish a trial with its values (or as fail / pruned)");
  add_storage_option(cmd, o->storage);
  add_format_option(cmd, o->format, {"table", "json"});
  cmd->add_option("--study", o->study, "Study name")->required();
  cmd->add_option("--trial", o->trial, "Trial number")->required();
  auto* value = cmd->add_option("--value", o->values,
                                "Objective value(s), one per direction; inf, -inf and nan are accepted");
  auto* state = cmd->add_option("--state", o->state, "Finish without values: fail or pruned");
  value->excludes(state);
  cmd->add_option("--constraint", o->constraints, "Constraint value(s); the trial is feasible iff all <= 0");
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli

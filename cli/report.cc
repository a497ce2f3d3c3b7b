// bbo report: records an intermediate value (a learning-curve point) of a running trial.
#include <iostream>

#include "common.h"

namespace bbo::cli {
namespace {

struct ReportOptions {
  StorageOption storage;
  std::string study;
  int64_t trial = -1;
  int64_t step = 0;
  std::string value;
};

int run(const ReportOptions& o) {
  double value = parse_double(o.value, "--value");
  if (o.step < 0) throw ValueError("--step: must be >= 0, got " + std::to_string(o.step));
  OpenStudy s = open_study(o.storage.resolve(), o.study);
  FrozenTrial t = s.storage->get_trial_by_number(s.info.id, o.trial);
  if (t.state != TrialState::kRunning)
    throw TrialStateError("trial " + std::to_string(o.trial) + " of study '" + o.study + "' is " +
                          to_string(t.state) + ", only a RUNNING trial can report");
  Study study = Study::load(o.study, s.storage);
  study.report(o.trial, o.step, value);
  return kExitOk;
}

}  // namespace

Command register_report(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  CLI::App* cmd = app.add_subcommand("report", "Record an intermediate value of a running trial");
  add_storage_option(cmd, o->storage);
  cmd->add_option("--study", o->study, "Study name")->required();
  cmd->add_option("--trial", o->trial, "Trial number")->required();
  cmd->add_option("--step", o->step, "Step (>= 0), e.g. the epoch")->required();
  cmd->add_option("--value", o->value, "Intermediate value; inf, -inf and nan are accepted")->required();
  return {cmd, [o] { return run(*o); }};
}

}  // namespace bbo::cli

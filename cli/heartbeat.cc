// bbo heartbeat and bbo fail-stale: the CLI side of heartbeats. A worker driving trials through ask/tell
// refreshes its running trial's heartbeat; any process can move trials with a stale heartbeat to FAIL.
#include <iostream>

#include "common.h"

namespace bbo::cli {
namespace {

struct HeartbeatOptions {
  StorageOption storage;
  std::string study;
  int64_t trial = -1;
};

int run_heartbeat(const HeartbeatOptions& o) {
  OpenStudy s = open_study(o.storage.resolve(), o.study);
  FrozenTrial t = s.storage->get_trial_by_number(s.info.id, o.trial);  // NotFoundError for an unknown trial
  if (t.state != TrialState::kRunning)
    throw TrialStateError("trial " + std::to_string(o.trial) + " is not running (" + to_string(t.state) + ")");
  // The storage checks again in its own transaction: a trial failed meanwhile is a TrialStateError too.
  s.storage->heartbeat(t.id);
  return kExitOk;
}

struct FailStaleOptions {
  StorageOption storage;
  FormatOption format{"json"};
  std::string study;
  double grace = 0.0;
};

int run_fail_stale(const FailStaleOptions& o) {
  if (!(o.grace >= 0)) throw ValueError("--grace: expected a number of seconds >= 0");
  OpenStudy s = open_study(o.storage.resolve(), o.study);
  // Through a Study, so the study's retry_failed_trials setting re-enqueues what this call failed.
  Study study = Study::load(o.study, s.storage);
  json failed = study.fail_stale_trials(o.grace);
  std::cout << json{{"failed", failed}}.dump() << '\n';
  return kExitOk;
}

}  // namespace

Command register_heartbeat(CLI::App& app) {
  auto o = std::make_shared<HeartbeatOptions>();
  CLI::App* cmd = app.add_subcommand(
      "heartbeat", "Refresh the heartbeat of a running trial (exit code 7 when it is not running)");
  add_storage_option(cmd, o->storage);
  cmd->add_option("--study", o->study, "Study name")->required();
  cmd->add_option("--trial", o->trial, "Trial number")->required();
  return {cmd, [o] { return run_heartbeat(*o); }};
}

Command register_fail_stale(CLI::App& app) {
  auto o = std::make_shared<FailStaleOptions>();
  CLI::App* cmd = app.add_subcommand(
      "fail-stale", "Move running trials whose heartbeat is older than --grace seconds to FAIL; print "
                    "{\"failed\": [numbers]} (re-enqueued when the study retries failed trials)");
  add_storage_option(cmd, o->storage);
  add_format_option(cmd, o->format, {"json"});
  cmd->add_option("--study", o->study, "Study name")->required();
  cmd->add_option("--grace", o->grace, "Grace period in seconds")->required();
  return {cmd, [o] { return run_fail_stale(*o); }};
}

}  // namespace bbo::cli

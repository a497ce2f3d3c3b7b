#include "bbo/trial.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>

#include "bbo/error.h"

namespace bbo {

std::string to_string(TrialState s) {
  switch (s) {
    case TrialState::kRunning: return "RUNNING";
    case TrialState::kWaiting: return "WAITING";
    case TrialState::kComplete: return "COMPLETE";
    case TrialState::kPruned: return "PRUNED";
    case TrialState::kFail: return "FAIL";
  }
  return "UNKNOWN";
}

TrialState trial_state_from_string(const std::string& s) {
  std::string u = s;
  std::transform(u.begin(), u.end(), u.begin(), [](unsigned char c) { return std::toupper(c); });
  if (u == "RUNNING") return TrialState::kRunning;
  if (u == "WAITING") return TrialState::kWaiting;
  if (u == "COMPLETE") return TrialState::kComplete;
  if (u == "PRUNED") return TrialState::kPruned;
  if (u == "FAIL") return TrialState::kFail;
  throw ValueError("unknown trial state '" + s + "' (running, waiting, complete, pruned, fail)");
}

std::string to_string(Direction d) { return d == Direction::kMinimize ? "minimize" : "maximize"; }

Direction direction_from_string(const std::string& s) {
  std::string l = s;
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "minimize" || l == "min") return Direction::kMinimize;
  if (l == "maximize" || l == "max") return Direction::kMaximize;
  throw ValueError("unknown direction '" + s + "' (minimize or maximize)");
}

bool FrozenTrial::feasible() const {
  return std::all_of(constraints.begin(), constraints.end(), [](double c) { return c <= 0.0; });
}

ParamValue FrozenTrial::param(const std::string& name) const {
  auto it = params.find(name);
  if (it == params.end()) throw NotFoundError("trial " + std::to_string(number) + " has no parameter '" + name + "'");
  return to_external(distributions.at(name), it->second);
}

std::map<std::string, ParamValue> FrozenTrial::external_params() const {
  std::map<std::string, ParamValue> out;
  for (const auto& [k, v] : params) out[k] = to_external(distributions.at(k), v);
  return out;
}

std::map<int64_t, double> FrozenTrial::curve(int objective) const {
  std::map<int64_t, double> out;
  for (const auto& [k, v] : intermediate_values)
    if (k.objective == objective) out[k.step] = v;
  return out;
}

std::optional<std::pair<int64_t, double>> FrozenTrial::last_step() const {
  std::optional<std::pair<int64_t, double>> last;
  for (const auto& [k, v] : intermediate_values)
    if (k.objective == 0) last = {k.step, v};  // map order: the largest step comes last
  return last;
}

namespace {

json number_to_json(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

json time_to_json(const std::optional<int64_t>& us) {
  if (!us) return nullptr;
  return format_time_us(us);
}

}  // namespace

std::string format_time_us(const std::optional<int64_t>& us) {
  if (!us) return "";
  std::time_t secs = static_cast<std::time_t>(*us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[96];
  std::snprintf(out, sizeof out, "%s.%06dZ", buf, static_cast<int>(*us % 1000000));
  return out;
}

json params_to_json(const FrozenTrial& t) {
  json p = json::object();
  for (const auto& [k, v] : t.external_params()) p[k] = param_value_to_json(v);
  return p;
}

json to_json(const FrozenTrial& t) {
  json values = json::array(), constraints = json::array(), inter = json::object(), dists = json::object();
  for (double v : t.values) values.push_back(number_to_json(v));
  for (double v : t.constraints) constraints.push_back(number_to_json(v));
  for (const auto& [k, v] : t.intermediate_values) {
    std::string key = k.objective == 0 ? std::to_string(k.step)
                                       : std::to_string(k.step) + ":" + std::to_string(k.objective);
    inter[key] = number_to_json(v);
  }
  for (const auto& [k, d] : t.distributions) dists[k] = distribution_to_json(d);
  return {{"number", t.number},
          {"state", to_string(t.state)},
          {"values", t.state == TrialState::kComplete ? values : json(nullptr)},
          {"params", params_to_json(t)},
          {"distributions", dists},
          {"constraints", constraints},
          {"intermediate_values", inter},
          {"user_attrs", t.user_attrs},
          {"system_attrs", t.system_attrs},
          {"datetime_start", time_to_json(t.datetime_start_us)},
          {"datetime_complete", time_to_json(t.datetime_complete_us)}};
}

namespace {
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

uint64_t trial_seed(uint64_t study_seed, int64_t number, uint64_t salt) {
  return splitmix64(splitmix64(splitmix64(study_seed) ^ static_cast<uint64_t>(number)) ^ salt);
}

uint64_t hash_string(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace bbo

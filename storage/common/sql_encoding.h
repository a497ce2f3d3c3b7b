// storage/common/sql_encoding.h — how the SQL backends (SQLite, PostgreSQL) encode trial states,
// directions and value lists (private to storage/). These encodings are part of the SQLite file format and
// the PostgreSQL schema: never change them without a schema migration.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <unordered_map>

#include "bbo/space.h"

#include "bbo/error.h"
#include "bbo/trial.h"

namespace bbo::storage_internal {

inline int state_code(TrialState s) {
  switch (s) {
    case TrialState::kRunning: return 0;
    case TrialState::kWaiting: return 1;
    case TrialState::kComplete: return 2;
    case TrialState::kPruned: return 3;
    case TrialState::kFail: return 4;
  }
  return -1;
}

inline TrialState state_from_code(int64_t c) {
  switch (c) {
    case 0: return TrialState::kRunning;
    case 1: return TrialState::kWaiting;
    case 2: return TrialState::kComplete;
    case 3: return TrialState::kPruned;
    case 4: return TrialState::kFail;
  }
  throw StorageError("corrupt trial state code " + std::to_string(c));
}

// Bit mask of states for "state in (...)" filters; all states when `states` is empty.
inline int64_t state_mask(const std::vector<TrialState>& states) {
  if (states.empty()) return 0x1f;
  int64_t m = 0;
  for (TrialState s : states) m |= int64_t{1} << state_code(s);
  return m;
}

// Directions: a JSON array of "minimize"/"maximize".
inline std::string encode_directions(const std::vector<Direction>& d) {
  nlohmann::json a = nlohmann::json::array();
  for (Direction x : d) a.push_back(to_string(x));
  return a.dump();
}

inline std::vector<Direction> decode_directions(const nlohmann::json& a) {
  std::vector<Direction> out;
  for (const nlohmann::json& x : a)
    out.push_back(x.get<std::string>() == "maximize" ? Direction::kMaximize : Direction::kMinimize);
  return out;
}

// Objective values and constraints: a JSON text array. JSON has no inf/NaN (nlohmann writes NaN as null),
// so non-finite values are the strings "inf", "-inf" and "nan" (the same in both backends, so a study can be
// copied between them as text).
inline std::string encode_doubles(const std::vector<double>& v) {
  nlohmann::json a = nlohmann::json::array();
  for (double x : v) {
    if (std::isnan(x)) a.push_back("nan");
    else if (std::isinf(x)) a.push_back(x > 0 ? "inf" : "-inf");
    else a.push_back(x);
  }
  return a.dump();
}

inline std::vector<double> decode_doubles(const nlohmann::json& a) {
  std::vector<double> out;
  out.reserve(a.size());
  for (const nlohmann::json& x : a) {
    if (x.is_number()) out.push_back(x.get<double>());
    else if (x.is_string() && x.get_ref<const std::string&>() == "inf") out.push_back(std::numeric_limits<double>::infinity());
    else if (x.is_string() && x.get_ref<const std::string&>() == "-inf") out.push_back(-std::numeric_limits<double>::infinity());
    else out.push_back(std::numeric_limits<double>::quiet_NaN());
  }
  return out;
}

// JSON text of attributes; invalid UTF-8 is replaced instead of throwing.
inline std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Parses JSON read back from storage; malformed text is a StorageError naming the storage and the field.
inline nlohmann::json parse_stored_json(const char* text, const std::string& storage, const char* what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw StorageError("storage '" + storage + "': corrupt " + std::string(what) + ": " + e.what());
  }
}

// Distributions by their stored JSON text. Parsing a distribution's JSON dominates reading many trials, and
// a study reuses a handful of distributions. Not thread-safe (the backends call it under their lock).
class DistributionCache {
 public:
  const Distribution& get(const std::string& text, const std::string& name, const std::string& storage) {
    auto it = cache_.find(text);
    if (it != cache_.end()) return it->second;
    Distribution d = distribution_from_json(parse_stored_json(text.c_str(), storage, "distribution"), name);
    return cache_.emplace(text, std::move(d)).first->second;
  }

 private:
  std::unordered_map<std::string, Distribution> cache_;
};

}  // namespace bbo::storage_internal

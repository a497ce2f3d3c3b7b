// fuzz_params — parameter values from JSON (param_value_from_json, what enqueued trials store) checked against
// distributions (to_internal), on input {"space": <search space JSON>, "params": {name: value, ...}}; any other
// JSON is tried as a single parameter value.
//
// Properties: only bbo::Error escapes; a value read from JSON writes back to the same JSON (numbers compared
// as numbers); an accepted value's internal form is contained in the distribution, and to_external →
// to_internal gives it back.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "bbo/space.h"
#include "tests/fuzz/fuzz_util.h"

using bbo::fuzz::check;
using bbo::fuzz::only_bbo_errors;

namespace {

bool same_json_value(const bbo::json& a, const bbo::json& b) {
  if (a.is_number() && b.is_number()) {
    // Integers must come back exactly (no wrap-around); floats as the same double.
    if (a.is_number_float() || b.is_number_float()) return a.get<double>() == b.get<double>();
    if (a.is_number_unsigned() || b.is_number_unsigned()) {
      if (a.is_number_integer() && !a.is_number_unsigned() && a.get<int64_t>() < 0) return false;
      if (b.is_number_integer() && !b.is_number_unsigned() && b.get<int64_t>() < 0) return false;
      return a.get<uint64_t>() == b.get<uint64_t>();
    }
    return a.get<int64_t>() == b.get<int64_t>();
  }
  return a == b;
}

void check_value(const bbo::json& v) {
  bbo::ParamValue pv;
  if (!only_bbo_errors("param_value_from_json", [&] { pv = bbo::param_value_from_json(v); })) return;
  const bbo::json back = bbo::param_value_to_json(pv);
  check(same_json_value(back, v), "param value " + v.dump() + " came back as " + back.dump());
  (void)bbo::param_value_to_string(pv);
}

void check_param(const bbo::Distribution& d, const bbo::json& v) {
  bbo::ParamValue pv;
  if (!only_bbo_errors("param_value_from_json", [&] { pv = bbo::param_value_from_json(v); })) return;
  double x = 0;
  if (!only_bbo_errors("to_internal", [&] { x = bbo::to_internal(d, pv); })) return;
  const std::string dj = bbo::distribution_to_json(d).dump();
  check(bbo::contains(d, x), "to_internal(" + v.dump() + ") = " + std::to_string(x) + " not contained in " + dj);
  bbo::ParamValue ext;
  check(only_bbo_errors("to_external", [&] { ext = bbo::to_external(d, x); }), "to_external failed for " + dj);
  double again = 0;
  check(only_bbo_errors("to_internal", [&] { again = bbo::to_internal(d, ext); }),
        "to_internal rejected to_external(" + v.dump() + ") for " + dj);
  check(again == x, "to_internal(to_external(x)) != x for " + v.dump() + " in " + dj);
  const double u = bbo::to_unit(d, x);
  check(u >= -1e-9 && u <= 1 + 1e-9, "to_unit(" + v.dump() + ") outside [0,1] for " + dj);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const bbo::json j = bbo::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  if (!j.is_object() || !j.contains("space") || !j.contains("params") || !j.at("params").is_object()) {
    check_value(j);
    return 0;
  }
  bbo::SearchSpace space;
  if (!only_bbo_errors("SearchSpace::from_json", [&] { space = bbo::SearchSpace::from_json(j.at("space")); }))
    return 0;
  for (const auto& [name, v] : j.at("params").items()) {
    check_value(v);
    if (space.has(name)) check_param(space.at(name), v);
  }
  return 0;
}

#include "run_report.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "bbo/error.h"
#include "bbo/space.h"  // json

namespace bbo::cli {
namespace {

// Python's json.dumps writes non-finite floats as bare NaN, Infinity and -Infinity, which JSON lacks; turn
// them into the strings this format accepts. Only tokens outside string literals are touched.
std::string quote_python_specials(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < s.size()) {
        out += s[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
      out += c;
      continue;
    }
    auto at = [&](std::string_view token) { return s.substr(i, token.size()) == token; };
    if (at("-Infinity")) {
      out += "\"-inf\"";
      i += 8;
    } else if (at("Infinity")) {
      out += "\"inf\"";
      i += 7;
    } else if (at("NaN")) {
      out += "\"nan\"";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

double number(const json& j, const std::string& key) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (s == "nan" || s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf" || s == "+inf" || s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-inf" || s == "-Infinity") return -std::numeric_limits<double>::infinity();
  }
  throw ValueError("report line: \"" + key + "\" must be a number, got " + j.dump());
}

}  // namespace

std::optional<RunReport> parse_report_line(std::string_view line) {
  constexpr std::string_view kPrefix = "bbo:";
  if (line.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view body = line.substr(kPrefix.size());
  if (!body.empty() && body.back() == '\r') body.remove_suffix(1);
  json j;
  try {
    j = json::parse(quote_python_specials(body));
  } catch (const json::exception& e) {  // parse errors, and out_of_range for a number like 1e999
    std::string what = e.what();
    if (auto pos = what.find("] "); pos != std::string::npos) what = what.substr(pos + 2);
    throw ValueError("report line: invalid JSON: " + what);
  }
  if (!j.is_object()) throw ValueError("report line: expected a JSON object, got " + j.dump());
  RunReport r;
  bool has_value = false, has_values = false;
  for (const auto& [key, v] : j.items()) {
    if (key == "step") {
      if (v.is_number_unsigned() ? v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX)
                                 : (v.is_number_integer() && v.get<int64_t>() >= 0)) {
        r.step = v.get<int64_t>();
      } else if (v.is_number_float() && v.get<double>() >= 0 && v.get<double>() < 9.0e15 &&
                 std::floor(v.get<double>()) == v.get<double>()) {
        r.step = static_cast<int64_t>(v.get<double>());  // 3.0 from a script that counts in floats
      } else {
        throw ValueError("report line: \"step\" must be an integer >= 0, got " + v.dump());
      }
    } else if (key == "value") {
      has_value = true;
      r.values = {number(v, "value")};
    } else if (key == "values") {
      has_values = true;
      if (!v.is_array() || v.empty())
        throw ValueError("report line: \"values\" must be a non-empty array of numbers, got " + v.dump());
      r.values.clear();
      for (const auto& x : v) r.values.push_back(number(x, "values"));
    } else {
      throw ValueError("report line: unknown key \"" + key + "\" (expected step, value or values)");
    }
  }
  if (has_value && has_values) throw ValueError("report line: give either \"value\" or \"values\", not both");
  if (!has_value && !has_values) throw ValueError("report line: no \"value\" or \"values\"");
  return r;
}

}  // namespace bbo::cli

#include "bbo/space.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "bbo/error.h"

namespace bbo {
namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

[[noreturn]] void invalid(const std::string& name, const std::string& what) {
  throw ValueError("parameter '" + name + "': " + what);
}

std::string num(double v) {
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

// Number of grid points of a stepped float minus one; robust to rounding of (high-low)/step.
int64_t float_steps(const FloatDistribution& f) {
  return static_cast<int64_t>(std::floor((f.high - f.low) / *f.step + 1e-9));
}

// Whether two categorical choices are the same choice: equal, or an integer and a double of the same value.
bool same_choice(const ParamValue& a, const ParamValue& b) {
  if (a == b) return true;
  if (std::holds_alternative<int64_t>(a) && std::holds_alternative<double>(b))
    return static_cast<double>(std::get<int64_t>(a)) == std::get<double>(b);
  if (std::holds_alternative<double>(a) && std::holds_alternative<int64_t>(b))
    return std::get<double>(a) == static_cast<double>(std::get<int64_t>(b));
  return false;
}

}  // namespace

Distribution validated(const Distribution& d, const std::string& name) {
  return std::visit(
      Overloaded{
          [&](FloatDistribution f) -> Distribution {
            if (!std::isfinite(f.low) || !std::isfinite(f.high))
              invalid(name, "bounds must be finite (low=" + num(f.low) + ", high=" + num(f.high) + ")");
            if (f.low > f.high) invalid(name, "low > high (" + num(f.low) + " > " + num(f.high) + ")");
            if (f.log && f.step) invalid(name, "log and step cannot be used together");
            if (f.log && f.low <= 0) invalid(name, "log scale needs low > 0 (low=" + num(f.low) + ")");
            // Found by tests/fuzz/fuzz_search_space: an infinite width made from_unit return NaN, and a step
            // giving more grid points than an int64 holds made float_steps' cast undefined behaviour.
            if (!std::isfinite(f.high - f.low))
              invalid(name, "high - low overflows (low=" + num(f.low) + ", high=" + num(f.high) + ")");
            if (f.step) {
              if (!std::isfinite(*f.step) || *f.step <= 0) invalid(name, "step must be > 0");
              if (!((f.high - f.low) / *f.step <= 9.0e15))
                invalid(name, "step " + num(*f.step) + " is too small for the range (more than 9e15 grid points)");
              f.high = f.low + static_cast<double>(float_steps(f)) * *f.step;
            }
            return f;
          },
          [&](IntDistribution i) -> Distribution {
            if (i.low > i.high)
              invalid(name, "low > high (" + std::to_string(i.low) + " > " + std::to_string(i.high) + ")");
            if (i.step <= 0) invalid(name, "step must be > 0");
            if (i.log && i.step != 1) invalid(name, "log and step cannot be used together");
            if (i.log && i.low < 1) invalid(name, "log scale needs low >= 1");
            i.high = i.low + (i.high - i.low) / i.step * i.step;
            return i;
          },
          [&](const CategoricalDistribution& c) -> Distribution {
            if (c.choices.empty()) invalid(name, "categorical choices must not be empty");
            for (size_t a = 0; a < c.choices.size(); ++a) {
              if (auto* dv = std::get_if<double>(&c.choices[a]); dv && std::isnan(*dv))
                invalid(name, "categorical choice NaN is not allowed");
              // An infinite choice is stored as the string "inf" (JSON has no infinity) and would come back as
              // that string, another choice (found by tests/fuzz/fuzz_study_config).
              if (auto* dv = std::get_if<double>(&c.choices[a]); dv && std::isinf(*dv))
                invalid(name, "categorical choice " + param_value_to_string(c.choices[a]) + " is not allowed");
              // 1 and 1.0 are one choice for to_internal (JSON does not keep the difference), so they are
              // duplicates here too (found by tests/fuzz/fuzz_search_space).
              for (size_t b = a + 1; b < c.choices.size(); ++b)
                if (same_choice(c.choices[a], c.choices[b]))
                  invalid(name, "duplicate categorical choice " + param_value_to_string(c.choices[a]));
            }
            return c;
          },
      },
      d);
}

bool same_distribution(const Distribution& a, const Distribution& b) { return a == b; }

bool is_single(const Distribution& d) {
  return std::visit(Overloaded{[](const FloatDistribution& f) { return f.low == f.high; },
                               [](const IntDistribution& i) { return i.low == i.high; },
                               [](const CategoricalDistribution& c) { return c.choices.size() == 1; }},
                    d);
}

bool contains(const Distribution& d, double v) {
  if (std::isnan(v)) return false;
  return std::visit(
      Overloaded{
          [&](const FloatDistribution& f) {
            if (v < f.low || v > f.high) return false;
            if (!f.step) return true;
            double k = (v - f.low) / *f.step;
            return std::fabs(k - std::round(k)) < 1e-8 * std::max(1.0, std::fabs(k));
          },
          [&](const IntDistribution& i) {
            if (v < static_cast<double>(i.low) || v > static_cast<double>(i.high)) return false;
            if (v != std::round(v)) return false;
            return (static_cast<int64_t>(v) - i.low) % i.step == 0;
          },
          [&](const CategoricalDistribution& c) {
            return v >= 0 && v < static_cast<double>(c.choices.size()) && v == std::round(v);
          },
      },
      d);
}

double to_internal(const Distribution& d, const ParamValue& v) {
  double x = std::numeric_limits<double>::quiet_NaN();
  if (const auto* c = std::get_if<CategoricalDistribution>(&d)) {
    for (size_t i = 0; i < c->choices.size(); ++i) {
      // 1 and 1.0 name the same choice (JSON does not keep the difference).
      if (same_choice(c->choices[i], v)) return static_cast<double>(i);
    }
    throw ValueError("value " + param_value_to_string(v) + " is not one of the choices");
  }
  if (const auto* i = std::get_if<int64_t>(&v)) x = static_cast<double>(*i);
  else if (const auto* f = std::get_if<double>(&v)) x = *f;
  else throw ValueError("value " + param_value_to_string(v) + " is not a number");
  if (!contains(d, x)) throw ValueError("value " + param_value_to_string(v) + " is outside the distribution");
  return x;
}

ParamValue to_external(const Distribution& d, double internal) {
  return std::visit(Overloaded{[&](const FloatDistribution&) -> ParamValue { return internal; },
                               [&](const IntDistribution&) -> ParamValue {
                                 return static_cast<int64_t>(std::llround(internal));
                               },
                               [&](const CategoricalDistribution& c) -> ParamValue {
                                 auto i = static_cast<size_t>(std::llround(internal));
                                 if (i >= c.choices.size()) throw ValueError("categorical index out of range");
                                 return c.choices[i];
                               }},
                    d);
}

double to_unit(const Distribution& d, double v) {
  return std::visit(
      Overloaded{
          [&](const FloatDistribution& f) {
            if (f.low == f.high) return 0.5;
            if (f.log) return (std::log(v) - std::log(f.low)) / (std::log(f.high) - std::log(f.low));
            if (f.step) {
              double lo = f.low - 0.5 * *f.step, hi = f.high + 0.5 * *f.step;
              return (v - lo) / (hi - lo);
            }
            return (v - f.low) / (f.high - f.low);
          },
          [&](const IntDistribution& i) {
            double lo = static_cast<double>(i.low) - 0.5 * static_cast<double>(i.step);
            double hi = static_cast<double>(i.high) + 0.5 * static_cast<double>(i.step);
            if (i.log) return (std::log(v) - std::log(lo)) / (std::log(hi) - std::log(lo));
            return (v - lo) / (hi - lo);
          },
          [&](const CategoricalDistribution& c) { return (v + 0.5) / static_cast<double>(c.choices.size()); },
      },
      d);
}

double from_unit(const Distribution& d, double u) {
  u = std::clamp(std::isnan(u) ? 0.5 : u, 0.0, 1.0);
  return std::visit(
      Overloaded{
          [&](const FloatDistribution& f) {
            if (f.low == f.high) return f.low;
            if (f.log) return std::clamp(std::exp(std::log(f.low) + u * (std::log(f.high) - std::log(f.low))),
                                         f.low, f.high);
            if (f.step) {
              int64_t n = float_steps(f);
              auto k = std::clamp<int64_t>(static_cast<int64_t>(std::floor(u * static_cast<double>(n + 1))), 0, n);
              return std::min(f.high, f.low + static_cast<double>(k) * *f.step);
            }
            return std::clamp(f.low + u * (f.high - f.low), f.low, f.high);
          },
          [&](const IntDistribution& i) {
            int64_t n = (i.high - i.low) / i.step;  // grid points - 1
            if (i.log) {
              double lo = static_cast<double>(i.low) - 0.5, hi = static_cast<double>(i.high) + 0.5;
              double x = std::round(std::exp(std::log(lo) + u * (std::log(hi) - std::log(lo))));
              return std::clamp(x, static_cast<double>(i.low), static_cast<double>(i.high));
            }
            auto k = std::clamp<int64_t>(static_cast<int64_t>(std::floor(u * static_cast<double>(n + 1))), 0, n);
            return static_cast<double>(i.low + k * i.step);
          },
          [&](const CategoricalDistribution& c) {
            auto n = static_cast<int64_t>(c.choices.size());
            return static_cast<double>(std::clamp<int64_t>(static_cast<int64_t>(std::floor(u * static_cast<double>(n))), 0, n - 1));
          },
      },
      d);
}

int n_choices(const Distribution& d) {
  if (const auto* c = std::get_if<CategoricalDistribution>(&d)) return static_cast<int>(c->choices.size());
  return 0;
}

json param_value_to_json(const ParamValue& v) {
  return std::visit(Overloaded{[](std::monostate) -> json { return nullptr; },
                               [](bool b) -> json { return b; },
                               [](int64_t i) -> json { return i; },
                               [](double d) -> json {
                                 // JSON has no inf/nan: keep them as strings, read back by from_json.
                                 if (std::isnan(d)) return "nan";
                                 if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
                                 return d;
                               },
                               [](const std::string& s) -> json { return s; }},
                    v);
}

ParamValue param_value_from_json(const json& j) {
  if (j.is_null()) return std::monostate{};
  if (j.is_boolean()) return j.get<bool>();
  if (j.is_number_unsigned()) {
    // (Tested first: is_number_integer() is also true for unsigned numbers.) Above INT64_MAX, get<int64_t>
    // wrapped around to a negative number (found by tests/fuzz/fuzz_params): such a value is kept as the
    // nearest double instead.
    const uint64_t u = j.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return static_cast<double>(u);
    return static_cast<int64_t>(u);
  }
  if (j.is_number_integer()) return j.get<int64_t>();
  if (j.is_number_float()) return j.get<double>();
  if (j.is_string()) return j.get<std::string>();
  throw ValueError("a parameter value must be null, a bool, a number or a string, got " + j.dump());
}

std::string param_value_to_string(const ParamValue& v) {
  return std::visit(Overloaded{[](std::monostate) -> std::string { return "null"; },
                               [](bool b) -> std::string { return b ? "true" : "false"; },
                               [](int64_t i) { return std::to_string(i); },
                               [](double d) {
                                 std::ostringstream os;
                                 os.precision(10);
                                 os << d;
                                 return os.str();
                               },
                               [](const std::string& s) { return s; }},
                    v);
}

json distribution_to_json(const Distribution& d) {
  return std::visit(
      Overloaded{
          [](const FloatDistribution& f) -> json {
            return {{"name", "FloatDistribution"},
                    {"attributes",
                     {{"low", f.low}, {"high", f.high}, {"log", f.log}, {"step", f.step ? json(*f.step) : json()}}}};
          },
          [](const IntDistribution& i) -> json {
            return {{"name", "IntDistribution"},
                    {"attributes", {{"low", i.low}, {"high", i.high}, {"log", i.log}, {"step", i.step}}}};
          },
          [](const CategoricalDistribution& c) -> json {
            json ch = json::array();
            for (const auto& v : c.choices) ch.push_back(param_value_to_json(v));
            return {{"name", "CategoricalDistribution"}, {"attributes", {{"choices", ch}}}};
          },
      },
      d);
}

namespace {

double get_number(const json& a, const char* key, const std::string& name) {
  if (!a.contains(key)) throw ConfigError("parameter '" + name + "': missing '" + key + "'");
  const json& v = a.at(key);
  if (!v.is_number()) throw ConfigError("parameter '" + name + "': '" + key + "' must be a number, got " + v.dump());
  return v.get<double>();
}

int64_t get_integer(const json& a, const char* key, const std::string& name) {
  double v = get_number(a, key, name);
  if (v != std::floor(v) || std::fabs(v) > 9.0e15)
    throw ConfigError("parameter '" + name + "': '" + key + "' must be an integer, got " + a.at(key).dump());
  return static_cast<int64_t>(v);
}

bool get_bool(const json& a, const char* key, const std::string& name) {
  if (!a.contains(key) || a.at(key).is_null()) return false;
  if (!a.at(key).is_boolean())
    throw ConfigError("parameter '" + name + "': '" + key + "' must be true or false, got " + a.at(key).dump());
  return a.at(key).get<bool>();
}

void check_keys(const json& a, std::initializer_list<const char*> allowed, const std::string& name) {
  for (const auto& [k, _] : a.items()) {
    bool ok = false;
    for (const char* key : allowed) ok = ok || k == key;
    if (!ok) throw ConfigError("parameter '" + name + "': unknown key '" + k + "'");
  }
}

}  // namespace

Distribution distribution_from_json(const json& j, const std::string& name) {
  if (!j.is_object()) throw ConfigError("parameter '" + name + "': a distribution must be an object, got " + j.dump());
  std::string kind;
  json a;
  if (j.contains("name") && j.contains("attributes")) {  // Optuna's form
    check_keys(j, {"name", "attributes"}, name);
    if (!j.at("name").is_string()) throw ConfigError("parameter '" + name + "': 'name' must be a string");
    std::string n = j.at("name").get<std::string>();
    a = j.at("attributes");
    if (!a.is_object()) throw ConfigError("parameter '" + name + "': 'attributes' must be an object");
    if (n == "FloatDistribution" || n == "UniformDistribution" || n == "LogUniformDistribution" ||
        n == "DiscreteUniformDistribution") {
      kind = "float";
      if (n == "LogUniformDistribution") a["log"] = true;
      if (n == "DiscreteUniformDistribution" && a.contains("q")) { a["step"] = a["q"]; a.erase("q"); }
    } else if (n == "IntDistribution" || n == "IntUniformDistribution" || n == "IntLogUniformDistribution") {
      kind = "int";
      if (n == "IntLogUniformDistribution") a["log"] = true;
    } else if (n == "CategoricalDistribution") {
      kind = "categorical";
    } else {
      throw ConfigError("parameter '" + name + "': unknown distribution '" + n + "'");
    }
  } else {
    if (!j.contains("type") || !j.at("type").is_string())
      throw ConfigError("parameter '" + name + "': missing 'type' (float, int or categorical)");
    kind = j.at("type").get<std::string>();
    a = j;
    a.erase("type");
  }
  if (kind == "float") {
    check_keys(a, {"low", "high", "log", "step"}, name);
    FloatDistribution f{get_number(a, "low", name), get_number(a, "high", name), get_bool(a, "log", name), {}};
    if (a.contains("step") && !a.at("step").is_null()) f.step = get_number(a, "step", name);
    return validated(f, name);
  }
  if (kind == "int") {
    check_keys(a, {"low", "high", "log", "step"}, name);
    IntDistribution i{get_integer(a, "low", name), get_integer(a, "high", name), get_bool(a, "log", name), 1};
    if (a.contains("step") && !a.at("step").is_null()) i.step = get_integer(a, "step", name);
    return validated(i, name);
  }
  if (kind == "categorical") {
    check_keys(a, {"choices"}, name);
    if (!a.contains("choices") || !a.at("choices").is_array())
      throw ConfigError("parameter '" + name + "': 'choices' must be a list");
    CategoricalDistribution c;
    for (const auto& v : a.at("choices")) {
      if (v.is_array() || v.is_object())
        throw ConfigError("parameter '" + name + "': a choice must be null, bool, number or string, got " + v.dump());
      c.choices.push_back(param_value_from_json(v));
    }
    return validated(c, name);
  }
  throw ConfigError("parameter '" + name + "': unknown type '" + kind + "' (float, int or categorical)");
}

void SearchSpace::add(const std::string& name, const Distribution& d) {
  if (name.empty()) throw ValueError("parameter names must not be empty");
  Distribution v = validated(d, name);
  auto it = std::find(names_.begin(), names_.end(), name);
  if (it != names_.end()) {
    dists_[static_cast<size_t>(it - names_.begin())] = std::move(v);
    return;
  }
  names_.push_back(name);
  dists_.push_back(std::move(v));
}

bool SearchSpace::has(const std::string& name) const {
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

const Distribution& SearchSpace::at(const std::string& name) const {
  auto it = std::find(names_.begin(), names_.end(), name);
  if (it == names_.end()) throw NotFoundError("parameter '" + name + "' is not in the search space");
  return dists_[static_cast<size_t>(it - names_.begin())];
}

std::vector<double> SearchSpace::encode(const std::map<std::string, double>& internal) const {
  std::vector<double> u(names_.size());
  for (size_t i = 0; i < names_.size(); ++i) {
    auto it = internal.find(names_[i]);
    if (it == internal.end()) throw NotFoundError("parameter '" + names_[i] + "' has no value to encode");
    u[i] = to_unit(dists_[i], it->second);
  }
  return u;
}

std::map<std::string, double> SearchSpace::decode(const std::vector<double>& unit) const {
  if (unit.size() != names_.size())
    throw ValueError("point has " + std::to_string(unit.size()) + " coordinates, the space " +
                     std::to_string(names_.size()));
  std::map<std::string, double> out;
  for (size_t i = 0; i < names_.size(); ++i) out[names_[i]] = from_unit(dists_[i], unit[i]);
  return out;
}

json SearchSpace::to_json() const {
  json j = json::object();
  for (size_t i = 0; i < names_.size(); ++i) j[names_[i]] = distribution_to_json(dists_[i]);
  return j;
}

json SearchSpace::to_ordered_json() const {
  json j = json::array();
  for (size_t i = 0; i < names_.size(); ++i) j.push_back({names_[i], distribution_to_json(dists_[i])});
  return j;
}

SearchSpace SearchSpace::from_json(const json& j) {
  if (j.is_array()) {
    SearchSpace s;
    for (const auto& item : j) {
      if (!item.is_array() || item.size() != 2 || !item[0].is_string())
        throw ConfigError("a search space list must hold [name, distribution] pairs, got " + item.dump());
      std::string name = item[0].get<std::string>();
      if (s.has(name)) throw ConfigError("search space: duplicate parameter '" + name + "'");
      s.add(name, distribution_from_json(item[1], name));
    }
    return s;
  }
  if (!j.is_object()) throw ConfigError("a search space must be a JSON object of name -> distribution");
  SearchSpace s;
  // nlohmann::json objects are sorted by key; that order is the dimension order.
  for (const auto& [name, d] : j.items()) s.add(name, distribution_from_json(d, name));
  return s;
}

}  // namespace bbo

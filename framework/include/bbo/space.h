// bbo/space.h — distributions, parameter values, the search space and its unit-cube encoding.
//
// A parameter has an *external* value (what the user sees: a double, an integer, a categorical choice) and an
// *internal* double form that is stored: floats and ints store their value, categoricals the index of the
// choice. Models and acquisition optimizers only see the unit cube [0,1]^d produced by SearchSpace::encode.
//
// All functions here are pure and thread-safe. Validation errors are bbo::ValueError with a message naming
// the parameter.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace bbo {

using json = nlohmann::json;

// An external parameter value or categorical choice: null, bool, integer, double or string.
using ParamValue = std::variant<std::monostate, bool, int64_t, double, std::string>;

// Continuous parameter in [low, high]; log scale (low > 0) or a step grid low, low+step, ... (not both).
// With a step, `high` is snapped down to the last grid point at validation.
struct FloatDistribution {
  double low = 0.0;
  double high = 1.0;
  bool log = false;
  std::optional<double> step;
  bool operator==(const FloatDistribution&) const = default;
};

// Integer parameter in [low, high] on the grid low, low+step, ...; log scale requires step == 1 and low >= 1.
struct IntDistribution {
  int64_t low = 0;
  int64_t high = 1;
  bool log = false;
  int64_t step = 1;
  bool operator==(const IntDistribution&) const = default;
};

// One of a non-empty list of distinct choices. The internal value is the choice's index.
struct CategoricalDistribution {
  std::vector<ParamValue> choices;
  bool operator==(const CategoricalDistribution&) const = default;
};

using Distribution = std::variant<FloatDistribution, IntDistribution, CategoricalDistribution>;

// Checks the distribution and returns it normalized (high snapped to the step grid). Throws ValueError naming
// `name` for low > high, non-finite bounds, log with low <= 0, log with a step, step <= 0, empty or duplicate
// choices.
Distribution validated(const Distribution& d, const std::string& name);

// Whether two distributions may be used for the same parameter name within one study: same kind and equal
// after normalization (Optuna's rule: a name keeps one distribution per study).
bool same_distribution(const Distribution& a, const Distribution& b);

// Whether `internal` is a valid internal value of `d` (in range, on the grid, a valid index).
bool contains(const Distribution& d, double internal);

// True for distributions with a single possible value.
bool is_single(const Distribution& d);

// Converts between external and internal forms. to_internal throws ValueError when the value is not in `d`.
double to_internal(const Distribution& d, const ParamValue& v);
ParamValue to_external(const Distribution& d, double internal);

// Unit-cube coordinate of an internal value, and back. Ints and stepped floats own equal-width bins, so that
// decoding u in [0,1] and rounding gives every grid point the same probability; log distributions are
// uniform in log space; a categorical with n choices maps index i to (i + 0.5) / n. from_unit clamps u to
// [0,1] and always returns a value that `contains` accepts.
double to_unit(const Distribution& d, double internal);
double from_unit(const Distribution& d, double u);

// Number of choices of a categorical, 0 for numeric distributions.
int n_choices(const Distribution& d);

// JSON. The canonical form is Optuna's: {"name": "FloatDistribution", "attributes": {"low": 0, "high": 1,
// "log": false, "step": null}}, likewise IntDistribution and CategoricalDistribution {"choices": [...]}.
// distribution_from_json also accepts the study-file short form {"type": "float"|"int"|"categorical",
// "low", "high", "log", "step", "choices"}; it validates and throws ValueError/ConfigError naming `name`.
json distribution_to_json(const Distribution& d);
Distribution distribution_from_json(const json& j, const std::string& name);

json param_value_to_json(const ParamValue& v);
ParamValue param_value_from_json(const json& j);
std::string param_value_to_string(const ParamValue& v);  // for tables: 0.1, 3, relu, true, null

// An ordered mapping name → distribution (insertion order is the dimension order of the encoding).
class SearchSpace {
 public:
  SearchSpace() = default;

  // Adds or replaces a parameter; validates the distribution.
  void add(const std::string& name, const Distribution& d);
  bool has(const std::string& name) const;
  const Distribution& at(const std::string& name) const;  // throws NotFoundError
  size_t size() const { return names_.size(); }
  bool empty() const { return names_.empty(); }
  const std::vector<std::string>& names() const { return names_; }
  const std::vector<Distribution>& distributions() const { return dists_; }

  // Unit-cube point of internal values (one coordinate per parameter, in order); throws NotFoundError when a
  // parameter is missing from `internal`.
  std::vector<double> encode(const std::map<std::string, double>& internal) const;
  // Internal values of a unit-cube point (ints rounded, steps snapped, categoricals to an index).
  std::map<std::string, double> decode(const std::vector<double>& unit) const;

  // {"x": <distribution json>, ...} (JSON objects are sorted by key, so this form loses the order).
  json to_json() const;
  // [["x", <distribution json>], ...]: keeps the order; what bbo stores.
  json to_ordered_json() const;
  // Accepts either form above; distributions in either form of distribution_from_json.
  static SearchSpace from_json(const json& j);

  bool operator==(const SearchSpace&) const = default;

 private:
  std::vector<std::string> names_;
  std::vector<Distribution> dists_;
};

}  // namespace bbo

// fuzz_search_space — SearchSpace::from_json and distribution_from_json (Optuna's form and the study-file short
// form) on arbitrary JSON text.
//
// Properties: only bbo::Error escapes; an accepted space survives to_ordered_json → from_json unchanged and
// to_json → from_json with the same parameters; every distribution survives distribution_to_json →
// distribution_from_json; decoding unit-cube points gives internal values the distribution contains, whose
// unit coordinate lies in [0, 1] and whose external form converts back to the same internal value.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bbo/space.h"
#include "tests/fuzz/fuzz_util.h"

using bbo::fuzz::check;
using bbo::fuzz::only_bbo_errors;

namespace {

void check_distribution(const std::string& name, const bbo::Distribution& d, const std::vector<double>& units) {
  const bbo::json dj = bbo::distribution_to_json(d);
  bbo::Distribution back;
  check(only_bbo_errors("distribution_from_json(distribution_to_json)",
                        [&] { back = bbo::distribution_from_json(dj, name); }),
        "distribution_to_json output rejected: " + dj.dump());
  check(back == d, "distribution round trip changed " + dj.dump());
  for (double u : units) {
    const double x = bbo::from_unit(d, u);
    check(bbo::contains(d, x), "from_unit(" + std::to_string(u) + ") = " + std::to_string(x) +
                                   " not contained in " + dj.dump());
    const double back_u = bbo::to_unit(d, x);
    check(back_u >= -1e-9 && back_u <= 1 + 1e-9, "to_unit outside [0,1] for " + dj.dump());
    bbo::ParamValue ext;
    check(only_bbo_errors("to_external", [&] { ext = bbo::to_external(d, x); }), "to_external failed");
    double again = 0;
    check(only_bbo_errors("to_internal", [&] { again = bbo::to_internal(d, ext); }),
          "to_internal rejected to_external's value for " + dj.dump());
    check(again == x, "to_internal(to_external(x)) != x for " + dj.dump());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const bbo::json j = bbo::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;

  // Unit-cube points to decode: the corners, the middle, and a few taken from the input's bytes.
  std::vector<double> units = {0.0, 0.5, 1.0, std::nextafter(1.0, 0.0)};
  for (size_t i = 0; i + 8 <= size && units.size() < 8; i += 8) {
    uint64_t bits;
    std::memcpy(&bits, data + i, 8);
    units.push_back(static_cast<double>(bits >> 11) / 9007199254740992.0);  // [0, 1)
  }

  bbo::Distribution single;
  if (only_bbo_errors("distribution_from_json", [&] { single = bbo::distribution_from_json(j, "x"); })) {
    check_distribution("x", single, units);
  }

  bbo::SearchSpace space;
  if (!only_bbo_errors("SearchSpace::from_json", [&] { space = bbo::SearchSpace::from_json(j); })) return 0;
  bbo::SearchSpace ordered, sorted;
  check(only_bbo_errors("from_json(to_ordered_json)",
                        [&] { ordered = bbo::SearchSpace::from_json(space.to_ordered_json()); }),
        "to_ordered_json output rejected");
  check(ordered == space, "to_ordered_json round trip changed the space");
  check(only_bbo_errors("from_json(to_json)", [&] { sorted = bbo::SearchSpace::from_json(space.to_json()); }),
        "to_json output rejected");
  check(sorted.size() == space.size(), "to_json round trip changed the number of parameters");
  for (size_t i = 0; i < space.size(); ++i) check_distribution(space.names()[i], space.distributions()[i], units);

  // encode(decode(u)) stays in the cube.
  for (double u : units) {
    const std::vector<double> point(space.size(), u);
    const auto internal = space.decode(point);
    for (double c : space.encode(internal)) check(c >= -1e-9 && c <= 1 + 1e-9, "encode(decode(u)) outside [0,1]");
  }
  return 0;
}

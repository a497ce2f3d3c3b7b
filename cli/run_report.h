// cli/run_report.h — the report lines a command driven by `bbo run` prints on its stdout (docs/cli.md):
//   bbo: {"step": 3, "value": 0.41}        an intermediate value (a learning-curve point) at step 3
//   bbo: {"step": 3, "values": [0.4, 12]}  the same for each objective of a multi-objective study
//   bbo: {"value": 0.37}                   the final result (one objective)
//   bbo: {"values": [0.37, 120.5]}         the final result (several objectives)
// A report line starts with "bbo:" in its first column; every other line is ordinary output. Numbers may be
// JSON numbers, the strings "nan", "inf", "-inf", or Python's bare NaN / Infinity / -Infinity (what
// json.dumps writes), so a Python script can print json.dumps(...) as it is.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace bbo::cli {

struct RunReport {
  std::optional<int64_t> step;  // set: intermediate value; unset: the final result
  std::vector<double> values;   // one per objective reported ("value" gives one)
};

// nullopt when `line` is not a report line (does not start with "bbo:"). Throws ValueError, with a message
// that names the problem, for a report line that is malformed: invalid JSON, not an object, an unknown key,
// both or neither of "value"/"values", a step that is not an integer >= 0, a value that is not a number.
// A trailing '\r' is ignored.
std::optional<RunReport> parse_report_line(std::string_view line);

}  // namespace bbo::cli

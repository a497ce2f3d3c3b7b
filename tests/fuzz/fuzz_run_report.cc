// fuzz_run_report — the `bbo run` metric-line parser (cli/run_report.h: parse_report_line) on arbitrary lines.
//
// Properties: only bbo::Error escapes; a line that does not start with "bbo:" is not a report; an accepted
// report has at least one value and, when it is an intermediate value, a step >= 0.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cli/run_report.h"
#include "tests/fuzz/fuzz_util.h"

using bbo::fuzz::check;
using bbo::fuzz::only_bbo_errors;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string line(reinterpret_cast<const char*>(data), size);
  std::optional<bbo::cli::RunReport> report;
  if (!only_bbo_errors("parse_report_line", [&] { report = bbo::cli::parse_report_line(std::string_view(line)); }))
    return 0;
  if (line.rfind("bbo:", 0) != 0) {
    check(!report.has_value(), "a line without the 'bbo:' prefix was taken for a report");
    return 0;
  }
  if (report) {
    check(!report->values.empty(), "a report without values was accepted");
    if (report->step) check(*report->step >= 0, "a negative step was accepted");
  }
  return 0;
}

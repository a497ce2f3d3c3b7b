// tests/fuzz/fuzz_util.h — what the fuzz targets share.
//
// bbo's contract for bad input is one error hierarchy (bbo/error.h): a parser may throw bbo::Error and nothing
// else. Any other exception escaping (a std::out_of_range, a nlohmann::json::type_error, ...) is a bug, and so
// is a broken round trip; both abort so that libFuzzer records the input as a crash. Memory and
// undefined-behaviour errors are caught by the sanitizers the targets are built with (BBO_SANITIZE).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "bbo/error.h"

namespace bbo::fuzz {

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "FUZZ PROPERTY VIOLATED: %s\n", what.c_str());
  std::abort();
}

inline void check(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

// Runs `body`; bbo::Error is a documented rejection (returns false), success returns true, anything else
// aborts naming `what`.
template <class F>
bool only_bbo_errors(const char* what, F&& body) {
  try {
    body();
    return true;
  } catch (const bbo::Error&) {
    return false;
  } catch (const std::exception& e) {
    fail(std::string(what) + ": an exception outside bbo::Error escaped: " + e.what());
  } catch (...) {
    fail(std::string(what) + ": a non-std exception escaped");
  }
}

}  // namespace bbo::fuzz

// fuzz_storage_url — storage URL parsing (storage/storage_url.h: parse_storage_url, redact_storage_url) on
// arbitrary text; nothing is opened.
//
// Properties: only bbo::Error escapes; an accepted sqlite: URL names a non-empty path with in-range options;
// a postgresql:// URL that libpq reads (PQconninfoParse, when built with PostgreSQL) and that holds a password
// is redacted: the shown URL has fewer occurrences of the password than the URL itself.
#include <cstddef>
#include <cstdint>
#include <string>

#ifdef BBO_HAVE_POSTGRES
#include <libpq-fe.h>
#endif

#include "storage_url.h"
#include "tests/fuzz/fuzz_util.h"

using bbo::fuzz::check;
using bbo::fuzz::only_bbo_errors;
using bbo::storage_internal::StorageKind;

namespace {

size_t occurrences(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = s.find(needle); pos != std::string::npos; pos = s.find(needle, pos + 1)) ++n;
  return n;
}

#ifdef BBO_HAVE_POSTGRES
// The password libpq reads from `url` ("" when none or when libpq rejects the URL).
std::string libpq_password(const std::string& url) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), &err);
  if (err) PQfreemem(err);
  if (!opts) return "";
  std::string pw;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    if (std::string(o->keyword) == "password" && o->val) pw = o->val;
  }
  PQconninfoFree(opts);
  return pw;
}
#endif

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string url(reinterpret_cast<const char*>(data), size);
  if (url.find('\0') != std::string::npos) return 0;  // URLs come from C strings (argv, YAML, environment)

  std::string shown;
  check(only_bbo_errors("redact_storage_url", [&] { shown = bbo::storage_internal::redact_storage_url(url); }),
        "redact_storage_url threw");

  bbo::storage_internal::ParsedStorageUrl parsed;
  if (!only_bbo_errors("parse_storage_url", [&] { parsed = bbo::storage_internal::parse_storage_url(url); }))
    return 0;
  if (parsed.kind == StorageKind::kSqlite) {
    check(!parsed.sqlite_path.empty(), "accepted a sqlite: URL without a path");
    check(parsed.sqlite.timeout_ms >= 0, "negative sqlite timeout");
  }
#ifdef BBO_HAVE_POSTGRES
  if (parsed.kind == StorageKind::kPostgres && url.find('%') == std::string::npos) {
    // (Percent-encoded URLs are left out: the decoded password need not appear in the text at all.)
    const std::string pw = libpq_password(url);
    // (Passwords with a '*' are left out too: they can occur in the "***" that replaces them.)
    if (!pw.empty() && pw.find('*') == std::string::npos && occurrences(url, pw) > 0) {
      check(occurrences(shown, pw) < occurrences(url, pw),
            "the password of '" + url + "' is still shown in '" + shown + "'");
    }
  }
#endif
  return 0;
}

// open_storage(url): picks the backend from the URL scheme (parse_storage_url, storage_url.h).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <memory>
#include <string>

#include "bbo/error.h"
#include "bbo/storage.h"
#include "memory/memory_storage.h"
#ifdef BBO_HAVE_POSTGRES
#include "postgres/postgres_storage.h"
#endif
#include "sqlite/sqlite_storage.h"
#include "storage_url.h"

namespace bbo {
namespace {

using storage_internal::ParsedStorageUrl;

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

std::string percent_decoded(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

// The path and options of a "sqlite:" URL.
void parse_sqlite(const std::string& url, ParsedStorageUrl& out) {
  std::string rest = url.substr(std::string("sqlite:").size());
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  // "sqlite:///abs" -> "/abs", "sqlite://rel" -> "rel", "sqlite:rel" -> "rel".
  std::string path = starts_with(rest, "//") ? rest.substr(2) : rest;
  if (path.empty()) throw ConfigError("storage URL '" + url + "' names no database file");

  SqliteOptions& options = out.sqlite;
  size_t pos = 0;
  while (pos < query.size()) {
    size_t amp = query.find('&', pos);
    std::string item = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    pos = amp == std::string::npos ? query.size() : amp + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    if (key == "synchronous") {
      std::string v = upper(value);
      if (v == "FULL") {
        options.synchronous_full = true;
      } else if (v == "NORMAL") {
        options.synchronous_full = false;
      } else {
        throw ConfigError("storage URL '" + url + "': synchronous must be NORMAL or FULL, got '" + value + "'");
      }
    } else if (key == "timeout_ms") {
      size_t used = 0;
      long long ms = -1;
      try {
        ms = std::stoll(value, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != value.size() || value.empty() || ms < 0 || ms > 86'400'000) {
        throw ConfigError("storage URL '" + url + "': timeout_ms must be a number of milliseconds, got '" +
                          value + "'");
      }
      options.timeout_ms = static_cast<int>(ms);
    } else {
      throw ConfigError("storage URL '" + url + "': unknown option '" + key +
                        "' (expected synchronous or timeout_ms)");
    }
  }
  out.sqlite_path = path;
}

}  // namespace

namespace storage_internal {

ParsedStorageUrl parse_storage_url(const std::string& url) {
  ParsedStorageUrl out;
  if (url == "memory:" || url == "memory://") {
    out.kind = StorageKind::kMemory;
  } else if (starts_with(url, "sqlite:")) {
    out.kind = StorageKind::kSqlite;
    parse_sqlite(url, out);
  } else if (starts_with(url, "postgresql://") || starts_with(url, "postgres://")) {
    out.kind = StorageKind::kPostgres;
  } else {
    throw ConfigError("unknown storage URL '" + url +
                      "' (expected memory:, sqlite:///path/to/file.db or postgresql://user@host/db)");
  }
  return out;
}

std::string redact_storage_url(const std::string& url) {
  // Follows libpq's reading of a URI: the user info ends at the first '@' met before any '/' (a password
  // after its first ':'), and the query after '?' holds key=value pairs split by '&'. Every password found
  // either way is hidden. (An earlier version hid only the first "password=" anywhere in the text, so a
  // query password stayed visible when the host or user info also held that string; found by
  // tests/fuzz/fuzz_storage_url.)
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  const size_t start = scheme + 3;
  std::string out = url.substr(0, start);
  size_t pos = start;
  const size_t userinfo_end = url.find_first_of("@/", start);
  if (userinfo_end != std::string::npos && url[userinfo_end] == '@') {
    const size_t colon = url.find(':', start);
    if (colon != std::string::npos && colon < userinfo_end) {
      out += url.substr(start, colon + 1 - start) + "***";
    } else {
      out += url.substr(start, userinfo_end - start);
    }
    pos = userinfo_end;
  }
  const size_t query = url.find('?', pos);
  out += url.substr(pos, query == std::string::npos ? std::string::npos : query + 1 - pos);
  if (query == std::string::npos) return out;
  for (size_t item = query + 1; item <= url.size();) {
    size_t amp = url.find('&', item);
    if (amp == std::string::npos) amp = url.size();
    const std::string kv = url.substr(item, amp - item);
    const size_t eq = kv.find('=');
    // libpq percent-decodes keys too ("%70assword=...").
    if (eq != std::string::npos && percent_decoded(kv.substr(0, eq)) == "password") {
      out += kv.substr(0, eq) + "=***";
    } else {
      out += kv;
    }
    if (amp < url.size()) out += '&';
    item = amp + 1;
  }
  return out;
}

}  // namespace storage_internal

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<Storage> open_storage(const std::string& url) {
  const storage_internal::ParsedStorageUrl parsed = storage_internal::parse_storage_url(url);
  switch (parsed.kind) {
    case storage_internal::StorageKind::kMemory:
      return std::make_unique<MemoryStorage>();
    case storage_internal::StorageKind::kSqlite:
      return std::make_unique<SqliteStorage>(parsed.sqlite_path, parsed.sqlite, url);
    case storage_internal::StorageKind::kPostgres:
#ifdef BBO_HAVE_POSTGRES
      return std::make_unique<PostgresStorage>(url);
#else
      throw ConfigError("PostgreSQL storage not built in this bbo (storage URL '" + url + "')");
#endif
  }
  throw ConfigError("unknown storage URL '" + url + "'");
}

std::string redact_storage_url(const std::string& url) { return storage_internal::redact_storage_url(url); }

}  // namespace bbo

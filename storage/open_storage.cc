// open_storage(url): picks the backend from the URL scheme.
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

namespace bbo {
namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::toupper(c); });
  return s;
}

std::unique_ptr<Storage> open_sqlite(const std::string& url) {
  std::string rest = url.substr(std::string("sqlite:").size());
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  // "sqlite:///abs" -> "/abs", "sqlite://rel" -> "rel", "sqlite:rel" -> "rel".
  std::string path = starts_with(rest, "//") ? rest.substr(2) : rest;
  if (path.empty()) throw ConfigError("storage URL '" + url + "' names no database file");

  SqliteOptions options;
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
  return std::make_unique<SqliteStorage>(path, options, url);
}

}  // namespace

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::unique_ptr<Storage> open_storage(const std::string& url) {
  if (url == "memory:" || url == "memory://") return std::make_unique<MemoryStorage>();
  if (starts_with(url, "sqlite:")) return open_sqlite(url);
  if (starts_with(url, "postgresql://") || starts_with(url, "postgres://")) {
#ifdef BBO_HAVE_POSTGRES
    return std::make_unique<PostgresStorage>(url);
#else
    throw ConfigError("PostgreSQL storage not built in this bbo (storage URL '" + url + "')");
#endif
  }
  throw ConfigError("unknown storage URL '" + url +
                    "' (expected memory:, sqlite:///path/to/file.db or postgresql://user@host/db)");
}

}  // namespace bbo

// storage/storage_url.h — storage URL parsing without opening anything (private to storage/; exposed for the
// fuzz targets in tests/fuzz and the unit tests).
//
// parse_storage_url is what open_storage does before it touches a file or a server: it picks the backend from
// the scheme and, for SQLite, reads the path and the query options. PostgreSQL URLs are handed to libpq as
// they are, so only their scheme is checked here. Errors are ConfigError naming the URL.
#pragma once

#include <string>

#include "sqlite/sqlite_storage.h"

namespace bbo::storage_internal {

enum class StorageKind { kMemory, kSqlite, kPostgres };

struct ParsedStorageUrl {
  StorageKind kind = StorageKind::kMemory;
  std::string sqlite_path;  // kSqlite: the database file (never empty)
  SqliteOptions sqlite;     // kSqlite: ?synchronous=NORMAL|FULL&timeout_ms=N
};

ParsedStorageUrl parse_storage_url(const std::string& url);

// `url` with its password hidden, for messages: "postgresql://user:secret@host/db" -> "postgresql://user:***@host/db",
// and "...?password=secret" -> "...?password=***".
std::string redact_storage_url(const std::string& url);

}  // namespace bbo::storage_internal

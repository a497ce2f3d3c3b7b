#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include "bbo/error.h"
#include "bbo/storage.h"
#include "storage/storage_url.h"

namespace {

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

TEST(OpenStorage, MemoryUrlOpensAnEmptyStore) {
  auto s = bbo::open_storage("memory:");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->list_studies().empty());
}

// The public redaction the CLI prints URLs through (the parser's own tests cover the cases in depth).
TEST(OpenStorage, RedactStorageUrlHidesPasswords) {
  EXPECT_EQ(bbo::redact_storage_url("postgresql://tuner:s3cret@db.example/bbo"), "postgresql://tuner:***@db.example/bbo");
  EXPECT_EQ(bbo::redact_storage_url("postgresql://tuner@db/bbo?password=s3cret&sslmode=require"),
            "postgresql://tuner@db/bbo?password=***&sslmode=require");
  EXPECT_EQ(bbo::redact_storage_url("sqlite:///tmp/a.db"), "sqlite:///tmp/a.db");
}

TEST(OpenStorage, UnknownSchemeIsAConfigErrorNamingTheUrl) {
  EXPECT_THROW(bbo::open_storage("mysql://x/y"), bbo::ConfigError);
  EXPECT_NE(message_of([] { bbo::open_storage("mysql://x/y"); }).find("mysql://x/y"), std::string::npos);
  EXPECT_THROW(bbo::open_storage(""), bbo::ConfigError);
  EXPECT_THROW(bbo::open_storage("/tmp/file.db"), bbo::ConfigError);
}

#ifdef BBO_HAVE_POSTGRES
TEST(OpenStorage, PostgresqlWithoutAServerIsAStorageErrorNamingTheUrl) {
  // Port 1: nothing listens there, so the connection is refused at once.
  for (const char* url : {"postgresql://user@127.0.0.1:1/db", "postgres://user@127.0.0.1:1/db"}) {
    EXPECT_THROW(bbo::open_storage(url), bbo::StorageError) << url;
    EXPECT_NE(message_of([&] { bbo::open_storage(url); }).find(url), std::string::npos) << url;
  }
}
#else
TEST(OpenStorage, PostgresqlIsAConfigErrorWhenNotBuilt) {
  EXPECT_THROW(bbo::open_storage("postgresql://user@localhost/db"), bbo::ConfigError);
  EXPECT_NE(message_of([] { bbo::open_storage("postgresql://user@localhost/db"); }).find("PostgreSQL"),
            std::string::npos);
}
#endif

TEST(OpenStorage, SqliteUrlWithoutPathIsAConfigError) {
  EXPECT_THROW(bbo::open_storage("sqlite://"), bbo::ConfigError);
  EXPECT_THROW(bbo::open_storage("sqlite:"), bbo::ConfigError);
}

TEST(OpenStorage, SqliteOptionsAreValidated) {
  auto dir = std::filesystem::temp_directory_path() / ("bbo_open_storage_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "opts.db").string();
  EXPECT_NO_THROW(bbo::open_storage("sqlite://" + path + "?synchronous=FULL&timeout_ms=5000"));
  EXPECT_NO_THROW(bbo::open_storage("sqlite://" + path + "?synchronous=normal"));
  EXPECT_THROW(bbo::open_storage("sqlite://" + path + "?synchronous=OFF"), bbo::ConfigError);
  EXPECT_THROW(bbo::open_storage("sqlite://" + path + "?timeout_ms=soon"), bbo::ConfigError);
  EXPECT_THROW(bbo::open_storage("sqlite://" + path + "?journal=memory"), bbo::ConfigError);
  std::filesystem::remove_all(dir);
}

TEST(StorageUrl, ParsesWithoutOpening) {
  using bbo::storage_internal::parse_storage_url;
  using bbo::storage_internal::StorageKind;
  auto p = parse_storage_url("sqlite:///tmp/x.db?synchronous=FULL&timeout_ms=250");
  EXPECT_EQ(p.kind, StorageKind::kSqlite);
  EXPECT_EQ(p.sqlite_path, "/tmp/x.db");
  EXPECT_TRUE(p.sqlite.synchronous_full);
  EXPECT_EQ(p.sqlite.timeout_ms, 250);
  EXPECT_EQ(parse_storage_url("memory:").kind, StorageKind::kMemory);
  // No server is contacted: the host does not exist.
  EXPECT_EQ(parse_storage_url("postgresql://u@no-such-host.invalid/db").kind, StorageKind::kPostgres);
  EXPECT_THROW(parse_storage_url("sqlite:///x.db?timeout_ms=-1"), bbo::ConfigError);
  EXPECT_THROW(parse_storage_url("mysql://x"), bbo::ConfigError);
}

// Regressions from tests/fuzz (fuzz_storage_url): only the first "password=" anywhere in the URL was hidden,
// so a query password stayed visible when the host or the user info also held that text.
TEST(StorageUrl, RedactHidesEveryPassword) {
  using bbo::storage_internal::redact_storage_url;
  EXPECT_EQ(bbo::redact_storage_url("postgresql://u:secret@h:5432/db?sslmode=disable"),
            "postgresql://u:***@h:5432/db?sslmode=disable");
  EXPECT_EQ(bbo::redact_storage_url("postgres://h/db?user=u&password=secret"), "postgres://h/db?user=u&password=***");
  EXPECT_EQ(bbo::redact_storage_url("postgres://dpassword=b.example.org/db?user=u&password=secret"),
            "postgres://dpassword=b.example.org/db?user=u&password=***");
  EXPECT_EQ(bbo::redact_storage_url("postgresql://u:one@h/db?password=two&x=1"), "postgresql://u:***@h/db?password=***&x=1");
  EXPECT_EQ(bbo::redact_storage_url("postgresql://u@h/db?%70assword=secret"), "postgresql://u@h/db?%70assword=***");
  EXPECT_EQ(bbo::redact_storage_url("postgresql://u@h/db"), "postgresql://u@h/db");
  EXPECT_EQ(bbo::redact_storage_url("postgresql://h:5432/db"), "postgresql://h:5432/db");
  EXPECT_EQ(bbo::redact_storage_url("sqlite:///x.db"), "sqlite:///x.db");
}

TEST(OpenStorage, NowIsMicrosecondsSinceTheEpoch) {
  int64_t now = bbo::now_us();
  EXPECT_GT(now, 1'600'000'000'000'000LL);  // after 2020
  EXPECT_LT(now, 4'100'000'000'000'000LL);  // before 2100
}

}  // namespace

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <functional>
#include <string>

#include "bbo/error.h"
#include "bbo/storage.h"

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

TEST(OpenStorage, NowIsMicrosecondsSinceTheEpoch) {
  int64_t now = bbo::now_us();
  EXPECT_GT(now, 1'600'000'000'000'000LL);  // after 2020
  EXPECT_LT(now, 4'100'000'000'000'000LL);  // before 2100
}

}  // namespace

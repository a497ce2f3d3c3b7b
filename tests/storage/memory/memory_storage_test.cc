#include <gtest/gtest.h>

#include "bbo/storage.h"
#include "storage_conformance.h"

INSTANTIATE_TEST_SUITE_P(Memory, StorageConformanceTest,
                         ::testing::Values(bbo::conformance::StorageFactory([] {
                           return bbo::open_storage("memory:");
                         })));

TEST(MemoryStorage, EachOpenIsASeparateStore) {
  auto a = bbo::open_storage("memory:");
  auto b = bbo::open_storage("memory:");
  a->create_study("s", {bbo::Direction::kMinimize}, bbo::json::object());
  EXPECT_EQ(a->list_studies().size(), 1u);
  EXPECT_TRUE(b->list_studies().empty());
  EXPECT_EQ(a->url(), "memory:");
}

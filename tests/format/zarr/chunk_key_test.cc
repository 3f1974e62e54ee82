// Chunk keys for every encoding, and keys that would escape the store.

#include <gtest/gtest.h>

#include "lsio/format/zarr/chunk_key.h"

namespace lsio::zarr {
namespace {

using Kind = ChunkKeyEncoding::Kind;

TEST(ChunkKey, Encodings) {
  const std::vector<int64_t> g = {0, 12, 3};
  EXPECT_EQ(EncodeChunkKey({Kind::kDefault, '/'}, g), "c/0/12/3");
  EXPECT_EQ(EncodeChunkKey({Kind::kDefault, '.'}, g), "c.0.12.3");
  EXPECT_EQ(EncodeChunkKey({Kind::kV2, '.'}, g), "0.12.3");
  EXPECT_EQ(EncodeChunkKey({Kind::kV2, '/'}, g), "0/12/3");
  // 0-d arrays: zarr-python writes "c" (v3) and "0" (v2).
  EXPECT_EQ(EncodeChunkKey({Kind::kDefault, '/'}, {}), "c");
  EXPECT_EQ(EncodeChunkKey({Kind::kV2, '.'}, {}), "0");
}

TEST(ChunkKey, Join) {
  EXPECT_EQ(*JoinStoreKey("group/array", "c/0/1"), "group/array/c/0/1");
  EXPECT_EQ(*JoinStoreKey("", "0.1"), "0.1");
  EXPECT_EQ(*JoinStoreKey("a/", "0.1"), "a/0.1");
  EXPECT_EQ(*JoinStoreKey("a", ""), "a");
  for (const char* bad : {"../etc/passwd", "a/../../b", "/abs", "a//b", "a/./b", "a/", "..",
                          "a\\b"}) {
    SCOPED_TRACE(bad);
    Result<std::string> r = JoinStoreKey("store", bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(bad), std::string::npos);
  }
  EXPECT_NE(JoinStoreKey("s", "../x").status().message().find("would escape the store"),
            std::string::npos);
  EXPECT_TRUE(ValidateStoreKey("").ok());
  EXPECT_TRUE(ValidateStoreKey("a..b/c").ok());  // ".." only as a whole component
}

}  // namespace
}  // namespace lsio::zarr

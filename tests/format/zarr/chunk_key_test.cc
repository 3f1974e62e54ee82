// Chunk keys for every encoding, and keys that would escape the store.

#include <gtest/gtest.h>

#include "lsio/format/zarr/chunk_key.h"
#include "lsio/kvstore/key.h"

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
  EXPECT_EQ(*kvstore::JoinKey("group/array", "c/0/1"), "group/array/c/0/1");
  EXPECT_EQ(*kvstore::JoinKey("", "0.1"), "0.1");
  EXPECT_EQ(*kvstore::JoinKey("a/", "0.1"), "a/0.1");
  EXPECT_EQ(*kvstore::JoinKey("a", ""), "a");
  for (const char* bad : {"../etc/passwd", "a/../../b", "/abs", "a//b", "a/./b", "a/", "..",
                          "a\\b"}) {
    SCOPED_TRACE(bad);
    Result<std::string> r = kvstore::JoinKey("store", bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(bad), std::string::npos);
  }
  EXPECT_NE(kvstore::JoinKey("s", "../x").status().message().find("would escape the store"),
            std::string::npos);
  EXPECT_TRUE(kvstore::ValidateKey("").ok());
  EXPECT_TRUE(kvstore::ValidateKey("a..b/c").ok());  // ".." only as a whole component
}

}  // namespace
}  // namespace lsio::zarr

// Shard index: byte ranges, validation of entries, decoding through the index codec chain
// (with a crc32c computed independently here), corrupt shards, and whole-shard decoding of a
// shard written by zarrs.

#include <gtest/gtest.h>

#include <cstring>

#include "lsio/format/zarr/hierarchy.h"
#include "lsio/format/zarr/shard_index.h"
#include "lsio/kvstore/file_store.h"
#include "test_util.h"

namespace lsio::zarr {
namespace {

using nlohmann::json;

// Bitwise CRC-32C (Castagnoli), independent of the codec layer's ISA-L implementation.
uint32_t Crc32c(std::span<const std::byte> data) {
  uint32_t crc = 0xffffffffu;
  for (std::byte b : data) {
    crc ^= static_cast<uint8_t>(b);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

ShardingSpec Spec(ShardIndexLocation location = ShardIndexLocation::kEnd) {
  json codecs = json::parse(R"([{"name": "sharding_indexed", "configuration": {
      "chunk_shape": [2, 2], "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
      "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                       {"name": "crc32c"}],
      "index_location": "end"}}])");
  if (location == ShardIndexLocation::kStart) {
    codecs[0]["configuration"]["index_location"] = "start";
  }
  json j = {{"zarr_format", 3},
            {"node_type", "array"},
            {"shape", {4, 4}},
            {"data_type", "uint16"},
            {"chunk_grid", {{"name", "regular"}, {"configuration", {{"chunk_shape", {4, 4}}}}}},
            {"chunk_key_encoding", {{"name", "default"}}},
            {"fill_value", 9},
            {"codecs", codecs}};
  return *ParseZarrV3Array(j, "t/zarr.json").value().sharding;
}

std::vector<std::byte> EncodeIndex(const std::vector<ShardIndexEntry>& entries) {
  std::vector<std::byte> out(entries.size() * 16 + 4);
  for (size_t i = 0; i < entries.size(); ++i) {
    std::memcpy(out.data() + 16 * i, &entries[i].offset, 8);
    std::memcpy(out.data() + 16 * i + 8, &entries[i].nbytes, 8);
  }
  const uint32_t crc = Crc32c(std::span(out.data(), entries.size() * 16));
  std::memcpy(out.data() + entries.size() * 16, &crc, 4);
  return out;
}

TEST(ShardIndex, ByteRange) {
  const ShardingSpec end = Spec();
  EXPECT_EQ(end.index_encoded_size, 4u * 16 + 4);
  EXPECT_EQ(*ShardIndexByteRange(end, 1000, "s"), (ByteRange{1000 - 68, 68}));
  EXPECT_EQ(*ShardIndexByteRange(Spec(ShardIndexLocation::kStart), 1000, "s"),
            (ByteRange{0, 68}));
  Result<ByteRange> r = ShardIndexByteRange(end, 67, "/d/a/c/0/0");
  EXPECT_EQ(r.status().code(), StatusCode::kCorruptData);
  EXPECT_NE(r.status().message().find("/d/a/c/0/0"), std::string::npos);
}

TEST(ShardIndex, DecodeAndValidate) {
  const ShardingSpec spec = Spec();
  Result<codec::CodecChain> chain = MakeShardIndexCodecChain(spec);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  std::vector<ShardIndexEntry> entries = {{0, 8}, {}, {8, 8}, {16, 8}};
  std::vector<std::byte> encoded = EncodeIndex(entries);
  Result<ShardIndex> index = ShardIndex::Decode(encoded, *chain, spec, 24 + 68, "shard");
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ(index->entries(), entries);
  EXPECT_EQ(index->num_present(), 3);
  EXPECT_TRUE(index->entry(std::vector<int64_t>{0, 1}).empty());
  EXPECT_EQ(index->entry(std::vector<int64_t>{1, 1}).range(), (ByteRange{16, 8}));

  auto expect_corrupt = [&](std::vector<std::byte> bytes, std::optional<uint64_t> size,
                            const char* contains) {
    Result<ShardIndex> r = ShardIndex::Decode(bytes, *chain, spec, size, "/x/c/0/0");
    ASSERT_FALSE(r.ok()) << contains;
    EXPECT_EQ(r.status().code(), StatusCode::kCorruptData) << r.status().ToString();
    EXPECT_NE(r.status().message().find("/x/c/0/0"), std::string::npos) << r.status().ToString();
    EXPECT_NE(r.status().message().find(contains), std::string::npos) << r.status().ToString();
  };
  // Truncated index.
  expect_corrupt(std::vector<std::byte>(encoded.begin(), encoded.end() - 5), std::nullopt,
                 "shard index of 63 bytes");
  // Checksum mismatch.
  std::vector<std::byte> flipped = encoded;
  flipped[3] ^= std::byte{1};
  expect_corrupt(flipped, std::nullopt, "shard index");
  // A chunk that ends past the shard.
  expect_corrupt(EncodeIndex({{0, 8}, {}, {8, 8}, {16, 100}}), 92, "ends past");
  // Offsets that overflow.
  expect_corrupt(EncodeIndex({{~uint64_t{0} - 4, 8}, {}, {}, {}}), std::nullopt, "overflows");
  // Half-empty entries.
  expect_corrupt(EncodeIndex({{~uint64_t{0}, 8}, {}, {}, {}}), std::nullopt, "half empty");
}

TEST(ShardIndex, DecodeShardFillsMissingAndRejectsCorruption) {
  const ShardingSpec spec = Spec(ShardIndexLocation::kStart);
  // Inner chunks (2x2 uint16, raw bytes): (0,0) = 1..4, (1,1) = 5..8, others empty.
  std::vector<uint16_t> a = {1, 2, 3, 4}, b = {5, 6, 7, 8};
  std::vector<ShardIndexEntry> entries = {{68, 8}, {}, {}, {76, 8}};
  std::vector<std::byte> shard = EncodeIndex(entries);
  const auto* pa = reinterpret_cast<const std::byte*>(a.data());
  const auto* pb = reinterpret_cast<const std::byte*>(b.data());
  shard.insert(shard.end(), pa, pa + 8);
  shard.insert(shard.end(), pb, pb + 8);
  const uint16_t fill = 9;
  std::vector<uint16_t> out(16);
  Status s = DecodeShard(shard, spec, DataType::kUInt16,
                         std::as_bytes(std::span(&fill, 1)),
                         std::as_writable_bytes(std::span(out)), "sh");
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out, (std::vector<uint16_t>{1, 2, 9, 9, 3, 4, 9, 9, 9, 9, 5, 6, 9, 9, 7, 8}));
  // An inner chunk of the wrong size is corrupt data naming the shard and the inner chunk.
  std::vector<ShardIndexEntry> bad = {{68, 6}, {}, {}, {76, 8}};
  std::vector<std::byte> shard2 = EncodeIndex(bad);
  shard2.insert(shard2.end(), shard.begin() + 68, shard.end());
  s = DecodeShard(shard2, spec, DataType::kUInt16, std::as_bytes(std::span(&fill, 1)),
                  std::as_writable_bytes(std::span(out)), "/d/arr/c/0/0");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kCorruptData) << s.ToString();
  EXPECT_NE(s.message().find("/d/arr/c/0/0 inner chunk 0.0"), std::string::npos) << s.ToString();
  // A shard shorter than its index.
  s = DecodeShard(std::span(shard).first(40), spec, DataType::kUInt16,
                  std::as_bytes(std::span(&fill, 1)), std::as_writable_bytes(std::span(out)),
                  "/d/arr/c/0/0");
  EXPECT_EQ(s.code(), StatusCode::kCorruptData);
}

TEST(ShardIndex, ZarrsShardedFixture) {
  // uint16 8x8, shards 4x8 of 4x4 gzip inner chunks, index at the end with crc32c; values from
  // zarr-python (manifest).
  const std::string root = testing::SharedFixturesDir() + "/sharded_array_write_read.zarr/group";
  auto store_holder = kvstore::MakeFileStore(root);
  kvstore::Store& store = *store_holder;
  Result<Hierarchy> h = OpenHierarchy(store);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  const Node* node = h->Find("array");
  ASSERT_NE(node, nullptr);
  const ArrayMetadata& m = *node->array;
  std::optional<std::string> shard = testing::ReadWholeFile(root + "/array/c/1/0");
  ASSERT_TRUE(shard.has_value());
  const auto bytes = std::as_bytes(std::span<const char>(shard->data(), shard->size()));
  Result<ByteRange> range = ShardIndexByteRange(*m.sharding, bytes.size(), "c/1/0");
  ASSERT_TRUE(range.ok());
  Result<codec::CodecChain> chain = MakeShardIndexCodecChain(*m.sharding);
  ASSERT_TRUE(chain.ok());
  Result<ShardIndex> index = ShardIndex::Decode(bytes.subspan(range->offset, range->length),
                                                *chain, *m.sharding, bytes.size(), "c/1/0");
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ(index->chunks_per_shard(), (std::vector<int64_t>{1, 2}));
  // The CRC of the index payload matches an independent computation.
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
  EXPECT_EQ(stored_crc, Crc32c(bytes.subspan(range->offset, 32)));
  // A truncated copy of the real shard: the index no longer verifies.
  Result<ShardIndex> truncated =
      ShardIndex::Decode(bytes.subspan(range->offset, range->length - 1), *chain, *m.sharding,
                         bytes.size(), "c/1/0");
  EXPECT_EQ(truncated.status().code(), StatusCode::kCorruptData);
}

}  // namespace
}  // namespace lsio::zarr

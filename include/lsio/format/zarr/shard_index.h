#pragma once

// The sharding_indexed codec's shard index: where the index sits in a shard, decoding and
// validating its (offset, nbytes) pairs, and decoding a whole shard (for small shards and
// tests), including nested sharding.
//
// An entry with offset = nbytes = 2^64-1 is an empty inner chunk (its elements are the fill
// value). Errors name the shard file: kCorruptData for an index that is too short, fails its
// checksum, has half-empty entries, offsets that overflow, or chunks that end past the shard.
//
// Thread safety: ShardIndex is an immutable value; the functions are pure.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "lsio/base/result.h"
#include "lsio/codec/codec.h"
#include "lsio/format/zarr/metadata.h"

namespace lsio::zarr {

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t end() const { return offset + length; }
  bool operator==(const ByteRange&) const = default;
};

inline constexpr uint64_t kEmptyInnerChunk = ~uint64_t{0};

struct ShardIndexEntry {
  uint64_t offset = kEmptyInnerChunk;
  uint64_t nbytes = kEmptyInnerChunk;

  bool empty() const { return offset == kEmptyInnerChunk && nbytes == kEmptyInnerChunk; }
  ByteRange range() const { return {offset, nbytes}; }
  bool operator==(const ShardIndexEntry&) const = default;
};

// Where the encoded index lies in a shard of `shard_size` bytes (the first or last
// spec.index_encoded_size bytes). Errors: kCorruptData "<shard>: N bytes is too small to hold
// a shard index of M bytes".
Result<ByteRange> ShardIndexByteRange(const ShardingSpec& spec, uint64_t shard_size,
                                      std::string_view shard_path);

class ShardIndex {
 public:
  // Decodes `encoded` (exactly the index bytes) with `index_chain` (MakeShardIndexCodecChain:
  // checksums are verified there) and validates every entry. `shard_size`, when known, bounds
  // the chunks' ends.
  static Result<ShardIndex> Decode(std::span<const std::byte> encoded,
                                   const codec::CodecChain& index_chain,
                                   const ShardingSpec& spec, std::optional<uint64_t> shard_size,
                                   std::string_view shard_path);
  // From already decoded entries (tests, and callers that decode the index elsewhere); the
  // same validation.
  static Result<ShardIndex> FromEntries(std::vector<ShardIndexEntry> entries,
                                        const ShardingSpec& spec,
                                        std::optional<uint64_t> shard_size,
                                        std::string_view shard_path);

  // The entry of the inner chunk at `inner_grid` (coordinates inside the shard).
  // Precondition: each coordinate < chunks_per_shard.
  const ShardIndexEntry& entry(std::span<const int64_t> inner_grid) const;
  const std::vector<ShardIndexEntry>& entries() const { return entries_; }
  const std::vector<int64_t>& chunks_per_shard() const { return chunks_per_shard_; }
  // Number of non-empty inner chunks.
  int64_t num_present() const;

 private:
  std::vector<int64_t> chunks_per_shard_;
  std::vector<ShardIndexEntry> entries_;  // C order over chunks_per_shard_
};

// Decodes a whole shard held in `shard` into `out`, an array of spec.shard_shape elements of
// `dtype` in C order, native byte order. Empty inner chunks become `fill` (one element).
// Nested sharding recurses. Errors name `shard_path` (and the inner chunk).
Status DecodeShard(std::span<const std::byte> shard, const ShardingSpec& spec, DataType dtype,
                   std::span<const std::byte> fill, std::span<std::byte> out,
                   std::string_view shard_path);

}  // namespace lsio::zarr

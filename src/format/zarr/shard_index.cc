#include "lsio/format/zarr/shard_index.h"

#include <cstring>
#include <string>

#include "grid_text.h"
#include "lsio/base/json_util.h"
#include "lsio/array/strided_copy.h"

namespace lsio::zarr {

using internal::GridText;
using internal::Unravel;

Result<ByteRange> ShardIndexByteRange(const ShardingSpec& spec, uint64_t shard_size,
                                      std::string_view shard_path) {
  const uint64_t n = spec.index_encoded_size;
  if (shard_size < n) {
    return CorruptDataError(std::string(shard_path) + ": " + std::to_string(shard_size) +
                            " bytes is too small to hold a shard index of " +
                            std::to_string(n) + " bytes");
  }
  if (spec.index_location == ShardIndexLocation::kStart) return ByteRange{0, n};
  return ByteRange{shard_size - n, n};
}

Result<ShardIndex> ShardIndex::FromEntries(std::vector<ShardIndexEntry> entries,
                                           const ShardingSpec& spec,
                                           std::optional<uint64_t> shard_size,
                                           std::string_view shard_path) {
  const int64_t expected = spec.num_inner_chunks();
  if (static_cast<int64_t>(entries.size()) != expected) {
    return CorruptDataError(std::string(shard_path) + ": shard index has " +
                            std::to_string(entries.size()) + " entries, expected " +
                            std::to_string(expected));
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    const ShardIndexEntry& e = entries[i];
    if (e.empty()) continue;
    auto where = [&]() {
      return std::string(shard_path) + ": shard index entry for inner chunk " +
             GridText(Unravel(static_cast<int64_t>(i), spec.chunks_per_shard)) + " (offset " +
             std::to_string(e.offset) + ", nbytes " + std::to_string(e.nbytes) + ")";
    };
    if (e.offset == kEmptyInnerChunk || e.nbytes == kEmptyInnerChunk) {
      return CorruptDataError(where() + " is half empty");
    }
    uint64_t end;
    if (__builtin_add_overflow(e.offset, e.nbytes, &end)) {
      return CorruptDataError(where() + " overflows 64 bits");
    }
    if (shard_size && end > *shard_size) {
      return CorruptDataError(where() + " ends past the shard's " +
                              std::to_string(*shard_size) + " bytes");
    }
  }
  ShardIndex index;
  index.chunks_per_shard_ = spec.chunks_per_shard;
  index.entries_ = std::move(entries);
  return index;
}

const ShardIndexEntry& ShardIndex::entry(std::span<const int64_t> g) const {
  int64_t i = 0;
  for (size_t d = 0; d < g.size(); ++d) i = i * chunks_per_shard_[d] + g[d];
  return entries_[static_cast<size_t>(i)];
}

int64_t ShardIndex::num_present() const {
  int64_t n = 0;
  for (const ShardIndexEntry& e : entries_) n += e.empty() ? 0 : 1;
  return n;
}

}  // namespace lsio::zarr

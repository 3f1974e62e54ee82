#pragma once

// Assembling one shard of the sharding_indexed codec from its encoded inner chunks: the chunks
// in C order of their position in the shard, and the index of (offset, nbytes) pairs (empty
// chunks 2^64-1, 2^64-1) encoded with the index codecs, at the start or end of the shard.
// zarr-python, TensorStore and zarrs lay shards out the same way.
//
// Only the encoded inner chunks are held, so a shard can be built one inner chunk at a time.
//
// Thread safety: a ShardEncoder is used by one thread at a time.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lsio/base/buffer.h"
#include "lsio/base/result.h"
#include "lsio/codec/chain.h"
#include "lsio/format/zarr/metadata.h"
#include "lsio/format/zarr/shard_index.h"

namespace lsio::zarr {

class ShardEncoder {
 public:
  // For one shard of `spec` (one sharding level: spec.nested must be null, else
  // kNotSupported). `index_chain` is MakeShardIndexCodecChain(spec); it must outlive the
  // encoder. `where` names the shard in messages.
  static Result<ShardEncoder> Make(const ShardingSpec& spec, const codec::CodecChain& index_chain,
                                   std::string where);

  // Sets the encoded bytes of the inner chunk at `inner` (coordinates inside the shard, each
  // < chunks_per_shard). A chunk never added is empty (its elements read as the fill value).
  // Errors: kInvalidArgument for coordinates out of range or a chunk added twice.
  Status Add(std::span<const int64_t> inner, Buffer encoded);

  // Number of inner chunks added.
  int64_t num_added() const { return added_; }

  // The shard's bytes, or nullopt when no inner chunk was added (nothing to store: a missing
  // shard reads as the fill value). The encoder is empty afterwards.
  Result<std::optional<Buffer>> Finish();

 private:
  ShardEncoder(const ShardingSpec& spec, const codec::CodecChain& index_chain, std::string where);
  const ShardingSpec* spec_;
  const codec::CodecChain* index_chain_;
  std::string where_;
  std::vector<Buffer> chunks_;     // C order over chunks_per_shard
  std::vector<bool> present_;
  int64_t added_ = 0;
};

}  // namespace lsio::zarr

#include "lsio/format/zarr/shard_encode.h"

#include <cstring>

#include <fmt/format.h>

#include "grid_text.h"
#include "lsio/base/json_util.h"

namespace lsio::zarr {

ShardEncoder::ShardEncoder(const ShardingSpec& spec, const codec::CodecChain& index_chain,
                           std::string where)
    : spec_(&spec),
      index_chain_(&index_chain),
      where_(std::move(where)),
      chunks_(static_cast<size_t>(spec.num_inner_chunks())),
      present_(chunks_.size(), false) {}

Result<ShardEncoder> ShardEncoder::Make(const ShardingSpec& spec,
                                        const codec::CodecChain& index_chain, std::string where) {
  if (spec.nested) {
    return NotSupportedError(where + ": writing nested sharding is not supported");
  }
  if (spec.num_inner_chunks() <= 0) {
    return InvalidArgumentError(where + ": shard without inner chunks");
  }
  return ShardEncoder(spec, index_chain, std::move(where));
}

Status ShardEncoder::Add(std::span<const int64_t> inner, Buffer encoded) {
  const std::vector<int64_t>& cps = spec_->chunks_per_shard;
  if (inner.size() != cps.size()) {
    return InvalidArgumentError(fmt::format("{}: inner chunk {} has rank {}, the shard {}",
                                            where_, internal::GridText(inner), inner.size(),
                                            cps.size()));
  }
  int64_t i = 0;
  for (size_t d = 0; d < cps.size(); ++d) {
    if (inner[d] < 0 || inner[d] >= cps[d]) {
      return InvalidArgumentError(fmt::format("{}: inner chunk {} is outside the shard's {} chunks",
                                              where_, internal::GridText(inner),
                                              lsio::internal::FormatShape(cps)));
    }
    i = i * cps[d] + inner[d];
  }
  if (present_[static_cast<size_t>(i)]) {
    return InvalidArgumentError(fmt::format("{}: inner chunk {} added twice", where_,
                                            internal::GridText(inner)));
  }
  present_[static_cast<size_t>(i)] = true;
  chunks_[static_cast<size_t>(i)] = std::move(encoded);
  ++added_;
  return Status::OK();
}

Result<std::optional<Buffer>> ShardEncoder::Finish() {
  if (added_ == 0) return std::optional<Buffer>();
  const uint64_t index_size = spec_->index_encoded_size;
  const bool at_start = spec_->index_location == ShardIndexLocation::kStart;
  std::vector<uint64_t> words(chunks_.size() * 2, kEmptyInnerChunk);
  uint64_t offset = at_start ? index_size : 0;
  for (size_t i = 0; i < chunks_.size(); ++i) {
    if (!present_[i]) continue;
    words[2 * i] = offset;
    words[2 * i + 1] = chunks_[i].size();
    offset += chunks_[i].size();
  }
  LSIO_ASSIGN_OR_RETURN(
      Buffer index,
      index_chain_->Encode(std::as_bytes(std::span<const uint64_t>(words.data(), words.size()))));
  if (index.size() != index_size) {
    return InternalError(fmt::format("{}: shard index encoded to {} bytes, expected {}", where_,
                                     index.size(), index_size));
  }
  const uint64_t total = offset + (at_start ? 0 : index_size);
  LSIO_ASSIGN_OR_RETURN(Buffer shard, DefaultBufferPool().Acquire(total));
  std::byte* out = shard.mutable_data();
  if (at_start) {
    std::memcpy(out, index.data(), index_size);
    out += index_size;
  }
  for (size_t i = 0; i < chunks_.size(); ++i) {
    if (!present_[i] || chunks_[i].empty()) continue;
    std::memcpy(out, chunks_[i].data(), chunks_[i].size());
    out += chunks_[i].size();
  }
  if (!at_start) std::memcpy(out, index.data(), index_size);
  chunks_.assign(chunks_.size(), Buffer());
  present_.assign(present_.size(), false);
  added_ = 0;
  return std::optional<Buffer>(std::move(shard));
}

}  // namespace lsio::zarr

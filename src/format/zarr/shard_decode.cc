// The parts of shard handling that run codecs: decoding a shard index, decoding a whole shard.

#include <cstring>
#include <string>

#include "grid_text.h"
#include "lsio/base/json_util.h"
#include "lsio/format/zarr/shard_index.h"
#include "lsio/array/strided_copy.h"

namespace lsio::zarr {

using array::CopyBox;
using array::CopyBoxDim;
using array::FillBox;

using internal::GridText;
using internal::Unravel;

Result<ShardIndex> ShardIndex::Decode(std::span<const std::byte> encoded,
                                      const codec::CodecChain& index_chain,
                                      const ShardingSpec& spec,
                                      std::optional<uint64_t> shard_size,
                                      std::string_view shard_path) {
  if (encoded.size() != spec.index_encoded_size) {
    return CorruptDataError(std::string(shard_path) + ": shard index of " +
                            std::to_string(encoded.size()) + " bytes, expected " +
                            std::to_string(spec.index_encoded_size));
  }
  const int64_t n = spec.num_inner_chunks();
  std::vector<uint64_t> words(static_cast<size_t>(n) * 2);
  Status s = index_chain.Decode(
      encoded, std::as_writable_bytes(std::span<uint64_t>(words.data(), words.size())));
  if (!s.ok()) {
    return Status(s.code() == StatusCode::kNotSupported ? s.code() : StatusCode::kCorruptData,
                  std::string(shard_path) + ": shard index: " + s.message());
  }
  std::vector<ShardIndexEntry> entries(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) entries[i] = {words[2 * i], words[2 * i + 1]};
  return FromEntries(std::move(entries), spec, shard_size, shard_path);
}

Status DecodeShard(std::span<const std::byte> shard, const ShardingSpec& spec, DataType dtype,
                   std::span<const std::byte> fill, std::span<std::byte> out,
                   std::string_view shard_path) {
  const size_t elem = ByteWidth(dtype);
  if (fill.size() != elem) {
    return InvalidArgumentError("DecodeShard: fill value of " + std::to_string(fill.size()) +
                                " bytes for " + std::string(DataTypeName(dtype)));
  }
  std::optional<int64_t> shard_elems = lsio::internal::CheckedProduct(spec.shard_shape);
  if (!shard_elems || static_cast<uint64_t>(*shard_elems) * elem != out.size()) {
    return InvalidArgumentError("DecodeShard: output of " + std::to_string(out.size()) +
                                " bytes for a shard of " + lsio::internal::FormatShape(spec.shard_shape));
  }
  LSIO_ASSIGN_OR_RETURN(ByteRange index_range,
                        ShardIndexByteRange(spec, shard.size(), shard_path));
  LSIO_ASSIGN_OR_RETURN(codec::CodecChain index_chain, MakeShardIndexCodecChain(spec));
  LSIO_ASSIGN_OR_RETURN(
      ShardIndex index,
      ShardIndex::Decode(shard.subspan(index_range.offset, index_range.length), index_chain,
                         spec, shard.size(), shard_path));

  std::optional<codec::CodecChain> inner_chain;
  if (!spec.nested) {
    Result<codec::CodecChain> chain = MakeInnerCodecChain(spec, dtype);
    if (!chain.ok()) return chain.status().WithContext(shard_path);
    inner_chain.emplace(std::move(chain).value());
  }
  const int64_t inner_elems = *lsio::internal::CheckedProduct(spec.inner_chunk_shape);
  std::vector<std::byte> chunk(static_cast<size_t>(inner_elems) * elem);
  std::vector<CopyBoxDim> box(spec.shard_shape.size());
  for (int64_t i = 0; i < spec.num_inner_chunks(); ++i) {
    const std::vector<int64_t> g = Unravel(i, spec.chunks_per_shard);
    for (size_t d = 0; d < box.size(); ++d) {
      box[d] = CopyBoxDim{0, 1, g[d] * spec.inner_chunk_shape[d], spec.inner_chunk_shape[d]};
    }
    const ShardIndexEntry& e = index.entries()[static_cast<size_t>(i)];
    if (e.empty()) {
      LSIO_RETURN_IF_ERROR(FillBox(out, spec.shard_shape, box, fill));
      continue;
    }
    const std::string where = std::string(shard_path) + " inner chunk " + GridText(g);
    const std::span<const std::byte> bytes = shard.subspan(e.offset, e.nbytes);
    if (spec.nested) {
      LSIO_RETURN_IF_ERROR(DecodeShard(bytes, *spec.nested, dtype, fill, chunk, where));
    } else {
      Status s = inner_chain->Decode(bytes, chunk);
      if (!s.ok()) return s.WithContext(where);
    }
    LSIO_RETURN_IF_ERROR(CopyBox(chunk, spec.inner_chunk_shape, out, spec.shard_shape, box, elem));
  }
  return Status::OK();
}

}  // namespace lsio::zarr

// The codec chains of an array's chunks, shard inner chunks and shard indexes.

#include "lsio/format/zarr/metadata.h"

namespace lsio::zarr {

Result<codec::CodecChain> MakeChunkCodecChain(const ArrayMetadata& m,
                                              std::span<const int64_t> chunk_shape) {
  Status support = m.data_type.DecodeSupport();
  if (!support.ok()) return support.WithContext(m.metadata_file);
  codec::ArraySpec spec{m.data_type.storage, {chunk_shape.begin(), chunk_shape.end()}};
  Result<codec::CodecChain> chain = [&]() -> Result<codec::CodecChain> {
    if (m.zarr_format == ZarrFormat::kV2) {
      return codec::CodecChain::FromZarrV2(m.filters, m.compressor, m.order, m.data_type.endian,
                                           spec);
    }
    if (m.sharding) {
      const ShardingSpec* s = &*m.sharding;
      while (s->nested) s = s->nested.get();
      return codec::CodecChain::FromZarrV3(s->codecs, spec);
    }
    return codec::CodecChain::FromZarrV3(m.codecs, spec);
  }();
  if (!chain.ok()) return chain.status().WithContext(m.metadata_file);
  return chain;
}

Result<codec::CodecChain> MakeInnerCodecChain(const ShardingSpec& spec, DataType dtype) {
  if (spec.nested) {
    return InvalidArgumentError(
        "MakeInnerCodecChain: this sharding level's inner codec is sharding_indexed");
  }
  return codec::CodecChain::FromZarrV3(spec.codecs,
                                       codec::ArraySpec{dtype, spec.inner_chunk_shape});
}

Result<codec::CodecChain> MakeShardIndexCodecChain(const ShardingSpec& spec) {
  codec::ArraySpec index_spec{DataType::kUInt64, spec.chunks_per_shard};
  index_spec.shape.push_back(2);
  return codec::CodecChain::FromZarrV3(spec.index_codecs, index_spec);
}

}  // namespace lsio::zarr

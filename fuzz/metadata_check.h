#pragma once

// What the metadata targets do with every array and group the parsers accept: everything
// `lsio info` and the data path derive from metadata alone (codec chains, shard index chains,
// CF rules, chunk keys, descriptions), with the metadata contract checked as invariants.

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "lsio/array/cf.h"
#include "lsio/format/zarr/hierarchy.h"
#include "lsio/format/zarr/info.h"
#include "lsio/format/zarr/metadata.h"
#include "lsio/format/zarr/shard_index.h"
#include "lsio/format/zarr/source.h"
#include "lsio/kvstore/key.h"

namespace lsio::fuzz {

inline void CheckArray(const zarr::ArrayMetadata& m) {
  // The parser's contract: ranks agree, chunk extents are positive, and a decodable chunk is
  // within kMaxChunkBytes.
  LSIO_FUZZ_CHECK(m.chunk_shape.size() == m.shape.size());
  for (int64_t c : m.chunk_shape) LSIO_FUZZ_CHECK(c > 0);
  for (int64_t s : m.shape) LSIO_FUZZ_CHECK(s >= 0);
  if (!m.dimension_names.empty()) LSIO_FUZZ_CHECK(m.dimension_names.size() == m.rank());
  const std::vector<int64_t> grid = m.grid_shape();
  LSIO_FUZZ_CHECK(grid.size() == m.rank());
  (void)m.num_chunks();
  (void)m.logical_bytes();
  const std::vector<int64_t>& read_chunk = m.read_chunk_shape();
  LSIO_FUZZ_CHECK(read_chunk.size() == m.rank());
  if (m.data_type.item_size > 0) {
    __int128 bytes = m.data_type.item_size;
    for (int64_t c : read_chunk) bytes *= c;
    LSIO_FUZZ_CHECK(bytes <= zarr::kMaxChunkBytes);
  }
  if (m.data_type.is_fixed_size_number()) {
    LSIO_FUZZ_CHECK(m.fill_value.bytes.size() == m.data_type.item_size);
  }

  // The first and last chunk keys are valid store keys.
  std::vector<int64_t> first(m.rank(), 0);
  LSIO_FUZZ_CHECK(kvstore::ValidateKey(m.ChunkKey(first)).ok());
  std::vector<int64_t> last(m.rank(), 0);
  bool any_chunk = true;
  for (size_t i = 0; i < m.rank(); ++i) {
    any_chunk = any_chunk && grid[i] > 0;
    last[i] = grid[i] > 0 ? grid[i] - 1 : 0;
  }
  if (any_chunk) LSIO_FUZZ_CHECK(kvstore::ValidateKey(m.ChunkKey(last)).ok());

  (void)zarr::DescribeCodecsJson(m);
  (void)zarr::DescribeFillValue(m.fill_value, m.data_type);
  (void)m.data_type.StatisticsSupport();
  (void)array::ResolveCfMaskAndScale(zarr::MakeArrayInfo(zarr::Node{"", zarr::NodeKind::kArray, m.zarr_format, m.attributes, m}));

  Result<codec::CodecChain> chain = zarr::MakeChunkCodecChain(m);
  if (chain.ok()) (void)chain->Describe();
  for (const zarr::ShardingSpec* s = m.sharding ? &*m.sharding : nullptr; s != nullptr;
       s = s->nested.get()) {
    LSIO_FUZZ_CHECK(s->inner_chunk_shape.size() == s->shard_shape.size());
    LSIO_FUZZ_CHECK(s->chunks_per_shard.size() == s->shard_shape.size());
    for (size_t i = 0; i < s->shard_shape.size(); ++i) {
      LSIO_FUZZ_CHECK(s->inner_chunk_shape[i] > 0);
      LSIO_FUZZ_CHECK(s->chunks_per_shard[i] * s->inner_chunk_shape[i] == s->shard_shape[i]);
    }
    (void)zarr::MakeShardIndexCodecChain(*s);
    if (!s->nested) (void)zarr::MakeInnerCodecChain(*s, m.data_type.storage);
    (void)zarr::ShardIndexByteRange(*s, uint64_t{1} << 20, "shard");
  }
}

// Decodes a deterministic pattern as the values of a 1-D coordinate, bounded in size (a fuzzed
// shape may be huge), through the CF rules `lsio info` and label selections use.
inline void CheckSyntheticCoordinate(const zarr::Node& node) {
  const zarr::ArrayMetadata& m = *node.array;
  if (m.rank() != 1 || m.shape[0] > 4096 || m.data_type.item_size == 0) return;
  std::vector<std::byte> values(static_cast<size_t>(m.shape[0]) * m.data_type.item_size);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<std::byte>(i * 37 + 11);
  (void)array::DecodeCoordinate(zarr::MakeArrayInfo(node), values);
}

// Opens the hierarchy in `store` both ways (consolidated and walked), checks every node, and
// renders the `lsio info` report.
inline void CheckStore(const MemoryStore& memory) {
  kvstore::Store& store = memory.store();
  for (bool consolidated : {true, false}) {
    zarr::OpenOptions open;
    open.use_consolidated = consolidated;
    Result<zarr::Hierarchy> h = zarr::OpenHierarchy(store, open);
    if (!h.ok()) continue;
    LSIO_FUZZ_CHECK(!h->nodes.empty());
    LSIO_FUZZ_CHECK(h->root().path.empty());
    for (const zarr::Node& node : h->nodes) {
      LSIO_FUZZ_CHECK(kvstore::ValidateKey(node.path).ok());
      LSIO_FUZZ_CHECK(node.is_array() == node.array.has_value());
      LSIO_FUZZ_CHECK(h->Find(node.path) == &node);
      if (node.array) {
        CheckArray(*node.array);
        std::vector<int64_t> zero(node.array->rank(), 0);
        Result<std::string> key = h->ChunkKey(node, zero);
        if (key.ok()) LSIO_FUZZ_CHECK(kvstore::ValidateKey(*key).ok());
        CheckSyntheticCoordinate(node);
      }
      (void)h->Children(node.path);
    }
  }
  Result<std::shared_ptr<const zarr::ZarrDatasetSource>> source =
      zarr::OpenDataset(memory.shared());
  if (!source.ok()) return;
  zarr::InfoOptions options;  // no context: coordinates are decoded above, not read
  Result<nlohmann::json> info = zarr::InfoJson(**source, options);
  if (info.ok()) {
    std::ostringstream text;
    zarr::WriteInfoText(*info, text);
  }
}

}  // namespace lsio::fuzz

// Shard index: locate, decode and validate the index of a fuzzed shard for one of the
// configurations in shard_table.h, then decode the whole shard (inner chunks, nested levels).
// A validated index must describe chunks inside the shard.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "fuzz_util.h"
#include "lsio/codec/registry.h"
#include "lsio/format/zarr/metadata.h"
#include "lsio/format/zarr/shard_index.h"
#include "shard_table.h"

namespace {

using lsio::zarr::ArrayMetadata;

const std::vector<ArrayMetadata>& Arrays() {
  static const std::vector<ArrayMetadata> arrays = [] {
    std::vector<ArrayMetadata> out;
    for (std::string_view doc : lsio::fuzz::kShardArrays) {
      lsio::Result<ArrayMetadata> m =
          lsio::zarr::ParseZarrV3Array(nlohmann::json::parse(doc), "fuzz/zarr.json");
      LSIO_FUZZ_CHECK(m.ok() && m->sharding.has_value());
      out.push_back(*m);
    }
    return out;
  }();
  return arrays;
}

bool HasCrc32c(const nlohmann::json& index_codecs) {
  for (const nlohmann::json& c : index_codecs) {
    if (c.is_object() && c.value("name", "") == "crc32c") return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const ArrayMetadata& m = Arrays()[(data[0] & 0x7f) % lsio::fuzz::kNumShardArrays];
  const lsio::zarr::ShardingSpec& spec = *m.sharding;
  std::vector<std::byte> shard(size - 1);
  if (!shard.empty()) std::memcpy(shard.data(), data + 1, shard.size());

  lsio::Result<lsio::zarr::ByteRange> where =
      lsio::zarr::ShardIndexByteRange(spec, shard.size(), "fuzz-shard");
  if (!where.ok()) {
    LSIO_FUZZ_CHECK(shard.size() < spec.index_encoded_size);
    return 0;
  }
  LSIO_FUZZ_CHECK(where->length == spec.index_encoded_size && where->end() <= shard.size());

  // Recompute the crc32c the fuzzer cannot, so the entries themselves get validated.
  if ((data[0] & 0x80) && HasCrc32c(spec.index_codecs)) {
    static const auto crc = lsio::codec::CodecRegistry::Builtin().MakeBytesToBytes("crc32c", {});
    const size_t payload = where->length - 4;
    lsio::Result<lsio::Buffer> sealed =
        (*crc)->Encode(std::span<const std::byte>(shard.data() + where->offset, payload));
    LSIO_FUZZ_CHECK(sealed.ok() && sealed->size() == where->length);
    std::memcpy(shard.data() + where->offset, sealed->data(), sealed->size());
  }

  lsio::Result<lsio::codec::CodecChain> index_chain = lsio::zarr::MakeShardIndexCodecChain(spec);
  LSIO_FUZZ_CHECK(index_chain.ok());
  lsio::Result<lsio::zarr::ShardIndex> index = lsio::zarr::ShardIndex::Decode(
      std::span<const std::byte>(shard.data() + where->offset, where->length), *index_chain, spec,
      shard.size(), "fuzz-shard");
  if (index.ok()) {
    LSIO_FUZZ_CHECK(static_cast<int64_t>(index->entries().size()) == spec.num_inner_chunks());
    for (const lsio::zarr::ShardIndexEntry& e : index->entries()) {
      if (e.empty()) continue;
      LSIO_FUZZ_CHECK(e.offset <= shard.size() && e.nbytes <= shard.size() - e.offset);
    }
  }

  const size_t item = m.data_type.item_size;
  std::vector<std::byte> out(static_cast<size_t>(m.chunk_shape[0] * m.chunk_shape[1]) * item);
  (void)lsio::zarr::DecodeShard(shard, spec, m.data_type.storage, m.fill_value.bytes, out,
                                "fuzz-shard");
  return 0;
}

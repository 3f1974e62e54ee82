#pragma once

// Zarr array and group metadata: separate v2 (.zarray / .zattrs / .zgroup) and v3 (zarr.json)
// parsers that resolve into one ArrayMetadata, like zarrs' metadata crate and TensorStore's
// zarr3 metadata.
//
// Only the regular chunk grid is supported ("chunk grid X is not supported" otherwise). For a
// sharded array (codecs = [sharding_indexed]) `chunk_shape` is the shard shape, i.e. what one
// store key holds, and `sharding` describes the inner chunks; nested sharding is an inner
// ShardingSpec.
//
// Errors from the parsers name the file they came from:
//   kInvalidArgument  malformed JSON, missing or mistyped fields, zero or negative chunk sizes,
//                     ranks that disagree, declared sizes whose byte count overflows int64
//   kNotSupported     unknown extensions / must_understand fields, chunk grids other than
//                     regular, storage transformers, unknown data types
//
// Thread safety: plain values.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/base/result.h"
#include "lsio/codec/codec.h"
#include "lsio/format/zarr/chunk_key.h"
#include "lsio/format/zarr/data_type.h"

namespace lsio::zarr {

// Decoded chunks larger than this are refused at metadata time (kNotSupported): a reader has to
// hold one decoded chunk in memory, and no real store has chunks anywhere near this size.
inline constexpr int64_t kMaxChunkBytes = int64_t{16} << 30;

enum class ShardIndexLocation : unsigned char { kStart, kEnd };

// One level of the sharding_indexed codec.
struct ShardingSpec {
  // Shape of the shard this level splits (the array's chunk shape at the top level, the outer
  // level's inner chunk shape when nested).
  std::vector<int64_t> shard_shape;
  std::vector<int64_t> inner_chunk_shape;
  // shard_shape / inner_chunk_shape, per dimension.
  std::vector<int64_t> chunks_per_shard;
  nlohmann::json codecs;        // the inner codec list, as written
  nlohmann::json index_codecs;  // as written (defaults filled in: bytes little + crc32c)
  ShardIndexLocation index_location = ShardIndexLocation::kEnd;
  // Bytes of the encoded index: 16 per inner chunk plus 4 per crc32c codec.
  uint64_t index_encoded_size = 0;
  // Set when `codecs` itself is [sharding_indexed, ...]: the next level.
  std::shared_ptr<const ShardingSpec> nested;

  int64_t num_inner_chunks() const;
  // The innermost chunk shape (follows `nested`).
  const std::vector<int64_t>& innermost_chunk_shape() const;
};

struct ArrayMetadata {
  ZarrFormat zarr_format = ZarrFormat::kV3;
  // The file this description came from, for messages (".../x/.zarray", ".../x/zarr.json",
  // or ".../.zmetadata" / ".../zarr.json#consolidated_metadata/x" when consolidated).
  std::string metadata_file;

  std::vector<int64_t> shape;
  // The regular grid's chunk shape: what one store key holds (the shard shape when sharded).
  std::vector<int64_t> chunk_shape;
  ZarrDataType data_type;
  FillValue fill_value;
  // Zarr v2 only: memory order of a chunk's elements ('C' or 'F'); 'C' for v3 (the transpose
  // codec expresses the same thing there).
  char order = 'C';
  ChunkKeyEncoding chunk_key_encoding;

  // Zarr v3: the "codecs" list as written. Zarr v2: filters (null or list) and compressor
  // (null or object) as written.
  nlohmann::json codecs;
  nlohmann::json filters;
  nlohmann::json compressor;
  std::optional<ShardingSpec> sharding;

  // One per dimension; "" for an unnamed dimension (v3 null, or no `_ARRAY_DIMENSIONS` in
  // v2). Empty when the array declares no names at all.
  std::vector<std::string> dimension_names;
  nlohmann::json attributes = nlohmann::json::object();

  size_t rank() const { return shape.size(); }
  // Chunks along each dimension: ceil(shape / chunk_shape).
  std::vector<int64_t> grid_shape() const;
  int64_t num_chunks() const;  // product of grid_shape()
  // shape product times the element size (0 for variable-length types).
  int64_t logical_bytes() const;
  // The chunk shape a codec chain decodes: the innermost chunk for sharded arrays.
  const std::vector<int64_t>& read_chunk_shape() const;
  // The store key of a chunk (a shard when sharded), relative to the array's directory.
  std::string ChunkKey(std::span<const int64_t> grid) const {
    return EncodeChunkKey(chunk_key_encoding, grid);
  }
};

struct GroupMetadata {
  ZarrFormat zarr_format = ZarrFormat::kV3;
  std::string metadata_file;
  nlohmann::json attributes = nlohmann::json::object();
  // Zarr v3 consolidated metadata ("consolidated_metadata.metadata": path -> zarr.json
  // object), or null when the group carries none.
  nlohmann::json consolidated = nullptr;
};

// Parses a metadata document; the bare tokens NaN, Infinity and -Infinity that Python's json
// writes (zarr-python and xarray do, for non-finite attributes) are read as doubles. Malformed
// JSON (or JSON nested absurdly deep) is kInvalidArgument
// "<file>: malformed JSON at byte N: <reason>". Never throws.
Result<nlohmann::json> ParseMetadataJson(std::string_view text, std::string_view file);

// A metadata document (or any JSON value, such as attributes) as text that ParseMetadataJson
// and Python's json read back unchanged: NaN and infinities as the bare tokens NaN, Infinity,
// -Infinity (nlohmann's dump() would write null), invalid UTF-8 replaced. One line when
// `indent` < 0.
std::string DumpMetadataJson(const nlohmann::json& j, int indent = -1);

// Zarr v2. `zarray` is the parsed .zarray, `zattrs` the parsed .zattrs (null or absent: no
// attributes). `file` names the .zarray for messages; `attrs_file` the .zattrs.
Result<ArrayMetadata> ParseZarrV2Array(const nlohmann::json& zarray, const nlohmann::json& zattrs,
                                       std::string_view file, std::string_view attrs_file = {});
Result<GroupMetadata> ParseZarrV2Group(const nlohmann::json& zgroup, const nlohmann::json& zattrs,
                                       std::string_view file);

// Zarr v3 zarr.json with node_type "array" / "group".
Result<ArrayMetadata> ParseZarrV3Array(const nlohmann::json& zarr_json, std::string_view file);
Result<GroupMetadata> ParseZarrV3Group(const nlohmann::json& zarr_json, std::string_view file);

// The codec chain that decodes one stored chunk of a non-sharded array (Zarr v2 filters +
// compressor + order + byte order, or the v3 codec list) for `chunk_shape` (normally
// metadata.chunk_shape; Zarr stores edge chunks at full size). For a sharded array: the chain
// of the innermost chunks. Errors: DecodeSupport() of the data type, and whatever
// CodecChain::FromZarrV2 / FromZarrV3 report (kNotSupported "codec X is not supported"), with
// the metadata file as context.
Result<codec::CodecChain> MakeChunkCodecChain(const ArrayMetadata& metadata,
                                              std::span<const int64_t> chunk_shape);
inline Result<codec::CodecChain> MakeChunkCodecChain(const ArrayMetadata& metadata) {
  return MakeChunkCodecChain(metadata, metadata.read_chunk_shape());
}

// The chain of one sharding level's inner chunks (`spec.codecs`, which must not start with
// sharding_indexed: use spec.nested) for element type `dtype`.
Result<codec::CodecChain> MakeInnerCodecChain(const ShardingSpec& spec, DataType dtype);
// The chain of a shard index: uint64 elements of shape chunks_per_shard + [2].
Result<codec::CodecChain> MakeShardIndexCodecChain(const ShardingSpec& spec);

// For display: "sharding_indexed(chunk_shape=[4, 4], index=end) -> [bytes -> gzip]"-like
// summary of the codec configuration, without building a chain (works for unsupported codecs).
std::string DescribeCodecsJson(const ArrayMetadata& metadata);

}  // namespace lsio::zarr

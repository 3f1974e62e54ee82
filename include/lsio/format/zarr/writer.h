#pragma once

// ArrayWriter: one Zarr array prepared for writing. It turns decoded elements into what the
// store holds: the metadata documents, and for each write unit (a chunk, or a whole shard when
// sharded) its key and encoded bytes. It does no IO (HierarchyWriter, hierarchy_writer.h,
// writes into a store); operations that stream (rechunk, map_blocks) encode one unit at a
// time with it, on any number of threads, and write the results themselves.
//
// The spec is turned into documents (metadata_write.h) which are then parsed back with lsio's
// own parser, so that the array is described once, exactly as every reader of lsio sees it,
// and the codec chains are the reader's (encode side).
//
// Units whose every element equals the fill value are not stored (as zarr-python's
// write_empty_chunks=False): Encode* return nullopt, and a reader returns the fill value for
// the missing key. For a NaN fill value any NaN matches; otherwise elements compare bitwise
// (so -0.0 is stored when the fill value is 0.0). In a shard, inner chunks equal to the fill
// value are left out (empty index entries), and a shard with none left is not stored.
//
// Edge units: the caller passes only the part of a unit inside the array (UnitExtent); Zarr
// stores edge chunks at full size, and the writer pads them with the fill value.
//
// Thread safety: immutable after Make; every const method may run on many threads at once.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lsio/base/buffer.h"
#include "lsio/base/result.h"
#include "lsio/codec/chain.h"
#include "lsio/format/zarr/metadata.h"
#include "lsio/format/zarr/metadata_write.h"
#include "lsio/format/zarr/shard_encode.h"
#include "lsio/format/zarr/write_spec.h"

namespace lsio::zarr {

class ArrayWriter {
 public:
  // Validates `spec` (ArrayMetadataDocuments' errors), builds the documents and the codec
  // chains. `where` names the array in messages (a store location such as
  // "/out/x.zarr/t2m"). Errors: those of ArrayMetadataDocuments, and kNotSupported for codecs
  // this build cannot encode.
  static Result<ArrayWriter> Make(const ArrayWriteSpec& spec, std::string where = {});

  ArrayWriter(ArrayWriter&&) noexcept;
  ArrayWriter& operator=(ArrayWriter&&) noexcept;
  ~ArrayWriter();

  const ArrayWriteSpec& spec() const;
  // The array as lsio's reader parses the documents.
  const ArrayMetadata& metadata() const;
  // Keys relative to the array's node: v3 [zarr.json]; v2 [.zarray, .zattrs].
  const std::vector<MetadataDocument>& documents() const;
  const std::string& where() const;

  // --- write units: what one store key holds (a chunk; a whole shard when sharded) ---
  // The chunk shape, or the shard shape when sharded.
  const std::vector<int64_t>& unit_shape() const;
  // Units along each dimension (ceil(shape / unit_shape)) and in total.
  std::vector<int64_t> unit_grid_shape() const;
  int64_t num_units() const;
  // The key of the unit at `unit` (grid coordinates), relative to the array: "c/0/1", "0.1".
  std::string UnitKey(std::span<const int64_t> unit) const;
  // The first element of the unit, and the extent of its part inside the array (smaller than
  // unit_shape() at the array's far edges). Precondition: `unit` inside unit_grid_shape().
  std::vector<int64_t> UnitOrigin(std::span<const int64_t> unit) const;
  std::vector<int64_t> UnitExtent(std::span<const int64_t> unit) const;

  // Encodes the unit at `unit` from `decoded`: UnitExtent(unit) elements of
  // spec().data_type (item_size bytes each) in C order, native byte order. nullopt when all of
  // them equal the fill value. Errors: kInvalidArgument for a unit outside the grid or `decoded` of the
  // wrong size; codec failures, naming the unit's key.
  Result<std::optional<Buffer>> EncodeUnit(std::span<const int64_t> unit,
                                           std::span<const std::byte> decoded) const;

  // --- sharded arrays, one inner chunk at a time (bounded memory) ---
  // The chunk grid of the inner chunks over the whole array: ceil(shape / chunk_shape).
  std::vector<int64_t> chunk_grid_shape() const;
  // Encodes the (inner) chunk at `chunk` (coordinates in chunk_grid_shape()) from the part of
  // it inside the array, C order; nullopt when all elements equal the fill value. For an
  // array without sharding this is EncodeUnit.
  Result<std::optional<Buffer>> EncodeChunk(std::span<const int64_t> chunk,
                                            std::span<const std::byte> decoded) const;
  // An encoder for the shard at `shard`; add the chunks EncodeChunk returns (at their
  // coordinates inside the shard: chunk - shard * chunks_per_shard) and Finish it.
  // kInvalidArgument for an array without sharding. The encoder refers to this writer, which
  // must outlive it.
  Result<ShardEncoder> StartShard(std::span<const int64_t> shard) const;

 private:
  struct Impl;
  explicit ArrayWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// True when every element of `data` equals `fill` (one element of fill.size() bytes): bitwise,
// except that for a float or complex `type` a NaN fill value (a NaN component, for complex)
// matches any NaN. Elements wider than `type` (strings) compare bitwise.
bool AllEqualFill(std::span<const std::byte> data, std::span<const std::byte> fill, DataType type);

}  // namespace lsio::zarr

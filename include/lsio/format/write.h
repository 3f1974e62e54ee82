#pragma once

// Writing a dataset of whole arrays, whatever the format: the write-side counterpart of
// OpenDataset (open.h), so that operations hand over arrays with dimension names and
// attributes and never name a format's types. Today: Zarr v2 or v3 (format/zarr's
// HierarchyWriter), published atomically at the root of a store.
//
// The conventions xarray reads: every array carries its dimension names; a coordinate is the
// array named like its one dimension. Floating-point arrays take NaN as their fill value (a
// missing value is NaN, and chunks of NaN are not stored); other arrays have none (Zarr v2
// null, which xarray does not turn into a _FillValue mask; Zarr v3 zero, which xarray does not
// mask with). Arrays are chunked along their first dimension only, in chunks of at most
// ~64 MiB, so each chunk is a contiguous run of the values (no copy before encoding).
//
// Thread safety: a plain function; the store must not be written at the same root meanwhile.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/array/element_type.h"
#include "lsio/base/buffer.h"
#include "lsio/base/result.h"
#include "lsio/kvstore/store.h"

namespace lsio::format {

struct OutputArray {
  // Its name in the dataset ("t2m_mean"; '/' makes nested groups).
  std::string name;
  // A fixed-size number (bool, integers, floats, complex, datetime64, timedelta64) or a
  // fixed-length UTF-32 string (numpy "<U3").
  array::ElementType type;
  std::vector<std::string> dims;
  std::vector<int64_t> shape;
  // C order over `shape`, native byte order, type.item_size bytes per element.
  std::span<const std::byte> values;
  nlohmann::json attributes = nlohmann::json::object();
};

struct DatasetWriteOptions {
  // Zarr format: 2 or 3.
  int zarr_format = 3;
  // Chunk compression, as zarr::ParseCodecList reads it: "none", "zstd[:LEVEL]",
  // "gzip[:LEVEL]", "lz4[:ACCEL]", "blosc[:CNAME[:CLEVEL[:SHUFFLE]]]", "crc32c", or a
  // comma-separated list.
  std::string codecs = "zstd:3";
  // Consolidated metadata at the root (v2 .zmetadata; v3 inline in zarr.json).
  bool consolidated = true;
  // Replace what is at the store's root; otherwise an existing root is an error.
  bool replace = false;
};

// Element types for OutputArray::type: a numeric type, or a numpy typestring ("<f8", "|b1",
// "<M8[ns]", "<m8[10s]", "<U3"; kInvalidArgument / kNotSupported for others).
array::ElementType NumericElementType(DataType type);
Result<array::ElementType> ParseNumpyTypeString(std::string_view typestring);

// Checks `options` (format, codec list) without writing anything: kInvalidArgument naming the
// bad value.
Status CheckDatasetWriteOptions(const DatasetWriteOptions& options);

// Writes `arrays` and the root group's `attributes` at the root of `store`, visible all at
// once when complete (nothing at the root otherwise, even if the process is killed).
// Errors: CheckDatasetWriteOptions'; kInvalidArgument "... already exists" when something is
// at the root and not options.replace; an array the format cannot hold, naming it; IO errors
// naming the location.
Status WriteDataset(kvstore::Store& store, const nlohmann::json& attributes,
                    std::span<const OutputArray> arrays, const DatasetWriteOptions& options);


// A dataset written piece by piece, in bounded memory (what map_blocks and other streaming
// operations use): arrays are declared first with their chunking, then filled chunk by chunk
// from any number of threads, and the whole dataset appears at the store's root at Commit (as
// WriteDataset's). Chunks equal to the fill value are not stored; chunks never written read as
// the fill value. Floating-point arrays take NaN as their fill value, others none (as
// WriteDataset).
//
// Thread safety: WriteChunk may run on many threads at once (each encodes on its own thread);
// AddArray, WriteArray and Commit not concurrently with anything else.
struct OutputArraySpec {
  std::string name;
  array::ElementType type;
  std::vector<std::string> dims;
  std::vector<int64_t> shape;
  // Every extent >= 1; empty: chunked as WriteDataset chunks.
  std::vector<int64_t> chunk_shape;
  nlohmann::json attributes = nlohmann::json::object();
};

class DatasetWriter {
 public:
  // Begins writing at the root of `store` (which must outlive the writer). Errors:
  // CheckDatasetWriteOptions'; kInvalidArgument "... already exists" when something is at the
  // root and not options.replace.
  static Result<std::unique_ptr<DatasetWriter>> Begin(kvstore::Store& store,
                                                      const nlohmann::json& attributes,
                                                      const DatasetWriteOptions& options);
  // Without Commit, nothing appears at the root and what was written is removed.
  virtual ~DatasetWriter() = default;

  // Declares an array; returns its number for WriteChunk. Errors: an array the format cannot
  // hold, naming it.
  virtual Result<int> AddArray(const OutputArraySpec& spec) = 0;
  // The whole array (C order over its shape, native byte order).
  virtual Status WriteArray(int array, std::span<const std::byte> values) = 0;
  // The chunk at `chunk` (grid coordinates) from its part inside the array: C order, the
  // chunk's extent clipped to the array's shape. Errors: a chunk outside the grid or values of
  // the wrong size (kInvalidArgument), encoding and IO errors naming the chunk's location.
  virtual Status WriteChunk(int array, std::span<const int64_t> chunk,
                            std::span<const std::byte> values) = 0;
  // Writes the metadata and publishes the dataset.
  virtual Status Commit() = 0;
};

// --- Writing unit by unit (rechunk, map_blocks) ---
//
// For operations that produce an array piece by piece and write the store keys themselves
// (each key atomically, so that a killed run can resume): the layout of one array, an encoder
// of its write units (a chunk, or a whole shard when sharded), and the metadata documents of
// the whole dataset, written last.

// One array's layout: what OutputArray says plus its chunking and fill value.
struct ArrayLayout {
  std::string name;
  array::ElementType type;
  std::vector<std::string> dims;
  std::vector<int64_t> shape;
  nlohmann::json attributes = nlohmann::json::object();
  // The encoded chunk (the inner chunk when sharded). Every extent >= 1.
  std::vector<int64_t> chunk_shape;
  // Empty: not sharded. Otherwise a multiple of chunk_shape (Zarr v3 only).
  std::vector<int64_t> shard_shape;
  // One element, native byte order (empty: the type's zero).
  std::vector<std::byte> fill_value;
  // No fill value declared (Zarr v2 null; Zarr v3 writes the type's zero).
  bool fill_value_none = false;
  // Byte order of the stored elements.
  Endian endian = Endian::kLittle;
};

// Encodes the write units of one array. Keys are relative to the dataset's root.
// Thread safety: immutable after Make; const methods may run on many threads at once.
class UnitEncoder {
 public:
  // Errors: CheckDatasetWriteOptions'; a layout the format cannot hold (kInvalidArgument or
  // kNotSupported naming `where` and the field).
  static Result<std::unique_ptr<UnitEncoder>> Make(const ArrayLayout& layout,
                                                   const DatasetWriteOptions& options,
                                                   std::string where);
  virtual ~UnitEncoder() = default;

  virtual const ArrayLayout& layout() const = 0;
  // The chunk shape, or the shard shape when sharded.
  virtual const std::vector<int64_t>& unit_shape() const = 0;
  // ceil(shape / unit_shape) per dimension.
  virtual std::vector<int64_t> unit_grid_shape() const = 0;
  // The key of the unit at `unit` (grid coordinates), relative to the dataset root
  // ("t2m/c/0/1", "t2m/0.1").
  virtual std::string UnitKey(std::span<const int64_t> unit) const = 0;
  // The part of the unit inside the array: its first element and extent.
  virtual std::vector<int64_t> UnitOrigin(std::span<const int64_t> unit) const = 0;
  virtual std::vector<int64_t> UnitExtent(std::span<const int64_t> unit) const = 0;
  // The stored bytes of the unit from UnitExtent(unit) elements in C order, native byte
  // order; nullopt when every element equals the fill value (nothing is stored). Errors: a
  // unit outside the grid, `decoded` of the wrong size, codec failures naming the key.
  virtual Result<std::optional<Buffer>> EncodeUnit(std::span<const int64_t> unit,
                                                   std::span<const std::byte> decoded) const = 0;
  // The array's metadata documents: keys relative to the dataset root, serialised.
  virtual std::vector<kvstore::KeyValue> MetadataValues() const = 0;
};

// The metadata of a whole dataset: every group of `groups` (path -> attributes; "" the root,
// which is always written) and every array's documents, with consolidated metadata at the
// root when options.consolidated. Keys are relative to the root; the root's own documents come
// last, so that writing them in order makes the dataset visible only once all else is there.
Result<std::vector<kvstore::KeyValue>> DatasetMetadataValues(
    const std::map<std::string, nlohmann::json>& groups,
    std::span<const UnitEncoder* const> arrays, const DatasetWriteOptions& options);

}  // namespace lsio::format

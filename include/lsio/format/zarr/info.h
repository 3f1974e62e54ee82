#pragma once

// `lsio info`: the tree of groups and arrays of a Zarr store, and for each array its
// dimensions (with sizes, and coordinate ranges when a reader for coordinate values is given),
// dtype, shape, chunk and shard shape, codecs, logical bytes, stored bytes (sum of the chunk
// files' sizes from a directory walk) and compression ratio, fill value, CF packing, and
// attributes. As text, or as one JSON document.
//
// The CLI parses flags and calls WriteInfo; nothing here reads chunk data itself.
//
// Thread safety: WriteInfo may run concurrently on different stores.

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/base/result.h"
#include "lsio/format/zarr/hierarchy.h"
#include "lsio/format/zarr/store.h"

namespace lsio::zarr {

// Reads every stored value of a 1-D coordinate array (native byte order, the array's storage
// dtype; the fill value where chunks are missing), as DecodeCoordinate takes them.
using CoordinateReader =
    std::function<Result<std::vector<std::byte>>(const Hierarchy& hierarchy, const Node& array)>;

struct InfoOptions {
  std::string path;  // the store: a directory holding a group or an array
  bool json = false;
  bool use_consolidated = true;
  // Walk each array's directory for the size of its chunk files (off: no stored bytes).
  bool stored_bytes = true;
  // When set, dimensions whose coordinate array (an array named like the dimension, 1-D, in
  // the same group or an ancestor) can be read show their first and last values.
  CoordinateReader read_coordinate;
};

// The whole report as one JSON document: {"path", "zarr_format", "consolidated", "nodes": [
// {"path", "kind", "zarr_format", "attributes", and for arrays "dtype", "shape", "chunks",
// "shards", "dims": [{"name", "size", "coordinate"?}], "codecs", "codecs_json", "readable",
// "fill_value", "order", "logical_bytes", "stored_bytes", "stored_files", "num_chunks",
// "compression_ratio", "statistics", "cf"}]}.
// Errors: those of opening the hierarchy (the store path named). Per-array problems (an
// unsupported codec, a coordinate that cannot be read) are reported inside the document.
Result<nlohmann::json> InfoJson(const MetadataStore& store, const InfoOptions& options);

// Renders an InfoJson document as the text report.
void WriteInfoText(const nlohmann::json& info, std::ostream& out);

// Opens options.path and writes the text report, or the JSON document when options.json.
Status WriteInfo(const InfoOptions& options, std::ostream& out);

// "1.5 GiB", "12.0 KiB", "512 B".
std::string FormatBytes(uint64_t bytes);

}  // namespace lsio::zarr

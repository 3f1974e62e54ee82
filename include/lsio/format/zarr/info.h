#pragma once

// `lsio info`: the tree of groups and arrays of a Zarr store, and for each array its
// dimensions (with sizes, and coordinate ranges when a runtime context to read them is given),
// dtype, shape, chunk and shard shape, codecs, logical bytes, stored bytes (sum of the chunk
// files' sizes from a directory walk) and compression ratio, fill value, CF packing, and
// attributes. As text, or as one JSON document.
//
// The CLI parses flags and calls WriteInfo. Coordinates are found and read through the
// format-neutral Dataset (each coordinate once, whatever number of arrays share it).
//
// Thread safety: WriteInfo may run concurrently on different stores.

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/array/dataset.h"
#include "lsio/base/result.h"
#include "lsio/format/zarr/source.h"
#include "lsio/runtime/context.h"

namespace lsio::zarr {

struct InfoOptions {
  bool json = false;
  // Walk each array's directory for the size of its chunk files (off: no stored bytes).
  bool stored_bytes = true;
  // When set, dimensions whose coordinate variable (array::Dataset::CoordinateOf, of the
  // dimension's size) can be read show their first and last values.
  runtime::Context* context = nullptr;
};

// The whole report as one JSON document: {"path", "zarr_format", "consolidated", "nodes": [
// {"path", "kind", "zarr_format", "attributes", and for arrays "dtype", "shape", "chunks",
// "shards", "dims": [{"name", "size", "coordinate"?}], "codecs", "codecs_json", "readable",
// "fill_value", "order", "logical_bytes", "stored_bytes", "stored_files", "num_chunks",
// "compression_ratio", "statistics", "cf"}]}.
// Errors: those of opening the hierarchy (the store path named). Per-array problems (an
// unsupported codec, a coordinate that cannot be read) are reported inside the document.
Result<nlohmann::json> InfoJson(const ZarrDatasetSource& source, const InfoOptions& options);

// Renders an InfoJson document as the text report.
void WriteInfoText(const nlohmann::json& info, std::ostream& out);

// Writes the text report, or the JSON document when options.json.
Status WriteInfo(const ZarrDatasetSource& source, const InfoOptions& options, std::ostream& out);

// "1.5 GiB", "12.0 KiB", "512 B".
std::string FormatBytes(uint64_t bytes);

}  // namespace lsio::zarr

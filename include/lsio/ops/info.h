#pragma once

// `lsio info` for any dataset (format::OpenDataset): what the format says it opened
// (DatasetSource::summary), then per group its attributes, dimensions, coordinates (dims,
// dtype, and their values: all of them when few, else the first and last) and data variables
// (dims, shape, dtype, chunk shape, encoding, attributes). As text or one JSON document.
// Names no format type: Zarr keeps its richer report (format/zarr/info.h); this one serves the
// others (GRIB).
//
// Thread safety: reentrant.

#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "lsio/array/dataset.h"
#include "lsio/base/result.h"
#include "lsio/runtime/context.h"

namespace lsio::ops {

struct InfoOptions {
  bool json = false;
  // Coordinate values are read on this context (null: runtime::Context::Default()).
  runtime::Context* context = nullptr;
  // Coordinates with at most this many values list them all; longer ones their first and last.
  size_t max_listed_values = 12;
};

// {"location", "format", "summary", "groups": [{"path", "attributes", "dimensions": [{"name",
// "size"}], "coordinates": [{"name", "path", "dims", "shape", "dtype", "values" | "first",
// "last"}], "variables": [{"name", "path", "dims", "shape", "dtype", "chunks", "encoding",
// "attributes"}]}]}; times as ISO strings, durations as pandas prints them.
// Errors: reading the coordinates.
Result<nlohmann::json> DatasetInfoJson(const array::Dataset& dataset, const InfoOptions& options);

// The text report of a DatasetInfoJson document.
void WriteDatasetInfoText(const nlohmann::json& info, std::ostream& out);

// Writes the text report, or the JSON document when options.json.
Status WriteDatasetInfo(const array::Dataset& dataset, const InfoOptions& options,
                        std::ostream& out);

}  // namespace lsio::ops

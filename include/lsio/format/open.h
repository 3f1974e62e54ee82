#pragma once

// Opening a dataset by location, whatever its format: the one place that knows which formats
// exist. Operations call this and then see only array::Dataset / array::ArraySource.
//
// Formats, recognised from the store's content:
//   Zarr   v2, v3, sharded; a group or a single array (zarr.json, .zarray, .zgroup, .zmetadata)
//   GRIB2  a file starting with "GRIB" (or named *.grib, *.grib2, *.grb, *.grb2: ecCodes skips
//          bytes before the first message); a directory without Zarr metadata that holds GRIB
//          files (found at any depth, by those names); a glob ("/data/gfs/*.grib2",
//          "s3://bucket/2024*/f*.grb2": the part before the first wildcard's directory is the
//          store, the rest matches keys as fnmatch does with FNM_PATHNAME); or several of these
//          at once. Files are opened as one dataset, fields of the files in sorted order (each
//          location's files sorted, locations in the order given): cfgrib's view of all their
//          fields, which concatenates along time and step as
//          xr.open_mfdataset(files, engine="cfgrib", combine="by_coords") does. Several
//          locations are one store, rooted at their common directory.

#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "lsio/array/dataset.h"
#include "lsio/base/result.h"
#include "lsio/io/engine.h"
#include "lsio/runtime/context.h"

namespace lsio::format {

struct DatasetOptions {
  // Local files: the IO backend (kAuto: the context's).
  io::Backend io_backend = io::Backend::kAuto;
  // Object storage settings (kvstore::OpenOptions::storage_options).
  std::map<std::string, std::string> storage_options;
  // Zarr: use consolidated metadata when the root has it.
  bool use_consolidated = true;
  // GRIB: polled while the files are indexed; true cancels (kCancelled).
  std::function<bool()> cancelled;
};

// Errors: kNotFound "<location>: no Zarr metadata and no GRIB files ..." when nothing there is
// a dataset lsio reads, or a glob matches nothing; kInvalidArgument for a file that is neither
// (not GRIB) and for several locations that are not all GRIB; the formats' errors (a GRIB
// file's names the file, message number and byte offset).
Result<std::shared_ptr<const array::Dataset>> OpenDataset(runtime::Context& context,
                                                          std::string_view location,
                                                          const DatasetOptions& options = {});
// Several locations opened as one dataset (GRIB files, directories of them, globs).
Result<std::shared_ptr<const array::Dataset>> OpenDataset(runtime::Context& context,
                                                          std::span<const std::string> locations,
                                                          const DatasetOptions& options = {});

// True when `location` has a glob wildcard (*, ?, [).
bool IsGlob(std::string_view location);

}  // namespace lsio::format

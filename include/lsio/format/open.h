#pragma once

// Opening a dataset by location, whatever its format: the one place that knows which formats
// exist. Operations call this and then see only array::Dataset / array::ArraySource.
//
// Today: Zarr (v2, v3, sharded; a group or a single array). The format is recognised from the
// store's content (zarr.json, .zarray, .zgroup, .zmetadata).

#include <map>
#include <memory>
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
};

// Errors: kNotFound "<location>: no Zarr metadata ..." when nothing there is a dataset lsio
// reads; parse errors naming the document.
Result<std::shared_ptr<const array::Dataset>> OpenDataset(runtime::Context& context,
                                                          std::string_view location,
                                                          const DatasetOptions& options = {});

}  // namespace lsio::format

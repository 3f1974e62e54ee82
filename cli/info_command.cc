// `lsio info`: flag parsing; the format decides the report: Zarr's own (zarr::WriteInfo, with
// stored sizes and codecs), the format-neutral one (ops::WriteDatasetInfo) for the others
// (GRIB). Coordinate values are read through the data path on the command's runtime context.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "lsio/format/open.h"
#include "lsio/format/zarr/info.h"
#include "lsio/format/zarr/source.h"
#include "lsio/ops/info.h"
#include "lsio/runtime/context.h"

namespace lsio::cli {

namespace {

struct InfoFlags {
  std::vector<std::string> paths;
  std::shared_ptr<StorageFlags> storage = std::make_shared<StorageFlags>();
  bool json = false;
  bool no_stored_bytes = false;
};

int RunInfo(const InfoFlags& f) {
  Result<std::shared_ptr<runtime::Context>> context = runtime::Context::Make({});
  if (!context.ok()) return ReportStatus(context.status());
  InstallInterruptHandler();
  format::DatasetOptions open;
  open.cancelled = [] { return Interrupted(); };
  Result<std::map<std::string, std::string>> storage = StorageOptions(*f.storage);
  if (!storage.ok()) return ReportStatus(storage.status());
  open.storage_options = *std::move(storage);
  Result<std::shared_ptr<const array::Dataset>> dataset =
      format::OpenDataset(**context, f.paths, open);
  if (!dataset.ok()) return ReportStatus(dataset.status());
  if (const auto* z = dynamic_cast<const zarr::ZarrDatasetSource*>(&(*dataset)->source())) {
    zarr::InfoOptions options;
    options.json = f.json;
    options.stored_bytes = !f.no_stored_bytes;
    options.context = context->get();
    return ReportStatus(zarr::WriteInfo(*z, options, std::cout));
  }
  ops::InfoOptions options;
  options.json = f.json;
  options.context = context->get();
  return ReportStatus(ops::WriteDatasetInfo(**dataset, options, std::cout));
}

}  // namespace

void AddInfoCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<InfoFlags>();
  CLI::App* cmd = app.add_subcommand(
      "info", "What a dataset holds: groups, arrays, dims, coordinates, dtype, chunks, "
              "encoding, sizes, attributes (a Zarr store; GRIB files, a directory or a glob)");
  cmd->add_option("paths", f->paths,
                  "Zarr store (group or array), or GRIB2 file(s), directory or glob (several "
                  "GRIB locations open as one dataset)")
      ->required();
  cmd->add_flag("--json", f->json, "Print one JSON document");
  AddStorageFlags(cmd, f->storage);
  cmd->add_flag("--no-stored-bytes", f->no_stored_bytes,
                "Zarr: skip the directory walk that sums the chunk files' sizes");
  cmd->callback([f, exit_code] { *exit_code = RunInfo(*f); });
}

}  // namespace lsio::cli

// `lsio info`: flag parsing; the report is zarr::WriteInfo, with coordinate values read
// through the data path on the command's runtime context.
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "lsio/format/zarr/info.h"
#include "lsio/format/zarr/source.h"
#include "lsio/runtime/context.h"

namespace lsio::cli {

namespace {

struct InfoFlags {
  std::string path;
  bool json = false;
  bool no_stored_bytes = false;
};

int RunInfo(const InfoFlags& f) {
  Result<std::shared_ptr<runtime::Context>> context = runtime::Context::Make({});
  if (!context.ok()) return ReportStatus(context.status());
  Result<std::shared_ptr<kvstore::Store>> store = (*context)->OpenStore(f.path);
  if (!store.ok()) return ReportStatus(store.status());
  Result<std::shared_ptr<const zarr::ZarrDatasetSource>> source = zarr::OpenDataset(*store);
  if (!source.ok()) return ReportStatus(source.status());
  zarr::InfoOptions options;
  options.json = f.json;
  options.stored_bytes = !f.no_stored_bytes;
  options.context = context->get();
  return ReportStatus(zarr::WriteInfo(**source, options, std::cout));
}

}  // namespace

void AddInfoCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<InfoFlags>();
  CLI::App* cmd = app.add_subcommand(
      "info", "The groups and arrays of a Zarr store: dims, coordinates, dtype, chunks, codecs, "
              "sizes, attributes");
  cmd->add_option("path", f->path, "Zarr store (group or array)")->required();
  cmd->add_flag("--json", f->json, "Print one JSON document");
  cmd->add_flag("--no-stored-bytes", f->no_stored_bytes,
                "Skip the directory walk that sums the chunk files' sizes");
  cmd->callback([f, exit_code] { *exit_code = RunInfo(*f); });
}

}  // namespace lsio::cli

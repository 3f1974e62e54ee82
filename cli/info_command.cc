// `lsio info`: flag parsing; the report is zarr::WriteInfo, with coordinate values read
// through the data path.
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "lsio/format/zarr/info.h"
#include "lsio/ops/chunk_reader.h"

namespace lsio::cli {

namespace {

struct InfoFlags {
  std::string path;
  bool json = false;
  bool no_stored_bytes = false;
};

int RunInfo(const InfoFlags& f) {
  zarr::InfoOptions options;
  options.path = f.path;
  options.json = f.json;
  options.stored_bytes = !f.no_stored_bytes;
  std::string root = f.path;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  options.read_coordinate = [root](const zarr::Hierarchy&,
                                   const zarr::Node& array) -> Result<std::vector<std::byte>> {
    const zarr::ArrayMetadata& meta = *array.array;
    std::vector<std::byte> out(static_cast<size_t>(meta.shape.at(0)) *
                               ByteWidth(meta.data_type.storage));
    std::vector<zarr::DimRange> full = {zarr::FullRange(meta.shape.at(0))};
    ops::ReadOptions read;
    read.scheduler.threads = 1;
    LSIO_RETURN_IF_ERROR(ops::ReadSelection(root, array, full, out, read));
    return out;
  };
  return ReportStatus(zarr::WriteInfo(options, std::cout));
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

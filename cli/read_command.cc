// `lsio read`: flag parsing; the work is io::ReadFiles.
#include <iostream>
#include <memory>
#include <string>

#include "commands.h"
#include "lsio/io/read_files.h"

namespace lsio::cli {

namespace {

struct ReadFlags {
  io::ReadFilesOptions read;
  std::string range, block, io = "auto", random;
  bool buffered = false;
};

int RunRead(ReadFlags& f) {
  io::ReadFilesOptions& read = f.read;
  read.engine.direct = !f.buffered;
  Result<io::Backend> backend = io::ParseBackend(f.io);
  if (!backend.ok()) return ReportStatus(backend.status());
  read.engine.backend = *backend;
  if (!f.range.empty()) {
    read.has_range = true;
    if (int rc = ReportStatus(io::ParseRange(f.range, &read.range_offset, &read.range_length))) {
      return rc;
    }
  }
  if (!f.block.empty()) {
    Result<uint64_t> size = io::ParseByteSize(f.block);
    if (!size.ok()) return ReportStatus(size.status().WithContext("--block"));
    read.block_size = *size;
  }
  if (!f.random.empty()) {
    Result<uint64_t> n = io::ParseByteSize(f.random);
    if (!n.ok()) return ReportStatus(n.status().WithContext("--random"));
    read.random_reads = *n;
  }
  return ReportStatus(io::ReadFiles(read, std::cout));
}

}  // namespace

void AddReadCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<ReadFlags>();
  io::ReadFilesOptions& read = f->read;
  CLI::App* cmd =
      app.add_subcommand("read", "Read files or directories (recursively) and report throughput");
  cmd->add_option("paths", read.paths, "Files or directories")->required();
  cmd->add_option("--range", f->range, "Read only OFF:LEN of each file (sizes: 4k, 1M, 1MiB)");
  cmd->add_option("--block", f->block, "Size of each read (default: whole file or range)");
  cmd->add_option("--random", f->random,
                  "Issue N reads of --block size (default 4k) at random aligned offsets");
  cmd->add_option("--seed", read.seed, "Seed of --random");
  cmd->add_option("--queue-depth", read.engine.queue_depth, "Reads in flight per ring");
  cmd->add_option("--threads", read.engine.threads, "IO threads (0: backend default)");
  cmd->add_option("--io", f->io, "IO backend: auto, uring or posix");
  cmd->add_flag("--buffered", f->buffered, "Read through the page cache (no O_DIRECT)");
  cmd->add_flag("--checksum", read.checksum, "Print each file's xxHash64 (as xxhsum -H64)");
  cmd->add_flag("--json", read.json, "Print one JSON object");
  cmd->callback([f, exit_code] { *exit_code = RunRead(*f); });
}

}  // namespace lsio::cli

// The lsio command-line tool: flag parsing only; the work lives in the library.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "lsio/io/read_files.h"

namespace {

// The one place where a Status becomes a message and an exit code.
int Report(const lsio::Status& status) {
  if (status.ok()) return 0;
  std::cerr << "lsio: " << status.ToString() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lsio: light-speed IO for chunked arrays"};
  app.require_subcommand(1);

  // lsio read
  lsio::io::ReadFilesOptions read;
  std::string range, block, io = "auto", random;
  bool buffered = false;
  CLI::App* read_cmd =
      app.add_subcommand("read", "Read files or directories (recursively) and report throughput");
  read_cmd->add_option("paths", read.paths, "Files or directories")->required();
  read_cmd->add_option("--range", range, "Read only OFF:LEN of each file (sizes: 4k, 1M, 1MiB)");
  read_cmd->add_option("--block", block, "Size of each read (default: whole file or range)");
  read_cmd->add_option("--random", random,
                       "Issue N reads of --block size (default 4k) at random aligned offsets");
  read_cmd->add_option("--seed", read.seed, "Seed of --random");
  read_cmd->add_option("--queue-depth", read.engine.queue_depth, "Reads in flight per ring");
  read_cmd->add_option("--threads", read.engine.threads, "IO threads (0: backend default)");
  read_cmd->add_option("--io", io, "IO backend: auto, uring or posix");
  read_cmd->add_flag("--buffered", buffered, "Read through the page cache (no O_DIRECT)");
  read_cmd->add_flag("--checksum", read.checksum, "Print each file's xxHash64 (as xxhsum -H64)");
  read_cmd->add_flag("--json", read.json, "Print one JSON object");

  CLI11_PARSE(app, argc, argv);

  if (read_cmd->parsed()) {
    read.engine.direct = !buffered;
    lsio::Result<lsio::io::Backend> backend = lsio::io::ParseBackend(io);
    if (!backend.ok()) return Report(backend.status());
    read.engine.backend = *backend;
    if (!range.empty()) {
      read.has_range = true;
      if (int rc = Report(lsio::io::ParseRange(range, &read.range_offset, &read.range_length)))
        return rc;
    }
    if (!block.empty()) {
      lsio::Result<uint64_t> size = lsio::io::ParseByteSize(block);
      if (!size.ok()) return Report(size.status().WithContext("--block"));
      read.block_size = *size;
    }
    if (!random.empty()) {
      lsio::Result<uint64_t> n = lsio::io::ParseByteSize(random);
      if (!n.ok()) return Report(n.status().WithContext("--random"));
      read.random_reads = *n;
    }
    return Report(lsio::io::ReadFiles(read, std::cout));
  }
  return 0;
}

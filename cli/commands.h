#pragma once

// The lsio subcommands. Each Add*Command registers its flags on `app` and a callback that runs
// the command (a library function writing to std::cout) and stores the exit code.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "lsio/base/result.h"
#include "lsio/base/status.h"

namespace lsio::cli {

void AddReadCommand(CLI::App& app, int* exit_code);
void AddInfoCommand(CLI::App& app, int* exit_code);
void AddStatsCommand(CLI::App& app, int* exit_code);
void AddRechunkCommand(CLI::App& app, int* exit_code);

// The one place where a Status becomes a message on stderr and an exit code: 0 for OK, 130 for
// a cancellation (Ctrl-C), 1 otherwise.
int ReportStatus(const Status& status);

// Object-storage flags shared by the commands that open locations: `--anon` (unsigned
// requests, as AWS_NO_SIGN_REQUEST=YES) and `--storage-option KEY=VALUE` (repeatable; the
// fsspec names of docs/object-storage.md, e.g. endpoint_url=..., region=..., requests=128).
struct StorageFlags {
  bool anon = false;
  std::vector<std::string> options;
};
void AddStorageFlags(CLI::App* cmd, const std::shared_ptr<StorageFlags>& flags);
// The storage options the flags give; kInvalidArgument for an option without '='.
Result<std::map<std::string, std::string>> StorageOptions(const StorageFlags& flags);

// True once SIGINT has been received (after InstallInterruptHandler).
bool Interrupted();
// Makes the first Ctrl-C request cancellation (Interrupted() turns true) instead of killing the
// process; a second Ctrl-C kills it.
void InstallInterruptHandler();

}  // namespace lsio::cli

#pragma once

// The lsio subcommands. Each Add*Command registers its flags on `app` and a callback that runs
// the command (a library function writing to std::cout) and stores the exit code.

#include <CLI/CLI.hpp>

#include "lsio/base/status.h"

namespace lsio::cli {

void AddReadCommand(CLI::App& app, int* exit_code);
void AddInfoCommand(CLI::App& app, int* exit_code);
void AddStatsCommand(CLI::App& app, int* exit_code);
void AddRechunkCommand(CLI::App& app, int* exit_code);

// The one place where a Status becomes a message on stderr and an exit code: 0 for OK, 130 for
// a cancellation (Ctrl-C), 1 otherwise.
int ReportStatus(const Status& status);

// True once SIGINT has been received (after InstallInterruptHandler).
bool Interrupted();
// Makes the first Ctrl-C request cancellation (Interrupted() turns true) instead of killing the
// process; a second Ctrl-C kills it.
void InstallInterruptHandler();

}  // namespace lsio::cli

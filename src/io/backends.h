#pragma once

// Factories of the two local backends (engine.cc chooses between them).

#include <memory>

#include "lsio/io/engine.h"

namespace lsio::io::internal {

// Starts `options.threads` (default 1) IO threads, each with its own ring. Fails with the
// ring's set-up error (EPERM under seccomp, ENOSYS, ...) if any ring cannot be created.
Result<std::unique_ptr<Engine>> CreateUringEngine(const EngineOptions& options);

// Starts `options.threads` (default 16) pread workers.
Result<std::unique_ptr<Engine>> CreatePosixEngine(const EngineOptions& options);

}  // namespace lsio::io::internal

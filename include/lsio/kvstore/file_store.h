#pragma once

// FileStore: keys are files below a root directory ("a/c/0/1" is ROOT/a/c/0/1). The only place
// where a key becomes a path (zarrs' key_to_fspath). Reads go through the IO engine (io_uring
// with O_DIRECT, or the pread pool); writes go to a temporary file in the same directory that is
// renamed over the key, so a value is complete or absent; a publication writes a temporary
// sibling directory that is renamed into place at Commit (renameat2 RENAME_NOREPLACE).
// Symlinks are followed; listings stop at a depth of 64.
//
// Temporaries are named ".NAME.lsio-tmp-PID-N" beside NAME (PID the writing process, N a
// counter), are never listed, and are removed on error. A process killed mid-write leaves its
// temporaries behind; RemoveAbandonedTemporaries removes those whose process is gone (no
// process PID, or one started after the temporary was last modified: the PID was reused).

#include <memory>
#include <string>

#include "lsio/io/engine.h"
#include "lsio/kvstore/store.h"

namespace lsio::kvstore {

struct FileStoreOptions {
  // The IO engine behind MakeReader (backend, threads, queue depth, O_DIRECT). Its
  // max_bytes_in_flight and coalescing fields are replaced by the reader's options and the
  // store's coalescing.
  io::EngineOptions engine;
  CoalesceOptions coalesce;
};

// `root` need not exist: writes create it.
std::shared_ptr<Store> MakeFileStore(std::string root, FileStoreOptions options = {});

}  // namespace lsio::kvstore

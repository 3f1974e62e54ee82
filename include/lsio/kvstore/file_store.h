#pragma once

// FileStore: keys are files below a root directory ("a/c/0/1" is ROOT/a/c/0/1). The only place
// where a key becomes a path (zarrs' key_to_fspath). Reads go through the IO engine (io_uring
// with O_DIRECT unless turned off, or the pread pool); writes go to a temporary file in the same directory that is
// renamed over the key, so a value is complete or absent; a publication writes a temporary
// sibling directory that is renamed into place at Commit (renameat2 RENAME_NOREPLACE).
// Symlinks are followed; listings stop at a depth of 64.
//
// Temporaries are named ".NAME.lsio-tmp-PID-N" beside NAME (PID the writing process, N a
// counter), are never listed, and are removed on error. A process killed mid-write leaves its
// temporaries behind; RemoveAbandonedTemporaries removes those whose process is gone (no
// process PID, or one started after the temporary was last modified: the PID was reused).

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "lsio/base/result.h"
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

// The storage options a local store takes, by name (as OpenStore's storage_options):
//   "direct_io"  true (default) / false: EngineOptions::direct. O_DIRECT reads go to the device
//                even when the file is in the page cache, with no copy and no cache pollution:
//                right for data read once or larger than memory. false reads through the page
//                cache: right when the files are (or will be) cached, e.g. a working set
//                smaller than memory read again and again, or files just written.
// Takes them out of `options`, leaving the others. Errors: kInvalidArgument naming the option.
Result<FileStoreOptions> TakeFileStoreOptions(std::map<std::string, std::string>& options);
// True for the names TakeFileStoreOptions takes.
bool IsFileStoreOption(std::string_view name);

}  // namespace lsio::kvstore

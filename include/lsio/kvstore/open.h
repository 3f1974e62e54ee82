#pragma once

// Opening a store by location: a local path or file:// URL (FileStore), memory://NAME
// (MemoryStore, process-wide by name: tests), and whatever schemes are registered (s3://,
// http(s)://). Schemes are registered explicitly (RegisterBuiltinStores), not by static
// initialisers that static libraries silently drop.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "lsio/base/result.h"
#include "lsio/io/engine.h"
#include "lsio/kvstore/store.h"

namespace lsio::kvstore {

struct OpenOptions {
  // Local files: which IO backend reads them.
  io::Backend io_backend = io::Backend::kAuto;
  // Backend-specific settings by name, as fsspec's storage_options (object storage: "anon",
  // "key", "secret", "token", "endpoint_url", "region", ...). Unknown names are an error.
  std::map<std::string, std::string> storage_options;
};

using StoreFactory =
    std::function<Result<std::shared_ptr<Store>>(std::string_view location, const OpenOptions&)>;

// Registers `factory` for locations starting with "<scheme>://". Replaces an earlier one.
void RegisterStoreScheme(std::string scheme, StoreFactory factory);
// Registers file://, memory:// and the object-storage schemes built into this library.
// Idempotent; OpenStore calls it.
void RegisterBuiltinStores();

// "scheme" of "scheme://rest", or "" for a plain path.
std::string_view LocationScheme(std::string_view location);
// True when `location` names something other than the local file system.
bool IsRemoteLocation(std::string_view location);

// Opens the store at `location`. A local path need not exist yet (a store about to be written);
// formats report a missing store when they find no metadata there. Errors: kInvalidArgument for
// an unknown scheme or option.
Result<std::shared_ptr<Store>> OpenStore(std::string_view location, const OpenOptions& options = {});

}  // namespace lsio::kvstore

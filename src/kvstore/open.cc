#include "lsio/kvstore/open.h"

#include <mutex>

#include "lsio/kvstore/file_store.h"
#include "lsio/kvstore/memory_store.h"
#include "lsio/kvstore/object_store.h"

namespace lsio::kvstore {

namespace {

struct Registry {
  std::mutex mu;
  std::map<std::string, StoreFactory, std::less<>> factories;
  std::map<std::string, std::shared_ptr<Store>, std::less<>> memory_stores;
};

Registry& GetRegistry() {
  static Registry* registry = new Registry();
  return *registry;
}

Status CheckNoOptions(std::string_view location, const OpenOptions& options) {
  if (options.storage_options.empty()) return Status::OK();
  return InvalidArgumentError(std::string(location) + ": storage option '" +
                              options.storage_options.begin()->first +
                              "' does not apply to this kind of store");
}

// A FileStore at `path` with the file store's storage options (TakeFileStoreOptions); any
// other option is an error.
Result<std::shared_ptr<Store>> OpenFileStore(std::string_view location, std::string_view path,
                                             const OpenOptions& options) {
  OpenOptions rest = options;
  Result<FileStoreOptions> fo = TakeFileStoreOptions(rest.storage_options);
  if (!fo.ok()) return fo.status().WithContext(std::string(location));
  LSIO_RETURN_IF_ERROR(CheckNoOptions(location, rest));
  fo->engine.backend = options.io_backend;
  return MakeFileStore(std::string(path), *std::move(fo));
}

}  // namespace

void RegisterStoreScheme(std::string scheme, StoreFactory factory) {
  Registry& r = GetRegistry();
  std::lock_guard lock(r.mu);
  r.factories[std::move(scheme)] = std::move(factory);
}

void RegisterBuiltinStores() {
  static std::once_flag once;
  std::call_once(once, [] {
    RegisterStoreScheme("file", [](std::string_view location, const OpenOptions& options)
                                    -> Result<std::shared_ptr<Store>> {
      std::string_view path = location.substr(std::string_view("file://").size());
      if (path.empty() || path.front() != '/') {
        return InvalidArgumentError(std::string(location) +
                                    ": a file:// URL needs an absolute path (file:///data/x)");
      }
      return OpenFileStore(location, path, options);
    });
    RegisterStoreScheme("memory", [](std::string_view location, const OpenOptions& options)
                                      -> Result<std::shared_ptr<Store>> {
      LSIO_RETURN_IF_ERROR(CheckNoOptions(location, options));
      Registry& r = GetRegistry();
      std::lock_guard lock(r.mu);
      auto it = r.memory_stores.find(location);
      if (it != r.memory_stores.end()) return it->second;
      MemoryStoreOptions mo;
      mo.name = std::string(location);
      std::shared_ptr<Store> store = MakeMemoryStore(mo);
      r.memory_stores.emplace(std::string(location), store);
      return store;
    });
    RegisterObjectStores();
  });
}

std::string_view LocationScheme(std::string_view location) {
  const size_t colon = location.find("://");
  if (colon == std::string_view::npos || colon == 0) return {};
  for (char c : location.substr(0, colon)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '-' || c == '.';
    if (!ok) return {};
  }
  return location.substr(0, colon);
}

bool IsRemoteLocation(std::string_view location) {
  const std::string_view scheme = LocationScheme(location);
  return !scheme.empty() && scheme != "file";
}

Result<std::shared_ptr<Store>> OpenStore(std::string_view location, const OpenOptions& options) {
  RegisterBuiltinStores();
  const std::string_view scheme = LocationScheme(location);
  if (scheme.empty()) {
    if (location.empty()) return InvalidArgumentError("an empty path names no store");
    return OpenFileStore(location, location, options);
  }
  StoreFactory factory;
  {
    Registry& r = GetRegistry();
    std::lock_guard lock(r.mu);
    auto it = r.factories.find(scheme);
    if (it == r.factories.end()) {
      std::string known;
      for (const auto& [name, f] : r.factories) known += (known.empty() ? "" : ", ") + name;
      return InvalidArgumentError(std::string(location) + ": unknown store scheme '" +
                                  std::string(scheme) + "://' (known: " + known + ")");
    }
    factory = it->second;
  }
  return factory(location, options);
}

}  // namespace lsio::kvstore

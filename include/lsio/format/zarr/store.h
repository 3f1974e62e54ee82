#pragma once

// A small read-only store interface for metadata: read a small key, list a directory, walk a
// prefix for sizes. This is not the data path (the IO engine reads chunks); plain file reads
// are fine here.
//
// Keys are relative, '/'-separated ("group/array/zarr.json"); "" is the store's root. Every
// key is checked with ValidateStoreKey, so nothing outside the store is read.
//
// Thread safety: implementations are safe for concurrent const use.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lsio/base/result.h"

namespace lsio::zarr {

// Metadata documents larger than this are refused (kResourceExhausted) rather than read.
inline constexpr uint64_t kMaxMetadataBytes = uint64_t{256} << 20;

struct StoreEntry {
  std::string name;  // one component, no '/'
  bool is_directory = false;
  uint64_t size = 0;  // bytes, for files
};

struct PrefixUsage {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

class MetadataStore {
 public:
  virtual ~MetadataStore() = default;

  // The whole value of `key`, or nullopt when it does not exist. Errors: kInvalidArgument for
  // a key that would escape the store, kResourceExhausted past kMaxMetadataBytes, IO errors
  // with the path.
  virtual Result<std::optional<std::string>> Read(std::string_view key) const = 0;
  // The entries directly under `prefix` ("" = root), sorted by name; an empty list when the
  // prefix does not exist.
  virtual Result<std::vector<StoreEntry>> List(std::string_view prefix) const = 0;
  // Number and total size of the files under `prefix`, recursively, skipping files whose
  // name is in `skip_names` (metadata documents).
  virtual Result<PrefixUsage> Usage(std::string_view prefix,
                                    const std::vector<std::string>& skip_names) const = 0;
  // A human-readable location for messages: "/data/x.zarr/a/zarr.json".
  virtual std::string Describe(std::string_view key) const = 0;
};

// A directory on the local file system. Symlinks are followed (symlink tricks that leave the
// directory are out of scope); directory walks stop at a depth of 64.
class LocalStore final : public MetadataStore {
 public:
  explicit LocalStore(std::string root);

  Result<std::optional<std::string>> Read(std::string_view key) const override;
  Result<std::vector<StoreEntry>> List(std::string_view prefix) const override;
  Result<PrefixUsage> Usage(std::string_view prefix,
                            const std::vector<std::string>& skip_names) const override;
  std::string Describe(std::string_view key) const override;

  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

}  // namespace lsio::zarr

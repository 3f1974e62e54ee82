#pragma once

// Shared pieces of the fuzz targets: an in-memory MetadataStore (so the metadata targets run
// the same hierarchy code as `lsio info` without touching the disk) and an invariant check that
// stops the fuzzer with a message.
//
// Thread safety: single-threaded use by one fuzz target.

#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lsio/format/zarr/chunk_key.h"
#include "lsio/format/zarr/store.h"

// A broken invariant is a finding: print it and abort, so libFuzzer saves the input.
#define LSIO_FUZZ_CHECK(cond)                                                                \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

namespace lsio::fuzz {

// Keys to values, with directories implied by the keys ("a/b/zarr.json" makes "a" and "a/b").
class MemoryStore final : public zarr::MetadataStore {
 public:
  void Put(std::string key, std::string value) { files_[std::move(key)] = std::move(value); }

  Result<std::optional<std::string>> Read(std::string_view key) const override {
    LSIO_RETURN_IF_ERROR(zarr::ValidateStoreKey(key));
    auto it = files_.find(std::string(key));
    if (it == files_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  Result<std::vector<zarr::StoreEntry>> List(std::string_view prefix) const override {
    LSIO_RETURN_IF_ERROR(zarr::ValidateStoreKey(prefix));
    const std::string dir = prefix.empty() ? std::string() : std::string(prefix) + "/";
    std::map<std::string, zarr::StoreEntry> entries;
    for (const auto& [key, value] : files_) {
      if (key.compare(0, dir.size(), dir) != 0) continue;
      const std::string rest = key.substr(dir.size());
      const size_t slash = rest.find('/');
      zarr::StoreEntry e;
      e.name = rest.substr(0, slash);
      e.is_directory = slash != std::string::npos;
      e.size = e.is_directory ? 0 : value.size();
      entries.emplace(e.name, e);
    }
    std::vector<zarr::StoreEntry> out;
    for (auto& [name, e] : entries) out.push_back(std::move(e));
    return out;
  }

  Result<zarr::PrefixUsage> Usage(std::string_view prefix,
                                  const std::vector<std::string>& skip_names) const override {
    LSIO_RETURN_IF_ERROR(zarr::ValidateStoreKey(prefix));
    const std::string dir = prefix.empty() ? std::string() : std::string(prefix) + "/";
    zarr::PrefixUsage usage;
    for (const auto& [key, value] : files_) {
      if (key.compare(0, dir.size(), dir) != 0) continue;
      const std::string name = key.substr(key.rfind('/') + 1);
      bool skip = false;
      for (const std::string& s : skip_names) skip = skip || s == name;
      if (skip) continue;
      ++usage.files;
      usage.bytes += value.size();
    }
    return usage;
  }

  std::string Describe(std::string_view key) const override { return "mem://" + std::string(key); }

 private:
  std::map<std::string, std::string> files_;
};

}  // namespace lsio::fuzz

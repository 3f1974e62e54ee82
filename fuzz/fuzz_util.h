#pragma once

// Shared pieces of the fuzz targets: an in-memory store (so the metadata targets run
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
#include "lsio/kvstore/memory_store.h"

// A broken invariant is a finding: print it and abort, so libFuzzer saves the input.
#define LSIO_FUZZ_CHECK(cond)                                                                \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

namespace lsio::fuzz {

// Keys to values in a kvstore MemoryStore (directories implied by the keys), so the metadata
// targets run the same hierarchy code as `lsio info` without touching the disk.
class MemoryStore {
 public:
  MemoryStore() : store_(kvstore::MakeMemoryStore(kvstore::MemoryStoreOptions{nullptr, "mem"})) {}
  void Put(const std::string& key, std::string_view value) {
    (void)store_->Write(key, std::as_bytes(std::span(value.data(), value.size())));
  }
  kvstore::Store& store() const { return *store_; }
  const std::shared_ptr<kvstore::Store>& shared() const { return store_; }

 private:
  std::shared_ptr<kvstore::Store> store_;
};

}  // namespace lsio::fuzz

#pragma once

// MemoryStore: keys and values in memory (tests, and a store with no file system at all). Its
// Reader delivers groups in order under the same budget rules as the IO engine; it can be told
// to fail keys (fault tests) through MemoryStoreOptions.

#include <functional>
#include <memory>
#include <string_view>

#include "lsio/kvstore/store.h"

namespace lsio::kvstore {

struct MemoryStoreOptions {
  // Returns a non-OK status to fail a read of `key` with it (fault injection); null: never.
  std::function<Status(std::string_view key)> fail_read;
  // "memory://NAME" in messages.
  std::string name = "memory";
};

std::shared_ptr<Store> MakeMemoryStore(MemoryStoreOptions options = {});

}  // namespace lsio::kvstore

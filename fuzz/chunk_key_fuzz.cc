// Store keys: the input is split at its first newline into a prefix and a key (both from
// metadata or a user in real use) and checked by ValidateStoreKey / JoinStoreKey; whatever they
// accept must stay inside the store. The input's bytes also make a grid for EncodeChunkKey,
// whose keys must always be valid.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_util.h"
#include "lsio/format/zarr/chunk_key.h"
#include "lsio/kvstore/key.h"

namespace {

// A relative key inside the store: components that are not empty, "." or "..", no
// backslash or NUL, not absolute.
bool StaysInside(std::string_view key) {
  if (key.empty()) return true;
  if (key.front() == '/') return false;
  if (key.find('\\') != std::string_view::npos || key.find('\0') != std::string_view::npos) {
    return false;
  }
  size_t start = 0;
  while (true) {
    const size_t slash = key.find('/', start);
    const std::string_view part =
        key.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t nl = text.find('\n');
  const std::string_view prefix =
      nl == std::string_view::npos ? std::string_view() : text.substr(0, nl);
  const std::string_view key = nl == std::string_view::npos ? text : text.substr(nl + 1);

  if (lsio::kvstore::ValidateKey(text).ok()) LSIO_FUZZ_CHECK(StaysInside(text));
  if (lsio::kvstore::ValidateKey(key).ok()) LSIO_FUZZ_CHECK(StaysInside(key));
  lsio::Result<std::string> joined = lsio::kvstore::JoinKey(prefix, key);
  if (joined.ok() && lsio::kvstore::ValidateKey(prefix).ok()) {
    LSIO_FUZZ_CHECK(StaysInside(*joined));
  }

  // Grid coordinates from the bytes (up to 8 dimensions), non-negative as a grid's are.
  std::vector<int64_t> grid;
  for (size_t i = 0; i + 8 <= size && grid.size() < 8; i += 8) {
    uint64_t v;
    std::memcpy(&v, data + i, 8);
    grid.push_back(static_cast<int64_t>(v >> 1));
  }
  for (lsio::zarr::ChunkKeyEncoding::Kind kind :
       {lsio::zarr::ChunkKeyEncoding::Kind::kDefault, lsio::zarr::ChunkKeyEncoding::Kind::kV2}) {
    for (char sep : {'/', '.'}) {
      const std::string k = lsio::zarr::EncodeChunkKey({kind, sep}, grid);
      LSIO_FUZZ_CHECK(lsio::kvstore::ValidateKey(k).ok());
    }
  }
  return 0;
}

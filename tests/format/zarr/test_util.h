#pragma once

// Test-only helpers: the fixture manifest written by make_fixtures.py, a minimal .npy reader,
// and a simple synchronous reader of Zarr arrays (plain file reads + CodecChain::Decode + the
// shard index code) to check decoded values against zarr-python's.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/array/selection.h"
#include "lsio/base/result.h"
#include "lsio/format/zarr/hierarchy.h"
#include "lsio/format/zarr/source.h"
#include "lsio/kvstore/file_store.h"

namespace lsio::zarr {
// The Zarr tests exercise the format-neutral geometry and CF rules on Zarr stores.
using namespace ::lsio::array;  // NOLINT(build/namespaces): tests only
}  // namespace lsio::zarr

namespace lsio::zarr::testing {

// The directory make_fixtures.py wrote (LSIO_ZARR_FIXTURES), or "" when unset.
std::string FixturesDir();
// The zarrs conformance fixtures (LSIO_SHARED_FIXTURES).
std::string SharedFixturesDir();
// manifest.json, parsed; an empty object when missing.
const nlohmann::json& Manifest();
// An entry's store path: absolute, or relative to FixturesDir().
std::string StorePath(const nlohmann::json& entry);

struct Npy {
  std::string descr;  // "<f4", "|b1", ...
  std::vector<int64_t> shape;
  std::vector<std::byte> data;
};
Result<Npy> ReadNpy(const std::string& path);

std::optional<std::string> ReadWholeFile(const std::string& path);

// The whole array, C order, native byte order, the storage dtype: every chunk read with a plain
// file read, decoded with the codec chain (sharded: DecodeShard on the whole shard).
Result<std::vector<std::byte>> ReadWholeArray(const std::string& store_root, const Node& node);

// A selection, output of SelectionShape(ranges) elements: ForEachChunk over the grid; sharded
// arrays read only the shard index (pread of its byte range) and the inner chunks
// InnerChunksForShard names.
Result<std::vector<std::byte>> ReadSelection(const std::string& store_root, const Node& node,
                                             const std::vector<DimRange>& ranges);

std::string Hex(const std::vector<std::byte>& bytes);

// The format-neutral description of an array with metadata `m` (MakeArrayInfo of its node).
inline array::ArrayInfo InfoOf(const ArrayMetadata& m) {
  Node node;
  node.kind = NodeKind::kArray;
  node.attributes = m.attributes;
  node.array = m;
  return MakeArrayInfo(node);
}

}  // namespace lsio::zarr::testing

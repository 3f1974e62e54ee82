#pragma once

// Opening a Zarr store: the tree of groups and arrays under a path that is itself a group or
// an array, in either format, from consolidated metadata when the root has it (v2 .zmetadata,
// or zarr-python 3's "consolidated_metadata" in the root zarr.json), else by listing the
// store (kvstore::Store: local directories, object storage).
//
// Where a directory holds both zarr.json and .zarray/.zgroup, Zarr v3 wins, as in zarr-python.
//
// Thread safety: a Hierarchy is an immutable value once opened.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/base/result.h"
#include "lsio/format/zarr/metadata.h"
#include "lsio/kvstore/store.h"

namespace lsio::zarr {

enum class NodeKind : unsigned char { kGroup, kArray };

struct Node {
  // "" for the root, "group/array" inside groups; always a valid store key.
  std::string path;
  NodeKind kind = NodeKind::kGroup;
  ZarrFormat zarr_format = ZarrFormat::kV3;
  nlohmann::json attributes = nlohmann::json::object();
  // Set for arrays.
  std::optional<ArrayMetadata> array;

  bool is_array() const { return kind == NodeKind::kArray; }
  // The last path component ("" for the root).
  std::string name() const;
};

struct OpenOptions {
  // Use consolidated metadata when the root has it. Off: always walk the directories.
  bool use_consolidated = true;
};

struct Hierarchy {
  bool consolidated = false;
  // Root first, then sorted by path.
  std::vector<Node> nodes;

  const Node& root() const { return nodes.front(); }
  // nullptr when there is no node at `path`.
  const Node* Find(std::string_view path) const;
  // The array nodes directly inside group `path` (or none).
  std::vector<const Node*> Children(std::string_view path) const;
  // The store key of the chunk at `grid` of array node `array` (a path relative to the store
  // root, e.g. "group/array/c/0/1").
  Result<std::string> ChunkKey(const Node& array, std::span<const int64_t> grid) const;
};

// Opens the node at the store's root. Errors: kNotFound "<path>: no Zarr metadata (zarr.json,
// .zarray or .zgroup)"; parse errors name the file; kInvalidArgument for node paths in
// consolidated metadata that would escape the store.
Result<Hierarchy> OpenHierarchy(kvstore::Store& store, const OpenOptions& options = {});

}  // namespace lsio::zarr

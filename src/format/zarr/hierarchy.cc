#include "lsio/format/zarr/hierarchy.h"

#include <algorithm>
#include <map>

#include "lsio/base/json_util.h"
#include "lsio/kvstore/key.h"

namespace lsio::zarr {

using nlohmann::json;

namespace {

constexpr int kMaxDepth = 64;

Result<std::optional<json>> ReadJson(kvstore::Store& store, const std::string& key) {
  LSIO_ASSIGN_OR_RETURN(std::optional<Buffer> text, store.Read(key));
  if (!text) return std::optional<json>();
  LSIO_ASSIGN_OR_RETURN(json j,
                        lsio::internal::ParseJson(text->as_string_view(), store.Describe(key)));
  return std::optional<json>(std::move(j));
}

std::string Key(const std::string& prefix, std::string_view name) {
  return prefix.empty() ? std::string(name) : prefix + "/" + std::string(name);
}

Result<Node> V3Node(const json& j, const std::string& path, const std::string& file,
                    GroupMetadata* group_out) {
  Node node;
  node.path = path;
  node.zarr_format = ZarrFormat::kV3;
  const json node_type = j.is_object() && j.contains("node_type") ? j["node_type"] : json();
  if (node_type == "array") {
    LSIO_ASSIGN_OR_RETURN(ArrayMetadata m, ParseZarrV3Array(j, file));
    node.kind = NodeKind::kArray;
    node.attributes = m.attributes;
    node.array = std::move(m);
  } else if (node_type == "group") {
    LSIO_ASSIGN_OR_RETURN(GroupMetadata g, ParseZarrV3Group(j, file));
    node.kind = NodeKind::kGroup;
    node.attributes = g.attributes;
    if (group_out != nullptr) *group_out = std::move(g);
  } else {
    return InvalidArgumentError(file + ": field 'node_type': expected \"array\" or \"group\", "
                                       "got " + lsio::internal::Abbreviate(node_type));
  }
  return node;
}

// Reads the node whose metadata lives under `path`; nullopt when the directory has none.
Result<std::optional<Node>> ReadNode(kvstore::Store& store, const std::string& path,
                                     GroupMetadata* group_out) {
  const std::string v3_key = Key(path, "zarr.json");
  LSIO_ASSIGN_OR_RETURN(std::optional<json> v3, ReadJson(store, v3_key));
  if (v3) {
    LSIO_ASSIGN_OR_RETURN(Node node, V3Node(*v3, path, store.Describe(v3_key), group_out));
    return std::optional<Node>(std::move(node));
  }
  const std::string attrs_key = Key(path, ".zattrs");
  const std::string zarray_key = Key(path, ".zarray");
  LSIO_ASSIGN_OR_RETURN(std::optional<json> zarray, ReadJson(store, zarray_key));
  std::optional<json> zgroup;
  if (!zarray) {
    LSIO_ASSIGN_OR_RETURN(zgroup, ReadJson(store, Key(path, ".zgroup")));
    if (!zgroup) return std::optional<Node>();
  }
  LSIO_ASSIGN_OR_RETURN(std::optional<json> zattrs, ReadJson(store, attrs_key));
  const json attrs = zattrs ? *zattrs : json();
  Node node;
  node.path = path;
  node.zarr_format = ZarrFormat::kV2;
  if (zarray) {
    LSIO_ASSIGN_OR_RETURN(ArrayMetadata m,
                          ParseZarrV2Array(*zarray, attrs, store.Describe(zarray_key),
                                           store.Describe(attrs_key)));
    node.kind = NodeKind::kArray;
    node.attributes = m.attributes;
    node.array = std::move(m);
  } else {
    LSIO_ASSIGN_OR_RETURN(GroupMetadata g,
                          ParseZarrV2Group(*zgroup, attrs, store.Describe(Key(path, ".zgroup"))));
    node.kind = NodeKind::kGroup;
    node.attributes = g.attributes;
    if (group_out != nullptr) *group_out = std::move(g);
  }
  return std::optional<Node>(std::move(node));
}

Status WalkGroup(kvstore::Store& store, const std::string& path, int depth,
                 std::vector<Node>& nodes) {
  if (depth > kMaxDepth) {
    return InvalidArgumentError(store.Describe(path) + ": groups nested more than " +
                                std::to_string(kMaxDepth) + " levels deep");
  }
  LSIO_ASSIGN_OR_RETURN(std::vector<kvstore::ListEntry> entries,
                        store.List(path, kvstore::ListMode::kChildren));
  for (const kvstore::ListEntry& e : entries) {
    if (!e.is_prefix) continue;
    const std::string child = Key(path, e.key);
    if (!kvstore::ValidateKey(child).ok()) continue;  // a name we could never address
    LSIO_ASSIGN_OR_RETURN(std::optional<Node> node, ReadNode(store, child, nullptr));
    if (!node) continue;
    const bool is_group = node->kind == NodeKind::kGroup;
    nodes.push_back(std::move(*node));
    if (is_group) LSIO_RETURN_IF_ERROR(WalkGroup(store, child, depth + 1, nodes));
  }
  return Status::OK();
}

// zarr-python 3 writes every descendant into the root's map with paths relative to the root
// ("sub/b"); older writers nested a group's children in that group's own map.
Status AddV3Consolidated(const json& metadata, const std::string& prefix, const std::string& file,
                         int depth, std::map<std::string, Node>& out) {
  if (depth > kMaxDepth) return InvalidArgumentError(file + ": consolidated metadata too deep");
  for (auto it = metadata.begin(); it != metadata.end(); ++it) {
    const std::string path = Key(prefix, it.key());
    Status valid = kvstore::ValidateKey(path);
    if (!valid.ok()) return valid.WithContext(file + ": consolidated_metadata");
    if (out.count(path) != 0) continue;
    GroupMetadata group;
    LSIO_ASSIGN_OR_RETURN(
        Node node, V3Node(it.value(), path, file + " (consolidated_metadata: " + path + ")",
                          &group));
    const bool is_group = node.kind == NodeKind::kGroup;
    out.emplace(path, std::move(node));
    if (is_group && group.consolidated.is_object()) {
      LSIO_RETURN_IF_ERROR(AddV3Consolidated(group.consolidated, path, file, depth + 1, out));
    }
  }
  return Status::OK();
}

Status AddV2Consolidated(const json& zmetadata, const std::string& file,
                         std::map<std::string, Node>& out) {
  const json* md = zmetadata.is_object() && zmetadata.contains("metadata")
                       ? &zmetadata["metadata"]
                       : nullptr;
  if (md == nullptr || !md->is_object()) {
    return InvalidArgumentError(file + ": field 'metadata': expected an object");
  }
  const json null_json;
  auto lookup = [&](const std::string& key) -> const json& {
    auto it = md->find(key);
    return it == md->end() ? null_json : *it;
  };
  for (auto it = md->begin(); it != md->end(); ++it) {
    const std::string& key = it.key();
    std::string path;
    bool is_array;
    auto strip = [&](std::string_view suffix) {
      if (key == suffix.substr(1)) {
        path.clear();
        return true;
      }
      if (key.size() > suffix.size() &&
          key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0) {
        path = key.substr(0, key.size() - suffix.size());
        return true;
      }
      return false;
    };
    if (strip("/.zarray")) {
      is_array = true;
    } else if (strip("/.zgroup")) {
      is_array = false;
    } else {
      continue;
    }
    Status valid = kvstore::ValidateKey(path);
    if (!valid.ok()) return valid.WithContext(file);
    const std::string attrs_key = path.empty() ? ".zattrs" : path + "/.zattrs";
    const std::string where = file + " (" + key + ")";
    Node node;
    node.path = path;
    node.zarr_format = ZarrFormat::kV2;
    if (is_array) {
      LSIO_ASSIGN_OR_RETURN(ArrayMetadata m,
                            ParseZarrV2Array(it.value(), lookup(attrs_key), where,
                                             file + " (" + attrs_key + ")"));
      node.kind = NodeKind::kArray;
      node.attributes = m.attributes;
      node.array = std::move(m);
    } else {
      LSIO_ASSIGN_OR_RETURN(GroupMetadata g, ParseZarrV2Group(it.value(), lookup(attrs_key),
                                                              where));
      node.kind = NodeKind::kGroup;
      node.attributes = g.attributes;
    }
    out.emplace(path, std::move(node));
  }
  return Status::OK();
}

void SortNodes(std::vector<Node>& nodes) {
  std::sort(nodes.begin() + 1, nodes.end(),
            [](const Node& a, const Node& b) { return a.path < b.path; });
}

}  // namespace

std::string Node::name() const {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

const Node* Hierarchy::Find(std::string_view path) const {
  for (const Node& n : nodes) {
    if (n.path == path) return &n;
  }
  return nullptr;
}

std::vector<const Node*> Hierarchy::Children(std::string_view path) const {
  std::vector<const Node*> out;
  for (const Node& n : nodes) {
    if (n.path.empty()) continue;
    const size_t slash = n.path.rfind('/');
    const std::string_view parent =
        slash == std::string::npos ? std::string_view() : std::string_view(n.path).substr(0, slash);
    if (parent == path) out.push_back(&n);
  }
  return out;
}

Result<std::string> Hierarchy::ChunkKey(const Node& array, std::span<const int64_t> grid) const {
  if (!array.array) {
    return InvalidArgumentError("node '" + array.path + "' is a group, not an array");
  }
  return kvstore::JoinKey(array.path, array.array->ChunkKey(grid));
}

Result<Hierarchy> OpenHierarchy(kvstore::Store& store, const OpenOptions& options) {
  Hierarchy h;
  GroupMetadata root_group;
  LSIO_ASSIGN_OR_RETURN(std::optional<Node> root, ReadNode(store, "", &root_group));
  if (!root) {
    return NotFoundError(store.Describe("") +
                         ": no Zarr metadata (zarr.json, .zarray or .zgroup)");
  }
  const bool is_group = root->kind == NodeKind::kGroup;
  const ZarrFormat format = root->zarr_format;
  h.nodes.push_back(std::move(*root));
  if (!is_group) return h;

  if (options.use_consolidated) {
    std::map<std::string, Node> consolidated;
    bool found = false;
    if (format == ZarrFormat::kV3 && root_group.consolidated.is_object()) {
      LSIO_RETURN_IF_ERROR(AddV3Consolidated(root_group.consolidated, "",
                                             store.Describe("zarr.json"), 0, consolidated));
      found = true;
    } else if (format == ZarrFormat::kV2) {
      LSIO_ASSIGN_OR_RETURN(std::optional<json> zmetadata, ReadJson(store, ".zmetadata"));
      if (zmetadata) {
        LSIO_RETURN_IF_ERROR(
            AddV2Consolidated(*zmetadata, store.Describe(".zmetadata"), consolidated));
        found = true;
      }
    }
    if (found) {
      h.consolidated = true;
      for (auto& [path, node] : consolidated) {
        if (path.empty()) {
          // The root's own entry (v2 ".zgroup"/".zattrs"): the consolidated attributes win,
          // as zarr-python reads them from there.
          h.nodes.front().attributes = node.attributes;
          continue;
        }
        h.nodes.push_back(std::move(node));
      }
      SortNodes(h.nodes);
      return h;
    }
  }
  LSIO_RETURN_IF_ERROR(WalkGroup(store, "", 0, h.nodes));
  SortNodes(h.nodes);
  return h;
}

}  // namespace lsio::zarr

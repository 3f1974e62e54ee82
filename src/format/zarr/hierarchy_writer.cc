#include "lsio/format/zarr/hierarchy_writer.h"

#include <fmt/format.h>

#include "grid_text.h"
#include "lsio/base/json_util.h"
#include "lsio/kvstore/key.h"
#include "lsio/array/strided_copy.h"

namespace lsio::zarr {

using array::CopyBox;
using array::CopyBoxDim;

namespace {

// "a/b/c" -> "a/b", "a" -> "".
std::string ParentPath(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

int64_t Product(std::span<const int64_t> v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

}  // namespace

HierarchyWriter::HierarchyWriter(kvstore::Store& store, std::string prefix,
                                 const HierarchyWriteOptions& options,
                                 std::unique_ptr<kvstore::Publication> publication)
    : store_(&store),
      prefix_(std::move(prefix)),
      options_(options),
      publication_(std::move(publication)) {
  nodes_[""] = Node{};
}

HierarchyWriter::~HierarchyWriter() = default;

Result<std::unique_ptr<HierarchyWriter>> HierarchyWriter::Begin(
    kvstore::Store& store, std::string prefix, const HierarchyWriteOptions& options) {
  if (options.format != ZarrFormat::kV2 && options.format != ZarrFormat::kV3) {
    return InvalidArgumentError("HierarchyWriter: zarr format must be 2 or 3");
  }
  LSIO_RETURN_IF_ERROR(kvstore::ValidateKey(prefix));
  kvstore::PublishOptions publish;
  publish.replace = options.replace;
  Result<std::unique_ptr<kvstore::Publication>> publication =
      store.BeginPublish(prefix, publish);
  if (!publication.ok()) {
    return publication.status().WithContext("writing Zarr to " + store.Describe(prefix));
  }
  return std::unique_ptr<HierarchyWriter>(
      new HierarchyWriter(store, std::move(prefix), options, std::move(publication).value()));
}

std::string HierarchyWriter::Describe(std::string_view path) const {
  Result<std::string> key = kvstore::JoinKey(prefix_, path);
  return store_->Describe(key.ok() ? std::string_view(*key) : path);
}

Status HierarchyWriter::CreateGroup(std::string_view path, const nlohmann::json& attributes) {
  LSIO_RETURN_IF_ERROR(kvstore::ValidateKey(path));
  if (!attributes.is_object()) {
    return InvalidArgumentError(fmt::format("{}: group attributes must be a JSON object, got {}",
                                            Describe(path), lsio::internal::Abbreviate(attributes)));
  }
  std::lock_guard lock(mu_);
  if (committed_) return InvalidArgumentError("HierarchyWriter: already committed");
  auto it = nodes_.find(std::string(path));
  if (it != nodes_.end() && it->second.array) {
    return InvalidArgumentError(Describe(path) + ": already an array");
  }
  nodes_[std::string(path)].attributes = attributes;
  return Status::OK();
}

Result<const ArrayWriter*> HierarchyWriter::CreateArray(std::string_view path,
                                                        const ArrayWriteSpec& spec) {
  LSIO_RETURN_IF_ERROR(kvstore::ValidateKey(path));
  if (path.empty()) {
    return InvalidArgumentError(Describe(path) + ": the root of a hierarchy is a group");
  }
  if (spec.format != options_.format) {
    return InvalidArgumentError(fmt::format("{}: a Zarr v{} array in a v{} hierarchy",
                                            Describe(path), static_cast<int>(spec.format),
                                            static_cast<int>(options_.format)));
  }
  std::lock_guard lock(mu_);
  if (committed_) return InvalidArgumentError("HierarchyWriter: already committed");
  if (nodes_.count(std::string(path)) != 0) {
    return InvalidArgumentError(Describe(path) + ": already exists in this hierarchy");
  }
  // A node cannot sit below an array.
  for (std::string p = ParentPath(path); !p.empty(); p = ParentPath(p)) {
    auto it = nodes_.find(p);
    if (it != nodes_.end() && it->second.array) {
      return InvalidArgumentError(Describe(path) + ": its parent " + p + " is an array");
    }
  }
  LSIO_ASSIGN_OR_RETURN(ArrayWriter writer, ArrayWriter::Make(spec, Describe(path)));
  Node& node = nodes_[std::string(path)];
  node.array = std::make_unique<ArrayWriter>(std::move(writer));
  return node.array.get();
}

Result<const ArrayWriter*> HierarchyWriter::FindArray(std::string_view path) const {
  auto it = nodes_.find(std::string(path));
  if (it == nodes_.end() || !it->second.array) {
    return InvalidArgumentError(Describe(path) + ": no array was created there");
  }
  return it->second.array.get();
}

Status HierarchyWriter::AddLocked(std::string key, Buffer value) {
  if (committed_) return InvalidArgumentError("HierarchyWriter: already committed");
  pending_bytes_ += value.size();
  pending_.push_back(kvstore::KeyValue{std::move(key), std::move(value)});
  if (pending_bytes_ >= options_.batch_bytes) return FlushLocked();
  return Status::OK();
}

Status HierarchyWriter::FlushLocked() {
  if (pending_.empty()) return Status::OK();
  std::vector<kvstore::KeyValue> batch = std::move(pending_);
  pending_.clear();
  pending_bytes_ = 0;
  if (batch.size() == 1) {
    Status s = publication_->Write(batch[0].key, batch[0].value.span());
    if (!s.ok()) return s.WithContext("writing " + Describe(batch[0].key));
    return s;
  }
  Status s = publication_->WriteBatch(std::move(batch));
  if (!s.ok()) return s.WithContext("writing Zarr to " + store_->Describe(prefix_));
  return s;
}

Status HierarchyWriter::WriteEncoded(std::string_view path, std::span<const int64_t> unit,
                                     Buffer encoded) {
  const ArrayWriter* array;
  {
    std::lock_guard lock(mu_);
    LSIO_ASSIGN_OR_RETURN(array, FindArray(path));
  }
  const std::vector<int64_t> grid = array->unit_grid_shape();
  if (unit.size() != grid.size()) {
    return InvalidArgumentError(fmt::format("{}: unit {} has rank {}, the array {}",
                                            Describe(path), internal::GridText(unit), unit.size(),
                                            grid.size()));
  }
  for (size_t d = 0; d < grid.size(); ++d) {
    if (unit[d] < 0 || unit[d] >= grid[d]) {
      return InvalidArgumentError(fmt::format("{}: unit {} is outside its grid {}",
                                              Describe(path), internal::GridText(unit),
                                              lsio::internal::FormatShape(grid)));
    }
  }
  LSIO_ASSIGN_OR_RETURN(std::string key, kvstore::JoinKey(path, array->UnitKey(unit)));
  std::lock_guard lock(mu_);
  return AddLocked(std::move(key), std::move(encoded));
}

Status HierarchyWriter::WriteUnit(std::string_view path, std::span<const int64_t> unit,
                                  std::span<const std::byte> decoded) {
  const ArrayWriter* array;
  {
    std::lock_guard lock(mu_);
    LSIO_ASSIGN_OR_RETURN(array, FindArray(path));
  }
  LSIO_ASSIGN_OR_RETURN(std::optional<Buffer> encoded, array->EncodeUnit(unit, decoded));
  if (!encoded) return Status::OK();
  return WriteEncoded(path, unit, std::move(*encoded));
}

Status HierarchyWriter::WriteArray(std::string_view path, std::span<const std::byte> data) {
  const ArrayWriter* array;
  {
    std::lock_guard lock(mu_);
    LSIO_ASSIGN_OR_RETURN(array, FindArray(path));
  }
  const ArrayWriteSpec& spec = array->spec();
  const size_t elem = spec.data_type.item_size;
  const size_t rank = spec.shape.size();
  const int64_t elements = Product(spec.shape);
  if (data.size() != static_cast<size_t>(elements) * elem) {
    return InvalidArgumentError(fmt::format("{}: {} bytes given for an array of {} {} ({} bytes)",
                                            Describe(path), data.size(),
                                            lsio::internal::FormatShape(spec.shape),
                                            spec.data_type.name,
                                            static_cast<size_t>(elements) * elem));
  }
  if (elements == 0) return Status::OK();
  const std::vector<int64_t> grid = array->unit_grid_shape();
  const std::vector<int64_t>& unit_shape = array->unit_shape();
  // Units that split only the first dimension are contiguous runs of `data`.
  bool runs = true;
  for (size_t d = 1; d < rank; ++d) runs = runs && unit_shape[d] >= spec.shape[d];
  Buffer scratch;
  std::vector<CopyBoxDim> box(rank);
  for (int64_t i = 0, n = Product(grid); i < n; ++i) {
    const std::vector<int64_t> unit = internal::Unravel(i, grid);
    const std::vector<int64_t> origin = array->UnitOrigin(unit);
    const std::vector<int64_t> extent = array->UnitExtent(unit);
    const size_t bytes = static_cast<size_t>(Product(extent)) * elem;
    std::span<const std::byte> part;
    if (runs) {
      const size_t row = rank == 0 ? elem : bytes / static_cast<size_t>(extent[0]);
      part = data.subspan(rank == 0 ? 0 : static_cast<size_t>(origin[0]) * row, bytes);
    } else {
      if (scratch.size() < bytes) {
        LSIO_ASSIGN_OR_RETURN(scratch, DefaultBufferPool().Acquire(
                                           static_cast<size_t>(Product(unit_shape)) * elem));
      }
      for (size_t d = 0; d < rank; ++d) box[d] = CopyBoxDim{origin[d], 1, 0, extent[d]};
      std::span<std::byte> dst = scratch.mutable_span().subspan(0, bytes);
      LSIO_RETURN_IF_ERROR(CopyBox(data, spec.shape, dst, extent, box, elem));
      part = dst;
    }
    LSIO_RETURN_IF_ERROR(WriteUnit(path, unit, part));
  }
  return Status::OK();
}

Status HierarchyWriter::Commit() {
  std::lock_guard lock(mu_);
  if (committed_) return InvalidArgumentError("HierarchyWriter: already committed");
  // Parents of every node are groups.
  std::vector<std::string> parents;
  for (const auto& [path, node] : nodes_) {
    for (std::string p = ParentPath(path); !p.empty(); p = ParentPath(p)) parents.push_back(p);
  }
  for (const std::string& p : parents) {
    auto it = nodes_.find(p);
    if (it == nodes_.end()) {
      nodes_[p] = Node{};
    } else if (it->second.array) {
      return InvalidArgumentError(Describe(p) + ": an array cannot hold other nodes");
    }
  }
  NodeDocuments documents;
  for (const auto& [path, node] : nodes_) {
    if (node.array) {
      documents[path] = node.array->documents();
    } else {
      LSIO_ASSIGN_OR_RETURN(documents[path], GroupMetadataDocuments(options_.format,
                                                                     node.attributes,
                                                                     Describe(path)));
    }
  }
  std::optional<MetadataDocument> consolidated;
  if (options_.consolidated) {
    LSIO_ASSIGN_OR_RETURN(MetadataDocument doc,
                          ConsolidatedMetadataDocument(options_.format, documents));
    consolidated.emplace(std::move(doc));
  }
  for (const auto& [path, docs] : documents) {
    for (const MetadataDocument& d : docs) {
      // In v3 the consolidated document is the root's zarr.json itself.
      if (consolidated && path.empty() && d.key == consolidated->key) continue;
      LSIO_ASSIGN_OR_RETURN(std::string key, kvstore::JoinKey(path, d.key));
      pending_.push_back(kvstore::KeyValue{std::move(key),
                                           Buffer::CopyOf(SerializeMetadata(d.json))});
    }
  }
  if (consolidated) {
    pending_.push_back(kvstore::KeyValue{consolidated->key,
                                         Buffer::CopyOf(SerializeMetadata(consolidated->json))});
  }
  LSIO_RETURN_IF_ERROR(FlushLocked());
  committed_ = true;
  Status s = publication_->Commit();
  if (!s.ok()) return s.WithContext("publishing Zarr at " + store_->Describe(prefix_));
  return s;
}

}  // namespace lsio::zarr

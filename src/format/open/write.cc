#include "lsio/format/write.h"

#include <algorithm>
#include <set>

#include "lsio/format/zarr/hierarchy_writer.h"
#include "lsio/format/zarr/metadata_write.h"
#include "lsio/kvstore/key.h"

namespace lsio::format {

namespace {

// Chunks of at most ~64 MiB, split along the first dimension only.
std::vector<int64_t> FirstDimensionChunks(const std::vector<int64_t>& shape, size_t item_size) {
  std::vector<int64_t> chunks = shape;
  int64_t row_bytes = static_cast<int64_t>(std::max<size_t>(item_size, 1));
  for (size_t d = 1; d < shape.size(); ++d) row_bytes *= std::max<int64_t>(shape[d], 1);
  if (!shape.empty()) chunks[0] = std::min<int64_t>(shape[0], (int64_t{64} << 20) / row_bytes);
  for (int64_t& c : chunks) c = std::max<int64_t>(c, 1);
  return chunks;
}

}  // namespace

array::ElementType NumericElementType(DataType type) { return zarr::NumericZarrDataType(type); }

Result<array::ElementType> ParseNumpyTypeString(std::string_view typestring) {
  return zarr::ParseZarrV2DataType(nlohmann::json(std::string(typestring)));
}

Status CheckDatasetWriteOptions(const DatasetWriteOptions& options) {
  if (options.zarr_format != 2 && options.zarr_format != 3) {
    return InvalidArgumentError("Zarr format must be 2 or 3, got " +
                                std::to_string(options.zarr_format));
  }
  return zarr::ParseCodecList(options.codecs).status();
}

Status WriteDataset(kvstore::Store& store, const nlohmann::json& attributes,
                    std::span<const OutputArray> arrays, const DatasetWriteOptions& options) {
  LSIO_RETURN_IF_ERROR(CheckDatasetWriteOptions(options));
  LSIO_ASSIGN_OR_RETURN(std::vector<zarr::CodecSpec> codecs,
                        zarr::ParseCodecList(options.codecs));
  const zarr::ZarrFormat format =
      options.zarr_format == 2 ? zarr::ZarrFormat::kV2 : zarr::ZarrFormat::kV3;
  zarr::HierarchyWriteOptions wo;
  wo.format = format;
  wo.consolidated = options.consolidated;
  wo.replace = options.replace;
  LSIO_ASSIGN_OR_RETURN(std::unique_ptr<zarr::HierarchyWriter> w,
                        zarr::HierarchyWriter::Begin(store, "", wo));
  LSIO_RETURN_IF_ERROR(w->CreateGroup("", attributes));
  for (const OutputArray& a : arrays) {
    zarr::ArrayWriteSpec spec;
    spec.format = format;
    spec.data_type = a.type;
    spec.shape = a.shape;
    spec.chunk_shape = FirstDimensionChunks(a.shape, a.type.item_size);
    spec.codecs = codecs;
    if (a.type.is_numeric() && (IsFloat(a.type.storage) || IsComplex(a.type.storage))) {
      spec.fill_value = IsComplex(a.type.storage) ? nlohmann::json::array({"NaN", "NaN"})
                                                  : nlohmann::json("NaN");
    }
    spec.dimension_names = a.dims;
    spec.attributes = a.attributes;
    // The names are the dims; a stale copy in the attributes would only disagree.
    if (spec.attributes.is_object()) spec.attributes.erase("_ARRAY_DIMENSIONS");
    LSIO_RETURN_IF_ERROR(w->CreateArray(a.name, spec).status());
    LSIO_RETURN_IF_ERROR(w->WriteArray(a.name, a.values));
  }
  return w->Commit();
}

namespace {

class ZarrDatasetWriter final : public DatasetWriter {
 public:
  ZarrDatasetWriter(std::unique_ptr<zarr::HierarchyWriter> writer, zarr::ZarrFormat format,
                    std::vector<zarr::CodecSpec> codecs)
      : writer_(std::move(writer)), format_(format), codecs_(std::move(codecs)) {}

  Result<int> AddArray(const OutputArraySpec& a) override {
    zarr::ArrayWriteSpec spec;
    spec.format = format_;
    spec.data_type = a.type;
    spec.shape = a.shape;
    spec.chunk_shape =
        a.chunk_shape.empty() ? FirstDimensionChunks(a.shape, a.type.item_size) : a.chunk_shape;
    spec.codecs = codecs_;
    if (a.type.is_numeric() && (IsFloat(a.type.storage) || IsComplex(a.type.storage))) {
      spec.fill_value = IsComplex(a.type.storage) ? nlohmann::json::array({"NaN", "NaN"})
                                                  : nlohmann::json("NaN");
    }
    spec.dimension_names = a.dims;
    spec.attributes = a.attributes;
    if (spec.attributes.is_object()) spec.attributes.erase("_ARRAY_DIMENSIONS");
    LSIO_RETURN_IF_ERROR(writer_->CreateArray(a.name, spec).status());
    names_.push_back(a.name);
    return static_cast<int>(names_.size()) - 1;
  }

  Status WriteArray(int array, std::span<const std::byte> values) override {
    LSIO_ASSIGN_OR_RETURN(const std::string* name, Name(array));
    return writer_->WriteArray(*name, values);
  }

  Status WriteChunk(int array, std::span<const int64_t> chunk,
                    std::span<const std::byte> values) override {
    LSIO_ASSIGN_OR_RETURN(const std::string* name, Name(array));
    return writer_->WriteUnit(*name, chunk, values);
  }

  Status Commit() override { return writer_->Commit(); }

 private:
  Result<const std::string*> Name(int array) const {
    if (array < 0 || static_cast<size_t>(array) >= names_.size()) {
      return InvalidArgumentError("DatasetWriter: no array number " + std::to_string(array));
    }
    return &names_[static_cast<size_t>(array)];
  }

  std::unique_ptr<zarr::HierarchyWriter> writer_;
  zarr::ZarrFormat format_;
  std::vector<zarr::CodecSpec> codecs_;
  std::vector<std::string> names_;
};

// "a/b/c" -> "a/b", "a" -> "".
std::string ParentOf(std::string_view path) {
  const size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

class ZarrUnitEncoder final : public UnitEncoder {
 public:
  ZarrUnitEncoder(ArrayLayout layout, zarr::ArrayWriter writer)
      : layout_(std::move(layout)), writer_(std::move(writer)) {}

  const ArrayLayout& layout() const override { return layout_; }
  const std::vector<int64_t>& unit_shape() const override { return writer_.unit_shape(); }
  std::vector<int64_t> unit_grid_shape() const override { return writer_.unit_grid_shape(); }
  std::string UnitKey(std::span<const int64_t> unit) const override {
    return layout_.name + "/" + writer_.UnitKey(unit);
  }
  std::vector<int64_t> UnitOrigin(std::span<const int64_t> unit) const override {
    return writer_.UnitOrigin(unit);
  }
  std::vector<int64_t> UnitExtent(std::span<const int64_t> unit) const override {
    return writer_.UnitExtent(unit);
  }
  Result<std::optional<Buffer>> EncodeUnit(std::span<const int64_t> unit,
                                           std::span<const std::byte> decoded) const override {
    return writer_.EncodeUnit(unit, decoded);
  }
  std::vector<kvstore::KeyValue> MetadataValues() const override {
    std::vector<kvstore::KeyValue> out;
    for (const zarr::MetadataDocument& d : writer_.documents()) {
      out.push_back(kvstore::KeyValue{layout_.name + "/" + d.key,
                                      Buffer::CopyOf(zarr::SerializeMetadata(d.json))});
    }
    return out;
  }
  const zarr::ArrayWriter& writer() const { return writer_; }

 private:
  ArrayLayout layout_;
  zarr::ArrayWriter writer_;
};

}  // namespace

Result<std::unique_ptr<DatasetWriter>> DatasetWriter::Begin(kvstore::Store& store,
                                                            const nlohmann::json& attributes,
                                                            const DatasetWriteOptions& options) {
  LSIO_RETURN_IF_ERROR(CheckDatasetWriteOptions(options));
  LSIO_ASSIGN_OR_RETURN(std::vector<zarr::CodecSpec> codecs,
                        zarr::ParseCodecList(options.codecs));
  const zarr::ZarrFormat format =
      options.zarr_format == 2 ? zarr::ZarrFormat::kV2 : zarr::ZarrFormat::kV3;
  zarr::HierarchyWriteOptions wo;
  wo.format = format;
  wo.consolidated = options.consolidated;
  wo.replace = options.replace;
  LSIO_ASSIGN_OR_RETURN(std::unique_ptr<zarr::HierarchyWriter> w,
                        zarr::HierarchyWriter::Begin(store, "", wo));
  LSIO_RETURN_IF_ERROR(w->CreateGroup("", attributes));
  return std::unique_ptr<DatasetWriter>(
      std::make_unique<ZarrDatasetWriter>(std::move(w), format, std::move(codecs)));
}

Result<std::unique_ptr<UnitEncoder>> UnitEncoder::Make(const ArrayLayout& layout,
                                                       const DatasetWriteOptions& options,
                                                       std::string where) {
  LSIO_RETURN_IF_ERROR(CheckDatasetWriteOptions(options));
  LSIO_RETURN_IF_ERROR(kvstore::ValidateKey(layout.name));
  if (layout.name.empty()) {
    return InvalidArgumentError(where + ": an array needs a name (the root is a group)");
  }
  LSIO_ASSIGN_OR_RETURN(std::vector<zarr::CodecSpec> codecs,
                        zarr::ParseCodecList(options.codecs));
  zarr::ArrayWriteSpec spec;
  spec.format = options.zarr_format == 2 ? zarr::ZarrFormat::kV2 : zarr::ZarrFormat::kV3;
  spec.data_type = layout.type;
  spec.shape = layout.shape;
  spec.chunk_shape = layout.chunk_shape;
  if (!layout.shard_shape.empty()) {
    zarr::ShardingWriteSpec sharding;
    sharding.shard_shape = layout.shard_shape;
    spec.sharding = sharding;
  }
  spec.endian = layout.endian;
  spec.codecs = std::move(codecs);
  if (!layout.fill_value.empty() || layout.fill_value_none) {
    zarr::FillValue fill;
    fill.bytes = layout.fill_value;
    fill.is_null = layout.fill_value_none;
    if (fill.bytes.empty()) fill.bytes.assign(layout.type.item_size, std::byte{0});
    spec.fill_value = zarr::FillValueJson(fill, layout.type, spec.format);
    if (spec.fill_value.is_null() && !layout.fill_value_none) {
      return NotSupportedError(where + ": cannot write the fill value of data type " +
                               layout.type.name);
    }
  }
  spec.dimension_names = layout.dims;
  spec.attributes = layout.attributes.is_object() ? layout.attributes
                                                  : nlohmann::json::object();
  spec.attributes.erase("_ARRAY_DIMENSIONS");
  LSIO_ASSIGN_OR_RETURN(zarr::ArrayWriter writer, zarr::ArrayWriter::Make(spec, std::move(where)));
  return std::unique_ptr<UnitEncoder>(new ZarrUnitEncoder(layout, std::move(writer)));
}

Result<std::vector<kvstore::KeyValue>> DatasetMetadataValues(
    const std::map<std::string, nlohmann::json>& groups,
    std::span<const UnitEncoder* const> arrays, const DatasetWriteOptions& options) {
  LSIO_RETURN_IF_ERROR(CheckDatasetWriteOptions(options));
  const zarr::ZarrFormat format =
      options.zarr_format == 2 ? zarr::ZarrFormat::kV2 : zarr::ZarrFormat::kV3;
  zarr::NodeDocuments documents;
  std::set<std::string> array_paths;
  for (const UnitEncoder* a : arrays) {
    const auto* z = static_cast<const ZarrUnitEncoder*>(a);
    documents[a->layout().name] = z->writer().documents();
    array_paths.insert(a->layout().name);
  }
  std::map<std::string, nlohmann::json> all_groups = groups;
  all_groups.try_emplace("", nlohmann::json::object());
  for (const auto& [path, docs] : documents) {
    for (std::string p = ParentOf(path); !p.empty(); p = ParentOf(p)) {
      all_groups.try_emplace(p, nlohmann::json::object());
    }
  }
  for (const auto& [path, attributes] : all_groups) {
    if (array_paths.count(path) != 0) {
      return InvalidArgumentError("'" + path + "' is both a group and an array");
    }
    LSIO_ASSIGN_OR_RETURN(documents[path],
                          zarr::GroupMetadataDocuments(
                              format, attributes.is_object() ? attributes
                                                             : nlohmann::json::object(),
                              path.empty() ? "/" : path));
  }
  std::optional<zarr::MetadataDocument> consolidated;
  if (options.consolidated) {
    LSIO_ASSIGN_OR_RETURN(zarr::MetadataDocument doc,
                          zarr::ConsolidatedMetadataDocument(format, documents));
    consolidated.emplace(std::move(doc));
  }
  std::vector<kvstore::KeyValue> out;
  std::vector<kvstore::KeyValue> root;
  for (const auto& [path, docs] : documents) {
    for (const zarr::MetadataDocument& d : docs) {
      if (consolidated && path.empty() && d.key == consolidated->key) continue;
      LSIO_ASSIGN_OR_RETURN(std::string key, kvstore::JoinKey(path, d.key));
      kvstore::KeyValue kv{std::move(key), Buffer::CopyOf(zarr::SerializeMetadata(d.json))};
      (path.empty() ? root : out).push_back(std::move(kv));
    }
  }
  if (consolidated) {
    root.push_back(kvstore::KeyValue{consolidated->key,
                                     Buffer::CopyOf(zarr::SerializeMetadata(consolidated->json))});
  }
  for (kvstore::KeyValue& kv : root) out.push_back(std::move(kv));
  return out;
}

}  // namespace lsio::format

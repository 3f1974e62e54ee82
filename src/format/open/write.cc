#include "lsio/format/write.h"

#include <algorithm>

#include "lsio/format/zarr/hierarchy_writer.h"

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

}  // namespace lsio::format

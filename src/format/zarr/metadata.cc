#include "lsio/format/zarr/metadata.h"

#include <algorithm>

#include "lsio/base/json_util.h"

namespace lsio::zarr {

using lsio::internal::Abbreviate;
using lsio::internal::FieldError;
using nlohmann::json;

namespace {

// Sharding nested deeper than this is certainly not a real store.
constexpr int kMaxShardingDepth = 8;

const json& Member(const json& object, std::string_view key) {
  static const json kNull = nullptr;
  auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

std::string CodecName(const json& codec) {
  if (codec.is_string()) return codec.get<std::string>();
  if (codec.is_object()) {
    const json& name = Member(codec, "name");
    if (name.is_string()) return name.get<std::string>();
  }
  return {};
}

const json& CodecConfiguration(const json& codec) {
  static const json kEmpty = json::object();
  if (!codec.is_object()) return kEmpty;
  const json& config = Member(codec, "configuration");
  return config.is_object() ? config : kEmpty;
}

// Zarr v3 extension points: an unknown member is an error unless it is an object that says
// "must_understand": false.
Status CheckUnknownMembers(const json& object, std::initializer_list<std::string_view> known,
                           std::string_view file) {
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
    const json& v = it.value();
    // A null member carries nothing to understand (some writers emit
    // "consolidated_metadata": null on every node).
    if (v.is_null()) continue;
    if (v.is_object()) {
      const json& mu = Member(v, "must_understand");
      if (mu.is_boolean() && !mu.get<bool>()) continue;
    }
    return NotSupportedError(std::string(file) + ": field '" + it.key() +
                             "' is not supported (an extension lsio must understand)");
  }
  return Status::OK();
}

Status CheckSizes(const ArrayMetadata& m, std::string_view file) {
  const size_t item = m.data_type.item_size;
  std::optional<int64_t> elements = lsio::internal::CheckedProduct(m.shape);
  std::optional<int64_t> bytes =
      elements ? lsio::internal::CheckedMul(*elements, static_cast<int64_t>(item)) : std::nullopt;
  if (!bytes) {
    return InvalidArgumentError(std::string(file) + ": declared shape " +
                                lsio::internal::FormatShape(m.shape) + " of " + m.data_type.name +
                                " has a byte size that overflows 64 bits");
  }
  std::optional<int64_t> chunk_elements = lsio::internal::CheckedProduct(m.chunk_shape);
  std::optional<int64_t> chunk_bytes =
      chunk_elements ? lsio::internal::CheckedMul(*chunk_elements, static_cast<int64_t>(item))
                     : std::nullopt;
  if (!chunk_bytes) {
    return InvalidArgumentError(std::string(file) + ": chunk shape " +
                                lsio::internal::FormatShape(m.chunk_shape) + " of " +
                                m.data_type.name + " has a byte size that overflows 64 bits");
  }
  const std::vector<int64_t>& read_shape = m.read_chunk_shape();
  std::optional<int64_t> read_elements = lsio::internal::CheckedProduct(read_shape);
  const int64_t read_bytes = *read_elements * static_cast<int64_t>(item);
  if (read_bytes > kMaxChunkBytes) {
    return NotSupportedError(std::string(file) + ": chunks of " + std::to_string(read_bytes) +
                             " bytes (" + lsio::internal::FormatShape(read_shape) +
                             ") exceed lsio's limit of " + std::to_string(kMaxChunkBytes) +
                             " bytes per chunk");
  }
  return Status::OK();
}

Result<uint64_t> IndexEncodedSize(const json& index_codecs, int64_t num_chunks,
                                  std::string_view file) {
  std::optional<int64_t> n = lsio::internal::CheckedMul(num_chunks, 16);
  if (!n) return InvalidArgumentError(std::string(file) + ": shard index size overflows");
  uint64_t size = static_cast<uint64_t>(*n);
  bool seen_bytes = false;
  for (const json& c : index_codecs) {
    const std::string name = CodecName(c);
    if (name == "bytes") {
      seen_bytes = true;
    } else if (name == "crc32c") {
      size += 4;
    } else if (name == "transpose" && !seen_bytes) {
      // Reorders the index without changing its size.
    } else {
      return NotSupportedError(std::string(file) + ": shard index codec '" + name +
                               "' is not supported (only bytes and crc32c give an index of "
                               "known size)");
    }
  }
  if (!seen_bytes) {
    return InvalidArgumentError(std::string(file) +
                                ": shard index_codecs have no array->bytes codec");
  }
  return size;
}

Result<std::shared_ptr<const ShardingSpec>> ParseSharding(const json& config,
                                                          const std::vector<int64_t>& shard_shape,
                                                          std::string_view file, int depth) {
  if (depth > kMaxShardingDepth) {
    return InvalidArgumentError(std::string(file) + ": sharding nested more than " +
                                std::to_string(kMaxShardingDepth) + " levels deep");
  }
  if (!config.is_object()) {
    return FieldError(file, "sharding_indexed.configuration", "expected an object");
  }
  auto spec = std::make_shared<ShardingSpec>();
  spec->shard_shape = shard_shape;
  LSIO_ASSIGN_OR_RETURN(spec->inner_chunk_shape,
                        lsio::internal::GetShape(Member(config, "chunk_shape"), file,
                                           "sharding_indexed.chunk_shape", /*allow_zero=*/false));
  if (spec->inner_chunk_shape.size() != shard_shape.size()) {
    return FieldError(file, "sharding_indexed.chunk_shape",
                      "rank " + std::to_string(spec->inner_chunk_shape.size()) +
                          " differs from the shard's rank " + std::to_string(shard_shape.size()));
  }
  for (size_t i = 0; i < shard_shape.size(); ++i) {
    if (shard_shape[i] % spec->inner_chunk_shape[i] != 0) {
      return FieldError(file, "sharding_indexed.chunk_shape",
                        lsio::internal::FormatShape(spec->inner_chunk_shape) +
                            " does not evenly divide the shard shape " +
                            lsio::internal::FormatShape(shard_shape));
    }
    spec->chunks_per_shard.push_back(shard_shape[i] / spec->inner_chunk_shape[i]);
  }
  std::optional<int64_t> num_chunks = lsio::internal::CheckedProduct(spec->chunks_per_shard);
  if (!num_chunks) return InvalidArgumentError(std::string(file) + ": too many inner chunks");

  const json& codecs = Member(config, "codecs");
  if (!codecs.is_array() || codecs.empty()) {
    return FieldError(file, "sharding_indexed.codecs", "expected a non-empty list");
  }
  spec->codecs = codecs;
  if (CodecName(codecs[0]) == "sharding_indexed") {
    if (codecs.size() != 1) {
      return NotSupportedError(std::string(file) +
                               ": nested sharding_indexed followed by other codecs is not "
                               "supported");
    }
    LSIO_ASSIGN_OR_RETURN(spec->nested, ParseSharding(CodecConfiguration(codecs[0]),
                                                      spec->inner_chunk_shape, file, depth + 1));
  } else {
    for (const json& c : codecs) {
      if (CodecName(c) == "sharding_indexed") {
        return NotSupportedError(std::string(file) +
                                 ": sharding_indexed after other codecs is not supported");
      }
    }
  }

  const json& index_codecs = Member(config, "index_codecs");
  if (index_codecs.is_null()) {
    // zarr-python's default.
    spec->index_codecs = json::array({{{"name", "bytes"}, {"configuration", {{"endian",
                                                                              "little"}}}},
                                      {{"name", "crc32c"}}});
  } else if (index_codecs.is_array() && !index_codecs.empty()) {
    spec->index_codecs = index_codecs;
  } else {
    return FieldError(file, "sharding_indexed.index_codecs", "expected a non-empty list");
  }
  LSIO_ASSIGN_OR_RETURN(spec->index_encoded_size,
                        IndexEncodedSize(spec->index_codecs, *num_chunks, file));

  const json& location = Member(config, "index_location");
  if (location.is_null() || location == "end") {
    spec->index_location = ShardIndexLocation::kEnd;
  } else if (location == "start") {
    spec->index_location = ShardIndexLocation::kStart;
  } else {
    return FieldError(file, "sharding_indexed.index_location",
                      "expected \"start\" or \"end\", got " + Abbreviate(location));
  }
  return std::shared_ptr<const ShardingSpec>(std::move(spec));
}

Result<std::vector<std::string>> V2DimensionNames(const json& attrs, size_t rank,
                                                  std::string_view attrs_file) {
  std::vector<std::string> names;
  if (!attrs.is_object()) return names;
  const json& dims = Member(attrs, "_ARRAY_DIMENSIONS");
  if (dims.is_null()) return names;
  if (!dims.is_array() || dims.size() != rank) {
    return FieldError(attrs_file, "_ARRAY_DIMENSIONS",
                      "expected a list of " + std::to_string(rank) + " names, got " +
                          Abbreviate(dims));
  }
  for (const json& d : dims) {
    if (!d.is_string()) {
      return FieldError(attrs_file, "_ARRAY_DIMENSIONS", "names must be strings");
    }
    names.push_back(d.get<std::string>());
  }
  return names;
}

void DescribeCodecInto(const json& codec, std::string& out) {
  const json& id = codec.is_object() ? Member(codec, "id") : json();
  out += id.is_string() ? id.get<std::string>() : CodecName(codec);
  const json& config = id.is_string() ? codec  // a v2 numcodecs config: all but "id"
                                       : CodecConfiguration(codec);
  std::string args;
  for (auto it = config.begin(); it != config.end(); ++it) {
    if (&config == &codec && it.key() == "id") continue;
    if (!args.empty()) args += ", ";
    args += it.key() + "=";
    if (it.value().is_string()) {
      args += it.value().get<std::string>();
    } else if (it.key() == "codecs" || it.key() == "index_codecs") {
      args += "[";
      bool first = true;
      for (const json& c : it.value()) {
        if (!first) args += " -> ";
        first = false;
        DescribeCodecInto(c, args);
      }
      args += "]";
    } else {
      args += Abbreviate(it.value(), 60);
    }
  }
  if (!args.empty()) out += "(" + args + ")";
}

}  // namespace

Result<json> ParseMetadataJson(std::string_view text, std::string_view file) {
  return lsio::internal::ParseJson(text, file);
}

std::string DumpMetadataJson(const json& j, int indent) { return internal::DumpJson(j, indent); }

int64_t ShardingSpec::num_inner_chunks() const {
  return lsio::internal::CheckedProduct(chunks_per_shard).value_or(0);
}

const std::vector<int64_t>& ShardingSpec::innermost_chunk_shape() const {
  const ShardingSpec* s = this;
  while (s->nested) s = s->nested.get();
  return s->inner_chunk_shape;
}

std::vector<int64_t> ArrayMetadata::grid_shape() const {
  std::vector<int64_t> g(shape.size());
  for (size_t i = 0; i < shape.size(); ++i) {
    g[i] = shape[i] == 0 ? 0 : (shape[i] - 1) / chunk_shape[i] + 1;
  }
  return g;
}

int64_t ArrayMetadata::num_chunks() const {
  return lsio::internal::CheckedProduct(grid_shape()).value_or(0);
}

int64_t ArrayMetadata::logical_bytes() const {
  return lsio::internal::CheckedProduct(shape).value_or(0) *
         static_cast<int64_t>(data_type.item_size);
}

const std::vector<int64_t>& ArrayMetadata::read_chunk_shape() const {
  return sharding ? sharding->innermost_chunk_shape() : chunk_shape;
}

Result<ArrayMetadata> ParseZarrV2Array(const json& zarray, const json& zattrs,
                                       std::string_view file, std::string_view attrs_file) {
  if (attrs_file.empty()) attrs_file = file;
  if (!zarray.is_object()) {
    return InvalidArgumentError(std::string(file) + ": expected a JSON object");
  }
  ArrayMetadata m;
  m.zarr_format = ZarrFormat::kV2;
  m.metadata_file = std::string(file);
  const json& format = Member(zarray, "zarr_format");
  if (!format.is_null() && format != 2) {
    return FieldError(file, "zarr_format", "expected 2, got " + Abbreviate(format));
  }
  LSIO_ASSIGN_OR_RETURN(m.shape, lsio::internal::GetShape(Member(zarray, "shape"), file, "shape",
                                                    /*allow_zero=*/true));
  LSIO_ASSIGN_OR_RETURN(m.chunk_shape, lsio::internal::GetShape(Member(zarray, "chunks"), file,
                                                          "chunks", /*allow_zero=*/false));
  if (m.chunk_shape.size() != m.shape.size()) {
    return FieldError(file, "chunks",
                      "rank " + std::to_string(m.chunk_shape.size()) +
                          " differs from the rank of shape " + lsio::internal::FormatShape(m.shape));
  }

  m.filters = Member(zarray, "filters");
  if (!m.filters.is_null() && !m.filters.is_array()) {
    return FieldError(file, "filters", "expected null or a list");
  }
  std::string object_codec;
  if (m.filters.is_array()) {
    for (const json& f : m.filters) {
      if (!f.is_object() || !Member(f, "id").is_string()) {
        return FieldError(file, "filters", "each filter needs an \"id\", got " + Abbreviate(f));
      }
    }
    if (!m.filters.empty()) object_codec = m.filters[0]["id"].get<std::string>();
  }
  m.compressor = Member(zarray, "compressor");
  if (!m.compressor.is_null() &&
      !(m.compressor.is_object() && Member(m.compressor, "id").is_string())) {
    return FieldError(file, "compressor",
                      "expected null or an object with an \"id\", got " +
                          Abbreviate(m.compressor));
  }

  Result<ZarrDataType> dtype = ParseZarrV2DataType(Member(zarray, "dtype"), object_codec);
  if (!dtype.ok()) return dtype.status().WithContext(std::string(file) + ": field 'dtype'");
  m.data_type = std::move(dtype).value();
  LSIO_ASSIGN_OR_RETURN(m.fill_value, ResolveFillValue(Member(zarray, "fill_value"), m.data_type,
                                                       ZarrFormat::kV2, file));

  const json& order = Member(zarray, "order");
  if (order.is_null() || order == "C") {
    m.order = 'C';
  } else if (order == "F") {
    m.order = 'F';
  } else {
    return FieldError(file, "order", "expected \"C\" or \"F\", got " + Abbreviate(order));
  }
  const json& sep = Member(zarray, "dimension_separator");
  m.chunk_key_encoding.kind = ChunkKeyEncoding::Kind::kV2;
  if (sep.is_null() || sep == ".") {
    m.chunk_key_encoding.separator = '.';
  } else if (sep == "/") {
    m.chunk_key_encoding.separator = '/';
  } else {
    return FieldError(file, "dimension_separator",
                      "expected \".\" or \"/\", got " + Abbreviate(sep));
  }

  if (!zattrs.is_null() && !zattrs.is_object()) {
    return InvalidArgumentError(std::string(attrs_file) + ": expected a JSON object");
  }
  if (zattrs.is_object()) m.attributes = zattrs;
  LSIO_ASSIGN_OR_RETURN(m.dimension_names,
                        V2DimensionNames(m.attributes, m.shape.size(), attrs_file));
  LSIO_RETURN_IF_ERROR(CheckSizes(m, file));
  return m;
}

Result<GroupMetadata> ParseZarrV2Group(const json& zgroup, const json& zattrs,
                                       std::string_view file) {
  if (!zgroup.is_object()) {
    return InvalidArgumentError(std::string(file) + ": expected a JSON object");
  }
  const json& format = Member(zgroup, "zarr_format");
  if (!format.is_null() && format != 2) {
    return FieldError(file, "zarr_format", "expected 2, got " + Abbreviate(format));
  }
  GroupMetadata g;
  g.zarr_format = ZarrFormat::kV2;
  g.metadata_file = std::string(file);
  if (!zattrs.is_null() && !zattrs.is_object()) {
    return InvalidArgumentError(std::string(file) + ": attributes are not a JSON object");
  }
  if (zattrs.is_object()) g.attributes = zattrs;
  return g;
}

Result<ArrayMetadata> ParseZarrV3Array(const json& j, std::string_view file) {
  if (!j.is_object()) return InvalidArgumentError(std::string(file) + ": expected a JSON object");
  if (Member(j, "zarr_format") != 3) {
    return FieldError(file, "zarr_format", "expected 3, got " +
                                               Abbreviate(Member(j, "zarr_format")));
  }
  if (Member(j, "node_type") != "array") {
    return FieldError(file, "node_type",
                      "expected \"array\", got " + Abbreviate(Member(j, "node_type")));
  }
  LSIO_RETURN_IF_ERROR(CheckUnknownMembers(
      j,
      {"zarr_format", "node_type", "shape", "data_type", "chunk_grid", "chunk_key_encoding",
       "fill_value", "codecs", "attributes", "storage_transformers", "dimension_names"},
      file));

  ArrayMetadata m;
  m.zarr_format = ZarrFormat::kV3;
  m.metadata_file = std::string(file);
  LSIO_ASSIGN_OR_RETURN(m.shape,
                        lsio::internal::GetShape(Member(j, "shape"), file, "shape", /*allow_zero=*/true));

  const json& grid = Member(j, "chunk_grid");
  const std::string grid_name = CodecName(grid);
  if (grid_name.empty()) {
    return FieldError(file, "chunk_grid", "expected an object with a name, got " +
                                              Abbreviate(grid));
  }
  if (grid_name != "regular") {
    return NotSupportedError(std::string(file) + ": chunk grid " + grid_name +
                             " is not supported");
  }
  LSIO_ASSIGN_OR_RETURN(m.chunk_shape,
                        lsio::internal::GetShape(Member(CodecConfiguration(grid), "chunk_shape"), file,
                                           "chunk_grid.configuration.chunk_shape",
                                           /*allow_zero=*/false));
  if (m.chunk_shape.size() != m.shape.size()) {
    return FieldError(file, "chunk_grid",
                      "chunk shape " + lsio::internal::FormatShape(m.chunk_shape) +
                          " and shape " + lsio::internal::FormatShape(m.shape) + " differ in rank");
  }

  const json& cke = Member(j, "chunk_key_encoding");
  const std::string cke_name = CodecName(cke);
  if (cke_name == "default") {
    m.chunk_key_encoding = {ChunkKeyEncoding::Kind::kDefault, '/'};
  } else if (cke_name == "v2") {
    m.chunk_key_encoding = {ChunkKeyEncoding::Kind::kV2, '.'};
  } else if (cke_name.empty()) {
    return FieldError(file, "chunk_key_encoding",
                      "expected an object with a name, got " + Abbreviate(cke));
  } else {
    return NotSupportedError(std::string(file) + ": chunk key encoding " + cke_name +
                             " is not supported");
  }
  const json& sep = Member(CodecConfiguration(cke), "separator");
  if (sep == "/") {
    m.chunk_key_encoding.separator = '/';
  } else if (sep == ".") {
    m.chunk_key_encoding.separator = '.';
  } else if (!sep.is_null()) {
    return FieldError(file, "chunk_key_encoding.configuration.separator",
                      "expected \"/\" or \".\", got " + Abbreviate(sep));
  }

  Result<ZarrDataType> dtype = ParseZarrV3DataType(Member(j, "data_type"));
  if (!dtype.ok()) return dtype.status().WithContext(std::string(file) + ": field 'data_type'");
  m.data_type = std::move(dtype).value();
  if (!j.contains("fill_value")) return FieldError(file, "fill_value", "missing");
  LSIO_ASSIGN_OR_RETURN(m.fill_value, ResolveFillValue(Member(j, "fill_value"), m.data_type,
                                                       ZarrFormat::kV3, file));

  m.codecs = Member(j, "codecs");
  if (!m.codecs.is_array() || m.codecs.empty()) {
    return FieldError(file, "codecs", "expected a non-empty list, got " + Abbreviate(m.codecs));
  }
  for (size_t i = 0; i < m.codecs.size(); ++i) {
    const std::string name = CodecName(m.codecs[i]);
    if (name.empty()) {
      return FieldError(file, "codecs", "entry " + Abbreviate(m.codecs[i]) + " has no name");
    }
    if (name != "sharding_indexed") continue;
    if (m.codecs.size() != 1) {
      return NotSupportedError(std::string(file) +
                               ": sharding_indexed combined with other codecs in the array's "
                               "codec list is not supported");
    }
    LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const ShardingSpec> spec,
                          ParseSharding(CodecConfiguration(m.codecs[i]), m.chunk_shape, file, 0));
    m.sharding = *spec;
  }

  const json& transformers = Member(j, "storage_transformers");
  if (!transformers.is_null()) {
    if (!transformers.is_array()) {
      return FieldError(file, "storage_transformers", "expected a list");
    }
    if (!transformers.empty()) {
      return NotSupportedError(std::string(file) + ": storage transformer " +
                               CodecName(transformers[0]) + " is not supported");
    }
  }

  const json& names = Member(j, "dimension_names");
  if (!names.is_null()) {
    if (!names.is_array() || names.size() != m.shape.size()) {
      return FieldError(file, "dimension_names",
                        "expected a list of " + std::to_string(m.shape.size()) +
                            " names, got " + Abbreviate(names));
    }
    for (const json& n : names) {
      if (n.is_string()) {
        m.dimension_names.push_back(n.get<std::string>());
      } else if (n.is_null()) {
        m.dimension_names.emplace_back();
      } else {
        return FieldError(file, "dimension_names", "names must be strings or null");
      }
    }
  }
  const json& attrs = Member(j, "attributes");
  if (attrs.is_object()) {
    m.attributes = attrs;
  } else if (!attrs.is_null()) {
    return FieldError(file, "attributes", "expected an object");
  }
  LSIO_RETURN_IF_ERROR(CheckSizes(m, file));
  return m;
}

Result<GroupMetadata> ParseZarrV3Group(const json& j, std::string_view file) {
  if (!j.is_object()) return InvalidArgumentError(std::string(file) + ": expected a JSON object");
  if (Member(j, "zarr_format") != 3) {
    return FieldError(file, "zarr_format", "expected 3, got " +
                                               Abbreviate(Member(j, "zarr_format")));
  }
  if (Member(j, "node_type") != "group") {
    return FieldError(file, "node_type",
                      "expected \"group\", got " + Abbreviate(Member(j, "node_type")));
  }
  LSIO_RETURN_IF_ERROR(CheckUnknownMembers(
      j, {"zarr_format", "node_type", "attributes", "consolidated_metadata"}, file));
  GroupMetadata g;
  g.zarr_format = ZarrFormat::kV3;
  g.metadata_file = std::string(file);
  const json& attrs = Member(j, "attributes");
  if (attrs.is_object()) {
    g.attributes = attrs;
  } else if (!attrs.is_null()) {
    return FieldError(file, "attributes", "expected an object");
  }
  const json& cm = Member(j, "consolidated_metadata");
  if (cm.is_object()) {
    const json& kind = Member(cm, "kind");
    if (!kind.is_null() && kind != "inline") {
      const json& mu = Member(cm, "must_understand");
      if (!(mu.is_boolean() && !mu.get<bool>())) {
        return NotSupportedError(std::string(file) + ": consolidated metadata of kind " +
                                 Abbreviate(kind) + " is not supported");
      }
    } else {
      const json& md = Member(cm, "metadata");
      if (!md.is_object()) {
        return FieldError(file, "consolidated_metadata.metadata", "expected an object");
      }
      g.consolidated = md;
    }
  } else if (!cm.is_null()) {
    return FieldError(file, "consolidated_metadata", "expected an object or null");
  }
  return g;
}

std::string DescribeCodecsJson(const ArrayMetadata& m) {
  std::string out;
  auto list = [&](const json& codecs) {
    bool first = true;
    for (const json& c : codecs) {
      if (!first) out += " -> ";
      first = false;
      DescribeCodecInto(c, out);
    }
  };
  if (m.zarr_format == ZarrFormat::kV3) {
    list(m.codecs);
    return out;
  }
  if (m.order == 'F') out += "order=F -> ";
  if (m.filters.is_array() && !m.filters.empty()) {
    list(m.filters);
    out += " -> ";
  }
  if (m.compressor.is_object()) {
    DescribeCodecInto(m.compressor, out);
  } else {
    out += "no compressor";
  }
  return out;
}

}  // namespace lsio::zarr

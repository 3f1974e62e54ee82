// Metadata documents as zarr-python 3 writes them, so that zarr-python, TensorStore, xarray
// and lsio's own parser read them alike.

#include "lsio/format/zarr/metadata_write.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "lsio/base/json_util.h"

namespace lsio::zarr {

using nlohmann::json;

namespace {

std::string Where(std::string_view where) {
  return where.empty() ? std::string("array") : std::string(where);
}

Status SpecError(std::string_view where, std::string_view what) {
  return InvalidArgumentError(fmt::format("{}: {}", Where(where), what));
}

template <typename T>
T Load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// One float component (width 2, 4 or 8 bytes) as zarr-python writes it.
json FloatJson(const std::byte* p, size_t width, ZarrFormat format) {
  double d;
  uint64_t bits = 0;
  uint64_t canonical_nan = 0;
  if (width == 2) {
    bits = Load<uint16_t>(p);
    d = HalfToFloat(static_cast<uint16_t>(bits));
    canonical_nan = 0x7e00;
  } else if (width == 4) {
    bits = Load<uint32_t>(p);
    d = Load<float>(p);
    canonical_nan = 0x7fc00000;
  } else {
    bits = Load<uint64_t>(p);
    d = Load<double>(p);
    canonical_nan = 0x7ff8000000000000;
  }
  if (std::isnan(d)) {
    // Zarr v3 can keep a NaN's payload (and sign) as its bit pattern; v2 has only "NaN".
    if (format == ZarrFormat::kV3 && bits != canonical_nan) {
      return fmt::format("0x{:0{}x}", bits, width * 2);
    }
    return "NaN";
  }
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return d;
}

// The v3 `bytes` codec; zarr-python leaves out the endian of one-byte types.
json BytesCodec(size_t item_size, Endian endian) {
  if (item_size <= 1) return {{"name", "bytes"}};
  return {{"name", "bytes"},
          {"configuration", {{"endian", endian == Endian::kBig ? "big" : "little"}}}};
}

std::string_view ShuffleName(CodecSpec::BloscShuffle s) {
  switch (s) {
    case CodecSpec::BloscShuffle::kNoShuffle:
      return "noshuffle";
    case CodecSpec::BloscShuffle::kBitShuffle:
      return "bitshuffle";
    case CodecSpec::BloscShuffle::kShuffle:
      break;
  }
  return "shuffle";
}

int ShuffleNumber(CodecSpec::BloscShuffle s) {
  switch (s) {
    case CodecSpec::BloscShuffle::kNoShuffle:
      return 0;
    case CodecSpec::BloscShuffle::kBitShuffle:
      return 2;
    case CodecSpec::BloscShuffle::kShuffle:
      break;
  }
  return 1;
}

// A bytes->bytes codec: v3 {"name", "configuration"}, v2 a numcodecs config with "id".
json CodecJson(const CodecSpec& c, size_t item_size, ZarrFormat format) {
  const bool v3 = format == ZarrFormat::kV3;
  auto make = [&](std::string_view v3_name, std::string_view v2_id, json config) {
    if (v3) {
      json j = {{"name", v3_name}};
      if (!config.empty()) j["configuration"] = std::move(config);
      return j;
    }
    config["id"] = v2_id;
    return config;
  };
  switch (c.kind) {
    case CodecSpec::Kind::kZstd:
      if (v3 || c.checksum) {
        return make("zstd", "zstd", {{"level", c.level}, {"checksum", c.checksum}});
      }
      // As zarr-python writes v2 zstd; TensorStore's v2 driver refuses a "checksum" member.
      return make("zstd", "zstd", {{"level", c.level}});
    case CodecSpec::Kind::kGzip:
      return make("gzip", "gzip", {{"level", c.level}});
    case CodecSpec::Kind::kBlosc:
      if (v3) {
        return make("blosc", "blosc",
                    {{"cname", c.blosc_cname},
                     {"clevel", c.level},
                     {"shuffle", ShuffleName(c.blosc_shuffle)},
                     {"typesize", item_size},
                     {"blocksize", 0}});
      }
      // numcodecs takes the typesize from the array it compresses.
      return make("blosc", "blosc",
                  {{"cname", c.blosc_cname},
                   {"clevel", c.level},
                   {"shuffle", ShuffleNumber(c.blosc_shuffle)},
                   {"blocksize", 0}});
    case CodecSpec::Kind::kLz4:
      return make("numcodecs.lz4", "lz4", {{"acceleration", c.acceleration}});
    case CodecSpec::Kind::kCrc32c:
      return make("crc32c", "crc32c", json::object());
  }
  return json();
}

bool IsWritable(const ZarrDataType& t) {
  return t.is_fixed_size_number() ||
         (t.kind == DataTypeKind::kFixedUtf32 && t.item_size > 0 && t.item_size % 4 == 0);
}

// A fixed-length UTF-32 element as UTF-8, without its trailing NULs (numpy's view of it).
std::string Utf32ToUtf8(const std::byte* p, size_t item_size) {
  std::string out;
  size_t n = item_size / 4;
  while (n > 0 && Load<uint32_t>(p + (n - 1) * 4) == 0) --n;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t c = Load<uint32_t>(p + i * 4);
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xc0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xe0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (c & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return out;
}

Status CheckSpec(const ArrayWriteSpec& s, std::string_view where) {
  if (s.format != ZarrFormat::kV2 && s.format != ZarrFormat::kV3) {
    return SpecError(where, "zarr format must be 2 or 3");
  }
  if (!IsWritable(s.data_type)) {
    return NotSupportedError(fmt::format("{}: writing data type {} is not supported (only "
                                         "bool, integers, floats, complex, datetime64, "
                                         "timedelta64 and fixed-length UTF-32 strings)",
                                         Where(where), s.data_type.name));
  }
  if (s.chunk_shape.size() != s.shape.size()) {
    return SpecError(where, fmt::format("chunk shape {} and shape {} differ in rank",
                                        lsio::internal::FormatShape(s.chunk_shape),
                                        lsio::internal::FormatShape(s.shape)));
  }
  for (int64_t v : s.shape) {
    if (v < 0) {
      return SpecError(where, "shape " + lsio::internal::FormatShape(s.shape) + " has a negative extent");
    }
  }
  for (int64_t v : s.chunk_shape) {
    if (v < 1) {
      return SpecError(where, "chunk shape " + lsio::internal::FormatShape(s.chunk_shape) +
                                  " has an extent below 1");
    }
  }
  if (s.sharding) {
    if (s.format != ZarrFormat::kV3) {
      return SpecError(where, "sharding needs Zarr format 3");
    }
    const std::vector<int64_t>& sh = s.sharding->shard_shape;
    if (sh.size() != s.shape.size()) {
      return SpecError(where, fmt::format("shard shape {} and shape {} differ in rank",
                                          lsio::internal::FormatShape(sh),
                                          lsio::internal::FormatShape(s.shape)));
    }
    for (size_t d = 0; d < sh.size(); ++d) {
      if (sh[d] < 1 || sh[d] % s.chunk_shape[d] != 0) {
        return SpecError(where, fmt::format("shard shape {} is not a multiple of the chunk "
                                            "shape {}",
                                            lsio::internal::FormatShape(sh),
                                            lsio::internal::FormatShape(s.chunk_shape)));
      }
    }
  }
  if (!s.dimension_names.empty() && s.dimension_names.size() != s.shape.size()) {
    return SpecError(where, fmt::format("{} dimension names for an array of rank {}",
                                        s.dimension_names.size(), s.shape.size()));
  }
  if (!s.attributes.is_object()) {
    return SpecError(where, "attributes must be a JSON object, got " +
                                lsio::internal::Abbreviate(s.attributes));
  }
  if (s.chunk_key_separator != 0 && s.chunk_key_separator != '/' &&
      s.chunk_key_separator != '.') {
    return SpecError(where, "chunk key separator must be '/' or '.'");
  }
  return Status::OK();
}

// The fill value resolved for the type (null: v3 zero, v2 null), then spelled canonically.
Result<json> CanonicalFill(const ArrayWriteSpec& s, std::string_view where) {
  json given = s.fill_value;
  if (given.is_null() && s.format == ZarrFormat::kV3) {
    if (s.data_type.kind == DataTypeKind::kFixedUtf32) {
      given = "";
    } else if (s.data_type.storage == DataType::kBool) {
      given = false;
    } else if (IsComplex(s.data_type.storage)) {
      given = json::array({0, 0});
    } else {
      given = 0;
    }
  }
  // A C++ caller may hold NaN or infinity as a double; the specs spell them as strings.
  auto spell = [](json& j) {
    if (j.is_number_float() && !std::isfinite(j.get<double>())) {
      const double d = j.get<double>();
      j = std::isnan(d) ? "NaN" : (d > 0 ? "Infinity" : "-Infinity");
    }
  };
  spell(given);
  if (given.is_array()) {
    for (json& part : given) spell(part);
  }
  LSIO_ASSIGN_OR_RETURN(FillValue fill,
                        ResolveFillValue(given, s.data_type, s.format, Where(where)));
  return FillValueJson(fill, s.data_type, s.format);
}

void DumpInto(const json& j, int indent, int depth, std::string& out) {
  const std::string pad(static_cast<size_t>(indent * (depth + 1)), ' ');
  const std::string close_pad(static_cast<size_t>(indent * depth), ' ');
  if (j.is_object()) {
    if (j.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    bool first = true;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (!first) out += ",\n";
      first = false;
      out += pad;
      out += json(it.key()).dump(-1, ' ', false, json::error_handler_t::replace);
      out += ": ";
      DumpInto(it.value(), indent, depth + 1, out);
    }
    out += "\n" + close_pad + "}";
    return;
  }
  if (j.is_array()) {
    if (j.empty()) {
      out += "[]";
      return;
    }
    out += "[\n";
    bool first = true;
    for (const json& v : j) {
      if (!first) out += ",\n";
      first = false;
      out += pad;
      DumpInto(v, indent, depth + 1, out);
    }
    out += "\n" + close_pad + "]";
    return;
  }
  if (j.is_number_float() && !std::isfinite(j.get<double>())) {
    const double d = j.get<double>();
    out += std::isnan(d) ? "NaN" : (d > 0 ? "Infinity" : "-Infinity");
    return;
  }
  out += j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

json FillValueJson(const FillValue& fill, const ZarrDataType& type, ZarrFormat format) {
  if (fill.is_null || fill.bytes.size() != type.item_size || !IsWritable(type)) {
    return nullptr;
  }
  const std::byte* p = fill.bytes.data();
  if (type.kind == DataTypeKind::kFixedUtf32) return Utf32ToUtf8(p, type.item_size);
  switch (type.storage) {
    case DataType::kBool:
      return Load<uint8_t>(p) != 0;
    case DataType::kInt8:
      return Load<int8_t>(p);
    case DataType::kInt16:
      return Load<int16_t>(p);
    case DataType::kInt32:
      return Load<int32_t>(p);
    case DataType::kInt64:
      return Load<int64_t>(p);
    case DataType::kUInt8:
      return Load<uint8_t>(p);
    case DataType::kUInt16:
      return Load<uint16_t>(p);
    case DataType::kUInt32:
      return Load<uint32_t>(p);
    case DataType::kUInt64:
      return Load<uint64_t>(p);
    case DataType::kFloat16:
      return FloatJson(p, 2, format);
    case DataType::kFloat32:
      return FloatJson(p, 4, format);
    case DataType::kFloat64:
      return FloatJson(p, 8, format);
    case DataType::kComplex64:
      return json::array({FloatJson(p, 4, format), FloatJson(p + 4, 4, format)});
    case DataType::kComplex128:
      return json::array({FloatJson(p, 8, format), FloatJson(p + 8, 8, format)});
  }
  return nullptr;
}

Result<json> DataTypeJson(const ZarrDataType& type, ZarrFormat format, Endian endian) {
  const bool time = type.kind == DataTypeKind::kDatetime64 ||
                    type.kind == DataTypeKind::kTimedelta64;
  if (!IsWritable(type)) {
    return NotSupportedError("writing data type " + type.name + " is not supported");
  }
  if (type.kind == DataTypeKind::kFixedUtf32) {
    if (format == ZarrFormat::kV3) {
      return json{{"name", "fixed_length_utf32"},
                  {"configuration", {{"length_bytes", type.item_size}}}};
    }
    return json(fmt::format("{}U{}", endian == Endian::kBig ? '>' : '<', type.item_size / 4));
  }
  if (format == ZarrFormat::kV3) {
    if (time) {
      return json{{"name", type.kind == DataTypeKind::kDatetime64 ? "numpy.datetime64"
                                                                   : "numpy.timedelta64"},
                  {"configuration", {{"unit", type.time_unit}, {"scale_factor", type.time_scale}}}};
    }
    return json(std::string(DataTypeName(type.storage)));
  }
  const char order = type.item_size == 1 ? '|' : (endian == Endian::kBig ? '>' : '<');
  if (time) {
    std::string s = fmt::format("{}{}8", order, type.kind == DataTypeKind::kDatetime64 ? 'M' : 'm');
    if (type.time_unit != "generic") {
      s += type.time_scale != 1 ? fmt::format("[{}{}]", type.time_scale, type.time_unit)
                                : fmt::format("[{}]", type.time_unit);
    }
    return json(s);
  }
  const DataType t = type.storage;
  char kind = 'u';
  if (t == DataType::kBool) {
    kind = 'b';
  } else if (IsFloat(t)) {
    kind = 'f';
  } else if (IsComplex(t)) {
    kind = 'c';
  } else if (IsSignedInteger(t)) {
    kind = 'i';
  }
  return json(fmt::format("{}{}{}", order, kind, ByteWidth(t)));
}

Result<std::vector<MetadataDocument>> ArrayMetadataDocuments(const ArrayWriteSpec& s,
                                                             std::string_view where) {
  LSIO_RETURN_IF_ERROR(CheckSpec(s, where));
  LSIO_ASSIGN_OR_RETURN(json dtype, DataTypeJson(s.data_type, s.format, s.endian));
  LSIO_ASSIGN_OR_RETURN(json fill, CanonicalFill(s, where));
  const size_t item = s.data_type.item_size;

  json codecs = json::array();
  for (const CodecSpec& c : s.codecs) codecs.push_back(CodecJson(c, item, s.format));

  if (s.format == ZarrFormat::kV3) {
    json chain = json::array({BytesCodec(item, s.endian)});
    for (const json& c : codecs) chain.push_back(c);
    std::vector<int64_t> grid_chunk = s.chunk_shape;
    if (s.sharding) {
      grid_chunk = s.sharding->shard_shape;
      json index_codecs = json::array({BytesCodec(8, Endian::kLittle)});
      if (s.sharding->index_checksum) index_codecs.push_back({{"name", "crc32c"}});
      chain = json::array(
          {{{"name", "sharding_indexed"},
            {"configuration",
             {{"chunk_shape", s.chunk_shape},
              {"codecs", std::move(chain)},
              {"index_codecs", std::move(index_codecs)},
              {"index_location",
               s.sharding->index_location == ShardIndexLocation::kStart ? "start" : "end"}}}}});
    }
    json doc = {{"zarr_format", 3},
                {"node_type", "array"},
                {"shape", s.shape},
                {"data_type", std::move(dtype)},
                {"chunk_grid",
                 {{"name", "regular"}, {"configuration", {{"chunk_shape", grid_chunk}}}}},
                {"chunk_key_encoding",
                 {{"name", "default"},
                  {"configuration",
                   {{"separator", std::string(1, s.chunk_key_separator == '.' ? '.' : '/')}}}}},
                {"fill_value", std::move(fill)},
                {"codecs", std::move(chain)},
                {"attributes", s.attributes}};
    if (!s.dimension_names.empty() || s.shape.empty()) {
      json names = json::array();
      for (const std::string& n : s.dimension_names) {
        names.push_back(n.empty() ? json(nullptr) : json(n));
      }
      doc["dimension_names"] = std::move(names);
    }
    return std::vector<MetadataDocument>{{"zarr.json", std::move(doc)}};
  }

  json compressor = nullptr;
  json filters = nullptr;
  if (!codecs.empty()) {
    compressor = codecs.back();
    codecs.erase(codecs.end() - 1);
    if (!codecs.empty()) filters = std::move(codecs);
  }
  json zarray = {{"zarr_format", 2},
                 {"shape", s.shape},
                 {"chunks", s.chunk_shape},
                 {"dtype", std::move(dtype)},
                 {"fill_value", std::move(fill)},
                 {"order", "C"},
                 {"filters", std::move(filters)},
                 {"compressor", std::move(compressor)},
                 {"dimension_separator",
                  std::string(1, s.chunk_key_separator == '/' ? '/' : '.')}};
  json zattrs = s.attributes;
  if (!s.dimension_names.empty() || s.shape.empty()) {
    const json names = s.dimension_names;
    auto it = zattrs.find("_ARRAY_DIMENSIONS");
    if (it != zattrs.end() && *it != names) {
      return SpecError(where, "attribute _ARRAY_DIMENSIONS " + lsio::internal::Abbreviate(*it) +
                                  " disagrees with the dimension names " +
                                  lsio::internal::Abbreviate(names));
    }
    zattrs["_ARRAY_DIMENSIONS"] = names;
  }
  return std::vector<MetadataDocument>{{".zarray", std::move(zarray)},
                                       {".zattrs", std::move(zattrs)}};
}

Result<std::vector<MetadataDocument>> GroupMetadataDocuments(ZarrFormat format,
                                                             const json& attributes,
                                                             std::string_view where) {
  if (!attributes.is_object()) {
    return InvalidArgumentError(fmt::format("{}: group attributes must be a JSON object, got {}",
                                            where.empty() ? "group" : where,
                                            lsio::internal::Abbreviate(attributes)));
  }
  if (format == ZarrFormat::kV3) {
    return std::vector<MetadataDocument>{
        {"zarr.json", {{"zarr_format", 3}, {"node_type", "group"}, {"attributes", attributes}}}};
  }
  return std::vector<MetadataDocument>{{".zgroup", {{"zarr_format", 2}}},
                                       {".zattrs", attributes}};
}

Result<MetadataDocument> ConsolidatedMetadataDocument(ZarrFormat format,
                                                      const NodeDocuments& nodes) {
  auto root = nodes.find("");
  if (root == nodes.end()) {
    return InvalidArgumentError("consolidated metadata: the hierarchy has no root group");
  }
  if (format == ZarrFormat::kV2) {
    json metadata = json::object();
    for (const auto& [path, docs] : nodes) {
      for (const MetadataDocument& d : docs) {
        metadata[path.empty() ? d.key : path + "/" + d.key] = d.json;
      }
    }
    return MetadataDocument{".zmetadata",
                            {{"zarr_consolidated_format", 1}, {"metadata", std::move(metadata)}}};
  }
  const MetadataDocument* root_doc = nullptr;
  for (const MetadataDocument& d : root->second) {
    if (d.key == "zarr.json") root_doc = &d;
  }
  if (root_doc == nullptr || root_doc->json.value("node_type", "") != "group") {
    return InvalidArgumentError("consolidated metadata: the root is not a Zarr v3 group");
  }
  json metadata = json::object();
  for (const auto& [path, docs] : nodes) {
    if (path.empty()) continue;
    for (const MetadataDocument& d : docs) {
      if (d.key == "zarr.json") metadata[path] = d.json;
    }
  }
  json doc = root_doc->json;
  doc["consolidated_metadata"] = {
      {"kind", "inline"}, {"must_understand", false}, {"metadata", std::move(metadata)}};
  return MetadataDocument{"zarr.json", std::move(doc)};
}

std::string SerializeMetadata(const json& document) {
  std::string out;
  DumpInto(document, 2, 0, out);
  out += "\n";
  return out;
}

}  // namespace lsio::zarr

#include "lsio/format/zarr/info.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

#include "lsio/array/cf.h"
#include "lsio/array/datetime.h"

namespace lsio::zarr {

using nlohmann::json;
using array::CfMaskAndScale;
using array::CfTimeKind;
using array::Coordinate;
using array::FormatDatetimeNs;
using array::ResolveCfMaskAndScale;

namespace {

const std::vector<std::string> kMetadataNames = {"zarr.json", ".zarray", ".zattrs", ".zgroup",
                                                 ".zmetadata"};

std::string Number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, p) : std::to_string(v);
}

std::string CompactJson(const json& j) { return DumpMetadataJson(j, -1); }

std::string Describe(const ArrayMetadata& m, json& readable) {
  Status support = m.data_type.DecodeSupport();
  if (!support.ok()) {
    readable = support.ToString();
    return DescribeCodecsJson(m);
  }
  Result<codec::CodecChain> chain = MakeChunkCodecChain(m);
  if (!chain.ok()) {
    readable = chain.status().ToString();
    return DescribeCodecsJson(m);
  }
  readable = true;
  if (!m.sharding) return chain->Describe();
  std::string out;
  const ShardingSpec* s = &*m.sharding;
  int levels = 0;
  while (s != nullptr) {
    std::string index;
    for (const json& c : s->index_codecs) {
      if (!index.empty()) index += " -> ";
      index += c.is_object() && c.contains("name") ? c["name"].get<std::string>()
                                                   : CompactJson(c);
    }
    out += "sharding_indexed(chunk_shape=" + CompactJson(s->inner_chunk_shape) +
           ", index_location=" +
           (s->index_location == ShardIndexLocation::kEnd ? "end" : "start") +
           ", index_codecs=" + index + ") -> [";
    ++levels;
    s = s->nested.get();
  }
  out += chain->Describe();
  out += std::string(static_cast<size_t>(levels), ']');
  return out;
}

json CfJson(const Node& node) {
  const ArrayMetadata& m = *node.array;
  Result<CfMaskAndScale> cf = ResolveCfMaskAndScale(MakeArrayInfo(node));
  if (!cf.ok()) return nullptr;
  json j = json::object();
  if (cf->active()) {
    if (!cf->fill_values.empty()) j["masked_values"] = cf->fill_values;
    if (cf->scale_factor) j["scale_factor"] = *cf->scale_factor;
    if (cf->add_offset) j["add_offset"] = *cf->add_offset;
    j["decoded_dtype"] = std::string(DataTypeName(cf->decoded));
  }
  if (cf->time_kind != CfTimeKind::kNone) {
    j["time"] = cf->time_kind == CfTimeKind::kDatetime ? "datetime" : "timedelta";
    j["units"] = m.attributes["units"];
    if (m.attributes.contains("calendar")) j["calendar"] = m.attributes["calendar"];
  }
  return j.empty() ? json(nullptr) : j;
}

json CoordinateJson(const array::Dataset& ds, const array::ArraySource& coord,
                    const InfoOptions& options) {
  json j = {{"path", coord.info().path}};
  Result<std::shared_ptr<const array::Dataset::CoordinateData>> c =
      ds.ReadCoordinate(coord, *options.context);
  if (!c.ok()) {
    j["error"] = c.status().ToString();
    return j;
  }
  const Coordinate& values = (*c)->decoded;
  if (values.size() > 0) {
    if (values.kind == Coordinate::Kind::kDatetime) {
      j["first"] = FormatDatetimeNs(values.datetime_ns.front());
      j["last"] = FormatDatetimeNs(values.datetime_ns.back());
    } else {
      j["first"] = values.numeric.front();
      j["last"] = values.numeric.back();
    }
  }
  return j;
}

json ArrayJson(kvstore::Store& store, const array::Dataset& ds, const Node& node,
               const InfoOptions& options) {
  const ArrayMetadata& m = *node.array;
  json j;
  j["dtype"] = m.data_type.name;
  j["shape"] = m.shape;
  if (m.sharding) {
    j["chunks"] = m.read_chunk_shape();
    j["shards"] = m.chunk_shape;
  } else {
    j["chunks"] = m.chunk_shape;
    j["shards"] = nullptr;
  }
  const std::vector<std::string> names = MakeArrayInfo(node).dims;
  json dims = json::array();
  for (size_t i = 0; i < m.rank(); ++i) {
    json d = {{"name", names[i]}, {"size", m.shape[i]}};
    if (options.context != nullptr && !m.dimension_names.empty() &&
        !m.dimension_names[i].empty()) {
      const array::ArraySource* c = ds.CoordinateOf(array::Dataset::GroupOf(node.path), names[i]);
      if (c != nullptr && c->info().shape[0] == m.shape[i]) {
        d["coordinate"] = CoordinateJson(ds, *c, options);
      }
    }
    dims.push_back(std::move(d));
  }
  j["dims"] = std::move(dims);
  json readable;
  j["codecs"] = Describe(m, readable);
  j["readable"] = readable;
  if (m.zarr_format == ZarrFormat::kV3) {
    j["codecs_json"] = m.codecs;
  } else {
    j["codecs_json"] = {{"filters", m.filters}, {"compressor", m.compressor}};
    j["order"] = std::string(1, m.order);
  }
  j["chunk_key_example"] = m.ChunkKey(std::vector<int64_t>(m.rank(), 0));
  j["fill_value"] = DescribeFillValue(m.fill_value, m.data_type);
  j["fill_value_json"] = m.fill_value.json;
  const int64_t logical = m.logical_bytes();
  j["logical_bytes"] = logical;
  j["num_chunks"] = m.num_chunks();
  if (options.stored_bytes) {
    Result<kvstore::PrefixUsage> usage = kvstore::Usage(store, node.path, kMetadataNames);
    if (usage.ok()) {
      j["stored_bytes"] = usage->bytes;
      j["stored_files"] = usage->keys;
      if (usage->bytes > 0 && logical > 0) {
        j["compression_ratio"] = static_cast<double>(logical) / static_cast<double>(usage->bytes);
      } else {
        j["compression_ratio"] = nullptr;
      }
    } else {
      j["stored_bytes"] = nullptr;
      j["stored_error"] = usage.status().ToString();
    }
  }
  Status stats = m.data_type.StatisticsSupport();
  j["statistics"] = stats.ok() ? std::string("supported") : stats.message();
  j["cf"] = CfJson(node);
  return j;
}

void Indent(std::ostream& out, int depth) {
  for (int i = 0; i < depth; ++i) out << "  ";
}

std::string ShapeText(const json& shape) {
  std::string s = "[";
  bool first = true;
  for (const json& v : shape) {
    if (!first) s += ", ";
    first = false;
    s += CompactJson(v);
  }
  return s + "]";
}

std::string CoordText(const json& c) {
  if (c.contains("error")) return "(coordinate unreadable: " + c["error"].get<std::string>() + ")";
  if (!c.contains("first")) return "";
  auto v = [](const json& x) { return x.is_number() ? Number(x.get<double>()) : x.get<std::string>(); };
  return "[" + v(c["first"]) + " .. " + v(c["last"]) + "]";
}

}  // namespace

std::string FormatBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 6) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  }
  return buf;
}

Result<json> InfoJson(const ZarrDatasetSource& source, const InfoOptions& options) {
  const Hierarchy& h = source.hierarchy();
  kvstore::Store& store = *source.store();
  // Shares the source: the Dataset only adds the xarray view and the coordinate cache.
  const array::Dataset ds(std::shared_ptr<const array::DatasetSource>(
      std::shared_ptr<const array::DatasetSource>(), &source));
  json doc;
  doc["path"] = store.Describe("");
  doc["zarr_format"] = static_cast<int>(h.root().zarr_format);
  doc["consolidated"] = h.consolidated;
  json nodes = json::array();
  if (options.context != nullptr) {
    // Every coordinate the report shows, read in one run (each once, however many arrays
    // share it). A coordinate that cannot be read is reported where it is shown.
    std::vector<const array::ArraySource*> coordinates;
    for (const array::ArraySource* a : ds.Arrays()) {
      for (size_t i = 0; i < a->info().rank(); ++i) {
        const array::ArraySource* c =
            ds.CoordinateOf(array::Dataset::GroupOf(a->info().path), a->info().dims[i]);
        if (c != nullptr && c->info().shape[0] == a->info().shape[i]) coordinates.push_back(c);
      }
    }
    (void)ds.ReadCoordinates(coordinates, *options.context);
  }
  for (const Node& node : h.nodes) {
    json n;
    n["path"] = node.path;
    n["kind"] = node.is_array() ? "array" : "group";
    n["zarr_format"] = static_cast<int>(node.zarr_format);
    if (node.is_array()) n.update(ArrayJson(store, ds, node, options));
    json attrs = node.attributes;
    if (attrs.is_object()) attrs.erase("_ARRAY_DIMENSIONS");
    n["attributes"] = attrs;
    nodes.push_back(std::move(n));
  }
  doc["nodes"] = std::move(nodes);
  return doc;
}

void WriteInfoText(const json& info, std::ostream& out) {
  const std::string format = "Zarr v" + std::to_string(info.value("zarr_format", 0));
  out << info.value("path", std::string()) << "\n";
  for (const json& n : info["nodes"]) {
    const std::string path = n["path"].get<std::string>();
    const int depth = path.empty() ? 0 : 1 + static_cast<int>(std::count(path.begin(), path.end(), '/'));
    const std::string name = path.empty() ? "/" : path.substr(path.rfind('/') + 1);
    const bool is_array = n["kind"] == "array";
    Indent(out, depth);
    if (!is_array) {
      out << name << (path.empty() ? "" : "/") << "  (group, Zarr v" << n["zarr_format"].get<int>()
          << (path.empty() && info.value("consolidated", false) ? ", consolidated metadata" : "")
          << ")\n";
      if (!n["attributes"].empty()) {
        Indent(out, depth + 1);
        out << "attributes    " << CompactJson(n["attributes"]) << "\n";
      }
      continue;
    }
    out << name << "  (array, Zarr v" << n["zarr_format"].get<int>() << ")  "
        << n["dtype"].get<std::string>() << " " << ShapeText(n["shape"]) << "\n";
    auto line = [&](std::string_view label, const std::string& text) {
      Indent(out, depth + 1);
      out << label;
      for (size_t i = label.size(); i < 14; ++i) out << ' ';
      out << text << "\n";
    };
    std::string dims;
    for (const json& d : n["dims"]) {
      if (!dims.empty()) dims += ", ";
      dims += d["name"].get<std::string>() + ": " + CompactJson(d["size"]);
      if (d.contains("coordinate")) {
        const std::string c = CoordText(d["coordinate"]);
        if (!c.empty()) dims += " " + c;
      }
    }
    line("dims", dims.empty() ? "(scalar)" : dims);
    line("chunks", ShapeText(n["chunks"]));
    if (!n["shards"].is_null()) line("shards", ShapeText(n["shards"]));
    std::string codecs = n["codecs"].get<std::string>();
    if (n.contains("order") && n["order"] == "F") codecs = "order=F; " + codecs;
    line("codecs", codecs);
    if (!n["readable"].is_boolean()) line("readable", "no: " + n["readable"].get<std::string>());
    line("fill value", n["fill_value"].get<std::string>());
    if (!n["cf"].is_null()) {
      const json& cf = n["cf"];
      std::string text;
      auto add = [&](const std::string& s) { text += (text.empty() ? "" : ", ") + s; };
      if (cf.contains("scale_factor")) add("scale_factor=" + Number(cf["scale_factor"].get<double>()));
      if (cf.contains("add_offset")) add("add_offset=" + Number(cf["add_offset"].get<double>()));
      if (cf.contains("masked_values")) {
        std::string mv;
        for (const json& v : cf["masked_values"]) mv += (mv.empty() ? "" : " ") + Number(v.get<double>());
        add("masked=" + mv);
      }
      if (cf.contains("decoded_dtype")) add("decoded as " + cf["decoded_dtype"].get<std::string>());
      if (cf.contains("time")) {
        add(cf["time"].get<std::string>() + " (" + CompactJson(cf["units"]) +
            (cf.contains("calendar") ? ", calendar " + CompactJson(cf["calendar"]) : "") + ")");
      }
      line("CF", text);
    }
    const uint64_t logical = n["logical_bytes"].get<uint64_t>();
    std::string size = FormatBytes(logical) + " logical";
    if (n.contains("stored_bytes") && !n["stored_bytes"].is_null()) {
      size += ", " + FormatBytes(n["stored_bytes"].get<uint64_t>()) + " stored in " +
              std::to_string(n["stored_files"].get<uint64_t>()) + " of " +
              std::to_string(n["num_chunks"].get<int64_t>()) +
              (n["shards"].is_null() ? " chunks" : " shards");
      if (!n["compression_ratio"].is_null()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, " (ratio %.2f)", n["compression_ratio"].get<double>());
        size += buf;
      }
    }
    line("size", size);
    if (n["statistics"] != "supported") line("statistics", "not supported: " + n["dtype"].get<std::string>());
    if (!n["attributes"].empty()) line("attributes", CompactJson(n["attributes"]));
  }
}

Status WriteInfo(const ZarrDatasetSource& source, const InfoOptions& options,
                 std::ostream& out) {
  LSIO_ASSIGN_OR_RETURN(json doc, InfoJson(source, options));
  if (options.json) {
    out << DumpMetadataJson(doc, 2) << "\n";
  } else {
    WriteInfoText(doc, out);
  }
  return Status::OK();
}

}  // namespace lsio::zarr

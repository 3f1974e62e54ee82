#include "lsio/ops/info.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "lsio/array/datetime.h"
#include "lsio/array/read.h"

namespace lsio::ops {

using nlohmann::json;

namespace {

std::string NumberText(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[40];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, p) : std::to_string(v);
}

// Element `i` of `bytes` as JSON: a number, or a string for times and durations.
json ElementJson(const array::ElementType& e, std::span<const std::byte> bytes, size_t i) {
  const size_t w = e.item_size;
  const std::byte* p = bytes.data() + i * w;
  if (e.kind == array::DataTypeKind::kDatetime64 || e.kind == array::DataTypeKind::kTimedelta64) {
    int64_t v;
    std::memcpy(&v, p, 8);
    // GRIB and Zarr coordinates in lsio are [ns]; another unit prints as its raw count.
    if (e.time_unit != "ns") return v;
    return e.kind == array::DataTypeKind::kDatetime64 ? array::FormatDatetimeNs(v)
                                                      : array::FormatTimedeltaNs(v);
  }
  switch (e.storage) {
#define LSIO_ELEMENT(T, D)          \
  case DataType::D: {               \
    T v;                            \
    std::memcpy(&v, p, sizeof v);   \
    return v;                       \
  }
    LSIO_ELEMENT(int8_t, kInt8)
    LSIO_ELEMENT(uint8_t, kUInt8)
    LSIO_ELEMENT(int16_t, kInt16)
    LSIO_ELEMENT(uint16_t, kUInt16)
    LSIO_ELEMENT(int32_t, kInt32)
    LSIO_ELEMENT(uint32_t, kUInt32)
    LSIO_ELEMENT(int64_t, kInt64)
    LSIO_ELEMENT(uint64_t, kUInt64)
#undef LSIO_ELEMENT
    case DataType::kBool:
      return std::to_integer<int>(*p) != 0;
    case DataType::kFloat32: {
      float v;
      std::memcpy(&v, p, 4);
      return std::isfinite(v) ? json(static_cast<double>(v)) : json(NumberText(v));
    }
    case DataType::kFloat64: {
      double v;
      std::memcpy(&v, p, 8);
      return std::isfinite(v) ? json(v) : json(NumberText(v));
    }
    default:
      return nullptr;
  }
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string ValueText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return NumberText(v.get<double>());
  return v.dump();
}

std::string Tuple(const json& list) {
  std::string s = "(";
  for (size_t i = 0; i < list.size(); ++i) {
    if (i) s += ", ";
    s += list[i].is_string() ? list[i].get<std::string>() : list[i].dump();
  }
  if (list.size() == 1 && !list[0].is_string()) s += ",";
  return s + ")";
}

}  // namespace

Result<json> DatasetInfoJson(const array::Dataset& dataset, const InfoOptions& options) {
  runtime::Context& context =
      options.context != nullptr ? *options.context : *runtime::Context::Default();
  json doc;
  doc["location"] = dataset.location();
  doc["format"] = dataset.source().format_name();
  doc["summary"] = dataset.source().summary();

  // Coordinates' values, all read in one run.
  const std::vector<const array::ArraySource*> arrays = dataset.Arrays();
  std::map<const array::ArraySource*, std::vector<std::byte>> values;
  std::vector<array::ReadTarget> targets;
  for (const array::ArraySource* a : arrays) {
    if (!dataset.IsCoordinate(*a)) continue;
    const array::ArrayInfo& info = a->info();
    if (!info.element.DecodeSupport().ok()) continue;
    std::vector<std::byte>& buf = values[a];
    buf.resize(static_cast<size_t>(info.num_elements()) * info.element_size());
    std::vector<array::DimRange> ranges;
    for (int64_t n : info.shape) ranges.push_back(array::FullRange(n));
    targets.push_back({a, std::move(ranges), buf});
  }
  array::ReadIntoOptions ro;
  ro.threads = 1;
  LSIO_RETURN_IF_ERROR(array::ReadManyInto(targets, context, ro));

  std::map<std::string, std::vector<const array::ArraySource*>> by_group;
  for (const array::ArraySource* a : arrays) {
    by_group[array::Dataset::GroupOf(a->info().path)].push_back(a);
  }
  json groups = json::array();
  for (const auto& [group, members] : by_group) {
    json g;
    g["path"] = group;
    g["attributes"] = dataset.source().group_attributes(group);
    // Dimensions in the order the data variables have them, then the coordinates'.
    json dims = json::array();
    std::set<std::string> seen;
    for (bool coordinate : {false, true}) {
      for (const array::ArraySource* a : members) {
        if (dataset.IsCoordinate(*a) != coordinate) continue;
        const array::ArrayInfo& info = a->info();
        for (size_t d = 0; d < info.rank(); ++d) {
          if (seen.insert(info.dims[d]).second) {
            dims.push_back({{"name", info.dims[d]}, {"size", info.shape[d]}});
          }
        }
      }
    }
    json coordinates = json::array(), variables = json::array();
    for (const array::ArraySource* a : members) {
      const array::ArrayInfo& info = a->info();
      json j;
      j["name"] = BaseName(info.path);
      j["path"] = info.path;
      j["dims"] = info.dims;
      j["shape"] = info.shape;
      j["dtype"] = info.element.name;
      auto v = values.find(a);
      if (v != values.end()) {
        const size_t n = static_cast<size_t>(info.num_elements());
        if (n <= options.max_listed_values) {
          json list = json::array();
          for (size_t i = 0; i < n; ++i) list.push_back(ElementJson(info.element, v->second, i));
          j["values"] = std::move(list);
        } else {
          j["first"] = ElementJson(info.element, v->second, 0);
          j["last"] = ElementJson(info.element, v->second, n - 1);
        }
        coordinates.push_back(std::move(j));
        continue;
      }
      if (dataset.IsCoordinate(*a)) {
        coordinates.push_back(std::move(j));
        continue;
      }
      j["chunks"] = info.chunk_shape;
      j["encoding"] = a->DescribeEncoding();
      j["attributes"] = info.attributes;
      variables.push_back(std::move(j));
    }
    g["dimensions"] = std::move(dims);
    g["coordinates"] = std::move(coordinates);
    g["variables"] = std::move(variables);
    groups.push_back(std::move(g));
  }
  doc["groups"] = std::move(groups);
  return doc;
}

void WriteDatasetInfoText(const json& info, std::ostream& out) {
  out << info.value("location", "") << ": " << info.value("format", "");
  const json& summary = info["summary"];
  if (summary.is_object() && summary.contains("description")) {
    out << ": " << ValueText(summary["description"]);
  } else if (summary.is_object()) {
    for (const auto& [k, v] : summary.items()) out << ", " << k << " " << ValueText(v);
  }
  out << "\n";
  for (const json& g : info["groups"]) {
    if (g["coordinates"].empty() && g["variables"].empty()) continue;
    out << "\n" << (g["path"].get<std::string>().empty() ? "/" : g["path"].get<std::string>());
    const json& attrs = g["attributes"];
    if (attrs.is_object() && !attrs.empty()) {
      std::string a;
      for (const auto& [k, v] : attrs.items()) {
        a += (a.empty() ? "" : ", ") + k + "=" + ValueText(v);
      }
      out << "  (" << a << ")";
    }
    out << "\n  dimensions:";
    for (const json& d : g["dimensions"]) {
      out << " " << d["name"].get<std::string>() << " " << d["size"].get<int64_t>() << ";";
    }
    out << "\n";
    if (!g["coordinates"].empty()) out << "  coordinates:\n";
    for (const json& c : g["coordinates"]) {
      std::string line = "    " + c["name"].get<std::string>();
      line.resize(std::max<size_t>(line.size() + 1, 20), ' ');
      line += Tuple(c["dims"]);
      line.resize(std::max<size_t>(line.size() + 1, 44), ' ');
      line += c["dtype"].get<std::string>();
      line.resize(std::max<size_t>(line.size() + 1, 61), ' ');
      const json& vals = c.contains("values") ? c["values"] : json::array();
      if (!vals.empty() && vals.size() <= 6) {
        std::string list;
        for (const json& v : vals) list += (list.empty() ? "" : ", ") + ValueText(v);
        line += vals.size() == 1 ? list : "[" + list + "]";
      } else if (!vals.empty()) {
        line += ValueText(vals.front()) + " ... " + ValueText(vals.back());
      } else if (c.contains("first")) {
        line += ValueText(c["first"]) + " ... " + ValueText(c["last"]);
      }
      out << line << "\n";
    }
    if (!g["variables"].empty()) out << "  variables:\n";
    for (const json& v : g["variables"]) {
      out << "    " << v["name"].get<std::string>() << "  " << Tuple(v["dims"]) << "  "
          << v["dtype"].get<std::string>() << "  shape " << Tuple(v["shape"]) << "  chunks "
          << Tuple(v["chunks"]) << "\n";
      const json& a = v["attributes"];
      std::string desc;
      if (a.is_object() && a.contains("long_name")) desc = ValueText(a["long_name"]);
      if (a.is_object() && a.contains("units")) desc += " [" + ValueText(a["units"]) + "]";
      const std::string enc = v.value("encoding", "");
      if (!enc.empty()) desc += (desc.empty() ? "" : "; ") + enc;
      if (!desc.empty()) out << "      " << desc << "\n";
    }
  }
}

Status WriteDatasetInfo(const array::Dataset& dataset, const InfoOptions& options,
                        std::ostream& out) {
  LSIO_ASSIGN_OR_RETURN(json info, DatasetInfoJson(dataset, options));
  if (options.json) {
    out << info.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    WriteDatasetInfoText(info, out);
  }
  return Status::OK();
}

}  // namespace lsio::ops

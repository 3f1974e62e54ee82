// Writing a StatsReport: JSON, a text table, and a Zarr v2 group for per-dimension results.

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <ostream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lsio/ops/stats.h"

namespace lsio::ops {

namespace {

// JSON has no NaN or infinity, and nlohmann's numbers cannot hold an exact 128-bit sum. Such
// values travel as marked strings and are replaced by raw text after dumping: NaN and
// Infinity as Python's json module writes and reads them, big integers as their digits.
constexpr std::string_view kRawOpen = "\x01lsio-raw:";
constexpr std::string_view kRawClose = "\x01";

using Json = nlohmann::ordered_json;

Json Raw(const std::string& text) {
  return std::string(kRawOpen) + text + std::string(kRawClose);
}

Json Number(double v) {
  if (std::isnan(v)) return Raw("NaN");
  if (std::isinf(v)) return Raw(v > 0 ? "Infinity" : "-Infinity");
  return v;
}

std::string DumpWithRaw(const Json& j, int indent) {
  std::string text = j.dump(indent);
  // The marker's control character is escaped by dump() as \u0001.
  const std::string open = "\"\\u0001lsio-raw:";
  const std::string close = "\\u0001\"";
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t a = text.find(open, pos);
    if (a == std::string::npos) break;
    size_t b = text.find(close, a + open.size());
    if (b == std::string::npos) break;
    out.append(text, pos, a - pos);
    out.append(text, a + open.size(), b - a - open.size());
    pos = b + close.size();
  }
  out.append(text, pos, std::string::npos);
  return out;
}

double Value(const compute::Stats& s, Statistic stat, int ddof) {
  switch (stat) {
    case Statistic::kCount:
      return static_cast<double>(s.count);
    case Statistic::kNanCount:
      return static_cast<double>(s.nan_count);
    case Statistic::kMin:
      return s.min;
    case Statistic::kMax:
      return s.max;
    case Statistic::kSum:
      return s.sum;
    case Statistic::kMean:
      return s.mean;
    case Statistic::kStd:
      return s.stddev(ddof);
    case Statistic::kVar:
      return s.variance(ddof);
  }
  return std::nan("");
}

Json StatJson(const compute::Stats& s, Statistic stat, int ddof) {
  switch (stat) {
    case Statistic::kCount:
      return s.count;
    case Statistic::kNanCount:
      return s.nan_count;
    default:
      break;
  }
  if (s.count == 0 && stat != Statistic::kSum) return nullptr;
  if (s.exact) {
    if (stat == Statistic::kMin) return Raw(compute::Int128ToString(s.exact_min));
    if (stat == Statistic::kMax) return Raw(compute::Int128ToString(s.exact_max));
    if (stat == Statistic::kSum) return Raw(compute::Int128ToString(s.exact_sum));
  }
  return Number(Value(s, stat, ddof));
}

// Summary of one per-cell map: its extremes and mean over the cells that have a value.
Json MapSummary(const std::vector<double>& values) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  double sum = 0;
  uint64_t n = 0;
  for (double v : values) {
    if (std::isnan(v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    sum += v;
    ++n;
  }
  Json j;
  j["cells"] = values.size();
  j["cells_with_value"] = n;
  j["min"] = n ? Number(lo) : Json(nullptr);
  j["max"] = n ? Number(hi) : Json(nullptr);
  j["mean"] = n ? Number(sum / static_cast<double>(n)) : Json(nullptr);
  return j;
}

std::string Format(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.7g}", v);
}

std::string FormatStat(const compute::Stats& s, Statistic stat, int ddof) {
  if (stat == Statistic::kCount) return std::to_string(s.count);
  if (stat == Statistic::kNanCount) return std::to_string(s.nan_count);
  if (s.count == 0 && stat != Statistic::kSum) return "-";
  if (s.exact && stat == Statistic::kSum) return compute::Int128ToString(s.exact_sum);
  return Format(Value(s, stat, ddof));
}

std::string DisplayName(const std::string& name) { return name.empty() ? "\"\"" : name; }

Status WriteFile(kvstore::Publication& out, const std::string& key, std::string_view bytes) {
  return out.Write(key, std::as_bytes(std::span(bytes.data(), bytes.size())));
}

// One array of a Zarr v2 group, written as chunks along its first dimension.
Status WriteZarrV2Array(kvstore::Publication& out, const std::string& dir,
                        const std::vector<std::string>& dims, const std::vector<int64_t>& shape,
                        const std::string& dtype, size_t item_size,
                        const nlohmann::json& fill_value, std::span<const std::byte> data,
                        const nlohmann::json& attrs, nlohmann::json* consolidated,
                        const std::string& key) {
  // Chunks of at most ~64 MiB, split along the first dimension only, so each chunk is one
  // contiguous slab of the C-order data.
  std::vector<int64_t> chunks = shape;
  int64_t row_bytes = static_cast<int64_t>(item_size);
  for (size_t d = 1; d < shape.size(); ++d) row_bytes *= std::max<int64_t>(shape[d], 1);
  if (!shape.empty()) {
    chunks[0] = std::max<int64_t>(1, std::min<int64_t>(shape[0], (int64_t{64} << 20) / row_bytes));
    if (shape[0] == 0) chunks[0] = 1;
  }
  for (int64_t& c : chunks) c = std::max<int64_t>(c, 1);
  nlohmann::json zarray = {{"zarr_format", 2},     {"shape", shape},   {"chunks", chunks},
                           {"dtype", dtype},       {"compressor", nullptr},
                           {"fill_value", fill_value}, {"order", "C"}, {"filters", nullptr},
                           {"dimension_separator", "."}};
  nlohmann::json zattrs = attrs;
  zattrs["_ARRAY_DIMENSIONS"] = dims;
  LSIO_RETURN_IF_ERROR(WriteFile(out, dir + "/.zarray", zarray.dump(2)));
  LSIO_RETURN_IF_ERROR(WriteFile(out, dir + "/.zattrs", zattrs.dump(2)));
  (*consolidated)[key + "/.zarray"] = zarray;
  (*consolidated)[key + "/.zattrs"] = zattrs;

  if (shape.empty()) {
    return WriteFile(out, dir + "/0", {reinterpret_cast<const char*>(data.data()), data.size()});
  }
  const int64_t n_chunks = shape[0] == 0 ? 0 : (shape[0] + chunks[0] - 1) / chunks[0];
  const size_t chunk_bytes = static_cast<size_t>(chunks[0] * row_bytes);
  std::string buf;
  for (int64_t c = 0; c < n_chunks; ++c) {
    const size_t begin = static_cast<size_t>(c * chunks[0] * row_bytes);
    const size_t end = std::min(data.size(), begin + chunk_bytes);
    buf.assign(reinterpret_cast<const char*>(data.data()) + begin, end - begin);
    // Zarr v2 edge chunks are stored full size; the padding is never read back.
    buf.resize(chunk_bytes, '\0');
    std::string name = std::to_string(c);
    for (size_t d = 1; d < shape.size(); ++d) name += ".0";
    LSIO_RETURN_IF_ERROR(WriteFile(out, dir + "/" + name, buf));
  }
  return Status::OK();
}

}  // namespace

void WriteStatsJson(const StatsReport& report, std::ostream& out) {
  Json root;
  Json vars = Json::object();
  const int ddof = report.statistics.ddof;
  for (const VariableStats& v : report.variables) {
    Json j;
    if (v.dims.empty()) {
      for (Statistic s : report.statistics.statistics) {
        j[std::string(StatisticName(s))] = StatJson(v.stats, s, ddof);
      }
      if (!v.histogram_counts.empty()) {
        Json edges = Json::array();
        for (double e : v.histogram_edges) edges.push_back(Number(e));
        j["histogram"] = {{"counts", v.histogram_counts}, {"edges", edges}};
      }
      if (!v.quantiles.empty()) {
        Json q = Json::object();
        for (const auto& [key, value] : v.quantiles) q[key] = Number(value);
        j["quantiles"] = q;
      }
    } else {
      j["dims"] = v.dims;
      j["shape"] = v.shape;
      for (const auto& [s, values] : v.maps) j[std::string(StatisticName(s))] = MapSummary(values);
    }
    if (report.on_error == OnError::kSkip || !v.skipped_chunks.empty()) {
      j["skipped_chunks"] = v.skipped_chunks;
      j["skipped_elements"] = v.skipped_elements;
    }
    vars[v.name] = j;
  }
  root["variables"] = vars;
  root["bytes_read"] = report.bytes_read;
  root["bytes_processed"] = report.bytes_processed;
  root["seconds"] = report.seconds;
  root["chunks"] = report.chunks;
  root["missing_chunks"] = report.missing_chunks;
  root["io_backend"] = report.io_backend;
  root["threads"] = report.threads;
  if (!report.notes.empty()) root["notes"] = report.notes;
  out << DumpWithRaw(root, 2) << "\n";
}

void WriteStatsText(const StatsReport& report, std::ostream& out) {
  const int ddof = report.statistics.ddof;
  for (const std::string& note : report.notes) out << "note: " << note << "\n";
  size_t name_width = 8;
  for (const VariableStats& v : report.variables) {
    name_width = std::max(name_width, DisplayName(v.name).size());
  }
  bool header = false;
  for (const VariableStats& v : report.variables) {
    if (!v.dims.empty()) continue;
    if (!header) {
      out << fmt::format("{:<{}}", "variable", name_width);
      for (Statistic s : report.statistics.statistics) {
        out << fmt::format(" {:>14}", StatisticName(s));
      }
      out << "\n";
      header = true;
    }
    out << fmt::format("{:<{}}", DisplayName(v.name), name_width);
    for (Statistic s : report.statistics.statistics) {
      out << fmt::format(" {:>14}", FormatStat(v.stats, s, ddof));
    }
    out << "\n";
    for (const auto& [key, value] : v.quantiles) {
      out << fmt::format("  quantile {:<8} {:>14}\n", key, Format(value));
    }
    if (!v.histogram_counts.empty()) {
      out << "  histogram of " << DisplayName(v.name) << ":\n";
      for (size_t i = 0; i < v.histogram_counts.size(); ++i) {
        out << fmt::format("    [{:>12}, {:>12}{} {:>14}\n", Format(v.histogram_edges[i]),
                           Format(v.histogram_edges[i + 1]),
                           i + 1 == v.histogram_counts.size() ? "]" : ")",
                           v.histogram_counts[i]);
      }
    }
  }
  for (const VariableStats& v : report.variables) {
    if (v.dims.empty()) continue;
    std::string dims;
    for (size_t i = 0; i < v.dims.size(); ++i) {
      dims += (i ? ", " : "") + v.dims[i] + ": " + std::to_string(v.shape[i]);
    }
    out << DisplayName(v.name) << " (" << dims << "), summarised over cells:\n";
    out << fmt::format("  {:<10} {:>14} {:>14} {:>14}\n", "statistic", "min", "mean", "max");
    for (const auto& [s, values] : v.maps) {
      Json m = MapSummary(values);
      auto cell = [&](const char* k) {
        return m[k].is_null() ? std::string("-")
                              : (m[k].is_number() ? Format(m[k].get<double>())
                                                  : std::string("nan"));
      };
      out << fmt::format("  {:<10} {:>14} {:>14} {:>14}\n", StatisticName(s), cell("min"),
                         cell("mean"), cell("max"));
    }
  }
  for (const VariableStats& v : report.variables) {
    if (v.skipped_chunks.empty()) continue;
    out << DisplayName(v.name) << ": skipped " << v.skipped_chunks.size()
        << " unreadable chunk(s); the statistics exclude " << v.skipped_elements
        << " elements:\n";
    for (const std::string& c : v.skipped_chunks) out << "  " << c << "\n";
  }
}

Status WriteStatsZarr(const StatsReport& report, kvstore::Store& store) {
  Result<std::unique_ptr<kvstore::Publication>> begun = store.BeginPublish("", {});
  if (!begun.ok()) {
    if (begun.status().message().find("already exists") != std::string::npos) {
      return InvalidArgumentError("--out " + store.url() +
                                  " exists; remove it or choose another path");
    }
    return begun.status();
  }
  kvstore::Publication& out = **begun;
  auto write_all = [&]() -> Status {
    nlohmann::json consolidated = nlohmann::json::object();
    const nlohmann::json zgroup = {{"zarr_format", 2}};
    nlohmann::json root_attrs = {{"history", "lsio stats"}};
    // What --on-error skip left out travels with the result (xarray shows these as attrs).
    for (const VariableStats& v : report.variables) {
      if (report.on_error != OnError::kSkip && v.skipped_chunks.empty()) continue;
      root_attrs["skipped_chunks"][v.name] = v.skipped_chunks;
      root_attrs["skipped_elements"][v.name] = v.skipped_elements;
    }
    LSIO_RETURN_IF_ERROR(WriteFile(out, ".zgroup", zgroup.dump(2)));
    LSIO_RETURN_IF_ERROR(WriteFile(out, ".zattrs", root_attrs.dump(2)));
    consolidated[".zgroup"] = zgroup;
    consolidated[".zattrs"] = root_attrs;
    std::vector<std::string> written;
    for (const VariableStats& v : report.variables) {
      if (v.dims.empty()) {
        // Whole-selection statistics: 0-d arrays.
        for (Statistic s : report.statistics.statistics) {
          const double value = Value(v.stats, s, report.statistics.ddof);
          std::string name = (v.name.empty() ? std::string("data") : v.name) + "_" +
                             std::string(StatisticName(s));
          for (char& c : name) {
            if (c == '/') c = '_';
          }
          LSIO_RETURN_IF_ERROR(WriteZarrV2Array(
              out, name, {}, {}, "<f8", 8, "NaN",
              std::as_bytes(std::span(&value, 1)), v.attributes, &consolidated, name));
        }
        continue;
      }
      for (const OutputCoordinate& c : v.coordinates) {
        if (std::find(written.begin(), written.end(), c.name) != written.end()) continue;
        written.push_back(c.name);
        LSIO_RETURN_IF_ERROR(WriteZarrV2Array(
            out, c.name, {c.name}, {static_cast<int64_t>(c.values.size() /
                                                              c.item_size())},
            c.numpy_dtype, c.item_size(), nullptr, c.values, c.attributes,
            &consolidated, c.name));
      }
      for (const auto& [s, values] : v.maps) {
        std::string name = (v.name.empty() ? std::string("data") : v.name) + "_" +
                           std::string(StatisticName(s));
        for (char& c : name) {
          if (c == '/') c = '_';
        }
        nlohmann::json attrs = v.attributes;
        attrs["cell_methods"] = "statistic: " + std::string(StatisticName(s));
        const bool has_nan =
            std::any_of(values.begin(), values.end(), [](double x) { return std::isnan(x); });
        if ((s == Statistic::kCount || s == Statistic::kNanCount) && !has_nan) {
          std::vector<int64_t> ints(values.size());
          for (size_t i = 0; i < values.size(); ++i) ints[i] = static_cast<int64_t>(values[i]);
          attrs.erase("units");
          LSIO_RETURN_IF_ERROR(WriteZarrV2Array(out, name, v.dims, v.shape, "<i8", 8,
                                                nullptr, std::as_bytes(std::span(ints)), attrs,
                                                &consolidated, name));
        } else {
          if (s == Statistic::kVar) attrs.erase("units");
          LSIO_RETURN_IF_ERROR(WriteZarrV2Array(out, name, v.dims, v.shape, "<f8", 8,
                                                "NaN", std::as_bytes(std::span(values)), attrs,
                                                &consolidated, name));
        }
      }
    }
    const nlohmann::json zmetadata = {{"zarr_consolidated_format", 1},
                                      {"metadata", consolidated}};
    return WriteFile(out, ".zmetadata", zmetadata.dump(2));
  };
  LSIO_RETURN_IF_ERROR(write_all());
  // Complete or absent: nothing is visible at the store until this rename.
  return out.Commit();
}

}  // namespace lsio::ops

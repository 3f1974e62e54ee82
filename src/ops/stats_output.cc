// Writing a StatsReport: JSON, a text table, and a dataset (Zarr, through format::WriteDataset)
// for per-dimension results.

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <list>
#include <ostream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lsio/format/write.h"
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
// `values`: a std::vector<double> or a CellMap.
template <typename Values>
Json MapSummary(const Values& values) {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  double sum = 0;
  uint64_t n = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
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

// The per-cell quantiles of `v`, one array of cells per quantile.
std::vector<std::vector<double>> QuantileMaps(const VariableStats& v,
                                              const StatsSelection& statistics) {
  std::vector<std::vector<double>> out;
  const size_t nq = statistics.quantiles.size();
  if (v.quantile_maps.empty() || nq == 0) return out;
  const size_t cells = v.quantile_maps.size() / nq;
  for (size_t i = 0; i < nq; ++i) {
    out.emplace_back(v.quantile_maps.begin() + static_cast<std::ptrdiff_t>(i * cells),
                     v.quantile_maps.begin() + static_cast<std::ptrdiff_t>((i + 1) * cells));
  }
  return out;
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

// The statistic arrays' name: "<variable>_<statistic>" ("data_..." for a single-array store),
// with '/' of nested variables replaced so that every output array sits at the root.
std::string OutputName(const VariableStats& v, Statistic s) {
  std::string name =
      (v.name.empty() ? std::string("data") : v.name) + "_" + std::string(StatisticName(s));
  for (char& c : name) {
    if (c == '/') c = '_';
  }
  return name;
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
      if (!v.quantile_maps.empty()) {
        Json q = Json::object();
        const std::vector<std::vector<double>> per_q = QuantileMaps(v, report.statistics);
        for (size_t i = 0; i < per_q.size(); ++i) {
          q[report.statistics.quantiles[i].first] = MapSummary(per_q[i]);
        }
        j["quantiles"] = q;
      }
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
  root["fused_chunks"] = report.fused_chunks;
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
    const std::vector<std::vector<double>> per_q = QuantileMaps(v, report.statistics);
    for (size_t i = 0; i < per_q.size(); ++i) {
      Json m = MapSummary(per_q[i]);
      auto cell = [&](const char* k) {
        return m[k].is_number() ? Format(m[k].get<double>()) : std::string("nan");
      };
      out << fmt::format("  {:<10} {:>14} {:>14} {:>14}\n",
                         "q" + report.statistics.quantiles[i].first, cell("min"), cell("mean"),
                         cell("max"));
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

Status WriteStatsZarr(const StatsReport& report, kvstore::Store& store,
                      const StatsOutputOptions& options) {
  format::DatasetWriteOptions wo;
  wo.zarr_format = options.zarr_format;
  wo.codecs = options.codecs;
  if (Status s = format::CheckDatasetWriteOptions(wo); !s.ok()) {
    return s.WithContext(options.zarr_format != 2 && options.zarr_format != 3 ? "--out-format"
                                                                              : "--out-codec");
  }
  nlohmann::json root_attrs = {{"history", "lsio stats"}};
  // What --on-error skip left out travels with the result (xarray shows these as attrs).
  for (const VariableStats& v : report.variables) {
    if (report.on_error != OnError::kSkip && v.skipped_chunks.empty()) continue;
    root_attrs["skipped_chunks"][v.name] = v.skipped_chunks;
    root_attrs["skipped_elements"][v.name] = v.skipped_elements;
  }
  const array::ElementType f8 = format::NumericElementType(DataType::kFloat64);
  const array::ElementType f4 = format::NumericElementType(DataType::kFloat32);
  const array::ElementType i8 = format::NumericElementType(DataType::kInt64);
  // The arrays refer to these values, which must stay put until written.
  std::list<std::vector<double>> doubles;
  std::list<std::vector<int64_t>> ints;
  std::vector<format::OutputArray> arrays;
  std::vector<std::string> coordinates;
  for (const VariableStats& v : report.variables) {
    if (v.dims.empty()) {
      // Whole-selection statistics: 0-d arrays.
      for (Statistic s : report.statistics.statistics) {
        doubles.push_back({Value(v.stats, s, report.statistics.ddof)});
        arrays.push_back({OutputName(v, s), f8, {}, {},
                          std::as_bytes(std::span(doubles.back())), v.attributes});
      }
      continue;
    }
    for (const OutputCoordinate& c : v.coordinates) {
      if (std::find(coordinates.begin(), coordinates.end(), c.name) != coordinates.end()) continue;
      coordinates.push_back(c.name);
      Result<array::ElementType> type = format::ParseNumpyTypeString(c.numpy_dtype);
      if (!type.ok()) return type.status().WithContext("coordinate " + c.name);
      const int64_t n = static_cast<int64_t>(c.values.size() / c.item_size());
      arrays.push_back({c.name, *type, {c.name}, {n}, c.values, c.attributes});
    }
    if (!v.quantile_maps.empty()) {
      // numpy / xarray's layout: a leading "quantile" dimension, its values the q's.
      if (std::find(coordinates.begin(), coordinates.end(), "quantile") == coordinates.end()) {
        coordinates.push_back("quantile");
        std::vector<double>& qs = doubles.emplace_back();
        for (const auto& [text, q] : report.statistics.quantiles) qs.push_back(q);
        arrays.push_back({"quantile", f8, {"quantile"}, {static_cast<int64_t>(qs.size())},
                          std::as_bytes(std::span(qs)), nlohmann::json::object()});
      }
      std::vector<std::string> dims = {"quantile"};
      dims.insert(dims.end(), v.dims.begin(), v.dims.end());
      std::vector<int64_t> shape = {static_cast<int64_t>(report.statistics.quantiles.size())};
      shape.insert(shape.end(), v.shape.begin(), v.shape.end());
      nlohmann::json attrs = v.attributes;
      attrs["cell_methods"] = "statistic: quantile";
      std::string name = (v.name.empty() ? std::string("data") : v.name) + "_quantile";
      std::replace(name.begin(), name.end(), '/', '_');
      arrays.push_back({name, f8, std::move(dims), std::move(shape),
                        std::as_bytes(std::span(v.quantile_maps)), std::move(attrs)});
    }
    for (const auto& [s, values] : v.maps) {
      nlohmann::json attrs = v.attributes;
      attrs["cell_methods"] = "statistic: " + std::string(StatisticName(s));
      // Counts are integers, unless a cell has none (an empty --groupby / --resample bin is
      // NaN, as xarray gives it).
      bool has_nan = false;
      for (size_t i = 0; i < values.size() && !has_nan; ++i) has_nan = std::isnan(values[i]);
      if ((s == Statistic::kCount || s == Statistic::kNanCount) && !has_nan) {
        std::vector<int64_t>& counts = ints.emplace_back(values.size());
        for (size_t i = 0; i < values.size(); ++i) counts[i] = static_cast<int64_t>(values[i]);
        attrs.erase("units");
        arrays.push_back({OutputName(v, s), i8, v.dims, v.shape,
                          std::as_bytes(std::span(counts)), std::move(attrs)});
      } else {
        if (s == Statistic::kVar || s == Statistic::kCount || s == Statistic::kNanCount) {
          attrs.erase("units");
        }
        arrays.push_back({OutputName(v, s), values.dtype == DataType::kFloat32 ? f4 : f8, v.dims,
                          v.shape, values.bytes(), std::move(attrs)});
      }
    }
  }
  Status s = format::WriteDataset(store, root_attrs, arrays, wo);
  if (!s.ok() && s.message().find("already exists") != std::string::npos) {
    return InvalidArgumentError("--out " + store.url() +
                                " exists; remove it or choose another path");
  }
  return s;
}

}  // namespace lsio::ops

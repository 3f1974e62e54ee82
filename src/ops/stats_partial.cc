#include "lsio/ops/stats_partial.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "stats_internal.h"

namespace lsio::ops {

namespace {

constexpr const char* kFormat = "lsio-partial-stats-1";

nlohmann::json::binary_t Binary(std::string_view bytes) {
  return nlohmann::json::binary_t(std::vector<uint8_t>(bytes.begin(), bytes.end()));
}

std::string FromBinary(const nlohmann::json& j) {
  const auto& b = j.get_binary();
  return std::string(b.begin(), b.end());
}

}  // namespace

Result<std::string> ComputePartialStats(const StatsRequest& request) {
  if (request.statistics.histogram_bins > 0) {
    return NotSupportedError("hist:N is not supported for partial (distributed) statistics");
  }
  StatsReport report;
  LSIO_ASSIGN_OR_RETURN(std::vector<internal::PartialVariable> partials,
                        internal::RunStats(request, &report, /*tiled_grids=*/false));
  nlohmann::json stats = nlohmann::json::array();
  for (Statistic s : report.statistics.statistics) stats.push_back(StatisticName(s));
  nlohmann::json vars = nlohmann::json::array();
  for (internal::PartialVariable& pv : partials) {
    const VariableStats& h = pv.header;
    nlohmann::json coords = nlohmann::json::array();
    for (const OutputCoordinate& c : h.coordinates) {
      coords.push_back({{"name", c.name},
                        {"storage", static_cast<int>(c.storage)},
                        {"dtype", c.numpy_dtype},
                        {"values", Binary({reinterpret_cast<const char*>(c.values.data()),
                                           c.values.size()})},
                        {"attributes", c.attributes}});
    }
    vars.push_back({{"name", h.name},
                    {"dims", h.dims},
                    {"shape", h.shape},
                    {"attributes", h.attributes},
                    {"elements", h.elements},
                    {"skipped_chunks", h.skipped_chunks},
                    {"skipped_elements", h.skipped_elements},
                    {"coordinates", coords},
                    {"scaled", pv.scaled},
                    {"scale", pv.scale},
                    {"offset", pv.offset},
                    {"decoded", static_cast<int>(pv.decoded)},
                    {"kind", pv.global ? "global" : "grid"},
                    {"state", Binary(pv.global ? pv.global->Serialize() : pv.grid->Serialize())}});
  }
  nlohmann::json doc = {{"format", kFormat},
                        {"statistics", stats},
                        {"ddof", report.statistics.ddof},
                        {"notes", report.notes},
                        {"bytes_read", report.bytes_read},
                        {"bytes_processed", report.bytes_processed},
                        {"chunks", report.chunks},
                        {"missing_chunks", report.missing_chunks},
                        {"seconds", report.seconds},
                        {"io_backend", report.io_backend},
                        {"threads", report.threads},
                        {"variables", vars}};
  std::vector<uint8_t> cbor = nlohmann::json::to_cbor(doc);
  return std::string(cbor.begin(), cbor.end());
}

Result<StatsReport> MergePartialStats(const std::vector<std::string>& parts) {
  if (parts.empty()) return InvalidArgumentError("no partial statistics to merge");
  StatsReport report;
  std::vector<internal::PartialVariable> merged;
  for (size_t p = 0; p < parts.size(); ++p) {
    const std::string what = "partial statistics " + std::to_string(p);
    // Even with allow_exceptions=false, from_cbor throws for an array or map that declares
    // more elements than max_size(), and value() throws for a "format" that is not a string.
    nlohmann::json doc;
    try {
      doc = nlohmann::json::from_cbor(parts[p], true, false);
      if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != kFormat) {
        return CorruptDataError(what + ": not an lsio partial result");
      }
    } catch (const nlohmann::json::exception& e) {
      return CorruptDataError(what + ": not an lsio partial result: " + e.what());
    }
    try {
      StatsSelection sel;
      for (const auto& name : doc.at("statistics")) {
        LSIO_ASSIGN_OR_RETURN(StatsSelection one, ParseStatistics(name.get<std::string>()));
        sel.statistics.push_back(one.statistics.at(0));
      }
      sel.ddof = doc.at("ddof").get<int>();
      if (p == 0) {
        report.statistics = sel;
        report.notes = doc.at("notes").get<std::vector<std::string>>();
        report.io_backend = doc.at("io_backend").get<std::string>();
        report.threads = doc.at("threads").get<int>();
      } else if (sel.statistics != report.statistics.statistics ||
                 sel.ddof != report.statistics.ddof) {
        return InvalidArgumentError(what + " asks for other statistics than the first");
      }
      report.bytes_read += doc.at("bytes_read").get<uint64_t>();
      report.bytes_processed += doc.at("bytes_processed").get<uint64_t>();
      report.chunks += doc.at("chunks").get<uint64_t>();
      report.missing_chunks += doc.at("missing_chunks").get<uint64_t>();
      report.seconds = std::max(report.seconds, doc.at("seconds").get<double>());
      const nlohmann::json& vars = doc.at("variables");
      if (p > 0 && vars.size() != merged.size()) {
        return InvalidArgumentError(what + " has other variables than the first");
      }
      for (size_t i = 0; i < vars.size(); ++i) {
        const nlohmann::json& v = vars[i];
        internal::PartialVariable pv;
        VariableStats& h = pv.header;
        h.name = v.at("name").get<std::string>();
        h.dims = v.at("dims").get<std::vector<std::string>>();
        h.shape = v.at("shape").get<std::vector<int64_t>>();
        h.attributes = v.at("attributes");
        h.elements = v.at("elements").get<uint64_t>();
        h.skipped_chunks = v.at("skipped_chunks").get<std::vector<std::string>>();
        h.skipped_elements = v.at("skipped_elements").get<uint64_t>();
        for (const nlohmann::json& c : v.at("coordinates")) {
          OutputCoordinate oc;
          oc.name = c.at("name").get<std::string>();
          const int storage = c.at("storage").get<int>();
          if (storage < 0 || storage > static_cast<int>(DataType::kComplex128)) {
            return CorruptDataError(what + ": coordinate '" + oc.name +
                                    "' has an unknown storage type " + std::to_string(storage));
          }
          oc.storage = static_cast<DataType>(storage);
          oc.numpy_dtype = c.at("dtype").get<std::string>();
          const std::string bytes = FromBinary(c.at("values"));
          oc.values.resize(bytes.size());
          std::memcpy(oc.values.data(), bytes.data(), bytes.size());
          oc.attributes = c.at("attributes");
          h.coordinates.push_back(std::move(oc));
        }
        pv.scaled = v.at("scaled").get<bool>();
        pv.scale = v.at("scale").get<double>();
        pv.offset = v.at("offset").get<double>();
        const int decoded = v.at("decoded").get<int>();
        if (decoded < 0 || decoded > static_cast<int>(DataType::kComplex128)) {
          return CorruptDataError(what + ": variable '" + h.name + "' has a bad value type");
        }
        pv.decoded = static_cast<DataType>(decoded);
        const std::string state = FromBinary(v.at("state"));
        if (v.at("kind").get<std::string>() == "global") {
          LSIO_ASSIGN_OR_RETURN(compute::StatsAccumulator acc,
                                compute::StatsAccumulator::Deserialize(state));
          pv.global.emplace(std::move(acc));
        } else {
          LSIO_ASSIGN_OR_RETURN(compute::ReductionGrid grid,
                                compute::ReductionGrid::Deserialize(state));
          pv.grid.emplace(std::move(grid));
        }
        if (p == 0) {
          merged.push_back(std::move(pv));
          continue;
        }
        internal::PartialVariable& into = merged[i];
        if (into.header.name != h.name || into.header.dims != h.dims ||
            into.header.shape != h.shape || into.global.has_value() != pv.global.has_value()) {
          return InvalidArgumentError(what + ": variable '" + h.name +
                                      "' does not fit the first share's");
        }
        if (into.global) {
          LSIO_RETURN_IF_ERROR(into.global->Merge(*pv.global));
        } else {
          LSIO_RETURN_IF_ERROR(into.grid->Merge(*pv.grid));
        }
        into.header.elements += h.elements;
        into.header.skipped_elements += h.skipped_elements;
        into.header.skipped_chunks.insert(into.header.skipped_chunks.end(),
                                          h.skipped_chunks.begin(), h.skipped_chunks.end());
      }
    } catch (const nlohmann::json::exception& e) {
      return CorruptDataError(what + ": " + e.what());
    }
  }
  for (internal::PartialVariable& pv : merged) {
    LSIO_ASSIGN_OR_RETURN(VariableStats vs, internal::FinishVariable(pv, report.statistics));
    report.variables.push_back(std::move(vs));
  }
  return report;
}

}  // namespace lsio::ops

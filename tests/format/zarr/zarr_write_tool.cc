// zarr_write_tool <request.json>: writes Zarr hierarchies with lsio's writer for
// tests/python/test_zarr_writer.py, which reads them back with zarr-python, TensorStore and
// xarray and compares them with the numpy data it generated.
//
// Request: {"store": directory to create, "format": 2|3, "consolidated": bool,
//           "replace": bool, "root_attributes": {...},
//           "groups": [{"path", "attributes"}],
//           "arrays": [{"path", "dtype" (v3 name "float32" or v2 typestring "<M8[ns]"),
//                       "endian": "little"|"big", "shape", "chunks", "shards" (optional),
//                       "index_location": "start"|"end", "index_checksum": bool,
//                       "codecs": "zstd:3,crc32c" (ParseCodecList), "fill_value",
//                       "dimension_names", "attributes", "separator",
//                       "input": file of C-order native-endian elements,
//                       "mode": "whole" (WriteArray) | "units" (WriteUnit per unit) |
//                               "chunks" (StartShard + EncodeChunk + WriteEncoded)}],
//           "abort_after_arrays": bool (never Commit: nothing must appear)}
// Prints one JSON line: {"units_written": {path: n}, "cpu_seconds": CPU time of creating,
// writing and committing (not of reading the inputs)} on success; the error on stderr and exit
// code 1 otherwise.

#include <cstdio>
#include <ctime>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/format/zarr/hierarchy_writer.h"
#include "lsio/kvstore/file_store.h"

namespace lsio::zarr {
namespace {

using nlohmann::json;


int64_t Product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

std::vector<int64_t> Unravel(int64_t i, const std::vector<int64_t>& shape) {
  std::vector<int64_t> g(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    g[d] = i % shape[d];
    i /= shape[d];
  }
  return g;
}

// The box [origin, origin + extent) of a C-order array of `shape`.
std::vector<std::byte> Extract(const std::vector<std::byte>& data,
                               const std::vector<int64_t>& shape,
                               const std::vector<int64_t>& origin,
                               const std::vector<int64_t>& extent, size_t elem) {
  std::vector<std::byte> out(static_cast<size_t>(Product(extent)) * elem);
  const int64_t n = Product(extent);
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int64_t> g = Unravel(i, extent);
    int64_t src = 0;
    for (size_t d = 0; d < shape.size(); ++d) src = src * shape[d] + origin[d] + g[d];
    std::memcpy(out.data() + i * elem, data.data() + src * elem, elem);
  }
  return out;
}

// JSON has no NaN: the strings "test:NaN", "test:Infinity", "test:-Infinity" in attributes
// become those doubles, so that the writer's handling of non-finite attributes is exercised.
json NonFinite(json j) {
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (s == "test:NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "test:Infinity") return std::numeric_limits<double>::infinity();
    if (s == "test:-Infinity") return -std::numeric_limits<double>::infinity();
  }
  if (j.is_structured()) {
    for (auto& v : j) v = NonFinite(v);
  }
  return j;
}

Result<ArrayWriteSpec> SpecOf(const json& a, ZarrFormat format) {
  ArrayWriteSpec s;
  s.format = format;
  const std::string dtype = a.at("dtype").get<std::string>();
  if (!dtype.empty() && (dtype[0] == '<' || dtype[0] == '>' || dtype[0] == '|')) {
    LSIO_ASSIGN_OR_RETURN(s.data_type, ParseZarrV2DataType(dtype));
  } else {
    std::optional<DataType> t = ParseDataTypeName(dtype);
    if (!t) return InvalidArgumentError("unknown dtype " + dtype);
    s.data_type = NumericZarrDataType(*t);
  }
  s.endian = a.value("endian", "little") == "big" ? Endian::kBig : Endian::kLittle;
  s.shape = a.at("shape").get<std::vector<int64_t>>();
  s.chunk_shape = a.at("chunks").get<std::vector<int64_t>>();
  if (a.contains("shards") && !a["shards"].is_null()) {
    ShardingWriteSpec sh;
    sh.shard_shape = a["shards"].get<std::vector<int64_t>>();
    sh.index_location =
        a.value("index_location", "end") == "start" ? ShardIndexLocation::kStart
                                                    : ShardIndexLocation::kEnd;
    sh.index_checksum = a.value("index_checksum", true);
    s.sharding = sh;
  }
  LSIO_ASSIGN_OR_RETURN(s.codecs, ParseCodecList(a.value("codecs", "none")));
  s.fill_value = a.value("fill_value", json());
  if (a.contains("dimension_names")) {
    for (const json& n : a["dimension_names"]) {
      s.dimension_names.push_back(n.is_null() ? std::string() : n.get<std::string>());
    }
  }
  s.attributes = NonFinite(a.value("attributes", json::object()));
  const std::string sep = a.value("separator", "");
  s.chunk_key_separator = sep.empty() ? 0 : sep[0];
  return s;
}

// Writes `data` unit by unit, or (sharded, "chunks") inner chunk by inner chunk.
Result<int64_t> WriteByParts(HierarchyWriter& w, const std::string& path, const ArrayWriter& a,
                             const std::vector<std::byte>& data, bool by_chunks) {
  const ArrayWriteSpec& s = a.spec();
  const size_t elem = s.data_type.item_size;
  const std::vector<int64_t> grid = a.unit_grid_shape();
  int64_t written = 0;
  for (int64_t i = 0, n = Product(grid); i < n; ++i) {
    const std::vector<int64_t> unit = Unravel(i, grid);
    if (!by_chunks || !s.sharding) {
      std::vector<std::byte> part =
          Extract(data, s.shape, a.UnitOrigin(unit), a.UnitExtent(unit), elem);
      LSIO_ASSIGN_OR_RETURN(std::optional<Buffer> enc, a.EncodeUnit(unit, part));
      if (enc) {
        LSIO_RETURN_IF_ERROR(w.WriteEncoded(path, unit, std::move(*enc)));
        ++written;
      }
      continue;
    }
    LSIO_ASSIGN_OR_RETURN(ShardEncoder shard, a.StartShard(unit));
    const std::vector<int64_t>& cps = a.metadata().sharding->chunks_per_shard;
    const std::vector<int64_t> chunk_grid = a.chunk_grid_shape();
    for (int64_t k = 0, m = Product(cps); k < m; ++k) {
      const std::vector<int64_t> inner = Unravel(k, cps);
      std::vector<int64_t> chunk(inner.size()), origin(inner.size()), extent(inner.size());
      bool inside = true;
      for (size_t d = 0; d < inner.size(); ++d) {
        chunk[d] = unit[d] * cps[d] + inner[d];
        inside = inside && chunk[d] < chunk_grid[d];
        origin[d] = chunk[d] * s.chunk_shape[d];
        extent[d] = std::min(s.chunk_shape[d], s.shape[d] - origin[d]);
      }
      if (!inside) continue;
      std::vector<std::byte> part = Extract(data, s.shape, origin, extent, elem);
      LSIO_ASSIGN_OR_RETURN(std::optional<Buffer> enc, a.EncodeChunk(chunk, part));
      if (enc) LSIO_RETURN_IF_ERROR(shard.Add(inner, std::move(*enc)));
    }
    LSIO_ASSIGN_OR_RETURN(std::optional<Buffer> bytes, shard.Finish());
    if (bytes) {
      LSIO_RETURN_IF_ERROR(w.WriteEncoded(path, unit, std::move(*bytes)));
      ++written;
    }
  }
  return written;
}

// CPU time of the process (all threads), for the writer's cost without the tool's input reading.
double CpuSeconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

Status Run(const json& r) {
  const std::string store_path = r.at("store").get<std::string>();
  const size_t slash = store_path.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : store_path.substr(0, slash);
  const std::string name = slash == std::string::npos ? store_path : store_path.substr(slash + 1);
  std::shared_ptr<kvstore::Store> store = kvstore::MakeFileStore(parent);
  HierarchyWriteOptions options;
  options.format = r.value("format", 3) == 2 ? ZarrFormat::kV2 : ZarrFormat::kV3;
  options.consolidated = r.value("consolidated", true);
  options.replace = r.value("replace", false);
  if (r.contains("batch_bytes")) options.batch_bytes = r["batch_bytes"].get<uint64_t>();
  LSIO_ASSIGN_OR_RETURN(std::unique_ptr<HierarchyWriter> w,
                        HierarchyWriter::Begin(*store, name, options));
  LSIO_RETURN_IF_ERROR(w->CreateGroup("", r.value("root_attributes", json::object())));
  for (const json& g : r.value("groups", json::array())) {
    LSIO_RETURN_IF_ERROR(
        w->CreateGroup(g.at("path").get<std::string>(), g.value("attributes", json::object())));
  }
  json written = json::object();
  double cpu_seconds = 0;
  for (const json& a : r.value("arrays", json::array())) {
    const std::string path = a.at("path").get<std::string>();
    LSIO_ASSIGN_OR_RETURN(ArrayWriteSpec spec, SpecOf(a, options.format));
    LSIO_ASSIGN_OR_RETURN(const ArrayWriter* array, w->CreateArray(path, spec));
    std::ifstream in(a.at("input").get<std::string>(), std::ios::binary | std::ios::ate);
    if (!in) return InvalidArgumentError("cannot read " + a.at("input").get<std::string>());
    std::vector<std::byte> data(static_cast<size_t>(in.tellg()));
    in.seekg(0);
    in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size()));
    const double cpu_start = CpuSeconds();
    const std::string mode = a.value("mode", "whole");
    if (mode == "whole") {
      LSIO_RETURN_IF_ERROR(w->WriteArray(path, data));
    } else {
      LSIO_ASSIGN_OR_RETURN(int64_t n, WriteByParts(*w, path, *array, data, mode == "chunks"));
      written[path] = n;
    }
    cpu_seconds += CpuSeconds() - cpu_start;
  }
  if (r.value("abort_after_arrays", false)) return Status::OK();
  const double commit_start = CpuSeconds();
  LSIO_RETURN_IF_ERROR(w->Commit());
  cpu_seconds += CpuSeconds() - commit_start;
  std::cout << json{{"units_written", written}, {"cpu_seconds", cpu_seconds}}.dump() << "\n";
  return Status::OK();
}

}  // namespace
}  // namespace lsio::zarr

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <request.json>\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1]);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 2;
  }
  const nlohmann::json request = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (request.is_discarded()) {
    std::fprintf(stderr, "%s: malformed JSON\n", argv[1]);
    return 2;
  }
  lsio::Status s = lsio::zarr::Run(request);
  if (!s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}

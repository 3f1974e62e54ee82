#include "lsio/ops/rechunk.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <numeric>
#include <set>
#include <system_error>
#include <thread>

#include <sys/mman.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <fmt/format.h>

#include "lsio/array/strided_copy.h"
#include "lsio/base/json_util.h"
#include "lsio/codec/chain.h"
#include "lsio/format/open.h"
#include "lsio/format/write.h"
#include "lsio/ops/memory_plan.h"
#include "lsio/ops/pass.h"

namespace lsio::ops {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

constexpr const char* kStateDir = ".lsio-rechunk";
constexpr const char* kPlanKey = ".lsio-rechunk/plan.json";
// A two-stage run's second stage has landed in full; only removing the intermediate remains.
constexpr const char* kStagesDoneKey = ".lsio-rechunk/stages-done";
constexpr const char* kJournalPrefix = ".lsio-rechunk/journal";
// Blocks grow (fewer passes, less draining between them) up to this size when the budget
// allows; beyond it a pass's start-up cost is negligible.
constexpr uint64_t kBlockTarget = uint64_t{256} << 20;

int64_t CeilDiv(int64_t a, int64_t b) { return b == 0 ? 0 : (a + b - 1) / b; }

uint64_t Product(std::span<const int64_t> v) {
  uint64_t p = 1;
  for (int64_t x : v) p *= static_cast<uint64_t>(x);
  return p;
}

std::string Shape(std::span<const int64_t> v) {
  if (v.empty()) return "()";
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i != 0) s += 'x';
    s += std::to_string(v[i]);
  }
  return s;
}

std::string Size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

// Rounded up to a tenth of a MiB, so that a minimum printed is enough.
std::string AtLeast(uint64_t bytes) {
  const uint64_t tenths = (bytes * 10 + (uint64_t{1} << 20) - 1) >> 20;
  return fmt::format("{}.{} MiB", tenths / 10, tenths % 10);
}

std::vector<int64_t> Unravel(uint64_t i, std::span<const int64_t> shape) {
  std::vector<int64_t> out(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    out[d] = static_cast<int64_t>(i % static_cast<uint64_t>(shape[d]));
    i /= static_cast<uint64_t>(shape[d]);
  }
  return out;
}

uint64_t Ravel(std::span<const int64_t> index, std::span<const int64_t> shape) {
  uint64_t i = 0;
  for (size_t d = 0; d < shape.size(); ++d) i = i * static_cast<uint64_t>(shape[d]) + index[d];
  return i;
}

std::string Base64(std::span<const std::byte> data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    const uint32_t v = (std::to_integer<uint32_t>(data[i]) << 16) |
                       (std::to_integer<uint32_t>(data[i + 1]) << 8) |
                       std::to_integer<uint32_t>(data[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i < data.size()) {
    uint32_t v = std::to_integer<uint32_t>(data[i]) << 16;
    if (i + 1 < data.size()) v |= std::to_integer<uint32_t>(data[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < data.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

// One element of `t` holding `d` (numbers only; false for other types or values it cannot
// hold exactly enough to be a fill value).
bool ElementFromDouble(double d, DataType t, std::vector<std::byte>* out) {
  auto store = [&](auto v) {
    out->resize(sizeof v);
    std::memcpy(out->data(), &v, sizeof v);
    return true;
  };
  switch (t) {
    case DataType::kInt8: return store(static_cast<int8_t>(d));
    case DataType::kInt16: return store(static_cast<int16_t>(d));
    case DataType::kInt32: return store(static_cast<int32_t>(d));
    case DataType::kInt64: return store(static_cast<int64_t>(d));
    case DataType::kUInt8: return store(static_cast<uint8_t>(d));
    case DataType::kUInt16: return store(static_cast<uint16_t>(d));
    case DataType::kUInt32: return store(static_cast<uint32_t>(d));
    case DataType::kUInt64: return store(static_cast<uint64_t>(d));
    case DataType::kFloat32: return store(static_cast<float>(d));
    case DataType::kFloat64: return store(d);
    default: return false;
  }
}

std::optional<double> ElementToDouble(std::span<const std::byte> b, DataType t) {
  auto load = [&](auto tag) -> std::optional<double> {
    decltype(tag) v;
    if (b.size() != sizeof v) return std::nullopt;
    std::memcpy(&v, b.data(), sizeof v);
    return static_cast<double>(v);
  };
  switch (t) {
    case DataType::kInt8: return load(int8_t{});
    case DataType::kInt16: return load(int16_t{});
    case DataType::kInt32: return load(int32_t{});
    case DataType::kInt64: return load(int64_t{});
    case DataType::kUInt8: return load(uint8_t{});
    case DataType::kUInt16: return load(uint16_t{});
    case DataType::kUInt32: return load(uint32_t{});
    case DataType::kUInt64: return load(uint64_t{});
    case DataType::kFloat32: return load(float{});
    case DataType::kFloat64: return load(double{});
    default: return std::nullopt;
  }
}

// How xarray reads a missing value differs between the formats: in Zarr v2 the array's
// fill_value is the mask (_FillValue), in Zarr v3 only a `_FillValue` attribute is (base64 of
// a float64 for floats, the number otherwise). Moving between formats carries the mask over so
// that xr.open_zarr gives the same dataset; within one format everything stays as it is.
Status CarryFillValue(const array::ArrayInfo& info, std::string_view src_format, int to_format,
                      format::ArrayLayout* l) {
  l->fill_value = info.fill_value;
  l->attributes = info.attributes.is_object() ? info.attributes : json::object();
  const bool from_v2 = src_format == "Zarr v2";
  const bool from_v3 = src_format == "Zarr v3";
  l->fill_value_none = from_v2 && !info.mask_value.has_value();
  const DataType t = info.element.storage;
  const bool number = info.element.is_numeric() && (IsFloat(t) || IsInteger(t));
  if (from_v3 && to_format == 2) {
    // The v2 fill_value becomes the mask xarray applies: the attribute's value, or none.
    l->fill_value_none = true;
    auto it = l->attributes.find("_FillValue");
    if (it == l->attributes.end() || !number) return Status::OK();
    std::optional<double> d;
    if (IsFloat(t) && it->is_string()) {
      std::optional<std::string> raw = lsio::internal::DecodeBase64(it->get<std::string>());
      if (raw && raw->size() == 8) {
        double v;
        std::memcpy(&v, raw->data(), 8);
        d = v;
      }
    } else if (it->is_number()) {
      d = it->get<double>();
    }
    std::vector<std::byte> bytes;
    if (d && ElementFromDouble(*d, t, &bytes)) {
      l->fill_value = bytes;
      l->fill_value_none = false;
      l->attributes.erase("_FillValue");
    }
  } else if (from_v2 && to_format == 3 && info.mask_value && number &&
             !l->attributes.contains("_FillValue")) {
    std::optional<double> d = ElementToDouble(*info.mask_value, t);
    if (d) {
      if (IsFloat(t)) {
        std::byte b[8];
        std::memcpy(b, &*d, 8);
        l->attributes["_FillValue"] = Base64(b);
      } else {
        l->attributes["_FillValue"] = IsSignedInteger(t) ? json(static_cast<int64_t>(*d))
                                                  : json(static_cast<uint64_t>(*d));
      }
    }
  }
  return Status::OK();
}

// --- planning ---

// Decodes of input chunks of size `c` along one dimension of `n` elements when blocks of `b`
// elements (a multiple of the unit) tile it.
uint64_t DimDecodes(int64_t n, int64_t b, int64_t c) {
  uint64_t total = 0;
  for (int64_t start = 0; start < n; start += b) {
    const int64_t end = std::min(n, start + b);
    total += static_cast<uint64_t>(CeilDiv(end, c) - start / c);
  }
  return total;
}

struct ArrayJob {
  const array::ArraySource* source = nullptr;
  RechunkArrayPlan plan;
  format::ArrayLayout layout;
  int threads = 1;
};

struct Budget {
  int threads = 1;
  uint64_t block_budget = 0;
};

// Encoded units per worker waiting for or in their writes (UnitWriter writes from IO threads
// while the workers go on encoding): up to 8 MiB of them, at most 4 and at least 1, and no more
// than a 32nd of the budget allows (small budgets keep their blocks). Small units need several
// (a 1 MiB unit's O_DIRECT write took about as long as encoding it here, and one write in
// flight per worker left the workers waiting for the disk); a large write keeps a device queue
// of its own.
uint64_t WritesPerWorker(uint64_t unit_bytes, uint64_t max_memory) {
  const uint64_t bytes = std::min<uint64_t>(uint64_t{8} << 20, max_memory / 32);
  return std::clamp<uint64_t>(bytes / std::max<uint64_t>(unit_bytes, 1), 1, 4);
}

// Write units' worth of memory each worker holds besides the blocks: while it encodes a unit,
// the encoding and the codec's scratch; then its encoded units being written.
uint64_t UnitsPerWorker(uint64_t unit_bytes, uint64_t max_memory) {
  return 2 + WritesPerWorker(unit_bytes, max_memory);
}

// The split of `max_memory` for one array: decoded chunks and reads in flight (PlanMemory's
// shape, with the IO budget an eighth of the total, between two chunks and the smaller of
// 64 MiB and the store's read-ahead),
// UnitsPerWorker write units per worker for encoding and writing, and the rest for a block's
// unit buffers.
Result<Budget> SplitBudget(uint64_t max_memory, int threads, uint64_t chunk_bytes,
                           uint64_t unit_bytes, uint64_t read_ahead, const std::string& path) {
  const uint64_t chunk = std::max<uint64_t>(chunk_bytes, 4096);
  const uint64_t io = std::clamp<uint64_t>(
      max_memory / 8, 2 * chunk,
      std::max<uint64_t>(2 * chunk, std::min<uint64_t>(uint64_t{64} << 20, read_ahead)));
  const uint64_t per_worker = UnitsPerWorker(unit_bytes, max_memory) * unit_bytes;
  for (int t = threads; t >= 1; --t) {
    const uint64_t fixed =
        4 * static_cast<uint64_t>(t) * chunk + 2 * io + static_cast<uint64_t>(t) * per_worker;
    if (fixed + unit_bytes <= max_memory) return Budget{t, max_memory - fixed};
  }
  const uint64_t need = 4 * chunk + 4 * chunk + per_worker + unit_bytes;
  return InvalidArgumentError(fmt::format(
      "--max-memory {} is too small: at least {} is needed for '{}' with one worker ({} for "
      "one write unit, its encoding and its write, {} for decoded input chunks of {} and reads "
      "in flight; more stages do not lower this: every stage holds a source chunk and a unit)",
      AtLeast(max_memory), AtLeast(need), path, AtLeast(per_worker + unit_bytes),
      AtLeast(8 * chunk), AtLeast(chunk)));
}

Status PlanBlocks(RechunkArrayPlan& p, uint64_t block_budget) {
  const size_t rank = p.shape.size();
  std::vector<int64_t> grid(rank);
  for (size_t d = 0; d < rank; ++d) grid[d] = CeilDiv(p.shape[d], p.unit[d]);
  auto block_bytes = [&](const std::vector<int64_t>& k) {
    uint64_t b = p.element_size;
    for (size_t d = 0; d < rank; ++d) b *= static_cast<uint64_t>(std::min(k[d] * p.unit[d], p.shape[d]));
    return b;
  };
  auto decodes = [&](const std::vector<int64_t>& k) {
    uint64_t n = 1;
    for (size_t d = 0; d < rank; ++d) n *= DimDecodes(p.shape[d], k[d] * p.unit[d], p.source_chunk[d]);
    return n;
  };
  // Aligned to the input chunks: each is decoded once.
  std::vector<int64_t> k(rank);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t l = std::lcm(p.unit[d], p.source_chunk[d]);
    k[d] = std::clamp<int64_t>(l / p.unit[d], 1, std::max<int64_t>(grid[d], 1));
  }
  // Shrink: halve the dimension whose halving costs the fewest extra decodes.
  while (block_bytes(k) > block_budget) {
    size_t best = rank;
    uint64_t best_decodes = 0;
    for (size_t d = 0; d < rank; ++d) {
      if (k[d] <= 1) continue;
      std::vector<int64_t> t = k;
      t[d] = CeilDiv(k[d], 2);
      const uint64_t n = decodes(t);
      if (best == rank || n < best_decodes) {
        best = d;
        best_decodes = n;
      }
    }
    if (best == rank) break;  // one unit: SplitBudget guaranteed it fits
    k[best] = CeilDiv(k[best], 2);
  }
  // Grow the outermost dimensions first while the budget and kBlockTarget allow (fewer
  // passes), by whole multiples so that alignment is kept.
  for (size_t d = 0; d < rank; ++d) {
    while (k[d] < grid[d]) {
      std::vector<int64_t> t = k;
      t[d] = std::min(grid[d], k[d] * 2);
      const uint64_t b = block_bytes(t);
      if (b > block_budget || b > kBlockTarget || decodes(t) > decodes(k)) break;
      k = t;
    }
  }
  p.block_units = k;
  p.block_shape.resize(rank);
  p.blocks = 1;
  for (size_t d = 0; d < rank; ++d) {
    p.block_shape[d] = std::min(k[d] * p.unit[d], p.shape[d]);
    p.blocks *= static_cast<uint64_t>(CeilDiv(grid[d], k[d]));
  }
  p.block_bytes = block_bytes(k);
  p.chunk_decodes = decodes(k);
  return Status::OK();
}

// Units, blocks, decodes and memory of one array's pass given its source chunk, output chunk
// and shard (set in `p`). Returns the workers the passes use.
Result<int> PlanArrayBlocks(RechunkArrayPlan& p, uint64_t source_chunk_bytes,
                            uint64_t max_memory, int threads) {
  const size_t rank = p.shape.size();
  p.units = 1;
  p.source_chunks = 1;
  for (size_t d = 0; d < rank; ++d) {
    p.units *= static_cast<uint64_t>(CeilDiv(p.shape[d], p.unit[d]));
    p.source_chunks *= static_cast<uint64_t>(CeilDiv(p.shape[d], p.source_chunk[d]));
  }
  p.bytes = Product(p.shape) * p.element_size;
  const uint64_t unit_bytes = Product(p.unit) * p.element_size;
  LSIO_ASSIGN_OR_RETURN(Budget budget, SplitBudget(max_memory, threads, source_chunk_bytes,
                                                   unit_bytes, p.source_read_ahead, p.path));
  // Two blocks in flight (one being encoded and written while the next is read and decoded)
  // when blocks of half the budget decode no more chunks than blocks of all of it; else one.
  RechunkArrayPlan whole = p;
  LSIO_RETURN_IF_ERROR(PlanBlocks(whole, budget.block_budget));
  LSIO_RETURN_IF_ERROR(PlanBlocks(p, budget.block_budget / 2));
  p.blocks_in_flight = 2;
  if (p.block_bytes > budget.block_budget / 2 || p.chunk_decodes > whole.chunk_decodes) {
    p = std::move(whole);
    p.blocks_in_flight = 1;
  }
  if (p.units == 0) p.blocks = 0;
  // What each pass plans (RunPass's PlanMemory): decoded chunks, the blocks in flight, encode
  // scratch and units being written, and reads in flight with the engine's pool of free buffers beside them.
  const uint64_t chunk = std::max<uint64_t>(source_chunk_bytes, 4096);
  const uint64_t fixed =
      4 * static_cast<uint64_t>(budget.threads) * chunk +
      static_cast<uint64_t>(p.blocks_in_flight) * p.block_bytes +
      UnitsPerWorker(unit_bytes, max_memory) * static_cast<uint64_t>(budget.threads) * unit_bytes;
  const uint64_t io = std::max<uint64_t>(
      std::min<uint64_t>((max_memory - std::min(fixed, max_memory)) / 2,
                         std::min(kMaxIoBudget, p.source_read_ahead)),
      2 * chunk);
  p.peak_memory = fixed + 2 * io;
  p.bytes_decoded = p.chunk_decodes * source_chunk_bytes;
  return budget.threads;
}

Result<std::vector<ArrayJob>> PlanJobs(const array::Dataset& dataset, const RechunkRequest& req,
                                       int threads, RechunkPlan* plan) {
  plan->source = req.source;
  plan->destination = req.destination;
  plan->codecs = req.codecs;
  plan->max_memory = req.max_memory;
  plan->threads = threads;
  int format = req.zarr_format;
  if (format == 0) format = dataset.source().format_name() == "Zarr v2" ? 2 : 3;
  if (format != 2 && format != 3) {
    return InvalidArgumentError(fmt::format("--format must be 2 or 3, got {}", format));
  }
  plan->zarr_format = format;
  if (format == 2 && !req.shards.empty()) {
    return InvalidArgumentError("--shards needs Zarr v3 (--format 3): Zarr v2 has no shards");
  }
  format::DatasetWriteOptions wo;
  wo.zarr_format = format;
  wo.codecs = req.codecs;
  LSIO_RETURN_IF_ERROR(format::CheckDatasetWriteOptions(wo));

  // The arrays: the variables asked for and the coordinates of their dimensions.
  std::vector<const array::ArraySource*> chosen;
  if (req.variables.empty()) {
    chosen = dataset.Arrays();
  } else {
    std::set<const array::ArraySource*> set;
    for (const std::string& name : req.variables) {
      LSIO_ASSIGN_OR_RETURN(const array::ArraySource* a, dataset.FindArray(name));
      set.insert(a);
      for (const std::string& dim : a->info().dims) {
        const array::ArraySource* c =
            dataset.CoordinateOf(array::Dataset::GroupOf(a->info().path), dim);
        if (c != nullptr) set.insert(c);
      }
    }
    for (const array::ArraySource* a : dataset.Arrays()) {
      if (set.count(a) != 0) chosen.push_back(a);
    }
  }
  for (const array::ArraySource* a : chosen) {
    if (a->info().path.empty()) {
      // The output is a group of named arrays (what xarray opens); a bare array has no name.
      return InvalidArgumentError(fmt::format(
          "{}: the source is a single array at the root of its store, not a group of named "
          "arrays; lsio rechunk writes a group: rechunk a group that holds the array",
          req.source));
    }
  }
  std::set<std::string> all_dims;
  for (const array::ArraySource* a : chosen) {
    for (const std::string& d : a->info().dims) all_dims.insert(d);
  }
  for (const auto* m : {&req.chunks, &req.shards}) {
    for (const auto& [dim, n] : *m) {
      if (all_dims.count(dim) == 0) {
        std::string known;
        for (const std::string& d : all_dims) known += (known.empty() ? "" : ", ") + d;
        return InvalidArgumentError(fmt::format(
            "{} {}={}: no variable has a dimension '{}' (dimensions: {})",
            m == &req.chunks ? "--chunks" : "--shards", dim, n, dim, known));
      }
      if (n < 1 && n != -1) {
        return InvalidArgumentError(fmt::format("{} {}={}: a size must be >= 1, or -1 for the "
                                                "full length",
                                                m == &req.chunks ? "--chunks" : "--shards", dim,
                                                n));
      }
    }
  }

  std::vector<ArrayJob> jobs;
  for (const array::ArraySource* a : chosen) {
    const array::ArrayInfo& info = a->info();
    Status support = info.element.DecodeSupport();
    if (!support.ok()) return support.WithContext("variable '" + info.path + "'");
    ArrayJob job;
    job.source = a;
    RechunkArrayPlan& p = job.plan;
    p.path = info.path;
    p.dtype = info.element.name;
    p.dims = info.dims;
    p.shape = info.shape;
    p.element_size = info.element_size();
    p.source_chunk = info.chunk_shape;
    p.source_decodes_rows_in_part = a->decodes_rows_in_part();
    p.source_read_ahead = a->store()->read_ahead_bytes();
    const size_t rank = info.rank();
    p.chunk.resize(rank);
    auto given = req.array_chunks.find(info.path);
    if (given != req.array_chunks.end() && given->second.size() != rank) {
      return InvalidArgumentError(fmt::format("variable '{}': {} chunk sizes for {} dimensions",
                                              info.path, given->second.size(), rank));
    }
    for (size_t d = 0; d < rank; ++d) {
      auto it = req.chunks.find(info.dims[d]);
      int64_t c = it != req.chunks.end() ? it->second : info.chunk_shape[d];
      if (given != req.array_chunks.end()) c = given->second[d];
      if (c == -1) c = info.shape[d];
      p.chunk[d] = std::max<int64_t>(1, std::min(c, info.shape[d]));
      p.source_chunk[d] = std::max<int64_t>(1, p.source_chunk[d]);
    }
    p.unit = p.chunk;
    if (!req.shards.empty() && rank > 0) {
      p.shard.resize(rank);
      for (size_t d = 0; d < rank; ++d) {
        auto it = req.shards.find(info.dims[d]);
        const int64_t whole = std::max<int64_t>(1, CeilDiv(info.shape[d], p.chunk[d])) * p.chunk[d];
        int64_t s = it != req.shards.end() ? it->second : p.chunk[d];
        if (s == -1) s = whole;
        if (s % p.chunk[d] != 0) {
          return InvalidArgumentError(fmt::format(
              "variable '{}': shard {} along '{}' is not a multiple of its chunk {}", info.path,
              s, info.dims[d], p.chunk[d]));
        }
        p.shard[d] = s;
      }
      p.unit = p.shard;
    }
    LSIO_ASSIGN_OR_RETURN(job.threads,
                          PlanArrayBlocks(p, info.chunk_bytes(), req.max_memory, threads));

    format::ArrayLayout& l = job.layout;
    l.name = info.path;
    l.type = info.element;
    l.dims = info.dims;
    l.shape = info.shape;
    l.chunk_shape = p.chunk;
    l.shard_shape = p.shard;
    LSIO_RETURN_IF_ERROR(CarryFillValue(info, dataset.source().format_name(), format, &l));
    l.endian = info.element.endian;
    plan->bytes += p.bytes;
    plan->bytes_decoded += p.bytes_decoded;
    plan->peak_memory = std::max(plan->peak_memory, p.peak_memory);
    plan->arrays.push_back(p);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

// The chunks of a two-stage plan's intermediate store for one array: per dimension the
// smaller of the source's chunk and the output's unit, so that each stage reads its source in
// aligned blocks; then grown by doubling towards 2 MiB per chunk (fewer, larger keys) where the
// larger of the two stays a multiple, while both stages' aligned blocks (per dimension the
// larger of their source chunk and their unit) stay within `block_budget`.
std::vector<int64_t> IntermediateChunk(const RechunkArrayPlan& p, uint64_t block_budget) {
  const size_t rank = p.shape.size();
  std::vector<int64_t> c(rank);
  for (size_t d = 0; d < rank; ++d) {
    c[d] = std::max<int64_t>(1, std::min({p.source_chunk[d], p.unit[d], p.shape[d]}));
  }
  auto aligned_block = [&](const std::vector<int64_t>& chunk, const std::vector<int64_t>& other) {
    uint64_t b = p.element_size;
    for (size_t d = 0; d < rank; ++d) {
      b *= static_cast<uint64_t>(std::min(std::max(chunk[d], other[d]), p.shape[d]));
    }
    return b;
  };
  constexpr uint64_t kTarget = uint64_t{2} << 20;
  for (bool grew = true; grew && Product(c) * p.element_size < kTarget;) {
    grew = false;
    for (size_t d = 0; d < rank && Product(c) * p.element_size < kTarget; ++d) {
      const int64_t larger = std::max(p.source_chunk[d], p.unit[d]);
      if (c[d] >= p.shape[d] || larger % (2 * c[d]) != 0) continue;
      std::vector<int64_t> t = c;
      t[d] *= 2;
      if (aligned_block(t, p.source_chunk) > block_budget ||
          aligned_block(t, p.unit) > block_budget) {
        continue;
      }
      c = std::move(t);
      grew = true;
    }
  }
  return c;
}

// The intermediate store of a two-stage plan is written once and read once, on a run that is
// CPU-bound as soon as the disk is an SSD: blosc-lz4 with byte shuffle compresses float fields
// better than zstd level 1 does (a tmpfs copy of 2q: 782 against 858 MiB, 1012 MiB decoded)
// for a fraction of the CPU; 2q at 256 MiB from the disk: 4.8-5.4 s, 5.1-6.1 CPU s, against
// 5.9-6.2 s and 7.2-7.8 CPU s with zstd:1 (2026-12-07).
constexpr const char* kIntermediateCodecs = "blosc:lz4:1:shuffle";

// What a plan's passes over one array cost, in decoded bytes: the source chunks read (once per
// decode), decoded, and the output written. Decoding is the reads' bytes, except where the
// source passes over rows a block does not take: then a chunk decoded for several blocks
// apart along the outer dimensions costs about one decoding, and only splits along the last
// dimension (whose rows every block touches) decode it again. Measured on 2q at 256 MiB from
// the disk (3 alternating runs): one pass decoding each chunk for 3 blocks along `lat` took
// 2.52-2.67 s and 3.3 CPU s, two stages 3.22-3.52 s and 4.7 CPU s.
uint64_t PassCost(const RechunkArrayPlan& p) {
  uint64_t decoded = p.bytes_decoded;
  const size_t rank = p.shape.size();
  if (p.source_decodes_rows_in_part && rank > 0 && p.block_shape.size() == rank &&
      p.source_chunks > 0) {
    uint64_t decodes = p.source_chunks / static_cast<uint64_t>(
                                             CeilDiv(p.shape[rank - 1], p.source_chunk[rank - 1]));
    decodes *= DimDecodes(p.shape[rank - 1], p.block_shape[rank - 1], p.source_chunk[rank - 1]);
    decoded = std::min(decoded, decodes * Product(p.source_chunk) * p.element_size);
  }
  return p.bytes_decoded + decoded + p.bytes;
}

// The plan, with a second stage when it moves fewer bytes: `jobs` are the single-pass jobs;
// `intermediate` receives the intermediate chunks by array path when there are two stages.
Status PlanStages(const std::vector<ArrayJob>& jobs, const RechunkRequest& req, int threads,
                  RechunkPlan* plan, std::map<std::string, std::vector<int64_t>>* intermediate) {
  if (!req.multi_stage) return Status::OK();
  bool rereads = false;
  for (const ArrayJob& j : jobs) rereads = rereads || j.plan.chunk_decodes > j.plan.source_chunks;
  if (!rereads) return Status::OK();
  std::vector<RechunkArrayPlan> first, second;
  std::map<std::string, std::vector<int64_t>> chunks;
  uint64_t single = 0, two = 0, peak = 0, decoded = 0;
  for (const ArrayJob& j : jobs) {
    const RechunkArrayPlan& p = j.plan;
    single += PassCost(p);
    RechunkArrayPlan p1 = p;
    p1.chunk = IntermediateChunk(p, req.max_memory / 4);
    p1.shard.clear();
    p1.unit = p1.chunk;
    const uint64_t source_chunk_bytes = Product(p.source_chunk) * p.element_size;
    Result<int> t1 = PlanArrayBlocks(p1, source_chunk_bytes, req.max_memory, threads);
    RechunkArrayPlan p2 = p;
    p2.source_chunk = p1.chunk;
    p2.source_decodes_rows_in_part = true;  // kIntermediateCodecs: blosc
    p2.source_read_ahead = kMaxIoBudget;     // the intermediate's store is not open yet
    Result<int> t2 = t1.ok() ? PlanArrayBlocks(p2, Product(p1.chunk) * p.element_size,
                                               req.max_memory, threads)
                             : t1;
    if (!t2.ok()) return Status::OK();  // the single pass fits (it was planned): keep it
    two += PassCost(p1) + PassCost(p2);
    peak = std::max({peak, p1.peak_memory, p2.peak_memory});
    decoded += p1.bytes_decoded + p2.bytes_decoded;
    chunks[p.path] = p1.chunk;
    first.push_back(std::move(p1));
    second.push_back(std::move(p2));
  }
  // Bytes through the store and codecs on each side (PassCost); one pass when it is no more.
  if (two >= single) return Status::OK();
  plan->stages = 2;
  plan->intermediate = req.temp;
  if (plan->intermediate.empty()) {
    std::string d = req.destination;
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    plan->intermediate = d + ".lsio-stage";
  }
  plan->first_stage = std::move(first);
  plan->arrays = std::move(second);
  plan->peak_memory = peak;
  plan->bytes_decoded = decoded;
  *intermediate = std::move(chunks);
  return Status::OK();
}

// --- the journal of finished units ---

class Journal {
 public:
  explicit Journal(kvstore::Store& store) : store_(&store) {}

  // Units recorded by earlier runs, per array index.
  Status Load(size_t arrays) {
    done_.assign(arrays, {});
    LSIO_ASSIGN_OR_RETURN(std::vector<kvstore::ListEntry> entries,
                          store_->List(kJournalPrefix, kvstore::ListMode::kChildren));
    for (const kvstore::ListEntry& e : entries) {
      if (e.is_prefix) continue;
      const std::string key = std::string(kJournalPrefix) + "/" + e.key;
      LSIO_ASSIGN_OR_RETURN(std::optional<Buffer> value, store_->Read(key));
      if (!value) continue;
      const std::string text(reinterpret_cast<const char*>(value->data()), value->size());
      size_t pos = 0;
      while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        unsigned long long a = 0, u = 0;
        if (std::sscanf(text.c_str() + pos, "%llu %llu", &a, &u) != 2 || a >= arrays) {
          return CorruptDataError(store_->Describe(key) + ": not a rechunk journal entry");
        }
        done_[a].insert(u);
        pos = end + 1;
      }
      seq_ = std::max<uint64_t>(seq_, std::strtoull(e.key.c_str(), nullptr, 10) + 1);
    }
    return Status::OK();
  }
  bool Done(size_t array, uint64_t unit) const { return done_[array].count(unit) != 0; }
  // The destination held this plan already (a resumed run).
  bool resumed() const { return resumed_; }
  void set_resumed() { resumed_ = true; }
  uint64_t done_count(size_t array) const { return done_[array].size(); }

  // Thread-safe. Written in batches (a unit finished but not yet journaled is redone by a
  // resumed run, writing the same bytes again).
  Status Record(size_t array, uint64_t unit) {
    std::lock_guard lock(mu_);
    pending_ += fmt::format("{} {}\n", array, unit);
    ++pending_units_;
    if (pending_units_ >= 256 || Clock::now() - last_flush_ > std::chrono::milliseconds(500)) {
      return FlushLocked();
    }
    return Status::OK();
  }
  Status Flush() {
    std::lock_guard lock(mu_);
    return FlushLocked();
  }

 private:
  Status FlushLocked() {
    last_flush_ = Clock::now();
    if (pending_.empty()) return Status::OK();
    const std::string key = fmt::format("{}/{:010d}", kJournalPrefix, seq_++);
    Status s = store_->Write(key, std::as_bytes(std::span(pending_.data(), pending_.size())));
    if (!s.ok()) return s.WithContext("writing the rechunk journal " + store_->Describe(key));
    pending_.clear();
    pending_units_ = 0;
    return Status::OK();
  }

  kvstore::Store* store_;
  std::vector<std::set<uint64_t>> done_;
  bool resumed_ = false;
  std::mutex mu_;
  std::string pending_;
  uint64_t pending_units_ = 0;
  uint64_t seq_ = 0;
  Clock::time_point last_flush_ = Clock::now();
};

// --- one block: decoded input chunks scattered into the block's write units ---

// The units' assembly buffers, recycled: a unit's buffer comes back here once it has been
// encoded and the next units reuse it, so that pages are faulted in about once per run rather
// than once per unit (first touches of fresh pages cost more here than the copies into them).
// Mapped from the kernel: the blocks are the bulk of the budget, and malloc's dynamic mmap
// threshold would keep freed ones in its heap (measured: peak RSS 440 MiB under a 256 MiB
// budget). Buffers in use and kept free together stay within `limit` (the plan's bytes of
// blocks in flight) unless those in use alone exceed it; free ones are unmapped first.
// Thread-safe.
class UnitMemory {
 public:
  explicit UnitMemory(uint64_t limit) : limit_(limit) {}
  UnitMemory(const UnitMemory&) = delete;
  UnitMemory& operator=(const UnitMemory&) = delete;
  ~UnitMemory() {
    for (auto& [size, list] : free_) {
      for (std::byte* p : list) ::munmap(p, size);
    }
  }

  Result<std::span<std::byte>> Acquire(size_t size) {
    std::vector<std::pair<std::byte*, size_t>> evicted;
    std::byte* reused = nullptr;
    {
      std::lock_guard lock(mu_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        reused = it->second.back();
        it->second.pop_back();
        cached_ -= size;
      } else {
        for (auto f = free_.begin(); f != free_.end() && cached_ > 0 &&
                                     in_use_ + cached_ + size > limit_;) {
          if (f->second.empty()) {
            ++f;
            continue;
          }
          evicted.emplace_back(f->second.back(), f->first);
          f->second.pop_back();
          cached_ -= f->first;
        }
      }
      in_use_ += size;
    }
    for (auto [p, n] : evicted) ::munmap(p, n);
    if (reused != nullptr) return std::span<std::byte>(reused, size);
    void* p = ::mmap(nullptr, std::max<size_t>(size, 1), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      std::lock_guard lock(mu_);
      in_use_ -= size;
      return ResourceExhaustedError(fmt::format("out of memory mapping {} bytes for a unit", size));
    }
    return std::span<std::byte>(static_cast<std::byte*>(p), size);
  }

  void Release(std::span<std::byte> buffer) {
    if (buffer.data() == nullptr) return;
    {
      std::lock_guard lock(mu_);
      in_use_ -= buffer.size();
      if (in_use_ + cached_ + buffer.size() <= limit_) {
        free_[buffer.size()].push_back(buffer.data());
        cached_ += buffer.size();
        return;
      }
    }
    ::munmap(buffer.data(), std::max<size_t>(buffer.size(), 1));
  }

 private:
  const uint64_t limit_;
  std::mutex mu_;
  std::map<size_t, std::vector<std::byte*>> free_;
  uint64_t in_use_ = 0;
  uint64_t cached_ = 0;
};

struct Counters {
  std::atomic<uint64_t> bytes_written{0};
  std::atomic<uint64_t> units_written{0};
  std::atomic<uint64_t> units_fill{0};
  std::atomic<uint64_t> units_done{0};
};

class BlockAssembler;

// Encodes finished units on the CPU pool, at most `limit` at once, and writes them from IO
// threads of its own, so that no worker waits for the disk: a block's units are encoded on
// every worker while their writes and the next block's reads are on the disk (measured: with
// each worker writing its own units, the workers waited ~35% of the time for O_DIRECT writes,
// ~1.2 ms per 1 MiB unit). Each encoding holds the unit's encoding and the codec's scratch;
// encoded units waiting for or in their writes are held up to set_write_budget() bytes (the
// plan's UnitsPerWorker); a worker whose unit would exceed it waits (the disk is then the
// bottleneck). The first failure stops it: units queued after it are dropped (not journaled: a
// resumed run redoes them), and failed() turns true so that the pass being run is cancelled.
// Thread-safe; the destructor waits for its tasks and joins its threads.
class UnitWriter {
 public:
  UnitWriter(compute::CpuPool& pool, int limit) : pool_(pool), limit_(std::max(limit, 1)) {}
  UnitWriter(const UnitWriter&) = delete;
  UnitWriter& operator=(const UnitWriter&) = delete;
  ~UnitWriter();

  // Called by a decoding worker when the unit's last element has arrived.
  void Enqueue(BlockAssembler* block, void* unit);
  // Called by an encoding worker: `key` <- `encoded` is written by an IO thread, then
  // block->Written(unit, ...) records it. Waits while the bytes pending would exceed the
  // write budget (unless nothing is pending).
  void Publish(BlockAssembler* block, void* unit, std::string key, Buffer encoded);
  // Bytes of encoded units waiting for or in their writes (set before each array's blocks).
  void set_write_budget(uint64_t bytes) {
    std::lock_guard lock(mu_);
    write_budget_ = bytes;
  }
  // Blocks until every unit of `block` is written, or the writer failed (then its error).
  Status WaitFor(const BlockAssembler& block);
  // Blocks until every unit of `block` is encoded (its buffer back in UnitMemory), or the
  // writer failed (then its error).
  Status WaitForEncoded(const BlockAssembler& block);
  // Blocks until nothing is queued or running (after a failure: until what runs has stopped).
  void WaitIdle();
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  Status error() {
    std::lock_guard lock(mu_);
    return error_;
  }

 private:
  struct PendingWrite {
    BlockAssembler* block;
    void* unit;
    std::string key;
    Buffer encoded;
  };
  void Drain();
  void WriteLoop();
  // Writes `w` (or drops it after a failure) with `lock` (on mu_) released meanwhile.
  void WriteOne(std::unique_lock<std::mutex>& lock, PendingWrite w);
  void Fail(Status s);  // with mu_ held

  compute::CpuPool& pool_;
  const int limit_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<BlockAssembler*, void*>> queue_;
  int drainers_ = 0;
  std::deque<PendingWrite> writes_;
  int writes_pending_ = 0;  // queued or being written
  uint64_t write_bytes_pending_ = 0;
  uint64_t write_budget_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> io_threads_;
  std::atomic<bool> failed_{false};
  Status error_;
};

class BlockAssembler final : public Aggregator {
 public:
  struct Unit {
    std::vector<int64_t> index;   // in the unit grid
    std::vector<int64_t> origin;  // relative to the block
    std::vector<int64_t> extent;
    uint64_t linear = 0;
    bool skip = false;  // finished by an earlier run
    std::mutex mu;
    std::span<std::byte> buffer;  // from UnitMemory once the first element arrives
    std::atomic<int64_t> remaining{0};
  };

  BlockAssembler(const array::ArrayInfo& info, const format::UnitEncoder& encoder,
                 kvstore::Store& dst, Journal& journal, size_t array_index,
                 std::vector<int64_t> block_start, std::vector<int64_t> block_units_start,
                 std::vector<int64_t> block_units_count, uint64_t state_bytes, Counters& counters,
                 UnitMemory& memory, UnitWriter& writer)
      : info_(info),
        encoder_(encoder),
        dst_(dst),
        journal_(journal),
        array_index_(array_index),
        block_start_(std::move(block_start)),
        units_start_(std::move(block_units_start)),
        units_count_(std::move(block_units_count)),
        state_bytes_(state_bytes),
        counters_(counters),
        memory_(memory),
        writer_(writer) {
    const std::vector<int64_t> grid = encoder_.unit_grid_shape();
    const uint64_t n = Product(units_count_);
    units_ = std::vector<Unit>(n);
    const size_t rank = grid.size();
    for (uint64_t i = 0; i < n; ++i) {
      Unit& u = units_[i];
      u.index = Unravel(i, units_count_);
      for (size_t d = 0; d < rank; ++d) u.index[d] += units_start_[d];
      u.origin = encoder_.UnitOrigin(u.index);
      for (size_t d = 0; d < rank; ++d) u.origin[d] -= block_start_[d];
      u.extent = encoder_.UnitExtent(u.index);
      u.linear = Ravel(u.index, grid);
      u.skip = journal_.Done(array_index_, u.linear);
      u.remaining.store(static_cast<int64_t>(Product(u.extent)));
      if (!u.skip) ++unwritten_;
    }
    unencoded_.store(unwritten_.load());
  }

  ~BlockAssembler() override {
    for (Unit& u : units_) memory_.Release(u.buffer);
  }

  // Units of this block not yet written (nor dropped after a failure).
  uint64_t unwritten() const { return unwritten_.load(std::memory_order_acquire); }
  // Units of this block not yet encoded: the block holds unit memory until this is 0 (its
  // encoded units then wait for their writes under the writer's write budget).
  uint64_t unencoded() const { return unencoded_.load(std::memory_order_acquire); }

  uint64_t state_bytes() const override { return state_bytes_; }
  Status BeginPass(BufferPool& decode_pool, uint64_t) override {
    decode_pool_ = &decode_pool;
    return Status::OK();
  }
  Status EndPass() override {
    for (const Unit& u : units_) {
      if (!u.skip && u.remaining.load() != 0) {
        return InternalError(fmt::format("variable '{}': unit {} was not completed",
                                         info_.path, encoder_.UnitKey(u.index)));
      }
    }
    return Status::OK();
  }

  // Chunks whose codecs stream (blosc frames that lsio's decoder takes) are
  // scattered into the units from cache-sized decoded pieces (UnitScatterSink): the decoded
  // chunk is never written to memory and read back. A chunk that lands contiguously in one
  // unit is left to the source, which decodes it straight into the unit (DecodeDestination).
  bool ConsumesEncoded(const codec::CodecChain& chain, const array::ChunkSelection& selection,
                       std::span<const int64_t> chunk_shape) const override {
    return chain.can_stream() && !units_count_.empty() &&
           chunk_shape.size() == units_count_.size() &&
           chain.decoded_spec().num_bytes() == Product(chunk_shape) * info_.element_size() &&
           !ContiguousInOneUnit(selection, chunk_shape);
  }

  Status ConsumeEncoded(uint64_t, const array::ChunkSelection& selection,
                        std::span<const int64_t> chunk_shape, const codec::CodecChain& chain,
                        std::span<const std::byte> encoded) override {
    // Every unit the chunk feeds has its buffer before the first piece; the units count the
    // chunk's elements only once all of it arrived, so a chunk found corrupt half-way sends
    // no unit to be written.
    LSIO_RETURN_IF_ERROR(ForEachOverlap(selection, [](Unit&, std::span<const array::CopyBoxDim>,
                                                      int64_t) { return Status::OK(); }));
    UnitScatterSink sink(*this, selection, chunk_shape);
    LSIO_RETURN_IF_ERROR(chain.DecodeStreaming(encoded, sink, *decode_pool_));
    LSIO_RETURN_IF_ERROR(sink.Finish());
    return ForEachOverlap(selection,
                          [&](Unit& u, std::span<const array::CopyBoxDim>, int64_t elements) {
                            CountDown(u, elements);
                            return Status::OK();
                          });
  }

  Status Consume(uint64_t, const array::ChunkSelection& selection,
                 std::span<const int64_t> chunk_shape, std::span<const std::byte> chunk) override {
    return Scatter(selection, [&](Unit& u, std::span<const array::CopyBoxDim> box) {
      const std::byte* b = u.buffer.data();
      if (chunk.data() >= b && chunk.data() + chunk.size() <= b + u.buffer.size()) {
        return Status::OK();  // decoded in place (DecodeDestination)
      }
      return array::CopyBox(chunk, chunk_shape, u.buffer, u.extent, box,
                            info_.element_size());
    });
  }

  // A chunk that falls in one unit and lies contiguously in it (rechunking along the leading
  // dimensions, say) is decoded straight into the unit's buffer; Consume then only counts it.
  std::span<std::byte> DecodeDestination(const array::ChunkSelection& selection,
                                         std::span<const int64_t> chunk_shape) override {
    const std::optional<std::pair<size_t, uint64_t>> at =
        ContiguousInOneUnit(selection, chunk_shape);
    if (!at) return {};
    Unit& u = units_[at->first];
    const uint64_t offset = at->second;
    std::lock_guard lock(u.mu);
    if (u.buffer.data() == nullptr) {
      Result<std::span<std::byte>> buffer =
          memory_.Acquire(Product(u.extent) * info_.element_size());
      if (!buffer.ok()) return {};  // Scatter meets (and reports) the same
      u.buffer = *buffer;
    }
    const size_t es = info_.element_size();
    return u.buffer.subspan(offset * es, Product(chunk_shape) * es);
  }
  Status ConsumeFill(uint64_t, const array::ChunkSelection& selection,
                     std::span<const int64_t>) override {
    return Scatter(selection, [&](Unit& u, std::span<const array::CopyBoxDim> box) {
      return array::FillBox(u.buffer, u.extent, box, info_.fill_value);
    });
  }

 private:
  // The unit (its index) a chunk's selection falls in whole and contiguously, and the element
  // offset where it starts there; nullopt when it spans units, is strided, or the unit is
  // skipped.
  std::optional<std::pair<size_t, uint64_t>> ContiguousInOneUnit(
      const array::ChunkSelection& selection, std::span<const int64_t> chunk_shape) const {
    const size_t rank = units_count_.size();
    if (selection.dims.size() != rank || chunk_shape.size() != rank) return std::nullopt;
    const std::vector<int64_t>& us = encoder_.unit_shape();
    std::vector<int64_t> at(rank);
    for (size_t d = 0; d < rank; ++d) {
      const array::ChunkDimSlice& s = selection.dims[d];
      if (s.count <= 0) return std::nullopt;
      at[d] = s.out_start / us[d];
      if ((s.out_start + s.count - 1) / us[d] != at[d]) return std::nullopt;  // in two units
    }
    const size_t index = Ravel(at, units_count_);
    const Unit& u = units_[index];
    if (u.skip) return std::nullopt;
    std::vector<array::CopyBoxDim> box(rank);
    for (size_t d = 0; d < rank; ++d) {
      const array::ChunkDimSlice& s = selection.dims[d];
      box[d] = array::CopyBoxDim{s.start, s.step, s.out_start - u.origin[d], s.count};
    }
    const std::optional<uint64_t> offset = array::ContiguousBoxOffset(box, chunk_shape, u.extent);
    if (!offset) return std::nullopt;
    return std::pair<size_t, uint64_t>(index, *offset);
  }

  // Places the elements of one chunk, arriving in C order in pieces of any size, in the units
  // of the block (the same elements and places as Scatter with CopyBox).
  class UnitScatterSink final : public codec::DecodedWindowSink {
   public:
    UnitScatterSink(BlockAssembler& block, const array::ChunkSelection& selection,
                    std::span<const int64_t> chunk_shape)
        : block_(block),
          selection_(selection),
          chunk_shape_(chunk_shape),
          es_(block.info_.element_size()),
          carry_(es_),
          pos_in_unit_(chunk_shape.size()) {
      const size_t rank = chunk_shape.size();
      row_elements_ = chunk_shape[rank - 1];
      total_ = Product(chunk_shape) * es_;
      // The runs of the last dimension's selected elements that land in one unit.
      const array::ChunkDimSlice& s = selection.dims[rank - 1];
      const int64_t us = block.encoder_.unit_shape()[rank - 1];
      for (int64_t k = 0; k < s.count;) {
        const int64_t out = s.out_start + k;
        const int64_t unit = out / us;
        const int64_t end = std::min(s.count, (unit + 1) * us - s.out_start);
        runs_.push_back(Run{k, end, unit, out - unit * us, nullptr, 0});
        k = end;
      }
    }

    // A piece the block needs nothing of (rows outside its part of the chunk) is skipped by
    // the decoder: a block of units that takes half of a chunk's rows decodes half of it.
    bool Wants(size_t length) override {
      if (carry_n_ > 0 || length == 0) return true;
      const uint64_t e0 = pos_ / es_;
      const uint64_t e1 = (pos_ + length + es_ - 1) / es_;  // elements the piece touches
      for (int64_t r = static_cast<int64_t>(e0) / row_elements_,
                   last = static_cast<int64_t>(e1 - 1) / row_elements_;
           r <= last; ++r) {
        if (RowSelected(r, nullptr)) return true;
      }
      return false;
    }
    Status Skip(size_t length) override {
      if (length > total_ - pos_) {
        return CorruptDataError(fmt::format("chunk decodes to more than its {} bytes", total_));
      }
      pos_ += length;
      return Status::OK();
    }

    Status Consume(std::span<const std::byte> piece) override {
      const std::byte* p = piece.data();
      size_t n = piece.size();
      if (n > total_ - pos_) {
        return CorruptDataError(fmt::format("chunk decodes to more than its {} bytes", total_));
      }
      if (carry_n_ == 0 && pos_ % es_ != 0) {
        // The rest of an element whose start was skipped: its row is not taken (Wants said so
        // for the piece that held its start).
        const size_t rest = std::min(es_ - pos_ % es_, n);
        p += rest;
        n -= rest;
        pos_ += rest;
      }
      if (carry_n_ > 0) {  // an element split between two pieces
        const size_t take = std::min(es_ - carry_n_, n);
        std::memcpy(carry_.data() + carry_n_, p, take);
        carry_n_ += take;
        p += take;
        n -= take;
        pos_ += take;
        if (carry_n_ < es_) return Status::OK();
        carry_n_ = 0;
        Place(pos_ / es_ - 1, carry_.data(), 1);
      }
      const size_t whole = n / es_;
      if (whole > 0) {
        Place(pos_ / es_, p, static_cast<int64_t>(whole));
        p += whole * es_;
        n -= whole * es_;
        pos_ += whole * es_;
      }
      if (n > 0) {
        std::memcpy(carry_.data(), p, n);
        carry_n_ = n;
        pos_ += n;
      }
      return Status::OK();
    }

    Status Finish() const {
      if (pos_ != total_) {
        return CorruptDataError(
            fmt::format("chunk decodes to {} bytes, not its {} bytes", pos_, total_));
      }
      return Status::OK();
    }

   private:
    struct Run {
      int64_t k0, k1;   // selected elements [k0, k1) of the last dimension
      int64_t unit;     // their unit along it (block-relative)
      int64_t in_unit;  // where the first lands along it in that unit
      // For the current row: the unit (null: not written by this run) and the element offset
      // of the run's first element in its buffer.
      Unit* target;
      int64_t offset;
    };

    // `count` elements from element `first` of the chunk (C order).
    void Place(int64_t first, const std::byte* src, int64_t count) {
      while (count > 0) {
        const int64_t row = first / row_elements_;
        const int64_t col = first % row_elements_;
        const int64_t m = std::min(count, row_elements_ - col);
        if (row != row_) EnterRow(row);
        if (row_selected_) PlaceInRow(col, src, m);
        first += m;
        src += m * static_cast<int64_t>(es_);
        count -= m;
      }
    }

    // Whether the selection takes row `row` of the chunk; if so and `lead_unit` is given, the
    // row's unit over the leading dimensions (block-relative, C order) and its place in that
    // unit (pos_in_unit_).
    bool RowSelected(int64_t row, int64_t* lead_unit) {
      const size_t rank = chunk_shape_.size();
      const std::vector<int64_t>& us = block_.encoder_.unit_shape();
      int64_t rest = row;
      int64_t lead = 0;
      int64_t stride = 1;
      for (size_t d = rank - 1; d-- > 0;) {  // the row's index along each leading dimension
        const int64_t i = rest % chunk_shape_[d];
        rest /= chunk_shape_[d];
        const array::ChunkDimSlice& s = selection_.dims[d];
        const int64_t off = i - s.start;
        if (off < 0 || off % s.step != 0 || off / s.step >= s.count) return false;
        if (lead_unit == nullptr) continue;
        const int64_t out = s.out_start + off / s.step;
        const int64_t unit = out / us[d];
        pos_in_unit_[d] = out - unit * us[d];
        lead += unit * stride;
        stride *= block_.units_count_[d];
      }
      if (lead_unit != nullptr) *lead_unit = lead;
      return true;
    }

    // Which unit each run writes for this row, and where.
    void EnterRow(int64_t row) {
      row_ = row;
      const size_t rank = chunk_shape_.size();
      int64_t lead_unit = 0;  // block-relative unit index over the leading dimensions
      row_selected_ = RowSelected(row, &lead_unit);
      if (!row_selected_) return;
      const std::vector<int64_t>& pos = pos_in_unit_;
      const int64_t units_last = block_.units_count_[rank - 1];
      for (Run& r : runs_) {
        Unit& u = block_.units_[lead_unit * units_last + r.unit];
        if (u.skip) {
          r.target = nullptr;
          continue;
        }
        int64_t offset = 0;
        for (size_t d = 0; d + 1 < rank; ++d) offset = offset * u.extent[d] + pos[d];
        r.target = &u;
        r.offset = offset * u.extent[rank - 1] + r.in_unit;
      }
    }

    // Columns [col, col + m) of the current row, from `src`.
    void PlaceInRow(int64_t col, const std::byte* src, int64_t m) {
      const array::ChunkDimSlice& s = selection_.dims[chunk_shape_.size() - 1];
      // Selected elements k with col <= s.start + k * s.step < col + m.
      auto first_at = [&](int64_t c) -> int64_t {
        return c <= s.start ? 0 : (c - s.start + s.step - 1) / s.step;
      };
      const int64_t k_lo = first_at(col);
      const int64_t k_hi = std::min(s.count, first_at(col + m));
      for (const Run& r : runs_) {
        const int64_t a = std::max(r.k0, k_lo);
        const int64_t b = std::min(r.k1, k_hi);
        if (a >= b || r.target == nullptr) continue;
        std::byte* dst = r.target->buffer.data() + (r.offset + (a - r.k0)) * es_;
        const std::byte* from = src + (s.start + a * s.step - col) * static_cast<int64_t>(es_);
        if (s.step == 1) {
          std::memcpy(dst, from, static_cast<size_t>(b - a) * es_);
        } else {
          for (int64_t k = a; k < b; ++k) {
            std::memcpy(dst, from, es_);
            dst += es_;
            from += s.step * static_cast<int64_t>(es_);
          }
        }
      }
    }

    BlockAssembler& block_;
    const array::ChunkSelection& selection_;
    std::span<const int64_t> chunk_shape_;
    size_t es_;
    int64_t row_elements_ = 0;
    uint64_t total_ = 0;
    uint64_t pos_ = 0;  // bytes received
    std::vector<std::byte> carry_;
    size_t carry_n_ = 0;
    std::vector<Run> runs_;
    std::vector<int64_t> pos_in_unit_;  // the current row's place in its units, per dimension
    int64_t row_ = -1;
    bool row_selected_ = false;
  };

  // Calls fn(unit, box, elements) for each unit of the block (not finished earlier) that the
  // chunk's selection overlaps, with the box to copy and its element count, once the unit has
  // its buffer.
  template <typename Fn>
  Status ForEachOverlap(const array::ChunkSelection& selection, Fn&& fn) {
    const size_t rank = units_count_.size();
    const std::vector<int64_t>& us = encoder_.unit_shape();
    // The units of the block this piece overlaps, per dimension (block-relative unit index).
    std::vector<int64_t> lo(rank), hi(rank);
    for (size_t d = 0; d < rank; ++d) {
      const array::ChunkDimSlice& s = selection.dims[d];
      if (s.count == 0) return Status::OK();
      lo[d] = s.out_start / us[d];
      hi[d] = (s.out_start + s.count - 1) / us[d] + 1;
    }
    std::vector<int64_t> span(rank);
    for (size_t d = 0; d < rank; ++d) span[d] = hi[d] - lo[d];
    const uint64_t n = Product(span);
    std::vector<array::CopyBoxDim> box(rank);
    for (uint64_t i = 0; i < n; ++i) {
      std::vector<int64_t> at = Unravel(i, span);
      for (size_t d = 0; d < rank; ++d) at[d] += lo[d];
      Unit& u = units_[Ravel(at, units_count_)];
      if (u.skip) continue;
      int64_t elements = 1;
      for (size_t d = 0; d < rank; ++d) {
        const array::ChunkDimSlice& s = selection.dims[d];
        const int64_t a = std::max(s.out_start, u.origin[d]);
        const int64_t b = std::min(s.out_start + s.count, u.origin[d] + u.extent[d]);
        box[d] = array::CopyBoxDim{s.start + (a - s.out_start) * s.step, s.step, a - u.origin[d],
                                   b - a};
        elements *= b - a;
      }
      if (elements <= 0) continue;
      {
        std::lock_guard lock(u.mu);
        if (u.buffer.data() == nullptr) {
          LSIO_ASSIGN_OR_RETURN(u.buffer,
                                memory_.Acquire(Product(u.extent) * info_.element_size()));
        }
      }
      LSIO_RETURN_IF_ERROR(fn(u, std::span<const array::CopyBoxDim>(box), elements));
    }
    return Status::OK();
  }

  // `elements` of the unit arrived: the last of them sends it to be encoded and written.
  void CountDown(Unit& u, int64_t elements) {
    if (u.remaining.fetch_sub(elements) == elements) writer_.Enqueue(this, &u);
  }

  template <typename Fn>
  Status Scatter(const array::ChunkSelection& selection, Fn&& place) {
    return ForEachOverlap(selection, [&](Unit& u, std::span<const array::CopyBoxDim> box,
                                         int64_t elements) -> Status {
      LSIO_RETURN_IF_ERROR(place(u, box));
      CountDown(u, elements);
      return Status::OK();
    });
  }

 public:
  // The unit's last element arrived (UnitWriter, on a worker): encode it and free its buffer;
  // a stored unit goes to the writer's IO threads (then Written), a unit of fill value is
  // finished here. With `drop`, only free (the writer failed).
  Status Finish(void* unit, bool drop) {
    Unit& u = *static_cast<Unit*>(unit);
    if (drop) {
      Encoded();
      Release(u);
      return Status::OK();
    }
    Result<std::optional<Buffer>> encoded = encoder_.EncodeUnit(u.index, u.buffer);
    memory_.Release(u.buffer);
    u.buffer = {};
    Encoded();
    if (!encoded.ok()) {
      Release(u);
      return encoded.status().WithContext("variable '" + info_.path + "'");
    }
    std::string key = encoder_.UnitKey(u.index);
    if (encoded->has_value()) {
      writer_.Publish(this, &u, std::move(key), std::move(**encoded));
      return Status::OK();
    }
    // A unit of fill value is not stored: on a resumed run, remove what an earlier run may
    // have left there (only if the source changed in between; the plan is the same).
    Status s = journal_.resumed() ? dst_.Delete(key) : Status::OK();
    if (s.ok()) {
      counters_.units_fill.fetch_add(1, std::memory_order_relaxed);
      counters_.units_done.fetch_add(1, std::memory_order_relaxed);
      s = journal_.Record(array_index_, u.linear);
    }
    Release(u);
    return s;
  }

  // A stored unit's write ended (on an IO thread of the writer; `write` is its outcome):
  // journal it if it landed.
  Status Written(void* unit, std::string_view key, uint64_t size, Status write) {
    Unit& u = *static_cast<Unit*>(unit);
    Status s = std::move(write);
    if (!s.ok()) {
      s = s.WithContext(fmt::format("variable '{}': writing unit {} ({})", info_.path, key,
                                    dst_.Describe(key)));
    } else {
      counters_.bytes_written.fetch_add(size, std::memory_order_relaxed);
      counters_.units_written.fetch_add(1, std::memory_order_relaxed);
      counters_.units_done.fetch_add(1, std::memory_order_relaxed);
      s = journal_.Record(array_index_, u.linear);
    }
    Release(u);
    return s;
  }

  kvstore::Store& store() { return dst_; }

 private:
  // The unit's buffer is back in UnitMemory. Counted before the unit can be released (last
  // use of the block by this thread: once every unit is released, the block may be freed).
  void Encoded() { unencoded_.fetch_sub(1, std::memory_order_acq_rel); }

  // The unit is done with (written, dropped or failed): its buffer, if any, goes back.
  void Release(Unit& u) {
    memory_.Release(u.buffer);
    u.buffer = {};
    unwritten_.fetch_sub(1, std::memory_order_acq_rel);
  }

  const array::ArrayInfo& info_;
  const format::UnitEncoder& encoder_;
  kvstore::Store& dst_;
  Journal& journal_;
  size_t array_index_;
  std::vector<int64_t> block_start_;
  std::vector<int64_t> units_start_;
  std::vector<int64_t> units_count_;
  uint64_t state_bytes_;
  Counters& counters_;
  UnitMemory& memory_;
  UnitWriter& writer_;
  BufferPool* decode_pool_ = &DefaultBufferPool();  // the pass's (BeginPass)
  std::vector<Unit> units_;
  std::atomic<uint64_t> unwritten_{0};
  std::atomic<uint64_t> unencoded_{0};
};

UnitWriter::~UnitWriter() {
  WaitIdle();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : io_threads_) t.join();
}

void UnitWriter::Enqueue(BlockAssembler* block, void* unit) {
  {
    std::lock_guard lock(mu_);
    queue_.emplace_back(block, unit);
    if (drainers_ >= limit_) return;
    ++drainers_;
  }
  pool_.Submit([this] { Drain(); });
}

void UnitWriter::Fail(Status s) {
  if (!s.ok() && error_.ok()) {
    error_ = std::move(s);
    failed_.store(true, std::memory_order_release);
  }
}

void UnitWriter::Drain() {
  while (true) {
    std::pair<BlockAssembler*, void*> next;
    {
      std::lock_guard lock(mu_);
      if (queue_.empty()) {
        --drainers_;
        cv_.notify_all();
        return;
      }
      next = queue_.front();
      queue_.pop_front();
    }
    Status s = next.first->Finish(next.second, failed());
    std::lock_guard lock(mu_);
    Fail(std::move(s));
    cv_.notify_all();
  }
}

void UnitWriter::Publish(BlockAssembler* block, void* unit, std::string key, Buffer encoded) {
  const uint64_t size = encoded.size();
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] {
    return writes_pending_ == 0 || write_bytes_pending_ + size <= write_budget_;
  });
  ++writes_pending_;
  write_bytes_pending_ += size;
  writes_.push_back(PendingWrite{block, unit, std::move(key), std::move(encoded)});
  // IO threads are started as writes overlap, up to four per worker.
  if (io_threads_.size() < static_cast<size_t>(std::min(writes_pending_, 4 * limit_))) {
    try {
      io_threads_.emplace_back([this] { WriteLoop(); });
    } catch (const std::system_error&) {
      if (io_threads_.empty()) {
        // No thread to be had (a process at its limit): this worker writes the unit itself.
        PendingWrite w = std::move(writes_.back());
        writes_.pop_back();
        WriteOne(lock, std::move(w));
        return;
      }
    }
  }
  cv_.notify_all();
}

void UnitWriter::WriteOne(std::unique_lock<std::mutex>& lock, PendingWrite w) {
  const bool drop = failed();
  lock.unlock();
  const uint64_t size = w.encoded.size();
  Status s;
  if (drop) {
    // After the first failure: dropped, not journaled (that failure is the one reported).
    (void)w.block->Written(w.unit, w.key, size, CancelledError("an earlier unit failed"));
  } else {
    // Handed over as it is (Write would copy it).
    std::vector<kvstore::KeyValue> one;
    one.push_back(kvstore::KeyValue{w.key, std::move(w.encoded)});
    Status written = w.block->store().WriteBatch(std::move(one));
    s = w.block->Written(w.unit, w.key, size, std::move(written));
  }
  lock.lock();
  Fail(std::move(s));
  --writes_pending_;
  write_bytes_pending_ -= size;
  cv_.notify_all();
}

void UnitWriter::WriteLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stopping_ || !writes_.empty(); });
    if (writes_.empty()) return;  // stopping, and nothing left
    PendingWrite w = std::move(writes_.front());
    writes_.pop_front();
    WriteOne(lock, std::move(w));
  }
}

Status UnitWriter::WaitFor(const BlockAssembler& block) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return block.unwritten() == 0 || failed(); });
  return error_;
}

Status UnitWriter::WaitForEncoded(const BlockAssembler& block) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return block.unencoded() == 0 || failed(); });
  return error_;
}

void UnitWriter::WaitIdle() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return queue_.empty() && drainers_ == 0 && writes_pending_ == 0; });
}

json PlanIdentity(const RechunkPlan& plan,
                  const std::vector<std::unique_ptr<format::UnitEncoder>>& encoders) {
  json arrays = json::object();
  for (size_t i = 0; i < encoders.size(); ++i) {
    json docs = json::object();
    for (const kvstore::KeyValue& kv : encoders[i]->MetadataValues()) {
      docs[kv.key] = std::string(reinterpret_cast<const char*>(kv.value.data()), kv.value.size());
    }
    const RechunkArrayPlan& p = plan.arrays[i];
    arrays[p.path] = {{"source_shape", p.shape}, {"source_dtype", p.dtype}, {"metadata", docs}};
  }
  return json{{"lsio_rechunk", 1}, {"source", plan.source}, {"arrays", arrays}};
}

}  // namespace

Result<std::map<std::string, int64_t>> ParseDimSizes(std::string_view text) {
  std::map<std::string, int64_t> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string_view::npos) end = text.size();
    const std::string item(text.substr(pos, end - pos));
    pos = end + 1;
    if (item.empty()) {
      if (end == text.size()) break;
      continue;
    }
    const size_t eq = item.find('=');
    int64_t n = 0;
    bool ok = eq != std::string::npos && eq > 0 && eq + 1 < item.size();
    if (ok) {
      const char* first = item.data() + eq + 1;
      const char* last = item.data() + item.size();
      const auto [ptr, ec] = std::from_chars(first, last, n);
      ok = ec == std::errc() && ptr == last && (n >= 1 || n == -1);
    }
    if (!ok) {
      return InvalidArgumentError("expected DIM=N (N >= 1, or -1 for the full length), got '" +
                                  item + "'");
    }
    out[item.substr(0, eq)] = n;
  }
  return out;
}

Result<RechunkPlan> PlanRechunk(const array::Dataset& dataset, const RechunkRequest& request,
                                int threads) {
  RechunkPlan plan;
  LSIO_ASSIGN_OR_RETURN(std::vector<ArrayJob> jobs,
                        PlanJobs(dataset, request, std::max(threads, 1), &plan));
  std::map<std::string, std::vector<int64_t>> intermediate;
  LSIO_RETURN_IF_ERROR(PlanStages(jobs, request, std::max(threads, 1), &plan, &intermediate));
  return plan;
}

namespace {

void WriteArrayPlans(const std::vector<RechunkArrayPlan>& arrays, std::ostream& out) {
  for (const RechunkArrayPlan& p : arrays) {
    std::string dims;
    for (const std::string& d : p.dims) {
      if (!dims.empty()) dims += ", ";
      dims += d;
    }
    out << fmt::format("  {} ({}) {} {}\n", p.path, dims, Shape(p.shape), p.dtype);
    out << fmt::format("    chunks {} -> {}{}; {} write units\n", Shape(p.source_chunk),
                       Shape(p.chunk), p.shard.empty() ? "" : ", shards " + Shape(p.shard),
                       p.units);
    out << fmt::format(
        "    {} blocks of {} units ({}, {}, {} in flight); source chunks decoded {} times for {} "
        "chunks ({:.2f}x)\n",
        p.blocks, Shape(p.block_units), Shape(p.block_shape), Size(p.block_bytes),
        p.blocks_in_flight,
        p.chunk_decodes, p.source_chunks, p.decode_factor());
    out << fmt::format("    {} to read and write (decoded), projected peak memory {}\n",
                       Size(p.bytes), Size(p.peak_memory));
  }
}

}  // namespace

void WriteRechunkPlan(const RechunkPlan& plan, std::ostream& out) {
  out << fmt::format("rechunk {} -> {} (Zarr v{}, {}), {} stage{}, --max-memory {}, {} workers\n",
                     plan.source, plan.destination, plan.zarr_format, plan.codecs, plan.stages,
                     plan.stages > 1 ? "s" : "", Size(plan.max_memory), plan.threads);
  if (plan.stages > 1) {
    out << fmt::format("stage 1: {} -> {} (intermediate, {}, deleted at the end)\n",
                       plan.source, plan.intermediate, kIntermediateCodecs);
    WriteArrayPlans(plan.first_stage, out);
    out << fmt::format("stage 2: {} -> {}\n", plan.intermediate, plan.destination);
  }
  WriteArrayPlans(plan.arrays, out);
  out << fmt::format("total: {} decoded bytes, {} of source chunks decoded, projected peak {}\n",
                     Size(plan.bytes), Size(plan.bytes_decoded), Size(plan.peak_memory));
}

namespace {

// Whether `store` holds no key (listings skip temporaries): what a run killed before its plan
// landed leaves (directories and temporaries). Only a few top-level prefixes are walked: a
// larger tree is taken as holding something.
Result<bool> HoldsNothing(kvstore::Store& store) {
  LSIO_ASSIGN_OR_RETURN(std::vector<kvstore::ListEntry> entries,
                        store.List("", kvstore::ListMode::kChildren));
  if (entries.size() > 8) return false;
  for (const kvstore::ListEntry& e : entries) {
    if (!e.is_prefix) return false;
    LSIO_ASSIGN_OR_RETURN(std::vector<kvstore::ListEntry> below,
                          store.List(e.key, kvstore::ListMode::kRecursive));
    if (!below.empty()) return false;
  }
  return true;
}

// Gives back what a stage left cached: its idle reader (an engine keeping up to its budget in
// free read buffers, for a store the next stage does not read), the codecs' free blocks of the
// process-wide buffer pool (in the size classes of this stage's units) and what malloc keeps in
// its arenas. The next stage's plan does not count them (measured: a two-stage sharded run
// peaked at its budget plus 90 MiB).
void ReleaseCachedMemory(runtime::Context& context) {
  context.ReleaseIdleReaders();
  DefaultBufferPool().Trim();
#ifdef __GLIBC__
  ::malloc_trim(0);
#endif
}

// One stage: `jobs` (planned on `dataset`) from the source into request.destination.
Result<RechunkResult> RunStage(runtime::Context& context, const RechunkRequest& request,
                               const array::Dataset* dataset, std::vector<ArrayJob> jobs,
                               RechunkPlan plan_in) {
  const auto start = Clock::now();
  RechunkResult result;
  result.plan = std::move(plan_in);
  const RechunkPlan& plan = result.plan;
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<kvstore::Store> dst,
                        context.OpenStore(request.destination));
  if (dst->url() == dataset->store()->url()) {
    return InvalidArgumentError(request.destination + ": the destination is the source");
  }
  format::DatasetWriteOptions wo;
  wo.zarr_format = plan.zarr_format;
  wo.codecs = request.codecs;
  std::vector<std::unique_ptr<format::UnitEncoder>> encoders;
  for (const ArrayJob& job : jobs) {
    LSIO_ASSIGN_OR_RETURN(std::unique_ptr<format::UnitEncoder> e,
                          format::UnitEncoder::Make(job.layout, wo, dst->Describe(job.plan.path)));
    encoders.push_back(std::move(e));
  }

  // The destination: empty (a new run) or holding this plan (a resumed one).
  const std::string identity = PlanIdentity(plan, encoders).dump(1);
  LSIO_ASSIGN_OR_RETURN(std::optional<Buffer> existing, dst->Read(kPlanKey));
  if (existing) {
    const std::string text(reinterpret_cast<const char*>(existing->data()), existing->size());
    if (!request.resume) {
      return InvalidArgumentError(dst->url() +
                                  " already exists (an interrupted rechunk: --resume finishes it)");
    }
    if (text != identity) {
      return InvalidArgumentError(
          dst->url() + " holds an interrupted rechunk with a different plan (other source, "
                       "variables, chunks, shards, codecs or format): --resume refuses it; "
                       "remove it or choose another destination");
    }
  } else {
    LSIO_ASSIGN_OR_RETURN(bool empty, HoldsNothing(*dst));
    if (!empty) {
      return InvalidArgumentError(dst->url() + " already exists" +
                                  (request.resume ? " and is not an interrupted rechunk" : ""));
    }
    Status s = dst->Write(kPlanKey, std::as_bytes(std::span(identity.data(), identity.size())));
    if (!s.ok()) return s.WithContext("starting the rechunk at " + dst->url());
  }
  // Temporaries of units a killed run was writing (it lists as empty when that is all it
  // holds): removed, so that the finished store holds none.
  Result<uint64_t> swept = dst->RemoveAbandonedTemporaries("");
  if (!swept.ok()) return swept.status().WithContext("cleaning up " + dst->url());
  result.temporaries_removed = *swept;
  Journal journal(*dst);
  if (existing) journal.set_resumed();
  LSIO_RETURN_IF_ERROR(journal.Load(jobs.size()));

  Counters counters;
  uint64_t units_total = 0;
  for (const ArrayJob& job : jobs) units_total += job.plan.units;
  uint64_t bytes_base = 0;
  int writers = 1;
  for (const ArrayJob& job : jobs) writers = std::max(writers, job.threads);
  // Declared before the writer, which is destroyed (waiting for its tasks) first.
  std::unique_ptr<UnitMemory> memory;
  std::deque<std::unique_ptr<BlockAssembler>> live;  // blocks whose units are not all written
  UnitWriter writer(context.cpu(), writers);
  uint64_t codec_cache_keep = 0;  // the codecs' free buffers kept as blocks retire
  auto failed = [&](Status s) -> Status {
    writer.WaitIdle();
    (void)journal.Flush();  // what finished stays finished for --resume
    return s;
  };
  // Drops the blocks at the front whose units are all written.
  auto drop_written = [&]() -> Status {
    while (!live.empty() && live.front()->unwritten() == 0) {
      live.pop_front();
      // Encoded shards come in many sizes, so the codecs' pool would keep freed ones it does
      // not reuse (measured: +90 MiB over a 512 MiB budget with 64 MiB shards). It keeps one
      // unit's worth per worker, the encoded inner chunks the next shards reuse (trimming them
      // all made a sharded rechunk of 2q map 592 fresh 1.25 MiB buffers).
      DefaultBufferPool().Trim(codec_cache_keep);
      LSIO_RETURN_IF_ERROR(journal.Flush());
    }
    return Status::OK();
  };
  // Waits until every block is written; on a failure, stops everything first.
  auto retire_all = [&]() -> Status {
    while (!live.empty()) {
      Status s = writer.WaitFor(*live.front());
      if (!s.ok()) return failed(std::move(s));
      LSIO_RETURN_IF_ERROR(drop_written());
    }
    return Status::OK();
  };
  // Waits until at most `keep` blocks hold unit memory. A block whose units are all encoded
  // holds none (its writes are under the writer's write budget), so the next block is read
  // and decoded while the last one's units are still being written.
  auto admit = [&](size_t keep) -> Status {
    size_t holding = 0;
    for (const auto& b : live) holding += b->unencoded() > 0 ? 1 : 0;
    for (const auto& b : live) {
      if (holding <= keep) break;
      if (b->unencoded() == 0) continue;
      Status s = writer.WaitForEncoded(*b);
      if (!s.ok()) return failed(std::move(s));
      --holding;
    }
    return drop_written();
  };
  for (size_t ai = 0; ai < jobs.size(); ++ai) {
    const ArrayJob& job = jobs[ai];
    const RechunkArrayPlan& p = job.plan;
    const format::UnitEncoder& encoder = *encoders[ai];
    const array::ArrayInfo& info = job.source->info();
    const size_t rank = p.shape.size();
    result.units_resumed += journal.done_count(ai);
    counters.units_done.fetch_add(journal.done_count(ai));
    const std::vector<int64_t> grid = encoder.unit_grid_shape();
    std::vector<int64_t> block_grid(rank);
    for (size_t d = 0; d < rank; ++d) block_grid[d] = CeilDiv(grid[d], p.block_units[d]);
    const uint64_t unit_bytes = Product(p.unit) * p.element_size;
    // Another array's blocks were planned with another budget split: they finish first.
    LSIO_RETURN_IF_ERROR(retire_all());
    const uint64_t threads = static_cast<uint64_t>(job.threads);
    codec_cache_keep = threads * unit_bytes;
    writer.set_write_budget(WritesPerWorker(unit_bytes, request.max_memory) * threads *
                            unit_bytes);
    memory = std::make_unique<UnitMemory>(static_cast<uint64_t>(p.blocks_in_flight) *
                                          p.block_bytes);
    // One decode pool for the array's passes, caching what each pass's own would (the plan
    // counts it): the next block's decoded chunks reuse the last one's buffers.
    BufferPoolOptions decode_pool_options;
    decode_pool_options.max_cached_bytes =
        2 * threads * std::max<uint64_t>(info.chunk_bytes(), 4096);
    BufferPool decode_pool(decode_pool_options);
    for (uint64_t b = 0; b < p.blocks; ++b) {
      const std::vector<int64_t> bi = Unravel(b, block_grid);
      std::vector<int64_t> ustart(rank), ucount(rank), bstart(rank);
      std::vector<array::DimRange> ranges(rank);
      uint64_t block_elements = 1;
      for (size_t d = 0; d < rank; ++d) {
        ustart[d] = bi[d] * p.block_units[d];
        ucount[d] = std::min(p.block_units[d], grid[d] - ustart[d]);
        bstart[d] = ustart[d] * p.unit[d];
        const int64_t end = std::min(p.shape[d], (ustart[d] + ucount[d]) * p.unit[d]);
        ranges[d] = array::DimRange{bstart[d], 1, end - bstart[d], false};
        block_elements *= static_cast<uint64_t>(end - bstart[d]);
      }
      bool all_done = true;
      for (uint64_t i = 0, n = Product(ucount); i < n && all_done; ++i) {
        std::vector<int64_t> u = Unravel(i, ucount);
        for (size_t d = 0; d < rank; ++d) u[d] += ustart[d];
        all_done = journal.Done(ai, Ravel(u, grid));
      }
      if (all_done) {
        bytes_base += block_elements * p.element_size;
        continue;
      }
      // The block before the last one in flight is encoded before this one is read.
      LSIO_RETURN_IF_ERROR(admit(static_cast<size_t>(p.blocks_in_flight) - 1));
      live.push_back(std::make_unique<BlockAssembler>(
          info, encoder, *dst, journal, ai, bstart, ustart, ucount,
          static_cast<uint64_t>(p.blocks_in_flight) * p.block_bytes +
              UnitsPerWorker(unit_bytes, request.max_memory) * threads * unit_bytes,
          counters, *memory, writer));
      std::vector<PassInput> inputs(1);
      inputs[0].array = job.source;
      inputs[0].ranges = ranges;
      inputs[0].aggregator = live.back().get();
      inputs[0].label = "variable '" + p.path + "'";
      PassOptions po;
      po.max_memory = request.max_memory;
      po.threads = job.threads;
      po.decode_pool = &decode_pool;
      po.cancelled = [&] { return writer.failed() || (request.cancelled && request.cancelled()); };
      if (request.progress) {
        po.progress = [&](const PassProgress& pp) {
          RechunkProgress rp;
          rp.bytes_done = bytes_base + pp.bytes_done;
          rp.bytes_total = plan.bytes;
          rp.units_done = counters.units_done.load(std::memory_order_relaxed);
          rp.units_total = units_total;
          rp.seconds = std::chrono::duration<double>(Clock::now() - start).count();
          request.progress(rp);
        };
      }
      Result<PassResult> pass = RunPass(context, inputs, po);
      if (!pass.ok()) {
        // Units already complete are still written (and journaled), unless writing failed.
        writer.WaitIdle();
        (void)journal.Flush();  // what finished stays finished for --resume
        return writer.failed() ? writer.error() : pass.status();
      }
      result.bytes_read += pass->bytes_read;
      bytes_base += block_elements * p.element_size;
    }
  }
  LSIO_RETURN_IF_ERROR(retire_all());

  // Every unit is there: the metadata, the root's last, then the rechunk's own state goes.
  std::vector<const format::UnitEncoder*> arrays;
  for (const auto& e : encoders) arrays.push_back(e.get());
  std::map<std::string, json> groups;
  for (const std::string& g : dataset->source().groups()) {
    bool used = g.empty();
    for (const auto& e : encoders) {
      const std::string& name = e->layout().name;
      used = used || name.rfind(g + "/", 0) == 0;
    }
    if (used) groups[g] = dataset->source().group_attributes(g);
  }
  LSIO_ASSIGN_OR_RETURN(std::vector<kvstore::KeyValue> metadata,
                        format::DatasetMetadataValues(groups, arrays, wo));
  for (const kvstore::KeyValue& kv : metadata) {
    Status s = dst->Write(kv.key, kv.value.span());
    if (!s.ok()) return s.WithContext("writing metadata " + dst->Describe(kv.key));
    result.bytes_written += kv.value.size();
  }
  if (request.keep_state) {
    Status s = dst->Write(kStagesDoneKey, {});
    if (!s.ok()) return s.WithContext("writing " + dst->Describe(kStagesDoneKey));
  } else {
    Status s = dst->DeletePrefix(kStateDir);
    if (!s.ok()) return s.WithContext("removing the rechunk journal at " + dst->url());
  }
  if (request.progress) {
    RechunkProgress rp;
    rp.bytes_done = plan.bytes;
    rp.bytes_total = plan.bytes;
    rp.units_done = units_total;
    rp.units_total = units_total;
    rp.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    request.progress(rp);
  }
  ReleaseCachedMemory(context);
  result.bytes_written += counters.bytes_written.load();
  result.units_written = counters.units_written.load();
  result.units_fill = counters.units_fill.load();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace

Result<RechunkResult> Rechunk(runtime::Context& context, const RechunkRequest& request) {
  const auto start = Clock::now();
  format::DatasetOptions open_options;
  open_options.cancelled = request.cancelled;
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const array::Dataset> dataset,
                        format::OpenDataset(context, request.source, open_options));
  const int threads =
      request.threads > 0 ? std::min(request.threads, context.threads()) : context.threads();
  RechunkPlan plan;
  LSIO_ASSIGN_OR_RETURN(std::vector<ArrayJob> jobs, PlanJobs(*dataset, request, threads, &plan));
  std::map<std::string, std::vector<int64_t>> intermediate;
  LSIO_RETURN_IF_ERROR(PlanStages(jobs, request, threads, &plan, &intermediate));
  if (plan.stages == 1) return RunStage(context, request, dataset.get(), std::move(jobs), plan);

  // Two stages: source -> intermediate -> destination, each a resumable single pass.
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<kvstore::Store> dst,
                        context.OpenStore(request.destination));
  if (!request.resume) {
    LSIO_ASSIGN_OR_RETURN(bool empty, HoldsNothing(*dst));
    if (!empty) return InvalidArgumentError(dst->url() + " already exists");
  }
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<kvstore::Store> inter,
                        context.OpenStore(plan.intermediate));
  RechunkResult result;
  // Both stages landed; a run was killed while removing the intermediate: finish that.
  LSIO_ASSIGN_OR_RETURN(std::optional<uint64_t> stages_done, dst->Size(kStagesDoneKey));
  if (request.resume && stages_done) {
    if (Status s = inter->DeletePrefix(""); !s.ok()) {
      return s.WithContext("removing the intermediate store " + inter->url());
    }
    if (Status s = dst->DeletePrefix(kStateDir); !s.ok()) {
      return s.WithContext("removing the rechunk journal at " + dst->url());
    }
    result.plan = plan;
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result;
  }
  if (request.resume) {  // refused before stage 1 is redone into a store nobody will read
    LSIO_ASSIGN_OR_RETURN(std::optional<uint64_t> dst_plan, dst->Size(kPlanKey));
    LSIO_ASSIGN_OR_RETURN(bool empty, HoldsNothing(*dst));
    if (!dst_plan && !empty) {
      return InvalidArgumentError(dst->url() +
                                  " already exists and is not an interrupted rechunk");
    }
  }
  RechunkRequest first = request;
  first.destination = plan.intermediate;
  first.chunks.clear();
  first.shards.clear();
  first.array_chunks = intermediate;
  first.codecs = kIntermediateCodecs;
  first.zarr_format = plan.zarr_format;
  first.multi_stage = false;
  first.resume = true;  // an interrupted first stage is always finished, not redone
  LSIO_ASSIGN_OR_RETURN(std::optional<uint64_t> pending, inter->Size(kPlanKey));
  LSIO_ASSIGN_OR_RETURN(bool inter_empty, HoldsNothing(*inter));
  if (pending || inter_empty) {
    Result<RechunkResult> r1 = Rechunk(context, first);
    if (!r1.ok()) return r1.status().WithContext("stage 1 of 2 (into " + inter->url() + ")");
    result.bytes_read += r1->bytes_read;
    result.bytes_written += r1->bytes_written;
    result.temporaries_removed += r1->temporaries_removed;
  }
  RechunkRequest second = request;
  second.source = plan.intermediate;
  second.chunks.clear();
  second.array_chunks.clear();
  for (const RechunkArrayPlan& p : plan.arrays) second.array_chunks[p.path] = p.chunk;
  second.zarr_format = plan.zarr_format;
  second.multi_stage = false;
  second.keep_state = true;  // until the intermediate is gone (kStagesDoneKey marks that)
  Result<RechunkResult> r2 = Rechunk(context, second);
  if (!r2.ok()) return r2.status().WithContext("stage 2 of 2 (from " + inter->url() + ")");
  if (Status s = inter->DeletePrefix(""); !s.ok()) {
    return s.WithContext("removing the intermediate store " + inter->url());
  }
  if (Status s = dst->DeletePrefix(kStateDir); !s.ok()) {
    return s.WithContext("removing the rechunk journal at " + dst->url());
  }
  result.plan = plan;
  result.bytes_read += r2->bytes_read;
  result.bytes_written += r2->bytes_written;
  result.units_written = r2->units_written;
  result.units_fill = r2->units_fill;
  result.units_resumed = r2->units_resumed;
  result.temporaries_removed += r2->temporaries_removed;
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return result;
}

}  // namespace lsio::ops

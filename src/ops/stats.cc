#include "lsio/ops/stats.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "lsio/array/cf.h"
#include "lsio/array/dataset.h"
#include "lsio/codec/chain.h"
#include "lsio/compute/axis_reduction.h"
#include "lsio/compute/cell_quantiles.h"
#include "lsio/compute/fused_decode.h"
#include "lsio/compute/histogram.h"
#include "lsio/compute/per_worker.h"
#include "lsio/compute/quantile.h"
#include "lsio/format/open.h"
#include "lsio/ops/pass.h"
#include "lsio/ops/time_groups.h"
#include "ordered_merge.h"
#include "stats_internal.h"

namespace lsio::ops {

std::string_view StatisticName(Statistic s) {
  switch (s) {
    case Statistic::kCount:
      return "count";
    case Statistic::kNanCount:
      return "nan_count";
    case Statistic::kMin:
      return "min";
    case Statistic::kMax:
      return "max";
    case Statistic::kSum:
      return "sum";
    case Statistic::kMean:
      return "mean";
    case Statistic::kStd:
      return "std";
    case Statistic::kVar:
      return "var";
  }
  return "?";
}

StatsSelection DefaultStatistics() {
  StatsSelection s;
  s.statistics = {Statistic::kCount, Statistic::kNanCount, Statistic::kMin, Statistic::kMax,
                  Statistic::kSum,   Statistic::kMean,     Statistic::kStd};
  return s;
}

Result<StatsSelection> ParseStatistics(std::string_view text) {
  StatsSelection sel;
  bool in_quantiles = false;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view word = text.substr(pos, comma - pos);
    while (!word.empty() && word.front() == ' ') word.remove_prefix(1);
    while (!word.empty() && word.back() == ' ') word.remove_suffix(1);
    pos = comma + 1;
    if (word.empty()) continue;
    if (word == "all") {
      for (Statistic s : DefaultStatistics().statistics) {
        if (std::find(sel.statistics.begin(), sel.statistics.end(), s) == sel.statistics.end()) {
          sel.statistics.push_back(s);
        }
      }
      continue;
    }
    if (word.substr(0, 9) == "quantile:" || in_quantiles) {
      // "quantile:0.01,0.5,0.99": the numbers after it, up to the next word that is not one.
      std::string_view number = word.substr(0, 9) == "quantile:" ? word.substr(9) : word;
      const std::string text(number);
      char* end = nullptr;
      const double q = std::strtod(text.c_str(), &end);
      if (!text.empty() && *end == '\0') {
        if (!(q >= 0 && q <= 1)) {
          return InvalidArgumentError("--stats: quantile " + text + " is outside [0, 1]");
        }
        sel.quantiles.emplace_back(text, q);
        in_quantiles = true;
        continue;
      }
      if (word.substr(0, 9) == "quantile:") {
        return InvalidArgumentError("--stats: '" + std::string(word) +
                                    "': expected quantile:Q[,Q...] with Q in [0, 1]");
      }
      in_quantiles = false;
    }
    if (word.substr(0, 5) == "hist:") {
      const std::string n(word.substr(5));
      char* end = nullptr;
      const long long bins = std::strtoll(n.c_str(), &end, 10);
      if (n.empty() || *end != '\0' || bins < 1 || bins > compute::kMaxHistogramBins) {
        return InvalidArgumentError("--stats: '" + std::string(word) +
                                    "': the number of bins must be an integer from 1 to " +
                                    std::to_string(compute::kMaxHistogramBins));
      }
      sel.histogram_bins = bins;
      continue;
    }
    bool known = false;
    for (Statistic s : {Statistic::kCount, Statistic::kNanCount, Statistic::kMin,
                        Statistic::kMax, Statistic::kSum, Statistic::kMean, Statistic::kStd,
                        Statistic::kVar}) {
      if (word == StatisticName(s)) {
        if (std::find(sel.statistics.begin(), sel.statistics.end(), s) == sel.statistics.end()) {
          sel.statistics.push_back(s);
        }
        known = true;
      }
    }
    if (!known) {
      return InvalidArgumentError(
          "--stats: unknown statistic '" + std::string(word) +
          "' (known: count, nan_count, min, max, sum, mean, std, var, hist:N, quantile:Q,..., "
          "all)");
    }
  }
  if (sel.statistics.empty() && sel.histogram_bins == 0 && sel.quantiles.empty()) {
    return InvalidArgumentError("--stats: no statistic given");
  }
  return sel;
}

size_t OutputCoordinate::item_size() const {
  size_t i = 0;
  while (i < numpy_dtype.size() && !std::isdigit(static_cast<unsigned char>(numpy_dtype[i]))) ++i;
  size_t n = 0;
  while (i < numpy_dtype.size() && std::isdigit(static_cast<unsigned char>(numpy_dtype[i]))) {
    n = n * 10 + static_cast<size_t>(numpy_dtype[i++] - '0');
  }
  const bool unicode = numpy_dtype.size() > 1 && numpy_dtype[1] == 'U';
  return unicode ? 4 * n : n;
}

namespace {

using Clock = std::chrono::steady_clock;

compute::MissingValues ToMissingValues(const array::CfMaskAndScale& cf) {
  compute::MissingValues mv;
  auto convert = [&](double v) {
    if (IsInteger(cf.encoded) && std::isfinite(v) && v == std::floor(v)) {
      if (IsUnsignedInteger(cf.encoded) && v >= 0) {
        return compute::MissingValue::Unsigned(static_cast<uint64_t>(v));
      }
      return compute::MissingValue::Signed(static_cast<int64_t>(v));
    }
    return compute::MissingValue::Float(v);
  };
  if (!cf.fill_values.empty()) mv.fill_value = convert(cf.fill_values[0]);
  if (cf.fill_values.size() > 1) mv.missing_value = convert(cf.fill_values[1]);
  return mv;
}

// Everything computed for one variable: the aggregator of its chunks in each pass (moments or a
// per-cell grid in the first, a histogram in the second).
class VariableJob final : public Aggregator {
 public:
  const array::ArraySource* array = nullptr;
  std::string name;
  std::vector<std::string> dims;
  std::vector<array::DimRange> ranges;
  std::vector<size_t> reduced_axes;  // --over dims and dropped dims, increasing
  std::vector<size_t> kept_axes;
  // --groupby / --resample: the time axis is kept as the group axis; each selected time index
  // goes to its group's cells (-1: no group).
  std::optional<size_t> group_axis;
  std::vector<int64_t> group_of;
  TimeGrouping grouping;  // its labels (group_of moved out)
  array::CfMaskAndScale cf;
  compute::MissingValues missing;
  DataType dtype = DataType::kFloat64;  // the encoded type the accumulators see
  std::vector<std::byte> fill;          // one element
  size_t element_size = 1;
  BufferPool* pool = nullptr;
  bool skip_errors = false;
  bool fused_decode = true;
  std::atomic<uint64_t> fused_chunks{0};  // chunks reduced straight from their stored bytes
  uint64_t elements = 0;
  nlohmann::json attributes;

  // Exactly one of these is used. Whole-selection statistics are merged chunk by chunk in
  // chunk order, so that they are the same bits on every run.
  std::optional<compute::StatsAccumulator> empty_stats;
  std::optional<internal::OrderedMerge<compute::StatsAccumulator>> global;
  uint64_t read_chunks = 0;  // ordinals to expect
  compute::StatsAccumulator global_stats = *compute::StatsAccumulator::Make(DataType::kFloat64);
  std::optional<compute::ReductionGrid> grid;
  std::array<std::mutex, 64> tile_locks;
  // Per-cell statistics in passes over tiles of the kept axes, when the whole grid does not
  // fit the budget: each pass reads `pass_ranges` (one tile of `ranges`) into a grid of that
  // tile only, whose statistics are then written into `maps` (full size) and the grid freed.
  compute::ReductionGridOptions grid_options;
  std::vector<int64_t> grid_shape;                 // of the whole selection
  std::vector<std::vector<array::DimRange>> tiles;  // empty: one grid, one pass
  std::vector<array::DimRange> pass_ranges;        // what the current pass reads
  std::vector<std::vector<int64_t>> tile_origins;  // grid coordinates of each tile's first cell
  // With the group axis tiled as well (when one chunk column's grid over every group does not
  // fit): each tile's groups [first, last), and the current pass's. A pass reads the times of
  // its groups (their span: with groups that recur, such as months over several years, that
  // is most of the time axis, and chunks outside the pass's groups are decoded for nothing).
  std::vector<std::pair<int64_t, int64_t>> tile_groups;  // empty: every group in every tile
  int64_t group_lo = 0;
  int64_t group_hi = std::numeric_limits<int64_t>::max();
  int64_t time_offset = 0;  // where the pass's time range starts in the selection's
  std::optional<std::vector<std::pair<Statistic, CellMap>>> maps;
  uint64_t ordinal_base = 0;  // chunk ordinals of earlier tile passes (skipped-chunk keys)
  // Per-cell quantiles (--over with quantile:Q): every decoded value of the current grid's
  // cells (the whole grid, or one tile's), slot = sum over axes of (index in the pass's
  // selection) x slot_strides[axis]; finished into quantile_maps ((quantile, grid) in C order).
  int64_t values_per_cell = 0;  // the reduced elements of one cell (0: no quantiles)
  std::optional<compute::CellValues> cell_values;
  std::array<int64_t, compute::kMaxRank> slot_strides{};
  // Per-group quantiles: a cell holds `group_slots` (the most times of any group) x the
  // reduced elements; a time's values go to its position among its group's times
  // (rank_in_group, by selected time index) x rank_slot_stride, in its group's cells
  // (group x group_slot_stride). Slots of shorter groups stay NaN: missing, as numpy skips them.
  int64_t group_slots = 0;
  std::vector<int64_t> rank_in_group;
  int64_t rank_slot_stride = 0;
  int64_t group_slot_stride = 0;
  std::vector<double> quantile_maps;
  // Second pass.
  std::optional<compute::PerWorker<compute::HistogramAccumulator>> histogram;
  // Quantile passes (after the others): the search, and the current pass's accumulators.
  std::optional<compute::QuantileSearch> qsearch;
  std::optional<compute::PerWorker<compute::QuantilePass>> qpass;
  int pass = 1;


  uint64_t state_bytes() const override {
    if (qpass) return qsearch->pass_bytes() * static_cast<uint64_t>(compute_threads);
    if (histogram) {
      return static_cast<uint64_t>(histogram_bins + 1) * 8 * 2 * compute_threads;
    }
    if (grid) {
      return static_cast<uint64_t>(grid->cell_count()) * grid->bytes_per_cell() +
             (cell_values ? cell_values->bytes() : 0);
    }
    // One partial accumulator per chunk waiting in the ordered merge, at most a window of
    // chunks in flight.
    return 1024 * sizeof(compute::StatsAccumulator);
  }

  Status BeginPass(BufferPool& decode_pool, uint64_t chunks) override {
    pool = &decode_pool;
    read_chunks = chunks;
    return Status::OK();
  }

  Status EndPass() override {
    if (qpass) {
      LSIO_ASSIGN_OR_RETURN(compute::QuantilePass merged,
                            qpass->Combine([](compute::QuantilePass& into,
                                              const compute::QuantilePass& from) {
                              return into.Merge(from);
                            }));
      qpass.reset();
      return qsearch->Absorb(merged);
    }
    if (global && pass == 1) {
      LSIO_ASSIGN_OR_RETURN(global_stats, global->Finish(read_chunks));
    }
    return Status::OK();
  }

  int64_t histogram_bins = 0;
  int compute_threads = 1;
  compute::CpuPool* cpu = nullptr;  // finishes per-cell quantiles between passes

  // Skipped chunks by ordinal: reported in chunk order whatever order they failed in, and
  // once even when a histogram's second pass fails on them again.
  std::mutex skipped_mu;
  std::map<uint64_t, std::string> skipped;
  uint64_t skipped_elements = 0;

  Status Consume(uint64_t ordinal, const array::ChunkSelection& sel,
                 std::span<const int64_t> chunk_shape, std::span<const std::byte> chunk) override {
    std::array<int64_t, compute::kMaxRank> start{}, stop{};
    const size_t rank = sel.dims.size();
    if (rank > compute::kMaxRank) return NotSupportedError("rank above 32");
    int64_t elements = 1;
    for (size_t d = 0; d < rank; ++d) {
      start[d] = sel.dims[d].start;
      stop[d] = sel.dims[d].start + sel.dims[d].count;
      elements *= sel.dims[d].count;
    }
    (void)elements;
    const compute::ChunkView view{dtype, chunk_shape, chunk};
    const compute::Box box{std::span(start.data(), rank), std::span(stop.data(), rank)};
    if (qpass) {
      LSIO_RETURN_IF_ERROR(qpass->Local().Consume(view, box));
    } else if (histogram) {
      LSIO_RETURN_IF_ERROR(histogram->Local().Consume(view, box));
    } else if (grid && group_axis) {
      // One time step at a time, into its group's cells.
      const size_t t = *group_axis;
      const array::ChunkDimSlice& ts = sel.dims[t];
      for (int64_t i = 0; i < ts.count; ++i) {
        const size_t ti = static_cast<size_t>(time_offset + ts.out_start + i);
        const int64_t g = group_of[ti];
        if (g < group_lo || g >= group_hi) continue;  // no group, or another pass's
        start[t] = ts.start + i;
        stop[t] = start[t] + 1;
        std::array<int64_t, compute::kMaxRank> origin{};
        size_t h = 0;
        for (size_t k = 0; k < kept_axes.size(); ++k) {
          origin[k] = kept_axes[k] == t ? g - group_lo : sel.dims[kept_axes[k]].out_start;
          h = h * 1000003u + static_cast<size_t>(origin[k]);
        }
        if (cell_values) {
          array::ChunkSelection one = sel;
          one.dims[t].start = ts.start + i;
          one.dims[t].count = 1;
          LSIO_RETURN_IF_ERROR(GatherValues(
              one, chunk_shape, chunk,
              (g - group_lo) * group_slot_stride + rank_in_group[ti] * rank_slot_stride));
        }
        const compute::Box step{std::span(start.data(), rank), std::span(stop.data(), rank)};
        std::lock_guard lock(tile_locks[h % tile_locks.size()]);
        LSIO_RETURN_IF_ERROR(
            grid->Consume(view, step, std::span(origin.data(), kept_axes.size())));
      }
    } else if (grid) {
      std::array<int64_t, compute::kMaxRank> origin{};
      size_t h = 0;
      for (size_t i = 0; i < kept_axes.size(); ++i) {
        origin[i] = sel.dims[kept_axes[i]].out_start;
        h = h * 1000003u + static_cast<size_t>(origin[i]);
      }
      if (cell_values) LSIO_RETURN_IF_ERROR(GatherValues(sel, chunk_shape, chunk, 0));
      std::lock_guard lock(tile_locks[h % tile_locks.size()]);
      LSIO_RETURN_IF_ERROR(grid->Consume(view, box, std::span(origin.data(), kept_axes.size())));
    } else {
      compute::StatsAccumulator part = *empty_stats;
      LSIO_RETURN_IF_ERROR(part.Consume(view, box));
      LSIO_RETURN_IF_ERROR(global->Add(ordinal, std::move(part)));
    }
    return Status::OK();
  }

  // Writes the decoded values of the chunk's selected part into their slots of cell_values
  // (from `base`), one run along the last axis at a time (each element has its own slot: no
  // lock). When the axis whose slots are adjacent (stride 1: the last reduced one, time for
  // --over time) is not the last, the rows along it are converted first and then written a
  // cell's run at a time: whole cache lines, instead of one scattered value per element.
  Status GatherValues(const array::ChunkSelection& sel, std::span<const int64_t> chunk_shape,
                      std::span<const std::byte> chunk, int64_t base) {
    const size_t rank = sel.dims.size();
    const int64_t row = rank == 0 ? 1 : sel.dims[rank - 1].count;
    for (size_t d = 0; d < rank; ++d) {
      if (sel.dims[d].count <= 0) return Status::OK();
    }
    std::array<int64_t, compute::kMaxRank> chunk_strides{};
    int64_t stride = 1;
    for (size_t d = rank; d-- > 0;) {
      chunk_strides[d] = stride;
      stride *= chunk_shape[d];
    }
    size_t fast = rank;  // none
    for (size_t d = 0; d + 1 < rank; ++d) {
      if (slot_strides[d] == 1 && sel.dims[d].count > 1) fast = d;
    }
    const int64_t band = fast < rank ? sel.dims[fast].count : 1;
    const size_t width = element_size;
    const size_t decoded_width = ByteWidth(cf.decoded);
    thread_local std::vector<std::byte> decoded;
    thread_local std::vector<double> values;
    decoded.resize(static_cast<size_t>(row) * decoded_width);
    values.resize(static_cast<size_t>(band * row));
    const std::span<double> slots = cell_values->slots();
    const int64_t last_stride = rank == 0 ? 0 : slot_strides[rank - 1];
    std::array<int64_t, compute::kMaxRank> idx{};  // over the outer axes but `fast`
    while (true) {
      int64_t src = 0, slot = base;
      for (size_t d = 0; d < rank; ++d) {
        src += (sel.dims[d].start + idx[d]) * chunk_strides[d];
        slot += (sel.dims[d].out_start + idx[d]) * slot_strides[d];
      }
      for (int64_t k = 0; k < band; ++k) {
        const int64_t at = src + (fast < rank ? k * chunk_strides[fast] : 0);
        LSIO_RETURN_IF_ERROR(array::ApplyCfMaskAndScale(
            cf, chunk.subspan(static_cast<size_t>(at) * width, static_cast<size_t>(row) * width),
            decoded));
        DecodedValues(cf.decoded, decoded.data(), row, values.data() + k * row);
      }
      if (band == 1) {
        for (int64_t i = 0; i < row; ++i) {
          slots[static_cast<size_t>(slot + i * last_stride)] = values[static_cast<size_t>(i)];
        }
      } else {
        for (int64_t i = 0; i < row; ++i) {
          double* cell = slots.data() + slot + i * last_stride;
          for (int64_t k = 0; k < band; ++k) cell[k] = values[static_cast<size_t>(k * row + i)];
        }
      }
      // The next position of the outer axes (all but the last, and but `fast`).
      size_t d = rank == 0 ? 0 : rank - 1;
      bool more = false;
      while (d > 0) {
        --d;
        if (d == fast) continue;
        if (++idx[d] < sel.dims[d].count) {
          more = true;
          break;
        }
        idx[d] = 0;
      }
      if (!more) break;
    }
    return Status::OK();
  }

  // `n` elements of `type` (CF-decoded values: floats, integers, bool) as doubles.
  static void DecodedValues(DataType type, const std::byte* p, int64_t n, double* out) {
    switch (type) {
#define LSIO_VALUES(T, D)                                  \
  case DataType::D:                                        \
    for (int64_t i = 0; i < n; ++i) {                      \
      T v;                                                 \
      std::memcpy(&v, p + static_cast<size_t>(i) * sizeof(T), sizeof v); \
      out[i] = static_cast<double>(v);                     \
    }                                                      \
    return;
      LSIO_VALUES(int8_t, kInt8)
      LSIO_VALUES(uint8_t, kUInt8)
      LSIO_VALUES(uint8_t, kBool)
      LSIO_VALUES(int16_t, kInt16)
      LSIO_VALUES(uint16_t, kUInt16)
      LSIO_VALUES(int32_t, kInt32)
      LSIO_VALUES(uint32_t, kUInt32)
      LSIO_VALUES(int64_t, kInt64)
      LSIO_VALUES(uint64_t, kUInt64)
      LSIO_VALUES(float, kFloat32)
      LSIO_VALUES(double, kFloat64)
#undef LSIO_VALUES
      case DataType::kFloat16:
        for (int64_t i = 0; i < n; ++i) {
          uint16_t h;
          std::memcpy(&h, p + static_cast<size_t>(i) * 2, 2);
          out[i] = static_cast<double>(HalfToFloat(h));
        }
        return;
      default:
        for (int64_t i = 0; i < n; ++i) out[i] = std::nan("");
        return;
    }
  }

  // Whole-selection moments take chunks whose codecs stream straight from their stored bytes.
  bool ConsumesEncoded(const codec::CodecChain& chain, const array::ChunkSelection& /*sel*/,
                       std::span<const int64_t> /*chunk_shape*/) const override {
    return fused_decode && global && !qpass && !histogram && !grid && chain.can_stream() &&
           chain.decoded_spec().dtype == dtype;
  }

  Status ConsumeEncoded(uint64_t ordinal, const array::ChunkSelection& sel,
                        std::span<const int64_t> chunk_shape, const codec::CodecChain& chain,
                        std::span<const std::byte> encoded) override {
    const size_t rank = sel.dims.size();
    if (rank > compute::kMaxRank) return NotSupportedError("rank above 32");
    std::array<int64_t, compute::kMaxRank> start{}, stop{};
    for (size_t d = 0; d < rank; ++d) {
      start[d] = sel.dims[d].start;
      stop[d] = sel.dims[d].start + sel.dims[d].count;
    }
    (void)chunk_shape;  // the chain's decoded shape is the chunk's
    const compute::Box box{std::span(start.data(), rank), std::span(stop.data(), rank)};
    compute::StatsAccumulator part = *empty_stats;
    LSIO_RETURN_IF_ERROR(compute::DecodeAndConsume(chain, encoded, box, part, *pool));
    fused_chunks.fetch_add(1, std::memory_order_relaxed);
    return global->Add(ordinal, std::move(part));
  }

  Status ConsumeFill(uint64_t ordinal, const array::ChunkSelection& sel,
                     std::span<const int64_t> chunk_shape) override {
    // A chunk of the fill value, built per call from the pool: no IO, and the same kernels
    // (and so the same NaN / missing-value rules) as stored chunks. Sized by the missing unit's
    // own shape (a missing shard of a nested shard is larger than an innermost chunk).
    size_t bytes = element_size;
    for (int64_t x : chunk_shape) bytes *= static_cast<size_t>(x);
    LSIO_ASSIGN_OR_RETURN(Buffer chunk, pool->Acquire(bytes));
    std::byte* p = chunk.mutable_data();
    for (size_t off = 0; off < bytes; off += element_size) {
      std::memcpy(p + off, fill.data(), element_size);
    }
    return Consume(ordinal, sel, chunk_shape, chunk.span());
  }

  Status OnError(uint64_t ordinal, const array::ChunkSelection& sel,
                 const Status& error) override {
    if (!skip_errors) return error;
    int64_t elements = 1;
    for (const array::ChunkDimSlice& d : sel.dims) elements *= d.count;
    {
      std::lock_guard lock(skipped_mu);
      if (skipped.emplace(ordinal_base + ordinal, error.ToString()).second) {
        skipped_elements += static_cast<uint64_t>(elements);
      }
    }
    if (global && pass == 1) return global->Add(ordinal, *empty_stats);
    return Status::OK();
  }
};

// The grid statistics `statistics` need (min and max trade places under a negative scale).
std::vector<compute::CellStatistic> CellStatisticsFor(const StatsSelection& statistics,
                                                      bool negative_scale) {
  std::vector<compute::CellStatistic> out = {compute::CellStatistic::kCount};
  for (Statistic s : statistics.statistics) {
    switch (s) {
      case Statistic::kCount:
        break;
      case Statistic::kNanCount:
        out.push_back(compute::CellStatistic::kNanCount);
        break;
      case Statistic::kMin:
      case Statistic::kMax:
        out.push_back((s == Statistic::kMin) != negative_scale ? compute::CellStatistic::kMin
                                                               : compute::CellStatistic::kMax);
        break;
      case Statistic::kSum:
        out.push_back(compute::CellStatistic::kSum);
        break;
      case Statistic::kMean:
        out.push_back(compute::CellStatistic::kMean);
        break;
      case Statistic::kStd:
        out.push_back(compute::CellStatistic::kStd);
        break;
      case Statistic::kVar:
        out.push_back(compute::CellStatistic::kVariance);
        break;
    }
  }
  return out;
}

std::string MemorySize(uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  double v = static_cast<double>(bytes);
  while (u < 4 && v >= 1024) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} bytes", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

// The name of grid dimension `j` of `job`.
std::string GridDimName(const VariableJob& job, size_t j) {
  const size_t axis = job.kept_axes[j];
  return job.group_axis && *job.group_axis == axis ? job.grouping.dim : job.dims[axis];
}

// The grid dimension of `job`'s group axis.
size_t GroupDim(const VariableJob& job) {
  return static_cast<size_t>(
      std::find(job.kept_axes.begin(), job.kept_axes.end(), *job.group_axis) -
      job.kept_axes.begin());
}

// Whether `job`'s per-cell accumulators fit `share` bytes whole; if not, tiles of the kept axes
// other than the group axis, aligned to the array's chunks (so that every chunk is decoded in
// one tile's pass only), halving the axis with the most chunks per tile until a tile's
// accumulators fit. When one chunk's tile over every group does not fit either, runs of
// consecutive groups as well (a chunk whose times fall in several runs is decoded in each of
// their passes). When not even one group of one chunk fits (or tiles are not allowed), one grid
// as long as it fits the whole budget (the memory plan then decides), else kResourceExhausted
// saying what the grid needs.
Status PlanGridTiles(VariableJob& job, uint64_t share, uint64_t max_memory, bool allow_tiles) {
  // Per-cell quantiles hold every value of a cell besides its accumulators.
  const uint64_t per_cell = compute::ReductionGrid::BytesPerCell(job.grid_options.statistics) +
                            compute::CellValues::BytesFor(1, job.values_per_cell);
  const std::vector<int64_t>& shape = job.grid_shape;
  uint64_t cells = 1;
  for (int64_t e : shape) cells *= static_cast<uint64_t>(std::max<int64_t>(e, 0));
  const uint64_t need = cells * per_cell;
  job.tiles.clear();
  if (need <= share) return Status::OK();
  struct TileAxis {
    size_t j = 0;       // grid dimension
    size_t axis = 0;    // array axis
    int64_t unit = 1;   // chunk extent
    int64_t first = 0;  // first chunk index
    int64_t blocks = 0;
    int64_t per_tile = 0;
  };
  std::vector<TileAxis> axes;
  for (size_t j = 0; allow_tiles && j < job.kept_axes.size(); ++j) {
    const size_t a = job.kept_axes[j];
    const array::DimRange& r = job.ranges[a];
    if ((job.group_axis && *job.group_axis == a) || r.count <= 1) continue;
    TileAxis t;
    t.j = j;
    t.axis = a;
    t.unit = std::max<int64_t>(job.array->info().chunk_shape[a], 1);
    t.first = r.start / t.unit;
    t.blocks = (r.start + r.count - 1) / t.unit - t.first + 1;
    t.per_tile = t.blocks;
    axes.push_back(t);
  }
  auto tile_cells = [&] {
    uint64_t c = 1;
    for (size_t j = 0; j < shape.size(); ++j) {
      int64_t e = shape[j];
      for (const TileAxis& t : axes) {
        if (t.j == j) e = std::min(e, t.per_tile * t.unit);
      }
      c *= static_cast<uint64_t>(e);
    }
    return c;
  };
  while (tile_cells() * per_cell > share) {
    TileAxis* widest = nullptr;
    for (TileAxis& t : axes) {
      if (t.per_tile > 1 && (widest == nullptr || t.per_tile > widest->per_tile)) widest = &t;
    }
    if (widest == nullptr) break;
    widest->per_tile = (widest->per_tile + 1) / 2;
  }
  // Runs of groups: as many groups as fit beside the smallest tiles of the other axes.
  int64_t groups_per_tile = 0;  // 0: every group in every tile
  size_t group_j = 0;
  if (allow_tiles && job.group_axis && tile_cells() * per_cell > share) {
    group_j = GroupDim(job);
    const int64_t groups = shape[group_j];
    const uint64_t per_group = groups > 0 ? tile_cells() / static_cast<uint64_t>(groups) : 0;
    if (groups > 1 && per_group > 0) {
      groups_per_tile = static_cast<int64_t>(
          std::min<uint64_t>(share / (per_group * per_cell), static_cast<uint64_t>(groups)));
      if (groups_per_tile == 0) groups_per_tile = -1;  // not even one group fits
    }
  }
  auto tiled_cells = [&] {
    const uint64_t c = tile_cells();
    if (groups_per_tile == 0) return c;
    return c / static_cast<uint64_t>(shape[group_j]) *
           static_cast<uint64_t>(std::max<int64_t>(groups_per_tile, 1));
  };
  if (tiled_cells() * per_cell > share || groups_per_tile < 0) {
    if (need <= max_memory) return Status::OK();
    std::string grid_dims;
    for (size_t j = 0; j < shape.size(); ++j) {
      grid_dims += (j ? " x " : "") + std::to_string(shape[j]) + " " + GridDimName(job, j);
    }
    std::string tiles;
    if (!axes.empty() || groups_per_tile != 0) {
      std::string tile_dims;
      if (groups_per_tile != 0) tile_dims = "1 " + GridDimName(job, group_j);
      for (const TileAxis& t : axes) {
        tile_dims += (tile_dims.empty() ? "" : " x ") +
                     std::to_string(std::min(t.unit, shape[t.j])) + " " + GridDimName(job, t.j);
      }
      tiles = fmt::format(
          "; in passes over tiles of one chunk ({}) a tile needs {}, and the budget leaves {} "
          "for accumulators beside the chunks in flight",
          tile_dims, MemorySize(tiled_cells() * per_cell), MemorySize(share));
    }
    const std::string values =
        job.values_per_cell > 0
            ? fmt::format(" (with the {} values of each cell that its quantiles need)",
                          job.values_per_cell)
            : "";
    return ResourceExhaustedError(fmt::format(
        "variable '{}': per-cell statistics over {} ({} cells) need {} of accumulators{}, more "
        "than the memory budget ({}){}: raise --max-memory (max_memory=) or select fewer cells",
        job.name, grid_dims, cells, MemorySize(need), values, MemorySize(max_memory), tiles));
  }
  // The tiles, in C order over the tiled axes.
  std::vector<std::vector<std::pair<int64_t, int64_t>>> pieces(axes.size());
  for (size_t i = 0; i < axes.size(); ++i) {
    const TileAxis& t = axes[i];
    const array::DimRange& r = job.ranges[t.axis];
    for (int64_t b0 = t.first; b0 < t.first + t.blocks; b0 += t.per_tile) {
      const int64_t b1 = std::min(t.first + t.blocks, b0 + t.per_tile);
      pieces[i].emplace_back(std::max<int64_t>(b0 * t.unit - r.start, 0),
                             std::min(b1 * t.unit - r.start, r.count));
    }
  }
  // Runs of groups (outermost), each with the span of the selected times in it.
  struct GroupRun {
    int64_t first = 0, last = 0;            // groups
    int64_t time_lo = 0, time_count = 0;    // selected times, relative to the selection
  };
  std::vector<GroupRun> runs;
  if (groups_per_tile > 0) {
    const int64_t groups = shape[group_j];
    for (int64_t g0 = 0; g0 < groups; g0 += groups_per_tile) {
      GroupRun run{g0, std::min(groups, g0 + groups_per_tile), 0, 0};
      int64_t lo = -1, hi = -1;
      for (size_t i = 0; i < job.group_of.size(); ++i) {
        const int64_t g = job.group_of[i];
        if (g < run.first || g >= run.last) continue;
        if (lo < 0) lo = static_cast<int64_t>(i);
        hi = static_cast<int64_t>(i);
      }
      // A run with no time (empty resample bins) still reads one time step, which it skips.
      run.time_lo = std::max<int64_t>(lo, 0);
      run.time_count = lo < 0 ? 1 : hi - lo + 1;
      runs.push_back(run);
    }
  } else {
    runs.push_back(GroupRun{});
  }
  job.tile_groups.clear();
  for (const GroupRun& run : runs) {
    std::vector<size_t> at(axes.size(), 0);
    while (true) {
      std::vector<array::DimRange> ranges = job.ranges;
      std::vector<int64_t> origin(shape.size(), 0);
      for (size_t i = 0; i < axes.size(); ++i) {
        const auto [lo, hi] = pieces[i][at[i]];
        ranges[axes[i].axis].start = job.ranges[axes[i].axis].start + lo;
        ranges[axes[i].axis].count = hi - lo;
        origin[axes[i].j] = lo;
      }
      if (groups_per_tile > 0) {
        const size_t t = *job.group_axis;
        ranges[t].start = job.ranges[t].start + run.time_lo;
        ranges[t].count = run.time_count;
        origin[group_j] = run.first;
        job.tile_groups.emplace_back(run.first, run.last);
      }
      job.tiles.push_back(std::move(ranges));
      job.tile_origins.push_back(std::move(origin));
      size_t i = axes.size();
      while (i > 0 && ++at[i - 1] == pieces[i - 1].size()) at[--i] = 0;
      if (i == 0) break;
    }
  }
  return Status::OK();
}

// With per-cell quantiles: the value slots of a grid of `shape` (the whole grid or one tile's)
// over the selection `ranges`, and their strides.
Status SetUpCellValues(VariableJob& job, const std::vector<int64_t>& shape,
                       const std::vector<array::DimRange>& ranges, uint64_t max_bytes) {
  if (job.values_per_cell == 0) return Status::OK();
  int64_t cells = 1;
  for (int64_t e : shape) cells *= e;
  LSIO_ASSIGN_OR_RETURN(compute::CellValues values,
                        compute::CellValues::Make(cells, job.values_per_cell, max_bytes));
  job.cell_values.emplace(std::move(values));
  // A cell's values lie together: kept axes step by whole cells (C order over the grid), the
  // reduced ones within a cell (C order over the reduced axes), after the position of the time
  // in its group when grouped (the group axis's stride is then taken apart: see Consume).
  int64_t stride = 1;
  for (size_t i = job.reduced_axes.size(); i-- > 0;) {
    job.slot_strides[job.reduced_axes[i]] = stride;
    stride *= ranges[job.reduced_axes[i]].count;
  }
  job.rank_slot_stride = stride;
  stride = job.values_per_cell;
  for (size_t j = job.kept_axes.size(); j-- > 0;) {
    const size_t a = job.kept_axes[j];
    if (job.group_axis && *job.group_axis == a) {
      job.group_slot_stride = stride;
      job.slot_strides[a] = 0;
    } else {
      job.slot_strides[a] = stride;
    }
    stride *= shape[j];
  }
  return Status::OK();
}

// The quantiles of every cell of job.cell_values ((quantile, cell) in C order), then freed.
Result<std::vector<double>> FinishCellValues(VariableJob& job, const StatsSelection& statistics) {
  std::vector<double> qs;
  for (const auto& [text, q] : statistics.quantiles) qs.push_back(q);
  std::vector<double> out(qs.size() * static_cast<size_t>(job.cell_values->cells()));
  LSIO_RETURN_IF_ERROR(job.cell_values->Finalize(job.cf.decoded, qs, out, job.cpu,
                                                 job.compute_threads)
                           .WithContext("variable '" + job.name + "'"));
  job.cell_values.reset();
  return out;
}

// Makes the grid of tile `t` of `job` and points the pass at it.
Status SetUpTile(VariableJob& job, size_t t, uint64_t max_memory) {
  job.pass_ranges = job.tiles[t];
  std::vector<int64_t> shape = job.grid_shape;
  for (size_t j = 0; j < job.kept_axes.size(); ++j) {
    const size_t a = job.kept_axes[j];
    if (!(job.group_axis && *job.group_axis == a)) {
      shape[j] = job.pass_ranges[a].count;
    } else if (!job.tile_groups.empty()) {
      const auto [first, last] = job.tile_groups[t];
      shape[j] = last - first;
      job.group_lo = first;
      job.group_hi = last;
      job.time_offset = job.pass_ranges[a].start - job.ranges[a].start;
    }
  }
  LSIO_ASSIGN_OR_RETURN(compute::ReductionGrid grid,
                        compute::ReductionGrid::Make(job.dtype, job.dims.size(), job.reduced_axes,
                                                     shape, job.grid_options));
  job.grid.emplace(std::move(grid));
  return SetUpCellValues(job, shape, job.pass_ranges, max_memory);
}

// Resample: which groups no selected time falls into.
std::vector<bool> EmptyGroups(const VariableJob& job) {
  std::vector<bool> empty(static_cast<size_t>(job.grouping.groups()), true);
  for (int64_t g : job.group_of) {
    if (g >= 0) empty[static_cast<size_t>(g)] = false;
  }
  return empty;
}


// Finishes the statistics of tile `t` (its grid, then freed) into `job.maps`.
Status FinishTile(VariableJob& job, size_t t, const StatsRequest& request) {
  const bool resample = job.group_axis && !request.resample_dim.empty();
  std::vector<bool> empty_groups;
  if (resample) {
    empty_groups = EmptyGroups(job);
    if (!job.tile_groups.empty()) {
      const auto [first, last] = job.tile_groups[t];
      empty_groups = std::vector<bool>(empty_groups.begin() + first, empty_groups.begin() + last);
    }
  }
  LSIO_ASSIGN_OR_RETURN(
      auto tile_maps,
      internal::FinishGridMaps(*job.grid, request.statistics,
                               job.cf.scale_factor.value_or(1.0), job.cf.add_offset.value_or(0.0),
                               empty_groups, resample ? GroupDim(job) : 0));
  const std::vector<int64_t> tile_shape(job.grid->grid_shape().begin(),
                                        job.grid->grid_shape().end());
  const int64_t tile_cells = job.grid->cell_count();
  job.grid.reset();
  std::vector<double> tile_quantiles;
  if (job.cell_values) {
    LSIO_ASSIGN_OR_RETURN(tile_quantiles, FinishCellValues(job, request.statistics));
  }
  const size_t nq = request.statistics.quantiles.size();
  const std::vector<int64_t>& full = job.grid_shape;
  const size_t k = full.size();
  int64_t full_cells = 1;
  for (int64_t e : full) full_cells *= e;
  if (!job.maps) {
    job.maps.emplace();
    for (const auto& [s, values] : tile_maps) {
      CellMap m = internal::MakeCellMap(s, job.cf.decoded, {});
      if (m.dtype == DataType::kFloat32) {
        m.f32.resize(static_cast<size_t>(full_cells));
      } else {
        m.f64.resize(static_cast<size_t>(full_cells));
      }
      job.maps->emplace_back(s, std::move(m));
    }
    if (!tile_quantiles.empty()) {
      job.quantile_maps.assign(nq * static_cast<size_t>(full_cells), 0);
    }
  }
  std::vector<int64_t> strides(k, 1);
  for (size_t j = k; j-- > 1;) strides[j - 1] = strides[j] * full[j];
  const std::vector<int64_t>& origin = job.tile_origins[t];
  const int64_t row = tile_shape[k - 1];
  std::vector<int64_t> idx(k, 0);
  int64_t src = 0;
  while (true) {
    int64_t dst = 0;
    for (size_t j = 0; j < k; ++j) dst += (origin[j] + idx[j]) * strides[j];
    for (size_t m = 0; m < tile_maps.size(); ++m) {
      CellMap& to = (*job.maps)[m].second;
      const double* from = tile_maps[m].second.data() + src;
      if (to.dtype == DataType::kFloat32) {
        std::copy(from, from + row, to.f32.data() + dst);
      } else {
        std::memcpy(to.f64.data() + dst, from, static_cast<size_t>(row) * sizeof(double));
      }
    }
    for (size_t q = 0; q < nq && !tile_quantiles.empty(); ++q) {
      std::memcpy(job.quantile_maps.data() + q * static_cast<size_t>(full_cells) + dst,
                  tile_quantiles.data() + q * static_cast<size_t>(tile_cells) + src,
                  static_cast<size_t>(row) * sizeof(double));
    }
    src += row;
    size_t j = k - 1;
    while (j > 0 && ++idx[j - 1] == tile_shape[j - 1]) idx[--j] = 0;
    if (j == 0) break;
  }
  return Status::OK();
}

// The grouping of the selected part of `array`'s time axis `axis` (--groupby / --resample).
Result<TimeGrouping> GroupTimes(const StatsRequest& request, const array::Dataset& ds,
                                const array::ArraySource& array, size_t axis,
                                const array::DimRange& range, runtime::Context& context) {
  const array::ArrayInfo& info = array.info();
  const std::string& dim = info.dims[axis];
  const array::ArraySource* coord = ds.CoordinateOf(array::Dataset::GroupOf(info.path), dim);
  if (coord == nullptr || coord->info().shape[0] != info.shape[axis]) {
    return NotFoundError("variable '" + info.path + "': dimension '" + dim +
                         "' has no time coordinate to group by");
  }
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const array::Dataset::CoordinateData> c,
                        ds.ReadCoordinate(*coord, context));
  if (c->decoded.kind != array::Coordinate::Kind::kDatetime) {
    return InvalidArgumentError("coordinate '" + coord->info().path +
                                "' is not a time: --groupby / --resample need datetimes");
  }
  std::vector<int64_t> times(static_cast<size_t>(range.count));
  for (int64_t i = 0; i < range.count; ++i) {
    times[static_cast<size_t>(i)] = c->decoded.datetime_ns.at(static_cast<size_t>(range.index(i)));
  }
  if (!request.groupby.empty()) return GroupByTime(request.groupby, dim, times);
  return ResampleTime(request.resample_freq, dim, times);
}

// The quantiles of the decoded values (as xarray decodes them: CF mask, scale and offset in the
// decoded type), interpolated in that type as numpy does.
Result<std::vector<std::pair<std::string, double>>> DecodedQuantiles(
    const compute::QuantileSearch& search, const array::CfMaskAndScale& cf,
    const StatsSelection& statistics) {
  std::vector<std::pair<std::string, double>> out;
  const std::vector<compute::QuantileSearch::Interpolation> interp = search.Interpolations();
  auto decode = [&](double raw) -> Result<double> {
    // The raw value as an element of the encoded type, decoded by the CF rules.
    std::array<std::byte, 8> in{}, decoded{};
    Status st = Status::OK();
    switch (cf.encoded) {
#define LSIO_ENCODE(T, D)                          \
  case DataType::D: {                              \
    const T v = static_cast<T>(raw);               \
    std::memcpy(in.data(), &v, sizeof v);          \
    break;                                         \
  }
      LSIO_ENCODE(int8_t, kInt8)
      LSIO_ENCODE(uint8_t, kUInt8)
      LSIO_ENCODE(uint8_t, kBool)
      LSIO_ENCODE(int16_t, kInt16)
      LSIO_ENCODE(uint16_t, kUInt16)
      LSIO_ENCODE(int32_t, kInt32)
      LSIO_ENCODE(uint32_t, kUInt32)
      LSIO_ENCODE(int64_t, kInt64)
      LSIO_ENCODE(uint64_t, kUInt64)
      LSIO_ENCODE(float, kFloat32)
      LSIO_ENCODE(double, kFloat64)
#undef LSIO_ENCODE
      case DataType::kFloat16: {
        const uint16_t v = FloatToHalf(static_cast<float>(raw));
        std::memcpy(in.data(), &v, 2);
        break;
      }
      default:
        return NotSupportedError("quantiles of " + std::string(DataTypeName(cf.encoded)));
    }
    const size_t w = ByteWidth(cf.stored);
    LSIO_RETURN_IF_ERROR(array::ApplyCfMaskAndScale(
        cf, std::span(in.data(), w), std::span(decoded.data(), ByteWidth(cf.decoded))));
    switch (cf.decoded) {
      case DataType::kFloat32: {
        float f;
        std::memcpy(&f, decoded.data(), 4);
        return static_cast<double>(f);
      }
      case DataType::kFloat64: {
        double d;
        std::memcpy(&d, decoded.data(), 8);
        return d;
      }
      case DataType::kFloat16: {
        uint16_t h;
        std::memcpy(&h, decoded.data(), 2);
        return static_cast<double>(HalfToFloat(h));
      }
      default:
        return raw;  // integers and bool decode to themselves
    }
  };
  for (size_t i = 0; i < statistics.quantiles.size(); ++i) {
    double value = std::nan("");
    if (!interp.empty()) {
      LSIO_ASSIGN_OR_RETURN(const double a, decode(interp[i].previous));
      LSIO_ASSIGN_OR_RETURN(const double b, decode(interp[i].next));
      value = compute::NumpyLerp(cf.decoded, a, b, interp[i].gamma);
    }
    out.emplace_back(statistics.quantiles[i].first, value);
  }
  return out;
}

// The output coordinate of the group dimension: integers, strings (seasons), or datetimes.
OutputCoordinate GroupCoordinate(const TimeGrouping& g) {
  OutputCoordinate oc;
  oc.name = g.dim;
  switch (g.label_kind) {
    case TimeGrouping::LabelKind::kInt64:
    case TimeGrouping::LabelKind::kDatetime:
      oc.storage = DataType::kInt64;
      oc.numpy_dtype = g.label_kind == TimeGrouping::LabelKind::kInt64 ? "<i8" : "<M8[ns]";
      oc.values.resize(g.int_labels.size() * 8);
      std::memcpy(oc.values.data(), g.int_labels.data(), oc.values.size());
      break;
    case TimeGrouping::LabelKind::kString: {
      size_t width = 1;
      for (const std::string& t : g.text_labels) width = std::max(width, t.size());
      oc.storage = DataType::kUInt8;
      oc.numpy_dtype = "<U" + std::to_string(width);
      oc.values.assign(g.text_labels.size() * width * 4, std::byte{0});
      for (size_t i = 0; i < g.text_labels.size(); ++i) {
        for (size_t k = 0; k < g.text_labels[i].size(); ++k) {
          const uint32_t cp = static_cast<unsigned char>(g.text_labels[i][k]);  // ASCII labels
          std::memcpy(oc.values.data() + (i * width + k) * 4, &cp, 4);
        }
      }
      break;
    }
  }
  return oc;
}

}  // namespace

namespace internal {

Result<std::vector<PartialVariable>> RunStats(const StatsRequest& request, StatsReport* out,
                                              bool tiled_grids) {
  const auto start = Clock::now();
  StatsReport& report = *out;
  report.statistics = request.statistics;
  report.on_error = request.on_error;
  runtime::Context& context =
      request.context != nullptr ? *request.context : *runtime::Context::Default();
  format::DatasetOptions open;
  open.io_backend = request.io_backend;
  open.storage_options = request.storage_options;
  open.cancelled = request.cancelled;
  std::vector<std::string> locations = {request.path};
  locations.insert(locations.end(), request.more_paths.begin(), request.more_paths.end());
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const array::Dataset> ds,
                        format::OpenDataset(context, locations, open));
  const int run_threads = request.threads > 0 ? std::min(request.threads, context.threads())
                                              : context.threads();

  // The variables.
  std::vector<const array::ArraySource*> nodes;
  auto time_like = [](const array::ArrayInfo& info) {
    return info.element.kind != array::DataTypeKind::kNumeric ||
           array::ClassifyCfTime(info.attributes) != array::CfTimeKind::kNone;
  };
  if (request.variables.empty()) {
    std::vector<std::pair<std::string, Status>> skipped;
    for (const array::ArraySource* n : ds->DataVariables()) {
      const array::ArrayInfo& info = n->info();
      Status support = info.element.StatisticsSupport();
      if (support.ok() && time_like(info)) {
        support = NotSupportedError("statistics of times are not supported");
      }
      if (!support.ok()) {
        report.notes.push_back("skipped '" + info.path + "': " + support.message());
        skipped.emplace_back(info.path, std::move(support));
        continue;
      }
      nodes.push_back(n);
    }
    if (nodes.empty()) {
      // Say why: a store that is one array fails as naming it would; a group lists what it
      // skipped.
      if (skipped.size() == 1 && skipped[0].first.empty()) {
        return skipped[0].second.WithContext("variable ''");
      }
      std::string why;
      for (const auto& [path, status] : skipped) {
        why += (why.empty() ? " (skipped '" : "; '") + path + "': " + status.message();
      }
      return NotFoundError(request.path + ": no data variable with statistics to compute" +
                           (why.empty() ? "" : why + ")"));
    }
  } else {
    for (const std::string& v : request.variables) {
      LSIO_ASSIGN_OR_RETURN(const array::ArraySource* n, ds->FindArray(v));
      if (std::find(nodes.begin(), nodes.end(), n) == nodes.end()) nodes.push_back(n);
    }
  }

  // Selectors and --over dims must each name a dimension of some variable.
  auto check_dim_known = [&](const std::string& dim, const char* what) -> Status {
    for (const array::ArraySource* n : nodes) {
      const std::vector<std::string>& d = n->info().dims;
      if (std::find(d.begin(), d.end(), dim) != d.end()) return Status::OK();
    }
    std::string known;
    for (const array::ArraySource* n : nodes) {
      for (const std::string& d : n->info().dims) {
        if (known.find("'" + d + "'") == std::string::npos) {
          known += known.empty() ? "" : ", ";
          known += "'" + d + "'";
        }
      }
    }
    return NotFoundError(std::string(what) + ": no selected variable has dimension '" + dim +
                         "' (dimensions: " + known + ")");
  };
  for (const array::DimSelector& s : request.selectors) {
    LSIO_RETURN_IF_ERROR(check_dim_known(s.dim, s.is_label() ? "--sel" : "--isel"));
  }
  for (const std::string& d : request.over) LSIO_RETURN_IF_ERROR(check_dim_known(d, "--over"));
  // --groupby time.month / --resample time=1D: the time dimension they group.
  std::string group_dim;
  if (!request.groupby.empty() || !request.resample_dim.empty()) {
    if (!request.groupby.empty() && !request.resample_dim.empty()) {
      return InvalidArgumentError("--groupby and --resample: give one of them");
    }
    if (!request.over.empty()) {
      return InvalidArgumentError(
          "--groupby / --resample reduce the time dimension within each group and keep the "
          "others: drop --over");
    }
    if (request.statistics.histogram_bins > 0) {
      return InvalidArgumentError("hist:N is computed over the whole selection; drop --groupby");
    }
    group_dim = !request.resample_dim.empty()
                    ? request.resample_dim
                    : request.groupby.substr(0, request.groupby.find('.'));
    LSIO_RETURN_IF_ERROR(
        check_dim_known(group_dim, request.groupby.empty() ? "--resample" : "--groupby"));
  }
  const bool grouped = !group_dim.empty();
  if (request.statistics.histogram_bins > 0 && !request.over.empty()) {
    return InvalidArgumentError("hist:N is computed over the whole selection; drop --over");
  }
  if (!request.statistics.quantiles.empty() && (!request.over.empty() || grouped) &&
      !tiled_grids) {
    return NotSupportedError(
        "per-cell and per-group quantiles (quantile:Q with over, groupby or resample) cannot be "
        "merged from partial results");
  }

  // Label selections and --over outputs need coordinates: read them all in one run first.
  {
    std::vector<const array::ArraySource*> coordinates;
    for (const array::ArraySource* n : nodes) {
      const std::string group = array::Dataset::GroupOf(n->info().path);
      for (const std::string& dim : n->info().dims) {
        // A kept dimension of --over output, the grouped time, or one a label selects on.
        bool wanted = (!request.over.empty() || !group_dim.empty()) &&
                      std::find(request.over.begin(), request.over.end(), dim) ==
                          request.over.end();
        for (const array::DimSelector& s : request.selectors) {
          wanted = wanted || (s.is_label() && s.dim == dim);
        }
        const array::ArraySource* c = wanted ? ds->CoordinateOf(group, dim) : nullptr;
        if (c != nullptr) coordinates.push_back(c);
      }
    }
    LSIO_RETURN_IF_ERROR(ds->ReadCoordinates(coordinates, context));
  }

  // Per-variable set-up.
  std::vector<std::unique_ptr<VariableJob>> jobs;
  for (const array::ArraySource* n : nodes) {
    const array::ArrayInfo& info = n->info();
    auto job = std::make_unique<VariableJob>();
    job->array = n;
    job->name = info.path;
    const std::string label = "variable '" + info.path + "'";
    LSIO_RETURN_IF_ERROR(info.element.StatisticsSupport().WithContext(label));
    if (time_like(info)) {
      return NotSupportedError(label + ": statistics of times are not supported");
    }
    job->dims = info.dims;
    LSIO_ASSIGN_OR_RETURN(job->ranges, ds->ResolveSelection(*n, request.selectors, context));
    for (size_t d = 0; d < job->ranges.size(); ++d) {
      if (job->ranges[d].step != 1 && job->ranges[d].count > 1) {
        return NotSupportedError(label + ": statistics over a strided selection of '" +
                                 job->dims[d] + "' are not supported");
      }
    }
    LSIO_ASSIGN_OR_RETURN(job->cf, array::ResolveCfMaskAndScale(info));
    job->dtype = job->cf.encoded;
    job->missing = ToMissingValues(job->cf);
    job->fill = info.fill_value;
    job->element_size = ByteWidth(job->dtype);
    job->compute_threads = run_threads;
    job->cpu = &context.cpu();
    job->histogram_bins = request.statistics.histogram_bins;
    job->skip_errors = request.on_error == OnError::kSkip;
    job->fused_decode = request.fused_decode;
    job->attributes = nlohmann::json::object();
    for (const char* key : {"units", "long_name", "standard_name"}) {
      auto it = info.attributes.find(key);
      if (it != info.attributes.end()) job->attributes[key] = *it;
    }
    if (request.over.empty() && !grouped) {
      compute::StatsOptions options;
      options.missing = job->missing;
      LSIO_ASSIGN_OR_RETURN(compute::StatsAccumulator empty,
                            compute::StatsAccumulator::Make(job->dtype, options));
      job->empty_stats.emplace(empty);
      job->global.emplace(empty);
    } else {
      std::vector<int64_t> grid_shape;
      for (size_t d = 0; d < job->dims.size(); ++d) {
        const bool over = std::find(request.over.begin(), request.over.end(), job->dims[d]) !=
                          request.over.end();
        if (over || job->ranges[d].drop) {
          job->reduced_axes.push_back(d);
        } else if (grouped && job->dims[d] == group_dim) {
          LSIO_ASSIGN_OR_RETURN(TimeGrouping g, GroupTimes(request, *ds, *n, d, job->ranges[d], context));
          job->group_axis = d;
          job->group_of = std::move(g.group_of);
          g.group_of.clear();
          job->kept_axes.push_back(d);
          grid_shape.push_back(g.groups());
          job->grouping = std::move(g);
        } else {
          job->kept_axes.push_back(d);
          grid_shape.push_back(job->ranges[d].count);
        }
      }
      if (grouped && !job->group_axis) {
        return NotFoundError(label + " has no dimension '" + group_dim + "' to group");
      }
      for (const std::string& o : request.over) {
        if (std::find(job->dims.begin(), job->dims.end(), o) == job->dims.end()) {
          return NotFoundError(label + " has no dimension '" + o + "' to reduce over");
        }
      }
      job->grid_shape = grid_shape;
      job->grid_options.missing = job->missing;
      job->grid_options.max_bytes = request.max_memory;
      job->grid_options.statistics =
          CellStatisticsFor(request.statistics, job->cf.scale_factor.value_or(1.0) < 0);
      if (!request.statistics.quantiles.empty()) {
        if (job->dims.size() > compute::kMaxRank) {
          return NotSupportedError(label + ": rank above 32");
        }
        job->values_per_cell = 1;
        for (size_t a : job->reduced_axes) job->values_per_cell *= job->ranges[a].count;
        if (job->group_axis) {
          std::vector<int64_t> seen(static_cast<size_t>(job->grouping.groups()), 0);
          job->rank_in_group.assign(job->group_of.size(), 0);
          for (size_t i = 0; i < job->group_of.size(); ++i) {
            const int64_t g = job->group_of[i];
            if (g < 0) continue;
            job->rank_in_group[i] = seen[static_cast<size_t>(g)]++;
            job->group_slots = std::max(job->group_slots, seen[static_cast<size_t>(g)]);
          }
          job->values_per_cell *= std::max<int64_t>(job->group_slots, 1);
        }
      }
    }
    jobs.push_back(std::move(job));
  }

  // The per-cell accumulators: one grid each when they fit the budget, else passes over tiles
  // of chunk columns (PlanGridTiles); say what they need when not even one chunk's fits.
  {
    std::vector<VariableJob*> grid_jobs;
    uint64_t max_chunk = 4096;
    for (auto& job : jobs) {
      max_chunk = std::max(max_chunk, job->array->info().chunk_bytes());
      if (!job->global) grid_jobs.push_back(job.get());
    }
    // What the accumulators may take: what the memory plan leaves beside two decoded chunks
    // per worker, the decode cache and the smallest IO budget, and at most half the budget
    // (the rest keeps reads in flight), shared by the variables.
    const uint64_t others = (4 * static_cast<uint64_t>(run_threads) + 4) * max_chunk;
    uint64_t share = request.max_memory > others ? request.max_memory - others : 0;
    share = std::min(share, request.max_memory / 2);
    if (!grid_jobs.empty()) share /= grid_jobs.size();
    for (VariableJob* job : grid_jobs) {
      LSIO_RETURN_IF_ERROR(PlanGridTiles(*job, share, request.max_memory, tiled_grids));
      if (job->tiles.empty()) {
        LSIO_ASSIGN_OR_RETURN(compute::ReductionGrid grid,
                              compute::ReductionGrid::Make(job->dtype, job->dims.size(),
                                                           job->reduced_axes, job->grid_shape,
                                                           job->grid_options));
        job->grid.emplace(std::move(grid));
        LSIO_RETURN_IF_ERROR(
            SetUpCellValues(*job, job->grid_shape, job->ranges, request.max_memory));
      }
    }
    for (auto& job : jobs) job->pass_ranges = job->ranges;
  }

  // One pass over every variable's chunks (and a second for histograms); per-cell statistics
  // in tiles take a pass per tile (never with histograms, which are whole-selection only).
  size_t most_tiles = 1;
  for (const auto& job : jobs) most_tiles = std::max(most_tiles, job->tiles.size());
  const int passes = request.statistics.histogram_bins > 0 ? 2 : static_cast<int>(most_tiles);
  const bool histogram_pass = request.statistics.histogram_bins > 0;
  for (int pass = 1; pass <= passes; ++pass) {
    if (pass == 2 && histogram_pass) {
      for (auto& job : jobs) {
        const compute::Stats raw = job->global_stats.Finalize();
        compute::HistogramOptions options;
        options.bins = request.statistics.histogram_bins;
        options.missing = job->missing;
        // numpy.histogram of the values xarray returns: CF-decoded, in the decoded dtype.
        if (IsFloat(job->cf.decoded) &&
            (job->cf.decoded != job->cf.encoded || job->cf.scale_factor || job->cf.add_offset)) {
          options.decoding =
              compute::ValueDecoding{job->cf.decoded, job->cf.scale_factor, job->cf.add_offset};
        }
        // numpy.histogram's default range, (min, max) of the finite data (decoding is
        // monotonic, so they are the decoded extremes); an empty selection gets numpy's (0, 1).
        options.lo = 0;
        options.hi = 1;
        options.range_of_no_values = raw.count == 0;
        if (raw.count > 0 && !(std::isfinite(raw.min) && std::isfinite(raw.max))) {
          return InvalidArgumentError(
              fmt::format("variable '{}': hist:N needs a finite range and the data's is [{}, {}] "
                          "(numpy.histogram refuses it too)",
                          job->name, raw.min, raw.max));
        }
        if (raw.count > 0) {
          options.lo = options.decoding ? options.decoding->Apply(raw.min) : raw.min;
          options.hi = options.decoding ? options.decoding->Apply(raw.max) : raw.max;
          if (options.lo > options.hi) std::swap(options.lo, options.hi);
        }
        LSIO_ASSIGN_OR_RETURN(compute::HistogramAccumulator empty,
                              compute::HistogramAccumulator::Make(job->dtype, options));
        job->histogram.emplace(empty);
      }
    }
    std::vector<PassInput> inputs;
    for (auto& job : jobs) {
      const size_t tile = static_cast<size_t>(pass - 1);
      if (!job->tiles.empty()) {
        if (tile >= job->tiles.size()) continue;
        LSIO_RETURN_IF_ERROR(SetUpTile(*job, tile, request.max_memory));
      } else if (pass > 1 && !histogram_pass) {
        continue;
      }
      job->pass = pass;
      uint64_t e = 1;
      for (const array::DimRange& r : job->ranges) e *= static_cast<uint64_t>(r.count);
      job->elements = e;
      inputs.push_back(
          PassInput{job->array, job->pass_ranges, job.get(), "variable '" + job->name + "'"});
    }
    PassOptions po;
    po.max_memory = request.max_memory;
    po.threads = run_threads;
    po.cancelled = request.cancelled;
    const uint64_t bytes_read_before = report.bytes_read;
    if (request.progress) {
      po.progress = [&, pass](const PassProgress& pp) {
        StatsProgress p;
        p.bytes_done = pp.bytes_done;
        p.bytes_total = pp.bytes_total;
        p.chunks_done = pp.chunks_done;
        p.chunks_total = pp.chunks_total;
        p.bytes_read = bytes_read_before;
        p.seconds = std::chrono::duration<double>(Clock::now() - start).count();
        p.pass = pass;
        p.passes = passes;
        request.progress(p);
      };
    }
    LSIO_ASSIGN_OR_RETURN(PassResult pr, RunPass(context, inputs, po));
    report.bytes_read += pr.bytes_read;
    for (auto& job : jobs) {
      const size_t tile = static_cast<size_t>(pass - 1);
      if (job->tiles.empty() || tile >= job->tiles.size()) continue;
      LSIO_RETURN_IF_ERROR(FinishTile(*job, tile, request));
      job->ordinal_base += job->read_chunks;
    }
#ifdef __GLIBC__
    // Between tiles: give back the heap the finished tile's grid and maps left (malloc's mmap
    // threshold rises to the largest block freed, after which tile-sized blocks come from its
    // heap and stay there; measured, a climatology at max_memory=128MiB peaked 40 MiB higher).
    if (most_tiles > 1) ::malloc_trim(0);
#endif
    for (auto& job : jobs) {
      if (!job->tiles.empty() || !job->cell_values) continue;
      LSIO_ASSIGN_OR_RETURN(job->quantile_maps, FinishCellValues(*job, request.statistics));
    }
    if (pass > 1 && !histogram_pass) {
      report.chunks += pr.chunks;
      report.missing_chunks += pr.missing_chunks;
    }
    if (pass == 1) {
      report.chunks = pr.chunks;
      report.missing_chunks = pr.missing_chunks;
      for (const auto& job : jobs) {
        report.fused_chunks += job->fused_chunks.load(std::memory_order_relaxed);
      }
    }
    report.io_backend = pr.io_backend;
    report.threads = pr.threads;
    report.bytes_processed += pr.bytes_decoded;
    report.io_budget = pr.io_budget;
  }

  // Exact quantiles: passes that narrow each wanted order statistic to a window small enough
  // to collect (compute/quantile.h), usually two. (Per-cell ones are finished already.)
  if (!request.statistics.quantiles.empty() && request.over.empty()) {
    std::vector<double> qs;
    for (const auto& [text, q] : request.statistics.quantiles) qs.push_back(q);
    for (auto& job : jobs) {
      const compute::Stats raw = job->global_stats.Finalize();
      compute::QuantileSearch::Options qo;
      qo.reversed = job->cf.scale_factor && *job->cf.scale_factor < 0;
      LSIO_ASSIGN_OR_RETURN(
          compute::QuantileSearch search,
          compute::QuantileSearch::Make(job->dtype, job->missing, qs, raw.count, raw.min,
                                        raw.max, qo));
      job->qsearch.emplace(std::move(search));
    }
    for (int pass = passes + 1;; ++pass) {
      std::vector<PassInput> inputs;
      for (auto& job : jobs) {
        if (job->qsearch->done()) continue;
        LSIO_ASSIGN_OR_RETURN(compute::QuantilePass empty, job->qsearch->NextPass());
        job->qpass.emplace(empty);
        job->pass = pass;
        inputs.push_back(
            PassInput{job->array, job->ranges, job.get(), "variable '" + job->name + "'"});
      }
      if (inputs.empty()) break;
      PassOptions po;
      po.max_memory = request.max_memory;
      po.threads = run_threads;
      po.cancelled = request.cancelled;
      LSIO_ASSIGN_OR_RETURN(PassResult pr, RunPass(context, inputs, po));
      report.bytes_read += pr.bytes_read;
      report.bytes_processed += pr.bytes_decoded;
    }
  }

  // What finishing needs from each variable.
  std::vector<internal::PartialVariable> partials;
  for (auto& job : jobs) {
    internal::PartialVariable pv;
    pv.header.name = job->name;
    pv.header.attributes = job->attributes;
    pv.header.elements = job->elements;
    for (auto& [ordinal, message] : job->skipped) pv.header.skipped_chunks.push_back(message);
    pv.header.skipped_elements = job->skipped_elements;
    pv.scaled = job->cf.scale_factor || job->cf.add_offset;
    pv.decoded = job->cf.decoded;
    pv.scale = job->cf.scale_factor.value_or(1.0);
    pv.offset = job->cf.add_offset.value_or(0.0);
    if (job->qsearch) {
      LSIO_ASSIGN_OR_RETURN(pv.header.quantiles,
                            DecodedQuantiles(*job->qsearch, job->cf, request.statistics));
    }
    if (job->global) {
      pv.global.emplace(std::move(job->global_stats));
      if (job->histogram) {
        LSIO_ASSIGN_OR_RETURN(compute::HistogramAccumulator h,
                              job->histogram->Combine([](compute::HistogramAccumulator& into,
                                                         const compute::HistogramAccumulator& f) {
                                return into.Merge(f);
                              }));
        pv.header.histogram_counts.assign(h.counts().begin(), h.counts().end());
        pv.header.histogram_edges.assign(h.edges().begin(), h.edges().end());
      }
    } else {
      for (size_t a : job->kept_axes) {
        if (job->group_axis == a) {
          pv.header.dims.push_back(job->grouping.dim);
          pv.header.shape.push_back(job->grouping.groups());
          pv.header.coordinates.push_back(GroupCoordinate(job->grouping));
          continue;
        }
        pv.header.dims.push_back(job->dims[a]);
        pv.header.shape.push_back(job->ranges[a].count);
      }
      // Coordinates of the kept dimensions, as stored, for writing them out.
      for (size_t a : job->kept_axes) {
        if (job->group_axis == a) continue;
        const std::string group = array::Dataset::GroupOf(job->name);
        const array::ArraySource* coord = ds->CoordinateOf(group, job->dims[a]);
        if (coord == nullptr || coord->info().shape[0] != job->array->info().shape[a]) continue;
        LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const array::Dataset::CoordinateData> c,
                              ds->ReadCoordinate(*coord, context));
        const array::ArrayInfo& cm = coord->info();
        OutputCoordinate oc;
        oc.name = job->dims[a];
        oc.storage = cm.element.storage;
        oc.numpy_dtype = array::NumpyTypeString(cm.element);
        const size_t w = ByteWidth(oc.storage);
        const array::DimRange& r = job->ranges[a];
        oc.values.resize(static_cast<size_t>(r.count) * w);
        for (int64_t i = 0; i < r.count; ++i) {
          std::memcpy(oc.values.data() + i * w, c->stored.data() + r.index(i) * w, w);
        }
        oc.attributes = cm.attributes;
        oc.attributes.erase("_ARRAY_DIMENSIONS");
        oc.attributes.erase("_FillValue");
        pv.header.coordinates.push_back(std::move(oc));
      }
      pv.header.quantile_maps = std::move(job->quantile_maps);
      if (pv.header.dims.empty() && !pv.header.quantile_maps.empty()) {
        // --over every dimension: one cell, reported as whole-selection quantiles are.
        for (size_t i = 0; i < request.statistics.quantiles.size(); ++i) {
          pv.header.quantiles.emplace_back(request.statistics.quantiles[i].first,
                                           pv.header.quantile_maps[i]);
        }
        pv.header.quantile_maps.clear();
      }
      if (job->maps) {
        pv.maps = std::move(job->maps);
      } else {
        pv.grid.emplace(std::move(*job->grid));
      }
      if (job->group_axis && !request.resample_dim.empty()) {
        pv.empty_groups = EmptyGroups(*job);
        pv.group_dim = GroupDim(*job);
      }
    }
    partials.push_back(std::move(pv));
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return partials;
}

Result<std::vector<std::pair<Statistic, std::vector<double>>>> FinishGridMaps(
    const compute::ReductionGrid& grid, const StatsSelection& statistics, double scale,
    double offset, const std::vector<bool>& empty_groups, size_t group_dim) {
  std::vector<std::pair<Statistic, std::vector<double>>> maps;
  const size_t cells = static_cast<size_t>(grid.cell_count());
  for (Statistic s : statistics.statistics) {
    std::vector<double> values(cells);
    switch (s) {
      case Statistic::kCount:
        LSIO_RETURN_IF_ERROR(grid.Finalize(compute::CellStatistic::kCount, values));
        break;
      case Statistic::kNanCount:
        LSIO_RETURN_IF_ERROR(grid.Finalize(compute::CellStatistic::kNanCount, values));
        break;
      case Statistic::kMin:
      case Statistic::kMax: {
        const bool want_min = (s == Statistic::kMin) != (scale < 0);
        LSIO_RETURN_IF_ERROR(grid.Finalize(
            want_min ? compute::CellStatistic::kMin : compute::CellStatistic::kMax, values));
        for (double& v : values) v = v * scale + offset;
        break;
      }
      case Statistic::kSum: {
        std::vector<double> count(cells);
        LSIO_RETURN_IF_ERROR(grid.Finalize(compute::CellStatistic::kCount, count));
        LSIO_RETURN_IF_ERROR(grid.Finalize(compute::CellStatistic::kSum, values));
        for (size_t i = 0; i < cells; ++i) values[i] = values[i] * scale + offset * count[i];
        break;
      }
      case Statistic::kMean:
        LSIO_RETURN_IF_ERROR(grid.Finalize(compute::CellStatistic::kMean, values));
        for (double& v : values) v = v * scale + offset;
        break;
      case Statistic::kStd:
        LSIO_RETURN_IF_ERROR(
            grid.Finalize(compute::CellStatistic::kStd, values, statistics.ddof));
        for (double& v : values) v *= std::fabs(scale);
        break;
      case Statistic::kVar:
        LSIO_RETURN_IF_ERROR(
            grid.Finalize(compute::CellStatistic::kVariance, values, statistics.ddof));
        for (double& v : values) v *= scale * scale;
        break;
    }
    maps.emplace_back(s, std::move(values));
  }
  if (!empty_groups.empty()) {
    // Cells of the grid in C order: the group index of cell c along group_dim.
    const std::span<const int64_t> shape = grid.grid_shape();
    int64_t inner = 1;
    for (size_t d = group_dim + 1; d < shape.size(); ++d) inner *= shape[d];
    const int64_t groups = shape[group_dim];
    for (auto& [s, values] : maps) {
      for (size_t c = 0; c < cells; ++c) {
        const int64_t g = (static_cast<int64_t>(c) / inner) % groups;
        if (empty_groups[static_cast<size_t>(g)] ||
            (s == Statistic::kCount && values[c] == 0)) {
          values[c] = std::nan("");
        }
      }
    }
  }
  return maps;
}

CellMap MakeCellMap(Statistic s, DataType decoded, std::vector<double> values) {
  CellMap m;
  if (decoded == DataType::kFloat32 && s != Statistic::kCount && s != Statistic::kNanCount) {
    m.dtype = DataType::kFloat32;
    m.f32.assign(values.begin(), values.end());
  } else {
    m.f64 = std::move(values);
  }
  return m;
}

Result<VariableStats> FinishVariable(PartialVariable& pv, const StatsSelection& statistics) {
  VariableStats vs = std::move(pv.header);
  const double scale = pv.scale;
  const double offset = pv.offset;
  if (pv.global) {
    vs.stats = pv.global->Finalize();
    // (The histogram is of decoded values already.)
    if (pv.scaled) vs.stats = compute::ApplyScaleOffset(vs.stats, scale, offset);
    return vs;
  }
  if (pv.maps) {
    vs.maps = std::move(*pv.maps);
    return vs;
  }
  LSIO_ASSIGN_OR_RETURN(auto maps, FinishGridMaps(*pv.grid, statistics, scale, offset,
                                                 pv.empty_groups, pv.group_dim));
  for (auto& [s, values] : maps) {
    vs.maps.emplace_back(s, MakeCellMap(s, pv.decoded, std::move(values)));
  }
  return vs;
}

}  // namespace internal

Result<StatsReport> ComputeStats(const StatsRequest& request) {
  StatsReport report;
  LSIO_ASSIGN_OR_RETURN(std::vector<internal::PartialVariable> partials,
                        internal::RunStats(request, &report));
  for (internal::PartialVariable& pv : partials) {
    LSIO_ASSIGN_OR_RETURN(VariableStats vs, internal::FinishVariable(pv, report.statistics));
    report.variables.push_back(std::move(vs));
  }
  return report;
}

}  // namespace lsio::ops

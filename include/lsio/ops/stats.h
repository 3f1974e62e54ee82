#pragma once

// `lsio stats`: summary statistics of Zarr variables, whole or along named dimensions, in one
// pass over the data, in constant memory.
//
// Values are CF-decoded as xarray decodes them by default (_FillValue / missing_value masked
// to NaN, scale_factor and add_offset applied), and NaN-skipping like numpy's nan* functions:
// count excludes NaNs, nan_count counts them, std is the population standard deviation
// (ddof 0) unless asked otherwise.
//
// Every chunk is read once however many statistics or variables need it; missing chunks are
// accounted for from the fill value without reading anything. Per-cell statistics (over, groupby,
// resample) whose accumulators do not fit the budget run in passes over tiles of chunk columns,
// each chunk still read once. A histogram (hist:N) needs the
// range first and so reads the data a second time.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/array/element_type.h"
#include "lsio/array/selection.h"
#include "lsio/base/result.h"
#include "lsio/compute/stats.h"
#include "lsio/io/engine.h"
#include "lsio/kvstore/store.h"
#include "lsio/runtime/context.h"

namespace lsio::ops {

enum class Statistic : unsigned char {
  kCount,
  kNanCount,
  kMin,
  kMax,
  kSum,
  kMean,
  kStd,
  kVar,
};

// "count", "nan_count", "min", "max", "sum", "mean", "std", "var".
std::string_view StatisticName(Statistic s);

struct StatsSelection {
  std::vector<Statistic> statistics;  // in output order
  int64_t histogram_bins = 0;         // 0: none
  int ddof = 0;                       // for std and var
  // quantile:Q,Q,...: exact quantiles as numpy.nanquantile(method="linear"), keyed by the text
  // the user gave ("0.5").
  std::vector<std::pair<std::string, double>> quantiles;
};

// The default set: count, nan_count, min, max, sum, mean, std.
StatsSelection DefaultStatistics();
// Parses "--stats" text: "mean,std", "min,max,hist:20", "all". Errors: kInvalidArgument naming
// the unknown word.
Result<StatsSelection> ParseStatistics(std::string_view text);

struct StatsProgress {
  uint64_t bytes_done = 0;   // logical (decoded) bytes of the selection processed
  uint64_t bytes_total = 0;
  uint64_t chunks_done = 0;  // stored chunks (shards) finished
  uint64_t chunks_total = 0;
  uint64_t bytes_read = 0;   // bytes read from files so far
  double seconds = 0;
  int pass = 1;              // 2 while a histogram's second pass runs
  int passes = 1;
};

enum class OnError : unsigned char { kFail, kSkip };

struct StatsRequest {
  // A path or URL (format::OpenDataset): a Zarr store, a GRIB file, a directory or glob of
  // GRIB files.
  std::string path;
  // More locations opened with `path` as one dataset (several GRIB files).
  std::vector<std::string> more_paths;
  // Object storage settings (kvstore::OpenOptions::storage_options).
  std::map<std::string, std::string> storage_options;
  // The runtime context to run on; null: runtime::Context::Default().
  runtime::Context* context = nullptr;
  // Variable paths in the store; empty: every data variable (coordinates skipped; variables
  // whose dtype has no statistics, such as strings and times, skipped with a note).
  std::vector<std::string> variables;
  // Dimensions to reduce over; empty: all (one value per statistic).
  std::vector<std::string> over;
  // Climate reductions over a time dimension (time_groups.h), keeping every other dimension:
  // groupby "time.month" | "time.season" | "time.dayofyear" | "time.hour" | "time.year", or
  // resample_dim = "time" with resample_freq "1D", "MS", ... At most one, and not with `over`.
  std::string groupby;
  std::string resample_dim;
  std::string resample_freq;
  // isel and sel selectors, by dimension name.
  std::vector<array::DimSelector> selectors;
  StatsSelection statistics = DefaultStatistics();

  int threads = 0;                                 // CPU workers; 0: the context's pool
  uint64_t max_memory = uint64_t{256} << 20;       // data buffers, accumulators and IO in flight
  io::Backend io_backend = io::Backend::kAuto;
  OnError on_error = OnError::kFail;
  // Fused decode-and-reduce for whole-selection moments of chunks whose codecs stream
  // (compute::DecodeAndConsume: bit-identical results); false decodes every chunk first (for
  // A/B benchmarks).
  bool fused_decode = true;

  // Called on the coordinating thread about 10 times a second, and at the end.
  std::function<void(const StatsProgress&)> progress;
  // Polled about every 20 ms; true cancels (the result is then kCancelled).
  std::function<bool()> cancelled;
};

// A coordinate of an output dimension: the selected values as stored, for writing them out
// with the same dtype and attributes (so xarray decodes them the same way).
struct OutputCoordinate {
  std::string name;
  DataType storage = DataType::kFloat64;  // numeric and time values (kUInt8 for strings)
  std::string numpy_dtype;  // numpy typestring: "<f8", "<i8", "<M8[ns]", "<U3" (UTF-32)
  std::vector<std::byte> values;
  // Bytes per element, from numpy_dtype ("<U3": 12).
  size_t item_size() const;
  nlohmann::json attributes = nlohmann::json::object();
};

// One per-cell statistic, C order over the result's shape: float32 when the variable's
// CF-decoded values are float32 and the statistic is a value (min, max, sum, mean, std, var:
// the type numpy's and xarray's reductions return; lsio accumulates in float64 and rounds once),
// else float64 (counts, and statistics of other types).
struct CellMap {
  DataType dtype = DataType::kFloat64;
  std::vector<double> f64;  // when dtype is kFloat64
  std::vector<float> f32;   // when dtype is kFloat32

  size_t size() const { return dtype == DataType::kFloat32 ? f32.size() : f64.size(); }
  double operator[](size_t i) const {
    return dtype == DataType::kFloat32 ? static_cast<double>(f32[i]) : f64[i];
  }
  // The values as stored (native byte order).
  std::span<const std::byte> bytes() const {
    return dtype == DataType::kFloat32 ? std::as_bytes(std::span(f32))
                                       : std::as_bytes(std::span(f64));
  }
};

struct VariableStats {
  std::string name;  // the variable's path in the store ("" for a single-array store)
  std::vector<std::string> dims;    // dims of the result (empty when reduced over everything)
  std::vector<int64_t> shape;       // their sizes
  std::vector<OutputCoordinate> coordinates;  // for the result dims that have one
  nlohmann::json attributes = nlohmann::json::object();  // units, long_name of the variable
  uint64_t elements = 0;            // elements selected (count + nan_count, over all cells)

  // Without `over`: the statistics.
  compute::Stats stats;
  // With `over`, `groupby` or `resample`: one array (C order over `shape`) per requested
  // statistic.
  std::vector<std::pair<Statistic, CellMap>> maps;

  // hist:N (whole selection only).
  // quantile:Q,... over the whole selection: the values, in the order asked.
  std::vector<std::pair<std::string, double>> quantiles;
  // quantile:Q,... with `over`: (quantile, dims...) in C order, the quantiles in the order
  // asked (StatsReport::statistics.quantiles), NaN for cells with no valid value.
  std::vector<double> quantile_maps;

  std::vector<uint64_t> histogram_counts;
  std::vector<double> histogram_edges;

  // Chunks skipped with --on-error skip, and the elements therefore excluded.
  std::vector<std::string> skipped_chunks;
  uint64_t skipped_elements = 0;
};

struct StatsReport {
  std::vector<VariableStats> variables;
  StatsSelection statistics;
  std::vector<std::string> notes;  // variables skipped and why
  uint64_t bytes_read = 0;
  // Decoded bytes of the selection processed (element size x elements, summed over variables
  // and passes).
  uint64_t bytes_processed = 0;
  uint64_t chunks = 0;          // stored chunks (shards) touched
  uint64_t missing_chunks = 0;  // of which absent (fill value)
  // Chunks reduced straight from their stored bytes (fused decode-and-reduce).
  uint64_t fused_chunks = 0;
  double seconds = 0;
  std::string io_backend;
  int threads = 0;
  uint64_t io_budget = 0;       // bytes in flight allowed to the IO engine
  // As requested. With kSkip the outputs list the skipped chunks of every variable, also when
  // there are none (MergePartialStats leaves it kFail: there they are listed when there are).
  OnError on_error = OnError::kFail;
};

// Computes the statistics. Errors: kNotFound for unknown variables or dimensions (naming them
// and what exists), kInvalidArgument for bad selections, kNotSupported for dtypes without
// statistics asked for by name, and any chunk's read or decode error naming the variable, the
// chunk and the file (unless on_error is kSkip).
Result<StatsReport> ComputeStats(const StatsRequest& request);

// One JSON object: {"variables": {NAME: {"count": N, "nan_count": N, "min": X, ...}},
// "bytes_read": N, "seconds": X, ...}. min..std are null when count is 0. With --on-error skip
// each variable has "skipped_chunks" (the errors, in chunk order) and "skipped_elements".
void WriteStatsJson(const StatsReport& report, std::ostream& out);
// A human-readable table.
void WriteStatsText(const StatsReport& report, std::ostream& out);
struct StatsOutputOptions {
  // Zarr format of the output (--out-format): 2 or 3.
  int zarr_format = 3;
  // Chunk compression (--out-codec), as format::DatasetWriteOptions::codecs: "none",
  // "zstd[:LEVEL]", "gzip[:LEVEL]", "lz4", "blosc[:CNAME[:CLEVEL[:SHUFFLE]]]", "crc32c", or a
  // comma-separated list of these.
  std::string codecs = "zstd:3";
};

// Writes the per-dimension results as a Zarr group (format::WriteDataset) that xarray,
// zarr-python and TensorStore open with the right dims and coordinates: one variable
// "<name>_<statistic>" per variable and statistic, plus the coordinates as stored, with
// consolidated metadata, at the root of `store`. Published atomically (kvstore::Publication),
// so the output is complete or absent, even if the process is killed. With --on-error skip the
// group's attributes hold "skipped_chunks" and "skipped_elements" (objects by variable name).
// Errors: kInvalidArgument if something exists at the store's root, for a bad format or codec
// list (naming --out-format / --out-codec); IO errors.
Status WriteStatsZarr(const StatsReport& report, kvstore::Store& store,
                      const StatsOutputOptions& options = {});

}  // namespace lsio::ops

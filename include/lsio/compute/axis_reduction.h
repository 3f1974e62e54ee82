#pragma once

// ReductionGrid: statistics over chosen axes, one cell per index of the axes that are kept.
//
// "Mean over time per pixel" of a (time, y, x) array reduces axis 0 into a (y, x) grid: each
// chunk, say (8, 512, 512), updates the 512 x 512 region of the grid that its box covers. The
// grid spans the kept extents of the whole (selected) array, so every chunk lands at an offset
// inside it. Axes may be reduced in any combination: over x of (t, y, x) gives a (t, y) grid,
// over y and x keeping t gives a (t) grid, over nothing gives the array itself.
//
// Per cell the semantics are numpy's NaN-skipping reductions along the reduced axes of the data
// converted to float64 (np.nanmean(a.astype(float64), axis=...), nanstd, nanvar, nanmin,
// nanmax, nansum, and the counts), with the conventions of Stats (stats.h): an all-NaN cell
// has count 0, NaN min/max/mean/variance and sum 0; a cell holding an infinity has NaN
// variance. Unlike StatsAccumulator, everything is float64: int64/uint64 values beyond 2^53 are
// rounded on the way in (as numpy's float64 reductions round them).
//
// The cells are stored as a struct of arrays (count, NaN count, sum, mean as two doubles, M2,
// min, max: 64 bytes per cell). When the innermost axis is kept, a chunk is folded in one
// vector of cells at a time, two-pass over L1-resident strips, merged with Chan's formula; when
// it is reduced, each cell's elements go through the same block kernel as StatsAccumulator.
//
// Thread safety: Consume writes only the cells under the box, so one grid may be shared by
// workers whose boxes land on disjoint cells (or that lock per output tile); otherwise use one
// grid per worker and Merge them.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lsio/base/dtype.h"
#include "lsio/base/mapped_allocator.h"
#include "lsio/base/result.h"
#include "lsio/base/status.h"
#include "lsio/compute/chunk_box.h"
#include "lsio/compute/missing_values.h"

namespace lsio::compute {

enum class CellStatistic : unsigned char {
  kCount,     // non-NaN, non-missing elements
  kNanCount,  // NaN or missing elements
  kMin,
  kMax,
  kSum,
  kMean,
  kVariance,  // with ddof
  kStd,       // with ddof
};

struct ReductionGridOptions {
  MissingValues missing;
  // The statistics Finalize will be asked for; empty: all of them. The grid keeps only the
  // running totals these need (count always; nan_count; min; max; sum and the two-part mean for
  // sum and mean; those and M2 for variance and std), so a mean needs 32 bytes a cell where all
  // statistics need 64. The totals kept are computed exactly as with every statistic asked.
  std::vector<CellStatistic> statistics;
  // Make fails with ResourceExhausted if the cells would take more than this many bytes.
  size_t max_bytes = size_t{8} << 30;
};

class ReductionGrid {
 public:
  // Bytes of accumulators a cell takes with every statistic asked.
  static constexpr uint64_t kBytesPerCell = 8 * sizeof(double);
  // Bytes of accumulators a cell takes for `statistics` (empty: all), as Make keeps them.
  static uint64_t BytesPerCell(std::span<const CellStatistic> statistics);

  // A grid for chunks of `dtype` and `rank`, reducing `reduced_axes` (strictly increasing, each
  // < rank). `grid_shape` holds the extents of the kept axes in axis order
  // (rank - reduced_axes.size() entries, all >= 0). InvalidArgument for malformed axes or
  // shapes, NotSupported for complex dtypes, ResourceExhausted beyond options.max_bytes.
  static Result<ReductionGrid> Make(DataType dtype, size_t rank,
                                    std::span<const size_t> reduced_axes,
                                    std::span<const int64_t> grid_shape,
                                    ReductionGridOptions options = {});

  // Adds the elements of `chunk` inside `box`. The box's first element maps to grid cell
  // `grid_origin` (one coordinate per kept axis) and the box's kept extents must fit in the grid
  // from there. InvalidArgument (nothing added) if the chunk, box or origin do not fit.
  Status Consume(const ChunkView& chunk, const Box& box, std::span<const int64_t> grid_origin);

  // Adds everything `other` has seen, cell by cell. InvalidArgument unless both grids were made
  // with the same dtype, rank, axes, shape and missing values.
  Status Merge(const ReductionGrid& other);

  // Writes `statistic` for every cell, C order over grid_shape(); `out` must have cell_count()
  // entries. `ddof` applies to kVariance and kStd (NaN where count <= ddof). InvalidArgument
  // for a statistic the grid was not made for (ReductionGridOptions::statistics).
  Status Finalize(CellStatistic statistic, std::span<double> out, int ddof = 0) const;

  // The complete state as bytes (lsio.dask partial results), and back; kCorruptData for bytes
  // that are not a serialized grid.
  std::string Serialize() const;
  static Result<ReductionGrid> Deserialize(std::string_view bytes);

  // Memory one cell takes (as made: BytesPerCell of its statistics).
  size_t bytes_per_cell() const;

  DataType dtype() const { return dtype_; }
  std::span<const int64_t> grid_shape() const { return grid_shape_; }
  std::span<const size_t> reduced_axes() const { return reduced_axes_; }
  int64_t cell_count() const { return cells_; }

 private:
  ReductionGrid() = default;

  // The cell arrays, in this order, each cells_ long, of the fields kept (fields_, a bit per
  // Field); see internal::GridCells.
  enum Field { kCountField, kNanCountField, kSumField, kMeanHiField, kMeanLoField, kM2Field,
               kMinField, kMaxField, kNumFields };
  static_assert(kNumFields * sizeof(double) == kBytesPerCell);
  static uint32_t FieldsFor(std::span<const CellStatistic> statistics);
  bool has(Field f) const { return (fields_ >> f) & 1u; }
  // The field's array (null when not kept).
  double* field(Field f) { return has(f) ? state_.data() + slot_[f] * cells_ : nullptr; }
  const double* field(Field f) const {
    return has(f) ? state_.data() + slot_[f] * cells_ : nullptr;
  }
  // Each field's cells from `offset` on, the fields not kept pointing at `spare` (scratch as
  // long as the run of cells the caller updates, whose contents mean nothing).
  void FieldsAt(int64_t offset, double* spare, size_t spare_cells, double* out[kNumFields]);
  static Result<ReductionGrid> MakeWithFields(DataType dtype, size_t rank,
                                              std::span<const size_t> reduced_axes,
                                              std::span<const int64_t> grid_shape,
                                              const ReductionGridOptions& options,
                                              uint32_t fields);

  Status CheckPlacement(const ChunkView& chunk, const Box& box,
                        std::span<const int64_t> grid_origin) const;
  void ConsumeKeptInner(const ChunkView& chunk, const Box& box,
                        std::span<const int64_t> grid_origin);
  void ConsumeReducedInner(const ChunkView& chunk, const Box& box,
                           std::span<const int64_t> grid_origin);

  DataType dtype_ = DataType::kFloat64;
  size_t rank_ = 0;
  std::vector<size_t> reduced_axes_;
  std::vector<size_t> kept_axes_;     // chunk axis of each grid axis
  std::vector<int64_t> grid_shape_;
  std::vector<int64_t> grid_strides_;  // C-order strides of the grid, in cells
  int64_t cells_ = 0;
  MissingValues missing_;
  internal::ResolvedMissing resolved_;
  uint32_t fields_ = (1u << kNumFields) - 1;
  int64_t slot_[kNumFields] = {};  // position of each kept field's array in state_
  MappedVector<double> state_;  // the kept fields' arrays of cells_, in Field order
};

}  // namespace lsio::compute

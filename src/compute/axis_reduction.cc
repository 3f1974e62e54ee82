#include "lsio/compute/axis_reduction.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>

#include "src/compute/kernels.h"
#include "src/compute/runs.h"
#include "src/compute/to_double.h"
#include "src/compute/wire.h"

namespace lsio::compute {

namespace {

using internal::Run;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// The float64 tiles rows are converted into: at most kTileWidth cells wide, kTileBytes in all
// (half of a 32 KiB L1), rows kTilePad values apart beyond the tile width.
constexpr size_t kTileWidth = 256;
constexpr size_t kTileBytes = 16384;
constexpr size_t kTilePad = 8;

bool IsDirectFloat(DataType t) { return t == DataType::kFloat32 || t == DataType::kFloat64; }

internal::GridCells ToCells(double* const f[internal::kGridFields]) {
  return internal::GridCells{f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]};
}

// Scratch for the fields a grid does not keep: `cells` doubles per field, per thread, zeroed
// when first grown (the kernels' writes there are never read back as results).
double* Spare(size_t cells) {
  thread_local std::vector<double> spare;
  const size_t need = cells * internal::kGridFields;
  if (spare.size() < need) spare.assign(need, 0.0);
  return spare.data();
}

}  // namespace

uint32_t ReductionGrid::FieldsFor(std::span<const CellStatistic> statistics) {
  if (statistics.empty()) return (1u << kNumFields) - 1;
  uint32_t f = 1u << kCountField;
  const uint32_t mean = (1u << kSumField) | (1u << kMeanHiField) | (1u << kMeanLoField);
  for (CellStatistic s : statistics) {
    switch (s) {
      case CellStatistic::kCount:
        break;
      case CellStatistic::kNanCount:
        f |= 1u << kNanCountField;
        break;
      case CellStatistic::kMin:
        f |= 1u << kMinField;
        break;
      case CellStatistic::kMax:
        f |= 1u << kMaxField;
        break;
      case CellStatistic::kSum:
      case CellStatistic::kMean:
        f |= mean;
        break;
      case CellStatistic::kVariance:
      case CellStatistic::kStd:
        f |= mean | (1u << kM2Field);
        break;
    }
  }
  return f;
}

uint64_t ReductionGrid::BytesPerCell(std::span<const CellStatistic> statistics) {
  return static_cast<uint64_t>(std::popcount(FieldsFor(statistics))) * sizeof(double);
}

void ReductionGrid::FieldsAt(int64_t offset, double* spare, size_t spare_cells,
                             double* out[kNumFields]) {
  for (int f = 0; f < kNumFields; ++f) {
    out[f] = has(static_cast<Field>(f)) ? state_.data() + slot_[f] * cells_ + offset
                                        : spare + static_cast<size_t>(f) * spare_cells;
  }
}

Result<ReductionGrid> ReductionGrid::Make(DataType dtype, size_t rank,
                                          std::span<const size_t> reduced_axes,
                                          std::span<const int64_t> grid_shape,
                                          ReductionGridOptions options) {
  return MakeWithFields(dtype, rank, reduced_axes, grid_shape, options,
                        FieldsFor(options.statistics));
}

Result<ReductionGrid> ReductionGrid::MakeWithFields(DataType dtype, size_t rank,
                                                    std::span<const size_t> reduced_axes,
                                                    std::span<const int64_t> grid_shape,
                                                    const ReductionGridOptions& options,
                                                    uint32_t fields) {
  const int num_fields = std::popcount(fields);
  if (!IsRealNumeric(dtype)) {
    return NotSupportedError("axis reductions of " + std::string(DataTypeName(dtype)) +
                             " data are not supported");
  }
  if (rank > kMaxRank) {
    return InvalidArgumentError("rank " + std::to_string(rank) + " exceeds the supported rank " +
                                std::to_string(kMaxRank));
  }
  for (size_t i = 0; i < reduced_axes.size(); ++i) {
    if (reduced_axes[i] >= rank || (i > 0 && reduced_axes[i] <= reduced_axes[i - 1])) {
      return InvalidArgumentError("reduced axes must be strictly increasing and below rank " +
                                  std::to_string(rank) + "; axis " +
                                  std::to_string(reduced_axes[i]) + " is not");
    }
  }
  if (grid_shape.size() != rank - reduced_axes.size()) {
    return InvalidArgumentError("grid shape has " + std::to_string(grid_shape.size()) +
                                " axes; reducing " + std::to_string(reduced_axes.size()) +
                                " of " + std::to_string(rank) + " axes keeps " +
                                std::to_string(rank - reduced_axes.size()));
  }
  const int64_t cells = ElementCount(grid_shape);
  if (cells < 0 ||
      static_cast<uint64_t>(cells) > options.max_bytes / (num_fields * sizeof(double))) {
    return ResourceExhaustedError("a reduction grid of " +
                                  (cells < 0 ? std::string("overflowing") : std::to_string(cells)) +
                                  " cells exceeds the limit of " +
                                  std::to_string(options.max_bytes) + " bytes");
  }
  ReductionGrid g;
  g.dtype_ = dtype;
  g.rank_ = rank;
  g.reduced_axes_.assign(reduced_axes.begin(), reduced_axes.end());
  for (size_t a = 0; a < rank; ++a) {
    if (!std::binary_search(reduced_axes.begin(), reduced_axes.end(), a)) {
      g.kept_axes_.push_back(a);
    }
  }
  g.grid_shape_.assign(grid_shape.begin(), grid_shape.end());
  g.grid_strides_.assign(grid_shape.size(), 1);
  // With a zero extent the product of the later extents can overflow int64; such a grid has no
  // cell to address, so its strides stay 1.
  if (cells > 0) {
    for (size_t j = grid_shape.size(); j-- > 1;) {
      g.grid_strides_[j - 1] = g.grid_strides_[j] * grid_shape[j];
    }
  }
  g.cells_ = cells;
  g.missing_ = options.missing;
  g.resolved_ = internal::ResolveMissing(options.missing, dtype);
  g.fields_ = fields;
  int64_t slot = 0;
  for (int f = 0; f < kNumFields; ++f) {
    if (g.has(static_cast<Field>(f))) g.slot_[f] = slot++;
  }
  g.state_.assign(static_cast<size_t>(cells) * static_cast<size_t>(num_fields), 0.0);
  if (g.has(kMinField)) std::fill_n(g.field(kMinField), cells, kInf);
  if (g.has(kMaxField)) std::fill_n(g.field(kMaxField), cells, -kInf);
  return g;
}

Status ReductionGrid::CheckPlacement(const ChunkView& chunk, const Box& box,
                                     std::span<const int64_t> grid_origin) const {
  if (chunk.dtype != dtype_) {
    return InvalidArgumentError("chunk of dtype " + std::string(DataTypeName(chunk.dtype)) +
                                " fed to a reduction grid of " +
                                std::string(DataTypeName(dtype_)));
  }
  if (chunk.shape.size() != rank_) {
    return InvalidArgumentError("chunk of rank " + std::to_string(chunk.shape.size()) +
                                " fed to a reduction grid for rank " + std::to_string(rank_));
  }
  LSIO_RETURN_IF_ERROR(ValidateChunkBox(chunk, box));
  if (grid_origin.size() != kept_axes_.size()) {
    return InvalidArgumentError("grid origin has " + std::to_string(grid_origin.size()) +
                                " coordinates for a grid of rank " +
                                std::to_string(kept_axes_.size()));
  }
  for (size_t j = 0; j < kept_axes_.size(); ++j) {
    const size_t a = kept_axes_[j];
    const int64_t extent = box.stop[a] - box.start[a];
    if (grid_origin[j] < 0 || grid_origin[j] > grid_shape_[j] - extent) {
      return InvalidArgumentError("box extent " + std::to_string(extent) + " on axis " +
                                  std::to_string(a) + " placed at grid coordinate " +
                                  std::to_string(grid_origin[j]) +
                                  " overruns the grid extent " + std::to_string(grid_shape_[j]));
    }
  }
  return Status::OK();
}

Status ReductionGrid::Consume(const ChunkView& chunk, const Box& box,
                              std::span<const int64_t> grid_origin) {
  LSIO_RETURN_IF_ERROR(CheckPlacement(chunk, box, grid_origin));
  for (size_t a = 0; a < rank_; ++a) {
    if (box.start[a] == box.stop[a]) return Status::OK();
  }
  if (rank_ == 0 || (!kept_axes_.empty() && kept_axes_.back() == rank_ - 1)) {
    ConsumeKeptInner(chunk, box, grid_origin);
  } else {
    ConsumeReducedInner(chunk, box, grid_origin);
  }
  return Status::OK();
}

// The innermost axis is kept: every combination of the other kept axes is one row of cells,
// fed by one input row per combination of the reduced axes, in batches of kMaxGridRows.
void ReductionGrid::ConsumeKeptInner(const ChunkView& chunk, const Box& box,
                                     std::span<const int64_t> grid_origin) {
  const size_t width = ByteWidth(dtype_);
  int64_t stride[kMaxRank];
  if (rank_ > 0) stride[rank_ - 1] = 1;
  for (size_t a = rank_; a-- > 1;) stride[a - 1] = stride[a] * chunk.shape[a];
  const size_t inner = rank_ == 0 ? 0 : rank_ - 1;
  const size_t row_width =
      rank_ == 0 ? 1 : static_cast<size_t>(box.stop[inner] - box.start[inner]);
  const size_t outer_kept = kept_axes_.empty() ? 0 : kept_axes_.size() - 1;
  // float32/float64 rows without missing values go to the kernel as they are, at most
  // kDirectGridRows at a time (see kernels.h: more rows a power of two bytes apart would evict
  // each other from L1 between the kernel's two passes). Other rows are converted tile by tile
  // into float64 in a scratch small enough for L1, whose rows are padded apart so that they do
  // not share cache sets, and fed up to kMaxGridRows at a time.
  thread_local std::vector<double> scratch(internal::kMaxGridRows * (kTileWidth + kTilePad));
  const std::byte* rows[internal::kMaxGridRows];
  const double* tile_rows[internal::kMaxGridRows];
  const bool plain = resolved_.count == 0;
  const bool direct = plain && IsDirectFloat(dtype_);
  const size_t batch = direct ? internal::kDirectGridRows : internal::kMaxGridRows;
  const size_t spare_cells = std::max<size_t>(row_width, 1);
  double* const spare = Spare(spare_cells);
  double* f[kNumFields];

  auto flush = [&](size_t num_rows, int64_t cell_base) {
    if (num_rows == 0) return;
    if (direct) {
      FieldsAt(cell_base, spare, spare_cells, f);
      const internal::GridCells cells = ToCells(f);
      if (dtype_ == DataType::kFloat32) {
        internal::GridRowsFloat32(reinterpret_cast<const float* const*>(rows), num_rows,
                                  row_width, cells);
      } else {
        internal::GridRowsFloat64(reinterpret_cast<const double* const*>(rows), num_rows,
                                  row_width, cells);
      }
      return;
    }
    // Tiles of at most kTileBytes of float64, at least 16 cells wide.
    const size_t tile =
        std::clamp<size_t>(kTileBytes / (8 * num_rows) / 16 * 16, 16, kTileWidth);
    const size_t pitch = tile + kTilePad;
    for (size_t x0 = 0; x0 < row_width; x0 += tile) {
      const size_t w = std::min(tile, row_width - x0);
      // Every row is its own stream through memory, more streams than the hardware prefetchers
      // follow: ask for each row's next tile while this one is converted and reduced.
      if (x0 + tile < row_width) {
        const size_t next_bytes = std::min(tile, row_width - x0 - tile) * width;
        for (size_t r = 0; r < num_rows; ++r) {
          const std::byte* next = rows[r] + (x0 + tile) * width;
          for (size_t b = 0; b < next_bytes; b += 64) __builtin_prefetch(next + b);
        }
      }
      for (size_t r = 0; r < num_rows; ++r) {
        const std::byte* src = rows[r] + x0 * width;
        double* t = scratch.data() + r * pitch;
        if (plain && dtype_ == DataType::kInt32) {
          internal::ConvertInt32ToFloat64(reinterpret_cast<const int32_t*>(src), w, t);
        } else if (plain && dtype_ == DataType::kUInt32) {
          internal::ConvertUInt32ToFloat64(reinterpret_cast<const uint32_t*>(src), w, t);
        } else {
          internal::ToDouble(dtype_, src, w, resolved_, t);
        }
        tile_rows[r] = t;
      }
      FieldsAt(cell_base + static_cast<int64_t>(x0), spare, spare_cells, f);
      const internal::GridCells cells = ToCells(f);
      internal::GridRowsFloat64(tile_rows, num_rows, w, cells);
    }
  };

  // Odometer over the outer kept axes.
  int64_t kidx[kMaxRank];
  for (size_t j = 0; j < outer_kept; ++j) kidx[j] = box.start[kept_axes_[j]];
  int64_t ridx[kMaxRank];
  while (true) {
    int64_t cell_base = kept_axes_.empty() ? 0 : grid_origin[kept_axes_.size() - 1];
    int64_t elem_base = rank_ == 0 ? 0 : box.start[inner];
    for (size_t j = 0; j < outer_kept; ++j) {
      const size_t a = kept_axes_[j];
      cell_base += (grid_origin[j] + kidx[j] - box.start[a]) * grid_strides_[j];
      elem_base += kidx[j] * stride[a];
    }
    // Odometer over the reduced axes, gathering input rows.
    for (size_t i = 0; i < reduced_axes_.size(); ++i) ridx[i] = box.start[reduced_axes_[i]];
    size_t num_rows = 0;
    while (true) {
      int64_t elem = elem_base;
      for (size_t i = 0; i < reduced_axes_.size(); ++i) elem += ridx[i] * stride[reduced_axes_[i]];
      rows[num_rows++] = chunk.bytes.data() + static_cast<size_t>(elem) * width;
      if (num_rows == batch) {
        flush(num_rows, cell_base);
        num_rows = 0;
      }
      size_t i = reduced_axes_.size();
      bool done = true;
      while (i > 0) {
        --i;
        const size_t a = reduced_axes_[i];
        if (++ridx[i] < box.stop[a]) {
          done = false;
          break;
        }
        ridx[i] = box.start[a];
      }
      if (done) break;
    }
    flush(num_rows, cell_base);

    size_t j = outer_kept;
    bool done = true;
    while (j > 0) {
      --j;
      const size_t a = kept_axes_[j];
      if (++kidx[j] < box.stop[a]) {
        done = false;
        break;
      }
      kidx[j] = box.start[a];
    }
    if (done) return;
  }
}

// The innermost axis is reduced: the elements of each cell form a sub-box whose runs go through
// the block kernels, and the block moments are merged into the cell.
void ReductionGrid::ConsumeReducedInner(const ChunkView& chunk, const Box& box,
                                        std::span<const int64_t> grid_origin) {
  const size_t width = ByteWidth(dtype_);
  int64_t sub_start[kMaxRank], sub_stop[kMaxRank];
  std::copy(box.start.begin(), box.start.end(), sub_start);
  std::copy(box.stop.begin(), box.stop.end(), sub_stop);
  const Box sub{std::span<const int64_t>(sub_start, rank_),
                std::span<const int64_t>(sub_stop, rank_)};
  for (size_t a : kept_axes_) sub_stop[a] = sub_start[a] + 1;

  int64_t cell = 0;
  auto sink = [&](std::span<const Run> runs) {
    size_t visited = 0;
    for (const Run& r : runs) visited += r.length;
    internal::FloatMoments m;
    if (dtype_ == DataType::kFloat32) {
      m = internal::MomentsFloat32(runs, resolved_);
    } else if (dtype_ == DataType::kFloat64) {
      m = internal::MomentsFloat64(runs, resolved_);
    } else {
      alignas(64) double scratch[internal::kBlockBytes / 8];
      size_t n = 0;
      for (const Run& r : runs) {
        internal::ToDouble(dtype_, r.data, r.length, resolved_, scratch + n);
        n += r.length;
      }
      const Run run{reinterpret_cast<const std::byte*>(scratch), n};
      m = internal::MomentsFloat64({&run, 1}, internal::ResolvedMissing{});
    }
    double* f[kNumFields];
    FieldsAt(cell, Spare(1), 1, f);
    const internal::GridCells cells = ToCells(f);
    const size_t i = 0;
    cells.nan_count[i] += static_cast<double>(visited - m.count);
    if (m.count == 0) return;
    const double n = static_cast<double>(m.count);
    internal::MergeIntoCell(cells, i, n, m.sum, m.mean, m.dev_sum / n, std::max(m.m2(), 0.0));
    cells.min[i] = std::min(cells.min[i], m.min);
    cells.max[i] = std::max(cells.max[i], m.max);
  };
  const size_t block = IsDirectFloat(dtype_) ? internal::kBlockBytes / width
                                             : internal::kBlockBytes / 8;
  while (true) {
    cell = 0;
    for (size_t j = 0; j < kept_axes_.size(); ++j) {
      const size_t a = kept_axes_[j];
      cell += (grid_origin[j] + sub_start[a] - box.start[a]) * grid_strides_[j];
    }
    internal::BlockBuilder builder(width, block, sink);
    internal::ForEachRun(chunk, sub, [&](const std::byte* data, size_t length) {
      builder.Add(data, length);
    });
    builder.Flush();

    size_t j = kept_axes_.size();
    bool done = true;
    while (j > 0) {
      --j;
      const size_t a = kept_axes_[j];
      if (++sub_start[a] < box.stop[a]) {
        sub_stop[a] = sub_start[a] + 1;
        done = false;
        break;
      }
      sub_start[a] = box.start[a];
      sub_stop[a] = sub_start[a] + 1;
    }
    if (done) return;
  }
}

Status ReductionGrid::Merge(const ReductionGrid& other) {
  if (other.dtype_ != dtype_ || other.rank_ != rank_ || other.reduced_axes_ != reduced_axes_ ||
      other.grid_shape_ != grid_shape_ || other.fields_ != fields_ ||
      !internal::SameMissingValues(missing_, other.missing_)) {
    return InvalidArgumentError(
        "cannot merge reduction grids of different dtype, rank, axes, shape, statistics or "
        "missing values");
  }
  ReductionGrid& them = const_cast<ReductionGrid&>(other);  // read only: FieldsAt is not const
  double* const spare = Spare(2);
  for (int64_t k = 0; k < cells_; ++k) {
    double* a[kNumFields];
    double* b[kNumFields];
    FieldsAt(k, spare, 1, a);
    them.FieldsAt(k, spare + kNumFields, 1, b);
    const internal::GridCells mine = ToCells(a);
    const internal::GridCells theirs = ToCells(b);
    const size_t i = 0;
    mine.nan_count[i] += theirs.nan_count[i];
    internal::MergeIntoCell(mine, i, theirs.count[i], theirs.sum[i], theirs.mean_hi[i],
                            theirs.mean_lo[i], theirs.m2[i]);
    mine.min[i] = std::min(mine.min[i], theirs.min[i]);
    mine.max[i] = std::max(mine.max[i], theirs.max[i]);
  }
  return Status::OK();
}

Status ReductionGrid::Finalize(CellStatistic statistic, std::span<double> out, int ddof) const {
  if (out.size() != static_cast<size_t>(cells_)) {
    return InvalidArgumentError("output of " + std::to_string(out.size()) +
                                " values for a grid of " + std::to_string(cells_) + " cells");
  }
  const uint32_t need = FieldsFor({&statistic, 1});
  if ((need & fields_) != need) {
    return InvalidArgumentError("this reduction grid was not made to give the statistic asked "
                                "for (ReductionGridOptions::statistics)");
  }
  const double* n = field(kCountField);
  const double* s = field(kSumField);
  const double* hi = field(kMeanHiField);
  const double* lo = field(kMeanLoField);
  const double* m2 = field(kM2Field);
  const double* nan_count = field(kNanCountField);
  const double* mn = field(kMinField);
  const double* mx = field(kMaxField);
  for (int64_t i = 0; i < cells_; ++i) {
    // With an infinity among the values the plain sum says what numpy's sum and mean are (inf,
    // -inf or NaN) and the variance is NaN; otherwise the two-part mean is the precise one.
    double v = 0;
    switch (statistic) {
      case CellStatistic::kCount:
        v = n[i];
        break;
      case CellStatistic::kNanCount:
        v = nan_count[i];
        break;
      case CellStatistic::kMin:
        v = n[i] > 0 ? mn[i] : kNaN;
        break;
      case CellStatistic::kMax:
        v = n[i] > 0 ? mx[i] : kNaN;
        break;
      case CellStatistic::kSum:
        v = n[i] > 0 && std::isfinite(s[i]) ? (hi[i] + lo[i]) * n[i] : s[i];
        break;
      case CellStatistic::kMean:
        v = n[i] > 0 ? (std::isfinite(s[i]) ? hi[i] + lo[i] : s[i] / n[i]) : kNaN;
        break;
      case CellStatistic::kVariance:
      case CellStatistic::kStd: {
        const double dof = n[i] - ddof;
        v = dof > 0 && std::isfinite(s[i]) ? std::max(m2[i], 0.0) / dof : kNaN;
        if (statistic == CellStatistic::kStd) v = std::sqrt(v);
        break;
      }
    }
    out[static_cast<size_t>(i)] = v;
  }
  return Status::OK();
}

}  // namespace lsio::compute

namespace lsio::compute {

namespace {
constexpr uint32_t kGridMagic = 0x47524432;  // "GRD2": with the kept fields
}  // namespace

size_t ReductionGrid::bytes_per_cell() const {
  return static_cast<size_t>(std::popcount(fields_)) * sizeof(double);
}

std::string ReductionGrid::Serialize() const {
  internal::WireWriter w;
  w.Put(kGridMagic);
  w.Put(static_cast<uint8_t>(dtype_));
  w.Put(static_cast<uint64_t>(rank_));
  w.Put(static_cast<uint64_t>(reduced_axes_.size()));
  for (size_t a : reduced_axes_) w.Put(static_cast<uint64_t>(a));
  for (int64_t s : grid_shape_) w.Put(s);
  w.PutMissing(missing_);
  w.Put(fields_);
  w.PutBytes(state_.data(), state_.size() * sizeof(double));
  return w.Take();
}

Result<ReductionGrid> ReductionGrid::Deserialize(std::string_view bytes) {
  internal::WireReader r(bytes, "serialized reduction grid");
  uint32_t magic = 0;
  LSIO_RETURN_IF_ERROR(r.Get(&magic));
  if (magic != kGridMagic) return CorruptDataError("not a serialized reduction grid");
  uint8_t dtype = 0;
  uint64_t rank = 0, n_reduced = 0;
  LSIO_RETURN_IF_ERROR(r.Get(&dtype));
  LSIO_RETURN_IF_ERROR(r.Get(&rank));
  LSIO_RETURN_IF_ERROR(r.Get(&n_reduced));
  if (dtype > static_cast<uint8_t>(DataType::kComplex128) || rank > kMaxRank ||
      n_reduced > rank) {
    return CorruptDataError("serialized reduction grid: bad header");
  }
  std::vector<size_t> reduced(n_reduced);
  for (size_t& a : reduced) {
    uint64_t v = 0;
    LSIO_RETURN_IF_ERROR(r.Get(&v));
    a = static_cast<size_t>(v);
  }
  std::vector<int64_t> shape(rank - n_reduced);
  for (int64_t& s : shape) LSIO_RETURN_IF_ERROR(r.Get(&s));
  ReductionGridOptions options;
  LSIO_RETURN_IF_ERROR(r.GetMissing(&options.missing));
  uint32_t fields = 0;
  LSIO_RETURN_IF_ERROR(r.Get(&fields));
  if (fields >= (1u << kNumFields) || !(fields & (1u << kCountField))) {
    return CorruptDataError("serialized reduction grid: bad field set");
  }
  // The cells' state must be there before the grid is allocated: a few bytes of header must
  // not make Make allocate gigabytes.
  const int64_t cells = ElementCount(shape);
  const size_t cell_bytes = static_cast<size_t>(std::popcount(fields)) * sizeof(double);
  if (cells < 0 || r.remaining() % cell_bytes != 0 ||
      r.remaining() / cell_bytes != static_cast<uint64_t>(cells)) {
    return CorruptDataError("serialized reduction grid: state size does not match its shape");
  }
  LSIO_ASSIGN_OR_RETURN(ReductionGrid g, MakeWithFields(static_cast<DataType>(dtype), rank,
                                                        reduced, shape, options, fields));
  if (r.remaining() != g.state_.size() * sizeof(double)) {
    return CorruptDataError("serialized reduction grid: state size does not match its shape");
  }
  LSIO_RETURN_IF_ERROR(r.GetBytes(g.state_.data(), g.state_.size() * sizeof(double)));
  return g;
}

}  // namespace lsio::compute

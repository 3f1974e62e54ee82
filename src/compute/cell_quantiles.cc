#include "lsio/compute/cell_quantiles.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "lsio/compute/cpu_pool.h"
#include "lsio/compute/quantile.h"

namespace lsio::compute {

Result<CellValues> CellValues::Make(int64_t cells, int64_t values_per_cell, uint64_t max_bytes) {
  if (cells < 0 || values_per_cell < 0) {
    return InvalidArgumentError("per-cell quantiles: negative cell or value count");
  }
  // Overflow-safe: cells x values_per_cell x 8 compared against max_bytes.
  const uint64_t c = static_cast<uint64_t>(cells);
  const uint64_t v = static_cast<uint64_t>(values_per_cell);
  if (v != 0 && c > max_bytes / 8 / v) {
    return ResourceExhaustedError("per-cell quantiles: " + std::to_string(cells) + " cells of " +
                                  std::to_string(values_per_cell) + " values need more than " +
                                  std::to_string(max_bytes) + " bytes");
  }
  CellValues out;
  out.cells_ = cells;
  out.values_per_cell_ = values_per_cell;
  out.slots_.assign(static_cast<size_t>(c * v), std::numeric_limits<double>::quiet_NaN());
  return out;
}

namespace {

// Quantiles `qs` (visited in `order`: ascending q) of cells [c0, c1) of `slots`.
void FinalizeCells(DataType dtype, std::span<const double> qs, std::span<const size_t> order,
                   double* slots, size_t per, size_t cells, size_t c0, size_t c1,
                   std::span<double> out) {
  for (size_t c = c0; c < c1; ++c) {
    double* first = slots + c * per;
    double* valid_end = std::partition(first, first + per, [](double x) { return !std::isnan(x); });
    const size_t n = static_cast<size_t>(valid_end - first);
    // Everything before `lo` is <= first[lo] and everything from it on is >= it: the next
    // (larger) order statistic lies in [lo, n).
    size_t lo = 0;
    for (size_t i : order) {
      double& result = out[i * cells + c];
      if (n == 0) {
        result = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      // numpy's virtual index for "linear": (n - 1) q, its floor and the next index, clipped
      // to the valid range; gamma = v - previous (with numpy's value above the top, which the
      // interpolation between equal neighbours ignores).
      const double v = static_cast<double>(n - 1) * qs[i];
      size_t previous, next;
      double gamma;
      if (v >= static_cast<double>(n - 1)) {
        previous = next = n - 1;
        gamma = v + 1.0;
      } else if (v < 0) {
        previous = next = 0;
        gamma = v - std::floor(v);
      } else {
        previous = static_cast<size_t>(std::floor(v));
        next = previous + 1;
        gamma = v - std::floor(v);
      }
      std::nth_element(first + lo, first + previous, valid_end);
      lo = previous;
      const double a = first[previous];
      // After nth_element every value past `previous` is >= a; the next order statistic is
      // their minimum.
      const double b = next == previous ? a : *std::min_element(first + previous + 1, valid_end);
      result = NumpyLerp(dtype, a, b, gamma);
    }
  }
}

}  // namespace

Status CellValues::Finalize(DataType dtype, std::span<const double> qs, std::span<double> out,
                            CpuPool* pool, int tasks) {
  if (out.size() != qs.size() * static_cast<size_t>(cells_)) {
    return InvalidArgumentError("per-cell quantiles: output of " + std::to_string(out.size()) +
                                " values for " + std::to_string(qs.size()) + " quantiles of " +
                                std::to_string(cells_) + " cells");
  }
  std::vector<size_t> order(qs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return qs[a] < qs[b]; });
  const size_t per = static_cast<size_t>(values_per_cell_);
  const size_t cells = static_cast<size_t>(cells_);
  const size_t parts = pool == nullptr ? 1 : static_cast<size_t>(std::clamp(tasks, 1, 256));
  if (parts == 1 || cells < 2 * parts) {
    FinalizeCells(dtype, qs, order, slots_.data(), per, cells, 0, cells, out);
    return Status::OK();
  }
  // Contiguous runs of cells, a few per task so that uneven cells (NaNs) balance out.
  const size_t runs = parts * 4;
  for (size_t r = 0; r < runs; ++r) {
    const size_t c0 = cells * r / runs, c1 = cells * (r + 1) / runs;
    pool->Submit([=, this, &order] {
      FinalizeCells(dtype, qs, order, slots_.data(), per, cells, c0, c1, out);
    });
  }
  return pool->Wait();
}

}  // namespace lsio::compute

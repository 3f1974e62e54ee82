#pragma once

// Exact per-cell quantiles: every value of every output cell held in a slot of its own, then
// selected per cell, equal to numpy.nanquantile(x, qs, axis=<reduced axes>, method="linear").
//
// The values are float64 slots, `values_per_cell` per cell, cells in C order (cell c's values
// are slots [c * values_per_cell, (c + 1) * values_per_cell)). A slot never written stays NaN,
// which counts as missing, as do NaNs written. Writers fill disjoint slots, so several threads
// may write at once without locks; Finalize runs after every writer is done.
//
// Memory: cells x values_per_cell x 8 bytes, allocated by Make.

#include <cstdint>
#include <span>
#include <vector>

#include "lsio/base/dtype.h"
#include "lsio/base/mapped_allocator.h"
#include "lsio/base/result.h"

namespace lsio::compute {

class CpuPool;

class CellValues {
 public:
  // kResourceExhausted when the slots would take more than `max_bytes`, kInvalidArgument for
  // negative sizes.
  static Result<CellValues> Make(int64_t cells, int64_t values_per_cell, uint64_t max_bytes);

  // Bytes of slots for `cells` x `values_per_cell` values.
  static uint64_t BytesFor(int64_t cells, int64_t values_per_cell) {
    return static_cast<uint64_t>(cells) * static_cast<uint64_t>(values_per_cell) * 8;
  }

  int64_t cells() const { return cells_; }
  int64_t values_per_cell() const { return values_per_cell_; }
  uint64_t bytes() const { return slots_.size() * sizeof(double); }
  std::span<double> slots() { return slots_; }

  // The quantiles `qs` (each in [0, 1]) of every cell's valid values, written to
  // `out[i * cells() + c]` for quantile i and cell c; NaN for a cell with no valid value.
  // Interpolation follows numpy's _lerp with b - a computed in `dtype` (the values' type as
  // numpy holds them: float32 differences round to float32, integer ones wrap). Reorders each
  // cell's slots. kInvalidArgument when `out` has the wrong size. With a `pool`, the cells are
  // shared among `tasks` x 4 tasks on it (the call waits for them, so it must not run on one
  // of the pool's threads); Cancelled when the pool is cancelled meanwhile.
  Status Finalize(DataType dtype, std::span<const double> qs, std::span<double> out,
                  CpuPool* pool = nullptr, int tasks = 1);

 private:
  CellValues() = default;
  int64_t cells_ = 0;
  int64_t values_per_cell_ = 0;
  MappedVector<double> slots_;
};

}  // namespace lsio::compute

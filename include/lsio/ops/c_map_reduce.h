#pragma once

// MapReduce with C functions (issue 17): a per-block function and a combine step given as plain
// C function pointers with a fixed signature, so that code compiled anywhere (a numba
// `@cfunc`, a ctypes/cffi-loaded shared library, a C++ function) runs on lsio's CPU workers
// with no interpreter lock and no per-call allocation beyond one fixed-size result per chunk.
//
// The C ABI (the signatures below are the whole contract; stable across lsio versions):
//
//   int32_t map(const void* data, const int64_t* shape, const int64_t* origin, int32_t ndim,
//               int32_t dtype, void* result);
//
//     Called once per block, concurrently from up to `threads` workers. `data` holds the
//     block's values: prod(shape) elements, C order, contiguous, of the array's storage type in
//     native byte order (no CF masking or scaling; a missing chunk is the fill value; datetime64
//     and timedelta64 as int64). `shape[0..ndim)` is the block's shape over the selection's
//     dimensions (dimensions selected by a scalar are not counted); `origin[0..ndim)` is the
//     position of the block's first element in the selection (so element i of the selection
//     along d is origin[d] + i). `dtype` is numpy's type number of the values
//     (numpy.dtype(...).num on Linux: 0 bool, 1 int8, 2 uint8, 3 int16, 4 uint16, 5 int32,
//     6 uint32, 7 int64, 8 uint64, 23 float16, 11 float32, 12 float64, 14 complex64,
//     15 complex128). `result` points to `result_bytes` bytes, zeroed, 16-byte aligned, for
//     this block's result. `data`, `shape` and `origin` are valid only during the call.
//     Returns 0 on success; any other value stops the run with an error naming the array, the
//     block and the value.
//
//   int32_t combine(void* earlier, const void* later);
//
//     Merges the result `later` (of later chunks) into `earlier` (of earlier chunks), in place.
//     Must be associative; need not be commutative: results are combined as a balanced tree
//     over the chunks in chunk order, so the answer does not depend on the thread count or on
//     the order blocks finish in. Called one call at a time. Returns 0 on success; any other
//     value stops the run with an error naming the value.
//
// Both functions must be thread-safe for these calls and must not call back into lsio.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "lsio/array/selection.h"
#include "lsio/array/source.h"
#include "lsio/base/dtype.h"
#include "lsio/base/result.h"
#include "lsio/ops/map_reduce.h"
#include "lsio/runtime/context.h"

extern "C" {
typedef int32_t (*lsio_block_map_fn)(const void* data, const int64_t* shape,
                                     const int64_t* origin, int32_t ndim, int32_t dtype,
                                     void* result);
typedef int32_t (*lsio_combine_fn)(void* earlier, const void* later);
}

namespace lsio::ops {

struct CMapReduceFunctions {
  lsio_block_map_fn map = nullptr;
  lsio_combine_fn combine = nullptr;
  // Size of one result, 1 .. 1 MiB.
  size_t result_bytes = 0;
};

// numpy's type number (numpy.dtype(...).num on Linux) of a storage type.
int32_t NumpyTypeNumber(DataType type);

// The combination of `fns.map`'s results over every block of `ranges` of `array` (one DimRange
// per dimension, Dataset::ResolveSelection), as `fns.result_bytes` bytes; nullopt when the
// selection is empty. Runs as MapReduce<T> does (map_reduce.h: memory, order, cancellation);
// `options.owned_blocks` is ignored (blocks that are whole chunks are handed over without a
// copy). Errors: kInvalidArgument for null functions or a bad result size; kInvalidArgument
// "variable 'v': chunk 3 (time 0:3, ...): the C map function returned 5" when `map` returns
// non-zero ("... the C combine function returned 5" for `combine`); ForEachBlock's.
Result<std::optional<std::vector<std::byte>>> CMapReduce(runtime::Context& context,
                                                         const array::ArraySource& array,
                                                         std::span<const array::DimRange> ranges,
                                                         const CMapReduceFunctions& fns,
                                                         const BlockPassOptions& options = {});

}  // namespace lsio::ops

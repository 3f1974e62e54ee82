#pragma once

// An array whose values are held in memory: what a format gives for data it computes when a
// dataset is opened rather than reads from chunks (GRIB's coordinates: times, steps, levels,
// latitudes and longitudes come from message headers and grid definitions). It plans reads like
// any other source, as one task without IO that hands the whole array to the consumer as one
// chunk, so coordinate lookup, label selection, ReadInto and statistics treat it like stored
// data. Rank 0 (a scalar coordinate) is allowed.
//
// Thread safety: immutable once made; safe to share.

#include <cstddef>
#include <memory>
#include <vector>

#include "lsio/array/info.h"
#include "lsio/array/source.h"
#include "lsio/base/result.h"
#include "lsio/kvstore/store.h"

namespace lsio::array {

// `info` describes the array (chunk_shape and storage_chunk_shape are set to its shape);
// `values` holds all its elements in C order, native byte order, of info.element's storage
// type. `store` is the store of the dataset the array belongs to (its tasks read nothing from
// it). Errors: kInvalidArgument when the values do not match the shape and element size.
Result<std::shared_ptr<const ArraySource>> MakeMemoryArraySource(
    ArrayInfo info, std::shared_ptr<const std::vector<std::byte>> values,
    std::shared_ptr<kvstore::Store> store);

}  // namespace lsio::array

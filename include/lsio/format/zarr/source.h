#pragma once

// Zarr as an array source (array/source.h): a Zarr hierarchy on any Store opens as a
// DatasetSource whose arrays plan their reads as keyed byte-range requests.
//
//   non-sharded  one whole-value read per chunk; a missing key is the fill value. An
//                uncompressed chunk of which the selection needs at most 3/4 (an edge chunk of
//                the array, a sub-selection) is read in up to 64 ranges holding just the
//                selected part (then handed to the consumer as a smaller chunk, see
//                ChunkConsumer::Consume); the value must still be exactly one chunk long.
//   sharded      one read of the shard index (a range at the start, or a suffix at the end, of
//                the shard), then one range read per inner chunk the selection needs (the
//                reader coalesces neighbours); empty index entries and missing shards are the
//                fill value. A shard is never read whole when only part of it is wanted. Nested
//                sharding: each inner chunk is itself decoded as a shard.
//
// Chunks are enumerated lazily (an odometer over the per-dimension chunk lists), so a request
// over millions of chunks holds only the tasks in flight.
//
// Errors name the variable, the chunk key and its location: "variable 't2m': chunk c/3/0/1
// (/data/x.zarr/t2m/c/3/0/1): CorruptData: ..." (for an inner chunk of a shard, "chunk c/0/1
// inner chunk [0, 1]"). A chunk or shard index entry larger than any encoding of the chunk (16
// times its decoded size plus 1 MiB) is corrupt and refused before it is read.

#include <memory>

#include "lsio/array/dataset.h"
#include "lsio/array/source.h"
#include "lsio/format/zarr/hierarchy.h"
#include "lsio/kvstore/store.h"

namespace lsio::zarr {

// The format-neutral description of an array node: dims as xarray names them (v3
// dimension_names, v2 _ARRAY_DIMENSIONS, "dim_<i>" where unnamed), the CF inputs (a v2
// fill_value masks as _FillValue; a v3 _FillValue attribute is base64), and the chunk grid
// (innermost chunk; shard or chunk for storage).
array::ArrayInfo MakeArrayInfo(const Node& node);

class ZarrDatasetSource final : public array::DatasetSource {
 public:
  ZarrDatasetSource(std::shared_ptr<kvstore::Store> store, Hierarchy hierarchy);

  const std::shared_ptr<kvstore::Store>& store() const override { return store_; }
  const std::vector<std::shared_ptr<const array::ArraySource>>& arrays() const override {
    return arrays_;
  }
  nlohmann::json group_attributes(std::string_view path) const override;
  std::vector<std::string> groups() const override;
  std::string format_name() const override;

  const Hierarchy& hierarchy() const { return *hierarchy_; }
  // The node of an array of arrays() (nullptr for a source of another dataset).
  const Node* NodeOf(const array::ArraySource& array) const;

 private:
  std::shared_ptr<kvstore::Store> store_;
  std::shared_ptr<const Hierarchy> hierarchy_;
  std::vector<std::shared_ptr<const array::ArraySource>> arrays_;
};

// Opens the Zarr group or array at the root of `store`. Errors: those of OpenHierarchy
// (kNotFound "<location>: no Zarr metadata ...").
Result<std::shared_ptr<const ZarrDatasetSource>> OpenDataset(
    std::shared_ptr<kvstore::Store> store, const OpenOptions& options = {});

}  // namespace lsio::zarr

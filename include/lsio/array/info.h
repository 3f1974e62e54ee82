#pragma once

// ArrayInfo: what an array is, whatever format stores it (array/source.h reads it).
//
// Thread safety: a plain value.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/array/element_type.h"

namespace lsio::array {

// How a `_FillValue` attribute is written (CF inputs).
enum class FillValueAttrEncoding : unsigned char {
  kPlain,         // a number, "NaN", a list (netCDF, Zarr v2, GRIB)
  kBase64Double,  // xarray's Zarr v3 encoding of float fill values
};

struct ArrayInfo {
  // Path in its dataset ("group/t2m"; "" for a store that is a single array).
  std::string path;
  // Where its description came from, for messages ("/data/x.zarr/t2m/zarr.json",
  // "/data/gfs.grib2 message 12").
  std::string where;
  ElementType element;
  std::vector<int64_t> shape;
  // xarray's dimension names, one per dimension ("dim_<i>" where the format gives none).
  std::vector<std::string> dims;
  nlohmann::json attributes = nlohmann::json::object();
  // One element, native byte order: what the parts of the array that no chunk holds contain.
  std::vector<std::byte> fill_value;
  // A value of the format's own that xarray masks as if it were _FillValue (Zarr v2's
  // fill_value, use_zarr_fill_value_as_mask), one element in native byte order.
  std::optional<std::vector<std::byte>> mask_value;
  FillValueAttrEncoding fill_value_attr = FillValueAttrEncoding::kPlain;
  // The unit of decoding (a sharded array's inner chunk; with nested sharding that is itself a
  // shard, decoded whole, not the innermost chunk): every decoded or fill chunk a consumer
  // receives has at most this shape, so memory and fill chunks are sized by it.
  std::vector<int64_t> chunk_shape;
  // The unit of storage (a shard, a chunk, a GRIB message's field): reads aligned to it read
  // nothing twice. A multiple of chunk_shape.
  std::vector<int64_t> storage_chunk_shape;

  size_t rank() const { return shape.size(); }
  size_t element_size() const { return ByteWidth(element.storage); }
  int64_t num_elements() const;
  // Bytes of one decoded chunk (chunk_shape elements).
  uint64_t chunk_bytes() const;
};

}  // namespace lsio::array

#pragma once

// What a Zarr array to be written looks like: format, data type, shape, chunking (optionally
// sharded), compression, fill value, dimension names and attributes. A plain value; the writer
// (writer.h) validates it and spells it for Zarr v2 or v3.
//
// Compression is a list of bytes->bytes steps (CodecSpec) applied after the elements are
// serialised, in order. Zarr v3 writes them as the codec list after `bytes`; Zarr v2 as
// `filters` (all but the last) and `compressor` (the last), which numcodecs applies the same
// way. lz4 has no Zarr v3 name: it is written as zarr-python 3 writes it, "numcodecs.lz4"
// (zarr-python reads it; TensorStore does not).
//
// Thread safety: plain values; ParseCodecList is a pure function.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/base/dtype.h"
#include "lsio/base/result.h"
#include "lsio/format/zarr/data_type.h"
#include "lsio/format/zarr/metadata.h"

namespace lsio::zarr {

// One bytes->bytes step of a chunk's encoding.
struct CodecSpec {
  enum class Kind : unsigned char { kZstd, kGzip, kBlosc, kLz4, kCrc32c };
  enum class BloscShuffle : unsigned char { kNoShuffle, kShuffle, kBitShuffle };

  Kind kind = Kind::kZstd;
  // zstd: -131072..22; gzip: 0..9; blosc clevel: 0..9. Unused by lz4 and crc32c.
  int level = 3;
  // zstd: a content checksum in every frame.
  bool checksum = false;
  // blosc: the inner compressor (blosclz, lz4, lz4hc, zlib, zstd) and shuffle. The typesize
  // written is the element size.
  std::string blosc_cname = "zstd";
  BloscShuffle blosc_shuffle = BloscShuffle::kShuffle;
  // lz4 (numcodecs' block format): acceleration >= 1.
  int acceleration = 1;

  static CodecSpec Zstd(int level = 3, bool checksum = false);
  static CodecSpec Gzip(int level = 5);
  static CodecSpec Blosc(std::string cname = "zstd", int clevel = 5,
                         BloscShuffle shuffle = BloscShuffle::kShuffle);
  static CodecSpec Lz4(int acceleration = 1);
  static CodecSpec Crc32c();

  // "zstd(level=3)", "blosc(cname=lz4, clevel=5, shuffle=bitshuffle)", for messages.
  std::string ToString() const;
  bool operator==(const CodecSpec&) const = default;
};

// A compression list as the CLI spells it: "none" (no compression), or steps separated by
// ',': "zstd" (level 3), "zstd:LEVEL", "gzip" (level 5), "gzip:LEVEL", "lz4", "lz4:ACCEL",
// "blosc" (zstd, clevel 5, shuffle), "blosc:CNAME", "blosc:CNAME:CLEVEL",
// "blosc:CNAME:CLEVEL:SHUFFLE" (noshuffle, shuffle, bitshuffle), "crc32c".
// Errors: kInvalidArgument naming the step and what is wrong with it.
Result<std::vector<CodecSpec>> ParseCodecList(std::string_view text);

// The Zarr data type of a numeric element type (bool, integers, floats, complex).
ZarrDataType NumericZarrDataType(DataType t);

// Sharding (Zarr v3 sharding_indexed): several chunks stored under one key with an index.
struct ShardingWriteSpec {
  // A multiple of the array's chunk_shape in every dimension.
  std::vector<int64_t> shard_shape;
  ShardIndexLocation index_location = ShardIndexLocation::kEnd;
  // The index's codecs: bytes(little) then crc32c (zarr-python's default), or bytes only.
  bool index_checksum = true;
};

struct ArrayWriteSpec {
  ZarrFormat format = ZarrFormat::kV3;
  // Fixed-size numbers (bool, integers, floats, complex, datetime64, timedelta64) and
  // fixed-length UTF-32 strings (numpy "<U3": v3 fixed_length_utf32):
  // NumericZarrDataType(DataType::kFloat32), ParseZarrV2DataType("<M8[ns]"), ("<U3"), ...
  // The decoded elements the writer is given are data_type.item_size bytes each, native byte
  // order (data_type.storage for numbers; UTF-32 code units, NUL-padded, for strings).
  ZarrDataType data_type = NumericZarrDataType(DataType::kFloat64);
  std::vector<int64_t> shape;
  // The chunk a codec chain encodes; the inner chunk when sharded. Every extent >= 1.
  std::vector<int64_t> chunk_shape;
  // Zarr v3 only.
  std::optional<ShardingWriteSpec> sharding;
  // Byte order of the stored elements (v3: the bytes codec; v2: the dtype's typestring).
  Endian endian = Endian::kLittle;
  // Applied in order after serialisation; empty: uncompressed.
  std::vector<CodecSpec> codecs;
  // Anything ResolveFillValue accepts for the type: a number, true/false, "NaN", "Infinity",
  // "-Infinity", [re, im], "0x..." bits, "NaT" or an integer for datetime64, a string for
  // strings. A double NaN or infinity is accepted too. null: Zarr v2 writes null (no fill
  // value; xarray then masks nothing), Zarr v3 writes the type's zero (""). Written as
  // zarr-python writes it.
  nlohmann::json fill_value = nullptr;
  // Empty (no names), or one per dimension. v3: dimension_names ("" is written as null);
  // v2: the `_ARRAY_DIMENSIONS` attribute xarray reads. A 0-d array always gets its (empty)
  // list, which xarray needs to open it.
  std::vector<std::string> dimension_names;
  // A JSON object. Non-finite numbers are written as Python's json module writes them (NaN,
  // Infinity), as zarr-python and xarray do.
  nlohmann::json attributes = nlohmann::json::object();
  // Chunk key separator; 0 for the format's default ('/' in v3 "c/0/1", '.' in v2 "0.1").
  char chunk_key_separator = 0;
};

}  // namespace lsio::zarr

#pragma once

// Zarr v3 codec lists covering every codec and option family, shared by the round-trip and
// corrupt-input suites.

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "lsio/base/dtype.h"

namespace lsio::codec::testing {

enum class Applies { kAll, kInteger, kRealNumeric, kFloat, kLosslessAsF8 };

struct CodecConfig {
  std::string label;
  std::string codecs;  // a Zarr v3 "codecs" JSON list
  Applies applies = Applies::kAll;
  bool lossy = false;
  bool checksummed = false;  // a checksum protects every encoded byte
  bool finite = false;       // exact only for finite values (NaN payloads change in casts)
};

inline bool AppliesTo(Applies a, DataType t) {
  switch (a) {
    case Applies::kAll:
      return true;
    case Applies::kInteger:
      return IsInteger(t);
    case Applies::kRealNumeric:
      return !IsComplex(t) && t != DataType::kBool;
    case Applies::kFloat:
      return IsFloat(t);
    case Applies::kLosslessAsF8:
      return !IsComplex(t) && t != DataType::kBool && ByteWidth(t) <= 4;
  }
  return false;
}

// Concatenation without operator+ chains (GCC 12 warns falsely on those, -Wrestrict).
inline std::string Cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (std::string_view p : parts) s.append(p);
  return s;
}

inline constexpr std::string_view kLe = R"({"name":"bytes","configuration":{"endian":"little"}})";
inline constexpr std::string_view kBe = R"({"name":"bytes","configuration":{"endian":"big"}})";

// "[<filters>, <serializer>, <compressors>]"; `filters` and `tail` are comma-free at their
// joins (this adds the commas).
inline std::string Chain(std::string_view filters, std::string_view serializer,
                         std::string_view tail) {
  return Cat({"[", filters, filters.empty() ? "" : ",", serializer, tail.empty() ? "" : ",",
              tail, "]"});
}

// Bytes->bytes configurations, each after a little-endian `bytes`.
inline std::vector<CodecConfig> BytesToBytesConfigs() {
  std::vector<CodecConfig> c;
  for (std::string_view cname : {"blosclz", "lz4", "lz4hc", "zlib", "zstd"}) {
    for (std::string_view shuffle : {"noshuffle", "shuffle", "bitshuffle"}) {
      c.push_back({Cat({"blosc_", cname, "_", shuffle}),
                   Chain("", kLe,
                         Cat({R"({"name":"blosc","configuration":{"cname":")", cname,
                              R"(","clevel":5,"shuffle":")", shuffle, R"("}})"}))});
    }
  }
  auto add = [&](std::string label, std::string_view tail, bool checksummed = false,
                 std::string_view serializer = kLe) {
    c.push_back({std::move(label), Chain("", serializer, tail), Applies::kAll, false,
                 checksummed});
  };
  add("numcodecs_blosc_auto_small_blocks",
      R"({"name":"numcodecs.blosc",)"
      R"("configuration":{"cname":"zstd","shuffle":-1,"blocksize":256}})");
  add("zstd", R"({"name":"zstd","configuration":{"level":1,"checksum":false}})");
  add("zstd_checksum", R"({"name":"zstd","configuration":{"level":-3,"checksum":true}})");
  add("lz4", R"({"name":"numcodecs.lz4","configuration":{"acceleration":1}})");
  add("gzip", R"({"name":"gzip","configuration":{"level":6}})");
  add("zlib", R"({"name":"numcodecs.zlib","configuration":{"level":1}})");
  add("bz2", R"({"name":"numcodecs.bz2","configuration":{"level":1}})");
  add("lzma_xz", R"({"name":"numcodecs.lzma","configuration":{"preset":1}})");
  add("lzma_alone", R"({"name":"numcodecs.lzma","configuration":{"format":2,"preset":1}})");
  add("lzma_raw",
      R"({"name":"numcodecs.lzma","configuration":{"format":3,)"
      R"("filters":[{"id":3,"dist":4},{"id":33,"preset":1}]}})");
  add("crc32c", R"({"name":"crc32c"})", true);
  add("crc32_end", R"({"name":"numcodecs.crc32","configuration":{"location":"end"}})", true);
  add("adler32", R"({"name":"numcodecs.adler32"})", true);
  add("fletcher32", R"({"name":"numcodecs.fletcher32"})", true);
  add("crc32c_start", R"({"name":"numcodecs.crc32c","configuration":{"location":"start"}})",
      true);
  add("shuffle_zstd", R"({"name":"numcodecs.shuffle"},{"name":"zstd"})");
  // Compressor on checksum on compressor: the scratch between them is sized by a bound.
  add("stacked_big_zstd_crc_blosc",
      R"({"name":"zstd"},{"name":"crc32c"},{"name":"blosc","configuration":{"cname":"lz4"}})",
      false, kBe);
  add("stacked_gzip_bz2", R"({"name":"gzip"},{"name":"numcodecs.bz2"})");
  return c;
}

inline std::vector<CodecConfig> AllConfigs() {
  std::vector<CodecConfig> c = {
      {"bytes_little", Chain("", kLe, "")},
      {"bytes_big", Chain("", kBe, "")},
      {"transpose_F",
       Chain(R"({"name":"transpose","configuration":{"order":"F"}})", kBe, R"({"name":"gzip"})")},
      // Float deltas round, so only integers round-trip exactly.
      {"delta_zstd", Chain(R"({"name":"numcodecs.delta"})", kLe, R"({"name":"zstd"})"),
       Applies::kInteger},
      {"astype_f8",
       Chain(R"({"name":"numcodecs.astype","configuration":{"encode_dtype":"<f8"}})", kLe, ""),
       Applies::kLosslessAsF8, false, false, true},
      {"bitround",
       Chain(R"({"name":"numcodecs.bitround","configuration":{"keepbits":5}})", kLe,
             R"({"name":"blosc"})"),
       Applies::kFloat, true},
      {"quantize", Chain(R"({"name":"numcodecs.quantize","configuration":{"digits":2}})", kLe, ""),
       Applies::kFloat, true},
      {"fixedscaleoffset",
       Chain(R"({"name":"numcodecs.fixedscaleoffset","configuration":)"
             R"({"offset":1,"scale":10,"astype":"<i4"}})",
             kLe, R"({"name":"numcodecs.lz4"})"),
       Applies::kRealNumeric, true},
  };
  for (CodecConfig& b : BytesToBytesConfigs()) c.push_back(std::move(b));
  return c;
}

}  // namespace lsio::codec::testing

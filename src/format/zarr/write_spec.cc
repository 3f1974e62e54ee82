#include "lsio/format/zarr/write_spec.h"

#include <charconv>

#include <fmt/format.h>

namespace lsio::zarr {

namespace {

std::string_view ShuffleName(CodecSpec::BloscShuffle s) {
  switch (s) {
    case CodecSpec::BloscShuffle::kNoShuffle:
      return "noshuffle";
    case CodecSpec::BloscShuffle::kShuffle:
      return "shuffle";
    case CodecSpec::BloscShuffle::kBitShuffle:
      return "bitshuffle";
  }
  return "shuffle";
}

std::vector<std::string_view> Split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t end = text.find(sep, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

Result<int> ParseInt(std::string_view text, int lo, int hi, std::string_view step,
                     std::string_view what) {
  int v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < lo || v > hi) {
    return InvalidArgumentError(fmt::format("compression step '{}': {} must be an integer in "
                                            "[{}, {}], got '{}'",
                                            step, what, lo, hi, text));
  }
  return v;
}

Result<CodecSpec> ParseStep(std::string_view step) {
  const std::vector<std::string_view> f = Split(step, ':');
  const std::string_view name = f[0];
  auto arity = [&](size_t max) -> Status {
    if (f.size() - 1 > max) {
      return InvalidArgumentError(
          fmt::format("compression step '{}': {} takes at most {} parameter(s)", step, name, max));
    }
    return Status::OK();
  };
  if (name == "zstd") {
    LSIO_RETURN_IF_ERROR(arity(1));
    CodecSpec c = CodecSpec::Zstd();
    if (f.size() > 1) {
      LSIO_ASSIGN_OR_RETURN(c.level, ParseInt(f[1], -131072, 22, step, "level"));
    }
    return c;
  }
  if (name == "gzip") {
    LSIO_RETURN_IF_ERROR(arity(1));
    CodecSpec c = CodecSpec::Gzip();
    if (f.size() > 1) {
      LSIO_ASSIGN_OR_RETURN(c.level, ParseInt(f[1], 0, 9, step, "level"));
    }
    return c;
  }
  if (name == "lz4") {
    LSIO_RETURN_IF_ERROR(arity(1));
    CodecSpec c = CodecSpec::Lz4();
    if (f.size() > 1) {
      LSIO_ASSIGN_OR_RETURN(c.acceleration, ParseInt(f[1], 1, 65537, step, "acceleration"));
    }
    return c;
  }
  if (name == "crc32c") {
    LSIO_RETURN_IF_ERROR(arity(0));
    return CodecSpec::Crc32c();
  }
  if (name == "blosc") {
    LSIO_RETURN_IF_ERROR(arity(3));
    CodecSpec c = CodecSpec::Blosc();
    if (f.size() > 1) {
      static constexpr std::string_view kCnames[] = {"blosclz", "lz4", "lz4hc", "zlib", "zstd"};
      if (std::find(std::begin(kCnames), std::end(kCnames), f[1]) == std::end(kCnames)) {
        return InvalidArgumentError(fmt::format(
            "compression step '{}': blosc compressor must be blosclz, lz4, lz4hc, zlib or zstd, "
            "got '{}'",
            step, f[1]));
      }
      c.blosc_cname = std::string(f[1]);
    }
    if (f.size() > 2) {
      LSIO_ASSIGN_OR_RETURN(c.level, ParseInt(f[2], 0, 9, step, "clevel"));
    }
    if (f.size() > 3) {
      if (f[3] == "noshuffle") {
        c.blosc_shuffle = CodecSpec::BloscShuffle::kNoShuffle;
      } else if (f[3] == "shuffle") {
        c.blosc_shuffle = CodecSpec::BloscShuffle::kShuffle;
      } else if (f[3] == "bitshuffle") {
        c.blosc_shuffle = CodecSpec::BloscShuffle::kBitShuffle;
      } else {
        return InvalidArgumentError(fmt::format(
            "compression step '{}': shuffle must be noshuffle, shuffle or bitshuffle, got '{}'",
            step, f[3]));
      }
    }
    return c;
  }
  return InvalidArgumentError(fmt::format(
      "compression step '{}': unknown codec '{}' (expected none, zstd, gzip, lz4, blosc or "
      "crc32c)",
      step, name));
}

}  // namespace

CodecSpec CodecSpec::Zstd(int level, bool checksum) {
  CodecSpec c;
  c.kind = Kind::kZstd;
  c.level = level;
  c.checksum = checksum;
  return c;
}

CodecSpec CodecSpec::Gzip(int level) {
  CodecSpec c;
  c.kind = Kind::kGzip;
  c.level = level;
  return c;
}

CodecSpec CodecSpec::Blosc(std::string cname, int clevel, BloscShuffle shuffle) {
  CodecSpec c;
  c.kind = Kind::kBlosc;
  c.blosc_cname = std::move(cname);
  c.level = clevel;
  c.blosc_shuffle = shuffle;
  return c;
}

CodecSpec CodecSpec::Lz4(int acceleration) {
  CodecSpec c;
  c.kind = Kind::kLz4;
  c.acceleration = acceleration;
  return c;
}

CodecSpec CodecSpec::Crc32c() {
  CodecSpec c;
  c.kind = Kind::kCrc32c;
  return c;
}

std::string CodecSpec::ToString() const {
  switch (kind) {
    case Kind::kZstd:
      return checksum ? fmt::format("zstd(level={}, checksum)", level)
                      : fmt::format("zstd(level={})", level);
    case Kind::kGzip:
      return fmt::format("gzip(level={})", level);
    case Kind::kBlosc:
      return fmt::format("blosc(cname={}, clevel={}, shuffle={})", blosc_cname, level,
                         ShuffleName(blosc_shuffle));
    case Kind::kLz4:
      return fmt::format("lz4(acceleration={})", acceleration);
    case Kind::kCrc32c:
      return "crc32c";
  }
  return "?";
}

Result<std::vector<CodecSpec>> ParseCodecList(std::string_view text) {
  if (text == "none") return std::vector<CodecSpec>{};
  if (text.empty()) {
    return InvalidArgumentError("empty compression list (use 'none' for no compression)");
  }
  std::vector<CodecSpec> out;
  for (std::string_view step : Split(text, ',')) {
    if (step.empty()) {
      return InvalidArgumentError(fmt::format("compression list '{}' has an empty step", text));
    }
    LSIO_ASSIGN_OR_RETURN(CodecSpec c, ParseStep(step));
    out.push_back(std::move(c));
  }
  return out;
}

ZarrDataType NumericZarrDataType(DataType t) {
  ZarrDataType d;
  d.kind = DataTypeKind::kNumeric;
  d.storage = t;
  d.endian = Endian::kLittle;
  d.item_size = ByteWidth(t);
  d.name = std::string(DataTypeName(t));
  return d;
}

}  // namespace lsio::zarr

// Decoding: lsio's own frame decoder (blosc_frame.h) for the frames it handles, which is faster
// per thread than c-blosc's (see docs/benchmarks.md), and c-blosc 1.x for the rest (blosclz,
// snappy). Encoding: c-blosc. Both through c-blosc's _ctx functions with one
// internal thread, which keep no global state, so many chunks decode at once on the CPU pool.

#include <blosc.h>
#include <fmt/format.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "builtin.h"
#include "config.h"
#include "lsio/codec/blosc_frame.h"

namespace lsio::codec::internal {

namespace {

constexpr int kAutoShuffle = -1;

// Blocks lsio asks c-blosc for when a zstd codec leaves the block size to the encoder (0) at
// levels 1-3. c-blosc's own choice there is 32, 64 or 128 KiB, and zstd works poorly on such
// small inputs: on a 1 MiB float32 chunk at level 1 (shuffle), 32 KiB blocks encode at 640 MB/s
// and decode at 1.4 GB/s, 256 KiB blocks at 1.1 and 2.8 GB/s and compress 1.3% smaller
// (c-blosc 1.21.3, Debian's libzstd 1.5.4, docs/benchmarks.md section 11). 256 KiB is what
// c-blosc itself picks for zstd at levels 4 and 5; 512 KiB was no faster end to end. The frames
// are ordinary blosc frames (the block size is in their header), read by every blosc decoder
// alike; the metadata keeps the blocksize 0 it was given.
constexpr size_t kZstdAutoBlocksize = size_t{256} << 10;

std::string_view ShuffleName(int shuffle) {
  switch (shuffle) {
    case BLOSC_NOSHUFFLE:
      return "noshuffle";
    case BLOSC_SHUFFLE:
      return "shuffle";
    case BLOSC_BITSHUFFLE:
      return "bitshuffle";
    default:
      return "auto";
  }
}

class BloscCodec final : public BytesToBytesCodec {
 public:
  BloscCodec(std::string cname, int clevel, int shuffle, std::optional<size_t> typesize,
             size_t blocksize)
      : cname_(std::move(cname)),
        clevel_(clevel),
        shuffle_(shuffle),
        typesize_(typesize),
        blocksize_(blocksize),
        encode_blocksize_(blocksize == 0 && cname_ == "zstd" && clevel >= 1 && clevel <= 3
                              ? kZstdAutoBlocksize
                              : blocksize) {}

  std::string_view name() const override { return "blosc"; }

  Result<std::optional<size_t>> DecodedSize(std::span<const std::byte> in) const override {
    if (in.size() < BLOSC_MIN_HEADER_LENGTH) {
      return CorruptDataError(fmt::format("blosc: {} bytes are too short for the {}-byte header",
                                          in.size(), BLOSC_MIN_HEADER_LENGTH));
    }
    // The checks c-blosc's own fuzzer makes before decompressing: the header's compressed size
    // must be the size we hold, and its decoded size must be one blosc can produce. After that
    // blosc bounds every block read by the header's compressed size.
    size_t nbytes = 0, cbytes = 0, blocksize = 0;
    blosc_cbuffer_sizes(in.data(), &nbytes, &cbytes, &blocksize);
    if (cbytes != in.size() || blosc_cbuffer_validate(in.data(), in.size(), &nbytes) != 0) {
      return CorruptDataError(fmt::format(
          "blosc: header (compressed size {}, decoded size {}) does not match the {} bytes "
          "given",
          cbytes, nbytes, in.size()));
    }
    return std::optional<size_t>(nbytes);
  }

  Result<size_t> Decode(std::span<const std::byte> in, std::span<std::byte> out) const override {
    LSIO_ASSIGN_OR_RETURN(std::optional<size_t> nbytes, DecodedSize(in));
    if (*nbytes > out.size()) {
      return CorruptDataError(fmt::format(
          "blosc: header declares {} decoded bytes, more than the {} expected", *nbytes,
          out.size()));
    }
    if (*nbytes == 0) return size_t{0};
    LSIO_ASSIGN_OR_RETURN(BloscFrameInfo info, ParseBloscFrame(in, out.size()));
    if (BloscOwnDecoderHandles(info)) return DecodeBloscFrame(in, out);
    const int r = blosc_decompress_ctx(in.data(), out.data(), out.size(), /*nthreads=*/1);
    if (r < 0 || static_cast<size_t>(r) != *nbytes) {
      return CorruptDataError(
          fmt::format("blosc: decompression failed (blosc error {}) for {} bytes", r, in.size()));
    }
    return *nbytes;
  }

  std::optional<Result<size_t>> DecodeStreaming(std::span<const std::byte> in, size_t max_size,
                                                DecodedWindowSink& sink) const override {
    Result<std::optional<size_t>> nbytes = DecodedSize(in);
    if (!nbytes.ok()) return Result<size_t>(nbytes.status());
    if (**nbytes > max_size) {
      return Result<size_t>(CorruptDataError(fmt::format(
          "blosc: header declares {} decoded bytes, more than the {} expected", **nbytes,
          max_size)));
    }
    Result<BloscFrameInfo> info = ParseBloscFrame(in, max_size);
    if (!info.ok()) return Result<size_t>(info.status());
    if (!BloscOwnDecoderHandles(*info)) return std::nullopt;
    return DecodeBloscFrameStreaming(in, sink);
  }

  // Every frame but blosclz and snappy ones (BloscOwnDecoderHandles).
  bool streams() const override { return true; }
  bool skips() const override { return true; }

  Result<Buffer> Encode(std::span<const std::byte> in) const override {
    if (in.size() > size_t{BLOSC_MAX_BUFFERSIZE}) {
      return InvalidArgumentError(fmt::format(
          "blosc: a chunk of {} bytes exceeds blosc's limit of {} bytes", in.size(),
          BLOSC_MAX_BUFFERSIZE));
    }
    const size_t typesize = typesize_.value_or(1);
    int shuffle = shuffle_;
    if (shuffle == kAutoShuffle) shuffle = typesize == 1 ? BLOSC_BITSHUFFLE : BLOSC_SHUFFLE;
    const size_t capacity = in.size() + BLOSC_MAX_OVERHEAD;
    LSIO_ASSIGN_OR_RETURN(Buffer out, DefaultBufferPool().Acquire(capacity));
    static const std::byte kEmpty{};
    const void* src = in.empty() ? &kEmpty : in.data();
    const int cbytes =
        blosc_compress_ctx(clevel_, shuffle, typesize, in.size(), src, out.mutable_data(),
                           capacity, cname_.c_str(), encode_blocksize_, /*nthreads=*/1);
    if (cbytes <= 0) {
      return InternalError(fmt::format("blosc: compression of {} bytes failed (blosc error {})",
                                       in.size(), cbytes));
    }
    out.Truncate(static_cast<size_t>(cbytes));
    return out;
  }

  std::string Describe() const override {
    std::string typesize = typesize_ ? fmt::format(", typesize={}", *typesize_) : "";
    return fmt::format("blosc(cname={}, clevel={}, shuffle={}{}, blocksize={})", cname_, clevel_,
                       ShuffleName(shuffle_), typesize, blocksize_);
  }

 private:
  std::string cname_;
  int clevel_;
  int shuffle_;  // kAutoShuffle or a BLOSC_* value
  std::optional<size_t> typesize_;
  size_t blocksize_;         // as configured (0: the encoder's choice)
  size_t encode_blocksize_;  // what Encode asks c-blosc for (kZstdAutoBlocksize)
};

}  // namespace

Result<std::unique_ptr<BytesToBytesCodec>> MakeBloscCodec(const nlohmann::json& config) {
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make("blosc", config));
  // Defaults are numcodecs' (Blosc(cname='lz4', clevel=5, shuffle=SHUFFLE, blocksize=0)).
  LSIO_ASSIGN_OR_RETURN(std::optional<std::string> cname, reader.OptionalString("cname"));
  if (!cname) cname = "lz4";
  static constexpr std::string_view kCnames[] = {"blosclz", "lz4", "lz4hc", "snappy", "zlib",
                                                 "zstd"};
  if (std::find(std::begin(kCnames), std::end(kCnames), *cname) == std::end(kCnames)) {
    return reader.FieldError(
        "cname", fmt::format("must be one of blosclz, lz4, lz4hc, snappy, zlib, zstd; got \"{}\"",
                             *cname));
  }
  if (blosc_compname_to_compcode(cname->c_str()) < 0) {
    return NotSupportedError(
        fmt::format("codec blosc: cname \"{}\" is not available in this libblosc", *cname));
  }
  LSIO_ASSIGN_OR_RETURN(int64_t clevel, reader.Int("clevel", 5, 0, 9));
  int shuffle = BLOSC_SHUFFLE;
  if (const nlohmann::json* s = reader.Get("shuffle")) {
    if (s->is_string()) {
      const std::string text = s->get<std::string>();
      if (text == "noshuffle") {
        shuffle = BLOSC_NOSHUFFLE;
      } else if (text == "shuffle") {
        shuffle = BLOSC_SHUFFLE;
      } else if (text == "bitshuffle") {
        shuffle = BLOSC_BITSHUFFLE;
      } else {
        return reader.FieldError(
            "shuffle",
            fmt::format("must be \"noshuffle\", \"shuffle\" or \"bitshuffle\", got \"{}\"", text));
      }
    } else {
      LSIO_ASSIGN_OR_RETURN(int64_t v, reader.Int("shuffle", BLOSC_SHUFFLE, -1, 2));
      shuffle = static_cast<int>(v);
    }
  }
  LSIO_ASSIGN_OR_RETURN(std::optional<int64_t> typesize,
                        reader.OptionalInt("typesize", 1, int64_t{1} << 31));
  LSIO_ASSIGN_OR_RETURN(int64_t blocksize, reader.Int("blocksize", 0, 0, int64_t{1} << 31));
  std::optional<size_t> ts;
  if (typesize) ts = static_cast<size_t>(*typesize);
  return std::unique_ptr<BytesToBytesCodec>(new BloscCodec(
      std::move(*cname), static_cast<int>(clevel), shuffle, ts, static_cast<size_t>(blocksize)));
}

}  // namespace lsio::codec::internal

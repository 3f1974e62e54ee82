// Zstandard frames, as numcodecs' Zstd and the Zarr v3 zstd codec write them (one frame with
// its content size; numcodecs also reads frames without one, and several frames in a row).

#include <fmt/format.h>
// Buffer-less streaming (ZSTD_decompressContinue) for DecodeStreaming.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>

#include "lsio/base/buffer.h"

#include "builtin.h"
#include "config.h"

namespace lsio::codec::internal {

namespace {

// One decompression and one compression context per thread: creating them costs more than
// decoding a small chunk, and a context must not be shared between threads.
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(),
                                                                       &ZSTD_freeDCtx);
  return ctx.get();
}
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> ctx(ZSTD_createCCtx(),
                                                                       &ZSTD_freeCCtx);
  return ctx.get();
}

class ZstdCodec final : public BytesToBytesCodec {
 public:
  // The largest ring DecodeStreaming uses: frames with windows up to 4 MiB (levels up to ~12
  // of 8 MiB chunks; numcodecs' default level 1 has 512 KiB) stream; larger ones decode whole.
  static constexpr size_t kMaxRing = (size_t{4} << 20) + (size_t{256} << 10);

  ZstdCodec(int level, bool checksum) : level_(level), checksum_(checksum) {}

  std::string_view name() const override { return "zstd"; }

  Result<std::optional<size_t>> DecodedSize(std::span<const std::byte> in) const override {
    // The sum over all frames, as numcodecs' findTotalContentSize computes it.
    unsigned long long total = 0;
    size_t offset = 0;
    while (offset < in.size()) {
      const size_t frame = ZSTD_findFrameCompressedSize(in.data() + offset, in.size() - offset);
      if (ZSTD_isError(frame)) {
        return CorruptDataError(
            fmt::format("zstd: bytes at offset {} of {} are not a zstd frame ({})", offset,
                        in.size(), ZSTD_getErrorName(frame)));
      }
      const unsigned long long size = ZSTD_getFrameContentSize(in.data() + offset, frame);
      if (size == ZSTD_CONTENTSIZE_ERROR) {
        return CorruptDataError(
            fmt::format("zstd: bad frame header at offset {} of {}", offset, in.size()));
      }
      if (size == ZSTD_CONTENTSIZE_UNKNOWN) return std::optional<size_t>();
      total += size;
      if (total < size) return CorruptDataError("zstd: frame sizes overflow");
      offset += frame;
    }
    return std::optional<size_t>(static_cast<size_t>(total));
  }

  Result<size_t> Decode(std::span<const std::byte> in, std::span<std::byte> out) const override {
    // Fail fast on a first frame that declares more than the chunk holds, before zstd sets up
    // anything.
    const unsigned long long first = ZSTD_getFrameContentSize(in.data(), in.size());
    if (first != ZSTD_CONTENTSIZE_UNKNOWN && first != ZSTD_CONTENTSIZE_ERROR &&
        first > out.size()) {
      return CorruptDataError(fmt::format(
          "zstd: frame declares {} decoded bytes, more than the {} expected", first, out.size()));
    }
    ZSTD_DCtx* dctx = ThreadDCtx();
    if (dctx == nullptr) return ResourceExhaustedError("zstd: cannot create a decoder");
    const size_t r = ZSTD_decompressDCtx(dctx, out.data(), out.size(), in.data(), in.size());
    if (ZSTD_isError(r)) {
      if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall) {
        return CorruptDataError(
            fmt::format("zstd: data decodes to more than the {} bytes expected", out.size()));
      }
      return CorruptDataError(fmt::format("zstd: {} ({} bytes of input)", ZSTD_getErrorName(r),
                                          in.size()));
    }
    return r;
  }

  // Decodes block by block (zstd blocks are at most 128 KiB) into a ring the size of the
  // frame's window (ZSTD_decodingBufferSize_min: window + one block), handing each block to the
  // sink as it is written, so that the sink reads it from cache and the chunk is never
  // materialised: zstd's buffer-less API decodes straight into the ring, with no copy out of
  // an internal window (which ZSTD_decompressStream into a small buffer would add). Streams
  // only frames whose headers are whole and declare their content size, without dictionaries,
  // whose rings are at most kMaxRing; anything else, including every malformed header, is left
  // to Decode (nullopt) so that errors read the same.
  std::optional<Result<size_t>> DecodeStreaming(std::span<const std::byte> in, size_t max_size,
                                                DecodedWindowSink& sink) const override {
    size_t ring_size = 0;
    size_t total = 0;
    for (size_t offset = 0; offset < in.size();) {
      ZSTD_frameHeader h;
      if (ZSTD_getFrameHeader(&h, in.data() + offset, in.size() - offset) != 0 ||
          h.frameType != ZSTD_frame || h.frameContentSize == ZSTD_CONTENTSIZE_UNKNOWN ||
          h.dictID != 0 || h.frameContentSize > max_size - total) {
        return std::nullopt;
      }
      const size_t frame = ZSTD_findFrameCompressedSize(in.data() + offset, in.size() - offset);
      const size_t need = ZSTD_decodingBufferSize_min(h.windowSize, h.frameContentSize);
      if (ZSTD_isError(frame) || ZSTD_isError(need) || need > kMaxRing) return std::nullopt;
      total += h.frameContentSize;
      ring_size = std::max(ring_size, need);
      offset += frame;
    }
    if (total == 0) return std::nullopt;
    ZSTD_DCtx* dctx = ThreadDCtx();
    if (dctx == nullptr) {
      return Result<size_t>(ResourceExhaustedError("zstd: cannot create a decoder"));
    }
    Result<Buffer> ring = DefaultBufferPool().Acquire(ring_size);
    if (!ring.ok()) return Result<size_t>(ring.status());
    std::byte* const base = ring->mutable_data();
    const auto failed = [&](size_t code) {
      return Result<size_t>(CorruptDataError(
          fmt::format("zstd: {} ({} bytes of input)", ZSTD_getErrorName(code), in.size())));
    };
    size_t produced = 0;
    const std::byte* src = in.data();
    const std::byte* const end = in.data() + in.size();
    while (src < end) {
      ZSTD_frameHeader h;
      ZSTD_getFrameHeader(&h, src, static_cast<size_t>(end - src));  // checked above
      if (const size_t r = ZSTD_decompressBegin(dctx); ZSTD_isError(r)) return failed(r);
      size_t pos = 0;
      for (size_t n; (n = ZSTD_nextSrcSizeToDecompress(dctx)) != 0;) {
        if (n > static_cast<size_t>(end - src)) {
          return Result<size_t>(CorruptDataError(fmt::format(
              "zstd: {} ({} bytes of input)", ZSTD_getErrorString(ZSTD_error_srcSize_wrong),
              in.size())));
        }
        // As ZSTD_decompressStream does with its own buffer: back to the start of the ring
        // when a whole block no longer fits (the ring then holds a window and two blocks, so
        // the window behind stays intact); a frame the ring holds whole never wraps.
        if (h.frameContentSize > ring_size && ring_size - pos < h.blockSizeMax) pos = 0;
        const size_t got = ZSTD_decompressContinue(dctx, base + pos, ring_size - pos, src, n);
        if (ZSTD_isError(got)) return failed(got);
        src += n;
        if (got != 0) {
          if (const Status s = sink.Consume({base + pos, got}); !s.ok()) return Result<size_t>(s);
          pos += got;
          produced += got;
        }
      }
    }
    return produced;
  }

  // Callers are told not to stream zstd (they decode the chunk whole, then use it): streaming
  // through the ring is slower here. Measured on 1 GB of 8 MiB float32 chunks (level 3) on
  // tmpfs, 2 threads, alternating: `lsio stats` 0.98-1.05 user s streamed against 0.88-0.96
  // decoded whole; `lsio rechunk` to time series (all x 32 x 32) 2.7-4.0 s against 2.4-2.5 s.
  // perf: the extra is inside libzstd's decoding (+9% of its samples, the same hot loop), more
  // than the statistics save by reading from cache (-28% of lsio's own samples). The likely
  // cause: once the ring wraps, libzstd sees the window behind as a separate segment (an
  // external dictionary) and checks matches against it.
  // DecodeStreaming still streams when asked (a caller that must not hold a whole chunk).
  bool streams() const override { return false; }

  Result<Buffer> Encode(std::span<const std::byte> in) const override {
    ZSTD_CCtx* cctx = ThreadCCtx();
    if (cctx == nullptr) return ResourceExhaustedError("zstd: cannot create an encoder");
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
    size_t r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level_);
    if (!ZSTD_isError(r)) r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, checksum_ ? 1 : 0);
    if (ZSTD_isError(r)) {
      return InvalidArgumentError(fmt::format("zstd: {}", ZSTD_getErrorName(r)));
    }
    const size_t capacity = ZSTD_compressBound(in.size());
    LSIO_ASSIGN_OR_RETURN(Buffer out, DefaultBufferPool().Acquire(capacity));
    r = ZSTD_compress2(cctx, out.mutable_data(), capacity, in.data(), in.size());
    if (ZSTD_isError(r)) {
      return InternalError(fmt::format("zstd: compression failed: {}", ZSTD_getErrorName(r)));
    }
    out.Truncate(r);
    return out;
  }

  std::string Describe() const override {
    return fmt::format("zstd(level={}, checksum={})", level_, checksum_);
  }

 private:
  int level_;
  bool checksum_;
};

}  // namespace

Result<std::unique_ptr<BytesToBytesCodec>> MakeZstdCodec(const nlohmann::json& config) {
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make("zstd", config));
  LSIO_ASSIGN_OR_RETURN(int64_t level, reader.Int("level", 0, -131072, 1000));
  // numcodecs clamps levels above the maximum rather than failing.
  if (level > ZSTD_maxCLevel()) level = ZSTD_maxCLevel();
  LSIO_ASSIGN_OR_RETURN(bool checksum, reader.Bool("checksum", false));
  return std::unique_ptr<BytesToBytesCodec>(new ZstdCodec(static_cast<int>(level), checksum));
}

}  // namespace lsio::codec::internal

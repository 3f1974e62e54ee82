// Zstandard frames, as numcodecs' Zstd and the Zarr v3 zstd codec write them (one frame with
// its content size; numcodecs also reads frames without one, and several frames in a row).

#include <fmt/format.h>
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

  // No DecodeStreaming: zstd chunks are decoded whole, then used. Streaming them block by
  // block through a ring the size of the frame's window (ZSTD_decompressContinue) was built
  // and measured slower on 1 GB of 8 MiB float32 chunks (level 3) on tmpfs, 2 threads,
  // alternating: `lsio stats` 0.98-1.05 user s streamed against 0.88-0.96 decoded whole;
  // `lsio rechunk` to time series 2.7-4.0 s against 2.4-2.5 s. perf: +9% of libzstd's samples
  // (the same hot loop), more than the statistics saved by reading from cache (-28% of lsio's
  // own); likely because libzstd decodes the window behind a wrapped ring as an external
  // dictionary. (Removed 2026-12-07; see docs/benchmarks.md section 8.)

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

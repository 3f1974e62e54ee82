// Our own blosc1 decoder (format in include/lsio/codec/blosc_frame.h). It follows c-blosc
// 1.21's blosc_d() block for block, so that it accepts exactly the frames c-blosc accepts and
// decodes them to the same bytes, but it differs where the time goes: the zstd and libdeflate
// contexts are per thread instead of created for every stream (c-blosc's ZSTD_decompress
// allocates a context per call), the unshuffle is Highway SIMD up to AVX-512, and the
// streaming form never writes a decoded block to memory outside the cache.

#include "lsio/codec/blosc_frame.h"

#include <fmt/format.h>
#include <libdeflate.h>
#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "src/codec/unshuffle.h"

namespace lsio::codec {

namespace {

constexpr uint32_t kMaxSplits = 16;        // c-blosc's MAX_SPLITS
constexpr uint32_t kMinBufferSize = 128;   // c-blosc's MIN_BUFFERSIZE
// Whole-frame decodes of at least this many bytes write the unshuffled output with
// non-temporal stores: such an output does not stay in L2 anyway, and sparing the
// read-for-ownership of every line makes the decode ~12% faster (blosc-lz4, 8 MiB chunk). A
// consumer that reads the chunk back at once pays ~10% more for it (from memory instead of L3):
// reductions should use the streaming decode, which writes no output at all.
constexpr size_t kStreamOutBytes = size_t{1} << 20;

uint32_t Le32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);  // little-endian host
  return v;
}

// Per-thread scratch that grows to the largest block seen (a block is at most the chunk).
class Scratch {
 public:
  std::byte* Get(size_t n) {
    if (n > capacity_) {
      const size_t cap = std::max(n, size_t{64} << 10);
      void* p = std::aligned_alloc(64, (cap + 63) / 64 * 64);
      if (p == nullptr) return nullptr;
      data_.reset(static_cast<std::byte*>(p));
      capacity_ = cap;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(std::byte* p) const { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> data_;
  size_t capacity_ = 0;
};

Scratch& BlockScratch() {
  thread_local Scratch s;
  return s;
}
Scratch& WindowScratch() {
  thread_local Scratch s;
  return s;
}

ZSTD_DCtx* ThreadZstd() {
  thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(),
                                                                       &ZSTD_freeDCtx);
  return ctx.get();
}

libdeflate_decompressor* ThreadDeflate() {
  thread_local std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> d(
      libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
  return d.get();
}

Status StreamError(uint32_t block, uint32_t stream, std::string_view what) {
  return CorruptDataError(fmt::format("blosc: block {} stream {}: {}", block, stream, what));
}

// Decompresses the streams of block `j` into dst[0, block_bytes(j)): the block as it was
// before compression (still shuffled when the frame is). With `where`, a stream stored
// uncompressed is not copied: where[s] is set to the bytes of stream s, in the frame or in dst.
Status DecompressBlock(const BloscFrameInfo& info, std::span<const std::byte> frame, uint32_t j,
                       std::byte* dst, const std::byte** where = nullptr) {
  const uint32_t bsize = info.block_bytes(j);
  const uint32_t streams = info.block_streams(j);
  const uint32_t neblock = bsize / streams;
  if (neblock * streams != bsize) {
    // Only a crafted header splits a block that is not a whole number of elements; c-blosc
    // then decodes fewer bytes than the frame declares, which is an error either way.
    return CorruptDataError(fmt::format(
        "blosc: block {} of {} bytes does not split into {} streams", j, bsize, streams));
  }
  const size_t cbytes = frame.size();
  const std::byte* base = frame.data();
  size_t offset = Le32(base + kBloscHeaderSize + size_t{j} * 4);
  for (uint32_t s = 0; s < streams; ++s) {
    if (offset > cbytes - 4 || static_cast<int32_t>(offset) < 0) {
      return StreamError(j, s, fmt::format("offset {} is outside the {}-byte frame", offset,
                                           cbytes));
    }
    const int32_t csize_signed = static_cast<int32_t>(Le32(base + offset));
    offset += 4;
    if (csize_signed < 0 || static_cast<size_t>(csize_signed) > cbytes - offset) {
      return StreamError(j, s, fmt::format("compressed size {} at offset {} overruns the "
                                           "{}-byte frame",
                                           csize_signed, offset - 4, cbytes));
    }
    const size_t csize = static_cast<size_t>(csize_signed);
    const std::byte* src = base + offset;
    std::byte* out = dst + size_t{s} * neblock;
    if (where != nullptr) where[s] = out;
    if (csize == neblock) {
      if (where != nullptr) {
        where[s] = src;
      } else {
        std::memcpy(out, src, neblock);
      }
    } else {
      size_t got = 0;
      bool ok = false;
      switch (info.format()) {
        case BloscFormat::kLz4: {
          const int r = LZ4_decompress_safe(reinterpret_cast<const char*>(src),
                                            reinterpret_cast<char*>(out),
                                            static_cast<int>(csize), static_cast<int>(neblock));
          ok = r >= 0;
          got = ok ? static_cast<size_t>(r) : 0;
          break;
        }
        case BloscFormat::kZstd: {
          ZSTD_DCtx* dctx = ThreadZstd();
          if (dctx == nullptr) return ResourceExhaustedError("blosc: cannot create a zstd decoder");
          const size_t r = ZSTD_decompressDCtx(dctx, out, neblock, src, csize);
          ok = !ZSTD_isError(r);
          got = ok ? r : 0;
          break;
        }
        case BloscFormat::kZlib: {
          libdeflate_decompressor* d = ThreadDeflate();
          if (d == nullptr) return ResourceExhaustedError("blosc: cannot create a zlib decoder");
          size_t actual = 0;
          ok = libdeflate_zlib_decompress(d, src, csize, out, neblock, &actual) ==
               LIBDEFLATE_SUCCESS;
          got = ok ? actual : 0;
          break;
        }
        default:
          return InvalidArgumentError("blosc: compressor format not handled by lsio's decoder");
      }
      if (!ok || got != neblock) {
        return StreamError(j, s, fmt::format("{} bytes do not decompress to the {} declared",
                                             csize, neblock));
      }
    }
    offset += csize;
  }
  return Status();
}

// The byte streams of a shuffled block whose compressed streams are at `where`: one per byte of
// the element, either the split streams themselves or equal parts of the one stream.
void ShuffledStreams(const BloscFrameInfo& info, uint32_t j, const std::byte* const* where,
                     const std::byte** streams) {
  const size_t n = info.block_bytes(j) / info.typesize;
  if (info.block_streams(j) == info.typesize) {
    for (size_t b = 0; b < info.typesize; ++b) streams[b] = where[b];
  } else {
    for (size_t b = 0; b < info.typesize; ++b) streams[b] = where[0] + b * n;
  }
}

Status CheckHandled(const BloscFrameInfo& info) {
  if (!BloscOwnDecoderHandles(info)) {
    return InvalidArgumentError(
        "blosc: frame uses a compressor or shuffle that lsio's decoder leaves to c-blosc");
  }
  return Status();
}

}  // namespace

uint32_t BloscFrameInfo::block_bytes(uint32_t j) const {
  const uint32_t leftover = nbytes % blocksize;
  return (j + 1 == num_blocks && leftover != 0) ? leftover : blocksize;
}

uint32_t BloscFrameInfo::block_streams(uint32_t j) const {
  const bool leftover_block = j + 1 == num_blocks && nbytes % blocksize != 0;
  const uint32_t bsize = block_bytes(j);
  const bool split = (flags & 0x10) == 0 && typesize <= kMaxSplits &&
                     bsize / typesize >= kMinBufferSize && !leftover_block;
  return split ? typesize : 1;
}

Result<BloscFrameInfo> ParseBloscFrame(std::span<const std::byte> frame, size_t max_nbytes) {
  if (frame.size() < kBloscHeaderSize) {
    return CorruptDataError(fmt::format("blosc: {} bytes are too short for the {}-byte header",
                                        frame.size(), kBloscHeaderSize));
  }
  const std::byte* h = frame.data();
  BloscFrameInfo info;
  info.version = static_cast<uint8_t>(h[0]);
  info.format_version = static_cast<uint8_t>(h[1]);
  info.flags = static_cast<uint8_t>(h[2]);
  info.typesize = static_cast<uint8_t>(h[3]);
  info.nbytes = Le32(h + 4);
  info.blocksize = Le32(h + 8);
  info.cbytes = Le32(h + 12);
  if (info.cbytes != frame.size()) {
    return CorruptDataError(fmt::format(
        "blosc: header declares a compressed size of {} bytes, but the frame has {}",
        info.cbytes, frame.size()));
  }
  // c-blosc reads no sizes from a header of another version.
  if (info.version != 2) {
    return CorruptDataError(fmt::format("blosc: format version {} is not 2", info.version));
  }
  if (info.nbytes == 0) return info;  // c-blosc decodes nothing, whatever else the header says
  if (info.nbytes > max_nbytes || info.nbytes > uint32_t{INT32_MAX} - kBloscHeaderSize) {
    return CorruptDataError(fmt::format(
        "blosc: header declares {} decoded bytes, more than the {} expected", info.nbytes,
        max_nbytes));
  }
  if ((info.flags & 0x08) != 0) {
    return CorruptDataError("blosc: header sets the reserved flag 0x08");
  }
  if (info.typesize == 0) return CorruptDataError("blosc: header declares a typesize of 0");
  if (info.blocksize == 0 || info.blocksize > max_nbytes ||
      info.blocksize > uint32_t{INT32_MAX}) {
    return CorruptDataError(
        fmt::format("blosc: header declares an invalid block size of {}", info.blocksize));
  }
  info.num_blocks = info.nbytes / info.blocksize + (info.nbytes % info.blocksize != 0 ? 1 : 0);
  if (info.memcpyed()) {
    if (size_t{info.nbytes} + kBloscHeaderSize != info.cbytes) {
      return CorruptDataError(fmt::format(
          "blosc: stored frame of {} bytes does not hold the {} bytes it declares", info.cbytes,
          info.nbytes));
    }
  } else if (info.num_blocks > (info.cbytes - kBloscHeaderSize) / 4) {
    return CorruptDataError(fmt::format(
        "blosc: the offsets of {} blocks do not fit in a frame of {} bytes", info.num_blocks,
        info.cbytes));
  }
  return info;
}

bool BloscOwnDecoderHandles(const BloscFrameInfo& info) {
  if (info.nbytes == 0 || info.memcpyed()) return true;
  if (info.format_version != 1) return false;
  switch (info.format()) {
    case BloscFormat::kLz4:
    case BloscFormat::kZstd:
    case BloscFormat::kZlib:
      return true;
    default:
      return false;
  }
}

namespace {

Scratch& PlaneScratch() {
  thread_local Scratch s;
  return s;
}

// A decompressed block, ready to be unshuffled: `streams` are its typesize byte planes (n
// elements each) followed by `tail` bytes that are not shuffled; or, when !shuffled, the bytes
// of its `num_plain` streams in order, each block_bytes / num_plain long.
struct PreparedBlock {
  bool shuffled = false;
  size_t n = 0;
  const std::byte* streams[256];
  const std::byte* tail = nullptr;
  size_t tail_bytes = 0;
  uint32_t num_plain = 0;
};

// Decompresses block j (into `tmp`, or straight into `direct` when the block needs no unshuffle
// and `direct` is given) and undoes a bit shuffle up to byte planes (in `planes`).
Status PrepareBlock(const BloscFrameInfo& info, std::span<const std::byte> frame, uint32_t j,
                    std::byte* tmp, std::byte* planes, std::byte* direct, PreparedBlock& p) {
  const uint32_t bsize = info.block_bytes(j);
  const size_t typesize = info.typesize;
  p.n = bsize / typesize;
  const std::byte* where[kMaxSplits];
  if (info.byte_shuffle()) {
    LSIO_RETURN_IF_ERROR(DecompressBlock(info, frame, j, tmp, where));
    ShuffledStreams(info, j, where, p.streams);
    p.shuffled = true;
    p.tail = where[0] + p.n * typesize;  // only a block of one stream has a tail
    p.tail_bytes = bsize - p.n * typesize;
    return Status();
  }
  // c-blosc bit-unshuffles a block of at least one element whose element count is a multiple of
  // 8, and leaves any other block as it is.
  if (info.bit_shuffle() && bsize >= typesize && p.n % 8 == 0) {
    LSIO_RETURN_IF_ERROR(DecompressBlock(info, frame, j, tmp));
    internal::BitRowsToBytePlanes(tmp, typesize, p.n, planes);
    for (size_t b = 0; b < typesize; ++b) p.streams[b] = planes + b * p.n;
    p.shuffled = true;
    p.tail = tmp + p.n * typesize;
    p.tail_bytes = bsize - p.n * typesize;
    return Status();
  }
  p.shuffled = false;
  p.num_plain = info.block_streams(j);
  if (direct != nullptr) {
    LSIO_RETURN_IF_ERROR(DecompressBlock(info, frame, j, direct));
    for (uint32_t s = 0; s < p.num_plain; ++s) p.streams[s] = direct + s * (bsize / p.num_plain);
    return Status();
  }
  LSIO_RETURN_IF_ERROR(DecompressBlock(info, frame, j, tmp, where));
  for (uint32_t s = 0; s < p.num_plain; ++s) p.streams[s] = where[s];
  return Status();
}

// Scratch for the blocks of `info`: the compressed streams' output, and byte planes for a bit
// shuffle.
Status BlockScratches(const BloscFrameInfo& info, std::byte** tmp, std::byte** planes) {
  const size_t max_block = std::min(info.blocksize, info.nbytes);
  *tmp = BlockScratch().Get(max_block);
  *planes = info.bit_shuffle() ? PlaneScratch().Get(max_block) : nullptr;
  if (*tmp == nullptr || (info.bit_shuffle() && *planes == nullptr)) {
    return ResourceExhaustedError("blosc: out of memory for block scratch");
  }
  return Status();
}

}  // namespace

Result<size_t> DecodeBloscFrame(std::span<const std::byte> frame, std::span<std::byte> out) {
  LSIO_ASSIGN_OR_RETURN(BloscFrameInfo info, ParseBloscFrame(frame, out.size()));
  LSIO_RETURN_IF_ERROR(CheckHandled(info));
  if (info.nbytes == 0) return size_t{0};
  if (info.memcpyed()) {
    std::memcpy(out.data(), frame.data() + kBloscHeaderSize, info.nbytes);
    return size_t{info.nbytes};
  }
  const bool stream_out = info.nbytes >= kStreamOutBytes;
  std::byte *tmp, *planes;
  LSIO_RETURN_IF_ERROR(BlockScratches(info, &tmp, &planes));
  PreparedBlock p;
  for (uint32_t j = 0; j < info.num_blocks; ++j) {
    std::byte* dest = out.data() + size_t{j} * info.blocksize;
    LSIO_RETURN_IF_ERROR(PrepareBlock(info, frame, j, tmp, planes, dest, p));
    if (!p.shuffled) continue;  // decompressed in place
    internal::UnshuffleStreams(p.streams, info.typesize, 0, p.n, dest, stream_out);
    if (p.tail_bytes > 0) std::memcpy(dest + p.n * info.typesize, p.tail, p.tail_bytes);
  }
  return size_t{info.nbytes};
}

Result<size_t> DecodeBloscFrameStreaming(std::span<const std::byte> frame,
                                         DecodedWindowSink& sink, size_t window_bytes) {
  LSIO_ASSIGN_OR_RETURN(BloscFrameInfo info, ParseBloscFrame(frame));
  LSIO_RETURN_IF_ERROR(CheckHandled(info));
  window_bytes = std::max<size_t>(window_bytes, 1);
  auto pieces = [&](const std::byte* p, size_t n) -> Status {
    for (size_t off = 0; off < n; off += window_bytes) {
      LSIO_RETURN_IF_ERROR(sink.Consume({p + off, std::min(window_bytes, n - off)}));
    }
    return Status();
  };
  if (info.nbytes == 0) return size_t{0};
  if (info.memcpyed()) {
    LSIO_RETURN_IF_ERROR(pieces(frame.data() + kBloscHeaderSize, info.nbytes));
    return size_t{info.nbytes};
  }
  std::byte *tmp, *planes;
  LSIO_RETURN_IF_ERROR(BlockScratches(info, &tmp, &planes));
  const size_t typesize = info.typesize;
  const size_t window_elements = std::max<size_t>(1, window_bytes / typesize);
  std::byte* window = WindowScratch().Get(window_elements * typesize);
  if (window == nullptr) return ResourceExhaustedError("blosc: out of memory for a window");
  PreparedBlock p;
  for (uint32_t j = 0; j < info.num_blocks; ++j) {
    if (!sink.Wants(info.block_bytes(j))) {  // not decompressed at all
      LSIO_RETURN_IF_ERROR(sink.Skip(info.block_bytes(j)));
      continue;
    }
    LSIO_RETURN_IF_ERROR(PrepareBlock(info, frame, j, tmp, planes, nullptr, p));
    if (!p.shuffled) {
      const size_t part = info.block_bytes(j) / p.num_plain;
      for (uint32_t s = 0; s < p.num_plain; ++s) LSIO_RETURN_IF_ERROR(pieces(p.streams[s], part));
      continue;
    }
    for (size_t first = 0; first < p.n; first += window_elements) {
      const size_t count = std::min(window_elements, p.n - first);
      internal::UnshuffleStreams(p.streams, typesize, first, count, window, false);
      LSIO_RETURN_IF_ERROR(sink.Consume({window, count * typesize}));
    }
    if (p.tail_bytes > 0) LSIO_RETURN_IF_ERROR(sink.Consume({p.tail, p.tail_bytes}));
  }
  return size_t{info.nbytes};
}

}  // namespace lsio::codec

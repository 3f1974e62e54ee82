// bzip2 through libbz2's streaming API, so that the output is bounded by the chunk and several
// concatenated streams decode as Python's bz2.decompress decodes them.

#include <bzlib.h>
#include <fmt/format.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "builtin.h"
#include "config.h"

namespace lsio::codec::internal {

namespace {

enum class StreamResult { kEnd, kTooLarge, kTruncated, kCorrupt };

// Decodes one bzip2 stream from in[*in_pos...] into out[*out_pos...], advancing both.
StreamResult DecodeStream(std::span<const std::byte> in, size_t* in_pos, std::span<std::byte> out,
                          size_t* out_pos) {
  bz_stream s{};
  if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK) return StreamResult::kCorrupt;
  StreamResult result = StreamResult::kCorrupt;
  // bzlib may want output space before it reads the end of the stream: when the output is
  // full, it gets one spare byte, which must stay unused.
  char probe = 0;
  bool probing = false;
  while (true) {
    // bzlib counts in unsigned int; feed at most that much per call.
    constexpr size_t kMaxStep = std::numeric_limits<unsigned int>::max();
    const size_t in_left = in.size() - *in_pos;
    const size_t out_left = out.size() - *out_pos;
    const unsigned int avail_in = static_cast<unsigned int>(std::min(in_left, kMaxStep));
    const unsigned int avail_out = static_cast<unsigned int>(std::min(out_left, kMaxStep));
    s.next_in = const_cast<char*>(reinterpret_cast<const char*>(in.data() + *in_pos));
    s.avail_in = avail_in;
    s.next_out = probing ? &probe : reinterpret_cast<char*>(out.data() + *out_pos);
    s.avail_out = probing ? 1 : avail_out;
    const unsigned int offered_out = s.avail_out;
    const int r = BZ2_bzDecompress(&s);
    const size_t used_in = avail_in - s.avail_in;
    const size_t used_out = offered_out - s.avail_out;
    *in_pos += used_in;
    if (probing && used_out > 0) {
      result = StreamResult::kTooLarge;
      break;
    }
    if (!probing) *out_pos += used_out;
    if (r == BZ_STREAM_END) {
      result = StreamResult::kEnd;
      break;
    }
    if (r != BZ_OK) {
      result = StreamResult::kCorrupt;
      break;
    }
    if (used_in == 0 && used_out == 0) {
      // No progress: the input ran out mid-stream, or the output is full.
      if (*out_pos == out.size() && !probing) {
        probing = true;
        continue;
      }
      result = probing ? StreamResult::kTooLarge : StreamResult::kTruncated;
      break;
    }
  }
  BZ2_bzDecompressEnd(&s);
  return result;
}

class Bz2Codec final : public BytesToBytesCodec {
 public:
  explicit Bz2Codec(int level) : level_(level) {}

  std::string_view name() const override { return "bz2"; }

  Result<std::optional<size_t>> DecodedSize(std::span<const std::byte>) const override {
    return std::optional<size_t>();
  }

  Result<size_t> Decode(std::span<const std::byte> in, std::span<std::byte> out) const override {
    size_t in_pos = 0;
    size_t out_pos = 0;
    bool first = true;
    // Empty input decodes to nothing, as bz2.decompress(b'') does.
    while (in_pos < in.size()) {
      const size_t stream_start_out = out_pos;
      StreamResult r = DecodeStream(in, &in_pos, out, &out_pos);
      if (r == StreamResult::kTooLarge) {
        return CorruptDataError(
            fmt::format("bz2: data decodes to more than the {} bytes expected", out.size()));
      }
      if (r != StreamResult::kEnd) {
        // Like bz2.decompress: bytes after a complete stream that are not a stream are
        // ignored; a first stream that does not decode is an error.
        if (!first) {
          out_pos = stream_start_out;
          break;
        }
        return CorruptDataError(fmt::format(
            "bz2: {} bzip2 stream of {} bytes",
            r == StreamResult::kTruncated ? "truncated" : "invalid", in.size()));
      }
      first = false;
    }
    return out_pos;
  }

  Result<Buffer> Encode(std::span<const std::byte> in) const override {
    if (in.size() > std::numeric_limits<unsigned int>::max() / 2) {
      return InvalidArgumentError(
          fmt::format("bz2: a chunk of {} bytes exceeds libbz2's limit", in.size()));
    }
    // bzip2's documented worst case: 1% larger plus 600 bytes.
    unsigned int capacity = static_cast<unsigned int>(in.size() + in.size() / 100 + 600);
    LSIO_ASSIGN_OR_RETURN(Buffer out, DefaultBufferPool().Acquire(capacity));
    const int r = BZ2_bzBuffToBuffCompress(
        reinterpret_cast<char*>(out.mutable_data()), &capacity,
        const_cast<char*>(reinterpret_cast<const char*>(in.data())),
        static_cast<unsigned int>(in.size()), level_, 0, 0);
    if (r != BZ_OK) {
      return InternalError(fmt::format("bz2: compression of {} bytes failed ({})", in.size(), r));
    }
    out.Truncate(capacity);
    return out;
  }

  std::string Describe() const override { return fmt::format("bz2(level={})", level_); }

 private:
  int level_;
};

}  // namespace

Result<std::unique_ptr<BytesToBytesCodec>> MakeBz2Codec(const nlohmann::json& config) {
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make("bz2", config));
  LSIO_ASSIGN_OR_RETURN(int64_t level, reader.Int("level", 1, 1, 9));
  return std::unique_ptr<BytesToBytesCodec>(new Bz2Codec(static_cast<int>(level)));
}

}  // namespace lsio::codec::internal

// gzip and zlib through libdeflate: whole-buffer (de)compression, which is what a chunk is, and
// the fastest correct inflate we measured (docs/benchmarks.md compares ISA-L and zlib).

#include <fmt/format.h>
#include <libdeflate.h>

#include <array>
#include <memory>
#include <nlohmann/json.hpp>

#include "builtin.h"
#include "config.h"

namespace lsio::codec::internal {

namespace {

libdeflate_decompressor* ThreadDecompressor() {
  thread_local std::unique_ptr<libdeflate_decompressor, void (*)(libdeflate_decompressor*)> d(
      libdeflate_alloc_decompressor(), &libdeflate_free_decompressor);
  return d.get();
}

libdeflate_compressor* ThreadCompressor(int level) {
  thread_local std::array<
      std::unique_ptr<libdeflate_compressor, void (*)(libdeflate_compressor*)>, 10>
      compressors = [] {
        std::array<std::unique_ptr<libdeflate_compressor, void (*)(libdeflate_compressor*)>, 10>
            a{{{nullptr, &libdeflate_free_compressor},
               {nullptr, &libdeflate_free_compressor},
               {nullptr, &libdeflate_free_compressor},
               {nullptr, &libdeflate_free_compressor},
               {nullptr, &libdeflate_free_compressor},
               {nullptr, &libdeflate_free_compressor},
               {nullptr, &libdeflate_free_compressor},
               {nullptr, &libdeflate_free_compressor},
               {nullptr, &libdeflate_free_compressor},
               {nullptr, &libdeflate_free_compressor}}};
        return a;
      }();
  auto& c = compressors[static_cast<size_t>(level)];
  if (!c) c.reset(libdeflate_alloc_compressor(level));
  return c.get();
}

enum class Container { kGzip, kZlib };

class DeflateCodec final : public BytesToBytesCodec {
 public:
  DeflateCodec(Container container, int level) : container_(container), level_(level) {}

  std::string_view name() const override {
    return container_ == Container::kGzip ? "gzip" : "zlib";
  }

  Result<std::optional<size_t>> DecodedSize(std::span<const std::byte>) const override {
    return std::optional<size_t>();  // the gzip trailer's ISIZE is mod 2^32 and untrusted
  }

  Result<size_t> Decode(std::span<const std::byte> in, std::span<std::byte> out) const override {
    libdeflate_decompressor* d = ThreadDecompressor();
    if (d == nullptr) {
      return ResourceExhaustedError(fmt::format("{}: cannot create a decoder", name()));
    }
    size_t in_pos = 0;
    size_t out_pos = 0;
    // gzip: one or more members, optionally followed by zero padding (Python's gzip module
    // reads both). zlib: one stream; trailing bytes are ignored, as zlib.decompress does.
    do {
      size_t used_in = 0;
      size_t used_out = 0;
      libdeflate_result r;
      if (container_ == Container::kGzip) {
        r = libdeflate_gzip_decompress_ex(d, in.data() + in_pos, in.size() - in_pos,
                                          out.data() + out_pos, out.size() - out_pos, &used_in,
                                          &used_out);
      } else {
        r = libdeflate_zlib_decompress_ex(d, in.data() + in_pos, in.size() - in_pos,
                                          out.data() + out_pos, out.size() - out_pos, &used_in,
                                          &used_out);
      }
      if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
        return CorruptDataError(fmt::format("{}: data decodes to more than the {} bytes expected",
                                            name(), out.size()));
      }
      if (r != LIBDEFLATE_SUCCESS) {
        return CorruptDataError(fmt::format("{}: invalid or truncated {} stream at offset {} of {}",
                                            name(), name(), in_pos, in.size()));
      }
      in_pos += used_in;
      out_pos += used_out;
      if (container_ == Container::kZlib) break;
      while (in_pos < in.size() && in[in_pos] == std::byte{0}) ++in_pos;
    } while (in_pos < in.size());
    return out_pos;
  }

  Result<Buffer> Encode(std::span<const std::byte> in) const override {
    libdeflate_compressor* c = ThreadCompressor(level_);
    if (c == nullptr) {
      return ResourceExhaustedError(fmt::format("{}: cannot create an encoder", name()));
    }
    const size_t bound = container_ == Container::kGzip
                             ? libdeflate_gzip_compress_bound(c, in.size())
                             : libdeflate_zlib_compress_bound(c, in.size());
    LSIO_ASSIGN_OR_RETURN(Buffer out, DefaultBufferPool().Acquire(bound));
    void* dest = out.mutable_data();
    const size_t n = container_ == Container::kGzip
                         ? libdeflate_gzip_compress(c, in.data(), in.size(), dest, bound)
                         : libdeflate_zlib_compress(c, in.data(), in.size(), dest, bound);
    if (n == 0) {
      return InternalError(fmt::format("{}: compression of {} bytes failed", name(), in.size()));
    }
    out.Truncate(n);
    return out;
  }

  std::string Describe() const override { return fmt::format("{}(level={})", name(), level_); }

 private:
  Container container_;
  int level_;
};

Result<std::unique_ptr<BytesToBytesCodec>> MakeDeflate(Container container,
                                                       const nlohmann::json& config) {
  const std::string_view codec = container == Container::kGzip ? "gzip" : "zlib";
  LSIO_ASSIGN_OR_RETURN(ConfigReader reader, ConfigReader::Make(codec, config));
  // numcodecs' default is 1; -1 is zlib's "default level" (6).
  LSIO_ASSIGN_OR_RETURN(int64_t level, reader.Int("level", 1, -1, 9));
  if (level == -1) level = 6;
  return std::unique_ptr<BytesToBytesCodec>(new DeflateCodec(container, static_cast<int>(level)));
}

}  // namespace

Result<std::unique_ptr<BytesToBytesCodec>> MakeGzipCodec(const nlohmann::json& config) {
  return MakeDeflate(Container::kGzip, config);
}
Result<std::unique_ptr<BytesToBytesCodec>> MakeZlibCodec(const nlohmann::json& config) {
  return MakeDeflate(Container::kZlib, config);
}

}  // namespace lsio::codec::internal

// CodecChain::DecodeStreaming on a zstd chain: zstd does not stream (its chunks are decoded
// whole: src/codec/zstd_codec.cc says why), so a caller that asks anyway gets the chunk in one
// piece, exactly the bytes zstd encoded, for every kind of frame libzstd writes (window sizes,
// checksums, frames without a content size, several frames in a row), and the errors of
// Decode for corrupt or truncated frames.

#define ZSTD_STATIC_LINKING_ONLY
#include <gtest/gtest.h>
#include <zstd.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "lsio/codec/chain.h"

namespace lsio::codec {
namespace {

class Collect final : public DecodedWindowSink {
 public:
  Status Consume(std::span<const std::byte> piece) override {
    bytes.insert(bytes.end(), piece.begin(), piece.end());
    ++pieces;
    return Status();
  }
  std::vector<std::byte> bytes;
  size_t pieces = 0;
};

// Data with back-references at every distance up to `period` (a random pattern repeated, with
// some noise): matches that reach far back into the window.
std::vector<std::byte> Data(size_t n, size_t period, uint32_t seed, uint32_t noise = 97) {
  std::mt19937 rng(seed);
  std::vector<std::byte> pattern(period);
  for (auto& b : pattern) b = std::byte(rng() & 0xff);
  std::vector<std::byte> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i] = pattern[i % period];
    if (noise != 0 && rng() % noise == 0) out[i] = std::byte(rng() & 0xff);
  }
  return out;
}

struct Frame {
  int level = 1;
  int window_log = 0;  // 0: the level's
  bool checksum = false;
  bool content_size = true;
};

std::vector<std::byte> Compress(std::span<const std::byte> data, const Frame& f) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, f.level);
  if (f.window_log != 0) ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, f.window_log);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, f.checksum ? 1 : 0);
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, f.content_size ? 1 : 0);
  std::vector<std::byte> out(ZSTD_compressBound(data.size()));
  const size_t n = ZSTD_compress2(cctx, out.data(), out.size(), data.data(), data.size());
  ZSTD_freeCCtx(cctx);
  EXPECT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
  out.resize(n);
  return out;
}

CodecChain Chain(size_t bytes) {
  const ArraySpec spec{DataType::kUInt8, {static_cast<int64_t>(bytes)}};
  auto chain = CodecChain::FromZarrV3(
      nlohmann::json::parse(R"([{"name": "bytes"}, {"name": "zstd"}])"), spec);
  EXPECT_TRUE(chain.ok()) << chain.status().ToString();
  return *std::move(chain);
}

// Streams `encoded` through a chain for `expected.size()` bytes; the pieces must add up to
// `expected`.
Collect StreamAndCompare(std::span<const std::byte> encoded,
                         const std::vector<std::byte>& expected) {
  const CodecChain chain = Chain(expected.size());
  Collect sink;
  const Status s = chain.DecodeStreaming(encoded, sink);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(sink.bytes, expected);
  return sink;
}

TEST(ZstdStreaming, EveryFrameIsHandedOverWholeInOnePiece) {
  // 3 MiB with matches up to 100 KiB back, at windows of 128 KiB to 8 MiB, with and without a
  // checksum or a content size; and two frames in a row (numcodecs reads those).
  const std::vector<std::byte> data = Data(size_t{3} << 20, 100'000, 1);
  EXPECT_FALSE(Chain(data.size()).can_stream());
  for (const Frame f : {Frame{1, 17}, Frame{1, 0}, Frame{3, 0, true}, Frame{5, 21},
                        Frame{1, 0, false, false}, Frame{1, 23}}) {
    SCOPED_TRACE(::testing::Message() << "level " << f.level << " window log " << f.window_log);
    EXPECT_EQ(StreamAndCompare(Compress(data, f), data).pieces, 1u);
  }
  const std::vector<std::byte> a = Data(150'000, 40'000, 2), b = Data(1'000'000, 7'000, 3);
  std::vector<std::byte> encoded = Compress(a, Frame{3});
  const std::vector<std::byte> second = Compress(b, Frame{1, 18, true});
  encoded.insert(encoded.end(), second.begin(), second.end());
  std::vector<std::byte> expected = a;
  expected.insert(expected.end(), b.begin(), b.end());
  EXPECT_EQ(StreamAndCompare(encoded, expected).pieces, 1u);
}

TEST(ZstdStreaming, CorruptBlocksAndChecksumsAreErrorsLikeDecode) {
  const std::vector<std::byte> data = Data(size_t{1} << 20, 30'000, 5);
  const CodecChain chain = Chain(data.size());
  const std::vector<std::byte> good = Compress(data, Frame{1, 17, true});
  std::vector<std::byte> out(data.size());
  std::mt19937 rng(6);
  int failed = 0;
  for (int k = 0; k < 40; ++k) {
    std::vector<std::byte> bad = good;
    // Past the frame header: block contents, block headers, the checksum at the end.
    const size_t pos = k == 0 ? bad.size() - 2 : 20 + rng() % (bad.size() - 20);
    bad[pos] ^= std::byte{static_cast<uint8_t>(1u << (k % 8))};
    Collect sink;
    const Status streamed = chain.DecodeStreaming(bad, sink);
    const Status whole = chain.Decode(bad, out);
    EXPECT_EQ(streamed.code(), whole.code()) << "flip at " << pos << ": streamed "
                                             << streamed.ToString() << ", whole "
                                             << whole.ToString();
    if (!whole.ok()) ++failed;
  }
  EXPECT_GT(failed, 30);  // the checksum catches what the block decoder does not
  // Cut short: an error, never a short chunk.
  Collect sink;
  const std::vector<std::byte> cut(good.begin(), good.begin() + good.size() / 2);
  EXPECT_EQ(chain.DecodeStreaming(cut, sink).code(), StatusCode::kCorruptData);
}

}  // namespace
}  // namespace lsio::codec

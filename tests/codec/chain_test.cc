// CodecChain: building from Zarr v3 / v2 metadata, the decode paths (zero-copy where
// possible), layout conversions (transpose, order 'F') against explicit index arithmetic, and
// concurrent use.

#include "lsio/codec/chain.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <numeric>
#include <thread>
#include <vector>

namespace lsio::codec {
namespace {

using nlohmann::json;

template <typename T>
std::span<const std::byte> Bytes(const std::vector<T>& v) {
  return std::as_bytes(std::span(v));
}
template <typename T>
std::span<std::byte> MutableBytes(std::vector<T>& v) {
  return std::as_writable_bytes(std::span(v));
}

std::vector<float> Iota(size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) * 0.25f - 7.0f;
  return v;
}

Status BuildV3(const char* codecs, const ArraySpec& spec) {
  return CodecChain::FromZarrV3(json::parse(codecs), spec).status();
}

TEST(CodecChainV3, RejectsMalformedCodecLists) {
  const ArraySpec f4{DataType::kFloat32, {4, 4}};
  struct Case {
    const char* codecs;
    StatusCode code;
    const char* text;
  };
  const Case kCases[] = {
      {R"({"name": "bytes"})", StatusCode::kInvalidArgument, "must be a JSON array"},
      {R"([])", StatusCode::kInvalidArgument, "no array->bytes codec"},
      {R"([{"name": "zstd"}])", StatusCode::kInvalidArgument, "must follow the array->bytes"},
      {R"([{"name": "bytes", "configuration": {"endian": "little"}},
           {"name": "bytes", "configuration": {"endian": "little"}}])",
       StatusCode::kInvalidArgument, "exactly one array->bytes"},
      {R"([{"name": "bytes", "configuration": {"endian": "little"}},
           {"name": "transpose", "configuration": {"order": [1, 0]}}])",
       StatusCode::kInvalidArgument, "cannot follow the array->bytes"},
      {R"([42])", StatusCode::kInvalidArgument, "codecs[0]"},
      {R"([{"configuration": {}}])", StatusCode::kInvalidArgument, "codecs[0]"},
      {R"(["bytes"])", StatusCode::kInvalidArgument, "'endian' is required for float32"},
      {R"([{"name": "transpose", "configuration": {"order": [2, 1, 0]}},
           {"name": "bytes", "configuration": {"endian": "little"}}])",
       StatusCode::kInvalidArgument, "'order' has 3 entries but the chunk has rank 2"},
      {R"([{"name": "sharding_indexed", "configuration": {}}])", StatusCode::kNotSupported,
       "sharding"},
      {R"([{"name": "vlen-utf8"}])", StatusCode::kNotSupported, "codec vlen-utf8 is not supported"},
      {R"([{"name": "bytes", "configuration": {"endian": "little"}},
           {"name": "numcodecs.zfpy", "configuration": {"mode": 4}}])",
       StatusCode::kNotSupported, "codec numcodecs.zfpy is not supported"},
      {R"([{"name": "numcodecs.delta", "configuration": {"dtype": ">f4"}},
           {"name": "bytes", "configuration": {"endian": "little"}}])",
       StatusCode::kNotSupported, "big-endian"},
      {R"([{"name": "numcodecs.delta", "configuration": {"dtype": "<i4"}},
           {"name": "bytes", "configuration": {"endian": "little"}}])",
       StatusCode::kInvalidArgument, "field 'dtype' is <i4 but the array is float32"},
      {R"([{"name": "numcodecs.bitround", "configuration": {"keepbits": 30}},
           {"name": "bytes", "configuration": {"endian": "little"}}])",
       StatusCode::kInvalidArgument, "'keepbits' is 30"},
  };
  for (const Case& c : kCases) {
    Status s = BuildV3(c.codecs, f4);
    EXPECT_EQ(s.code(), c.code) << c.codecs << " -> " << s.ToString();
    EXPECT_NE(s.message().find(c.text), std::string::npos) << s.message();
  }
  EXPECT_EQ(BuildV3(R"(["bytes"])", {DataType::kUInt8, {4}}).code(), StatusCode::kOk);
  EXPECT_EQ(BuildV3(R"(["bytes"])", {DataType::kFloat32, {-1}}).code(),
            StatusCode::kInvalidArgument);
}

TEST(CodecChainV2, RejectsWhatItCannotRepresent) {
  const ArraySpec i2{DataType::kInt16, {10}};
  auto build = [&](const char* filters, const char* compressor, char order, Endian e) {
    return CodecChain::FromZarrV2(json::parse(filters), json::parse(compressor), order, e, i2)
        .status();
  };
  EXPECT_EQ(build("null", "null", 'X', Endian::kLittle).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(build(R"({"id": "delta"})", "null", 'C', Endian::kLittle).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(build(R"([{"dtype": "<i2"}])", "null", 'C', Endian::kLittle).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(build("null", R"({"id": "delta", "dtype": "<i2"})", 'C', Endian::kLittle).code(),
            StatusCode::kInvalidArgument);
  Status s = build(R"([{"id": "delta", "dtype": "<i2"}])", "null", 'C', Endian::kBig);
  EXPECT_EQ(s.code(), StatusCode::kNotSupported);
  EXPECT_NE(s.message().find("reinterpret"), std::string::npos) << s.message();
  EXPECT_EQ(build(R"([{"id": "delta", "dtype": ">i2"}])", "null", 'C', Endian::kBig).code(),
            StatusCode::kOk);
  s = build(R"([{"id": "shuffle", "elementsize": 2}, {"id": "delta", "dtype": "<i2"}])", "null",
            'C', Endian::kLittle);
  EXPECT_EQ(s.code(), StatusCode::kNotSupported);
  s = build("null", R"({"id": "zfpy", "mode": 4})", 'C', Endian::kLittle);
  EXPECT_EQ(s.code(), StatusCode::kNotSupported);
  EXPECT_EQ(s.message(), "codec zfpy is not supported");
}

TEST(CodecChain, DescribeAndIdentity) {
  const ArraySpec f4{DataType::kFloat32, {8, 8}};
  auto le = CodecChain::FromZarrV3(
      json::parse(R"([{"name":"bytes","configuration":{"endian":"little"}}])"), f4);
  ASSERT_TRUE(le.ok());
  EXPECT_TRUE(le->is_identity());
  EXPECT_EQ(le->Describe(), "bytes(endian=little)");
  auto be = CodecChain::FromZarrV3(
      json::parse(R"([{"name":"bytes","configuration":{"endian":"big"}}])"), f4);
  EXPECT_FALSE(be->is_identity());
  auto v2c = CodecChain::FromZarrV2(json(), json(), 'C', Endian::kLittle, f4);
  EXPECT_TRUE(v2c->is_identity());
  auto v2f = CodecChain::FromZarrV2(json(), json(), 'F', Endian::kLittle, f4);
  EXPECT_FALSE(v2f->is_identity());
  EXPECT_EQ(v2f->Describe(), "transpose(order=[1,0]) -> bytes(endian=little)");
  auto v2 = CodecChain::FromZarrV2(
      json::parse(R"([{"id": "delta", "dtype": "<f4", "astype": "<f4"}])"),
      json::parse(R"({"id": "blosc", "cname": "zstd", "clevel": 1, "shuffle": 2, "blocksize": 0})"),
      'C', Endian::kLittle, f4);
  ASSERT_TRUE(v2.ok()) << v2.status().ToString();
  EXPECT_EQ(v2->Describe(),
            "delta(dtype=<f4, astype=<f4) -> bytes(endian=little) -> blosc(cname=zstd, "
            "clevel=1, shuffle=bitshuffle, typesize=4, blocksize=0)");
  EXPECT_EQ(v2->decoded_spec(), f4);
}

// zarr-python fills blosc's typesize (and shuffle) from the array; blosc records typesize in
// byte 3 of its header.
TEST(CodecChainV3, BloscTypesizeComesFromTheArray) {
  for (auto [dtype, width] : {std::pair{DataType::kFloat64, 8}, std::pair{DataType::kInt16, 2},
                              std::pair{DataType::kUInt8, 1}}) {
    const ArraySpec spec{dtype, {256}};
    auto chain = CodecChain::FromZarrV3(
        json::parse(R"([{"name":"bytes","configuration":{"endian":"little"}},
                        {"name":"blosc","configuration":{"cname":"lz4","clevel":5}}])"),
        spec);
    ASSERT_TRUE(chain.ok()) << chain.status().ToString();
    std::vector<std::byte> data(spec.num_bytes(), std::byte{3});
    auto encoded = chain->Encode(data);
    ASSERT_TRUE(encoded.ok());
    EXPECT_EQ(static_cast<int>(encoded->data()[3]), width);
    const int flags = static_cast<int>(encoded->data()[2]);
    EXPECT_EQ((flags & 0x1) != 0, width > 1) << "byte shuffle";  // BLOSC_DOSHUFFLE
    EXPECT_EQ((flags & 0x4) != 0, width == 1) << "bit shuffle";  // BLOSC_DOBITSHUFFLE
  }
}

// Decoding allocates no scratch when the last bytes->bytes codec can write into `out` and
// checksums verify in place.
TEST(CodecChain, ZeroCopyPathsTakeNothingFromThePool) {
  const ArraySpec spec{DataType::kFloat32, {32, 32}};
  const std::vector<float> data = Iota(32 * 32);
  const char* kZeroCopy[] = {
      R"([{"name":"bytes","configuration":{"endian":"little"}}])",
      R"([{"name":"bytes","configuration":{"endian":"little"}}, {"name":"crc32c"}])",
      R"([{"name":"bytes","configuration":{"endian":"little"}},
          {"name":"blosc","configuration":{"cname":"lz4","clevel":5,"shuffle":"shuffle"}}])",
      R"([{"name":"bytes","configuration":{"endian":"little"}},
          {"name":"zstd","configuration":{"level":1}}, {"name":"crc32c"}])",
      R"([{"name":"numcodecs.bitround","configuration":{"keepbits":23}},
          {"name":"bytes","configuration":{"endian":"little"}}, {"name":"gzip"}])",
  };
  for (const char* codecs : kZeroCopy) {
    auto chain = CodecChain::FromZarrV3(json::parse(codecs), spec);
    ASSERT_TRUE(chain.ok()) << chain.status().ToString();
    auto encoded = chain->Encode(Bytes(data));
    ASSERT_TRUE(encoded.ok());
    BufferPool pool;
    std::vector<float> out(data.size());
    ASSERT_TRUE(chain->Decode(encoded->span(), MutableBytes(out), pool).ok());
    EXPECT_EQ(out, data) << codecs;
    EXPECT_EQ(pool.stats().allocations + pool.stats().reuses, 0u) << codecs;
  }
  // A big-endian chain needs one scratch buffer for the swap, returned afterwards.
  auto be = CodecChain::FromZarrV3(
      json::parse(R"([{"name":"bytes","configuration":{"endian":"big"}}, {"name":"zstd"}])"), spec);
  auto encoded = be->Encode(Bytes(data));
  BufferPool pool;
  std::vector<float> out(data.size());
  ASSERT_TRUE(be->Decode(encoded->span(), MutableBytes(out), pool).ok());
  EXPECT_EQ(out, data);
  EXPECT_EQ(pool.stats().allocations, 1u);
  EXPECT_EQ(pool.stats().bytes_outstanding, 0u);
}

TEST(CodecChain, EncodedBuffersDoNotKeepTheCompressorsWorstCaseCapacity) {
  const ArraySpec spec{DataType::kFloat64, {512, 512}};
  auto chain = CodecChain::FromZarrV3(
      json::parse(R"([{"name":"bytes","configuration":{"endian":"little"}},{"name":"zstd"}])"),
      spec);
  std::vector<double> zeros(512 * 512, 0.0);
  auto encoded = chain->Encode(Bytes(zeros));
  ASSERT_TRUE(encoded.ok());
  EXPECT_LT(encoded->size(), 1024u);
  EXPECT_LE(encoded->capacity(), 2 * BufferPool::SizeClass(encoded->size()));
}

TEST(CodecChain, OutputOfTheWrongSizeIsRejected) {
  const ArraySpec spec{DataType::kInt32, {10}};
  auto chain = CodecChain::FromZarrV2(json(), json(), 'C', Endian::kLittle, spec);
  std::vector<int32_t> in(10, 1), out(9);
  Status s = chain->Decode(Bytes(in), MutableBytes(out));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(chain->Encode(Bytes(out)).status().code(), StatusCode::kInvalidArgument);
  // Stored bytes of the wrong size are corrupt data, not an overrun.
  s = chain->Decode(std::span(Bytes(in)).first(36), MutableBytes(in));
  EXPECT_EQ(s.code(), StatusCode::kCorruptData);
}

// A Zarr v2 'F' chunk stores element (i, j, k) of a (2, 3, 4) chunk at k*6 + j*2 + i.
TEST(CodecChainV2, FortranOrderChunksDecodeToCOrder) {
  const ArraySpec spec{DataType::kInt16, {2, 3, 4}};
  std::vector<int16_t> stored(24);
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 3; ++j) {
      for (int k = 0; k < 4; ++k) {
        stored[k * 6 + j * 2 + i] = static_cast<int16_t>(100 * i + 10 * j + k);
      }
    }
  }
  for (Endian e : {Endian::kLittle, Endian::kBig}) {
    std::vector<int16_t> bytes = stored;
    if (e == Endian::kBig) {
      for (int16_t& v : bytes) {
        v = static_cast<int16_t>(__builtin_bswap16(static_cast<uint16_t>(v)));
      }
    }
    auto chain = CodecChain::FromZarrV2(json(), json(), 'F', e, spec);
    ASSERT_TRUE(chain.ok());
    std::vector<int16_t> out(24);
    ASSERT_TRUE(chain->Decode(Bytes(bytes), MutableBytes(out)).ok());
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 3; ++j) {
        for (int k = 0; k < 4; ++k) EXPECT_EQ(out[i * 12 + j * 4 + k], 100 * i + 10 * j + k);
      }
    }
    auto encoded = chain->Encode(Bytes(out));
    ASSERT_TRUE(encoded.ok());
    EXPECT_EQ(std::memcmp(encoded->data(), bytes.data(), 48), 0);
  }
}

// Zarr v3 transpose: encoded.shape[i] = decoded.shape[order[i]], so encoded element
// (a, b, c) with order [2, 0, 1] is decoded element (b, c, a).
TEST(CodecChainV3, TransposeMatchesIndexArithmetic) {
  const ArraySpec spec{DataType::kFloat64, {3, 4, 5}};
  auto chain = CodecChain::FromZarrV3(
      json::parse(R"([{"name":"transpose","configuration":{"order":[2,0,1]}},
                      {"name":"bytes","configuration":{"endian":"little"}}])"),
      spec);
  ASSERT_TRUE(chain.ok());
  std::vector<double> decoded(60);
  std::iota(decoded.begin(), decoded.end(), 0.0);
  auto encoded = chain->Encode(Bytes(decoded));
  ASSERT_TRUE(encoded.ok());
  std::vector<double> enc(60);
  std::memcpy(enc.data(), encoded->data(), 480);
  for (int a = 0; a < 5; ++a) {
    for (int b = 0; b < 3; ++b) {
      for (int c = 0; c < 4; ++c) {
        EXPECT_EQ(enc[(a * 3 + b) * 4 + c], decoded[(b * 4 + c) * 5 + a]);
      }
    }
  }
  std::vector<double> back(60);
  ASSERT_TRUE(chain->Decode(encoded->span(), MutableBytes(back)).ok());
  EXPECT_EQ(back, decoded);
}

TEST(CodecChain, ManyThreadsDecodeOneChain) {
  const ArraySpec spec{DataType::kFloat32, {64, 64}};
  auto chain = CodecChain::FromZarrV3(
      json::parse(R"([{"name":"numcodecs.delta","configuration":{"dtype":"<f4"}},
                      {"name":"bytes","configuration":{"endian":"big"}},
                      {"name":"zstd","configuration":{"level":3}},
                      {"name":"blosc","configuration":{"cname":"lz4"}}, {"name":"crc32c"}])"),
      spec);
  ASSERT_TRUE(chain.ok()) << chain.status().ToString();
  const std::vector<float> data = Iota(64 * 64);
  auto encoded = chain->Encode(Bytes(data));
  ASSERT_TRUE(encoded.ok());
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> out(data.size());
      for (int i = 0; i < 50; ++i) {
        if (!chain->Decode(encoded->span(), MutableBytes(out)).ok() || out != data) return;
      }
      ok[t] = 1;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok, std::vector<int>(4, 1));
}

}  // namespace
}  // namespace lsio::codec

#include "lsio/codec/registry.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <variant>

#include "builtin.h"

namespace lsio::codec {

struct CodecRegistry::Entry {
  std::variant<ArrayToArrayFactory, ArrayToBytesFactory, BytesToBytesFactory> factory;
};

namespace {

constexpr std::string_view kNumcodecsPrefix = "numcodecs.";

Status NotSupported(std::string_view name) {
  return NotSupportedError(fmt::format("codec {} is not supported", name));
}

std::string_view KindName(size_t index) {
  switch (index) {
    case 0:
      return "an array->array";
    case 1:
      return "an array->bytes";
    default:
      return "a bytes->bytes";
  }
}

// Calls the factory of kind `Index`, or explains which kind the codec is.
template <size_t Index, typename Codec, typename Entry>
Result<std::unique_ptr<Codec>> MakeOfKind(const Entry* entry, std::string_view name,
                                          const nlohmann::json& config) {
  if (entry == nullptr) return NotSupported(name);
  if (entry->factory.index() != Index) {
    return InvalidArgumentError(fmt::format("codec {} is {} codec, used where {} codec belongs",
                                            name, KindName(entry->factory.index()),
                                            KindName(Index)));
  }
  return std::get<Index>(entry->factory)(config);
}

}  // namespace

const CodecRegistry& CodecRegistry::Builtin() {
  static const CodecRegistry* registry = [] {
    auto* r = new CodecRegistry;
    RegisterBuiltinCodecs(*r);
    return r;
  }();
  return *registry;
}

void CodecRegistry::Add(std::string name, std::shared_ptr<Entry> entry) {
  for (auto& [existing, e] : entries_) {
    if (existing == name) {
      e = std::move(entry);
      return;
    }
  }
  entries_.emplace_back(std::move(name), std::move(entry));
}

void CodecRegistry::Register(std::string name, ArrayToArrayFactory f) {
  Add(std::move(name), std::make_shared<Entry>(Entry{f}));
}
void CodecRegistry::Register(std::string name, ArrayToBytesFactory f) {
  Add(std::move(name), std::make_shared<Entry>(Entry{f}));
}
void CodecRegistry::Register(std::string name, BytesToBytesFactory f) {
  Add(std::move(name), std::make_shared<Entry>(Entry{f}));
}

const CodecRegistry::Entry* CodecRegistry::Find(std::string_view name) const {
  for (const auto& [existing, e] : entries_) {
    if (existing == name) return e.get();
  }
  if (name.starts_with(kNumcodecsPrefix)) {
    std::string_view id = name.substr(kNumcodecsPrefix.size());
    for (const auto& [existing, e] : entries_) {
      if (existing == id) return e.get();
    }
  }
  return nullptr;
}

std::optional<CodecRegistry::Kind> CodecRegistry::KindOf(std::string_view name) const {
  const Entry* e = Find(name);
  if (e == nullptr) return std::nullopt;
  switch (e->factory.index()) {
    case 0:
      return Kind::kArrayToArray;
    case 1:
      return Kind::kArrayToBytes;
    default:
      return Kind::kBytesToBytes;
  }
}

Result<std::unique_ptr<ArrayToArrayCodec>> CodecRegistry::MakeArrayToArray(
    std::string_view name, const nlohmann::json& config) const {
  return MakeOfKind<0, ArrayToArrayCodec>(Find(name), name, config);
}
Result<std::unique_ptr<ArrayToBytesCodec>> CodecRegistry::MakeArrayToBytes(
    std::string_view name, const nlohmann::json& config) const {
  return MakeOfKind<1, ArrayToBytesCodec>(Find(name), name, config);
}
Result<std::unique_ptr<BytesToBytesCodec>> CodecRegistry::MakeBytesToBytes(
    std::string_view name, const nlohmann::json& config) const {
  return MakeOfKind<2, BytesToBytesCodec>(Find(name), name, config);
}

void RegisterBuiltinCodecs(CodecRegistry& r) {
  using namespace internal;  // NOLINT(build/namespaces): the factory list reads better
  // array->bytes
  r.Register("bytes", &MakeBytesCodec);
  // array->array: Zarr v3 transpose and the numcodecs filters
  r.Register("transpose", &MakeTransposeCodec);
  r.Register("delta", &MakeDeltaCodec);
  r.Register("fixedscaleoffset", &MakeFixedScaleOffsetCodec);
  r.Register("bitround", &MakeBitRoundCodec);
  r.Register("quantize", &MakeQuantizeCodec);
  r.Register("astype", &MakeAsTypeCodec);
  // bytes->bytes: compressors. "blosc", "zstd" and "gzip" are Zarr v3 names and numcodecs ids
  // at once; their factories accept both spellings of the configuration.
  r.Register("blosc", &MakeBloscCodec);
  r.Register("zstd", &MakeZstdCodec);
  r.Register("lz4", &MakeLz4Codec);
  r.Register("gzip", &MakeGzipCodec);
  r.Register("zlib", &MakeZlibCodec);
  r.Register("bz2", &MakeBz2Codec);
  r.Register("lzma", &MakeLzmaCodec);
  // bytes->bytes: checksums ("crc32c" is both the Zarr v3 codec and numcodecs' CRC32C, which
  // agree: 4 little-endian bytes at the end) and numcodecs' shuffle.
  r.Register("crc32c", &MakeCrc32cCodec);
  r.Register("crc32", &MakeCrc32Codec);
  r.Register("adler32", &MakeAdler32Codec);
  r.Register("fletcher32", &MakeFletcher32Codec);
  r.Register("shuffle", &MakeShuffleCodec);
}

}  // namespace lsio::codec

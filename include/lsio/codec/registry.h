#pragma once

// CodecRegistry: builds codecs by name from their JSON configuration.
//
// Names are Zarr v3 names ("blosc", "zstd", "gzip", "crc32c", "bytes", "transpose") and
// numcodecs ids as Zarr v2 writes them ("lz4", "zlib", "bz2", "lzma", "crc32", "adler32",
// "fletcher32", "shuffle", "delta", "fixedscaleoffset", "bitround", "quantize", "astype").
// zarr-python 3 writes numcodecs codecs into v3 metadata as "numcodecs.<id>": a name with that
// prefix that is not registered as such resolves to <id>. A configuration may carry a numcodecs
// "id" member; it is ignored (the name given is what counts). Unknown members are ignored.
//
// Thread safety: registration is not synchronised; register everything before sharing the
// registry. Lookups and Make* are const and safe from many threads.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "lsio/base/result.h"
#include "lsio/codec/codec_kinds.h"

namespace lsio::codec {

class CodecRegistry {
 public:
  // `config` is the codec's configuration object (null when the metadata has none).
  using ArrayToArrayFactory =
      Result<std::unique_ptr<ArrayToArrayCodec>> (*)(const nlohmann::json& config);
  using ArrayToBytesFactory =
      Result<std::unique_ptr<ArrayToBytesCodec>> (*)(const nlohmann::json& config);
  using BytesToBytesFactory =
      Result<std::unique_ptr<BytesToBytesCodec>> (*)(const nlohmann::json& config);

  // The registry with every built-in codec registered (RegisterBuiltinCodecs).
  static const CodecRegistry& Builtin();

  // Registering a name again replaces the earlier factory.
  void Register(std::string name, ArrayToArrayFactory f);
  void Register(std::string name, ArrayToBytesFactory f);
  void Register(std::string name, BytesToBytesFactory f);

  enum class Kind : unsigned char { kArrayToArray, kArrayToBytes, kBytesToBytes };
  // nullopt if `name` is not registered (after the "numcodecs." fallback).
  std::optional<Kind> KindOf(std::string_view name) const;

  // "codec X is not supported" (kNotSupported) for unknown names; kInvalidArgument for a
  // configuration the codec rejects (the message names the codec and the field) or for a
  // codec of another kind.
  Result<std::unique_ptr<ArrayToArrayCodec>> MakeArrayToArray(std::string_view name,
                                                              const nlohmann::json& config) const;
  Result<std::unique_ptr<ArrayToBytesCodec>> MakeArrayToBytes(std::string_view name,
                                                              const nlohmann::json& config) const;
  Result<std::unique_ptr<BytesToBytesCodec>> MakeBytesToBytes(std::string_view name,
                                                              const nlohmann::json& config) const;

 private:
  struct Entry;
  const Entry* Find(std::string_view name) const;
  void Add(std::string name, std::shared_ptr<Entry> entry);
  std::vector<std::pair<std::string, std::shared_ptr<Entry>>> entries_;
};

// Registers every codec lsio implements into `registry`.
void RegisterBuiltinCodecs(CodecRegistry& registry);

}  // namespace lsio::codec

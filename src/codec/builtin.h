#pragma once

// Factories of the built-in codecs (registered by RegisterBuiltinCodecs in registry.cc).

#include <memory>

#include <nlohmann/json_fwd.hpp>

#include "lsio/base/result.h"
#include "lsio/codec/codec_kinds.h"

namespace lsio::codec::internal {

// array->bytes
Result<std::unique_ptr<ArrayToBytesCodec>> MakeBytesCodec(const nlohmann::json& config);

// array->array
Result<std::unique_ptr<ArrayToArrayCodec>> MakeTransposeCodec(const nlohmann::json& config);
Result<std::unique_ptr<ArrayToArrayCodec>> MakeDeltaCodec(const nlohmann::json& config);
Result<std::unique_ptr<ArrayToArrayCodec>> MakeFixedScaleOffsetCodec(const nlohmann::json& config);
Result<std::unique_ptr<ArrayToArrayCodec>> MakeBitRoundCodec(const nlohmann::json& config);
Result<std::unique_ptr<ArrayToArrayCodec>> MakeQuantizeCodec(const nlohmann::json& config);
Result<std::unique_ptr<ArrayToArrayCodec>> MakeAsTypeCodec(const nlohmann::json& config);

// bytes->bytes: compressors
Result<std::unique_ptr<BytesToBytesCodec>> MakeBloscCodec(const nlohmann::json& config);
Result<std::unique_ptr<BytesToBytesCodec>> MakeZstdCodec(const nlohmann::json& config);
Result<std::unique_ptr<BytesToBytesCodec>> MakeLz4Codec(const nlohmann::json& config);
Result<std::unique_ptr<BytesToBytesCodec>> MakeGzipCodec(const nlohmann::json& config);
Result<std::unique_ptr<BytesToBytesCodec>> MakeZlibCodec(const nlohmann::json& config);
Result<std::unique_ptr<BytesToBytesCodec>> MakeBz2Codec(const nlohmann::json& config);
Result<std::unique_ptr<BytesToBytesCodec>> MakeLzmaCodec(const nlohmann::json& config);

// bytes->bytes: checksums and shuffle
Result<std::unique_ptr<BytesToBytesCodec>> MakeCrc32cCodec(const nlohmann::json& config);
Result<std::unique_ptr<BytesToBytesCodec>> MakeCrc32Codec(const nlohmann::json& config);
Result<std::unique_ptr<BytesToBytesCodec>> MakeAdler32Codec(const nlohmann::json& config);
Result<std::unique_ptr<BytesToBytesCodec>> MakeFletcher32Codec(const nlohmann::json& config);
Result<std::unique_ptr<BytesToBytesCodec>> MakeShuffleCodec(const nlohmann::json& config);

}  // namespace lsio::codec::internal

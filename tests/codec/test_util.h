#pragma once

// Helpers shared by the codec tests: files, numcodecs fixture manifests, chains from a case.

#include <cstddef>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lsio/base/dtype.h"
#include "lsio/codec/codec.h"

namespace lsio::codec::testing {

inline std::optional<std::vector<std::byte>> ReadFileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::vector<char> chars((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<std::byte> bytes(chars.size());
  for (size_t i = 0; i < chars.size(); ++i) bytes[i] = static_cast<std::byte>(chars[i]);
  return bytes;
}

inline bool WriteFileBytes(const std::string& path, std::span<const std::byte> bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(f);
}

// The decoded spec a fixture case describes ("dtype" is numpy's name, "shape" the chunk).
inline std::optional<ArraySpec> SpecOf(const nlohmann::json& c) {
  std::optional<DataType> t = ParseDataTypeName(c.at("dtype").get<std::string>());
  if (!t) return std::nullopt;
  ArraySpec spec;
  spec.dtype = *t;
  spec.shape = c.at("shape").get<std::vector<int64_t>>();
  return spec;
}

// Byte order of a numpy dtype string from .zarray ("<f4", ">i2", "|u1").
inline Endian EndianOf(const std::string& dtype) {
  return !dtype.empty() && dtype[0] == '>' ? Endian::kBig : Endian::kLittle;
}

// The chain of a "v2" or "v3" fixture case.
inline Result<CodecChain> ChainOf(const nlohmann::json& c, const ArraySpec& spec) {
  if (c.at("kind") == "v2") {
    const nlohmann::json& z = c.at("zarray");
    const std::string order = z.value("order", "C");
    return CodecChain::FromZarrV2(z.value("filters", nlohmann::json()),
                                  z.value("compressor", nlohmann::json()), order.at(0),
                                  EndianOf(z.at("dtype").get<std::string>()), spec);
  }
  return CodecChain::FromZarrV3(c.at("codecs"), spec);
}

}  // namespace lsio::codec::testing

#pragma once

// The hashes object storage needs, from OpenSSL: SHA-256 (payload hashes, SigV4), HMAC-SHA-256
// (SigV4 signing keys and signatures) and MD5 (S3's Content-MD5 on DeleteObjects).
//
// Thread safety: pure functions.

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace lsio::io::http {

using Sha256Digest = std::array<unsigned char, 32>;

Sha256Digest Sha256(std::span<const std::byte> data);
Sha256Digest Sha256(std::string_view data);
Sha256Digest HmacSha256(std::span<const unsigned char> key, std::string_view data);

// Lower-case hexadecimal of `bytes`.
std::string HexEncode(std::span<const unsigned char> bytes);
std::string Sha256Hex(std::span<const std::byte> data);
std::string Sha256Hex(std::string_view data);

// Base64 (RFC 4648, with padding) of the MD5 of `data`: a Content-MD5 header value.
std::string Md5Base64(std::string_view data);

// The hex SHA-256 of no bytes (GET, HEAD, DELETE payload hash).
inline constexpr std::string_view kEmptySha256Hex =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

}  // namespace lsio::io::http

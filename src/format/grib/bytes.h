#pragma once

// Big-endian octet reads for GRIB sections. Callers check bounds before reading (every
// template parser first checks that its section is long enough), so these do not.

#include <cstddef>
#include <cstdint>
#include <span>

namespace lsio::grib::internal {

inline uint64_t ReadUnsigned(const std::byte* p, int nbytes) {
  uint64_t v = 0;
  for (int i = 0; i < nbytes; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

inline uint8_t U8(std::span<const std::byte> s, size_t at) { return static_cast<uint8_t>(s[at]); }
inline uint16_t U16(std::span<const std::byte> s, size_t at) {
  return static_cast<uint16_t>(ReadUnsigned(s.data() + at, 2));
}
inline uint32_t U32(std::span<const std::byte> s, size_t at) {
  return static_cast<uint32_t>(ReadUnsigned(s.data() + at, 4));
}
inline uint64_t U64(std::span<const std::byte> s, size_t at) {
  return ReadUnsigned(s.data() + at, 8);
}

// GRIB's signed integers are sign and magnitude: the top bit is the sign (ecCodes'
// grib_decode_signed_long). A set sign bit with a zero magnitude is 0.
inline int64_t SignMagnitude(const std::byte* p, int nbytes) {
  const uint64_t raw = ReadUnsigned(p, nbytes);
  const uint64_t sign_bit = uint64_t{1} << (8 * nbytes - 1);
  const int64_t magnitude = static_cast<int64_t>(raw & (sign_bit - 1));
  return (raw & sign_bit) ? -magnitude : magnitude;
}
inline int64_t S16(std::span<const std::byte> s, size_t at) {
  return SignMagnitude(s.data() + at, 2);
}
inline int64_t S32(std::span<const std::byte> s, size_t at) {
  return SignMagnitude(s.data() + at, 4);
}
inline int64_t S8(std::span<const std::byte> s, size_t at) {
  return SignMagnitude(s.data() + at, 1);
}

inline bool Matches(std::span<const std::byte> s, size_t at, const char (&text)[5]) {
  if (at + 4 > s.size()) return false;
  for (int i = 0; i < 4; ++i) {
    if (static_cast<char>(s[at + i]) != text[i]) return false;
  }
  return true;
}

}  // namespace lsio::grib::internal

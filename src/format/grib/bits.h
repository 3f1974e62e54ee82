#pragma once

// Bit-level helpers for the GRIB packings: a big-endian bit reader, the scaled unpacking loop
// of simple packing (shared with PNG rows), and bitmap counting and spreading.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace lsio::grib::internal {

inline uint64_t LoadBigEndian64(const uint8_t* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return __builtin_bswap64(w);
}

// Reads big-endian bit fields of 0-64 bits. The caller checks that the bits it reads lie
// within the `size` bytes given; the reader never touches a byte past them.
class BitReader {
 public:
  BitReader(const uint8_t* p, uint64_t size, uint64_t start_bit = 0)
      : p_(p), size_(size), bit_(start_bit) {}

  uint64_t position() const { return bit_; }
  void Seek(uint64_t bit) { bit_ = bit; }

  uint64_t Read(unsigned nbits) {
    if (nbits == 0) return 0;
    const uint64_t byte = bit_ >> 3;
    const unsigned shift = static_cast<unsigned>(bit_ & 7);
    uint64_t v;
    if (nbits <= 57 && byte + 8 <= size_) {
      v = (LoadBigEndian64(p_ + byte) << shift) >> (64 - nbits);
    } else {
      v = Slow(nbits);
    }
    bit_ += nbits;
    return v;
  }

  // dst[j] = add + Read(nbits) for j < count.
  void ReadAdd(unsigned nbits, uint64_t count, uint64_t add, int64_t* dst) {
    if (nbits == 0) {
      for (uint64_t j = 0; j < count; ++j) dst[j] = static_cast<int64_t>(add);
      return;
    }
    uint64_t j = 0;
    if (nbits <= 57) {
      // Fast while 8 bytes can be loaded at the current position.
      const unsigned down = 64 - nbits;
      while (j < count && (bit_ >> 3) + 8 <= size_) {
        const uint64_t w = LoadBigEndian64(p_ + (bit_ >> 3));
        dst[j++] = static_cast<int64_t>(add + ((w << (bit_ & 7)) >> down));
        bit_ += nbits;
      }
    }
    for (; j < count; ++j) dst[j] = static_cast<int64_t>(add + Read(nbits));
  }

 private:
  uint64_t Slow(unsigned nbits) const {
    uint64_t v = 0;
    uint64_t b = bit_;
    unsigned left = nbits;
    while (left > 0) {
      const unsigned avail = 8 - static_cast<unsigned>(b & 7);
      const unsigned take = avail < left ? avail : left;
      const unsigned byte = p_[b >> 3];
      const unsigned bits = (byte >> (avail - take)) & ((1u << take) - 1);
      v = (v << take) | bits;
      b += take;
      left -= take;
    }
    return v;
  }

  const uint8_t* p_;
  uint64_t size_;
  uint64_t bit_;
};

// out[i] = T((X_i * s + r) * d) for the n big-endian `bpv`-bit unsigned integers X_i packed
// from the start of p (ecCodes' grib_decode_array, same operation order).
// Precondition: 1 <= bpv <= 64 and ceil(bpv * n / 8) <= size.
template <typename T>
void UnpackScaled(const uint8_t* p, uint64_t size, unsigned bpv, uint64_t n, double s, double r,
                  double d, T* out) {
  auto put = [&](uint64_t i, uint64_t x) {
    out[i] = static_cast<T>((static_cast<double>(x) * s + r) * d);
  };
  switch (bpv) {
    case 8:
      for (uint64_t i = 0; i < n; ++i) put(i, p[i]);
      return;
    case 16:
      for (uint64_t i = 0; i < n; ++i) put(i, (uint64_t{p[2 * i]} << 8) | p[2 * i + 1]);
      return;
    case 24:
      for (uint64_t i = 0; i < n; ++i) {
        const uint8_t* q = p + 3 * i;
        put(i, (uint64_t{q[0]} << 16) | (uint64_t{q[1]} << 8) | q[2]);
      }
      return;
    case 32:
      for (uint64_t i = 0; i < n; ++i) {
        uint32_t w;
        std::memcpy(&w, p + 4 * i, 4);
        put(i, __builtin_bswap32(w));
      }
      return;
    default:
      break;
  }
  uint64_t i = 0;
  if (bpv <= 57) {
    const unsigned down = 64 - bpv;
    uint64_t bit = 0;
    // Values whose 8-byte window lies inside the buffer.
    while (i < n && (bit >> 3) + 8 <= size) {
      const uint64_t w = LoadBigEndian64(p + (bit >> 3));
      put(i++, (w << (bit & 7)) >> down);
      bit += bpv;
    }
    BitReader tail(p, size, bit);
    for (; i < n; ++i) put(i, tail.Read(bpv));
    return;
  }
  BitReader reader(p, size);
  for (; i < n; ++i) put(i, reader.Read(bpv));
}

// The number of set bits among the first n bits of a big-endian bitmap.
inline uint64_t CountBits(const uint8_t* bitmap, uint64_t n) {
  uint64_t count = 0;
  const uint64_t full = n / 8;
  uint64_t i = 0;
  for (; i + 8 <= full; i += 8) {
    uint64_t w;
    std::memcpy(&w, bitmap + i, 8);
    count += static_cast<uint64_t>(std::popcount(w));
  }
  for (; i < full; ++i) count += static_cast<uint64_t>(std::popcount(bitmap[i]));
  const unsigned rest = static_cast<unsigned>(n % 8);
  if (rest) {
    const unsigned last = static_cast<unsigned>(bitmap[full] >> (8 - rest));
    count += static_cast<uint64_t>(std::popcount(last));
  }
  return count;
}

// out[i] = the next coded value if bit i is set, else `missing`, for i < n. `coded` may alias
// the tail of `out` (coded == out + n - present): each value is read before its slot is
// written, and reads stay ahead of writes.
template <typename T>
void ExpandBitmap(const uint8_t* bitmap, uint64_t n, const T* coded, T* out, T missing) {
  uint64_t j = 0;
  uint64_t i = 0;
  const uint64_t full = n / 8;
  for (uint64_t b = 0; b < full; ++b, i += 8) {
    const unsigned byte = bitmap[b];
    if (byte == 0xff) {
      for (unsigned k = 0; k < 8; ++k) out[i + k] = coded[j + k];
      j += 8;
    } else if (byte == 0) {
      for (unsigned k = 0; k < 8; ++k) out[i + k] = missing;
    } else {
      for (unsigned k = 0; k < 8; ++k) {
        out[i + k] = (byte >> (7 - k)) & 1 ? coded[j++] : missing;
      }
    }
  }
  for (; i < n; ++i) {
    const bool set = (bitmap[i >> 3] >> (7 - (i & 7))) & 1;
    out[i] = set ? coded[j++] : missing;
  }
}

}  // namespace lsio::grib::internal

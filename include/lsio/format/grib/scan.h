#pragma once

// Finding GRIB messages in bytes: where each message starts, how long it is, which edition.
//
// A GRIB file is a sequence of messages, each starting with the four bytes "GRIB" and ending
// with "7777"; the indicator section (section 0) right after "GRIB" holds the edition and the
// total length (GRIB2: 16 bytes, length in octets 9-16; GRIB1: 8 bytes, length in octets 5-7).
// Bytes between messages (padding, headers of bulletins) are skipped the way ecCodes skips
// them: the scan looks for the next "GRIB".
//
// These are pure functions over byte spans: no file or store is touched. A store-backed
// reader can scan a file without reading all of it: read the first 16 bytes at an offset,
// `ReadIndicator`, then jump by the length (and check "7777" with `CheckEndMarker`).
//
// GRIB1 messages are found and measured (so that a mixed file can be walked, and a GRIB1 file
// refused with a clear message) but never parsed: lsio reads GRIB edition 2 only.
//
// Thread safety: all functions are pure.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "lsio/base/result.h"

namespace lsio::grib {

// Bytes `ReadIndicator` needs: the GRIB2 indicator section (GRIB1 needs only 8).
inline constexpr size_t kIndicatorBytes = 16;

// Where a message lies in a file (or any byte sequence), and its edition (1 or 2).
struct MessageExtent {
  uint64_t offset = 0;  // of the "G" of "GRIB"
  uint64_t length = 0;  // total length, "GRIB" to "7777" inclusive
  int edition = 0;
  bool operator==(const MessageExtent&) const = default;
};

// Decodes the indicator section at the start of `head` (a message's first bytes; at least
// kIndicatorBytes for GRIB2, 8 for GRIB1; more is fine). `offset` is where `head` starts in
// the file and only names the place in errors. For a GRIB1 message whose length uses ECMWF's
// "large message" coding (the top bit of the 3-byte length), `head` must also hold the start
// of the message up to section 4's length (a few hundred bytes are always enough); otherwise
// the result is OutOfRange asking for more bytes.
// Errors: CorruptData (no "GRIB", unknown edition, a length shorter than the smallest
// message), OutOfRange (head too short to decide).
Result<MessageExtent> ReadIndicator(std::span<const std::byte> head, uint64_t offset);

// True if the four bytes ending a message of this extent, given as `tail` (the message's last
// 4 bytes), are "7777".
bool IsEndMarker(std::span<const std::byte> tail);

struct ScanOptions {
  // Stop after this many messages (0: no limit).
  size_t max_messages = 0;
};

// Every message in `bytes` (a whole file, or a prefix of one), in file order; `base_offset` is
// the file offset of bytes[0] and is added to every extent. Garbage between messages is
// skipped. Errors name the message number (0-based, in file order) and its byte offset:
// CorruptData for a message that does not end in "7777" or whose length is impossible,
// OutOfRange for a message that runs past the end of `bytes` (a truncated file).
Result<std::vector<MessageExtent>> ScanMessages(std::span<const std::byte> bytes,
                                                uint64_t base_offset = 0,
                                                const ScanOptions& options = {});

// The offset within `bytes` of the next "GRIB" at or after `from`, or bytes.size() if none.
size_t FindNextGrib(std::span<const std::byte> bytes, size_t from);

}  // namespace lsio::grib

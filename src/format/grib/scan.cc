#include "lsio/format/grib/scan.h"

#include <cstring>
#include <string>

#include "bytes.h"

namespace lsio::grib {

namespace {

using internal::Matches;
using internal::ReadUnsigned;

std::string At(uint64_t offset) { return "at byte " + std::to_string(offset); }

// GRIB1's 3-byte total length with ECMWF's coding for messages over 8 MiB (ecCodes
// grib_io.cc read_GRIB): when the top bit is set and section 4's length is below 120, the
// true length is (length & 0x7fffff) * 120 - section4_length + 4.
Result<uint64_t> Grib1Length(std::span<const std::byte> head, uint64_t offset) {
  const uint64_t coded = ReadUnsigned(head.data() + 4, 3);
  if (!(coded & 0x800000)) return coded;
  auto need = [&](size_t n) -> Status {
    if (head.size() < n) {
      return OutOfRangeError("GRIB1 message " + At(offset) +
                             ": large-message length coding needs the first " +
                             std::to_string(n) + " bytes");
    }
    return Status::OK();
  };
  size_t pos = 8;
  LSIO_RETURN_IF_ERROR(need(pos + 8));
  const uint64_t sec1 = ReadUnsigned(head.data() + pos, 3);
  const uint8_t flags = static_cast<uint8_t>(head[pos + 7]);
  if (sec1 < 8) return CorruptDataError("GRIB1 message " + At(offset) + ": section 1 too short");
  pos += sec1;
  if (flags & 0x80) {
    LSIO_RETURN_IF_ERROR(need(pos + 3));
    const uint64_t sec2 = ReadUnsigned(head.data() + pos, 3);
    if (sec2 < 3) return CorruptDataError("GRIB1 message " + At(offset) + ": bad section 2");
    pos += sec2;
  }
  if (flags & 0x40) {
    LSIO_RETURN_IF_ERROR(need(pos + 3));
    const uint64_t sec3 = ReadUnsigned(head.data() + pos, 3);
    if (sec3 < 3) return CorruptDataError("GRIB1 message " + At(offset) + ": bad section 3");
    pos += sec3;
  }
  LSIO_RETURN_IF_ERROR(need(pos + 3));
  const uint64_t sec4 = ReadUnsigned(head.data() + pos, 3);
  if (sec4 < 120) return (coded & 0x7fffff) * 120 - sec4 + 4;
  return coded;
}

}  // namespace

Result<MessageExtent> ReadIndicator(std::span<const std::byte> head, uint64_t offset) {
  if (head.size() < 8) {
    return OutOfRangeError("GRIB message " + At(offset) + ": " + std::to_string(head.size()) +
                           " bytes, the indicator section needs at least 8");
  }
  if (!Matches(head, 0, "GRIB")) {
    return CorruptDataError("no GRIB message " + At(offset) + " (the bytes are not \"GRIB\")");
  }
  MessageExtent extent;
  extent.offset = offset;
  extent.edition = static_cast<uint8_t>(head[7]);
  if (extent.edition == 2) {
    if (head.size() < kIndicatorBytes) {
      return OutOfRangeError("GRIB2 message " + At(offset) + ": the indicator section needs " +
                             std::to_string(kIndicatorBytes) + " bytes, have " +
                             std::to_string(head.size()));
    }
    extent.length = internal::U64(head, 8);
    // Indicator (16) + identification (21) + end marker (4) is the smallest possible message.
    if (extent.length < 41) {
      return CorruptDataError("GRIB2 message " + At(offset) + ": total length " +
                              std::to_string(extent.length) + " is shorter than any message");
    }
  } else if (extent.edition == 1) {
    LSIO_ASSIGN_OR_RETURN(extent.length, Grib1Length(head, offset));
    if (extent.length < 12) {
      return CorruptDataError("GRIB1 message " + At(offset) + ": total length " +
                              std::to_string(extent.length) + " is shorter than any message");
    }
  } else {
    return CorruptDataError("GRIB message " + At(offset) + ": unknown edition " +
                            std::to_string(extent.edition));
  }
  return extent;
}

bool IsEndMarker(std::span<const std::byte> tail) { return Matches(tail, 0, "7777"); }

size_t FindNextGrib(std::span<const std::byte> bytes, size_t from) {
  if (bytes.size() < 4) return bytes.size();
  const char* base = reinterpret_cast<const char*>(bytes.data());
  size_t pos = from;
  while (pos + 4 <= bytes.size()) {
    const void* hit = std::memchr(base + pos, 'G', bytes.size() - 3 - pos);
    if (hit == nullptr) break;
    pos = static_cast<size_t>(static_cast<const char*>(hit) - base);
    if (std::memcmp(base + pos, "GRIB", 4) == 0) return pos;
    ++pos;
  }
  return bytes.size();
}

Result<std::vector<MessageExtent>> ScanMessages(std::span<const std::byte> bytes,
                                                uint64_t base_offset,
                                                const ScanOptions& options) {
  std::vector<MessageExtent> out;
  size_t pos = FindNextGrib(bytes, 0);
  while (pos < bytes.size()) {
    if (options.max_messages != 0 && out.size() == options.max_messages) break;
    const uint64_t file_offset = base_offset + pos;
    const std::string where = "message " + std::to_string(out.size()) + " " + At(file_offset);
    Result<MessageExtent> extent = ReadIndicator(bytes.subspan(pos), file_offset);
    if (!extent.ok()) {
      if (extent.status().code() == StatusCode::kOutOfRange) {
        return OutOfRangeError(where + ": truncated: the file ends inside the indicator section");
      }
      return extent.status().WithContext(where);
    }
    if (extent->length > bytes.size() - pos) {
      return OutOfRangeError(where + ": truncated: the message is " +
                             std::to_string(extent->length) + " bytes long but the file has " +
                             std::to_string(bytes.size() - pos) + " bytes from its start");
    }
    if (!IsEndMarker(bytes.subspan(pos + extent->length - 4, 4))) {
      return CorruptDataError(where + ": no \"7777\" at the end of the message (byte " +
                              std::to_string(file_offset + extent->length - 4) +
                              "): wrong length or corrupt message");
    }
    out.push_back(*extent);
    pos = FindNextGrib(bytes, pos + extent->length);
  }
  return out;
}

}  // namespace lsio::grib

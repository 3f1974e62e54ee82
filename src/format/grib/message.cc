#include "lsio/format/grib/message.h"

#include <algorithm>
#include <optional>
#include <string>

#include "bytes.h"
#include "ieee.h"
#include "templates.h"

namespace lsio::grib {

namespace {

using internal::Matches;
using internal::S16;
using internal::U16;
using internal::U32;
using internal::U64;
using internal::U8;

// Which section may follow which (WMO: after section 7 the sequence 2-7, 3-7 or 4-7 may
// repeat; 8 ends the message).
bool MayFollow(int previous, int next) {
  switch (previous) {
    case 0: return next == 1;
    case 1: return next == 2 || next == 3;
    case 2: return next == 3;
    case 3: return next == 4;
    case 4: return next == 5;
    case 5: return next == 6;
    case 6: return next == 7;
    case 7: return next == 2 || next == 3 || next == 4 || next == 8;
    default: return false;
  }
}

std::string Expected(int previous) {
  switch (previous) {
    case 0: return "section 1";
    case 1: return "section 2 or 3";
    case 2: return "section 3";
    case 3: return "section 4";
    case 4: return "section 5";
    case 5: return "section 6";
    case 6: return "section 7";
    default: return "section 2, 3, 4 or the end marker 7777";
  }
}

Identification ParseIdentification(std::span<const std::byte> s) {
  Identification id;
  id.centre = U16(s, 5);
  id.sub_centre = U16(s, 7);
  id.tables_version = U8(s, 9);
  id.local_tables_version = U8(s, 10);
  id.significance_of_reference_time = U8(s, 11);
  id.year = U16(s, 12);
  id.month = U8(s, 14);
  id.day = U8(s, 15);
  id.hour = U8(s, 16);
  id.minute = U8(s, 17);
  id.second = U8(s, 18);
  id.production_status = U8(s, 19);
  id.type_of_data = U8(s, 20);
  return id;
}

// The MARS class and type of an ECMWF local section (grib2/section.2.def, local.98.def,
// mars_labeling.def): grib2LocalSectionNumber (2 bytes), marsClass, marsType (2 bytes each),
// unless the production status puts a dataset's own version number first (TIGGE, UERRA,
// DestinE, ...), whose layouts lsio does not read.
struct MarsLabels {
  int32_t mars_class = -1;
  int32_t mars_type = -1;
};
MarsLabels EcmwfMarsLabels(const Identification& id, std::span<const std::byte> s) {
  MarsLabels labels;
  const bool ecmwf = id.centre == 98 || id.sub_centre == 98;
  if (!ecmwf || s.size() <= 5) return labels;
  const uint8_t ps = id.production_status;
  if (ps == 4 || ps == 5 || (ps >= 8 && ps <= 17)) return labels;
  if (s.size() < 11) return labels;
  if (U16(s, 5) == 0) return labels;  // grib2LocalSectionNumber 0: no local definition
  labels.mars_class = U16(s, 7);
  labels.mars_type = U16(s, 9);
  return labels;
}

}  // namespace

std::string DescribeMessage(const MessageContext& context) {
  return "message " + std::to_string(context.index) + " (byte " + std::to_string(context.offset) +
         ")";
}

namespace {

// The bytes of a message that are at hand: one part (the whole message) or several.
class MessageBytes {
 public:
  explicit MessageBytes(std::span<const MessagePart> parts) : parts_(parts) {}
  // [pos, pos + n) of the message, or nullopt if no part holds all of it.
  std::optional<std::span<const std::byte>> Get(uint64_t pos, uint64_t n) const {
    for (const MessagePart& p : parts_) {
      if (p.offset <= pos && pos + n <= p.offset + p.bytes.size()) {
        return p.bytes.subspan(pos - p.offset, n);
      }
    }
    return std::nullopt;
  }

 private:
  std::span<const MessagePart> parts_;
};

// What a walk needs that is not at hand (length 0: nothing).
struct Need {
  uint64_t offset = 0;
  uint64_t length = 0;
};

// The section walk shared by ParseMessage and ParseMessageParts: section 0 has been checked
// (starts with "GRIB", edition 2, `length` sane). Fills `message`, or sets `need` and returns
// OK when bytes it must see are not at hand.
Status WalkSections(const MessageBytes& bytes, uint64_t length, const MessageContext& context,
                    Message& message, Need* need) {
  const std::string where = DescribeMessage(context);
  auto corrupt = [&](const std::string& what) { return CorruptDataError(where + ": " + what); };
  auto at = [&](uint64_t pos) { return "at byte " + std::to_string(context.offset + pos); };

  // The sections in force for the next field.
  Section local_use, grid_section, product_section, drs_section, bitmap_section;
  GridDefinition grid;
  ProductDefinition product;
  DataRepresentation drs;
  // The last section 6 that was not "254" (ecCodes' multi-field reader copies it for a 254:
  // its bitmap, or its absence when it said 255).
  bool have_section6 = false;
  uint8_t inherited_indicator = 255;
  uint32_t last_bitmap_offset = 0, last_bitmap_bytes = 0;
  uint8_t bitmap_indicator = 255;
  MarsLabels mars;

  int previous = 0;
  uint64_t pos = 16;
  const uint64_t end = length - 4;
  while (true) {
    if (pos == end) {
      if (!MayFollow(previous, 8)) {
        return corrupt("the message ends (" + at(pos) + ") where " + Expected(previous) +
                       " should be");
      }
      break;
    }
    if (pos + 5 > end) {
      return corrupt("a section header at " + at(pos) + " runs into the end marker");
    }
    const std::optional<std::span<const std::byte>> header = bytes.Get(pos, 5);
    if (!header) {
      *need = {pos, 5};
      return Status::OK();
    }
    const uint32_t sec_len = U32(*header, 0);
    const int sec_num = U8(*header, 4);
    if (sec_len < 5) {
      return corrupt("section " + std::to_string(sec_num) + " " + at(pos) + " has length " +
                     std::to_string(sec_len) + " (shorter than its 5-byte header)");
    }
    if (sec_len > end - pos) {
      return corrupt("section " + std::to_string(sec_num) + " " + at(pos) + " has length " +
                     std::to_string(sec_len) + ", which runs past the end of the message (" +
                     std::to_string(end - pos) + " bytes left before 7777)");
    }
    if (!MayFollow(previous, sec_num)) {
      return corrupt("section " + std::to_string(sec_num) + " " + at(pos) + " follows section " +
                     std::to_string(previous) + " (expected " + Expected(previous) + ")");
    }
    // The bytes of the section the walk reads: never a bitmap or data values.
    uint64_t want = sec_len;
    switch (sec_num) {
      case 1: want = std::min<uint64_t>(sec_len, 21); break;
      case 2: want = std::min<uint64_t>(sec_len, 11); break;
      case 6: want = std::min<uint64_t>(sec_len, 6); break;
      case 7: want = 5; break;
      default: break;
    }
    const std::optional<std::span<const std::byte>> content = bytes.Get(pos, want);
    if (!content) {
      *need = {pos, want};
      return Status::OK();
    }
    const Section section{static_cast<uint32_t>(pos), sec_len};
    const std::span<const std::byte> s = *content;
    auto too_short = [&](size_t need_bytes) {
      return corrupt("section " + std::to_string(sec_num) + " " + at(pos) + " is " +
                     std::to_string(sec_len) + " bytes, shorter than the " +
                     std::to_string(need_bytes) + " its header needs");
    };
    switch (sec_num) {
      case 1:
        if (sec_len < 21) return too_short(21);
        message.identification = ParseIdentification(s);
        message.identification_section = section;
        break;
      case 2:
        local_use = section;
        mars = EcmwfMarsLabels(message.identification, s);
        break;
      case 3: {
        if (sec_len < 14) return too_short(14);
        grid_section = section;
        Status st = internal::ParseGridDefinition(s, section, &grid);
        if (!st.ok()) return st.WithContext(where + ": section 3 " + at(pos));
        break;
      }
      case 4: {
        if (sec_len < 9) return too_short(9);
        product_section = section;
        Status st = internal::ParseProductDefinition(s, section, &product);
        if (!st.ok()) return st.WithContext(where + ": section 4 " + at(pos));
        break;
      }
      case 5: {
        if (sec_len < 11) return too_short(11);
        drs_section = section;
        Status st = internal::ParseDataRepresentation(s, section, &drs);
        if (!st.ok()) return st.WithContext(where + ": section 5 " + at(pos));
        break;
      }
      case 6:
        if (sec_len < 6) return too_short(6);
        bitmap_section = section;
        bitmap_indicator = U8(s, 5);
        if (bitmap_indicator != 254) {
          have_section6 = true;
          inherited_indicator = bitmap_indicator;
          last_bitmap_offset = section.offset + 6;
          last_bitmap_bytes = sec_len - 6;
        } else if (!have_section6) {
          return corrupt("section 6 " + at(pos) +
                         " says a previously defined bitmap applies (254), but no bitmap was "
                         "defined earlier in the message");
        }
        break;
      case 7: {
        Field field;
        field.index = static_cast<uint32_t>(message.fields.size());
        field.local_use = local_use;
        field.grid_section = grid_section;
        field.product_section = product_section;
        field.data_representation_section = drs_section;
        field.bitmap_section = bitmap_section;
        field.data_section = section;
        field.bitmap_indicator = bitmap_indicator;
        field.mars_class = mars.mars_class;
        field.mars_type = mars.mars_type;
        const uint8_t effective = bitmap_indicator == 254 ? inherited_indicator : bitmap_indicator;
        field.applied_bitmap_indicator = effective;
        if (effective == 0) {
          field.has_bitmap = true;
          field.bitmap_offset = last_bitmap_offset;
          field.bitmap_bytes = last_bitmap_bytes;
        }
        field.grid = grid;
        field.product = product;
        field.data_representation = drs;
        message.fields.push_back(std::move(field));
        break;
      }
      default:
        return corrupt("unknown section number " + std::to_string(sec_num) + " " + at(pos));
    }
    previous = sec_num;
    pos += sec_len;
  }
  if (message.fields.empty()) return corrupt("no data section (section 7)");
  return Status::OK();
}

// Section 0 of a message: "GRIB", edition 2, a length a message can have. `indicator` holds
// at least the first 16 bytes (8 suffice to refuse another edition).
Result<uint64_t> CheckIndicator(std::span<const std::byte> indicator,
                                const MessageContext& context) {
  const std::string where = DescribeMessage(context);
  if (indicator.size() < 8) return OutOfRangeError(where + ": truncated: fewer than 8 bytes");
  if (!Matches(indicator, 0, "GRIB")) {
    return CorruptDataError(where + ": does not start with \"GRIB\"");
  }
  const uint8_t edition = U8(indicator, 7);
  if (edition == 1) {
    return NotSupportedError(where + ": GRIB edition 1; lsio reads GRIB edition 2 only");
  }
  if (edition != 2) {
    return NotSupportedError(where + ": GRIB edition " + std::to_string(edition) +
                             "; lsio reads GRIB edition 2 only");
  }
  if (indicator.size() < 16) return OutOfRangeError(where + ": truncated inside the indicator");
  const uint64_t length = U64(indicator, 8);
  if (length < 41) {
    return CorruptDataError(where + ": total length " + std::to_string(length) +
                            " is shorter than any message");
  }
  if (length > UINT32_MAX) {
    return NotSupportedError(where + ": a message of " + std::to_string(length) +
                             " bytes (over 4 GiB)");
  }
  return length;
}

Status NoEndMarker(const MessageContext& context, uint64_t length) {
  return CorruptDataError(DescribeMessage(context) +
                          ": no \"7777\" at the end of the message (at byte " +
                          std::to_string(context.offset + length - 4) +
                          "): wrong total length or corrupt message");
}

}  // namespace

Result<Message> ParseMessage(std::span<const std::byte> bytes, const MessageContext& context) {
  const std::string where = DescribeMessage(context);
  if (bytes.size() >= 16 && Matches(bytes, 0, "GRIB") && U8(bytes, 7) == 2 &&
      U64(bytes, 8) >= 41 && U64(bytes, 8) > bytes.size()) {
    return OutOfRangeError(where + ": truncated: the message is " +
                           std::to_string(U64(bytes, 8)) + " bytes long, only " +
                           std::to_string(bytes.size()) + " are there");
  }
  LSIO_ASSIGN_OR_RETURN(const uint64_t length, CheckIndicator(bytes, context));
  if (!Matches(bytes, length - 4, "7777")) return NoEndMarker(context, length);
  const std::span<const std::byte> msg = bytes.first(length);

  Message message;
  message.index = context.index;
  message.offset = context.offset;
  message.length = length;
  message.edition = 2;
  message.discipline = U8(msg, 6);
  const MessagePart whole{0, msg};
  Need need;
  LSIO_RETURN_IF_ERROR(WalkSections(MessageBytes(std::span(&whole, 1)), length, context, message,
                                    &need));
  if (need.length != 0) return InternalError(where + ": the walk wanted bytes it was given");
  return message;
}

Result<PartialMessage> ParseMessageParts(std::span<const MessagePart> parts,
                                         const MessageContext& context) {
  const MessageBytes bytes(parts);
  PartialMessage out;
  const std::optional<std::span<const std::byte>> indicator = bytes.Get(0, 16);
  if (!indicator) {
    out.need_offset = 0;
    out.need_length = 16;
    return out;
  }
  LSIO_ASSIGN_OR_RETURN(const uint64_t length, CheckIndicator(*indicator, context));
  if (const auto tail = bytes.Get(length - 4, 4)) {
    if (!Matches(*tail, 0, "7777")) return NoEndMarker(context, length);
    out.end_marker_checked = true;
  }
  Message message;
  message.index = context.index;
  message.offset = context.offset;
  message.length = length;
  message.edition = 2;
  message.discipline = U8(*indicator, 6);
  Need need;
  LSIO_RETURN_IF_ERROR(WalkSections(bytes, length, context, message, &need));
  if (need.length != 0) {
    out.need_offset = need.offset;
    out.need_length = need.length;
    return out;
  }
  out.message = std::move(message);
  return out;
}

Result<std::vector<uint32_t>> ReadPointsPerRow(std::span<const std::byte> message,
                                               const GridDefinition& grid) {
  std::vector<uint32_t> pl;
  if (grid.pl_count == 0) return pl;
  const uint64_t end = uint64_t{grid.pl_offset} + uint64_t{grid.pl_count} * grid.pl_width;
  if (grid.pl_width == 0 || grid.pl_width > 4 || end > message.size()) {
    return CorruptDataError("the list of points per row (" + std::to_string(grid.pl_count) +
                            " entries of " + std::to_string(grid.pl_width) +
                            " bytes) does not fit in the message");
  }
  pl.resize(grid.pl_count);
  for (uint32_t i = 0; i < grid.pl_count; ++i) {
    pl[i] = static_cast<uint32_t>(
        internal::ReadUnsigned(message.data() + grid.pl_offset + size_t{i} * grid.pl_width,
                               grid.pl_width));
  }
  return pl;
}

}  // namespace lsio::grib

#include "lsio/format/grib/message.h"

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

Result<Message> ParseMessage(std::span<const std::byte> bytes, const MessageContext& context) {
  const std::string where = DescribeMessage(context);
  auto corrupt = [&](const std::string& what) { return CorruptDataError(where + ": " + what); };
  auto at = [&](uint64_t pos) { return "at byte " + std::to_string(context.offset + pos); };

  if (bytes.size() < 8) return OutOfRangeError(where + ": truncated: fewer than 8 bytes");
  if (!Matches(bytes, 0, "GRIB")) return corrupt("does not start with \"GRIB\"");
  const uint8_t edition = U8(bytes, 7);
  if (edition == 1) {
    return NotSupportedError(where + ": GRIB edition 1; lsio reads GRIB edition 2 only");
  }
  if (edition != 2) {
    return NotSupportedError(where + ": GRIB edition " + std::to_string(edition) +
                             "; lsio reads GRIB edition 2 only");
  }
  if (bytes.size() < 16) return OutOfRangeError(where + ": truncated inside the indicator");
  const uint64_t length = U64(bytes, 8);
  if (length < 41) {
    return corrupt("total length " + std::to_string(length) + " is shorter than any message");
  }
  if (length > bytes.size()) {
    return OutOfRangeError(where + ": truncated: the message is " + std::to_string(length) +
                           " bytes long, only " + std::to_string(bytes.size()) + " are there");
  }
  if (length > UINT32_MAX) {
    return NotSupportedError(where + ": a message of " + std::to_string(length) +
                             " bytes (over 4 GiB)");
  }
  if (!Matches(bytes, length - 4, "7777")) {
    return corrupt("no \"7777\" at the end of the message (" + at(length - 4) +
                   "): wrong total length or corrupt message");
  }
  const std::span<const std::byte> msg = bytes.first(length);

  Message message;
  message.index = context.index;
  message.offset = context.offset;
  message.length = length;
  message.edition = edition;
  message.discipline = U8(msg, 6);

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
  size_t pos = 16;
  const size_t end = length - 4;
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
    const uint32_t sec_len = U32(msg, pos);
    const int sec_num = U8(msg, pos + 4);
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
    const Section section{static_cast<uint32_t>(pos), sec_len};
    const std::span<const std::byte> s = msg.subspan(pos, sec_len);
    auto too_short = [&](size_t need) {
      return corrupt("section " + std::to_string(sec_num) + " " + at(pos) + " is " +
                     std::to_string(sec_len) + " bytes, shorter than the " +
                     std::to_string(need) + " its header needs");
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
        Status st = internal::ParseGridDefinition(msg, section, &grid);
        if (!st.ok()) return st.WithContext(where + ": section 3 " + at(pos));
        break;
      }
      case 4: {
        if (sec_len < 9) return too_short(9);
        product_section = section;
        Status st = internal::ParseProductDefinition(msg, section, &product);
        if (!st.ok()) return st.WithContext(where + ": section 4 " + at(pos));
        break;
      }
      case 5: {
        if (sec_len < 11) return too_short(11);
        drs_section = section;
        Status st = internal::ParseDataRepresentation(msg, section, &drs);
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
  return message;
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

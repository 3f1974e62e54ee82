#pragma once

// Section 3, 4 and 5 template parsers (ParseMessage's helpers). Each reads its section from
// `s`, the section's own bytes (all `section.length` of them); `section` says where it is in
// its message (offsets recorded for later reads, such as the list of points per row, are
// counted from the message's start). The section is known to be at least as long as its fixed
// header. A template lsio does not know is recorded as unsupported, not an error;
// a known template that does not fit in its section is CorruptData.

#include <cstddef>
#include <span>

#include "lsio/base/status.h"
#include "lsio/format/grib/message.h"

namespace lsio::grib::internal {

Status ParseGridDefinition(std::span<const std::byte> s, Section section, GridDefinition* grid);
Status ParseProductDefinition(std::span<const std::byte> s, Section section,
                              ProductDefinition* product);
Status ParseDataRepresentation(std::span<const std::byte> s, Section section,
                               DataRepresentation* drs);

}  // namespace lsio::grib::internal

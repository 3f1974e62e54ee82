#pragma once

// Section 3, 4 and 5 template parsers (ParseMessage's helpers). Each reads its section from
// the message; the section is known to lie inside the message and to be at least as long as
// its fixed header. A template lsio does not know is recorded as unsupported, not an error;
// a known template that does not fit in its section is CorruptData.

#include <cstddef>
#include <span>

#include "lsio/base/status.h"
#include "lsio/format/grib/message.h"

namespace lsio::grib::internal {

Status ParseGridDefinition(std::span<const std::byte> message, Section section,
                           GridDefinition* grid);
Status ParseProductDefinition(std::span<const std::byte> message, Section section,
                              ProductDefinition* product);
Status ParseDataRepresentation(std::span<const std::byte> message, Section section,
                               DataRepresentation* drs);

}  // namespace lsio::grib::internal

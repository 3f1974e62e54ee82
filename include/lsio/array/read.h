#pragma once

// Reading a selection of any array into memory: the decoded chunks of ArraySource::PlanRead
// copied into place (strided copies), missing chunks as the fill value, on the Context's CPU
// pool and a reader leased from it.

#include <cstdint>
#include <functional>
#include <span>

#include "lsio/array/selection.h"
#include "lsio/array/source.h"
#include "lsio/base/result.h"
#include "lsio/runtime/context.h"

namespace lsio::array {

struct ReadIntoOptions {
  // Handlers at once; 0: the context's pool size.
  int threads = 0;
  // Bytes in flight from the store.
  uint64_t max_bytes_in_flight = uint64_t{64} << 20;
  // Polled about every 20 ms; true cancels (kCancelled).
  std::function<bool()> cancelled;
  // Reads of at most this many decode chunks (one for a store that is not local) run on the
  // calling thread (sched::RunInline): a single element or a small window then costs no
  // hand-off to IO and CPU threads. 0: always through the scheduler.
  uint64_t inline_max_chunks = 4;
};

// Reads `ranges` of `array` into `out`: C order over the selection's shape (SelectionShape),
// elements of the array's storage type in native byte order. `out` must hold exactly that many
// bytes. Errors: a chunk's read or decode error naming the array, the chunk and its location.
Status ReadInto(const ArraySource& array, std::span<const DimRange> ranges,
                std::span<std::byte> out, runtime::Context& context,
                const ReadIntoOptions& options = {});

// One selection of one array and where it goes (ReadManyInto).
struct ReadTarget {
  const ArraySource* array = nullptr;
  std::vector<DimRange> ranges;
  std::span<std::byte> out;
};

// Several reads from arrays of one store in one scheduler run (one pass over their chunks):
// coordinates for label selections, for instance.
Status ReadManyInto(std::span<const ReadTarget> targets, runtime::Context& context,
                    const ReadIntoOptions& options = {});

}  // namespace lsio::array

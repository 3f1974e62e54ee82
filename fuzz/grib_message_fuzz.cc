// GRIB: the bytes as a file (ScanMessages) and as messages (ParseMessage at the start and at
// every message the scan found); every field decoded (float and double), its keys and grid
// coordinates computed, and all fields put through the cfgrib dataset view. Everything must
// fail cleanly or hold its promises; ASan catches any read outside the input or write outside
// the output, and fields are capped in size so that memory stays bounded.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "lsio/format/grib/dataset_view.h"
#include "lsio/format/grib/decode.h"
#include "lsio/format/grib/field_keys.h"
#include "lsio/format/grib/grid.h"
#include "lsio/format/grib/message.h"
#include "lsio/format/grib/scan.h"

#define GRIB_FUZZ_CHECK(cond)                                                                \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                          \
    }                                                                                        \
  } while (false)

namespace {

constexpr size_t kMaxPoints = size_t{1} << 21;  // 8 MiB of floats per field

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lsio::grib;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);

  std::vector<uint64_t> starts = {0};
  lsio::Result<std::vector<MessageExtent>> scanned = ScanMessages(bytes);
  if (scanned.ok()) {
    for (const MessageExtent& e : *scanned) {
      GRIB_FUZZ_CHECK(e.offset + e.length <= size);
      GRIB_FUZZ_CHECK(e.edition == 1 || e.edition == 2);
      if (e.offset != 0) starts.push_back(e.offset);
    }
  }

  DecodeScratch scratch;
  std::vector<Message> messages;
  std::vector<FieldRecord> records;
  for (size_t i = 0; i < starts.size(); ++i) {
    const auto tail = bytes.subspan(starts[i]);
    lsio::Result<Message> m = ParseMessage(tail, {static_cast<uint32_t>(i), starts[i]});
    if (!m.ok()) continue;
    GRIB_FUZZ_CHECK(m->length <= tail.size());
    GRIB_FUZZ_CHECK(!m->fields.empty());
    const auto msg = tail.first(m->length);
    for (size_t f = 0; f < m->fields.size(); ++f) {
      const Field& field = m->fields[f];
      for (const Section& s : {field.grid_section, field.product_section,
                               field.data_representation_section, field.data_section}) {
        GRIB_FUZZ_CHECK(uint64_t{s.offset} + s.length <= m->length);
      }
      if (field.has_bitmap) {
        GRIB_FUZZ_CHECK(uint64_t{field.bitmap_offset} + field.bitmap_bytes <= m->length);
      }
      const size_t n = FieldValueCount(field);
      if (n <= kMaxPoints) {
        std::vector<float> out(n);
        (void)DecodeField(msg, *m, f, out, scratch);
        if (n <= kMaxPoints / 4) {
          std::vector<double> out64(n);
          (void)DecodeField(msg, *m, f, out64, scratch);
        }
        const bool small_gaussian = field.grid.n <= 2048;
        if (small_gaussian) {
          lsio::Result<GridCoordinates> c = ComputeGridCoordinates(msg, field);
          if (c.ok()) {
            if (c->layout == GridLayout::kRegular) {
              GRIB_FUZZ_CHECK(c->latitudes.size() <= static_cast<size_t>(c->ny));
              GRIB_FUZZ_CHECK(c->longitudes.size() <= static_cast<size_t>(c->nx));
            } else {
              GRIB_FUZZ_CHECK(c->latitudes.size() == n && c->longitudes.size() == n);
            }
          }
        }
      }
      (void)LookupParameter(*m, f);
      lsio::Result<FieldRecord> r =
          DescribeField(msg, *m, f, {0, static_cast<uint32_t>(i), static_cast<uint32_t>(f)});
      if (r.ok()) records.push_back(std::move(*r));
    }
    messages.push_back(std::move(*m));
  }

  const DatasetView view = BuildDatasetView(records);
  GRIB_FUZZ_CHECK(view.fields.size() == records.size());
  for (const Hypercube& h : view.hypercubes) {
    GRIB_FUZZ_CHECK(h.geography_field < records.size());
    for (const Variable& v : h.variables) {
      size_t cells = 1;
      for (size_t k = 0; k < v.header_rank; ++k) cells *= static_cast<size_t>(v.shape[k]);
      GRIB_FUZZ_CHECK(v.cells.size() == cells);
      for (int64_t c : v.cells) GRIB_FUZZ_CHECK(c < static_cast<int64_t>(records.size()));
    }
  }
  return 0;
}

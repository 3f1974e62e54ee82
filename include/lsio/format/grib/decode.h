#pragma once

// Decoding a field's values into a caller's array.
//
// Values are those ecCodes' `codes_get_values` returns, bit for bit: each is computed in double
// with ecCodes' formula and order of operations (simple packing: ((X * 2^E) + R) * 10^-D, with
// 2^E and 10^-D built by ecCodes' repeated multiplication or division, R read by ecCodes'
// IEEE routine), then stored as the output type. A float output therefore holds float32 of
// ecCodes' double, which is what cfgrib hands to xarray. Missing points (a section 6 bitmap,
// or missing-value management in 5.2/5.3) are NaN.
//
// Supported data representation templates: 5.0 simple, 5.2 complex, 5.3 complex with spatial
// differencing (order 1 and 2, missing-value management 0/1/2), 5.4 IEEE (32 and 64 bit),
// 5.40 JPEG 2000 (OpenJPEG), 5.41 PNG (libspng), 5.42 CCSDS (libaec), 5.200 run length.
// Bitmaps: section 6 indicator 0 (bitmap here), 254 (the last bitmap defined earlier in the
// message) and 255 (none); predefined bitmaps (1-253) are NotSupported.
//
// Thread safety: DecodeField is reentrant; a DecodeScratch must not be shared between threads
// at the same time (keep one per worker).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "lsio/base/status.h"
#include "lsio/format/grib/message.h"

namespace lsio::grib {

// Reusable working memory for the packings that need more than the output array (complex
// packing's integers, PNG rows, JPEG 2000's codec). Grows to the largest field decoded and is
// then reused: keep one per worker thread so that steady-state decoding allocates nothing.
class DecodeScratch {
 public:
  DecodeScratch();
  ~DecodeScratch();
  DecodeScratch(const DecodeScratch&) = delete;
  DecodeScratch& operator=(const DecodeScratch&) = delete;

  struct Buffers;
  Buffers& buffers() { return *buffers_; }

 private:
  std::unique_ptr<Buffers> buffers_;
};

// The number of values a field decodes to: its grid's number of data points.
inline size_t FieldValueCount(const Field& field) { return field.grid.number_of_data_points; }

// Decodes field `field_index` of `message` into `out` (exactly FieldValueCount values, in the
// message's storage order). `bytes` holds the message (from its "GRIB"; the same bytes it was
// parsed from, or a fresh read of them).
// Errors (naming the message number, byte offset and field): InvalidArgument (out has the
// wrong size, bytes shorter than the message), NotSupported (a packing or bitmap lsio does not
// decode, bits per value beyond the packing's limit), CorruptData (a data section shorter than
// its values need, a bitmap shorter than the grid or with more points than coded values,
// complex-packing groups that add up to more values than declared, a codec stream that does
// not decode to the declared size). Never reads outside `bytes` or writes outside `out`.
Status DecodeField(std::span<const std::byte> bytes, const Message& message, size_t field_index,
                   std::span<float> out, DecodeScratch& scratch);
Status DecodeField(std::span<const std::byte> bytes, const Message& message, size_t field_index,
                   std::span<double> out, DecodeScratch& scratch);

}  // namespace lsio::grib

// What an object store sends back: S3's XML documents (listings, errors, multipart answers)
// through ParseXml, Content-Range values through ParseContentRange, and a status with headers
// through ResolveBodyWindow for every kind of range. The input's first byte picks the range and
// status; the rest is the document and the Content-Range / Content-Length values. Whatever is
// accepted must describe a window inside what the response claims.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "../src/io/http/xml.h"
#include "fuzz_util.h"
#include "../src/kvstore/object_store_internal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using lsio::kvstore::internal::FetchRange;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto xml = lsio::io::http::ParseXml(in, "fuzz");
  if (xml.ok()) {
    (void)xml->ChildText("Key");
    (void)xml->Child("Contents");
  }
  if (size < 1) return 0;
  const uint8_t pick = data[0];
  const std::string_view rest = in.substr(1);
  const size_t nl = rest.find('\n');
  const std::string content_range(rest.substr(0, nl));
  const std::string content_length(nl == std::string_view::npos ? "" : rest.substr(nl + 1, 24));
  auto cr = lsio::kvstore::internal::ParseContentRange(content_range);
  if (cr && cr->first) LSIO_FUZZ_CHECK(cr->last && *cr->last >= *cr->first);
  static const int kStatuses[] = {200, 206, 416, 204};
  const int status = kStatuses[pick & 3];
  FetchRange range;
  range.kind = static_cast<FetchRange::Kind>((pick >> 2) & 3);
  range.offset = (pick >> 4) * 1000u;
  range.length = range.kind == FetchRange::Kind::kSuffix || range.kind == FetchRange::Kind::kRange
                     ? 1 + (pick >> 4) * 777u
                     : 0;
  lsio::io::http::HeaderMap headers;
  if (!content_range.empty()) headers["content-range"] = content_range;
  if (!content_length.empty()) headers["content-length"] = content_length;
  auto w = lsio::kvstore::internal::ResolveBodyWindow(range, status, headers);
  if (w.status.ok() && w.window.length && w.window.object_size &&
      range.kind != FetchRange::Kind::kWhole) {
    // A window never claims bytes past the end of the value.
    LSIO_FUZZ_CHECK(*w.window.length <= *w.window.object_size);
  }
  return 0;
}

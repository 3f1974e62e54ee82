// Zarr v2 metadata: one JSON document tried as .zarray, as .zattrs of a fixed .zarray, as
// .zgroup, and as the consolidated .zmetadata of an in-memory store (hierarchy, info report).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "metadata_check.h"

namespace {

using lsio::Result;
using nlohmann::json;

constexpr std::string_view kZarray =
    R"({"zarr_format":2,"shape":[20,30],"chunks":[8,16],"dtype":"<f4","compressor":null,)"
    R"("fill_value":"NaN","filters":null,"order":"C"})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<json> doc = lsio::zarr::ParseMetadataJson(text, "fuzz/.zarray");
  if (doc.ok()) {
    Result<lsio::zarr::ArrayMetadata> a =
        lsio::zarr::ParseZarrV2Array(*doc, nullptr, "fuzz/.zarray");
    if (a.ok()) lsio::fuzz::CheckArray(*a);
    static const json zarray = json::parse(kZarray);
    Result<lsio::zarr::ArrayMetadata> with_attrs =
        lsio::zarr::ParseZarrV2Array(zarray, *doc, "fuzz/.zarray", "fuzz/.zattrs");
    if (with_attrs.ok()) lsio::fuzz::CheckArray(*with_attrs);
    (void)lsio::zarr::ParseZarrV2Group(*doc, nullptr, "fuzz/.zgroup");
  }

  // As consolidated metadata, and as a lone array at the root.
  lsio::fuzz::MemoryStore consolidated;
  consolidated.Put(".zgroup", R"({"zarr_format":2})");
  consolidated.Put(".zmetadata", std::string(text));
  lsio::fuzz::CheckStore(consolidated);
  lsio::fuzz::MemoryStore single;
  single.Put(".zarray", std::string(text));
  single.Put(".zattrs", R"({"_ARRAY_DIMENSIONS":["y","x"],"units":"days since 2000-01-01"})");
  lsio::fuzz::CheckStore(single);
  return 0;
}

// Zarr v3 metadata: one zarr.json document tried as an array and a group, and as the root of an
// in-memory store (consolidated metadata, sharding configuration, hierarchy, info report).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "metadata_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  lsio::Result<nlohmann::json> doc = lsio::zarr::ParseMetadataJson(text, "fuzz/zarr.json");
  if (doc.ok()) {
    lsio::Result<lsio::zarr::ArrayMetadata> a =
        lsio::zarr::ParseZarrV3Array(*doc, "fuzz/zarr.json");
    if (a.ok()) lsio::fuzz::CheckArray(*a);
    (void)lsio::zarr::ParseZarrV3Group(*doc, "fuzz/zarr.json");
  }
  lsio::fuzz::MemoryStore store;
  store.Put("zarr.json", std::string(text));
  lsio::fuzz::CheckStore(store);
  return 0;
}

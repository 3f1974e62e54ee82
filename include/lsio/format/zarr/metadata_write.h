#pragma once

// Zarr metadata documents to write: an array's (v3 zarr.json; v2 .zarray + .zattrs), a
// group's (v3 zarr.json; v2 .zgroup + .zattrs), and consolidated metadata (v2 .zmetadata;
// v3 the root zarr.json with zarr-python's inline "consolidated_metadata"), serialised the way
// zarr-python writes them.
//
// Errors: kInvalidArgument for a spec that cannot be written (the message names `where` and
// the field), kNotSupported for data types the writer does not handle.
//
// Thread safety: pure functions.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsio/base/result.h"
#include "lsio/format/zarr/write_spec.h"

namespace lsio::zarr {

// One document of a node, `key` relative to the node ("zarr.json", ".zarray", ...).
struct MetadataDocument {
  std::string key;
  nlohmann::json json;
  bool operator==(const MetadataDocument&) const = default;
};

// The array's documents: v3 [zarr.json]; v2 [.zarray, .zattrs]. Validates `spec` (ranks,
// extents, sharding only in v3 and dividing evenly, dimension names, attributes an object,
// fill value valid for the type, data type writable). `where` names the array in messages.
Result<std::vector<MetadataDocument>> ArrayMetadataDocuments(const ArrayWriteSpec& spec,
                                                             std::string_view where);

// A group's documents: v3 [zarr.json]; v2 [.zgroup, .zattrs]. `attributes` must be an object.
Result<std::vector<MetadataDocument>> GroupMetadataDocuments(ZarrFormat format,
                                                             const nlohmann::json& attributes,
                                                             std::string_view where);

// Every node of a hierarchy by path relative to its root ("" is the root group, "a/b" a
// node below it) with its documents.
using NodeDocuments = std::map<std::string, std::vector<MetadataDocument>>;

// The consolidated metadata of `nodes`, which must include the root group "": v2 the
// .zmetadata document ({"metadata": {"a/.zarray": ...}, "zarr_consolidated_format": 1}),
// written beside the root's own documents; v3 the root group's zarr.json with
// "consolidated_metadata": {"kind": "inline", "must_understand": false, "metadata": {"a":
// ...}}, which replaces the root's plain zarr.json.
Result<MetadataDocument> ConsolidatedMetadataDocument(ZarrFormat format,
                                                      const NodeDocuments& nodes);

// The text of a document: indented JSON, with non-finite numbers written as Python's json
// module writes them (NaN, Infinity, -Infinity) as zarr-python does in attributes. (Fill
// values are never numbers of that kind: the documents above write them as strings.)
std::string SerializeMetadata(const nlohmann::json& document);

// The fill value as zarr-python writes it for `format`: numbers, true/false, "NaN",
// "Infinity", "-Infinity" (and, in v3, "0x..." for a NaN with a payload), [re, im] for
// complex, integers for datetime64 and timedelta64, null for a v2 null fill value.
nlohmann::json FillValueJson(const FillValue& fill, const ZarrDataType& type, ZarrFormat format);

// The data type as the format spells it: v3 "float32" or {"name": "numpy.datetime64", ...};
// v2 "<f4", "|b1", ">i8", "<M8[10s]". Errors: kNotSupported for types that are not
// fixed-size numbers.
Result<nlohmann::json> DataTypeJson(const ZarrDataType& type, ZarrFormat format, Endian endian);

}  // namespace lsio::zarr

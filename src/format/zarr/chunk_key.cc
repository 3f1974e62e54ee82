#include "lsio/format/zarr/chunk_key.h"

namespace lsio::zarr {

std::string EncodeChunkKey(const ChunkKeyEncoding& encoding, std::span<const int64_t> grid) {
  std::string key;
  if (encoding.kind == ChunkKeyEncoding::Kind::kDefault) {
    key = "c";
    for (int64_t g : grid) {
      key += encoding.separator;
      key += std::to_string(g);
    }
    return key;
  }
  if (grid.empty()) return "0";
  for (size_t i = 0; i < grid.size(); ++i) {
    if (i > 0) key += encoding.separator;
    key += std::to_string(grid[i]);
  }
  return key;
}

Status ValidateStoreKey(std::string_view key) {
  if (key.empty()) return Status::OK();
  if (key.front() == '/') {
    return InvalidArgumentError("key '" + std::string(key) + "' would escape the store");
  }
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) end = key.size();
    const std::string_view part = key.substr(start, end - start);
    if (part == "..") {
      return InvalidArgumentError("key '" + std::string(key) + "' would escape the store");
    }
    if (part.empty() || part == ".") {
      return InvalidArgumentError("key '" + std::string(key) + "' is malformed");
    }
    start = end + 1;
  }
  for (char c : key) {
    if (c == '\0' || c == '\\') {
      return InvalidArgumentError("key '" + std::string(key) + "' is malformed");
    }
  }
  return Status::OK();
}

Result<std::string> JoinStoreKey(std::string_view prefix, std::string_view key) {
  LSIO_RETURN_IF_ERROR(ValidateStoreKey(key));
  if (prefix.empty()) return std::string(key);
  if (key.empty()) return std::string(prefix);
  std::string out(prefix);
  if (out.back() != '/') out += '/';
  out += key;
  return out;
}

}  // namespace lsio::zarr

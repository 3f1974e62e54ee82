#include "lsio/kvstore/key.h"

#include "lsio/kvstore/byte_range.h"

namespace lsio::kvstore {

Status ValidateKey(std::string_view key) {
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

Result<std::string> JoinKey(std::string_view prefix, std::string_view key) {
  LSIO_RETURN_IF_ERROR(ValidateKey(key));
  if (prefix.empty()) return std::string(key);
  if (key.empty()) return std::string(prefix);
  std::string out(prefix);
  if (out.back() != '/') out += '/';
  out += key;
  return out;
}

std::string_view KeyBaseName(std::string_view key) {
  const size_t slash = key.rfind('/');
  return slash == std::string_view::npos ? key : key.substr(slash + 1);
}

std::string_view KeyParent(std::string_view key) {
  const size_t slash = key.rfind('/');
  return slash == std::string_view::npos ? std::string_view() : key.substr(0, slash);
}

std::string ByteRange::ToString() const {
  if (whole()) return "the whole value";
  if (suffix()) {
    return "the last " + std::to_string(-offset) + " bytes" +
           (length == kToEnd ? "" : " (" + std::to_string(length) + " of them)");
  }
  if (length == kToEnd) return "bytes " + std::to_string(offset) + "-end";
  if (length == 0) return "0 bytes at " + std::to_string(offset);
  return "bytes " + std::to_string(offset) + "-" + std::to_string(offset + length - 1);
}

}  // namespace lsio::kvstore

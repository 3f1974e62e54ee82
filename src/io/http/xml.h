#pragma once

// A small XML tree for S3's responses (ListObjectsV2, errors, multipart uploads), parsed with
// expat: elements, their text, their children. Namespaces are dropped from names
// ("{uri}ListBucketResult" is "ListBucketResult"); attributes are ignored; entities other than
// the five predefined ones and character references are refused (no DTD processing), so a
// hostile document cannot expand.
//
// Thread safety: pure functions; an XmlElement is a value.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lsio/base/result.h"

namespace lsio::io::http {

struct XmlElement {
  std::string name;
  std::string text;  // concatenated character data directly inside this element
  std::vector<XmlElement> children;

  // The first child named `name`, or null.
  const XmlElement* Child(std::string_view name) const;
  // Text of the first child named `name`, or "".
  std::string ChildText(std::string_view name) const;
};

// Errors: kCorruptData naming `what` for malformed XML, a document deeper than 64 levels or
// larger than 64 MiB.
Result<XmlElement> ParseXml(std::string_view document, std::string_view what);

// Escapes &, <, >, " and ' for element text.
std::string XmlEscape(std::string_view text);

}  // namespace lsio::io::http

#pragma once

// URI pieces for object storage: percent-encoding as SigV4 and S3 want it, and splitting a URL.
//
// Thread safety: pure functions.

#include <cstdint>
#include <string>
#include <string_view>

#include "lsio/base/result.h"

namespace lsio::io::http {

// RFC 3986 percent-encoding of every byte except the unreserved A-Z a-z 0-9 '-' '.' '_' '~'
// (and '/' unless `encode_slash`), with upper-case hex digits: SigV4's UriEncode. Keys holding
// '=', '+', ' ', '%', '?', '#' or UTF-8 come out as S3 computes their canonical form.
std::string UriEncode(std::string_view text, bool encode_slash);

// Decodes %XX escapes (and leaves everything else, '+' included, as it is). Errors:
// kInvalidArgument for a '%' not followed by two hex digits.
Result<std::string> PercentDecode(std::string_view text);

// scheme://host[:port]/path?query, split. `path` keeps its encoding and starts with '/' (or is
// empty); `host` is lower-cased; IPv6 hosts keep their brackets.
struct Url {
  std::string scheme;  // "http", "https", "s3"
  std::string host;
  int port = 0;        // 0: the scheme's default
  std::string path;
  std::string query;   // without '?'

  // "host" or "host:port" (the port only when given): the Host header.
  std::string authority() const;
  // scheme://authority
  std::string origin() const;
};

// Errors: kInvalidArgument naming `url` for a missing "://", an empty host, a bad port, or
// user information ("user:password@host": credentials never go in URLs here).
Result<Url> ParseUrl(std::string_view url);

}  // namespace lsio::io::http

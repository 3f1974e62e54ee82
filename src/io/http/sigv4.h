#pragma once

// AWS Signature Version 4 (header-based), written here with OpenSSL's HMAC/SHA-256.
//
// A request is described by its decoded parts (method, path, query parameters, the headers to
// sign, the payload hash); Sign computes the canonical request, the string to sign, the
// signature and the Authorization header value exactly as the published SigV4 test suite and
// S3's documentation define them. The caller sends the same encoding on the wire
// (CanonicalUri / CanonicalQuery give it), so what the server recomputes matches.
//
// S3 differs from other services in one way: its canonical URI is the key URI-encoded once,
// without path normalisation ("a//b/./c" is a valid key). `normalize_path` selects the
// other services' rule (remove "." and ".." segments and empty segments), which the generic
// test suite uses.
//
// Thread safety: pure functions. Secrets are inputs only: nothing here logs or returns them.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lsio::io::http {

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  // Temporary credentials: sent as x-amz-security-token (the caller adds the header, and signs
  // it when it is in the headers given to Sign).
  std::string session_token;
};

struct SigV4Request {
  std::string method;
  // Decoded path ("/bucket/a b=c/ሴ"); "" means "/".
  std::string path;
  // Decoded query parameters, in any order (a parameter without a value has "").
  std::vector<std::pair<std::string, std::string>> query;
  // Headers to sign, as they are sent: any case, repeated names allowed (joined with ','),
  // values trimmed and their inner runs of spaces collapsed when canonicalised. Must contain
  // "host" and "x-amz-date".
  std::vector<std::pair<std::string, std::string>> headers;
  // Hex SHA-256 of the payload, or "UNSIGNED-PAYLOAD".
  std::string payload_hash;
};

struct SigV4Scope {
  std::string region;   // "us-east-1"
  std::string service;  // "s3"
  // ISO 8601 basic time, "20150830T123600Z" (the x-amz-date header's value).
  std::string timestamp;
};

struct SigV4Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;range;x-amz-content-sha256;x-amz-date"
  std::string signature;       // lower-case hex
  std::string authorization;   // the Authorization header's value
};

// The canonical URI of a decoded path (each segment URI-encoded, '/' kept).
std::string CanonicalUri(std::string_view path, bool normalize_path);
// The canonical query string: parameters URI-encoded (including '/'), sorted by name then value.
std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query);

SigV4Signature SignV4(const SigV4Request& request, const SigV4Scope& scope,
                      const SigV4Credentials& credentials, bool normalize_path);

// "20150830T123600Z" for a Unix time.
std::string AmzTimestamp(long long unix_seconds);

}  // namespace lsio::io::http

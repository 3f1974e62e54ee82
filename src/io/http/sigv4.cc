#include "sigv4.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

#include "crypto.h"
#include "uri.h"

namespace lsio::io::http {

namespace {

// RFC 3986 remove_dot_segments, plus dropping empty segments ("//"), keeping a trailing '/'.
std::string NormalizePath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view seg = path.substr(i, j - i);
    if (seg == "..") {
      if (!out.empty()) out.pop_back();
    } else if (!seg.empty() && seg != ".") {
      out.push_back(seg);
    }
    i = j + 1;
  }
  std::string result;
  for (std::string_view seg : out) {
    result.push_back('/');
    result.append(seg);
  }
  bool trailing = !path.empty() && path.back() == '/';
  // "/a/b/.." and "/a/." also name a directory.
  if (!trailing && (path.ends_with("/..") || path.ends_with("/.") || path == ".." || path == ".")) {
    trailing = true;
  }
  if (result.empty() || trailing) result.push_back('/');
  return result;
}

std::string TrimAndCollapse(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string CanonicalUri(std::string_view path, bool normalize_path) {
  if (path.empty()) return "/";
  if (normalize_path) return UriEncode(NormalizePath(path), /*encode_slash=*/false);
  return UriEncode(path, /*encode_slash=*/false);
}

std::string CanonicalQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(UriEncode(name, true), UriEncode(value, true));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out += name;
    out.push_back('=');
    out += value;
  }
  return out;
}

SigV4Signature SignV4(const SigV4Request& request, const SigV4Scope& scope,
                      const SigV4Credentials& credentials, bool normalize_path) {
  // Lower-case names, values joined in the order given (a std::map sorts the names).
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : request.headers) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    auto [it, fresh] = headers.try_emplace(lower);
    if (!fresh) it->second.push_back(',');
    it->second += TrimAndCollapse(value);
  }
  SigV4Signature sig;
  std::string canonical_headers;
  for (const auto& [name, value] : headers) {
    canonical_headers += name;
    canonical_headers.push_back(':');
    canonical_headers += value;
    canonical_headers.push_back('\n');
    if (!sig.signed_headers.empty()) sig.signed_headers.push_back(';');
    sig.signed_headers += name;
  }
  sig.canonical_request = request.method + "\n" + CanonicalUri(request.path, normalize_path) +
                          "\n" + CanonicalQuery(request.query) + "\n" + canonical_headers +
                          "\n" + sig.signed_headers + "\n" + request.payload_hash;

  std::string date = scope.timestamp.substr(0, 8);
  std::string credential_scope = date + "/" + scope.region + "/" + scope.service + "/aws4_request";
  sig.string_to_sign = "AWS4-HMAC-SHA256\n" + scope.timestamp + "\n" + credential_scope + "\n" +
                       Sha256Hex(sig.canonical_request);

  std::string secret = "AWS4" + credentials.secret_access_key;
  auto as_key = [](std::string_view s) {
    return std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(s.data()),
                                          s.size());
  };
  Sha256Digest k_date = HmacSha256(as_key(secret), date);
  Sha256Digest k_region = HmacSha256(k_date, scope.region);
  Sha256Digest k_service = HmacSha256(k_region, scope.service);
  Sha256Digest k_signing = HmacSha256(k_service, "aws4_request");
  sig.signature = HexEncode(HmacSha256(k_signing, sig.string_to_sign));
  sig.authorization = "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" +
                      credential_scope + ", SignedHeaders=" + sig.signed_headers +
                      ", Signature=" + sig.signature;
  return sig;
}

std::string AmzTimestamp(long long unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace lsio::io::http

// SigV4 against two independent references: the published AWS Signature Version 4 test suite
// (aws-sig-v4-test-suite/, Apache-2.0, see its NOTICE; the generic-service rules with path
// normalisation) and S3 signatures computed by botocore for keys holding '=', spaces, '+',
// '%', UTF-8 and the sub-delimiters (make_sigv4_s3_vectors.py wrote the table below), plus the
// GET example of S3's own SigV4 documentation.

#include "sigv4.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "crypto.h"
#include "uri.h"

namespace lsio::io::http {
namespace {

namespace fs = std::filesystem;

std::string ReadText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path SuiteDir() {
  const char* src = std::getenv("LSIO_SOURCE_DIR");
  return fs::path(src ? src : ".") / "tests/io/http/aws-sig-v4-test-suite";
}

// A .req file: "METHOD URI HTTP/1.1", header lines (a line starting with a space continues the
// previous header's value list), a blank line, the body.
SigV4Request ParseReq(const std::string& text) {
  SigV4Request req;
  std::string head = text;
  std::string body;
  if (size_t blank = text.find("\n\n"); blank != std::string::npos) {
    head = text.substr(0, blank);
    body = text.substr(blank + 2);
  }
  std::istringstream lines(head);
  std::string line;
  std::getline(lines, line);
  size_t sp = line.find(' ');
  size_t proto = line.rfind(" HTTP/");
  req.method = line.substr(0, sp);
  std::string uri = line.substr(sp + 1, proto - sp - 1);
  size_t q = uri.find('?');
  req.path = PercentDecode(uri.substr(0, q)).value();
  if (q != std::string::npos) {
    std::string query = uri.substr(q + 1);
    size_t start = 0;
    while (start <= query.size()) {
      size_t amp = query.find('&', start);
      if (amp == std::string::npos) amp = query.size();
      std::string param = query.substr(start, amp - start);
      size_t eq = param.find('=');
      std::string name = param.substr(0, eq);
      std::string value = eq == std::string::npos ? "" : param.substr(eq + 1);
      req.query.emplace_back(PercentDecode(name).value(), PercentDecode(value).value());
      start = amp + 1;
    }
  }
  while (std::getline(lines, line)) {
    if (!line.empty() && line.front() == ' ') {
      req.headers.emplace_back(req.headers.back().first, line);
      continue;
    }
    size_t colon = line.find(':');
    req.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  req.payload_hash = Sha256Hex(body);
  return req;
}

TEST(SigV4Suite, EveryPublishedCase) {
  const fs::path dir = SuiteDir();
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  SigV4Credentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  SigV4Scope scope{"us-east-1", "service", "20150830T123600Z"};
  int cases = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().extension() != ".req") continue;
    const fs::path base = entry.path().parent_path() / entry.path().stem();
    SCOPED_TRACE(base.filename().string());
    SigV4Request req = ParseReq(ReadText(entry.path()));
    SigV4Signature sig = SignV4(req, scope, creds, /*normalize_path=*/true);
    EXPECT_EQ(sig.canonical_request, ReadText(base.string() + ".creq"));
    const std::string name = base.filename().string();
    if (name == "post-x-www-form-urlencoded" || name == "post-x-www-form-urlencoded-parameters") {
      // The published suite is inconsistent for these two: the .sts does not hash the .creq
      // (which we match exactly above). The first was signed without Content-Length, as we
      // show; the second's .authz and .sreq disagree on the signed headers, and no variant
      // of its request yields its .sts, so only its canonical request is checked.
      const std::string sts = ReadText(base.string() + ".sts");
      EXPECT_NE(sts.substr(sts.rfind('\n') + 1), Sha256Hex(ReadText(base.string() + ".creq")));
      if (name != "post-x-www-form-urlencoded") {
        ++cases;
        continue;
      }
      std::erase_if(req.headers, [](const auto& h) { return h.first == "Content-Length"; });
      sig = SignV4(req, scope, creds, /*normalize_path=*/true);
    }
    EXPECT_EQ(sig.string_to_sign, ReadText(base.string() + ".sts"));
    EXPECT_EQ(sig.authorization, ReadText(base.string() + ".authz"));
    ++cases;
  }
  // 31 requests in the published suite (normalize-path and post-sts-token included).
  EXPECT_EQ(cases, 31);
}

struct S3Vector {
  std::string method, host, path;
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload, token, authorization;
};

const S3Vector kBotocoreVectors[] = {
#include "sigv4_s3_vectors.inc"
};

TEST(SigV4S3, MatchesBotocore) {
  for (const S3Vector& v : kBotocoreVectors) {
    SCOPED_TRACE(v.method + " " + v.path);
    SigV4Request req;
    req.method = v.method;
    req.path = v.path;
    req.query = v.query;
    req.headers = v.headers;
    req.headers.emplace_back("host", v.host);
    req.headers.emplace_back("x-amz-date", "20240309T174512Z");
    req.payload_hash = Sha256Hex(v.payload);
    req.headers.emplace_back("x-amz-content-sha256", req.payload_hash);
    if (!v.token.empty()) req.headers.emplace_back("x-amz-security-token", v.token);
    SigV4Signature sig =
        SignV4(req, {"eu-west-3", "s3", "20240309T174512Z"},
               {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", v.token},
               /*normalize_path=*/false);
    EXPECT_EQ(sig.authorization, v.authorization);
  }
}

// S3 documentation, "Signature Calculations for the Authorization Header: Transferring Payload
// in a Single Chunk", example GET Object.
TEST(SigV4S3, DocumentationGetObjectExample) {
  SigV4Request req;
  req.method = "GET";
  req.path = "/test.txt";
  req.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                 {"Range", "bytes=0-9"},
                 {"x-amz-content-sha256", std::string(kEmptySha256Hex)},
                 {"x-amz-date", "20130524T000000Z"}};
  req.payload_hash = std::string(kEmptySha256Hex);
  SigV4Signature sig =
      SignV4(req, {"us-east-1", "s3", "20130524T000000Z"},
             {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""}, false);
  EXPECT_EQ(Sha256Hex(sig.canonical_request),
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(sig.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4S3, KeysAreNotNormalised) {
  EXPECT_EQ(CanonicalUri("/b/a//./c", false), "/b/a//./c");
  EXPECT_EQ(CanonicalUri("/b/a//./c", true), "/b/a/c");
  EXPECT_EQ(CanonicalUri("/b/k=v +%/ሴ", false), "/b/k%3Dv%20%2B%25/%E1%88%B4");
}

TEST(Uri, EncodeDecodeParse) {
  EXPECT_EQ(UriEncode("a/b c", true), "a%2Fb%20c");
  EXPECT_EQ(PercentDecode("a%2Fb%20c+").value(), "a/b c+");
  EXPECT_FALSE(PercentDecode("bad%2").ok());
  EXPECT_FALSE(PercentDecode("bad%zz").ok());
  Url u = ParseUrl("HTTP://Example.COM:8080/a/b?x=1#frag").value();
  EXPECT_EQ(u.scheme, "http");
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 8080);
  EXPECT_EQ(u.path, "/a/b");
  EXPECT_EQ(u.query, "x=1");
  EXPECT_EQ(u.authority(), "example.com:8080");
  Url v6 = ParseUrl("http://[::1]:9/").value();
  EXPECT_EQ(v6.host, "[::1]");
  EXPECT_EQ(v6.port, 9);
  EXPECT_FALSE(ParseUrl("http://user:secret@host/x").ok());
  EXPECT_EQ(ParseUrl("http://user:secret@host/x").status().message().find("secret"),
            std::string::npos);
  EXPECT_FALSE(ParseUrl("http://host:99999/").ok());
  EXPECT_FALSE(ParseUrl("nohost").ok());
}

TEST(Crypto, KnownDigests) {
  EXPECT_EQ(Sha256Hex(""), kEmptySha256Hex);
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // RFC 1321 / RFC 4648: MD5("") = d41d8cd98f00b204e9800998ecf8427e.
  EXPECT_EQ(Md5Base64(""), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(AmzTimestamp(1440938160), "20150830T123600Z");
}

}  // namespace
}  // namespace lsio::io::http

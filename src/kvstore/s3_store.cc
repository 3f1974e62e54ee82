#include "lsio/kvstore/s3_store.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <random>
#include <set>

#include "../io/http/crypto.h"
#include "../io/http/sigv4.h"
#include "../io/http/uri.h"
#include "../io/http/xml.h"
#include "lsio/kvstore/key.h"
#include "object_store_internal.h"

namespace lsio::kvstore {

namespace http = io::http;
using internal::Headers;
using internal::Query;

namespace {

// Replaces every occurrence of each secret in `text` (a server's message could quote one).
std::string Redact(std::string text, const AwsCredentials& creds) {
  for (const std::string* secret :
       {&creds.secret_access_key, &creds.session_token, &creds.access_key_id}) {
    if (secret->size() < 4) continue;
    for (size_t pos; (pos = text.find(*secret)) != std::string::npos;) {
      text.replace(pos, secret->size(), "<redacted>");
    }
  }
  return text;
}

bool DnsCompatible(std::string_view bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return bucket.front() != '-' && bucket.back() != '-';
}

bool IsMetadataDocument(std::string_view key) {
  std::string_view base = KeyBaseName(key);
  return base == "zarr.json" || base == ".zarray" || base == ".zgroup" || base == ".zattrs" ||
         base == ".zmetadata";
}

class S3Endpoint final : public internal::ObjectEndpoint {
 public:
  S3Endpoint(std::string bucket, std::string root, AwsConfig cfg, http::Url base, bool path_style)
      : bucket_(std::move(bucket)),
        root_(std::move(root)),
        cfg_(std::move(cfg)),
        base_(std::move(base)),
        path_style_(path_style) {}

  std::string FullKey(std::string_view key) const {
    if (root_.empty()) return std::string(key);
    if (key.empty()) return root_;
    return root_ + "/" + std::string(key);
  }

  std::string Describe(std::string_view key) const override {
    std::string full = FullKey(key);
    return "s3://" + bucket_ + (full.empty() ? "" : "/" + full);
  }

  Status Build(std::string_view method, std::string_view key, const Query& query,
               Headers headers, std::span<const std::byte> body,
               http::RequestSpec* spec) const override {
    // A bucket-level request (a listing, DeleteObjects) passes key "" with a query; an object
    // request names the object below the root.
    const std::string object = key.empty() && !query.empty() ? std::string() : FullKey(key);
    std::string path;
    if (path_style_) {
      path = "/" + bucket_;
      if (!object.empty()) path += "/" + object;
    } else {
      path = "/" + object;
    }
    spec->method = std::string(method);
    spec->url = base_.origin() + http::CanonicalUri(path, false);
    if (!query.empty()) spec->url += "?" + http::CanonicalQuery(query);
    spec->body = body;
    headers.emplace_back("Host", base_.authority());
    if (!cfg_.anonymous && !cfg_.credentials.empty()) {
      const std::string stamp = http::AmzTimestamp(static_cast<long long>(std::time(nullptr)));
      // Over TLS the payload is protected anyway: skip hashing it, as botocore does.
      const std::string payload_hash =
          body.empty()                ? std::string(http::kEmptySha256Hex)
          : base_.scheme == "https" ? std::string("UNSIGNED-PAYLOAD")
                                      : http::Sha256Hex(body);
      headers.emplace_back("x-amz-date", stamp);
      headers.emplace_back("x-amz-content-sha256", payload_hash);
      if (!cfg_.credentials.session_token.empty()) {
        headers.emplace_back("x-amz-security-token", cfg_.credentials.session_token);
      }
      http::SigV4Request req{spec->method, path, query, headers, payload_hash};
      http::SigV4Signature sig =
          http::SignV4(req, {cfg_.region, "s3", stamp},
                       {cfg_.credentials.access_key_id, cfg_.credentials.secret_access_key,
                        cfg_.credentials.session_token},
                       /*normalize_path=*/false);
      headers.emplace_back("Authorization", sig.authorization);
    }
    spec->headers = std::move(headers);
    return Status::OK();
  }

  http::Verdict ErrorVerdict(int status, const http::HeaderMap& headers, std::string_view body,
                             std::string_view what) const override {
    std::string code, message;
    if (!body.empty()) {
      if (auto xml = http::ParseXml(body, what); xml.ok() && xml->name == "Error") {
        code = xml->ChildText("Code");
        message = xml->ChildText("Message");
      }
    }
    std::string server = "HTTP " + std::to_string(status);
    if (!code.empty()) server += " " + code;
    if (!message.empty()) server += ": " + message;
    server = Redact(server, cfg_.credentials);
    const std::string w(what);
    if (status == 404 && code == "NoSuchBucket") {
      return http::Verdict::Fail(
          IOError(w + ": bucket '" + bucket_ + "' does not exist (" + server + ")"));
    }
    if (status == 404) return http::Verdict::Fail(NotFoundError(w + ": no such key (" + server + ")"));
    if (status == 301 || status == 307 || code == "PermanentRedirect" ||
        code == "AuthorizationHeaderMalformed") {
      auto it = headers.find("x-amz-bucket-region");
      if (it != headers.end() && it->second != cfg_.region) {
        return http::Verdict::Fail(InvalidArgumentError(
            w + ": bucket '" + bucket_ + "' is in region " + it->second + ", not " +
            cfg_.region + " (set AWS_REGION=" + it->second + " or the storage option region)"));
      }
    }
    if (status == 403 || status == 401) {
      std::string hint = cfg_.anonymous || cfg_.credentials.empty()
                             ? "; the request was anonymous (" + cfg_.credentials_source + ")"
                             : "; credentials from " + cfg_.credentials_source;
      return http::Verdict::Fail(PermissionDeniedError(w + ": access denied (" + server + ")" + hint));
    }
    Status s = IOError(w + ": " + server);
    if (status == 400 && code == "RequestTimeout") return http::Verdict::Retry(s);
    if (status == 400 && code == "ExpiredToken") {
      return http::Verdict::Fail(PermissionDeniedError(w + ": " + server));
    }
    if (status == 400 || (status > 400 && status < 500 && status != 408 && status != 429)) {
      return http::Verdict::Fail(s);
    }
    return http::Verdict::Retry(s);  // 5xx, 408, 429: the client adds Retry-After
  }

  const std::string& bucket() const { return bucket_; }
  const AwsConfig& config() const { return cfg_; }

 private:
  std::string bucket_, root_;
  AwsConfig cfg_;
  http::Url base_;
  bool path_style_;
};

class S3Store;

class S3Publication final : public Publication {
 public:
  S3Publication(std::shared_ptr<S3Store> store, std::string prefix, bool replace, bool conflict)
      : store_(std::move(store)), prefix_(std::move(prefix)), replace_(replace),
        conflict_(conflict) {}
  ~S3Publication() override;
  Status Write(std::string_view key, std::span<const std::byte> value) override;
  Status Commit() override;

 private:
  Status AlreadyExists() const;
  void RemoveWritten();

  std::shared_ptr<S3Store> store_;
  std::string prefix_;
  bool replace_;
  bool conflict_;  // something was at the prefix at Begin (and no replace): writes are dropped
  bool finished_ = false;
  std::set<std::string> written_;
  std::map<std::string, std::string> deferred_;
};

class S3Store final : public Store, public std::enable_shared_from_this<S3Store> {
 public:
  S3Store(std::shared_ptr<S3Endpoint> endpoint, std::shared_ptr<http::Client> client,
          S3StoreOptions options)
      : endpoint_(std::move(endpoint)), client_(std::move(client)), options_(std::move(options)) {}

  std::string Describe(std::string_view key) const override { return endpoint_->Describe(key); }

  Result<std::unique_ptr<Reader>> MakeReader(const ReaderOptions& options) override {
    return internal::MakeObjectReader(client_, endpoint_, options_.object.coalesce, options);
  }
  CoalesceOptions coalescing() const override { return options_.object.coalesce; }

  Result<std::optional<Buffer>> Read(std::string_view key, ByteRange range,
                                     uint64_t max_length) override {
    LSIO_RETURN_IF_ERROR(CheckKey(key));
    return internal::ReadValue(*client_, endpoint_, key, range, max_length);
  }

  Result<std::optional<uint64_t>> Size(std::string_view key) override {
    LSIO_RETURN_IF_ERROR(CheckKey(key));
    return internal::HeadSize(*client_, endpoint_, key);
  }

  Result<std::vector<ListEntry>> List(std::string_view prefix, ListMode mode) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(prefix));
    const std::string full = endpoint_->FullKey(prefix);
    const std::string list_prefix = full.empty() ? "" : full + "/";
    std::vector<ListEntry> out;
    std::string token;
    for (int page = 0;; ++page) {
      Query q = {{"list-type", "2"},
                 {"max-keys", std::to_string(options_.list_page_size)}};
      if (!list_prefix.empty()) q.emplace_back("prefix", list_prefix);
      if (mode == ListMode::kChildren) q.emplace_back("delimiter", "/");
      if (!token.empty()) q.emplace_back("continuation-token", token);
      const std::string what = "listing " + Describe(prefix);
      LSIO_ASSIGN_OR_RETURN(internal::Response resp,
                            internal::Call(*client_, endpoint_, "GET", "", q, {}, {}, what));
      LSIO_ASSIGN_OR_RETURN(http::XmlElement xml, http::ParseXml(resp.body, what));
      if (xml.name != "ListBucketResult") {
        return CorruptDataError(what + ": unexpected response <" + xml.name + ">");
      }
      for (const http::XmlElement& e : xml.children) {
        if (e.name == "Contents") {
          std::string key = e.ChildText("Key");
          if (!key.starts_with(list_prefix) || key.size() == list_prefix.size()) continue;
          ListEntry entry;
          entry.key = key.substr(list_prefix.size());
          auto size = e.ChildText("Size");
          entry.size = size.empty() ? 0 : std::strtoull(size.c_str(), nullptr, 10);
          out.push_back(std::move(entry));
        } else if (e.name == "CommonPrefixes") {
          std::string p = e.ChildText("Prefix");
          if (!p.starts_with(list_prefix)) continue;
          p = p.substr(list_prefix.size());
          while (p.ends_with('/')) p.pop_back();
          if (p.empty()) continue;
          out.push_back({p, true, 0});
        }
      }
      if (xml.ChildText("IsTruncated") != "true") break;
      token = xml.ChildText("NextContinuationToken");
      if (token.empty()) {
        return CorruptDataError(what + ": a truncated listing without NextContinuationToken");
      }
      if (page > 10'000'000) return InternalError(what + ": endless listing");
    }
    std::sort(out.begin(), out.end(),
              [](const ListEntry& a, const ListEntry& b) { return a.key < b.key; });
    return out;
  }

  Status Write(std::string_view key, std::span<const std::byte> value) override {
    LSIO_RETURN_IF_ERROR(CheckKey(key));
    if (value.size() > options_.object.multipart_threshold) return WriteMultipart(key, value);
    return internal::Call(*client_, endpoint_, "PUT", std::string(key), {},
                          {{"Content-Type", "application/octet-stream"}}, value,
                          "writing " + Describe(key))
        .status();
  }

  Status WriteBatch(std::vector<KeyValue> values) override {
    std::vector<std::future<Result<internal::Response>>> puts;
    Status first;
    for (const KeyValue& kv : values) {
      LSIO_RETURN_IF_ERROR(CheckKey(kv.key));
    }
    for (const KeyValue& kv : values) {
      if (kv.value.size() > options_.object.multipart_threshold) {
        Status s = WriteMultipart(kv.key, kv.value.span());
        if (first.ok()) first = s;
        continue;
      }
      puts.push_back(internal::StartCall(*client_, endpoint_, "PUT", kv.key, {},
                                         {{"Content-Type", "application/octet-stream"}},
                                         kv.value.span(), "writing " + Describe(kv.key)));
    }
    for (auto& f : puts) {
      Status s = f.get().status();
      if (first.ok()) first = s;
    }
    return first;
  }

  Status Delete(std::string_view key) override {
    LSIO_RETURN_IF_ERROR(CheckKey(key));
    Status s = internal::Call(*client_, endpoint_, "DELETE", std::string(key), {}, {}, {},
                              "deleting " + Describe(key))
                   .status();
    if (s.code() == StatusCode::kNotFound) return Status::OK();
    return s;
  }

  Status DeletePrefix(std::string_view prefix) override {
    LSIO_ASSIGN_OR_RETURN(std::vector<ListEntry> entries, List(prefix, ListMode::kRecursive));
    std::vector<std::string> keys;
    keys.reserve(entries.size());
    for (const ListEntry& e : entries) {
      keys.push_back(prefix.empty() ? e.key : std::string(prefix) + "/" + e.key);
    }
    return DeleteKeys(keys);
  }

  // Deletes `keys` (relative to the root) with DeleteObjects, 1000 at a time; falls back to
  // one DELETE per key where the server does not implement it.
  Status DeleteKeys(const std::vector<std::string>& keys) {
    for (size_t start = 0; start < keys.size(); start += 1000) {
      const size_t end = std::min(keys.size(), start + 1000);
      std::string body = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>";
      for (size_t i = start; i < end; ++i) {
        body += "<Object><Key>" + http::XmlEscape(endpoint_->FullKey(keys[i])) + "</Key></Object>";
      }
      body += "</Delete>";
      const std::string what = "deleting below " + Describe("");
      auto bytes = std::as_bytes(std::span<const char>(body.data(), body.size()));
      Result<internal::Response> resp = internal::Call(
          *client_, endpoint_, "POST", "", {{"delete", ""}},
          {{"Content-MD5", http::Md5Base64(body)}, {"Content-Type", "application/xml"}}, bytes,
          what);
      if (!resp.ok() && (resp.status().message().find("NotImplemented") != std::string::npos ||
                         resp.status().message().find("HTTP 501") != std::string::npos)) {
        std::vector<std::future<Result<internal::Response>>> dels;
        for (size_t i = start; i < end; ++i) {
          dels.push_back(internal::StartCall(*client_, endpoint_, "DELETE", keys[i], {}, {}, {},
                                             "deleting " + Describe(keys[i])));
        }
        Status first;
        for (auto& f : dels) {
          Status s = f.get().status();
          if (s.code() != StatusCode::kNotFound && first.ok()) first = s;
        }
        LSIO_RETURN_IF_ERROR(first);
        continue;
      }
      LSIO_RETURN_IF_ERROR(resp);
      LSIO_ASSIGN_OR_RETURN(http::XmlElement xml, http::ParseXml(resp->body, what));
      for (const http::XmlElement& e : xml.children) {
        if (e.name == "Error") {
          return IOError(what + ": " + e.ChildText("Key") + ": " + e.ChildText("Code") + ": " +
                         e.ChildText("Message"));
        }
      }
    }
    return Status::OK();
  }

  Result<std::unique_ptr<Publication>> BeginPublish(std::string_view prefix,
                                                    const PublishOptions& options) override {
    LSIO_RETURN_IF_ERROR(ValidateKey(prefix));
    bool conflict = false;
    if (!options.replace) {
      LSIO_ASSIGN_OR_RETURN(bool empty, PrefixEmpty(prefix));
      conflict = !empty;
    }
    return std::unique_ptr<Publication>(
        new S3Publication(shared_from_this(), std::string(prefix), options.replace, conflict));
  }

  Result<bool> PrefixEmpty(std::string_view prefix) {
    // One small page is enough to know (the whole listing is made at Commit).
    const std::string full = endpoint_->FullKey(prefix);
    Query q = {{"list-type", "2"}, {"max-keys", "1"}};
    if (!full.empty()) q.emplace_back("prefix", full + "/");
    const std::string what = "listing " + Describe(prefix);
    LSIO_ASSIGN_OR_RETURN(internal::Response resp,
                          internal::Call(*client_, endpoint_, "GET", "", q, {}, {}, what));
    LSIO_ASSIGN_OR_RETURN(http::XmlElement xml, http::ParseXml(resp.body, what));
    return xml.Child("Contents") == nullptr;
  }

 private:
  Status CheckKey(std::string_view key) const {
    LSIO_RETURN_IF_ERROR(ValidateKey(key));
    if (key.empty()) return InvalidArgumentError(Describe(key) + ": a value needs a non-empty key");
    return Status::OK();
  }

  Status WriteMultipart(std::string_view key, std::span<const std::byte> value) {
    const std::string what = "writing " + Describe(key) + " (multipart upload)";
    LSIO_ASSIGN_OR_RETURN(internal::Response init,
                          internal::Call(*client_, endpoint_, "POST", std::string(key),
                                         {{"uploads", ""}},
                                         {{"Content-Type", "application/octet-stream"}}, {},
                                         what));
    LSIO_ASSIGN_OR_RETURN(http::XmlElement xml, http::ParseXml(init.body, what));
    const std::string upload_id = xml.ChildText("UploadId");
    if (upload_id.empty()) return CorruptDataError(what + ": no UploadId in the response");
    auto abort = [&](Status cause) {
      (void)internal::Call(*client_, endpoint_, "DELETE", std::string(key),
                           {{"uploadId", upload_id}}, {}, {}, what + ": abort");
      return cause;
    };
    const uint64_t part = std::max<uint64_t>(options_.object.part_size, uint64_t{5} << 20);
    const size_t parts = static_cast<size_t>((value.size() + part - 1) / part);
    if (parts > 10000) return abort(InvalidArgumentError(what + ": more than 10000 parts"));
    std::vector<std::future<Result<internal::Response>>> futures;
    for (size_t i = 0; i < parts; ++i) {
      const uint64_t off = i * part;
      auto slice = value.subspan(off, std::min<uint64_t>(part, value.size() - off));
      futures.push_back(internal::StartCall(
          *client_, endpoint_, "PUT", std::string(key),
          {{"partNumber", std::to_string(i + 1)}, {"uploadId", upload_id}}, {}, slice,
          what + ": part " + std::to_string(i + 1)));
    }
    std::string complete = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
    Status first;
    for (size_t i = 0; i < parts; ++i) {
      Result<internal::Response> r = futures[i].get();
      if (!r.ok()) {
        if (first.ok()) first = r.status();
        continue;
      }
      auto etag = r->headers.find("etag");
      if (etag == r->headers.end()) {
        if (first.ok()) first = CorruptDataError(what + ": part " + std::to_string(i + 1) + " has no ETag");
        continue;
      }
      complete += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
                  http::XmlEscape(etag->second) + "</ETag></Part>";
    }
    if (!first.ok()) return abort(first);
    complete += "</CompleteMultipartUpload>";
    auto bytes = std::as_bytes(std::span<const char>(complete.data(), complete.size()));
    Result<internal::Response> done = internal::Call(
        *client_, endpoint_, "POST", std::string(key), {{"uploadId", upload_id}},
        {{"Content-Type", "application/xml"}}, bytes, what);
    if (!done.ok()) return abort(done.status());
    // S3 may answer 200 and put an error in the body.
    if (auto x = http::ParseXml(done->body, what); x.ok() && x->name == "Error") {
      return abort(IOError(what + ": " + x->ChildText("Code") + ": " + x->ChildText("Message")));
    }
    return Status::OK();
  }

  std::shared_ptr<S3Endpoint> endpoint_;
  std::shared_ptr<http::Client> client_;
  S3StoreOptions options_;
};

S3Publication::~S3Publication() {
  if (!finished_) RemoveWritten();
}

Status S3Publication::AlreadyExists() const {
  return InvalidArgumentError(store_->Describe(prefix_) + ": already exists");
}

void S3Publication::RemoveWritten() {
  std::vector<std::string> keys;
  for (const std::string& k : written_) keys.push_back(JoinKey(prefix_, k).value_or(k));
  (void)store_->DeleteKeys(keys);
  written_.clear();
}

Status S3Publication::Write(std::string_view key, std::span<const std::byte> value) {
  if (finished_) return InvalidArgumentError(store_->Describe(prefix_) + ": publication is over");
  LSIO_ASSIGN_OR_RETURN(std::string full, JoinKey(prefix_, key));
  if (key.empty()) return InvalidArgumentError(store_->Describe(prefix_) + ": empty key");
  if (conflict_) return Status::OK();  // Commit reports it; the old content stays untouched
  if (IsMetadataDocument(key)) {
    deferred_[std::string(key)].assign(reinterpret_cast<const char*>(value.data()), value.size());
    return Status::OK();
  }
  LSIO_RETURN_IF_ERROR(store_->Write(full, value));
  written_.insert(std::string(key));
  return Status::OK();
}

Status S3Publication::Commit() {
  if (finished_) return InvalidArgumentError(store_->Describe(prefix_) + ": publication is over");
  if (conflict_) {
    finished_ = true;
    return AlreadyExists();
  }
  LSIO_ASSIGN_OR_RETURN(std::vector<ListEntry> existing, store_->List(prefix_, ListMode::kRecursive));
  // Everything at the prefix that this publication did not write is someone else's (no
  // replace: a conflict) or the old content (replace: it goes).
  std::vector<std::string> others, old_documents;
  for (const ListEntry& e : existing) {
    if (written_.count(e.key)) continue;
    (IsMetadataDocument(e.key) ? old_documents : others).push_back(e.key);
  }
  if (!replace_ && (!others.empty() || !old_documents.empty())) {
    RemoveWritten();
    finished_ = true;
    return AlreadyExists();
  }
  auto full = [&](const std::vector<std::string>& keys) {
    std::vector<std::string> out;
    for (const std::string& k : keys) out.push_back(JoinKey(prefix_, k).value_or(k));
    return out;
  };
  // Replacing: the old dataset stops being visible (its documents go first), then its data
  // goes, then the new documents appear, so a reader sees the old dataset, none, or the new.
  LSIO_RETURN_IF_ERROR(store_->DeleteKeys(full(old_documents)));
  LSIO_RETURN_IF_ERROR(store_->DeleteKeys(full(others)));
  // Deepest documents first: the root's is the last PUT.
  std::vector<std::pair<std::string, std::string>> docs(deferred_.begin(), deferred_.end());
  std::stable_sort(docs.begin(), docs.end(), [](const auto& a, const auto& b) {
    return std::count(a.first.begin(), a.first.end(), '/') >
           std::count(b.first.begin(), b.first.end(), '/');
  });
  for (const auto& [key, value] : docs) {
    LSIO_ASSIGN_OR_RETURN(std::string k, JoinKey(prefix_, key));
    LSIO_RETURN_IF_ERROR(store_->Write(
        k, std::as_bytes(std::span<const char>(value.data(), value.size()))));
    written_.insert(key);
  }
  finished_ = true;
  return Status::OK();
}

Result<std::pair<std::string, std::string>> SplitS3Url(std::string_view url) {
  if (!url.starts_with("s3://")) {
    return InvalidArgumentError("'" + std::string(url) + "' is not an s3:// URL");
  }
  std::string_view rest = url.substr(5);
  size_t slash = rest.find('/');
  std::string bucket(rest.substr(0, slash));
  std::string prefix(slash == std::string_view::npos ? "" : rest.substr(slash + 1));
  while (prefix.ends_with('/')) prefix.pop_back();
  if (bucket.empty() || bucket.size() > 255) {
    return InvalidArgumentError("'" + std::string(url) + "': no bucket name");
  }
  for (char c : bucket) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) {
      return InvalidArgumentError("'" + std::string(url) + "': bad bucket name '" + bucket + "'");
    }
  }
  if (!prefix.empty()) {
    Status s = ValidateKey(prefix);
    if (!s.ok()) return s.WithContext("'" + std::string(url) + "'");
  }
  return std::pair{bucket, prefix};
}

}  // namespace

Result<std::shared_ptr<Store>> MakeS3Store(std::string_view url, S3StoreOptions options) {
  LSIO_ASSIGN_OR_RETURN(auto parts, SplitS3Url(url));
  auto& [bucket, prefix] = parts;
  if (options.list_page_size < 1 || options.list_page_size > 1000) {
    return InvalidArgumentError("list_page_size must be in [1, 1000]");
  }
  const AwsConfig& cfg = options.aws;
  bool path_style;
  http::Url base;
  if (!cfg.endpoint_url.empty()) {
    LSIO_ASSIGN_OR_RETURN(base, http::ParseUrl(cfg.endpoint_url));
    path_style = cfg.addressing != S3Addressing::kVirtual;
    if (!path_style) base.host = bucket + "." + base.host;
  } else {
    base.scheme = "https";
    base.host = "s3." + cfg.region + ".amazonaws.com";
    path_style = cfg.addressing == S3Addressing::kPath ||
                 (cfg.addressing == S3Addressing::kAuto && !DnsCompatible(bucket));
    if (!path_style) base.host = bucket + "." + base.host;
  }
  base.path.clear();
  base.query.clear();
  LSIO_ASSIGN_OR_RETURN(auto client, http::Client::Create(internal::ToClientOptions(options.object)));
  auto endpoint = std::make_shared<S3Endpoint>(bucket, prefix, cfg, base, path_style);
  return std::shared_ptr<Store>(std::make_shared<S3Store>(std::move(endpoint), std::move(client),
                                                          std::move(options)));
}

Result<std::shared_ptr<Store>> OpenS3Store(std::string_view url, const OpenOptions& options) {
  std::map<std::string, std::string> opts = options.storage_options;
  S3StoreOptions s3;
  LSIO_ASSIGN_OR_RETURN(s3.object, TakeObjectStoreOptions(opts));
  LSIO_ASSIGN_OR_RETURN(s3.aws, ResolveAwsConfig(opts, ProcessEnvironment()));
  if (auto it = opts.find("list_page_size"); it != opts.end()) {
    char* end = nullptr;
    long n = std::strtol(it->second.c_str(), &end, 10);
    if (end == it->second.c_str() || *end != '\0' || n < 1 || n > 1000) {
      return InvalidArgumentError("storage option 'list_page_size': expected 1 to 1000, got '" +
                                  it->second + "'");
    }
    s3.list_page_size = static_cast<int>(n);
    opts.erase(it);
  }
  std::string unknown;
  for (const auto& [name, value] : opts) {
    if (IsAwsStorageOption(name)) continue;
    unknown += (unknown.empty() ? "" : ", ") + name;
  }
  if (!unknown.empty()) {
    return InvalidArgumentError(std::string(url) + ": unknown storage option(s) " + unknown);
  }
  return MakeS3Store(url, std::move(s3));
}

}  // namespace lsio::kvstore

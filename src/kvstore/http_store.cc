#include "lsio/kvstore/http_store.h"

#include "../io/http/uri.h"
#include "lsio/kvstore/key.h"
#include "lsio/kvstore/s3_store.h"
#include "object_store_internal.h"

namespace lsio::kvstore {

namespace http = io::http;

namespace {

class HttpEndpoint final : public internal::ObjectEndpoint {
 public:
  // `path` decoded, without a trailing '/'.
  HttpEndpoint(http::Url base, std::string path, std::string display)
      : base_(std::move(base)), path_(std::move(path)), display_(std::move(display)) {}

  std::string Describe(std::string_view key) const override {
    return key.empty() ? display_ : display_ + "/" + std::string(key);
  }

  Status Build(std::string_view method, std::string_view key, const internal::Query& query,
               internal::Headers headers, std::span<const std::byte> body,
               http::RequestSpec* spec) const override {
    if (!query.empty() || !body.empty()) {
      return InternalError(Describe(key) + ": plain HTTP stores only GET and HEAD");
    }
    spec->method = std::string(method);
    spec->url = base_.origin() + http::UriEncode(path_ + "/" + std::string(key), false);
    spec->headers = std::move(headers);
    return Status::OK();
  }

  http::Verdict ErrorVerdict(int status, const http::HeaderMap& headers, std::string_view body,
                             std::string_view what) const override {
    std::string text(body.substr(0, 200));
    for (char& c : text) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    const std::string server = "HTTP " + std::to_string(status) + (text.empty() ? "" : ": " + text);
    const std::string w(what);
    if (status >= 300 && status < 400) {
      // Web servers redirect "dir" to "dir/": a directory is not a value (as for FileStore).
      // Other redirects are not followed (they could leave the store's origin).
      auto it = headers.find("location");
      const std::string location = it == headers.end() ? "" : it->second;
      std::string last(what.substr(what.rfind('/') == std::string_view::npos ? 0 : what.rfind('/') + 1));
      if (!last.empty() && location.size() > last.size() && location.back() == '/' &&
          location.compare(location.size() - last.size() - 1, last.size(), last) == 0) {
        return http::Verdict::Fail(NotFoundError(w + ": a directory, not a value (HTTP " +
                                                 std::to_string(status) + ")"));
      }
      return http::Verdict::Fail(IOError(w + ": HTTP " + std::to_string(status) +
                                         " redirect to '" + location.substr(0, 200) +
                                         "' (lsio does not follow redirects)"));
    }
    if (status == 404 || status == 410) {
      return http::Verdict::Fail(NotFoundError(w + ": not found (HTTP " + std::to_string(status) + ")"));
    }
    if (status == 401 || status == 403) {
      return http::Verdict::Fail(PermissionDeniedError(w + ": access denied (" + server + ")"));
    }
    if (status >= 400 && status < 500 && status != 408 && status != 429) {
      return http::Verdict::Fail(IOError(w + ": " + server));
    }
    return http::Verdict::Retry(IOError(w + ": " + server));
  }

 private:
  http::Url base_;
  std::string path_;
  std::string display_;
};

class HttpStore final : public Store {
 public:
  HttpStore(std::shared_ptr<HttpEndpoint> endpoint, std::shared_ptr<http::Client> client,
            ObjectStoreOptions options)
      : endpoint_(std::move(endpoint)), client_(std::move(client)), options_(options) {}

  std::string Describe(std::string_view key) const override { return endpoint_->Describe(key); }
  Result<std::unique_ptr<Reader>> MakeReader(const ReaderOptions& options) override {
    return internal::MakeObjectReader(client_, endpoint_, options_.coalesce, options);
  }
  CoalesceOptions coalescing() const override { return options_.coalesce; }

  Result<std::optional<Buffer>> Read(std::string_view key, ByteRange range,
                                     uint64_t max_length) override {
    LSIO_RETURN_IF_ERROR(CheckKey(key));
    return internal::ReadValue(*client_, endpoint_, key, range, max_length);
  }
  Result<std::optional<uint64_t>> Size(std::string_view key) override {
    LSIO_RETURN_IF_ERROR(CheckKey(key));
    return internal::HeadSize(*client_, endpoint_, key);
  }
  Result<std::vector<ListEntry>> List(std::string_view prefix, ListMode) override {
    return NotSupportedError(Describe(prefix) +
                             ": plain HTTP has no listing (a dataset read over HTTP needs "
                             "consolidated metadata)");
  }
  Status Write(std::string_view key, std::span<const std::byte>) override {
    return ReadOnly(key);
  }
  Status WriteBatch(std::vector<KeyValue> values) override {
    return ReadOnly(values.empty() ? "" : values.front().key);
  }
  Status Delete(std::string_view key) override { return ReadOnly(key); }
  Status DeletePrefix(std::string_view prefix) override { return ReadOnly(prefix); }
  Result<std::unique_ptr<Publication>> BeginPublish(std::string_view prefix,
                                                    const PublishOptions&) override {
    return ReadOnly(prefix);
  }

 private:
  Status ReadOnly(std::string_view key) const {
    return NotSupportedError(Describe(key) + ": plain HTTP stores are read-only");
  }
  Status CheckKey(std::string_view key) const {
    LSIO_RETURN_IF_ERROR(ValidateKey(key));
    if (key.empty()) return InvalidArgumentError(Describe(key) + ": a value needs a non-empty key");
    return Status::OK();
  }

  std::shared_ptr<HttpEndpoint> endpoint_;
  std::shared_ptr<http::Client> client_;
  ObjectStoreOptions options_;
};

}  // namespace

Result<std::shared_ptr<Store>> MakeHttpStore(std::string_view url, ObjectStoreOptions options) {
  LSIO_ASSIGN_OR_RETURN(http::Url u, http::ParseUrl(url));
  if (u.scheme != "http" && u.scheme != "https") {
    return InvalidArgumentError("'" + std::string(url) + "' is not an http(s):// URL");
  }
  if (!u.query.empty()) {
    return InvalidArgumentError(u.origin() + u.path +
                                ": a query string in an HTTP store's URL is not supported");
  }
  LSIO_ASSIGN_OR_RETURN(std::string path, http::PercentDecode(u.path));
  while (path.ends_with('/')) path.pop_back();
  std::string display = u.origin() + u.path;
  while (display.ends_with('/')) display.pop_back();
  u.path.clear();
  LSIO_ASSIGN_OR_RETURN(auto client, http::Client::Create(internal::ToClientOptions(options)));
  auto endpoint = std::make_shared<HttpEndpoint>(std::move(u), std::move(path), std::move(display));
  return std::shared_ptr<Store>(
      std::make_shared<HttpStore>(std::move(endpoint), std::move(client), options));
}

Result<std::shared_ptr<Store>> OpenHttpStore(std::string_view url, const OpenOptions& options) {
  std::map<std::string, std::string> opts = options.storage_options;
  LSIO_ASSIGN_OR_RETURN(ObjectStoreOptions o, TakeObjectStoreOptions(opts));
  // fsspec passes anon to every filesystem; it means nothing to plain HTTP.
  opts.erase("anon");
  if (!opts.empty()) {
    std::string unknown;
    for (const auto& [name, value] : opts) unknown += (unknown.empty() ? "" : ", ") + name;
    return InvalidArgumentError(std::string(url) + ": unknown storage option(s) " + unknown);
  }
  return MakeHttpStore(url, o);
}

void RegisterObjectStores() {
  RegisterStoreScheme("s3", [](std::string_view location, const OpenOptions& options) {
    return OpenS3Store(location, options);
  });
  for (const char* scheme : {"http", "https"}) {
    RegisterStoreScheme(scheme, [](std::string_view location, const OpenOptions& options) {
      return OpenHttpStore(location, options);
    });
  }
}

}  // namespace lsio::kvstore

#pragma once

// HttpStore: keys below http(s)://HOST/PATH, read with plain GET and HEAD (any web server that
// honours Range: nginx, S3 website endpoints, a CDN). Reads and failures as object_store.h.
// HTTP has no listing: List fails with kNotSupported (a dataset needs consolidated metadata
// there), and so do writes, deletes and publications. Keys are percent-encoded into the URL
// path ('/' kept); a query string in the store's URL is refused (it would have to go on every
// key's URL, and a signed query string is a credential).

#include <memory>
#include <string>
#include <string_view>

#include "lsio/kvstore/object_store.h"
#include "lsio/kvstore/open.h"
#include "lsio/kvstore/store.h"

namespace lsio::kvstore {

Result<std::shared_ptr<Store>> MakeHttpStore(std::string_view url, ObjectStoreOptions options);

// OpenStore's factory for http:// and https:// (object store options only).
Result<std::shared_ptr<Store>> OpenHttpStore(std::string_view url, const OpenOptions& options);

}  // namespace lsio::kvstore

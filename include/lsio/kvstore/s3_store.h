#pragma once

// S3Store: keys below s3://BUCKET/PREFIX on AWS S3 or any S3-compatible server (MinIO, Ceph,
// rclone, moto, R2, GCS's XML API ...). Requests are signed with SigV4 (or sent anonymously,
// aws_config.h), addressed path-style on custom endpoints and virtual-hosted on AWS.
//
// Reads and failures: object_store.h. Size is a HEAD; List is ListObjectsV2 (paginated;
// kChildren uses the '/' delimiter). Write is one PUT (atomic per key, as S3 guarantees),
// multipart above ObjectStoreOptions::multipart_threshold (aborted if anything fails, so no
// part of it becomes visible). Delete is DELETE, DeletePrefix lists and deletes in batches of
// 1000 (DeleteObjects).
//
// Publication (object stores have no rename, so "atomic" means what it can):
//   * Data values are PUT at their final keys as they are written. Values whose last key
//     component is a metadata document (zarr.json, .zarray, .zgroup, .zattrs, .zmetadata) are
//     held in memory and PUT at Commit, after every data value, deepest key first, so the
//     document that makes the whole visible to a reader (the root's) is the last PUT. A reader
//     therefore finds either no dataset at the prefix or a complete one, never one that refers
//     to data not yet written; a listing before Commit shows the data keys.
//   * Without `replace`, Begin and Commit check that nothing but this publication's keys is at
//     the prefix; otherwise Commit fails with "already exists", deletes what was written, and
//     the old content is untouched.
//   * With `replace`, Commit first deletes the old metadata documents (the old dataset stops
//     being visible), then writes the new ones, then deletes old keys the publication did not
//     rewrite. Data keys of the old content that the publication rewrites change before Commit.
//   * An uncommitted publication that is destroyed deletes what it wrote.

#include <memory>
#include <string>
#include <string_view>

#include "lsio/kvstore/aws_config.h"
#include "lsio/kvstore/object_store.h"
#include "lsio/kvstore/open.h"
#include "lsio/kvstore/store.h"

namespace lsio::kvstore {

struct S3StoreOptions {
  AwsConfig aws;
  ObjectStoreOptions object;
  // Keys per ListObjectsV2 page (1 to 1000; tests use small pages to exercise pagination).
  int list_page_size = 1000;
};

// `url` is s3://BUCKET or s3://BUCKET/PREFIX. Errors: kInvalidArgument for a malformed URL or
// bucket name. Nothing is sent until the store is used.
Result<std::shared_ptr<Store>> MakeS3Store(std::string_view url, S3StoreOptions options);

// OpenStore's factory for s3://: the AWS settings from the environment and
// `options.storage_options` (aws_config.h), the object store options (object_store.h), and
// "list_page_size". Unknown storage options are an error naming them.
Result<std::shared_ptr<Store>> OpenS3Store(std::string_view url, const OpenOptions& options);

}  // namespace lsio::kvstore

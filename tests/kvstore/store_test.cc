// FileStore (both IO backends) and MemoryStore through the conformance suite, plus what is
// particular to each.

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "lsio/kvstore/file_store.h"
#include "lsio/kvstore/key.h"
#include "lsio/kvstore/memory_store.h"
#include "lsio/kvstore/open.h"
#include "store_conformance.h"

namespace lsio::kvstore::testing {
namespace {

namespace fs = std::filesystem;

// The directories FreshDir made, removed when the test program exits.
struct MadeDirs {
  std::vector<fs::path> paths;
  ~MadeDirs() {
    for (const fs::path& p : paths) {
      std::error_code ec;
      fs::remove_all(p, ec);
    }
  }
};

std::string FreshDir() {
  static int n = 0;
  static MadeDirs made;
  fs::path p = fs::temp_directory_path() /
               ("lsio-kvstore-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
  fs::remove_all(p);
  made.paths.push_back(p);
  return p.string() + "/store";  // the root itself does not exist yet
}

std::shared_ptr<Store> FileStoreWith(io::Backend backend) {
  FileStoreOptions o;
  o.engine.backend = backend;
  return MakeFileStore(FreshDir(), o);
}

INSTANTIATE_TEST_SUITE_P(
    Stores, StoreConformanceTest,
    ::testing::Values(StoreFactory{"FileUring", [] { return FileStoreWith(io::Backend::kAuto); },
                                   true, true, nullptr},
                      StoreFactory{"FilePosix", [] { return FileStoreWith(io::Backend::kPosix); },
                                   true, true, nullptr},
                      StoreFactory{"Memory", [] { return MakeMemoryStore(); }, true, true,
                                   nullptr}),
    StoreFactoryName);

std::span<const std::byte> Bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

TEST(FileStore, KeysAreFilesBelowTheRoot) {
  const std::string root = FreshDir();
  std::shared_ptr<Store> store = MakeFileStore(root);
  ASSERT_TRUE(store->Write("a/b/c", Bytes("xyz")).ok());
  std::ifstream in(root + "/a/b/c");
  std::string got((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(got, "xyz");
  EXPECT_EQ(store->Describe("a/b/c"), root + "/a/b/c");
  // No temporaries left beside the value.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(root + "/a/b")) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(FileStore, PublicationOfTheRootItself) {
  const std::string root = FreshDir();
  std::shared_ptr<Store> store = MakeFileStore(root);
  Result<std::unique_ptr<Publication>> p = store->BeginPublish("", {});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_TRUE((*p)->Write("zarr.json", Bytes("{}")).ok());
  EXPECT_FALSE(fs::exists(root)) << "not visible before Commit";
  ASSERT_TRUE((*p)->Commit().ok());
  EXPECT_TRUE(fs::exists(root + "/zarr.json"));
  // A second publication to an existing root is refused up front.
  Result<std::unique_ptr<Publication>> again = store->BeginPublish("", {});
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("already exists"), std::string::npos);
  // Nothing but the store is left in the parent directory.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(fs::path(root).parent_path())) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST(FileStore, ListingSkipsWritersTemporaries) {
  const std::string root = FreshDir();
  std::shared_ptr<Store> store = MakeFileStore(root);
  ASSERT_TRUE(store->Write("x", Bytes("1")).ok());
  std::ofstream(root + "/.x.lsio-tmp-1-2") << "partial";
  Result<std::vector<ListEntry>> entries = store->List("", ListMode::kRecursive);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0].key, "x");
}

// A PID no process has now: a child that has exited and been reaped.
pid_t DeadPid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

TEST(FileStore, RemovesOnlyAbandonedTemporaries) {
  const std::string root = FreshDir();
  std::shared_ptr<Store> store = MakeFileStore(root);
  ASSERT_TRUE(store->Write("a/c/0", Bytes("1")).ok());
  const std::string dead = std::to_string(DeadPid());
  const std::string mine = std::to_string(::getpid());
  // Abandoned: a dead writer's file and publication directory, at any depth.
  std::ofstream(root + "/a/c/.0.lsio-tmp-" + dead + "-7") << "partial";
  std::ofstream(root + "/.zarr.json.lsio-tmp-" + dead + "-0") << "partial";
  fs::create_directories(root + "/.pub.lsio-tmp-" + dead + "-3/x");
  std::ofstream(root + "/.pub.lsio-tmp-" + dead + "-3/x/y") << "partial";
  // Kept: this process's own (a write in flight), one of a running process that started before
  // it (PID 1), and names that only look alike.
  std::ofstream(root + "/a/.1.lsio-tmp-" + mine + "-0") << "in flight";
  std::ofstream(root + "/a/.2.lsio-tmp-1-0") << "in flight";
  const std::vector<std::string> lookalikes = {
      "a/.3.lsio-tmp-x-1", "a/.4.lsio-tmp-" + dead, "a/5.lsio-tmp-" + dead + "-1",
      "a/.lsio-tmp-" + dead + "-1", "a/.6.lsio-tmp-" + dead + "-1x", "a/.7.lsio-tmp--1"};
  for (const std::string& k : lookalikes) std::ofstream(root + "/" + k) << "mine";
  Result<uint64_t> removed = store->RemoveAbandonedTemporaries("");
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 3u);
  EXPECT_FALSE(fs::exists(root + "/a/c/.0.lsio-tmp-" + dead + "-7"));
  EXPECT_FALSE(fs::exists(root + "/.zarr.json.lsio-tmp-" + dead + "-0"));
  EXPECT_FALSE(fs::exists(root + "/.pub.lsio-tmp-" + dead + "-3"));
  EXPECT_TRUE(fs::exists(root + "/a/.1.lsio-tmp-" + mine + "-0"));
  EXPECT_TRUE(fs::exists(root + "/a/c/0"));
  for (const std::string& k : lookalikes) EXPECT_TRUE(fs::exists(root + "/" + k)) << k;
  // PID 1 started long before a temporary dated now, but not before one dated in 1990: that
  // PID was reused since, so that one is abandoned.
  EXPECT_TRUE(fs::exists(root + "/a/.2.lsio-tmp-1-0"));
  const std::string old = root + "/a/.8.lsio-tmp-1-0";
  std::ofstream(old) << "partial";
  const struct timespec times[2] = {{631152000, 0}, {631152000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, old.c_str(), times, 0), 0);
  removed = store->RemoveAbandonedTemporaries("a");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 1u);
  EXPECT_FALSE(fs::exists(old));
  EXPECT_TRUE(fs::exists(root + "/a/.2.lsio-tmp-1-0"));
  // A prefix that does not exist: nothing to do.
  removed = store->RemoveAbandonedTemporaries("nothing/here");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(*removed, 0u);
}

TEST(FileStore, ErrorsNameThePath) {
  if (::geteuid() == 0) {
    // root ignores permissions; a file where a directory should be still fails.
  }
  const std::string root = FreshDir();
  std::shared_ptr<Store> store = MakeFileStore(root);
  ASSERT_TRUE(store->Write("file", Bytes("1")).ok());
  Status st = store->Write("file/below", Bytes("2"));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find(root + "/file"), std::string::npos) << st.ToString();
}

TEST(MemoryStore, InjectedFaultsReachReaders) {
  MemoryStoreOptions o;
  o.fail_read = [](std::string_view key) {
    return key == "bad" ? IOError("injected") : Status::OK();
  };
  std::shared_ptr<Store> store = MakeMemoryStore(o);
  ASSERT_TRUE(store->Write("bad", Bytes("x")).ok());
  ASSERT_TRUE(store->Write("good", Bytes("y")).ok());
  Result<std::unique_ptr<Reader>> reader = store->MakeReader({});
  ASSERT_TRUE(reader.ok());
  std::vector<ReadRequest> group(2);
  group[0].key = "bad";
  group[0].tag = 0;
  group[1].key = "good";
  group[1].tag = 1;
  ASSERT_TRUE((*reader)->Submit(std::move(group)).ok());
  Completion c;
  int seen = 0;
  while ((*reader)->Next(&c) && c.kind == Completion::Kind::kRead) {
    if (c.tag == 0) {
      EXPECT_EQ(c.status.code(), StatusCode::kIOError);
      EXPECT_NE(c.status.message().find("memory://"), std::string::npos) << c.status.ToString();
    } else {
      EXPECT_TRUE(c.status.ok());
    }
    ++seen;
    c = Completion();
  }
  EXPECT_EQ(seen, 2);
}

TEST(OpenStore, SchemesAndPaths) {
  Result<std::shared_ptr<Store>> mem = OpenStore("memory://shared-a");
  ASSERT_TRUE(mem.ok());
  ASSERT_TRUE((*mem)->Write("k", Bytes("v")).ok());
  Result<std::shared_ptr<Store>> same = OpenStore("memory://shared-a");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(mem->get(), same->get()) << "memory stores are shared by name";
  Result<std::shared_ptr<Store>> file = OpenStore("file:///tmp/x.zarr");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->url(), "/tmp/x.zarr");
  Result<std::shared_ptr<Store>> bad = OpenStore("gopher://x/y");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown store scheme"), std::string::npos);
  OpenOptions with_options;
  with_options.storage_options["anon"] = "true";
  EXPECT_FALSE(OpenStore("/tmp/x.zarr", with_options).ok())
      << "storage options that do not apply are an error";
  EXPECT_EQ(LocationScheme("s3://b/k"), "s3");
  EXPECT_EQ(LocationScheme("/data/x.zarr"), "");
  EXPECT_EQ(LocationScheme("C:/x"), "");
  EXPECT_TRUE(IsRemoteLocation("s3://b"));
  EXPECT_FALSE(IsRemoteLocation("file:///b"));
}

TEST(Keys, ValidateJoinAndSplit) {
  EXPECT_TRUE(ValidateKey("a/b.c/d").ok());
  EXPECT_FALSE(ValidateKey("a/../b").ok());
  EXPECT_FALSE(ValidateKey("a\\b").ok());
  EXPECT_EQ(*JoinKey("a/", "b"), "a/b");
  EXPECT_EQ(*JoinKey("", "b"), "b");
  EXPECT_EQ(KeyBaseName("a/b/c"), "c");
  EXPECT_EQ(KeyParent("a/b/c"), "a/b");
  EXPECT_EQ(KeyParent("c"), "");
  EXPECT_EQ(ByteRange::Suffix(16).ToString(), "the last 16 bytes");
  EXPECT_EQ(ByteRange::Range(10, 10).ToString(), "bytes 10-19");
}

}  // namespace
}  // namespace lsio::kvstore::testing

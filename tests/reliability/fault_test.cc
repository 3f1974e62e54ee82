// Faults that need a look inside the process: reads a damaged store asks for that must be
// refused before memory is allocated for them, and the descriptors and threads an error path
// must give back. Every store here is written by hand from the Zarr specs (raw little-endian
// elements), so expected values do not come from lsio.

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "lsio/format/zarr/hierarchy.h"
#include "lsio/kvstore/file_store.h"
#include "lsio/io/engine.h"
#include "lsio/array/dataset.h"
#include "lsio/array/read.h"
#include "lsio/format/zarr/source.h"
#include "lsio/ops/stats.h"

namespace lsio {
namespace {

// Reads `ranges` of `node` of the Zarr store at `root` through lsio's data path.
Status ReadSelection(const std::string& root, const zarr::Node& node,
                     const std::vector<array::DimRange>& ranges, std::span<std::byte> out,
                     io::Backend backend = io::Backend::kAuto) {
  kvstore::FileStoreOptions fo;
  fo.engine.backend = backend;
  LSIO_ASSIGN_OR_RETURN(std::shared_ptr<const zarr::ZarrDatasetSource> source,
                        zarr::OpenDataset(kvstore::MakeFileStore(root, fo)));
  const array::Dataset ds(source);
  LSIO_ASSIGN_OR_RETURN(const array::ArraySource* a, ds.FindArray(node.path));
  array::ReadIntoOptions o;
  o.threads = 2;
  return array::ReadInto(*a, ranges, out, *runtime::Context::Default(), o);
}


namespace fs = std::filesystem;

constexpr uint64_t kSparseSize = uint64_t{1} << 30;  // a 1 GiB file that is nearly all hole

int CountEntries(const char* dir) {
  int n = 0;
  DIR* d = opendir(dir);
  if (d == nullptr) return -1;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n;
}

// Peak resident memory of this process, in bytes.
uint64_t MaxRss() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) * 1024;
}

void WriteFile(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Writes `tail` at the end of a sparse file of `size` bytes, and `head` at its start.
void WriteSparse(const fs::path& path, uint64_t size, const std::string& head,
                 const std::string& tail) {
  fs::create_directories(path.parent_path());
  const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  ASSERT_EQ(::pwrite(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  ASSERT_EQ(::pwrite(fd, tail.data(), tail.size(), static_cast<off_t>(size - tail.size())),
            static_cast<ssize_t>(tail.size()));
  ::close(fd);
}

std::string Doubles(std::initializer_list<double> v) {
  std::string s(v.size() * sizeof(double), '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

std::string U64s(std::initializer_list<uint64_t> v) {
  std::string s(v.size() * sizeof(uint64_t), '\0');
  std::memcpy(s.data(), std::data(v), s.size());
  return s;
}

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lsio_fault_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Reads the whole 1-D float64 array at `root` with `backend` and returns the status.
  static Status ReadAll(const std::string& root, io::Backend backend, std::vector<double>* out) {
    auto store_holder = kvstore::MakeFileStore(root);
  kvstore::Store& store = *store_holder;
    LSIO_ASSIGN_OR_RETURN(zarr::Hierarchy h, zarr::OpenHierarchy(store));
    const zarr::Node& node = h.root();
    out->assign(static_cast<size_t>(node.array->shape[0]), -1.0);
    std::vector<array::DimRange> full = {array::FullRange(node.array->shape[0])};
    return ReadSelection(root, node, full, std::as_writable_bytes(std::span(*out)), backend);
  }

  fs::path dir_;
};

// An array of 8 float64 in two uncompressed chunks of 4 (Zarr v2).
void WriteV2(const fs::path& root) {
  WriteFile(root / ".zarray",
            R"({"zarr_format": 2, "shape": [8], "chunks": [4], "dtype": "<f8",
                "compressor": null, "filters": null, "fill_value": 0, "order": "C"})");
  WriteFile(root / "0", Doubles({1, 2, 3, 4}));
  WriteFile(root / "1", Doubles({5, 6, 7, 8}));
}

// The same 8 float64 as one Zarr v3 shard of two inner chunks of 4, uncompressed, index
// (offset, nbytes per inner chunk, little-endian u64, no checksum) at the end.
void WriteV3Sharded(const fs::path& root, uint64_t second_nbytes, uint64_t shard_size) {
  WriteFile(root / "zarr.json", R"({
    "zarr_format": 3, "node_type": "array", "shape": [8], "data_type": "float64",
    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [8]}},
    "chunk_key_encoding": {"name": "default"}, "fill_value": 0,
    "codecs": [{"name": "sharding_indexed", "configuration": {
      "chunk_shape": [4],
      "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
      "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
      "index_location": "end"}}]})");
  const std::string data = Doubles({1, 2, 3, 4, 5, 6, 7, 8});
  WriteSparse(root / "c" / "0", shard_size, data, U64s({0, 32, 32, second_nbytes}));
}

TEST_F(FaultTest, HandWrittenStoresReadBack) {
  WriteV2(dir_ / "v2");
  WriteV3Sharded(dir_ / "v3", 32, 64 + 32);
  for (const char* name : {"v2", "v3"}) {
    std::vector<double> got;
    Status st = ReadAll((dir_ / name).string(), io::Backend::kPosix, &got);
    ASSERT_TRUE(st.ok()) << name << ": " << st.ToString();
    EXPECT_EQ(got, (std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8})) << name;
  }
}

// ReadRequest::max_length: a whole-file read of a 1 GiB file limited to 1 MiB fails before
// anything is read or allocated, on both backends; reads within the limit are unaffected.
TEST_F(FaultTest, EngineRefusesReadsOverMaxLength) {
  const fs::path big = dir_ / "sparse";
  WriteSparse(big, kSparseSize, "head", "tail");
  for (io::Backend backend : {io::Backend::kUring, io::Backend::kPosix}) {
    io::EngineOptions o;
    o.backend = backend;
    auto engine = io::Engine::Create(o);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    io::ReadRequest whole = io::ReadRequest::WholeFile(big.string(), 1);
    whole.max_length = uint64_t{1} << 20;
    io::ReadRequest tail = io::ReadRequest::Range(big.string(), -4, 4, 2);
    tail.max_length = 4;
    ASSERT_TRUE((*engine)->Submit({whole, tail}).ok());
    io::Completion c;
    int reads = 0;
    while ((*engine)->Next(&c)) {
      if (c.kind != io::Completion::Kind::kRead) continue;
      ++reads;
      if (c.tag == 1) {
        EXPECT_EQ(c.status.code(), StatusCode::kOutOfRange) << c.status.ToString();
        EXPECT_NE(c.status.message().find(big.string()), std::string::npos) << c.status.message();
        EXPECT_NE(c.status.message().find("exceed the limit of 1048576"), std::string::npos)
            << c.status.message();
      } else {
        ASSERT_TRUE(c.status.ok()) << c.status.ToString();
        EXPECT_EQ(c.data.as_string_view(), "tail");
      }
    }
    EXPECT_EQ(reads, 2);
    EXPECT_LT((*engine)->stats().bytes_device, uint64_t{1} << 20);
  }
}

// A chunk file far larger than any encoding of its chunk (here a 1 GiB sparse file for a
// 32-byte chunk) is corrupt and is not read: before the fix the reader allocated and read the
// whole gigabyte whatever the memory budget.
TEST_F(FaultTest, OversizeChunkFileIsCorruptAndNotRead) {
  const fs::path root = dir_ / "v2";
  WriteV2(root);
  WriteSparse(root / "1", kSparseSize, "", "x");
  const uint64_t rss_before = MaxRss();
  for (io::Backend backend : {io::Backend::kUring, io::Backend::kPosix}) {
    std::vector<double> got;
    Status st = ReadAll(root.string(), backend, &got);
    EXPECT_EQ(st.code(), StatusCode::kCorruptData) << st.ToString();
    EXPECT_NE(st.message().find("chunk 1 (" + (root / "1").string() + ")"), std::string::npos)
        << st.message();
    EXPECT_NE(st.message().find("larger than any encoding of a 32-byte chunk"), std::string::npos)
        << st.message();
  }
  EXPECT_LT(MaxRss() - rss_before, uint64_t{256} << 20);
}

// The same for a shard index entry: inner chunk 1 claims nearly the whole 1 GiB shard.
TEST_F(FaultTest, OversizeShardEntryIsCorruptAndNotRead) {
  const fs::path root = dir_ / "v3";
  WriteV3Sharded(root, kSparseSize - 64, kSparseSize);
  const uint64_t rss_before = MaxRss();
  for (io::Backend backend : {io::Backend::kUring, io::Backend::kPosix}) {
    std::vector<double> got;
    Status st = ReadAll(root.string(), backend, &got);
    EXPECT_EQ(st.code(), StatusCode::kCorruptData) << st.ToString();
    EXPECT_NE(st.message().find("chunk c/0 inner chunk [1] (" + (root / "c" / "0").string()),
              std::string::npos)
        << st.message();
    EXPECT_NE(st.message().find("more than any encoding of a 32-byte chunk"), std::string::npos)
        << st.message();
  }
  EXPECT_LT(MaxRss() - rss_before, uint64_t{256} << 20);
}

// An uncompressed chunk of which a selection needs only part is read in ranges; a chunk file
// of the wrong size is still corrupt (it used to give the values of the ranges that were
// there, while reading the whole chunk failed).
TEST_F(FaultTest, PartlyReadUncompressedChunkOfTheWrongSizeIsCorrupt) {
  // 1 x 8192 float64 in chunks of 8192 (64 KiB): element 5 alone is one 16 KiB range.
  const fs::path root = dir_ / "raw";
  WriteFile(root / ".zarray",
            R"({"zarr_format": 2, "shape": [8192], "chunks": [8192], "dtype": "<f8",
                "compressor": null, "filters": null, "fill_value": 0, "order": "C"})");
  std::string chunk(8192 * sizeof(double), '\0');
  for (int i = 0; i < 8192; ++i) {
    const double v = i;
    std::memcpy(chunk.data() + i * sizeof(double), &v, sizeof v);
  }
  auto store_holder = kvstore::MakeFileStore(root.string());
  kvstore::Store& store = *store_holder;
  Result<zarr::Hierarchy> h = zarr::OpenHierarchy(store);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  const std::vector<array::DimRange> one = {array::DimRange{5, 1, 1, false}};
  for (size_t size : {chunk.size(), chunk.size() / 2, chunk.size() + 8}) {
    std::string bytes = chunk;
    bytes.resize(size, '\0');
    WriteFile(root / "0", bytes);
    for (io::Backend backend : {io::Backend::kUring, io::Backend::kPosix}) {
      double got = -1;
      Status st = ReadSelection(root.string(), h->root(), one,
                                     std::as_writable_bytes(std::span(&got, 1)), backend);
      if (size == chunk.size()) {
        ASSERT_TRUE(st.ok()) << st.ToString();
        EXPECT_EQ(got, 5.0);
        continue;
      }
      EXPECT_EQ(st.code(), StatusCode::kCorruptData) << size << ": " << st.ToString();
      EXPECT_NE(st.message().find("chunk 0 (" + (root / "0").string() + ")"), std::string::npos)
          << st.message();
      EXPECT_NE(st.message().find("the file holds " + std::to_string(size) +
                                  " bytes, not the 65536 expected"),
                std::string::npos)
          << st.message();
    }
  }
}

// Metadata declaring a terabyte per element (a fixed-size string or raw bytes type) is refused
// when the fill value is resolved: it used to be allocated there, and the process died of
// std::bad_alloc.
TEST_F(FaultTest, TerabyteElementIsRefusedNotAllocated) {
  WriteFile(dir_ / "v2" / ".zarray",
            R"({"zarr_format": 2, "shape": [4], "chunks": [2], "dtype": "|S1099511627776",
                "compressor": null, "filters": null, "fill_value": null, "order": "C"})");
  WriteFile(dir_ / "v3" / "zarr.json", R"({
    "zarr_format": 3, "node_type": "array", "shape": [4],
    "data_type": {"name": "raw_bytes", "configuration": {"length_bytes": 1099511627776}},
    "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
    "chunk_key_encoding": {"name": "default"}, "fill_value": "AA==",
    "codecs": [{"name": "bytes"}]})");
  for (const char* name : {"v2", "v3"}) {
    auto store_holder = kvstore::MakeFileStore((dir_ / name).string());
  kvstore::Store& store = *store_holder;
    Result<zarr::Hierarchy> h = zarr::OpenHierarchy(store);
    ASSERT_FALSE(h.ok()) << name;
    EXPECT_EQ(h.status().code(), StatusCode::kNotSupported) << h.status().ToString();
    EXPECT_NE(h.status().message().find("exceed lsio's limit of 16777216 bytes per element"),
              std::string::npos)
        << h.status().message();
  }
}

// A shard shorter than its index is corrupt data (it was kOutOfRange, which Python raised as
// an IndexError), and when the index is lost each inner chunk the selection needed is named:
// `lsio stats --on-error skip` lists exactly those, once each, in chunk order (the same lost
// chunk used to be listed once per inner chunk under the shard's name only).
TEST_F(FaultTest, LostShardIndexNamesEachInnerChunk) {
  const fs::path root = dir_ / "v3";
  WriteV3Sharded(root, 32, 64 + 32);
  fs::resize_file(root / "c" / "0", 10);
  const std::string file = (root / "c" / "0").string();
  std::vector<double> got;
  Status st = ReadAll(root.string(), io::Backend::kPosix, &got);
  EXPECT_EQ(st.code(), StatusCode::kCorruptData) << st.ToString();
  EXPECT_NE(st.message().find("chunk c/0 inner chunk [0] (" + file + ")"), std::string::npos)
      << st.message();
  EXPECT_NE(st.message().find("the shard file is shorter than its 32-byte index"),
            std::string::npos)
      << st.message();
  for (const char* statistics : {"count,sum", "count,hist:3"}) {
    ops::StatsRequest request;
    request.path = root.string();
    request.on_error = ops::OnError::kSkip;
    request.statistics = *ops::ParseStatistics(statistics);
    Result<ops::StatsReport> report = ops::ComputeStats(request);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    const ops::VariableStats& v = report->variables.at(0);
    ASSERT_EQ(v.skipped_chunks.size(), 2u) << statistics;
    EXPECT_NE(v.skipped_chunks[0].find("chunk c/0 inner chunk [0] (" + file + ")"),
              std::string::npos)
        << v.skipped_chunks[0];
    EXPECT_NE(v.skipped_chunks[1].find("chunk c/0 inner chunk [1] (" + file + ")"),
              std::string::npos)
        << v.skipped_chunks[1];
    EXPECT_EQ(v.skipped_elements, 8u) << statistics;
    EXPECT_EQ(v.stats.count, 0u) << statistics;
  }
}

// With a histogram the data is read twice, and a damaged chunk fails twice: it is still one
// skipped chunk of 4 elements (it was reported twice, and 8 elements).
TEST_F(FaultTest, SkippedChunkIsReportedOnceWithAHistogram) {
  const fs::path root = dir_ / "v2";
  WriteV2(root);
  WriteFile(root / "0", "abc");
  ops::StatsRequest request;
  request.path = root.string();
  request.on_error = ops::OnError::kSkip;
  request.statistics = *ops::ParseStatistics("count,sum,hist:2");
  Result<ops::StatsReport> report = ops::ComputeStats(request);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const ops::VariableStats& v = report->variables.at(0);
  ASSERT_EQ(v.skipped_chunks.size(), 1u);
  EXPECT_NE(v.skipped_chunks[0].find("chunk 0 (" + (root / "0").string() + ")"), std::string::npos)
      << v.skipped_chunks[0];
  EXPECT_EQ(v.skipped_elements, 4u);
  EXPECT_EQ(v.stats.count, 4u);
  EXPECT_EQ(v.stats.sum, 5 + 6 + 7 + 8);
  EXPECT_EQ(v.histogram_counts, (std::vector<uint64_t>{2, 2}));
}

// Every error path gives back its descriptors and leaves no thread behind: after a warm-up
// (the CPU pool's threads are created once per process), repeated failing reads of each fault
// keep /proc/self/fd and /proc/self/task where they were.
TEST_F(FaultTest, ErrorsLeakNoDescriptorsOrThreads) {
  WriteV2(dir_ / "ok");
  WriteV2(dir_ / "truncated");
  WriteFile(dir_ / "truncated" / "1", "abc");
  WriteV2(dir_ / "directory");
  fs::remove(dir_ / "directory" / "1");
  fs::create_directories(dir_ / "directory" / "1");
  WriteV2(dir_ / "oversize");
  WriteSparse(dir_ / "oversize" / "1", kSparseSize, "", "x");
  WriteV3Sharded(dir_ / "outside", 4096, 64 + 32);  // the entry reaches past the file
  WriteV3Sharded(dir_ / "short_shard", 32, 64 + 32);
  fs::resize_file(dir_ / "short_shard" / "c" / "0", 10);  // shorter than its index
  std::vector<double> got;
  for (io::Backend backend : {io::Backend::kUring, io::Backend::kPosix}) {
    ASSERT_TRUE(ReadAll((dir_ / "ok").string(), backend, &got).ok());
  }
  const int fds = CountEntries("/proc/self/fd");
  const int tasks = CountEntries("/proc/self/task");
  for (int round = 0; round < 3; ++round) {
    for (const char* name : {"truncated", "directory", "oversize", "outside", "short_shard"}) {
      for (io::Backend backend : {io::Backend::kUring, io::Backend::kPosix}) {
        Status st = ReadAll((dir_ / name).string(), backend, &got);
        EXPECT_FALSE(st.ok()) << name;
        EXPECT_NE(st.message().find((dir_ / name).string()), std::string::npos)
            << name << ": " << st.message();
      }
    }
  }
  EXPECT_EQ(CountEntries("/proc/self/fd"), fds);
  // The io_uring workers of a closed ring (iou-wrk threads of this process) are ended by the
  // kernel on its own, and may still be listed for a moment.
  for (int i = 0; i < 100 && CountEntries("/proc/self/task") > tasks; ++i) ::usleep(20000);
  EXPECT_LE(CountEntries("/proc/self/task"), tasks);
}

}  // namespace
}  // namespace lsio

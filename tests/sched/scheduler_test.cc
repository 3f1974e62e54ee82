#include "lsio/sched/scheduler.h"

#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "lsio/kvstore/file_store.h"

namespace lsio::sched {
namespace {

namespace fs = std::filesystem;

// The tests name files by their path; the scheduler reads keys of a store. Each test's files
// live in one directory, the root of a FileStore; these make requests for its keys.
kvstore::ReadRequest WholeFile(const std::string& key) {
  kvstore::ReadRequest r;
  r.key = key;
  return r;
}
kvstore::ReadRequest Range(const std::string& key, int64_t offset, int64_t length) {
  kvstore::ReadRequest r;
  r.key = key;
  r.range = kvstore::ByteRange{offset, length};
  return r;
}

// The options' backend and budget on a fresh reader of the store at `root`, and a pool of
// two workers.
struct RunConfig {
  SchedulerOptions options;
  io::Backend backend = io::Backend::kAuto;
  std::string root;
};
Result<SchedulerStats> RunOn(TaskSource& source, const RunConfig& config) {
  kvstore::FileStoreOptions fo;
  fo.engine.backend = config.backend;
  std::shared_ptr<kvstore::Store> store = kvstore::MakeFileStore(config.root, fo);
  kvstore::ReaderOptions ro;
  ro.max_bytes_in_flight = config.options.max_bytes_in_flight;
  LSIO_ASSIGN_OR_RETURN(std::unique_ptr<kvstore::Reader> reader, store->MakeReader(ro));
  static compute::CpuPool pool(compute::CpuPoolOptions{2});
  return sched::Run(source, *reader, pool, config.options);
}

class SchedulerTest : public ::testing::TestWithParam<io::Backend> {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("lsio_sched_test_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `n` bytes where byte i is (i * 7 + seed) & 0xff; returns the store key.
  std::string WriteFile(const std::string& name, size_t n, int seed) {
    std::string path = (dir_ / name).string();
    std::string bytes(n, '\0');
    for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>((i * 7 + seed) & 0xff);
    std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
    return name;
  }

  RunConfig Options() {
    RunConfig c;
    c.backend = GetParam();
    c.root = dir_.string();
    c.options.threads = 2;
    c.options.group_bytes = 256 << 10;  // many small groups
    return c;
  }

  static uint64_t Checksum(std::span<const std::byte> b) {
    uint64_t s = 0;
    for (std::byte x : b) s = s * 31 + static_cast<uint8_t>(x);
    return s;
  }

  fs::path dir_;
};

TEST_P(SchedulerTest, EveryTaskRunsOnceWithItsBytes) {
  constexpr int kFiles = 300;
  std::vector<ReadTask> tasks;
  std::vector<uint64_t> expected(kFiles);
  std::vector<std::atomic<int>> runs(kFiles);
  std::vector<std::atomic<uint64_t>> got(kFiles);
  for (int i = 0; i < kFiles; ++i) {
    const size_t n = 1000 + 997 * i;
    std::string name = "f";  // (not "f" + to_string: GCC 12 -Wrestrict false positive)
    name += std::to_string(i);
    std::string path = WriteFile(name, n, i);
    std::string bytes(n, '\0');
    for (size_t k = 0; k < n; ++k) bytes[k] = static_cast<char>((k * 7 + i) & 0xff);
    expected[i] = Checksum(std::as_bytes(std::span(bytes)));
    ReadTask t;
    t.request = WholeFile(path);
    t.expected_bytes = n;
    t.on_read = [&, i](Result<Buffer> b, TaskSink&) -> Status {
      LSIO_RETURN_IF_ERROR(b.status());
      runs[i]++;
      got[i] = Checksum(b->span());
      return Status::OK();
    };
    tasks.push_back(std::move(t));
  }
  VectorTaskSource source(std::move(tasks));
  Result<SchedulerStats> st = RunOn(source, Options());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  for (int i = 0; i < kFiles; ++i) {
    EXPECT_EQ(runs[i].load(), 1) << i;
    EXPECT_EQ(got[i].load(), expected[i]) << i;
  }
  EXPECT_EQ(st->tasks, static_cast<uint64_t>(kFiles));
  EXPECT_GT(st->groups, 1u);
  EXPECT_EQ(st->missing, 0u);
}

TEST_P(SchedulerTest, FollowupsReadTheRangesAHandlerAsksFor) {
  // Like a shard: the last 8 bytes hold (offset, length) of a payload inside the file.
  std::string path = (dir_ / "shard").string();
  const std::string key = "shard";
  std::string payload = "the inner chunk";
  std::string file(100, 'x');
  file += payload;
  file += std::string(50, 'y');
  uint32_t off = 100, len = static_cast<uint32_t>(payload.size());
  file.append(reinterpret_cast<char*>(&off), 4).append(reinterpret_cast<char*>(&len), 4);
  std::ofstream(path, std::ios::binary).write(file.data(), file.size());

  std::mutex mu;
  std::string seen;
  ReadTask index;
  index.request = Range(key, -8, 8);
  index.on_read = [&](Result<Buffer> b, TaskSink& sink) -> Status {
    LSIO_RETURN_IF_ERROR(b.status());
    uint32_t o, l;
    std::memcpy(&o, b->data(), 4);
    std::memcpy(&l, b->data() + 4, 4);
    ReadTask inner;
    inner.request = Range(key, o, l);
    inner.on_read = [&](Result<Buffer> b2, TaskSink&) -> Status {
      LSIO_RETURN_IF_ERROR(b2.status());
      std::lock_guard lock(mu);
      seen = std::string(b2->as_string_view());
      return Status::OK();
    };
    sink.Add(std::move(inner));
    return Status::OK();
  };
  std::vector<ReadTask> tasks;
  tasks.push_back(std::move(index));
  VectorTaskSource source(std::move(tasks));
  Result<SchedulerStats> st = RunOn(source, Options());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(seen, payload);
  EXPECT_EQ(st->tasks, 2u);
}

// One index task whose handler adds `batches` (each a number of 64 KiB ranges of one file, in
// file order) with AddBatch; returns the run's stats after checking every range's bytes.
Result<SchedulerStats> RunBatches(const std::string& path, std::vector<int> batches,
                                  const RunConfig& options) {
  constexpr int64_t kRange = 64 << 10;
  std::atomic<int> bad{0}, ran{0};
  ReadTask index;
  index.request = Range(path, 0, 8);
  index.on_read = [&](Result<Buffer> b, TaskSink& sink) -> Status {
    LSIO_RETURN_IF_ERROR(b.status());
    int64_t next = 0;
    for (int n : batches) {
      std::vector<ReadTask> batch;
      for (int i = 0; i < n; ++i, ++next) {
        ReadTask t;
        t.request = Range(path, next * kRange, kRange);
        t.expected_bytes = kRange;
        t.on_read = [&, next](Result<Buffer> r, TaskSink&) -> Status {
          LSIO_RETURN_IF_ERROR(r.status());
          for (int64_t k = 0; k < kRange; k += 4093) {
            const uint64_t at = static_cast<uint64_t>(next * kRange + k);
            if (static_cast<uint8_t>(r->data()[k]) != ((at * 7 + 5) & 0xff)) ++bad;
          }
          ++ran;
          return Status::OK();
        };
        batch.push_back(std::move(t));
      }
      sink.AddBatch(std::move(batch));
    }
    return Status::OK();
  };
  std::vector<ReadTask> tasks;
  tasks.push_back(std::move(index));
  VectorTaskSource source(std::move(tasks));
  Result<SchedulerStats> st = RunOn(source, options);
  int total = 0;
  for (int n : batches) total += n;
  if (st.ok()) {
    EXPECT_EQ(ran.load(), total);
  }
  EXPECT_EQ(bad.load(), 0);
  return st;
}

TEST_P(SchedulerTest, ABatchIsReadInOneGroup) {
  const std::string path = WriteFile("shard", 64 * (64 << 10), 5);
  // Groups of 256 KiB (Options()); 6 x 64 KiB = 384 KiB: more than a group, but a batch up to two
  // groups stays whole (added one by one, the same tasks would take two groups).
  Result<SchedulerStats> st = RunBatches(path, {6}, Options());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->groups, 2u);  // the index, then the batch
  EXPECT_EQ(st->tasks, 7u);
}

TEST_P(SchedulerTest, ABatchThatDoesNotFitStartsTheNextGroup) {
  const std::string path = WriteFile("shard", 64 * (64 << 10), 5);
  // 3 + 3 ranges: the second batch would overflow the first's group, so it gets its own.
  Result<SchedulerStats> st = RunBatches(path, {3, 3}, Options());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->groups, 3u);
}

TEST_P(SchedulerTest, ABatchLargerThanTwoGroupsIsCutIntoGroupSizedPieces) {
  const std::string path = WriteFile("shard", 64 * (64 << 10), 5);
  // 12 x 64 KiB = 768 KiB, three groups of 256 KiB.
  Result<SchedulerStats> st = RunBatches(path, {12}, Options());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->groups, 4u);
  EXPECT_EQ(st->tasks, 13u);
}

TEST_P(SchedulerTest, MissingFilesReachTheHandlerAsNotFound) {
  std::atomic<int> not_found{0};
  std::vector<ReadTask> tasks;
  for (int i = 0; i < 10; ++i) {
    ReadTask t;
    t.request = WholeFile("absent" + std::to_string(i));
    t.on_read = [&](Result<Buffer> b, TaskSink&) -> Status {
      if (b.status().code() == StatusCode::kNotFound) not_found++;
      return Status::OK();
    };
    tasks.push_back(std::move(t));
  }
  VectorTaskSource source(std::move(tasks));
  Result<SchedulerStats> st = RunOn(source, Options());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(not_found.load(), 10);
  EXPECT_EQ(st->missing, 10u);
}

TEST_P(SchedulerTest, FirstHandlerErrorStopsTheRun) {
  std::string path = WriteFile("g", 4096, 1);
  std::atomic<int> ran{0};
  std::vector<ReadTask> tasks;
  for (int i = 0; i < 2000; ++i) {
    ReadTask t;
    t.request = WholeFile(path);
    t.on_read = [&, i](Result<Buffer>, TaskSink&) -> Status {
      ran++;
      if (i == 5) return CorruptDataError("chunk 5 is corrupt");
      return Status::OK();
    };
    tasks.push_back(std::move(t));
  }
  VectorTaskSource source(std::move(tasks));
  RunConfig o = Options();
  o.options.group_max_requests = 8;
  Result<SchedulerStats> st = RunOn(source, o);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kCorruptData);
  EXPECT_EQ(st.status().message(), "chunk 5 is corrupt");
  EXPECT_LT(ran.load(), 2000);  // the rest was dropped
}

TEST_P(SchedulerTest, CancellationStopsPromptly) {
  std::string path = WriteFile("h", 1 << 16, 2);
  std::atomic<int> ran{0};
  // An endless source: only cancellation ends the run.
  class Endless : public TaskSource {
   public:
    Endless(std::string p, std::atomic<int>* ran) : path_(std::move(p)), ran_(ran) {}
    bool Next(ReadTask* out) override {
      out->request = WholeFile(path_);
      out->expected_bytes = 1 << 16;
      out->on_read = [r = ran_](Result<Buffer>, TaskSink&) -> Status {
        (*r)++;
        return Status::OK();
      };
      return true;
    }

   private:
    std::string path_;
    std::atomic<int>* ran_;
  } source(path, &ran);
  RunConfig o = Options();
  o.options.cancelled = [&] { return ran.load() > 500; };
  const auto start = std::chrono::steady_clock::now();
  Result<SchedulerStats> st = RunOn(source, o);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kCancelled);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST_P(SchedulerTest, BytesInFlightStayWithinTheBudget) {
  // Slow handlers and a small budget: the engine must push back instead of reading ahead.
  constexpr size_t kSize = 1 << 20;
  std::string path = WriteFile("big", kSize, 3);
  std::atomic<int> ran{0};
  std::atomic<int> concurrent{0}, max_concurrent{0};
  std::vector<ReadTask> tasks;
  for (int i = 0; i < 64; ++i) {
    ReadTask t;
    t.request = WholeFile(path);
    t.expected_bytes = kSize;
    t.on_read = [&](Result<Buffer> b, TaskSink&) -> Status {
      LSIO_RETURN_IF_ERROR(b.status());
      int c = ++concurrent;
      int m = max_concurrent.load();
      while (c > m && !max_concurrent.compare_exchange_weak(m, c)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      --concurrent;
      ran++;
      return Status::OK();
    };
    tasks.push_back(std::move(t));
  }
  VectorTaskSource source(std::move(tasks));
  RunConfig o = Options();
  o.options.max_bytes_in_flight = 4 * kSize;
  o.options.group_bytes = kSize;
  Result<SchedulerStats> st = RunOn(source, o);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(ran.load(), 64);
  EXPECT_LE(max_concurrent.load(), 2);
  // The engine charges O_DIRECT-rounded buffers: allow one 4 KiB block per read.
  EXPECT_LE(st->peak_bytes_in_flight, 5 * (kSize + 4096));
}

TEST_P(SchedulerTest, TasksWithoutIoRunWithAnEmptyBufferBesideReads) {
  const std::string key = WriteFile("read.bin", 4096, 1);
  std::atomic<int> in_memory{0}, read{0}, mains{0};
  std::vector<ReadTask> tasks;
  for (int i = 0; i < 300; ++i) {
    ReadTask t;
    if (i % 3 == 0) {
      t.request = WholeFile(key);
      t.on_read = [&](Result<Buffer> b, TaskSink&) -> Status {
        if (!b.ok()) return b.status();
        if (b->size() != 4096) return InternalError("wrong size");
        read.fetch_add(1);
        return Status::OK();
      };
    } else {
      // No key: a read of it would fail.
      t.no_read = true;
      t.on_read = [&](Result<Buffer> b, TaskSink& sink) -> Status {
        if (!b.ok() || b->size() != 0) return InternalError("an in-memory task got bytes");
        // In-memory follow-ups run too.
        in_memory.fetch_add(1);
        if (mains.fetch_add(1) % 50 == 0) {
          ReadTask f;
          f.no_read = true;
          f.on_read = [&](Result<Buffer>, TaskSink&) {
            in_memory.fetch_add(1);
            return Status::OK();
          };
          sink.Add(std::move(f));
        }
        return Status::OK();
      };
    }
    tasks.push_back(std::move(t));
  }
  VectorTaskSource source(std::move(tasks));
  Result<SchedulerStats> st = RunOn(source, Options());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(read.load(), 100);
  EXPECT_EQ(in_memory.load(), 200 + 4);
  EXPECT_EQ(st->tasks, 304u);
}

TEST_P(SchedulerTest, OnlyInMemoryTasks) {
  std::atomic<int> ran{0};
  std::vector<ReadTask> tasks(1000);
  for (ReadTask& t : tasks) {
    t.no_read = true;
    t.on_read = [&](Result<Buffer>, TaskSink&) {
      ran.fetch_add(1);
      return Status::OK();
    };
  }
  VectorTaskSource source(std::move(tasks));
  Result<SchedulerStats> st = RunOn(source, Options());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(ran.load(), 1000);
  EXPECT_EQ(st->bytes_read, 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, SchedulerTest,
                         ::testing::Values(io::Backend::kUring, io::Backend::kPosix),
                         [](const auto& info) {
                           return info.param == io::Backend::kUring ? "uring" : "posix";
                         });

}  // namespace
}  // namespace lsio::sched

// sched::RunInline: the task contract of sched::Run on the calling thread (follow-ups, missing
// keys, value sizes, errors, cancellation), on a MemoryStore.

#include "lsio/sched/inline_run.h"

#include <gtest/gtest.h>

#include <thread>

#include "lsio/kvstore/memory_store.h"

namespace lsio::sched {
namespace {

std::span<const std::byte> Bytes(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

ReadTask Task(std::string key, kvstore::ByteRange range,
              std::function<Status(Result<Buffer>, TaskSink&)> fn) {
  ReadTask t;
  t.request.key = std::move(key);
  t.request.range = range;
  t.on_read = std::move(fn);
  return t;
}

TEST(RunInline, FollowUpsMissingKeysAndRangesOnTheCallingThread) {
  std::shared_ptr<kvstore::Store> store = kvstore::MakeMemoryStore();
  ASSERT_TRUE(store->Write("index", Bytes("b:2:3")).ok());
  ASSERT_TRUE(store->Write("b", Bytes("0123456789")).ok());
  const std::thread::id caller = std::this_thread::get_id();
  std::vector<std::string> seen;
  std::vector<ReadTask> tasks;
  // A two-step read: the index names a key and a range, read as a follow-up before the next
  // source task.
  tasks.push_back(Task("index", {}, [&](Result<Buffer> bytes, TaskSink& sink) -> Status {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    EXPECT_TRUE(bytes.ok());
    seen.push_back("index=" + std::string(bytes->as_string_view()));
    sink.Add(Task("b", kvstore::ByteRange::Range(2, 3),
                  [&](Result<Buffer> inner, TaskSink&) -> Status {
                    seen.push_back("b=" + std::string(inner->as_string_view()));
                    return Status::OK();
                  }));
    return Status::OK();
  }));
  tasks.push_back(Task("missing", {}, [&](Result<Buffer> bytes, TaskSink&) -> Status {
    EXPECT_EQ(bytes.status().code(), StatusCode::kNotFound);
    seen.push_back("missing");
    return Status::OK();
  }));
  VectorTaskSource source(std::move(tasks));
  Result<SchedulerStats> stats = RunInline(source, *store);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(seen, (std::vector<std::string>{"index=b:2:3", "b=234", "missing"}));
  EXPECT_EQ(stats->tasks, 3u);
  EXPECT_EQ(stats->missing, 1u);
  EXPECT_EQ(stats->bytes_read, 5u + 3u);
}

TEST(RunInline, ValueSizeErrorsAndCancellation) {
  std::shared_ptr<kvstore::Store> store = kvstore::MakeMemoryStore();
  ASSERT_TRUE(store->Write("a", Bytes("0123456789")).ok());
  // A part of a value that must be exactly 12 bytes long: the truncated value is found.
  ReadTask sized = Task("a", kvstore::ByteRange::Range(0, 4),
                        [](Result<Buffer> bytes, TaskSink&) { return bytes.status(); });
  sized.request.value_size = 12;
  std::vector<ReadTask> tasks;
  tasks.push_back(std::move(sized));
  int after = 0;
  tasks.push_back(Task("a", {}, [&](Result<Buffer>, TaskSink&) {
    ++after;
    return Status::OK();
  }));
  VectorTaskSource source(std::move(tasks));
  Result<SchedulerStats> stats = RunInline(source, *store);
  ASSERT_FALSE(stats.ok());
  EXPECT_EQ(stats.status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(after, 0) << "the first error stops the run";

  ReadTask big = Task("a", {}, [](Result<Buffer> bytes, TaskSink&) { return bytes.status(); });
  big.request.max_length = 4;
  std::vector<ReadTask> one;
  one.push_back(std::move(big));
  VectorTaskSource limited(std::move(one));
  EXPECT_EQ(RunInline(limited, *store).status().code(), StatusCode::kOutOfRange);

  std::vector<ReadTask> more;
  more.push_back(Task("a", {}, [](Result<Buffer>, TaskSink&) { return Status::OK(); }));
  VectorTaskSource cancelled(std::move(more));
  SchedulerOptions options;
  options.cancelled = [] { return true; };
  EXPECT_EQ(RunInline(cancelled, *store, options).status().code(), StatusCode::kCancelled);
}

}  // namespace
}  // namespace lsio::sched

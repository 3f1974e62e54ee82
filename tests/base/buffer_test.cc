#include "lsio/base/buffer.h"

#include <cstring>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace lsio {
namespace {

TEST(BufferTest, AllocateIsAlignedAndSliceSharesMemory) {
  Buffer b = *Buffer::Allocate(10000);
  EXPECT_EQ(b.size(), 10000u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % kBufferAlignment, 0u);
  std::memset(b.mutable_data(), 7, b.size());
  Buffer s = b.Slice(100, 50);
  EXPECT_EQ(s.size(), 50u);
  EXPECT_EQ(s.data(), b.data() + 100);
  EXPECT_EQ(b.use_count(), 2);
  b.reset();
  EXPECT_EQ(s.use_count(), 1);
  EXPECT_EQ(static_cast<int>(s.data()[0]), 7);  // still valid after the parent view is gone
}

TEST(BufferTest, CopyOfAndTruncate) {
  Buffer b = Buffer::CopyOf(std::string_view("hello world"));
  EXPECT_EQ(b.as_string_view(), "hello world");
  b.Truncate(5);
  EXPECT_EQ(b.as_string_view(), "hello");
  Buffer empty = Buffer::CopyOf(std::string_view());
  EXPECT_TRUE(empty.empty());
}

TEST(BufferPoolTest, SizeClassesWasteAtMostAQuarter) {
  for (size_t size : {size_t{1}, size_t{4096}, size_t{4097}, size_t{65537}, size_t{1} << 20,
                      (size_t{1} << 20) + 3, size_t{8} << 20, (size_t{8} << 20) + 4096,
                      size_t{123456789}}) {
    const size_t cls = BufferPool::SizeClass(size);
    EXPECT_GE(cls, size);
    EXPECT_EQ(cls % kBufferAlignment, 0u) << size;
    if (size > 16384) {
      EXPECT_LE(cls, size + size / 4) << size;
    }
  }
  EXPECT_EQ(BufferPool::SizeClass(size_t{1} << 20), size_t{1} << 20);
}

TEST(BufferPoolTest, ReleasedBuffersAreReused) {
  BufferPool pool;
  for (int i = 0; i < 100; ++i) {
    Buffer a = *pool.Acquire(1 << 20);
    Buffer b = a.Slice(0, 10);
    a.reset();
    // b keeps the block alive; releasing it recycles the block.
  }
  BufferPool::Stats st = pool.stats();
  EXPECT_EQ(st.allocations, 1u);
  EXPECT_EQ(st.reuses, 99u);
  EXPECT_EQ(st.bytes_outstanding, 0u);
  EXPECT_EQ(st.bytes_cached, size_t{1} << 20);
  pool.Trim();
  EXPECT_EQ(pool.stats().bytes_cached, 0u);
}

TEST(BufferPoolTest, CacheIsBounded) {
  BufferPoolOptions options;
  options.max_cached_bytes = size_t{2} << 20;
  BufferPool pool(options);
  std::vector<Buffer> held;
  for (int i = 0; i < 5; ++i) held.push_back(*pool.Acquire(1 << 20));
  EXPECT_EQ(pool.stats().bytes_outstanding, size_t{5} << 20);
  held.clear();
  EXPECT_EQ(pool.stats().bytes_cached, size_t{2} << 20);
}

TEST(BufferPoolTest, FreeMappingsOfOtherClassesAreResizedWithTheirPages) {
  constexpr size_t kMiB = size_t{1} << 20;
  BufferPool pool;
  {
    Buffer six = *pool.Acquire(6 * kMiB);
    Buffer two = *pool.Acquire(2 * kMiB);
    std::memset(six.mutable_data(), 0xAB, six.size());
    std::memset(two.mutable_data(), 0xCD, two.size());
  }
  EXPECT_EQ(pool.stats().bytes_cached, 8 * kMiB);
  // 2.5 MiB: the smallest free mapping at least that large (6 MiB) shrinks, keeping its pages
  // (its bytes are still there: a fresh mapping would read as zeros).
  Buffer shrunk = *pool.Acquire(5 * kMiB / 2);
  BufferPool::Stats st = pool.stats();
  EXPECT_EQ(st.allocations, 2u);
  EXPECT_EQ(st.resizes, 1u);
  EXPECT_EQ(st.bytes_cached, 2 * kMiB);
  EXPECT_EQ(st.bytes_outstanding, 5 * kMiB / 2);
  EXPECT_EQ(shrunk.capacity(), BufferPool::SizeClass(5 * kMiB / 2));
  EXPECT_EQ(static_cast<int>(shrunk.data()[0]), 0xAB);
  EXPECT_EQ(static_cast<int>(shrunk.data()[shrunk.size() - 1]), 0xAB);
  // 12 MiB: no free mapping is that large, so the largest (2 MiB) grows; its pages stay at the
  // front and the rest is new.
  Buffer grown = *pool.Acquire(12 * kMiB);
  EXPECT_EQ(pool.stats().resizes, 2u);
  EXPECT_EQ(pool.stats().allocations, 2u);
  EXPECT_EQ(static_cast<int>(grown.data()[0]), 0xCD);
  EXPECT_EQ(static_cast<int>(grown.data()[2 * kMiB - 1]), 0xCD);
  std::memset(grown.mutable_data(), 1, grown.size());  // all of it is mapped and writable
  EXPECT_EQ(pool.stats().bytes_outstanding, 5 * kMiB / 2 + 12 * kMiB);
  grown.reset();
  shrunk.reset();
  EXPECT_EQ(pool.stats().bytes_cached, 5 * kMiB / 2 + 12 * kMiB);
  // Blocks below 1 MiB come from malloc and are reused only in their own class.
  { Buffer small = *pool.Acquire(64 << 10); }
  Buffer other = *pool.Acquire(128 << 10);
  EXPECT_EQ(pool.stats().allocations, 4u);
  EXPECT_EQ(pool.stats().resizes, 2u);
}

TEST(BufferPoolTest, TrimKeepsTheSmallestUpToWhatItIsTold) {
  constexpr size_t kMiB = size_t{1} << 20;
  BufferPool pool;
  {
    Buffer a = *pool.Acquire(kMiB);
    Buffer b = *pool.Acquire(2 * kMiB);
    Buffer c = *pool.Acquire(4 * kMiB);
  }
  EXPECT_EQ(pool.stats().bytes_cached, 7 * kMiB);
  pool.Trim(3 * kMiB);  // the 4 MiB block goes
  EXPECT_EQ(pool.stats().bytes_cached, 3 * kMiB);
  Buffer again = *pool.Acquire(2 * kMiB);  // still cached in its class
  EXPECT_EQ(pool.stats().reuses, 1u);
  again.reset();
  pool.Trim(kMiB);  // only the 1 MiB block stays
  EXPECT_EQ(pool.stats().bytes_cached, kMiB);
  pool.Trim();
  EXPECT_EQ(pool.stats().bytes_cached, 0u);
}

TEST(BufferPoolTest, BuffersOutliveTheirPool) {
  Buffer survivor;
  {
    BufferPool pool;
    survivor = *pool.Acquire(4096);
    std::memset(survivor.mutable_data(), 1, 4096);
  }
  EXPECT_EQ(static_cast<int>(survivor.data()[4095]), 1);
  survivor.reset();  // frees the block and the pool's state (checked by ASan)
}

TEST(BufferPoolTest, ConcurrentAcquireRelease) {
  BufferPool pool;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&pool, t] {
      for (int i = 0; i < 2000; ++i) {
        Buffer b = *pool.Acquire(4096 * (1 + (i + t) % 5));
        b.mutable_data()[0] = std::byte{1};
        Buffer copy = b;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(pool.stats().bytes_outstanding, 0u);
  EXPECT_LE(pool.stats().allocations, 4u * 5u);
}

}  // namespace
}  // namespace lsio

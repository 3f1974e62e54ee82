#pragma once

// Owned bytes: aligned, reference-counted, sliceable without copying, and recycled.
//
// A Buffer is a view (pointer + size) into a block of memory that is shared by reference
// count, like Seastar's temporary_buffer::share() or arrow::Buffer with a parent. Slicing makes
// another view of the same block. When the last view of a pooled block goes away, the block
// returns to its BufferPool's free list (the "buffer recycling channel"), so a steady-state
// scan reuses the same memory instead of allocating.
//
// Thread safety: the reference count is atomic, so Buffers may be copied, moved and destroyed
// on any thread. The bytes themselves are not synchronised: whoever writes through
// mutable_span() must own the buffer exclusively at that time (the IO engine and the codecs
// hand out buffers that the receiver owns exclusively).
//
// A BufferPool may be destroyed while its buffers are still alive; they stay valid and free
// their memory when released.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

#include "lsio/base/result.h"

namespace lsio {

// Every block is aligned to this, which satisfies O_DIRECT on all devices we know of and
// any SIMD load.
inline constexpr size_t kBufferAlignment = 4096;

namespace internal {
struct BufferBlock;
struct PoolState;
}  // namespace internal

class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer& other);
  Buffer(Buffer&& other) noexcept;
  Buffer& operator=(const Buffer& other);
  Buffer& operator=(Buffer&& other) noexcept;
  ~Buffer();

  // A fresh, unpooled, uninitialised buffer of `size` bytes.
  static Result<Buffer> Allocate(size_t size);
  // A fresh unpooled buffer holding a copy of `bytes` (tests, metadata, small things).
  static Buffer CopyOf(std::span<const std::byte> bytes);
  static Buffer CopyOf(std::string_view bytes);

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<const std::byte> span() const { return {data_, size_}; }
  std::string_view as_string_view() const {
    return {reinterpret_cast<const char*>(data_), size_};
  }

  // Writable access; see the thread-safety note above.
  std::byte* mutable_data() { return data_; }
  std::span<std::byte> mutable_span() { return {data_, size_}; }

  // A view of bytes [offset, offset + length) sharing this buffer's block.
  // Precondition: offset + length <= size().
  Buffer Slice(size_t offset, size_t length) const;

  // Makes this view shorter (e.g. after a decoder wrote fewer bytes than reserved).
  // Precondition: new_size <= size().
  void Truncate(size_t new_size);

  // Bytes of the underlying block (>= size() + the slice's offset).
  size_t capacity() const;
  // Number of Buffers sharing the block (0 for an empty Buffer).
  long use_count() const;

  void reset();

 private:
  friend class BufferPool;
  Buffer(internal::BufferBlock* block, std::byte* data, size_t size)
      : block_(block), data_(data), size_(size) {}

  internal::BufferBlock* block_ = nullptr;
  std::byte* data_ = nullptr;
  size_t size_ = 0;
};

struct BufferPoolOptions {
  // Free blocks kept for reuse beyond this are returned to the OS.
  size_t max_cached_bytes = size_t{512} << 20;
  // Called after a block of this pool has been released (its last Buffer went away), on the
  // releasing thread and without any pool lock held. Lets an owner that budgets memory wake up
  // waiters (the IO engine's bytes-in-flight budget). Must be cheap, must not throw, and may run
  // after the BufferPool itself is gone (it lives as long as the pool's last block).
  std::function<void()> on_release;
};

// A thread-safe pool of aligned blocks in size classes (4 per power of two above 16 KiB, so a
// request wastes at most 25%).
class BufferPool {
 public:
  explicit BufferPool(BufferPoolOptions options = {});
  ~BufferPool();
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;

  // An uninitialised buffer of exactly `size` bytes, reusing a free block when one of the
  // right size class exists, or, from 1 MiB up (blocks that are mappings of their own), a free
  // mapping of another class, resized. Fails only if the OS refuses memory.
  Result<Buffer> Acquire(size_t size);

  struct Stats {
    uint64_t allocations = 0;       // blocks obtained from the OS
    uint64_t reuses = 0;            // acquisitions served from the free lists
    uint64_t resizes = 0;           // ... by resizing a free mapping of another size class
    uint64_t bytes_outstanding = 0; // capacity of blocks currently held by Buffers
    uint64_t bytes_cached = 0;      // capacity of free blocks kept for reuse
  };
  Stats stats() const;

  // Returns cached free blocks to the OS, the largest first, until at most `keep_bytes` of
  // them remain (0: all).
  void Trim(uint64_t keep_bytes = 0);

  // The block capacity a request of `size` bytes gets (exposed for tests and budgeting).
  static size_t SizeClass(size_t size);

 private:
  internal::PoolState* state_;
};

// A process-wide pool for code that has no pool of its own (codec scratch space).
BufferPool& DefaultBufferPool();

}  // namespace lsio

#include "lsio/base/buffer.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include <sys/mman.h>

#include "lsio/base/mapped_allocator.h"

namespace lsio {
namespace internal {

struct BufferBlock {
  std::atomic<int64_t> refs{0};
  std::byte* memory = nullptr;
  size_t capacity = 0;
  PoolState* pool = nullptr;  // null for unpooled blocks
};

// Shared between a BufferPool and its outstanding blocks: it lives until the pool is destroyed
// and the last outstanding block has been released.
struct PoolState {
  explicit PoolState(BufferPoolOptions o) : options(o) {}

  BufferPoolOptions options;
  // One reference for the BufferPool itself, one per outstanding block.
  std::atomic<int64_t> refs{1};

  mutable std::mutex mu;
  bool closed = false;
  std::unordered_map<size_t, std::vector<BufferBlock*>> free_lists;
  uint64_t allocations = 0;
  uint64_t reuses = 0;
  uint64_t resizes = 0;
  uint64_t bytes_outstanding = 0;
  uint64_t bytes_cached = 0;

  void Unref() {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
};

namespace {

// Buffers from 1 MiB up are mappings of their own, unmapped when freed: glibc's malloc raises
// its mmap threshold to the largest block freed (up to 32 MiB), after which freed chunk-sized
// buffers stay in its heap, and a process's RSS keeps the high-water mark of every run's
// buffers instead of returning to what it holds. (Capacities are multiples of the page.)
constexpr size_t kMappedCapacity = MappedAllocator<std::byte>::kMappedBytes;

std::byte* AlignedAlloc(size_t capacity) {
  if (capacity >= kMappedCapacity) {
    return static_cast<std::byte*>(internal::MapAnonymous(capacity));
  }
  return static_cast<std::byte*>(std::aligned_alloc(kBufferAlignment, capacity));
}

void FreeBlock(BufferBlock* block) {
  if (block->capacity >= kMappedCapacity) {
    ::munmap(block->memory, block->capacity);
  } else {
    std::free(block->memory);
  }
  delete block;
}

void ReleaseBlock(BufferBlock* block) {
  if (block->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  PoolState* pool = block->pool;
  if (pool == nullptr) {
    FreeBlock(block);
    return;
  }
  {
    std::lock_guard lock(pool->mu);
    pool->bytes_outstanding -= block->capacity;
    if (!pool->closed &&
        pool->bytes_cached + block->capacity <= pool->options.max_cached_bytes) {
      pool->free_lists[block->capacity].push_back(block);
      pool->bytes_cached += block->capacity;
      block = nullptr;
    }
  }
  if (block != nullptr) FreeBlock(block);
  if (pool->options.on_release) pool->options.on_release();
  pool->Unref();
}

size_t RoundUp(size_t n, size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

}  // namespace
}  // namespace internal

using internal::BufferBlock;

Buffer::Buffer(const Buffer& other) : block_(other.block_), data_(other.data_), size_(other.size_) {
  if (block_) block_->refs.fetch_add(1, std::memory_order_relaxed);
}

Buffer::Buffer(Buffer&& other) noexcept
    : block_(other.block_), data_(other.data_), size_(other.size_) {
  other.block_ = nullptr;
  other.data_ = nullptr;
  other.size_ = 0;
}

Buffer& Buffer::operator=(const Buffer& other) {
  if (this != &other) {
    Buffer copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
  if (this != &other) {
    reset();
    block_ = other.block_;
    data_ = other.data_;
    size_ = other.size_;
    other.block_ = nullptr;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

Buffer::~Buffer() { reset(); }

void Buffer::reset() {
  if (block_) internal::ReleaseBlock(block_);
  block_ = nullptr;
  data_ = nullptr;
  size_ = 0;
}

Result<Buffer> Buffer::Allocate(size_t size) {
  const size_t capacity = internal::RoundUp(size == 0 ? 1 : size, kBufferAlignment);
  std::byte* memory = internal::AlignedAlloc(capacity);
  if (memory == nullptr) {
    return ResourceExhaustedError("out of memory allocating a buffer of " + std::to_string(size) +
                                  " bytes");
  }
  auto* block = new BufferBlock;
  block->refs.store(1, std::memory_order_relaxed);
  block->memory = memory;
  block->capacity = capacity;
  return Buffer(block, memory, size);
}

Buffer Buffer::CopyOf(std::span<const std::byte> bytes) {
  Result<Buffer> r = Allocate(bytes.size());
  if (!r.ok()) throw std::bad_alloc();  // only small copies go through here
  if (!bytes.empty()) std::memcpy(r->mutable_data(), bytes.data(), bytes.size());
  return std::move(r).value();
}

Buffer Buffer::CopyOf(std::string_view bytes) {
  return CopyOf(std::as_bytes(std::span<const char>(bytes.data(), bytes.size())));
}

Buffer Buffer::Slice(size_t offset, size_t length) const {
  if (offset > size_ || length > size_ - offset) std::abort();  // caller bug: fail loudly
  if (block_) block_->refs.fetch_add(1, std::memory_order_relaxed);
  return Buffer(block_, data_ + offset, length);
}

void Buffer::Truncate(size_t new_size) {
  if (new_size > size_) std::abort();
  size_ = new_size;
}

size_t Buffer::capacity() const { return block_ ? block_->capacity : 0; }

long Buffer::use_count() const {
  return block_ ? static_cast<long>(block_->refs.load(std::memory_order_relaxed)) : 0;
}

BufferPool::BufferPool(BufferPoolOptions options) : state_(new internal::PoolState(options)) {}

BufferPool::~BufferPool() {
  std::vector<BufferBlock*> to_free;
  {
    std::lock_guard lock(state_->mu);
    state_->closed = true;
    for (auto& [cap, list] : state_->free_lists) {
      to_free.insert(to_free.end(), list.begin(), list.end());
    }
    state_->free_lists.clear();
    state_->bytes_cached = 0;
  }
  for (BufferBlock* b : to_free) internal::FreeBlock(b);
  state_->Unref();
}

size_t BufferPool::SizeClass(size_t size) {
  if (size <= kBufferAlignment) return kBufferAlignment;
  if (size <= 4 * kBufferAlignment) return std::bit_ceil(size);
  // Four classes per octave: p, 1.25p, 1.5p, 1.75p, 2p where p is the power of two below size.
  const size_t p = std::bit_floor(size - 1);
  const size_t step = p / 4;
  return internal::RoundUp(size, step);
}

Result<Buffer> BufferPool::Acquire(size_t size) {
  const size_t capacity = SizeClass(size);
  BufferBlock* block = nullptr;
  BufferBlock* resize = nullptr;  // a cached mapping of another size class, to be resized
  {
    std::lock_guard lock(state_->mu);
    auto it = state_->free_lists.find(capacity);
    if (it != state_->free_lists.end() && !it->second.empty()) {
      block = it->second.back();
      it->second.pop_back();
      state_->bytes_cached -= capacity;
      ++state_->reuses;
    } else if (capacity >= internal::kMappedCapacity) {
      // No free block of this class, but perhaps a free mapping of another: it is resized
      // (mremap keeps the pages it has), so the request does not fault in and clear fresh
      // pages. Reads of compressed chunks come in many sizes, and a pass over another part of
      // an array needs other classes than the cache was filled with (measured: a rechunk mapped
      // fresh buffers for 144 of its 192 reads, clearing ~520 MiB; ~9% of its CPU).
      // The smallest mapping at least as large as asked for, else the largest.
      std::vector<BufferBlock*>* from = nullptr;
      for (auto& [cap, list] : state_->free_lists) {
        if (list.empty() || cap < internal::kMappedCapacity) continue;
        if (from == nullptr) {
          from = &list;
          continue;
        }
        const size_t best = from->back()->capacity;
        const bool better = best < capacity ? cap > best : (cap >= capacity && cap < best);
        if (better) from = &list;
      }
      if (from != nullptr) {
        resize = from->back();
        from->pop_back();
        state_->bytes_cached -= resize->capacity;
        ++state_->resizes;
      } else {
        ++state_->allocations;
      }
    } else {
      ++state_->allocations;
    }
    state_->bytes_outstanding += capacity;
  }
  if (resize != nullptr) {
    void* moved = ::mremap(resize->memory, resize->capacity, capacity, MREMAP_MAYMOVE);
    if (moved != MAP_FAILED) {
      block = resize;
      block->memory = static_cast<std::byte*>(moved);
      block->capacity = capacity;
    } else {
      internal::FreeBlock(resize);  // and map a fresh block below: an allocation after all
      std::lock_guard lock(state_->mu);
      --state_->resizes;
      ++state_->allocations;
    }
  }
  if (block == nullptr) {
    std::byte* memory = internal::AlignedAlloc(capacity);
    if (memory == nullptr) {
      std::lock_guard lock(state_->mu);
      state_->bytes_outstanding -= capacity;
      return ResourceExhaustedError("out of memory allocating a buffer of " +
                                    std::to_string(size) + " bytes");
    }
    block = new BufferBlock;
    block->memory = memory;
    block->capacity = capacity;
    block->pool = state_;
  }
  block->refs.store(1, std::memory_order_relaxed);
  state_->refs.fetch_add(1, std::memory_order_relaxed);
  return Buffer(block, block->memory, size);
}

BufferPool::Stats BufferPool::stats() const {
  std::lock_guard lock(state_->mu);
  return Stats{state_->allocations, state_->reuses, state_->resizes,
               state_->bytes_outstanding, state_->bytes_cached};
}

void BufferPool::Trim(uint64_t keep_bytes) {
  std::vector<BufferBlock*> to_free;
  {
    std::lock_guard lock(state_->mu);
    if (state_->bytes_cached <= keep_bytes) return;
    std::vector<BufferBlock*> cached;
    for (auto& [cap, list] : state_->free_lists) {
      cached.insert(cached.end(), list.begin(), list.end());
      list.clear();
    }
    // The largest go first: the odd sizes (whole encoded shards) are the least likely reused.
    std::sort(cached.begin(), cached.end(),
              [](const BufferBlock* a, const BufferBlock* b) { return a->capacity > b->capacity; });
    for (BufferBlock* b : cached) {
      if (state_->bytes_cached > keep_bytes) {
        state_->bytes_cached -= b->capacity;
        to_free.push_back(b);
      } else {
        state_->free_lists[b->capacity].push_back(b);
      }
    }
  }
  for (BufferBlock* b : to_free) internal::FreeBlock(b);
}

BufferPool& DefaultBufferPool() {
  // Leaked on purpose: buffers from it may outlive static destruction order.
  static BufferPool* pool = [] {
    BufferPoolOptions options;
    options.max_cached_bytes = size_t{256} << 20;
    return new BufferPool(std::move(options));
  }();
  return *pool;
}

}  // namespace lsio

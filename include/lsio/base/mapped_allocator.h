#pragma once

// MappedAllocator: a std::allocator for large, short-lived arrays (per-cell grids, per-cell
// value slots) that gives each allocation from 1 MiB up a mapping of its own, unmapped when
// freed. Through malloc, freeing such a block raises glibc's mmap threshold to its size, after
// which blocks below it come from malloc's heap and stay there once freed: a run that makes
// and frees many such arrays (passes over tiles) would keep the high-water mark of all of them.
// (lsio::Buffer does the same for the IO and decode buffers.)
//
// Mappings from 2 MiB up ask for transparent huge pages (madvise, which this kernel's default
// "madvise" mode honours): a fresh 8 MiB buffer then costs 4 faults instead of 2,048, and each
// fault clears a whole 2 MiB page at once. Measured on `lsio stats` of 1 GB of blosc-lz4 from
// tmpfs, where the IO buffers' first use faulted in ~94 MB: 23,900 -> 1,700 page faults and
// ~12% less CPU (docs/benchmarks.md, section 8).

#include <cstddef>
#include <new>
#include <vector>

#include <sys/mman.h>

namespace lsio {

namespace internal {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// An anonymous private mapping of `bytes` (a multiple of the page size is best), with huge
// pages asked for from kHugePageBytes up; nullptr if the OS refuses. Unmap with munmap.
inline void* MapAnonymous(size_t bytes) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  // Advice only: a kernel without THP, or with it off, refuses or ignores it, and the mapping
  // works the same with small pages.
  if (bytes >= kHugePageBytes) ::madvise(p, bytes, MADV_HUGEPAGE);
  return p;
}

}  // namespace internal

template <typename T>
struct MappedAllocator {
  using value_type = T;
  static constexpr size_t kMappedBytes = size_t{1} << 20;

  MappedAllocator() = default;
  template <typename U>
  MappedAllocator(const MappedAllocator<U>&) noexcept {}

  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    if (bytes < kMappedBytes) return static_cast<T*>(::operator new(bytes));
    void* p = internal::MapAnonymous(bytes);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes < kMappedBytes) {
      ::operator delete(p);
    } else {
      ::munmap(p, bytes);
    }
  }
  template <typename U>
  bool operator==(const MappedAllocator<U>&) const noexcept {
    return true;
  }
};

// A vector whose storage, from 1 MiB up, is a mapping of its own.
template <typename T>
using MappedVector = std::vector<T, MappedAllocator<T>>;

}  // namespace lsio

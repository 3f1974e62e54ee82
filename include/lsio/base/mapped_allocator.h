#pragma once

// MappedAllocator: a std::allocator for large, short-lived arrays (per-cell grids, per-cell
// value slots) that gives each allocation from 1 MiB up a mapping of its own, unmapped when
// freed. Through malloc, freeing such a block raises glibc's mmap threshold to its size, after
// which blocks below it come from malloc's heap and stay there once freed: a run that makes
// and frees many such arrays (passes over tiles) would keep the high-water mark of all of them.
// (lsio::Buffer does the same for the IO and decode buffers.)

#include <cstddef>
#include <new>
#include <vector>

#include <sys/mman.h>

namespace lsio {

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
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
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

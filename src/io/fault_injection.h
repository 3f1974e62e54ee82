#pragma once

// Test-only fault injection for the IO engine: lets tests exercise paths this machine cannot
// produce on demand (a file system refusing O_DIRECT, EIO from a device, io_uring refused by a
// seccomp policy). Production code never sets it; every check is one relaxed atomic load.

#include <cstdint>
#include <functional>
#include <string_view>

namespace lsio::io::internal {

struct FaultInjection {
  // errno to fail an O_DIRECT open of `path` (for reading or writing) with (0: no fault).
  // EINVAL mimics tmpfs/overlayfs on older kernels.
  std::function<int(std::string_view path)> open_direct;
  // errno to replace the result of a successful read of `path` with (0: no fault). `direct`
  // tells whether the read was issued with O_DIRECT.
  std::function<int(std::string_view path, bool direct)> read;
  // If it returns n > 0, a successful read of `path` that returned more than n bytes counts as
  // a short read of n bytes (the rest is asked for again).
  std::function<uint64_t(std::string_view path)> short_read;
  // errno to make io_uring setup fail with (0: no fault), e.g. EPERM as under seccomp.
  std::function<int()> uring_setup;
  // errno to replace the result of a successful write to `path` with (0: no fault): EIO,
  // ENOSPC, EAGAIN/EINTR to exercise the retries, EINVAL with `direct` to refuse O_DIRECT.
  // `direct` tells whether the write was issued with O_DIRECT.
  std::function<int(std::string_view path, bool direct)> write;
  // If it returns n > 0, a successful write to `path` of more than n bytes counts as a short
  // write of n bytes (the rest is written again).
  std::function<uint64_t(std::string_view path)> short_write;
  // errno to fail the fdatasync of a written `path` with (0: no fault).
  std::function<int(std::string_view path)> sync;
  // When nonzero, replaces kMaxIoBytes (the largest piece asked of the kernel in one read or
  // write), so that tests exercise the splitting without gigabytes.
  uint64_t max_io_bytes = 0;
};

// Installs `faults` for engines created afterwards (nullptr-like empty struct: none). Not
// thread-safe with respect to running engines: set it before Create, clear it after the
// engine is destroyed.
void SetFaultInjectionForTesting(FaultInjection faults);
void ClearFaultInjectionForTesting();
// The active faults, or nullptr (the fast path).
const FaultInjection* ActiveFaults();

}  // namespace lsio::io::internal

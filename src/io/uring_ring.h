#pragma once

// A thin RAII wrapper over one liburing ring, created the way Seastar's try_create_uring does:
// ask for the best set-up flags first and step down on EINVAL (older kernels), then probe the
// opcodes the engine relies on, so a kernel that lacks them is refused at start-up rather than
// failing every read later (READ and WRITE, both Linux 5.6, are required; the others are
// used when present).

#include <liburing.h>

#include <cstdint>
#include <memory>

#include "lsio/base/result.h"

namespace lsio::io::internal {

struct RingFeatures {
  uint32_t setup_flags = 0;  // IORING_SETUP_* actually in effect
  uint32_t features = 0;     // IORING_FEAT_* reported by the kernel
  bool op_read = false;
  bool op_openat = false;
  bool op_statx = false;
  bool op_close = false;
  bool op_write = false;
  bool op_fsync = false;
};

class Ring {
 public:
  // Sets up a ring with `entries` submission slots (rounded up to a power of two by the
  // kernel). Errors: the errno of io_uring_setup (EPERM under seccomp or with
  // kernel.io_uring_disabled, ENOSYS on kernels without io_uring, ENOMEM when locked memory
  // is short), or kNotSupported when IORING_OP_READ or IORING_OP_WRITE is missing
  // (Linux < 5.6).
  // The ring is single-issuer: only the thread that creates it may submit to it.
  static Result<std::unique_ptr<Ring>> Create(unsigned entries);

  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  io_uring* get() { return &ring_; }
  const RingFeatures& features() const { return features_; }

 private:
  Ring() = default;

  io_uring ring_{};
  bool live_ = false;  // io_uring_queue_init succeeded
  RingFeatures features_;
};

}  // namespace lsio::io::internal

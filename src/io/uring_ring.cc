#include "uring_ring.h"

#include <cerrno>

#include "fault_injection.h"

namespace lsio::io::internal {

Result<std::unique_ptr<Ring>> Ring::Create(unsigned entries) {
  if (const FaultInjection* faults = ActiveFaults(); faults && faults->uring_setup) {
    if (int err = faults->uring_setup(); err != 0) return ErrnoToStatus(err, "io_uring_setup");
  }
  auto ring = std::unique_ptr<Ring>(new Ring());
  // SINGLE_ISSUER (6.0) lets the kernel skip submission locking; COOP_TASKRUN (5.19) runs
  // completion work when this thread enters the kernel anyway instead of interrupting it, and
  // TASKRUN_FLAG tells liburing's peek when an enter is needed to see those completions.
  const uint32_t kFlagSets[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      0,
  };
  int rc = -EINVAL;
  for (uint32_t flags : kFlagSets) {
    io_uring_params params{};
    params.flags = flags;
    rc = io_uring_queue_init_params(entries, &ring->ring_, &params);
    if (rc == 0) {
      ring->live_ = true;
      ring->features_.setup_flags = flags;
      ring->features_.features = params.features;
      break;
    }
    if (rc != -EINVAL) break;  // EPERM, ENOSYS, ENOMEM: no other flag set will help
  }
  if (rc != 0) return ErrnoToStatus(rc, "io_uring_setup");

  io_uring_probe* probe = io_uring_get_probe_ring(&ring->ring_);
  if (probe == nullptr) {
    // Probing arrived with 5.6, as did IORING_OP_READ: without it the kernel is too old.
    return NotSupportedError("io_uring: kernel cannot probe opcodes (Linux < 5.6)");
  }
  ring->features_.op_read = io_uring_opcode_supported(probe, IORING_OP_READ);
  ring->features_.op_openat = io_uring_opcode_supported(probe, IORING_OP_OPENAT);
  ring->features_.op_statx = io_uring_opcode_supported(probe, IORING_OP_STATX);
  ring->features_.op_close = io_uring_opcode_supported(probe, IORING_OP_CLOSE);
  ring->features_.op_write = io_uring_opcode_supported(probe, IORING_OP_WRITE);
  ring->features_.op_fsync = io_uring_opcode_supported(probe, IORING_OP_FSYNC);
  io_uring_free_probe(probe);
  if (!ring->features_.op_read || !ring->features_.op_write) {
    return NotSupportedError(
        "io_uring: IORING_OP_READ or IORING_OP_WRITE is not supported by this kernel");
  }
  return ring;
}

Ring::~Ring() {
  if (live_) io_uring_queue_exit(&ring_);
}

}  // namespace lsio::io::internal

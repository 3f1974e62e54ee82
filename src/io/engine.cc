#include "lsio/io/engine.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "backends.h"
#include "fault_injection.h"

namespace lsio::io {

namespace internal {
namespace {
std::atomic<const FaultInjection*> g_faults{nullptr};
FaultInjection* g_faults_storage = nullptr;
}  // namespace

void SetFaultInjectionForTesting(FaultInjection faults) {
  ClearFaultInjectionForTesting();
  g_faults_storage = new FaultInjection(std::move(faults));
  g_faults.store(g_faults_storage, std::memory_order_release);
}

void ClearFaultInjectionForTesting() {
  g_faults.store(nullptr, std::memory_order_release);
  delete g_faults_storage;
  g_faults_storage = nullptr;
}

const FaultInjection* ActiveFaults() { return g_faults.load(std::memory_order_acquire); }
}  // namespace internal

Result<Backend> ParseBackend(std::string_view name) {
  if (name == "auto") return Backend::kAuto;
  if (name == "uring" || name == "io_uring") return Backend::kUring;
  if (name == "posix" || name == "pread") return Backend::kPosix;
  return InvalidArgumentError("unknown IO backend '" + std::string(name) +
                              "' (expected auto, uring or posix)");
}

namespace {

void DefaultNotice(std::string_view text) {
  // Once per process: a program that creates many engines should not repeat itself.
  static std::once_flag once;
  std::call_once(
      once, [&] { std::fprintf(stderr, "%.*s\n", static_cast<int>(text.size()), text.data()); });
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::Create(const EngineOptions& options) {
  if (options.queue_depth < 1 || options.queue_depth > 4096) {
    return InvalidArgumentError("IO engine: queue_depth must be in [1, 4096], got " +
                                std::to_string(options.queue_depth));
  }
  if (options.threads < 0 || options.threads > 256) {
    return InvalidArgumentError("IO engine: threads must be in [0, 256], got " +
                                std::to_string(options.threads));
  }
  if (options.max_bytes_in_flight == 0) {
    return InvalidArgumentError("IO engine: max_bytes_in_flight must be positive");
  }
  Backend backend = options.backend;
  if (backend == Backend::kAuto) {
    if (const char* env = std::getenv("LSIO_IO"); env != nullptr && *env != '\0') {
      Result<Backend> parsed = ParseBackend(env);
      if (!parsed.ok()) return parsed.status().WithContext("environment variable LSIO_IO");
      backend = *parsed;
    }
  }
  switch (backend) {
    case Backend::kPosix:
      return internal::CreatePosixEngine(options);
    case Backend::kUring:
      return internal::CreateUringEngine(options);
    case Backend::kAuto:
      break;
  }
  Result<std::unique_ptr<Engine>> uring = internal::CreateUringEngine(options);
  if (uring.ok()) return uring;
  const std::string text = "lsio: io_uring is unavailable (" + uring.status().ToString() +
                           "); reading with a pread thread pool instead";
  if (options.notice) {
    options.notice(text);
  } else {
    DefaultNotice(text);
  }
  return internal::CreatePosixEngine(options);
}

}  // namespace lsio::io

#pragma once

// Status: the outcome of a fallible operation, without exceptions.
//
// An OK status carries nothing and costs one null pointer. An error carries a code, a message
// meant for a human (which file, which chunk, what went wrong) and, when it came from a system
// call, the errno. Callers add context on the way up with `WithContext`, so that the final
// message reads outermost-first: "variable 'sst': chunk 3.0.1: /data/x.zarr/sst/3.0.1: No such
// file or directory".
//
// Thread safety: a Status is an immutable value; copies share their state.

#include <memory>
#include <string>
#include <string_view>

namespace lsio {

enum class StatusCode : unsigned char {
  kOk = 0,
  kInvalidArgument,    // the caller asked for something malformed (bad selection, bad flag)
  kNotFound,           // a file, variable or dimension that does not exist
  kPermissionDenied,   // EACCES / EPERM
  kOutOfRange,         // a byte range past the end of a file, an index past a dimension
  kIOError,            // the OS reported a failure reading or writing
  kCorruptData,        // bytes that do not decode, a checksum mismatch, a wrong decoded size
  kNotSupported,       // valid input that lsio does not implement (a codec, a chunk grid)
  kResourceExhausted,  // a budget or queue is full (non-blocking submission)
  kCancelled,          // the operation was cancelled by the caller (Ctrl-C)
  kInternal,           // a broken invariant inside lsio: always a bug
  kChanged,            // what an open handle was opened from changed in its store (re-open it)
};

// "InvalidArgument", "NotFound", ...
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message, int sys_errno = 0);

  static Status OK() { return Status(); }

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  // The message without the code name; empty for OK.
  const std::string& message() const;
  // The errno this error came from, or 0.
  int sys_errno() const { return state_ ? state_->sys_errno : 0; }

  // "NotFound: <message>", or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <message>". OK stays OK.
  Status WithContext(std::string_view context) const;

  bool operator==(const Status& other) const {
    return code() == other.code() && message() == other.message();
  }

 private:
  struct State {
    StatusCode code;
    int sys_errno;
    std::string message;
  };
  std::shared_ptr<const State> state_;
};

// Factories, one per code.
Status InvalidArgumentError(std::string message);
Status NotFoundError(std::string message);
Status PermissionDeniedError(std::string message);
Status OutOfRangeError(std::string message);
Status IOError(std::string message);
Status CorruptDataError(std::string message);
Status NotSupportedError(std::string message);
Status ResourceExhaustedError(std::string message);
Status CancelledError(std::string message);
Status InternalError(std::string message);
Status ChangedError(std::string message);

// The one place where an errno value becomes a Status. `err` may be given with either sign
// (a `cqe->res` is negative). The message is "<context>: <strerror(err)>" and the code follows
// the errno (ENOENT -> kNotFound, EACCES/EPERM -> kPermissionDenied, ...); the errno is kept.
Status ErrnoToStatus(int err, std::string_view context);

}  // namespace lsio

// Evaluates `expr` (a Status or a Result<T>) and returns its status from the enclosing
// function if it is an error.
#define LSIO_RETURN_IF_ERROR(expr)                                  \
  do {                                                              \
    ::lsio::Status lsio_status_ = ::lsio::internal::ToStatus(expr); \
    if (!lsio_status_.ok()) return lsio_status_;                    \
  } while (false)

namespace lsio::internal {
inline const Status& ToStatus(const Status& s) { return s; }
}  // namespace lsio::internal

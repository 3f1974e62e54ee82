#include "lsio/base/status.h"

#include <cerrno>
#include <cstring>
#include <string>

namespace lsio {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "InvalidArgument";
    case StatusCode::kNotFound:
      return "NotFound";
    case StatusCode::kPermissionDenied:
      return "PermissionDenied";
    case StatusCode::kOutOfRange:
      return "OutOfRange";
    case StatusCode::kIOError:
      return "IOError";
    case StatusCode::kCorruptData:
      return "CorruptData";
    case StatusCode::kNotSupported:
      return "NotSupported";
    case StatusCode::kResourceExhausted:
      return "ResourceExhausted";
    case StatusCode::kCancelled:
      return "Cancelled";
    case StatusCode::kInternal:
      return "Internal";
    case StatusCode::kChanged:
      return "Changed";
  }
  return "Unknown";
}

Status::Status(StatusCode code, std::string message, int sys_errno) {
  if (code != StatusCode::kOk) {
    state_ = std::make_shared<const State>(State{code, sys_errno, std::move(message)});
  }
}

const std::string& Status::message() const {
  static const std::string kEmpty;
  return state_ ? state_->message : kEmpty;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out(StatusCodeName(code()));
  out += ": ";
  out += message();
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok() || context.empty()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message();
  return Status(code(), std::move(msg), sys_errno());
}

Status InvalidArgumentError(std::string m) {
  return Status(StatusCode::kInvalidArgument, std::move(m));
}
Status NotFoundError(std::string m) { return Status(StatusCode::kNotFound, std::move(m)); }
Status PermissionDeniedError(std::string m) {
  return Status(StatusCode::kPermissionDenied, std::move(m));
}
Status OutOfRangeError(std::string m) { return Status(StatusCode::kOutOfRange, std::move(m)); }
Status IOError(std::string m) { return Status(StatusCode::kIOError, std::move(m)); }
Status CorruptDataError(std::string m) { return Status(StatusCode::kCorruptData, std::move(m)); }
Status NotSupportedError(std::string m) {
  return Status(StatusCode::kNotSupported, std::move(m));
}
Status ResourceExhaustedError(std::string m) {
  return Status(StatusCode::kResourceExhausted, std::move(m));
}
Status CancelledError(std::string m) { return Status(StatusCode::kCancelled, std::move(m)); }
Status InternalError(std::string m) { return Status(StatusCode::kInternal, std::move(m)); }
Status ChangedError(std::string m) { return Status(StatusCode::kChanged, std::move(m)); }

Status ErrnoToStatus(int err, std::string_view context) {
  if (err < 0) err = -err;
  StatusCode code;
  switch (err) {
    case 0:
      return InternalError(std::string(context) + ": errno 0 reported as an error");
    case ENOENT:
    case ENOTDIR:
      code = StatusCode::kNotFound;
      break;
    case EACCES:
    case EPERM:
    case EROFS:
      code = StatusCode::kPermissionDenied;
      break;
    case EINVAL:
    case EISDIR:
    case ENAMETOOLONG:
    case EBADF:
      code = StatusCode::kInvalidArgument;
      break;
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case ENOSPC:
      code = StatusCode::kResourceExhausted;
      break;
    case ENOSYS:
    case EOPNOTSUPP:
      code = StatusCode::kNotSupported;
      break;
    case ECANCELED:
    case EINTR:
      code = StatusCode::kCancelled;
      break;
    default:
      code = StatusCode::kIOError;
      break;
  }
  char buf[256];
  // GNU strerror_r returns the message pointer, which may or may not be buf.
  const char* text = strerror_r(err, buf, sizeof(buf));
  std::string msg(context);
  if (!msg.empty()) msg += ": ";
  msg += text;
  return Status(code, std::move(msg), err);
}

}  // namespace lsio

#pragma once

// Result<T>: either a value of type T or an error Status (never an OK Status).
//
// Like arrow::Result and tensorstore::Result. Used with two macros:
//   LSIO_ASSIGN_OR_RETURN(auto file, OpenFile(path));
//   LSIO_RETURN_IF_ERROR(DoSomething());   // also accepts a Result<T>

#include <cassert>
#include <type_traits>
#include <utility>
#include <variant>

#include "lsio/base/status.h"

namespace lsio {

template <typename T>
class [[nodiscard]] Result {
  static_assert(!std::is_same_v<T, Status>, "use Status, not Result<Status>");
  static_assert(!std::is_reference_v<T>, "Result<T&> is not supported");

 public:
  // An error. An OK status here is a bug; it becomes an Internal error.
  Result(Status status)  // NOLINT(runtime/explicit): implicit by design, as in Arrow
      : storage_(status.ok() ? InternalError("Result constructed from an OK Status")
                             : std::move(status)) {}
  Result(const T& value) : storage_(std::in_place_index<1>, value) {}  // NOLINT
  Result(T&& value) : storage_(std::in_place_index<1>, std::move(value)) {}  // NOLINT
  template <typename U,
            typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                        !std::is_same_v<std::decay_t<U>, T> &&
                                        !std::is_same_v<std::decay_t<U>, Status> &&
                                        !std::is_same_v<std::decay_t<U>, Result<T>>>>
  Result(U&& value) : storage_(std::in_place_index<1>, T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return storage_.index() == 1; }

  // The error, or OK when a value is held.
  Status status() const { return ok() ? Status() : std::get<0>(storage_); }

  // Precondition: ok().
  T& value() & {
    assert(ok());
    return std::get<1>(storage_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<1>(storage_);
  }
  T&& value() && {
    assert(ok());
    return std::get<1>(std::move(storage_));
  }

  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? value() : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  std::variant<Status, T> storage_;
};

namespace internal {
template <typename T>
Status ToStatus(const Result<T>& r) {
  return r.status();
}
}  // namespace internal

}  // namespace lsio

#define LSIO_CONCAT_IMPL(a, b) a##b
#define LSIO_CONCAT(a, b) LSIO_CONCAT_IMPL(a, b)

// Evaluates `rexpr` (a Result<T>); on error returns its status from the enclosing function,
// otherwise assigns the value to `lhs` (which may be a declaration: `auto x`).
#define LSIO_ASSIGN_OR_RETURN(lhs, rexpr) \
  LSIO_ASSIGN_OR_RETURN_IMPL(LSIO_CONCAT(lsio_result_, __LINE__), lhs, rexpr)

#define LSIO_ASSIGN_OR_RETURN_IMPL(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                               \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
